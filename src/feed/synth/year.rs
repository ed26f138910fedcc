//! Synthetic yearly archives (`PrixCarburants_annuel_YYYY.xml`), national size, for the
//! benchmarks of docs/benchmarks.md and for tests.
//!
//! The shape is the archive format of `../shared/data/archive_2022-01-01_2022-03-31_etalab.zip`
//! from 2015 on (`<pdv>`, `<adresse>`, `<ville>`, `<services>`, then every `<prix>` of the year in
//! time order, `maj` written `YYYY-MM-DDTHH:MM:SS`, `valeur` in euros with three decimals), and
//! the pre-2015 schema before (`<ouverture>`, `<fermeture/>`, `<rupture/>`, empty `<prix/>`,
//! `maj` with a space, `valeur` in integer thousandths). About 10,000 stations write 3.4–3.6
//! million `<prix>` a year: every 1–7 days a station updates its prices, each fuel moving by a
//! few cents (one update in twenty only re-dates the price), around a national level that
//! follows the real one from 2007 to 2026. A few sites change hands each year (a new station id
//! at the same place, the old one becomes a past station), and about one `<prix>` in 20,000 is a
//! placeholder (`0.001`) the importer must reject.
//!
//! Written as a stream (one station at a time), deterministic for a (year, stations, seed): the
//! draws of one station, fuel and year never depend on what was generated before.
//!
//! Given [`YearSpec::sites`] (real stations: their ids, postcodes, positions and addresses, as
//! [`sites_of`] reads them from a real snapshot), the years are those stations' own past: one
//! `<pdv>` per site with its id every year (no change of hands, no empty year), so that a real
//! file imported after them continues the same stations' history.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};

use super::{FUELS, SERVICES, STREETS, TOWNS, push_latin1, rng_for};

/// What to generate.
#[derive(Debug, Clone)]
pub struct YearSpec {
    pub year: i32,
    /// Sites (about the number of stations in the file); `sites.len()` when `sites` is given.
    pub stations: usize,
    pub seed: u64,
    /// Real stations to write the past of, instead of generated ones.
    pub sites: Option<Arc<[Site]>>,
}

impl YearSpec {
    /// `stations` generated sites.
    pub fn new(year: i32, stations: usize, seed: u64) -> YearSpec {
        YearSpec { year, stations, seed, sites: None }
    }

    /// The past of `sites` (real stations).
    pub fn of_sites(year: i32, sites: Arc<[Site]>, seed: u64) -> YearSpec {
        YearSpec { year, stations: sites.len(), seed, sites: Some(sites) }
    }
}

/// A real station, as a yearly archive writes it: what a later real file will find unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub id: u64,
    /// Degrees × 100000, as the feed writes them.
    pub latitude: i64,
    pub longitude: i64,
    pub postcode: String,
    pub address: String,
    pub city: String,
}

/// The stations of a feed file (a snapshot: ZIP or XML), as [`Site`]s in id order.
pub fn sites_of(file: &[u8]) -> Result<Vec<Site>, crate::feed::FeedError> {
    let reader = crate::feed::archive::open(file, &crate::feed::archive::Limits::default())?;
    let mut sites = Vec::new();
    crate::feed::parse::parse_stream(reader, |s| {
        sites.push(Site {
            id: s.id.get() as u64,
            latitude: (s.latitude * 100_000.0).round() as i64,
            longitude: (s.longitude * 100_000.0).round() as i64,
            postcode: s.postcode,
            address: s.address,
            city: s.city,
        });
    })?;
    sites.sort_unstable_by_key(|s| s.id);
    Ok(sites)
}

/// What a generated file holds, to check an import against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct YearStats {
    /// `<pdv>` elements written.
    pub stations: usize,
    /// `<prix>` elements with attributes (valid or not; empty pre-2015 `<prix/>` not counted).
    pub prices: u64,
    /// Of those, the placeholders the importer must reject.
    pub invalid_prices: u64,
    /// Bytes of XML written.
    pub xml_bytes: u64,
}

/// The ZIP entry name of a yearly archive, as the publisher names it.
pub fn entry_name(year: i32) -> String {
    format!("PrixCarburants_annuel_{year}.xml")
}

