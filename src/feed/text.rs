//! Text decoding for the feed (ISO-8859-1 declared, UTF-8 mojibake inside).
