//! Every sentence Carburoam shows or sends, in French and English: one typed table per section
//! and language, used by the pages, the admin console, the emails and the command line.
//!
//! - A table is a struct with one field per sentence; each language writes one `static` of it,
//!   so adding a field fails the build until every language has it.
//! - A plain sentence is a `&'static str`. A sentence with values in it is a function taking
//!   typed arguments (`fn(u64) -> String`, written as a closure in each language), so a value
//!   cannot be forgotten or misnamed, and plurals follow each language's rule ([`Lang::count`]:
//!   French counts 0 and 1 as singular, English only 1).
//! - French puts a narrow no-break space (U+202F) before `:` `;` `!` `?` and inside « »; English
//!   none. The tests below render every entry of every table to hold both rules (the emails keep
//!   a plain space in French, see [`email`]).
//!
//! This module sits below the services (the account service sends emails with it) and above
//! [`crate::domain`], whose [`Lang`] it extends with the wording ([`Lang::texts`]) and the locale
//! formatting ([`format`]). The web layer only picks the language of a request.

pub mod account;
pub mod admin;
pub mod alerts;
pub mod email;
pub mod format;
pub mod history;
pub mod push;
pub mod route;
pub mod services;
pub mod site;

pub use account::AccountStrings;
pub use admin::AdminStrings;
pub use alerts::AlertStrings;
pub use email::EmailStrings;
pub use history::HistoryStrings;
pub use site::SiteStrings;

use crate::domain::Lang;

/// Defines a table: the struct, and (for the tests) a way to render every entry.
macro_rules! table {
    ($(#[$meta:meta])* pub struct $name:ident { $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $name {
            /// Every entry rendered, functions called with sample values, each with its name.
            #[cfg(test)]
            pub(crate) fn samples(&self) -> Vec<(&'static str, String)> {
                let mut out = Vec::new();
                $( for s in crate::text::tests::Entry::samples(&self.$field) { out.push((stringify!($field), s)); } )*
                out
            }
        }
    };
}
pub(crate) use table;

/// All the tables of one language.
#[derive(Debug)]
pub struct Texts {
    /// The public site (`base.html` reads it as `l.t`).
    pub site: &'static SiteStrings,
    /// The account pages and form problems (`l.a`).
    pub account: &'static AccountStrings,
    /// The admin console (`l.admin()`).
    pub admin: &'static AdminStrings,
    /// The emails.
    pub email: &'static EmailStrings,
    /// The price history: station chart, weekday line, trends page (`l.h()`).
    pub history: &'static HistoryStrings,
    /// Price alerts: their page, messages and console block.
    pub alerts: &'static AlertStrings,
}

static FR: Texts = Texts {
    site: &site::FR,
    account: &account::FR,
    admin: &admin::FR,
    email: &email::FR,
    history: &history::FR,
    alerts: &alerts::FR,
};
static EN: Texts = Texts {
    site: &site::EN,
    account: &account::EN,
    admin: &admin::EN,
    email: &email::EN,
    history: &history::EN,
    alerts: &alerts::EN,
};

impl Lang {
    /// Every sentence in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }

