//! What someone typed in a search box, bounded before any matching runs.
//!
//! The longest French commune names with a brand and a postcode ("Intermarché
//! Saint-Remy-en-Bouzemont-Saint-Genest-et-Isson 51290") take about 65 characters and 9 words; a
//! query past [`MAX_SEARCH_CHARS`] or [`MAX_SEARCH_WORDS`] is refused with a message instead of
//! being matched against every place and station. Both checks stop reading as soon as the bound
//! is passed, so refusing a 64 KB query costs no more than accepting a short one.

/// Characters a search may hold (after trimming).
pub const MAX_SEARCH_CHARS: usize = 100;
/// Words (runs of letters and digits) a search may hold.
pub const MAX_SEARCH_WORDS: usize = 12;

/// A search text: trimmed, not empty, at most [`MAX_SEARCH_CHARS`] characters and
/// [`MAX_SEARCH_WORDS`] words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(String);

/// Why a search text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SearchTextError {
    #[error("the search is empty")]
    Empty,
    #[error("the search is longer than {MAX_SEARCH_CHARS} characters")]
    TooLong,
    #[error("the search has more than {MAX_SEARCH_WORDS} words")]
    TooManyWords,
}

impl SearchText {
    pub fn parse(raw: &str) -> Result<SearchText, SearchTextError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(SearchTextError::Empty);
        }
        if text.chars().nth(MAX_SEARCH_CHARS).is_some() {
            return Err(SearchTextError::TooLong);
        }
        let words = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty());
        if words.take(MAX_SEARCH_WORDS + 1).count() > MAX_SEARCH_WORDS {
            return Err(SearchTextError::TooManyWords);
        }
        Ok(SearchText(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The first [`MAX_SEARCH_CHARS`] characters of `raw`: what a page may echo back of a refused
/// search (the box keeps what the person typed, never kilobytes of it).
pub fn search_echo(raw: &str) -> String {
    let mut echo: String = raw.trim().chars().take(MAX_SEARCH_CHARS).collect();
    echo.truncate(echo.trim_end().len());
    echo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(SearchText::parse("  Rennes ").map(SearchText::into_string), Ok("Rennes".to_owned()));
        let longest = "Intermarché Saint-Remy-en-Bouzemont-Saint-Genest-et-Isson 51290";
        assert!(SearchText::parse(longest).is_ok());
        assert_eq!(SearchText::parse("   "), Err(SearchTextError::Empty));
        assert!(SearchText::parse(&"é".repeat(MAX_SEARCH_CHARS)).is_ok());
        assert_eq!(SearchText::parse(&"é".repeat(MAX_SEARCH_CHARS + 1)), Err(SearchTextError::TooLong));
        assert!(SearchText::parse(&"a ".repeat(MAX_SEARCH_WORDS)).is_ok());
        assert_eq!(SearchText::parse(&"a ".repeat(MAX_SEARCH_WORDS + 1)), Err(SearchTextError::TooManyWords));
        assert_eq!(SearchText::parse(&"s ".repeat(32_000)), Err(SearchTextError::TooLong));
        // Separators are not words.
        assert!(SearchText::parse("total --- a7 !!! ???").is_ok());
    }

    #[test]
    fn echo_is_bounded_on_characters() {
        assert_eq!(search_echo(&"ß".repeat(1000)).chars().count(), MAX_SEARCH_CHARS);
        assert_eq!(search_echo(" Lyon "), "Lyon");
    }
}
