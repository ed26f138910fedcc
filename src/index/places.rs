//! The places a search box resolves to (towns, postcodes, départements of the stations we know),
//! matched in memory: [`build_index`] turns the rows of [`crate::db::search::place_rows`] into
//! [`Place`]s once, and [`resolve`] ranks them for a typed text.

use std::collections::HashMap;

use crate::db::search::PlaceRow;

/// What a search can resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    Town,
    Department,
}

/// A place to search around.
#[derive(Debug, Clone)]
pub struct Place {
    pub kind: PlaceKind,
    /// Shown to people: `Sceaux (92330)`, `Département 29`.
    pub label: String,
    /// What to put back in the search box to get this place first: `Sceaux 92330`, `29`.
    pub query: String,
    pub latitude: f64,
    pub longitude: f64,
    pub stations: i64,
    /// A radius that covers the place: a few km for a town, more for a département.
    pub radius_km: f64,
    key: String,
    postcodes: Vec<String>,
}

/// Upper case, no accents, words separated by single spaces (`Saint-Étienne` → `SAINT ETIENNE`).
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mapped: &str = match c {
            'à' | 'â' | 'ä' | 'á' | 'À' | 'Â' | 'Ä' | 'Á' => "A",
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => "E",
            'î' | 'ï' | 'í' | 'Î' | 'Ï' | 'Í' => "I",
            'ô' | 'ö' | 'ó' | 'Ô' | 'Ö' | 'Ó' => "O",
            'ù' | 'û' | 'ü' | 'ú' | 'Ù' | 'Û' | 'Ü' | 'Ú' => "U",
            'ç' | 'Ç' => "C",
            'ÿ' | 'Ÿ' => "Y",
            'œ' | 'Œ' => "OE",
            'æ' | 'Æ' => "AE",
            c if c.is_alphanumeric() => {
                out.extend(c.to_uppercase());
                continue;
            }
            _ => " ",
        };
        out.push_str(mapped);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `SAINT-HERBLAIN` → `Saint-Herblain`, `PARIS 13` → `Paris 13`, `FONTAINES-SUR-SAONE` →
/// `Fontaines-sur-Saone` (articles and prepositions stay lower case inside a name).
pub fn title_case(s: &str) -> String {
    const SMALL: [&str; 13] = ["sur", "sous", "les", "lès", "lez", "la", "le", "de", "du", "des", "en", "au", "aux"];
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let mut first = true;
    let flush = |word: &mut String, out: &mut String, first: &mut bool| {
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        if !*first && SMALL.contains(&lower.as_str()) {
            out.push_str(&lower);
        } else {
            let mut cs = lower.chars();
            if let Some(c) = cs.next() {
                out.extend(c.to_uppercase());
                out.push_str(cs.as_str());
            }
        }
        *first = false;
        word.clear();
    };
    for c in s.trim().chars() {
        if matches!(c, ' ' | '-' | '\'' | '’') {
            flush(&mut word, &mut out, &mut first);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out, &mut first);
    out
}

/// Groups the rows into towns (one per normalized name and département, all postcodes merged)
/// and départements, most stations first.
pub fn build_index(rows: &[PlaceRow]) -> Vec<Place> {
    struct Acc {
        names: HashMap<String, i64>,
        postcodes: Vec<String>,
        lat: f64,
        lon: f64,
        n: i64,
    }
    let mut towns: HashMap<(String, String), Acc> = HashMap::new();
    let mut depts: HashMap<String, (f64, f64, i64)> = HashMap::new();
    for r in rows {
        let key = normalize(&r.city);
        if key.is_empty() {
            continue;
        }
        let n = r.stations.max(1);
        let w = n as f64;
        let a = towns.entry((key, r.department.clone())).or_insert_with(|| Acc {
            names: HashMap::new(),
            postcodes: Vec::new(),
            lat: 0.0,
            lon: 0.0,
            n: 0,
        });
        *a.names.entry(title_case(&r.city)).or_default() += n;
        if !a.postcodes.contains(&r.postcode) {
            a.postcodes.push(r.postcode.clone());
        }
        a.lat += r.latitude * w;
        a.lon += r.longitude * w;
        a.n += n;
        let d = depts.entry(r.department.clone()).or_default();
        d.0 += r.latitude * w;
        d.1 += r.longitude * w;
        d.2 += n;
    }
    let mut out: Vec<Place> = towns
        .into_iter()
        .map(|((key, _dept), mut a)| {
            a.postcodes.sort();
            let name = a
                .names
                .iter()
                .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| key.clone());
            let pc = a.postcodes.first().cloned().unwrap_or_default();
            let label = if a.postcodes.len() > 1 { format!("{name} ({pc}…)") } else { format!("{name} ({pc})") };
            Place {
                kind: PlaceKind::Town,
                query: format!("{name} {pc}"),
                label,
                latitude: a.lat / a.n as f64,
                longitude: a.lon / a.n as f64,
                stations: a.n,
                radius_km: 10.0,
                key,
                postcodes: a.postcodes,
            }
        })
        .collect();
    out.extend(depts.into_iter().filter(|(d, _)| !d.is_empty()).map(|(d, (lat, lon, n))| Place {
        kind: PlaceKind::Department,
        label: format!("Département {d}"),
        query: d.clone(),
        latitude: lat / n as f64,
        longitude: lon / n as f64,
        stations: n,
        radius_km: 40.0,
        key: d,
        postcodes: Vec::new(),
    }));
    out.sort_by(|a, b| b.stations.cmp(&a.stations).then(a.label.cmp(&b.label)));
    out
}

