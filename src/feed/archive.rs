//! Sniffs what a file is (ZIP, XML, HTML, garbage) from its bytes, never its name, and extracts
//! the XML with size caps.
