//! Canonical brands from the name-suggestion-index (NSI), vendored in `vendor/nsi/fuel.json`.
//!
//! Matching follows NSI's own matcher (`lib/matcher.ts`): names are compared after
//! [`simplify`]; an item's `name` tags are "primary" names, its `brand`/`operator`/`*_name` tags
//! and `matchNames` "alternate" ones; primary hits win over alternate ones, and among hits the
//! item with the smallest area wins. Only items whose `locationSet` covers France are indexed.
//!
//! Two deliberate differences from NSI:
//! - names matching the category's `exclude` patterns (`Station service`, `Independent`, `GNV`)
//!   are never a brand, even when some item lists them (E.Leclerc's `matchNames` hold
//!   `station-service`, which would otherwise brand every unbranded "Station Service");
//! - a few groupings on top of the index, for what a driver filtering by brand expects
//!   together: items sharing a Wikidata id (Super U, Système U, U: Q2529029) become one brand,
//!   and [`SUB_BRANDS`] / [`EXTRA_NAMES`] list the few other cases. The index stays the base.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

pub use crate::domain::station_name::simplify;

/// The vendored category, `brands/amenity/fuel` of the name-suggestion-index.
const NSI_FUEL: &str = include_str!("../../vendor/nsi/fuel.json");

/// `locationSet` codes that contain metropolitan France (country-coder ids): the world,
/// Europe, Western Europe, the EU, the euro area, France, metropolitan France. With the order of
/// their size, smallest first (NSI prefers the most local item).
const FRANCE_CODES: &[(&str, u8)] = &[("fx", 1), ("fr", 2), ("155", 3), ("eu", 4), ("ez", 4), ("150", 5), ("001", 6)];

/// When several items share one Wikidata id, the brand that names the group.
const GROUP_HEADS: &[&str] = &["Système U"];

/// Items of the index that are sub-brands or store formats of another (item brand → parent
/// item brand). NSI 8 has `Esso Express` (Q2350336) apart from Esso, and `Station U` and
/// `Total Contact` as items without a Wikidata id.
const SUB_BRANDS: &[(&str, &str)] =
    &[("Esso Express", "Esso"), ("Station U", "Système U"), ("Total Contact", "TotalEnergies")];

/// Spellings mapped in France that the index does not list, as extra match names of an item
/// (name → item brand): the Système U store formats.
const EXTRA_NAMES: &[(&str, &str)] =
    &[("La Station U", "Système U"), ("Hyper U", "Système U"), ("U Express", "Système U"), ("Marché U", "Système U")];

/// A canonical brand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub name: String,
    pub wikidata: Option<String>,
}

/// The outcome of canonicalising one station's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    /// The canonical brand; or the `brand` tag as written (trimmed, no Wikidata) when the index
    /// does not know it; `None` when nothing names a brand.
    pub brand: Option<Brand>,
    /// Whether the brand came from the index (false: kept as written, or none).
    pub matched: bool,
}

#[derive(Deserialize)]
struct File {
    #[serde(rename = "_meta")]
    meta: Meta,
    properties: Properties,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Meta {
    version: String,
}

#[derive(Deserialize, Default)]
struct Properties {
    #[serde(default)]
    exclude: Exclude,
}

#[derive(Deserialize, Default)]
struct Exclude {
    #[serde(default)]
    generic: Vec<String>,
    #[serde(default)]
    named: Vec<String>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(rename = "locationSet")]
    location_set: LocationSet,
    #[serde(default, rename = "matchNames")]
    match_names: Vec<String>,
    tags: HashMap<String, String>,
}

#[derive(Deserialize)]
struct LocationSet {
    #[serde(default)]
    include: Vec<serde_json::Value>,
    #[serde(default)]
    exclude: Vec<serde_json::Value>,
}

