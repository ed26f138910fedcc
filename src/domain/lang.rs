//! The site's two languages, and how a visitor's is chosen.
//!
//! French is the default. A visitor's choice is, in order: the `lang` cookie (set by the visible
//! switch, `/lang?to=en`), then the first of `fr`/`en` in `Accept-Language`, then French. The
//! wording and the locale formatting live in [`crate::text`]; reading the headers of a request is
//! the web layer's job (`web::i18n`).

/// The name of the cookie that remembers the language picked with the switch.
pub const LANG_COOKIE: &str = "lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    /// Both languages, French (the default) first.
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// `fr`, `en`, `en-GB`, `fr_FR`… (case-insensitive); anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        let primary = s.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }

    /// From the `lang` cookie's value and an `Accept-Language` header value.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(l) = cookie.and_then(Lang::parse) {
            return l;
        }
        if let Some(al) = accept_language {
            // Highest q first; ties keep the header's order.
            let mut ranked: Vec<(f32, usize, Lang)> = al
                .split(',')
                .enumerate()
                .filter_map(|(i, item)| {
                    let mut parts = item.split(';');
                    let lang = Lang::parse(parts.next()?)?;
                    let q = parts
                        .find_map(|p| p.trim().strip_prefix("q="))
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .unwrap_or(1.0);
                    (q > 0.0).then_some((q, i, lang))
                })
                .collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            if let Some((_, _, l)) = ranked.first() {
                return *l;
            }
        }
        Lang::Fr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(Lang::negotiate(None, None), Lang::Fr);
        assert_eq!(Lang::negotiate(None, Some("en-GB,en;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("de, fr;q=0.5, en;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr"), Some("en")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("xx"), Some("en")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("en;q=0, fr")), Lang::Fr);
    }

    #[test]
    fn parsing() {
        assert_eq!(Lang::parse("en_GB"), Some(Lang::En));
        assert_eq!(Lang::parse(" FR "), Some(Lang::Fr));
        assert_eq!(Lang::parse("de"), None);
        assert_eq!(Lang::Fr.other(), Lang::En);
    }
}
