//! The compact brand badge of the station lists: initials on a colour derived from the brand
//! name (no logos: they are trademarks). The colours are classes of `site.css` (`bc0`…`bc9`),
//! all dark enough for white text at 4.5:1 or more, so the page's CSP needs no inline style.

/// Where OpenStreetMap's copyright and licence are explained: the attribution's link.
pub const OSM_COPYRIGHT_URL: &str = "https://www.openstreetmap.org/copyright";

/// A brand's badge, for the templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    /// The canonical brand: the badge's accessible name.
    pub brand: String,
    /// One or two letters or digits (`EL` for E.Leclerc, `SU` for Système U, `TO` for TotalEnergies).
    pub initials: String,
    /// `bc0` to `bc9`.
    pub class: &'static str,
}

const CLASSES: [&str; 10] = ["bc0", "bc1", "bc2", "bc3", "bc4", "bc5", "bc6", "bc7", "bc8", "bc9"];

impl Badge {
    pub fn new(brand: &str) -> Badge {
        let words: Vec<&str> = brand.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let initials: String = match words.as_slice() {
            [] => String::new(),
            [one] => one.chars().take(2).collect(),
            [first, second, ..] => first.chars().take(1).chain(second.chars().take(1)).collect(),
        };
        // FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
        let hash =
            brand.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        Badge { brand: brand.to_owned(), initials: initials.to_uppercase(), class: CLASSES[(hash % 10) as usize] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_and_stable_colour() {
        assert_eq!(Badge::new("E.Leclerc").initials, "EL");
        assert_eq!(Badge::new("Système U").initials, "SU");
        assert_eq!(Badge::new("TotalEnergies").initials, "TO");
        assert_eq!(Badge::new("AS 24").initials, "A2");
        assert_eq!(Badge::new("Esso").class, Badge::new("Esso").class);
        assert_eq!(Badge::new("Esso").brand, "Esso");
        let classes: std::collections::HashSet<_> =
            ["Esso", "E.Leclerc", "TotalEnergies", "Intermarché", "Système U", "Carrefour", "Avia", "BP"]
                .iter()
                .map(|b| Badge::new(b).class)
                .collect();
        assert!(classes.len() >= 4, "brands spread over the colours: {classes:?}");
    }
}