/// The match index built once from the vendored file.
pub struct BrandIndex {
    version: String,
    brands: Vec<Brand>,
    /// Size rank of each brand's location set (smaller is more local).
    area: Vec<(u8, usize)>,
    primary: HashMap<String, Vec<usize>>,
    alternate: HashMap<String, Vec<usize>>,
    excluded: Vec<Regex>,
}

static INDEX: LazyLock<BrandIndex> = LazyLock::new(|| match BrandIndex::parse(NSI_FUEL) {
    Ok(index) => index,
    Err(e) => {
        // Cannot happen with the vendored file (a unit test parses it); brands are then kept
        // as written rather than the server failing.
        tracing::error!(error = %e, "vendor/nsi/fuel.json does not parse: brands are not canonicalised");
        BrandIndex {
            version: String::new(),
            brands: Vec::new(),
            area: Vec::new(),
            primary: HashMap::new(),
            alternate: HashMap::new(),
            excluded: Vec::new(),
        }
    }
});

/// The index (parsed on first use).
pub fn index() -> &'static BrandIndex {
    &INDEX
}

fn code(v: &serde_json::Value) -> Option<&str> {
    v.as_str()
}

impl BrandIndex {
    /// Builds the index from the text of an NSI category file.
    pub fn parse(json: &str) -> Result<BrandIndex, serde_json::Error> {
        let file: File = serde_json::from_str(json)?;
        let excluded = file
            .properties
            .exclude
            .generic
            .iter()
            .chain(&file.properties.exclude.named)
            .filter_map(|p| match Regex::new(&format!("(?i){p}")) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(pattern = %p, error = %e, "NSI exclude pattern skipped");
                    None
                }
            })
            .collect::<Vec<_>>();
        let is_excluded = |s: &str| excludes(&excluded, s);

        // Items valid in France, with their size rank.
        let items: Vec<(&Item, (u8, usize))> = file
            .items
            .iter()
            .filter_map(|it| {
                let excluded_here =
                    it.location_set.exclude.iter().filter_map(code).any(|c| c.eq_ignore_ascii_case("fr") || c == "fx");
                let rank = it
                    .location_set
                    .include
                    .iter()
                    .filter_map(code)
                    .filter_map(|c| FRANCE_CODES.iter().find(|(f, _)| f.eq_ignore_ascii_case(c)).map(|(_, r)| *r))
                    .max()?;
                (!excluded_here && it.tags.contains_key("brand")).then_some((it, (rank, it.location_set.include.len())))
            })
            .collect();

        // Canonical brand of each item: the group head when items share a Wikidata id, the
        // parent for sub-brands, else the item's own brand.
        let own = |it: &Item| Brand {
            name: it.tags.get("brand").cloned().unwrap_or_default(),
            wikidata: it.tags.get("brand:wikidata").cloned(),
        };
        let by_brand: HashMap<&str, &Item> =
            items.iter().filter_map(|(it, _)| it.tags.get("brand").map(|b| (b.as_str(), *it))).collect();
        let mut heads: HashMap<String, Brand> = HashMap::new();
        for head in GROUP_HEADS {
            if let Some(it) = by_brand.get(head)
                && let Some(q) = it.tags.get("brand:wikidata")
            {
                heads.insert(q.clone(), own(it));
            }
        }
        let canonical = |it: &Item| -> Brand {
            let b = own(it);
            let parent = SUB_BRANDS.iter().find(|(sub, _)| *sub == b.name).and_then(|(_, p)| by_brand.get(p));
            if let Some(p) = parent {
                return own(p);
            }
            b.wikidata.as_ref().and_then(|q| heads.get(q).cloned()).unwrap_or(b)
        };

        let mut index = BrandIndex {
            version: file.meta.version.clone(),
            brands: Vec::with_capacity(items.len()),
            area: Vec::with_capacity(items.len()),
            primary: HashMap::new(),
            alternate: HashMap::new(),
            excluded: Vec::new(),
        };
        let primary_tag = |k: &str| k == "name" || k.starts_with("name:");
        let alternate_tag = |k: &str| {
            k == "brand"
                || k.starts_with("brand:")
                || k == "operator"
                || k.starts_with("operator:")
                || k.ends_with("_name")
                || k.contains("_name:")
        };
        let not_name = |k: &str| {
            k.ends_with(":wikidata")
                || k.ends_with(":type")
                || k.ends_with(":wikipedia")
                || k.ends_with(":colour")
                || k.ends_with(":color")
        };
        for (n, (it, area)) in items.iter().enumerate() {
            index.brands.push(canonical(it));
            index.area.push(*area);
            for (k, v) in &it.tags {
                if not_name(k) || v.is_empty() || is_excluded(v) {
                    continue;
                }
                let which = if primary_tag(k) {
                    &mut index.primary
                } else if alternate_tag(k) {
                    &mut index.alternate
                } else {
                    continue;
                };
                push(which, simplify(v), n);
            }
            for m in it.match_names.iter().filter(|m| !is_excluded(m)) {
                push(&mut index.alternate, simplify(m), n);
            }
        }
        for (extra, target) in EXTRA_NAMES {
            if let Some(n) = items.iter().position(|(it, _)| it.tags.get("brand").is_some_and(|b| b == target)) {
                push(&mut index.alternate, simplify(extra), n);
            }
        }
        // Most local item first in every list (NSI sorts hits by area when the location is known).
        for list in index.primary.values_mut().chain(index.alternate.values_mut()) {
            list.sort_by_key(|&n| (index.area[n], n));
        }
        index.excluded = excluded;
        Ok(index)
    }

    /// The name-suggestion-index version the index was built from.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How many items of the index apply in France.
    pub fn len(&self) -> usize {
        self.brands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.brands.is_empty()
    }

    /// Whether the index rejects `name` as a brand (`Station service`, `Independent`, `GNV`).
    fn is_excluded(&self, name: &str) -> bool {
        excludes(&self.excluded, name)
    }

    /// The canonical brand `name` stands for, if the index knows it.
    pub fn lookup(&self, name: &str) -> Option<&Brand> {
        if self.is_excluded(name) {
            return None;
        }
        let key = simplify(name);
        if key.is_empty() {
            return None;
        }
        let hit = self.primary.get(&key).or_else(|| self.alternate.get(&key))?;
        hit.first().map(|&n| &self.brands[n])
    }

    /// Canonicalises a station's tags: its `brand`, or when that is empty (or not a brand,
    /// like `Independent`) its `name`, then its `operator`. A `brand` the index does not know is
    /// kept as written, trimmed.
    pub fn canonical(&self, brand: Option<&str>, name: Option<&str>, operator: Option<&str>) -> Canonical {
        let brand = clean(brand).filter(|b| !self.is_excluded(b));
        if let Some(b) = brand {
            return match self.lookup(b) {
                Some(found) => Canonical { brand: Some(found.clone()), matched: true },
                None => Canonical { brand: Some(Brand { name: b.to_owned(), wikidata: None }), matched: false },
            };
        }
        for fallback in [clean(name), clean(operator)].into_iter().flatten() {
            if let Some(found) = self.lookup(fallback) {
                return Canonical { brand: Some(found.clone()), matched: true };
            }
        }
        Canonical { brand: None, matched: false }
    }
}