/// National level of a fuel (thousandths of a euro) in the middle of `year`: Gazole as the
/// yearly averages published by the ministry, rounded; the other fuels at a fixed offset.
fn national_level(year: i32, fuel: usize) -> i64 {
    const GAZOLE: [i64; 20] = [
        1_080, 1_280, 990, 1_150, 1_330, 1_400, 1_350, 1_290, 1_160, 1_060, 1_210, 1_440, 1_440, 1_250, 1_440, 1_860,
        1_800, 1_710, 1_620, 1_600,
    ];
    let y = (year.clamp(2007, 2026) - 2007) as usize;
    // Gazole, SP95, E85, GPLc, E10, SP98 (the order of `FUELS`).
    const OFFSET: [i64; 6] = [0, 120, -580, -470, 90, 180];
    let level = GAZOLE[y] + OFFSET[fuel];
    if fuel == 2 || fuel == 3 { level.max(650) } else { level.max(1_000) }
}

/// The station id of a site in a year: sites change hands now and then (2 % a year), and the
/// new operator gets a new id.
fn site_id(seed: u64, site: u64, year: i32) -> u64 {
    let mut generation = 0;
    for y in 2000..=year {
        if rng_for(seed, site, 1_001, y as u64).chance(2) {
            generation += 1;
        }
    }
    let dept = 1 + site % 95;
    dept * 1_000_000 + (site / 95) * 100 + generation % 100 + 1
}

/// Writes the yearly archive of `spec.year` as XML (ISO-8859-1) to `out`.
pub fn write_year_xml<W: Write>(out: W, spec: &YearSpec) -> io::Result<YearStats> {
    let mut out = CountingWriter { inner: BufWriter::with_capacity(1 << 16, out), bytes: 0 };
    let mut stats = YearStats::default();
    out.write_all(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\" standalone=\"yes\"?>\n<pdv_liste>\n")?;
    let mut text = String::with_capacity(64 * 1024);
    let mut bytes = Vec::with_capacity(64 * 1024);
    // In station id order, as the publisher writes them (and as the history's primary key
    // sorts them: the loader's inserts then sweep the B-tree once instead of hopping around it).
    let mut sites: Vec<(u64, u64)> = match &spec.sites {
        Some(real) => real.iter().enumerate().map(|(i, s)| (s.id, i as u64)).collect(),
        None => (0..spec.stations as u64).map(|s| (site_id(spec.seed, s, spec.year), s)).collect(),
    };
    sites.sort_unstable();
    for (_, site) in sites {
        text.clear();
        if !station(&mut text, spec, site, &mut stats) {
            continue;
        }
        bytes.clear();
        push_latin1(&mut bytes, &text);
        out.write_all(&bytes)?;
    }
    out.write_all(b"</pdv_liste>\n")?;
    out.inner.flush()?;
    stats.xml_bytes = out.bytes;
    Ok(stats)
}

/// Writes the yearly archive of `spec.year` as the publisher serves it: a ZIP with one deflated
/// entry `PrixCarburants_annuel_YYYY.xml`, dated 1 January of the next year, 03:00 UTC. Streams to
/// the file: memory stays flat whatever the size.
pub fn write_year_zip(path: &Path, spec: &YearSpec) -> io::Result<YearStats> {
    let file = std::fs::File::create(path)?;
    let mut zip = zip::ZipWriter::new(file);
    let time = zip::DateTime::from_date_and_time((spec.year + 1).clamp(1980, 2107) as u16, 1, 1, 3, 0, 0)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(time)
        .large_file(false);
    zip.start_file(entry_name(spec.year), opts).map_err(io::Error::other)?;
    let stats = write_year_xml(&mut zip, spec)?;
    zip.finish().map_err(io::Error::other)?;
    Ok(stats)
}

