//! The feed parser: bytes of XML in, validated [`ParsedFeed`] out. Pure: no I/O, no database.
