//! A generator of realistic national-size feeds, for benchmarks and tests without ../shared.
//!
//! The output looks like `PrixCarburants_instantane_ruptures.xml`: ISO-8859-1 bytes, the same
//! indentation and attribute order, ~1.4 KB per station, accented towns, `&#339;`/`&#8217;`
//! references, optional `<horaires>` with overnight slots, 3–6 prices, some ruptures. It is
//! deterministic per seed (a local SplitMix64, no dependency), and `revision` produces the
//! "next snapshot" of the same stations: about 1 price in 20 changes per revision and 1 in 5 is
//! only re-dated, as between two real snapshots.

use std::io::{Cursor, Write};

pub mod year;

pub use year::{YearSpec, YearStats, write_year_xml, write_year_zip};

/// SplitMix64: tiny, fast, good enough for test data, and stable across versions (unlike a
/// crate's default generator).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A generator for one (seed, station, fuel, revision) tuple: the same inputs always give the
/// same draws, whatever was generated before.
fn rng_for(seed: u64, a: u64, b: u64, c: u64) -> Rng {
    let mut r = Rng::new(seed);
    r.0 ^= a.wrapping_mul(0xA24B_AED4_963E_E407);
    r.next();
    r.0 ^= b.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    r.next();
    r.0 ^= c.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    r
}

const TOWNS: &[&str] = &[
    "Saint-Étienne",
    "BOURG-EN-BRESSE",
    "Évry-Courcouronnes",
    "Orléans",
    "Besançon",
    "PARIS 13",
    "AMIENS CEDEX 2",
    "Nîmes",
    "Châteauroux",
    "Le Cannet",
    "La Fouillade",
    "Sainte-Maxime",
    "SAINT-DENIS-LÈS-BOURG",
    "Béziers",
    "Angoulême",
    "L'Haÿ-les-Roses",
    "Vendœuvre",
    "Pontarlier",
];

const STREETS: &[&str] = &[
    "Avenue du Maréchal Juin",
    "Route Nationale",
    "Rue de l'Église",
    "Boulevard Carnot",
    "ZA LE LAC",
    "Rue des Écoles",
    "Avenue Édouard Depreux",
    "Centre Commercial Les Halles",
    "Rue du C&#339;ur Volant",
    "Place de l&#8217;Hôtel de Ville",
    "Route de Besançon  ",
    "  Zone Industrielle du Moulin",
];

const SERVICES: &[&str] = &[
    "Laverie",
    "Station de gonflage",
    "Piste poids lourds",
    "Lavage automatique",
    "DAB (Distributeur automatique de billets)",
    "Boutique alimentaire",
    "Boutique non alimentaire",
    "Vente de gaz domestique (Butane, Propane)",
    "Restauration à emporter",
    "Carburant additivé",
    "Toilettes publiques",
    "Relais colis",
    "Automate CB 24/24",
    "Wifi",
    "Bornes électriques",
];

const DAYS: [&str; 7] = ["Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche"];

/// (id, name, base price in thousandths) of the six fuels.
const FUELS: [(u8, &str, i64); 6] = [
    (1, "Gazole", 1_700),
    (2, "SP95", 1_820),
    (3, "E85", 850),
    (4, "GPLc", 990),
    (5, "E10", 1_780),
    (6, "SP98", 1_880),
];