/// The places matching what someone typed, best first, at most `limit`.
///
/// Two or three characters that look like a département code (`29`, `2A`, `974`) match that
/// département; digits match postcodes by prefix; anything else matches town names: the exact
/// name first, then names starting with the text, then names with a word starting with it.
/// Within a rank, bigger places come first. A trailing postcode (`Sceaux 92330`, as in the
/// suggestions) narrows the towns to that postcode.
pub fn resolve<'a>(index: &'a [Place], q: &str, limit: usize) -> Vec<&'a Place> {
    let norm = normalize(q);
    if norm.is_empty() {
        return Vec::new();
    }
    let is_dept_code = |s: &str| {
        (s.len() == 2 && (s.bytes().all(|b| b.is_ascii_digit()) || s == "2A" || s == "2B"))
            || (s.len() == 3 && s.starts_with("97") && s.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut ranked: Vec<(u8, &Place)> = Vec::new();
    if is_dept_code(&norm) {
        ranked.extend(index.iter().filter(|p| p.kind == PlaceKind::Department && p.key == norm).map(|p| (0, p)));
    }
    if norm.bytes().all(|b| b.is_ascii_digit()) {
        ranked.extend(index.iter().filter(|p| p.kind == PlaceKind::Town).filter_map(|p| {
            if p.postcodes.contains(&norm) {
                Some((1, p))
            } else if p.postcodes.iter().any(|pc| pc.starts_with(&norm)) {
                Some((2, p))
            } else {
                None
            }
        }));
    } else {
        // `Sceaux 92330`: the name and a postcode.
        let (name, postcode) = match norm.rsplit_once(' ') {
            Some((n, pc)) if pc.len() == 5 && pc.bytes().all(|b| b.is_ascii_digit()) => (n.to_owned(), Some(pc)),
            _ => (norm.clone(), None),
        };
        let word_prefix = format!(" {name}");
        ranked.extend(index.iter().filter(|p| p.kind == PlaceKind::Town).filter_map(|p| {
            if let Some(pc) = postcode
                && !p.postcodes.iter().any(|x| x == pc)
            {
                return None;
            }
            let rank = if p.key == name {
                0
            } else if p.key.starts_with(&name) {
                1
            } else if p.key.contains(&word_prefix) {
                2
            } else {
                return None;
            };
            Some((rank, p))
        }));
    }
    // `index` is sorted by size already and the sort is stable.
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().take(limit).map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(city: &str, pc: &str, lat: f64, n: i64) -> PlaceRow {
        PlaceRow {
            city: city.into(),
            postcode: pc.into(),
            department: pc[..2].into(),
            latitude: lat,
            longitude: 2.0,
            stations: n,
        }
    }

    #[test]
    fn names() {
        assert_eq!(normalize("  Saint-Étienne  "), "SAINT ETIENNE");
        assert_eq!(normalize("L'Haÿ-les-Roses"), "L HAY LES ROSES");
        assert_eq!(title_case("SAINT-HERBLAIN"), "Saint-Herblain");
        assert_eq!(title_case("PARIS 13"), "Paris 13");
        assert_eq!(title_case("FONTAINES-SUR-SAÔNE"), "Fontaines-sur-Saône");
        assert_eq!(title_case("Le Cannet"), "Le Cannet");
    }

    #[test]
    fn resolving() {
        let idx = build_index(&[
            row("SCEAUX", "92330", 48.77, 2),
            row("Sceaux", "92330", 48.78, 1),
            row("Paris", "75013", 48.83, 5),
            row("PARIS 13", "75013", 48.83, 1),
            row("Saint-Paris", "75020", 48.86, 1),
            row("Lyon", "69003", 45.76, 3),
        ]);
        let r = resolve(&idx, "sceaux", 5);
        assert_eq!(r[0].label, "Sceaux (92330)");
        assert_eq!(r[0].stations, 3);
        let r: Vec<_> = resolve(&idx, "paris", 5).into_iter().map(|p| p.label.as_str()).collect();
        assert_eq!(r, ["Paris (75013)", "Paris 13 (75013)", "Saint-Paris (75020)"]);
        assert_eq!(resolve(&idx, "92", 5)[0].kind, PlaceKind::Department);
        assert_eq!(resolve(&idx, "69003", 5)[0].label, "Lyon (69003)");
        assert_eq!(resolve(&idx, "Paris 13 75013", 5)[0].label, "Paris 13 (75013)");
        assert!(resolve(&idx, "Marseille", 5).is_empty());
        assert!(resolve(&idx, "  ", 5).is_empty());
    }
}