    /// The public site's table.
    pub fn strings(self) -> &'static SiteStrings {
        self.texts().site
    }

    /// Whether `n` takes the singular: French counts 0 and 1 as singular, English only 1.
    pub fn singular(self, n: u64) -> bool {
        match self {
            Lang::Fr => n <= 1,
            Lang::En => n == 1,
        }
    }

    /// `n` and the word agreeing with it: `0 minute` / `0 minutes`, `2 essais` / `2 tries`.
    pub fn count(self, n: u64, one: &str, many: &str) -> String {
        format!("{n} {}", if self.singular(n) { one } else { many })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use zxcvbn::feedback::{Suggestion, Warning};

    use super::*;

    /// An entry of a table rendered with sample values (every branch a value can take).
    pub(crate) trait Entry {
        fn samples(&self) -> Vec<String>;
    }

    const COUNTS: [u64; 4] = [0, 1, 2, 42];

    impl Entry for &'static str {
        fn samples(&self) -> Vec<String> {
            vec![(*self).to_owned()]
        }
    }
    impl Entry for fn(u64) -> String {
        fn samples(&self) -> Vec<String> {
            COUNTS.iter().map(|n| self(*n)).collect()
        }
    }
    impl Entry for fn(u64) -> &'static str {
        fn samples(&self) -> Vec<String> {
            COUNTS.iter().map(|n| self(*n).to_owned()).collect()
        }
    }
    impl Entry for fn(i64) -> &'static str {
        fn samples(&self) -> Vec<String> {
            COUNTS.iter().map(|n| self(*n as i64).to_owned()).collect()
        }
    }
    impl Entry for fn(&str) -> String {
        fn samples(&self) -> Vec<String> {
            vec![self("Zoé")]
        }
    }
    impl Entry for fn(&str, &str) -> String {
        fn samples(&self) -> Vec<String> {
            vec![self("29", "1,699 €")]
        }
    }
    impl Entry for fn(&str, &str, &str) -> String {
        fn samples(&self) -> Vec<String> {
            vec![self("29", "1,699 €", "12,00 €")]
        }
    }
    impl Entry for fn(&str, &str, &str, &str) -> String {
        fn samples(&self) -> Vec<String> {
            vec![self("30", "1,659 €", "1,749 €", "1,699 €")]
        }
    }
    impl Entry for fn(&str, &str, &str, &str, &str) -> String {
        fn samples(&self) -> Vec<String> {
            vec![self("30", "1,659 €", "1,749 €", "1,699 €", "Maison → travail")]
        }
    }
    impl Entry for fn(u64, &str, &str, u64, &str) -> String {
        fn samples(&self) -> Vec<String> {
            COUNTS.iter().map(|n| self(*n, "1,7 €", "1,6 €", 650, "42 €")).collect()
        }
    }
    impl Entry for fn(Warning) -> &'static str {
        fn samples(&self) -> Vec<String> {
            use Warning::*;
            [
                StraightRowsOfKeysAreEasyToGuess,
                ShortKeyboardPatternsAreEasyToGuess,
                RepeatsLikeAaaAreEasyToGuess,
                RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
                ThisIsATop10Password,
                ThisIsATop100Password,
                ThisIsACommonPassword,
                ThisIsSimilarToACommonlyUsedPassword,
                SequencesLikeAbcAreEasyToGuess,
                RecentYearsAreEasyToGuess,
                AWordByItselfIsEasyToGuess,
                DatesAreOftenEasyToGuess,
                NamesAndSurnamesByThemselvesAreEasyToGuess,
                CommonNamesAndSurnamesAreEasyToGuess,
            ]
            .into_iter()
            .map(|w| self(w).to_owned())
            .collect()
        }
    }
    impl Entry for fn(Suggestion) -> &'static str {
        fn samples(&self) -> Vec<String> {
            use Suggestion::*;
            [
                UseAFewWordsAvoidCommonPhrases,
                NoNeedForSymbolsDigitsOrUppercaseLetters,
                AddAnotherWordOrTwo,
                CapitalizationDoesntHelpVeryMuch,
                AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase,
                ReversedWordsArentMuchHarderToGuess,
                PredictableSubstitutionsDontHelpVeryMuch,
                UseALongerKeyboardPatternWithMoreTurns,
                AvoidRepeatedWordsAndCharacters,
                AvoidSequences,
                AvoidRecentYears,
                AvoidYearsThatAreAssociatedWithYou,
                AvoidDatesAndYearsThatAreAssociatedWithYou,
            ]
            .into_iter()
            .map(|s| self(s).to_owned())
            .collect()
        }
    }

    /// Every entry of every table of `lang`, named `section.field`.
    pub(crate) fn all_samples(lang: Lang) -> Vec<(String, String)> {
        let t = lang.texts();
        let sections = [
            ("site", t.site.samples()),
            ("account", t.account.samples()),
            ("admin", t.admin.samples()),
            ("email", t.email.samples()),
            ("history", t.history.samples()),
            ("alerts", t.alerts.samples()),
            ("push", push::strings(lang).samples()),
            ("route", route::strings(lang).samples()),
        ];
        let mut out: Vec<(String, String)> = sections
            .into_iter()
            .flat_map(|(section, entries)| entries.into_iter().map(move |(k, v)| (format!("{section}.{k}"), v)))
            .collect();
        out.extend(services::FEED_NAMES.iter().map(|s| (format!("service {s}"), lang.service(s).to_owned())));
        out
    }

    /// The space characters that may stand before `:` `;` `!` `?` in a text, and whether the
    /// text breaks a typographic rule of `lang`: the offending excerpt.
    pub(crate) fn typography_fault(lang: Lang, text: &str) -> Option<String> {
        let chars: Vec<char> = text.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            let before = if i > 0 { Some(chars[i - 1]) } else { None };
            let after = chars.get(i + 1).copied();
            let excerpt = || chars[i.saturating_sub(20)..(i + 10).min(chars.len())].iter().collect::<String>();
            let high = matches!(c, ':' | ';' | '!' | '?');
            match lang {
                Lang::En => {
                    if high && matches!(before, Some(' ' | '\u{a0}' | '\u{202f}')) {
                        return Some(excerpt());
                    }
                    if matches!(c, '«' | '»') {
                        return Some(excerpt());
                    }
                }
                Lang::Fr => {
                    // A plain space would let the sign start a line: it must be a no-break one; and
                    // there must be one (a colon right after a digit is a time: `06:20`).
                    if high && before == Some(' ') {
                        return Some(excerpt());
                    }
                    if high && before.is_some_and(|b| b.is_alphabetic() || *c != ':' && !b.is_whitespace()) {
                        return Some(excerpt());
                    }
                    if *c == '«' && after == Some(' ') || *c == '»' && before == Some(' ') {
                        return Some(excerpt());
                    }
                }
            }
        }
        None
    }

    #[test]
    fn english_has_no_space_before_high_punctuation() {
        let faults: Vec<String> = all_samples(Lang::En)
            .into_iter()
            .filter_map(|(k, v)| typography_fault(Lang::En, &v).map(|e| format!("{k}: …{e}…")))
            .collect();
        assert!(faults.is_empty(), "French typography in English texts:\n{}", faults.join("\n"));
    }

    #[test]
    fn french_spaces_before_high_punctuation_do_not_break() {
        let faults: Vec<String> = all_samples(Lang::Fr)
            .into_iter()
            // Emails keep a plain space (see `email`).
            .filter(|(k, _)| !k.starts_with("email."))
            .filter_map(|(k, v)| typography_fault(Lang::Fr, &v).map(|e| format!("{k}: …{e}…")))
            .collect();
        assert!(faults.is_empty(), "breakable spaces in French texts:\n{}", faults.join("\n"));
    }

    #[test]
    fn the_typography_check_catches_faults() {
        assert!(typography_fault(Lang::En, "Total : 3").is_some());
        assert!(typography_fault(Lang::En, "Total\u{202f}: 3").is_some());
        assert!(typography_fault(Lang::En, "Really ?").is_some());
        assert!(typography_fault(Lang::En, "Total: 3, see https://x.example/?a=1; ok!").is_none());
        assert!(typography_fault(Lang::Fr, "Total : 3").is_some());
        assert!(typography_fault(Lang::Fr, "« abc »").is_some());
        assert!(typography_fault(Lang::Fr, "Vraiment?").is_some());
        assert!(typography_fault(Lang::Fr, "Total\u{202f}: 3 ; «\u{202f}abc\u{202f}»").is_some());
        assert!(typography_fault(Lang::Fr, "Total\u{202f}: 3\u{202f}; «\u{202f}abc\u{202f}» 06:20").is_none());
    }

    #[test]
    fn no_entry_is_empty_or_left_with_a_placeholder() {
        for lang in Lang::ALL {
            for (k, v) in all_samples(lang) {
                assert!(!v.trim().is_empty(), "{lang:?} {k} is empty");
                assert!(!v.contains('{') && !v.contains('}'), "{lang:?} {k} has a placeholder left: {v}");
                // A colon entry is what goes between a label and its value: its space is meant.
                if !k.ends_with(".colon") {
                    assert_eq!(v.trim_matches(' '), v, "{lang:?} {k} has stray spaces");
                }
            }
        }
    }

    #[test]
    fn plurals_follow_each_language() {
        assert_eq!(Lang::Fr.count(0, "minute", "minutes"), "0 minute");
        assert_eq!(Lang::Fr.count(1, "minute", "minutes"), "1 minute");
        assert_eq!(Lang::Fr.count(2, "minute", "minutes"), "2 minutes");
        assert_eq!(Lang::En.count(0, "minute", "minutes"), "0 minutes");
        assert_eq!(Lang::En.count(1, "minute", "minutes"), "1 minute");
    }
}