/// Appends `s` as ISO-8859-1; characters beyond Latin-1 become numeric references, as the
/// publisher writes them.
fn push_latin1(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => out.push(b),
            Err(_) => out.extend_from_slice(format!("&#{};", u32::from(c)).as_bytes()),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` for a number of seconds after 2026-06-01 00:00:00 (Paris wall time;
/// June only, no DST change to worry about).
fn paris_time(secs: u64) -> String {
    let day = 1 + (secs / 86_400).min(29);
    let s = secs % 86_400;
    format!("2026-06-{day:02} {:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// A national-size `instantane_ruptures` document with `stations` stations.
pub fn generate_xml(stations: usize, seed: u64) -> Vec<u8> {
    generate_xml_with(stations, seed, 0)
}

/// The same stations as [`generate_xml`], `revision` snapshots later (10 minutes each): for
/// each price and each revision, 5 % change by a few cents and 20 % are only re-dated.
pub fn generate_xml_with(stations: usize, seed: u64, revision: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(stations * 1500 + 200);
    out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\" standalone=\"yes\"?>\n<pdv_liste>\n");
    for i in 0..stations {
        station(&mut out, seed, i as u64, revision);
    }
    out.extend_from_slice(b"</pdv_liste>\n");
    out
}

fn station(out: &mut Vec<u8>, seed: u64, i: u64, revision: u32) {
    let mut r = rng_for(seed, i, 0, 0);
    let dept = 1 + i % 95;
    let id = dept * 1_000_000 + (i / 95) % 999_000 + 1;
    let lat = 4_130_000 + r.below(970_000);
    let lon = r.below(1_430_000) as i64 - 480_000;
    let (lat, lon) = if r.chance(30) {
        (format!("{lat}.{:07}", r.below(10_000_000)), format!("{lon}.{:07}", r.below(10_000_000)))
    } else {
        (lat.to_string(), lon.to_string())
    };
    let pop = if r.chance(4) { "A" } else { "R" };
    let cp = format!("{dept:02}{:03}", r.below(1000));
    let mut s = String::with_capacity(1600);
    s.push_str(&format!("  <pdv id=\"{id}\" latitude=\"{lat}\" longitude=\"{lon}\" cp=\"{cp}\" pop=\"{pop}\">\n"));
    s.push_str(&format!("    <adresse>{} {}</adresse>\n", 1 + r.below(250), r.pick(STREETS)));
    s.push_str(&format!("    <ville>{}</ville>\n", r.pick(TOWNS)));
    if r.chance(65) {
        let auto = if r.chance(55) { "1" } else { "" };
        s.push_str(&format!("    <horaires automate-24-24=\"{auto}\">\n"));
        let (open, close) = *r.pick(&[
            ("06.30", "20.00"),
            ("07.00", "21.00"),
            ("01.00", "01.00"),
            ("00.00", "23.59"),
            ("06.20", "01.00"),
        ]);
        for (d, name) in DAYS.iter().enumerate() {
            let closed = d == 6 && r.chance(20);
            if closed || r.chance(15) {
                let f = if closed { "1" } else { "" };
                s.push_str(&format!("      <jour id=\"{}\" nom=\"{name}\" ferme=\"{f}\"/>\n", d + 1));
                continue;
            }
            s.push_str(&format!("      <jour id=\"{}\" nom=\"{name}\" ferme=\"\">\n", d + 1));
            if r.chance(20) {
                s.push_str("        <horaire ouverture=\"08.00\" fermeture=\"12.00\"/>\n");
                s.push_str("        <horaire ouverture=\"14.00\" fermeture=\"19.00\"/>\n");
            } else {
                s.push_str(&format!("        <horaire ouverture=\"{open}\" fermeture=\"{close}\"/>\n"));
            }
            s.push_str("      </jour>\n");
        }
        s.push_str("    </horaires>\n");
    }
    s.push_str("    <services>\n");
    let n_services = 2 + r.below(7);
    let first = r.below(SERVICES.len() as u64) as usize;
    for k in 0..n_services as usize {
        s.push_str(&format!("      <service>{}</service>\n", SERVICES[(first + k * 3) % SERVICES.len()]));
    }
    s.push_str("    </services>\n");
    // 3–6 fuels with prices; the others (some of them) out of stock.
    let n_prices = 3 + r.below(4) as usize;
    let start = r.below(6) as usize;
    let mut priced = [false; 6];
    for k in 0..n_prices {
        priced[(start + k) % 6] = true;
    }
    for (f, &(fid, name, base)) in FUELS.iter().enumerate() {
        if !priced[f] {
            continue;
        }
        let mut pr = rng_for(seed, i, u64::from(fid), 0);
        let mut milli = base + pr.below(200) as i64 - 100;
        let mut maj = pr.below(4 * 86_400);
        for rev in 1..=u64::from(revision) {
            let mut rr = rng_for(seed, i, u64::from(fid), rev);
            let roll = rr.below(100);
            let when = 4 * 86_400 + rev * 600 - rr.below(600);
            if roll < 5 {
                milli += rr.below(61) as i64 - 30;
                maj = when;
            } else if roll < 25 {
                maj = when;
            }
        }
        s.push_str(&format!(
            "    <prix nom=\"{name}\" id=\"{fid}\" maj=\"{}\" valeur=\"{}.{:03}\"/>\n",
            paris_time(maj),
            milli / 1000,
            milli % 1000
        ));
    }
    for (f, &(fid, name, _)) in FUELS.iter().enumerate() {
        if priced[f] || r.chance(30) {
            continue;
        }
        let kind = *r.pick(&["definitive", "definitive", "temporaire", ""]);
        let debut = paris_time(r.below(4 * 86_400));
        s.push_str(&format!("    <rupture nom=\"{name}\" id=\"{fid}\" debut=\"{debut}\" fin=\"\" type=\"{kind}\"/>\n"));
    }
    s.push_str("  </pdv>\n");
    push_latin1(out, &s);
}

/// [`generate_xml`] in a ZIP, as the publisher serves it (one deflated entry).
pub fn generate_zip(stations: usize, seed: u64) -> Vec<u8> {
    zip_xml(&generate_xml(stations, seed))
}

/// [`generate_xml_with`] in a ZIP.
pub fn generate_zip_with(stations: usize, seed: u64, revision: u32) -> Vec<u8> {
    zip_xml(&generate_xml_with(stations, seed, revision))
}

/// Wraps an XML document in a ZIP entry named like the publisher's, dated 2026-06-05 10:10 UTC.
pub fn zip_xml(xml: &[u8]) -> Vec<u8> {
    zip_xml_as("PrixCarburants_instantane_ruptures.xml", xml)
}

/// Wraps an XML document in a ZIP entry of that name (`PrixCarburants_annuel_2025.xml`,
/// `PrixCarburants_quotidien_20260105.xml`: the name tells the importer an archive), dated
/// 2026-06-05 10:10 UTC.
pub fn zip_xml_as(entry: &str, xml: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let time = zip::DateTime::from_date_and_time(2026, 6, 5, 10, 10, 0).unwrap_or_default();
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(time)
        .large_file(xml.len() as u64 >= u64::from(u32::MAX));
    // Writing to memory cannot fail short of allocation failure; an empty Vec would then be
    // refused by the parser, never mistaken for a feed.
    let written = w.start_file(entry, opts).and_then(|()| w.write_all(xml).map_err(zip::result::ZipError::from));
    match written.and_then(|()| w.finish()) {
        Ok(c) => c.into_inner(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::archive;
    use crate::feed::model::FeedKind;
    use crate::feed::parse::{parse, parse_stream};

    #[test]
    fn deterministic_and_realistic() {
        let a = generate_xml(300, 7);
        assert_eq!(a, generate_xml(300, 7));
        assert_ne!(a, generate_xml(300, 8));
        let per_station = a.len() / 300;
        assert!((1100..1800).contains(&per_station), "{per_station} B/station");
        assert!(std::str::from_utf8(&a).is_err(), "must be ISO-8859-1");
        let f = parse(&a).unwrap();
        assert_eq!(f.stations.len(), 300);
        assert_eq!(f.kind, FeedKind::Snapshot);
        assert!(f.has_shortages);
        assert!(f.rejections.is_empty(), "{:?}", f.rejections.first());
        assert!(f.stations.iter().any(|s| s.city == "Saint-Étienne"));
        assert!(f.stations.iter().any(|s| s.address.contains("Cœur")));
        assert!(f.stations.iter().any(|s| s.longitude < 0.0));
        assert!(f.stations.iter().all(|s| (3..=6).contains(&s.prices.len())));
    }

    #[test]
    fn revisions_change_some_prices() {
        let a = parse(&generate_xml_with(400, 1, 0)).unwrap();
        let b = parse(&generate_xml_with(400, 1, 1)).unwrap();
        let (mut changed, mut redated, mut total) = (0, 0, 0);
        for (x, y) in a.stations.iter().zip(&b.stations) {
            assert_eq!(x.id, y.id);
            for (p, q) in x.prices.iter().zip(&y.prices) {
                total += 1;
                if p.price != q.price {
                    changed += 1;
                } else if p.updated_at != q.updated_at {
                    redated += 1;
                }
            }
        }
        assert!(changed > total / 50 && changed < total / 10, "{changed}/{total}");
        assert!(redated > total / 10, "{redated}/{total}");
    }

    #[test]
    fn zip_round_trip() {
        let z = generate_zip(50, 3);
        let r = archive::open(&z, &archive::Limits::default()).unwrap();
        assert_eq!(archive::kind_hint(r.entry_name.as_deref().unwrap()), Some(FeedKind::Snapshot));
        let mut n = 0;
        parse_stream(r, |_| n += 1).unwrap();
        assert_eq!(n, 50);
    }
}