/// Whether one of NSI's exclude patterns matches `name` as written or with its punctuation read
/// as spaces (`station-service` is the generic `station service`).
fn excludes(patterns: &[Regex], name: &str) -> bool {
    let spaced = name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    patterns.iter().any(|r| r.is_match(name.trim()) || r.is_match(&spaced))
}

fn clean(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn push(map: &mut HashMap<String, Vec<usize>>, key: String, n: usize) {
    if key.is_empty() {
        return;
    }
    let list = map.entry(key).or_default();
    if !list.contains(&n) {
        list.push(n);
    }
}

/// [`BrandIndex::canonical`] on the vendored index.
pub fn canonical(brand: Option<&str>, name: Option<&str>, operator: Option<&str>) -> Canonical {
    index().canonical(brand, name, operator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand_of(brand: &str) -> (String, Option<String>) {
        let c = canonical(Some(brand), None, None);
        let b = c.brand.expect("a brand");
        println!("NSI {}: {brand:?} → {:?} ({:?})", index().version(), b.name, b.wikidata);
        (b.name, b.wikidata)
    }

    #[test]
    fn vendored_index_parses() {
        let idx = BrandIndex::parse(NSI_FUEL).expect("vendor/nsi/fuel.json parses");
        assert!(idx.version().starts_with("8."), "{}", idx.version());
        assert!(idx.len() > 50, "{} items apply in France", idx.len());
        assert!(!idx.excluded.is_empty(), "the exclude patterns compile");
    }

    #[test]
    fn issue_spellings() {
        let total = ("TotalEnergies".to_owned(), Some("Q154037".to_owned()));
        for s in ["Total", "Total Access", "TotalEnergies", "TOTAL", " total access "] {
            assert_eq!(brand_of(s), total, "{s}");
        }
        let leclerc = ("E.Leclerc".to_owned(), Some("Q1273376".to_owned()));
        for s in ["E. Leclerc", "E.Leclerc", "Leclerc"] {
            assert_eq!(brand_of(s), leclerc, "{s}");
        }
        // NSI 8 has three items with Wikidata Q2529029 (`Super U`, `Système U`, `U`) and a
        // `Station U` item without one: all four are one brand, named after the group, Système U.
        let u = ("Système U".to_owned(), Some("Q2529029".to_owned()));
        for s in ["Super U", "Système U", "Systeme U", "Station U", "U"] {
            assert_eq!(brand_of(s), u, "{s}");
        }
        // `Esso Express` is its own NSI item (Q2350336), a sub-brand of Esso.
        let esso = ("Esso".to_owned(), Some("Q867662".to_owned()));
        for s in ["Esso Express", "Esso"] {
            assert_eq!(brand_of(s), esso, "{s}");
        }
        assert_eq!(brand_of("Total Contact"), total);
        assert_eq!(brand_of("Hyper U"), u);
        assert_eq!(brand_of("Intermarché").0, "Intermarché");
        assert_eq!(brand_of("intermarche").0, "Intermarché");
        assert_eq!(brand_of("AS24"), brand_of("AS 24"));
    }

    #[test]
    fn unknown_brands_are_kept_as_written() {
        let c = canonical(Some("  Garage  Martin "), Some("Total"), None);
        assert_eq!(c.brand, Some(Brand { name: "Garage  Martin".into(), wikidata: None }));
        assert!(!c.matched);
    }

    #[test]
    fn empty_brand_falls_back_to_name_then_operator() {
        let c = canonical(None, Some("Total Access"), None);
        assert_eq!(c.brand.map(|b| b.name).as_deref(), Some("TotalEnergies"));
        let c = canonical(Some(" "), Some("Garage du Centre"), Some("Intermarché"));
        assert_eq!(c.brand.map(|b| b.name).as_deref(), Some("Intermarché"));
        let c = canonical(Some("Independent"), Some("Avia"), None);
        assert_eq!(c.brand.map(|b| b.name).as_deref(), Some("Avia"), "`Independent` is not a brand");
        // Generic names are not brands, even though E.Leclerc's matchNames list `station-service`.
        for generic in ["Station Service", "Station service", "GNV", "station-service"] {
            assert_eq!(canonical(None, Some(generic), None).brand, None, "{generic}");
        }
        assert_eq!(canonical(None, Some("Garage du Centre"), None).brand, None);
        assert_eq!(canonical(None, None, None).brand, None);
    }

    #[test]
    fn items_outside_france_are_not_matched() {
        // `Total طوطال` (Djibouti) and `TotalEnergies Express` (Netherlands) do not apply here.
        assert_eq!(index().lookup("TotalEnergies Express"), None);
        assert_eq!(index().lookup("طوطال"), None);
    }
}
