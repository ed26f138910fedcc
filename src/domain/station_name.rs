//! What OpenStreetMap says a station is called: its canonical brand and its own name, and how
//! the two are shown together ("TotalEnergies — Relais Beaune Tailly").

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One station's names, from the last names import (see `crate::names`). Every field is
/// optional: OpenStreetMap may know a station's name and not its brand, or the reverse.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct StationName {
    /// Canonical brand (the name-suggestion-index's `brand`), or the mapped brand as written,
    /// trimmed, when the index does not know it.
    pub brand: Option<String>,
    /// Wikidata id of the canonical brand (`Q154037`), when the index has one.
    pub brand_wikidata: Option<String>,
    /// The `brand` tag as mapped (`Total Access`), before canonicalisation.
    pub osm_brand: Option<String>,
    /// The `name` tag.
    pub name: Option<String>,
    pub operator: Option<String>,
    /// The `branch` tag (`Tours Balzac`): what NSI-style tagging keeps apart from the brand.
    pub branch: Option<String>,
}

impl StationName {
    /// The shown name: the brand, plus the first of the OSM `name`, `branch` and mapped brand
    /// that adds something to it ("TotalEnergies — Relais Beaune Tailly", "TotalEnergies —
    /// Total Access", but "TotalEnergies" alone for a station named "Total"); without a brand,
    /// the OSM name alone. `None` when OpenStreetMap gives neither.
    pub fn display(&self) -> Option<String> {
        let Some(brand) = self.brand.as_deref().filter(|b| !b.is_empty()) else {
            return self.name.clone().filter(|n| !n.is_empty());
        };
        let detail = [&self.name, &self.branch, &self.osm_brand]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| adds_to(s, brand));
        Some(match detail {
            Some(d) => format!("{brand} — {d}"),
            None => brand.to_owned(),
        })
    }
}

/// Whether `detail` says more than `brand`: not empty, not the brand again in another spelling,
/// not an abbreviation of it ("Total" for "TotalEnergies"), not "Station (service) <brand>".
fn adds_to(detail: &str, brand: &str) -> bool {
    let d = simplify(detail);
    let b = simplify(brand);
    if d.is_empty() || b.starts_with(&d) {
        return false;
    }
    let rest = d
        .strip_prefix("stationservice")
        .or_else(|| d.strip_prefix("station"))
        .or_else(|| d.strip_prefix("relais"))
        .unwrap_or(&d);
    !(rest.is_empty() || rest == b)
}

/// A name reduced the way the name-suggestion-index compares names (its `simplify`): `&` read
/// as "and", lower case, accents and ligatures dropped (`é` → `e`, `œ` → `oe`), and everything
/// that is not a letter or a digit removed (spaces, dots, dashes, apostrophes). `E. Leclerc`,
/// `E.Leclerc` and `e leclerc` all give `eleclerc`.
pub fn simplify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.replace('&', "and").nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ß' => out.push_str("ss"),
            'ø' | 'Ø' => out.push('o'),
            'ł' | 'Ł' => out.push('l'),
            'đ' | 'Đ' => out.push('d'),
            'ı' | 'İ' => out.push('i'),
            c if c.is_alphanumeric() => out.extend(c.to_lowercase()),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(brand: Option<&str>, name: Option<&str>, osm_brand: Option<&str>) -> StationName {
        StationName {
            brand: brand.map(str::to_owned),
            name: name.map(str::to_owned),
            osm_brand: osm_brand.map(str::to_owned),
            ..StationName::default()
        }
    }

    #[test]
    fn simplify_like_nsi() {
        assert_eq!(simplify("E. Leclerc"), "eleclerc");
        assert_eq!(simplify("E.Leclerc"), "eleclerc");
        assert_eq!(simplify("Système U"), "systemeu");
        assert_eq!(simplify("Intermarché"), "intermarche");
        assert_eq!(simplify("AS 24"), simplify("AS24"));
        assert_eq!(simplify("Bœuf & Co"), "boeufandco");
        assert_eq!(simplify("  "), "");
    }

    #[test]
    fn display_omits_what_adds_nothing() {
        let show = |b, n, o| named(b, n, o).display();
        assert_eq!(
            show(Some("TotalEnergies"), Some("Relais Beaune Tailly"), None).as_deref(),
            Some("TotalEnergies — Relais Beaune Tailly")
        );
        assert_eq!(show(Some("TotalEnergies"), Some("Total"), Some("Total")).as_deref(), Some("TotalEnergies"));
        assert_eq!(show(Some("TotalEnergies"), Some("TotalEnergies"), None).as_deref(), Some("TotalEnergies"));
        assert_eq!(
            show(Some("TotalEnergies"), None, Some("Total Access")).as_deref(),
            Some("TotalEnergies — Total Access")
        );
        assert_eq!(show(Some("E.Leclerc"), Some("Station Service E.Leclerc"), None).as_deref(), Some("E.Leclerc"));
        assert_eq!(
            show(Some("Intermarché"), Some("Station Service Intermarché"), None).as_deref(),
            Some("Intermarché")
        );
        assert_eq!(show(Some("Carrefour"), Some(" "), None).as_deref(), Some("Carrefour"));
        assert_eq!(show(None, Some("Garage Martin"), None).as_deref(), Some("Garage Martin"));
        assert_eq!(show(None, None, None), None);
        let mut with_branch = named(Some("TotalEnergies"), Some("TotalEnergies"), None);
        with_branch.branch = Some("Tours Balzac".into());
        assert_eq!(with_branch.display().as_deref(), Some("TotalEnergies — Tours Balzac"));
    }
}