/// Appends the `<pdv>` of `site` for the year; false when the site has no station that year.
fn station(s: &mut String, spec: &YearSpec, site: u64, stats: &mut YearStats) -> bool {
    use std::fmt::Write as _;
    let (seed, year) = (spec.seed, spec.year);
    let real = spec.sites.as_deref().and_then(|sites| sites.get(site as usize));
    // One site in 60 is empty in a given year (a station closed for works, or not yet built).
    if real.is_none() && rng_for(seed, site, 1_002, year as u64).chance(2) && site.is_multiple_of(3) {
        return false;
    }
    let id = real.map_or_else(|| site_id(seed, site, year), |r| r.id);
    let old = year < 2015;
    let mut r = rng_for(seed, id, 0, 0);
    let dept = 1 + site % 95;
    // Drawn for a real site too: the draws that follow stay those of its id.
    let mut lat = 4_130_000 + r.below(970_000) as i64;
    let mut lon = r.below(1_430_000) as i64 - 480_000;
    let mut cp = format!("{dept:02}{:03}", r.below(1000));
    let pop = if r.chance(4) { "A" } else { "R" };
    let mut address = format!("{} {}", 1 + r.below(250), r.pick(STREETS));
    let mut city = (*r.pick(TOWNS)).to_owned();
    if let Some(real) = real {
        (lat, lon) = (real.latitude, real.longitude);
        cp = xml_text(&real.postcode);
        address = xml_text(&real.address);
        city = xml_text(&real.city);
    }
    let _ = writeln!(s, "  <pdv id=\"{id}\" latitude=\"{lat}\" longitude=\"{lon}\" cp=\"{cp}\" pop=\"{pop}\">");
    let _ = writeln!(s, "    <adresse>{address}</adresse>");
    let _ = writeln!(s, "    <ville>{city}</ville>");
    if old {
        let (open, close) = *r.pick(&[("01:00", "01:00"), ("08:45", "19:30"), ("07:00", "21:00")]);
        let sauf = *r.pick(&["", "", "Dimanche", "Samedi, Dimanche"]);
        let _ = writeln!(s, "    <ouverture debut=\"{open}\" fin=\"{close}\" saufjour=\"{sauf}\"/>");
    }
    s.push_str("    <services>\n");
    let first = r.below(SERVICES.len() as u64) as usize;
    for k in 0..(2 + r.below(5)) as usize {
        let _ = writeln!(s, "      <service>{}</service>", SERVICES[(first + k * 3) % SERVICES.len()]);
    }
    s.push_str("    </services>\n");
    stats.stations += 1;

    // The fuels this station sells (E10 from 2009 on), each with its price walk for the year.
    let n_fuels = 3 + r.below(4) as usize;
    let start = r.below(6) as usize;
    let mut walks: Vec<(usize, i64)> = Vec::with_capacity(6);
    for k in 0..n_fuels {
        let f = (start + k) % 6;
        if FUELS[f].0 == 5 && year < 2009 {
            continue;
        }
        let mut fr = rng_for(seed, id, FUELS[f].0.into(), year as u64);
        walks.push((f, national_level(year, f) + fr.below(121) as i64 - 60));
    }
    walks.sort_unstable();
    let mut er = rng_for(seed, id, 1_003, year as u64);
    let days = if NaiveDate::from_ymd_opt(year, 12, 31).is_some_and(|d| d.ordinal() == 366) { 366 } else { 365 };
    let mut day = er.below(4) as u32;
    while day < days {
        let Some(date) = NaiveDate::from_yo_opt(year, day + 1) else { break };
        // 06:00–21:59 local: never in the hour a DST change skips.
        let secs = 6 * 3600 + er.below(16 * 3600);
        let renew = er.chance(5);
        for (i, (f, milli)) in walks.iter_mut().enumerate() {
            if !er.chance(85) {
                continue;
            }
            if !renew {
                // A step of 1–25 thousandths, pulled back towards the national level.
                let target = national_level(year, *f)
                    + (national_level(year + 1, *f) - national_level(year, *f)) * i64::from(day) / i64::from(days);
                let step = 1 + er.below(25) as i64;
                let up = er.below(100) as i64 + (target - *milli) / 4 >= 50;
                *milli += if up { step } else { -step };
                let (lo, hi) = if *f == 2 || *f == 3 { (450, 2_400) } else { (950, 3_400) };
                *milli = (*milli).clamp(lo, hi);
            }
            let t = secs + u64::from(i > 0);
            let maj = format!(
                "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}",
                date.year(),
                date.month(),
                date.day(),
                if old { ' ' } else { 'T' },
                t / 3600,
                (t / 60) % 60,
                t % 60
            );
            let placeholder = er.below(20_000) == 0;
            let value = match (placeholder, old) {
                (true, true) => "1".to_owned(),
                (true, false) => "0.001".to_owned(),
                (false, true) => milli.to_string(),
                (false, false) => format!("{}.{:03}", *milli / 1000, *milli % 1000),
            };
            let (fid, name, _) = FUELS[*f];
            let _ = writeln!(s, "    <prix nom=\"{name}\" id=\"{fid}\" maj=\"{maj}\" valeur=\"{value}\"/>");
            stats.prices += 1;
            stats.invalid_prices += u64::from(placeholder);
        }
        day += 1 + er.below(7) as u32;
    }
    if old {
        if er.chance(10) {
            s.push_str("    <prix/>\n");
        }
        s.push_str("    <fermeture/>\n    <rupture/>\n");
    }
    s.push_str("  </pdv>\n");
    true
}

/// `text` escaped for XML content and attributes.
fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Counts the bytes written through it.
struct CountingWriter<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::FeedKind;
    use crate::feed::archive::{self, Limits};
    use crate::feed::parse::parse_stream;

    fn spec(year: i32, stations: usize) -> YearSpec {
        YearSpec::new(year, stations, 11)
    }

    #[test]
    fn deterministic_and_sized() {
        let mut a = Vec::new();
        let sa = write_year_xml(&mut a, &spec(2022, 60)).unwrap();
        let mut b = Vec::new();
        write_year_xml(&mut b, &spec(2022, 60)).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        write_year_xml(&mut c, &YearSpec { seed: 12, ..spec(2022, 60) }).unwrap();
        assert_ne!(a, c);
        assert_eq!(sa.xml_bytes, a.len() as u64);
        // National size: 10,000 sites give 3–4 million rows.
        let per_site = sa.prices as f64 / 60.0;
        assert!((300.0..400.0).contains(&per_site), "{per_site} rows per site");
        assert!(std::str::from_utf8(&a).is_err(), "must be ISO-8859-1");
    }

    /// Every `<prix>` written comes back from the parser, valid or rejected; the dates are the
    /// year's, Paris time; the schema of the era is recognised.
    #[test]
    fn round_trips_through_the_parser_in_both_schemas() {
        for year in [2012, 2024] {
            let path = tempfile::NamedTempFile::new().unwrap();
            let st = write_year_zip(path.path(), &spec(year, 400)).unwrap();
            let zip = std::fs::read(path.path()).unwrap();
            let r = archive::open(&zip, &Limits::default()).unwrap();
            assert_eq!(r.entry_name.as_deref(), Some(entry_name(year).as_str()));
            assert_eq!(archive::kind_hint(&entry_name(year)), Some(FeedKind::Archive));
            let (mut stations, mut valid) = (0usize, 0u64);
            let mut last = 0;
            let o = parse_stream(r, |s| {
                stations += 1;
                assert!(s.id.get() > last, "stations in id order, once each: {} after {last}", s.id);
                last = s.id.get();
                for p in &s.prices {
                    assert_eq!(p.updated_at.year(), year);
                    valid += 1;
                }
                let mut sorted = s.prices.clone();
                sorted.sort_by_key(|p| p.updated_at);
                assert_eq!(sorted, s.prices, "prices in time order");
            })
            .unwrap();
            assert_eq!(o.kind, FeedKind::Archive);
            assert_eq!(stations, st.stations);
            assert_eq!(o.price_elements as u64, st.prices);
            assert_eq!(o.rejections.len() as u64, st.invalid_prices);
            assert_eq!(valid, st.prices - st.invalid_prices);
            assert!(o.rejections.iter().all(|r| r.value == if year < 2015 { "1" } else { "0.001" }));
        }
    }

    #[test]
    fn sites_change_hands_over_years() {
        let ids = |year| (0..2_000u64).map(|s| site_id(5, s, year)).collect::<std::collections::HashSet<_>>();
        let (a, b) = (ids(2010), ids(2020));
        let common = a.intersection(&b).count();
        assert!(common > 1_400 && common < 1_950, "{common} stations kept over ten years");
    }

    /// Real sites keep their id, place and address every year, and parse back as written.
    #[test]
    fn real_sites_keep_their_ids_and_places() {
        let sites: Arc<[Site]> = vec![
            Site {
                id: 1_000_001,
                latitude: 4_620_114,
                longitude: 519_791,
                postcode: "01000".into(),
                address: "2 rue <d'Alsace> & Lorraine".into(),
                city: "Bourg-en-Bresse".into(),
            },
            Site {
                id: 76_300_005,
                latitude: 4_944_310,
                longitude: -9_930,
                postcode: "76300".into(),
                address: "Route de Paris".into(),
                city: "SOTTEVILLE-LÈS-ROUEN".into(),
            },
        ]
        .into();
        for year in [2008, 2021] {
            let mut xml = Vec::new();
            let st = write_year_xml(&mut xml, &YearSpec::of_sites(year, sites.clone(), 1)).unwrap();
            assert_eq!(st.stations, 2);
            let zip = tempfile::NamedTempFile::new().unwrap();
            write_year_zip(zip.path(), &YearSpec::of_sites(year, sites.clone(), 1)).unwrap();
            let back = sites_of(&std::fs::read(zip.path()).unwrap()).unwrap();
            assert_eq!(&back[..], &sites[..], "{year}");
        }
    }
}
