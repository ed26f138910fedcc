//! The parser on the real files of ../shared/data (skipped, with a line, when absent), and
//! property tests: truncated or damaged input is never a panic, and a truncated document is
//! never loaded as a shorter valid one.

use std::io::Write;

use carburoam::domain::{Fuel, StationId};
use carburoam::feed::archive::{self, Limits};
use carburoam::feed::parse::{self, ParseOutcome};
use carburoam::feed::{FeedError, FeedKind, FeedStation, ParsedFeed, synth};
use proptest::prelude::*;

use crate::helpers::{fixture, shared_data, shared_file};

/// Opens (ZIP or XML) and parses a whole file.
fn parse_bytes(bytes: &[u8]) -> Result<(ParsedFeed, ParseOutcome), FeedError> {
    let reader = archive::open(bytes, &Limits::default())?;
    let mut stations = Vec::new();
    let o = parse::parse_stream(reader, |s| stations.push(s))?;
    let feed = ParsedFeed {
        kind: o.kind,
        has_shortages: o.has_shortages,
        stations,
        rejections: o.rejections.clone(),
        price_elements: o.price_elements,
    };
    Ok((feed, o))
}

fn shared(name: &str) -> Option<(ParsedFeed, ParseOutcome)> {
    let Some(path) = shared_file(name) else {
        eprintln!("../shared/data/{name} absent: real-data test skipped");
        return None;
    };
    let bytes = std::fs::read(&path).expect("read shared file");
    Some(parse_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn station(feed: &ParsedFeed, id: i64) -> &FeedStation {
    feed.stations.iter().find(|s| s.id.get() == id).unwrap_or_else(|| panic!("station {id} missing"))
}

#[test]
fn every_shared_file_parses() {
    let Some(dir) = shared_data() else {
        eprintln!("../shared/data absent: real-data test skipped");
        return;
    };
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("list shared data") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".zip") || name.ends_with(".xml")) {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        let (feed, o) = parse_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!feed.stations.is_empty(), "{name}");
        assert_eq!(o.stations, feed.stations.len(), "{name}");
        // Every station of every file has valid coordinates; no station is rejected as such.
        assert!(
            feed.rejections.iter().all(|r| r.fuel.is_some()),
            "{name}: {:?}",
            feed.rejections.iter().find(|r| r.fuel.is_none())
        );
        // Snapshots hold one price per fuel per station; the pre-2015 extract and the 2022
        // archive are archives.
        let snapshot = name.ends_with(".zip") && !name.starts_with("archive_");
        let want = if snapshot { FeedKind::Snapshot } else { FeedKind::Archive };
        assert_eq!(feed.kind, want, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 11);
}

#[test]
fn station_counts_and_ruptures() {
    for (name, count) in [
        ("instantane_2019-05-10.zip", 9_940),
        ("instantane_2022-08-02T2000.zip", 9_968),
        ("instantane_ruptures_2026-06-05T1010.zip", 9_780),
        ("extract_2014-09_dept01_PDV-allege.xml", 10),
    ] {
        let Some((feed, _)) = shared(name) else {
            return;
        };
        assert_eq!(feed.stations.len(), count, "{name}");
    }
    let Some((feed, o)) = shared("instantane_ruptures_2026-06-05T1010.zip") else {
        return;
    };
    assert!(feed.has_shortages);
    assert_eq!(o.shortage_elements, 22_879);
    let merged: usize = feed.stations.iter().map(|s| s.shortages.len()).sum();
    assert!(merged > 20_000 && merged <= 22_879, "{merged}");
    let (plain, _) = shared("instantane_2025-02-07T0730.zip").unwrap();
    assert!(!plain.has_shortages);
}

#[test]
fn entry_time_is_the_capture_time() {
    let Some(path) = shared_file("instantane_ruptures_2026-06-05T1010.zip") else {
        eprintln!("shared data absent: skipped");
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    let r = archive::open(&bytes, &Limits::default()).unwrap();
    assert_eq!(r.entry_name.as_deref(), Some("PrixCarburants_instantane_ruptures.xml"));
    assert_eq!(r.entry_time.unwrap().to_rfc3339(), "2026-06-05T10:10:28+00:00");
    assert_eq!(archive::kind_hint(r.entry_name.as_deref().unwrap()), Some(FeedKind::Snapshot));
}

#[test]
fn placeholder_9999_is_rejected() {
    let Some((feed, _)) = shared("instantane_2022-08-02T2000.zip") else {
        return;
    };
    let rejected: Vec<_> = feed.rejections.iter().filter(|r| r.station_id == StationId::new(5_240_001)).collect();
    assert!(!rejected.is_empty());
    assert!(rejected.iter().all(|r| r.value == "9.999"), "{rejected:?}");
    // The station itself still loads.
    let s = station(&feed, 5_240_001);
    assert!(s.prices.iter().all(|p| p.price.milli() != 9_999));
}

#[test]
fn typo_7849_rejected_then_fixed() {
    let Some((before, _)) = shared("instantane_2023-11-22T2220.zip") else {
        return;
    };
    assert!(
        before.rejections.iter().any(|r| {
            r.station_id == StationId::new(10_150_002) && r.fuel == Some(Fuel::SP98) && r.value == "7.849"
        })
    );
    assert!(station(&before, 10_150_002).prices.iter().all(|p| p.fuel != Fuel::SP98));
    let (after, _) = shared("instantane_2023-11-23T0820.zip").unwrap();
    let sp98 = station(&after, 10_150_002).prices.iter().find(|p| p.fuel == Fuel::SP98).expect("SP98 price");
    assert_eq!(sp98.price.milli(), 1_849);
}

#[test]
fn mojibake_address_of_92330002() {
    for name in
        ["instantane_2019-05-10.zip", "instantane_2025-02-07T0730.zip", "instantane_ruptures_2026-06-05T1010.zip"]
    {
        let Some((feed, _)) = shared(name) else {
            return;
        };
        let s = station(&feed, 92_330_002);
        assert_eq!(s.address, "77 Avenue Édouard Depreux", "{name}");
        assert_eq!(s.postcode, "92330");
    }
    let (feed, _) = shared("instantane_ruptures_2026-06-05T1010.zip").unwrap();
    assert_eq!(station(&feed, 6_110_002).postcode, "06110");
}

#[test]
fn idempotency_pair_parses_identically() {
    let Some((a, _)) = shared("instantane_2025-02-07T0200.zip") else {
        return;
    };
    let (b, _) = shared("instantane_2025-02-07T0220.zip").unwrap();
    assert_eq!(a.stations, b.stations);
    assert_eq!(a.rejections, b.rejections);
    assert_eq!(a.price_elements, b.price_elements);
}

#[test]
fn old_2014_extract() {
    let Some((feed, o)) = shared("extract_2014-09_dept01_PDV-allege.xml") else {
        return;
    };
    let s = station(&feed, 1_000_001);
    assert_eq!(s.city, "SAINT-DENIS-LèS-BOURG");
    assert_eq!(s.prices[0].price.milli(), 1_255);
    assert_eq!(s.opening_hours.as_ref().unwrap().days.len(), 7);
    assert!(feed.has_shortages);
    assert_eq!(feed.kind, FeedKind::Archive);
    assert_eq!(o.shortage_elements, 7);
}

fn fixture_feed(name: &str) -> ParsedFeed {
    let bytes = std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    parse_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}")).0
}

fn rejected(feed: &ParsedFeed) -> Vec<(i64, Fuel, &str)> {
    feed.rejections
        .iter()
        .map(|r| (r.station_id.map_or(0, StationId::get), r.fuel.expect("fuel"), r.value.as_str()))
        .collect()
}

fn utc(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc)
}

/// The main facts tests/fixtures/README.md promises.
#[test]
fn fixture_facts() {
    use carburoam::domain::ShortageKind;

    let a = fixture_feed("snapshot_a.xml");
    assert_eq!((a.kind, a.has_shortages, a.stations.len()), (FeedKind::Snapshot, true, 8));
    assert_eq!(
        rejected(&a),
        [(5_240_001, Fuel::Gazole, "9.999"), (5_240_001, Fuel::SP95, "9.999"), (10_150_002, Fuel::SP98, "7.849")]
    );
    assert_eq!(station(&a, 92_330_002).address, "77 Avenue Édouard Depreux");
    let s = station(&a, 6_110_002);
    assert_eq!((s.address.as_str(), s.postcode.as_str()), ("Rue du Cœur Volant", "06110"));
    assert_eq!(s.prices[0].price.milli(), 1_659);
    assert_eq!(s.prices[0].updated_at, utc("2025-10-26T00:30:00Z"));
    assert!(station(&a, 29_200_003).longitude < 0.0);
    assert!(station(&a, 44_100_004).prices.is_empty());
    assert_eq!(station(&a, 44_100_004).shortages.len(), 3);
    let e85 = &station(&a, 75_013_008).shortages;
    assert_eq!(e85.len(), 1);
    assert_eq!(e85[0].kind, ShortageKind::Permanent);
    assert_eq!(e85[0].since, Some(utc("2025-09-01T10:00:00Z")));

    let b = fixture_feed("snapshot_b.xml");
    assert_eq!(b.stations.len(), 8);
    assert!(!b.stations.iter().any(|s| s.id.get() == 13_001_005));
    assert_eq!(station(&b, 69_003_009).city, "Lyon");
    assert_eq!(station(&b, 6_110_002).prices[0].price.milli(), 1_649);
    let redated = &station(&b, 29_200_003).prices[0];
    assert_eq!(redated.price.milli(), 1_699);
    assert_eq!(redated.updated_at, utc("2025-10-26T09:06:00Z"));
    assert!(station(&b, 44_100_004).shortages.iter().all(|s| s.fuel != Fuel::Gazole));
    assert_eq!(station(&b, 10_150_002).prices[1].price.milli(), 1_849);
    assert_eq!(b.rejections.len(), 2);

    let day = fixture_feed("archive_day.xml");
    assert_eq!(day.kind, FeedKind::Archive);
    assert_eq!(day.price_elements, 8);
    assert_eq!(rejected(&day), [(1_000_002, Fuel::E10, "0.001")]);
    assert_eq!(station(&day, 1_000_001).prices.len(), 4);

    let old = fixture_feed("old_2014.xml");
    assert_eq!((old.kind, old.stations.len(), old.price_elements), (FeedKind::Archive, 3, 7));
    assert_eq!(rejected(&old), [(1_000_004, Fuel::E85, "1")]);
    let s = station(&old, 1_000_002);
    assert_eq!(s.prices[0].price.milli(), 1_255);
    assert_eq!(s.prices[0].updated_at, utc("2014-09-29T10:27:33Z"));
    let days = &s.opening_hours.as_ref().unwrap().days;
    assert!(days[6].closed && !days[0].closed);
    assert_eq!(station(&old, 1_000_001).city, "SAINT-DENIS-LèS-BOURG");
}

/// ~150 stations of real content (the first ones of the ruptures file) closed into a valid
/// document, or a synthetic one when ../shared is absent. Small: proptest runs it hundreds
/// of times in debug builds.
pub fn sample_xml() -> Vec<u8> {
    let Some(path) = shared_file("instantane_ruptures_2026-06-05T1010.zip") else {
        return synth::generate_xml(150, 42);
    };
    let bytes = std::fs::read(path).unwrap();
    let mut r = archive::open(&bytes, &Limits::default()).unwrap();
    let mut head = vec![0u8; 220_000];
    std::io::Read::read_exact(&mut r, &mut head).unwrap();
    let end = head.windows(7).rposition(|w| w == b"</pdv>\n").expect("a station end");
    head.truncate(end + 7);
    head.extend_from_slice(b"</pdv_liste>\n");
    head
}

fn sample_zip(xml: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file("PrixCarburants_instantane_ruptures.xml", opts).unwrap();
    w.write_all(xml).unwrap();
    w.finish().unwrap().into_inner()
}

struct Sample {
    xml: Vec<u8>,
    zip: Vec<u8>,
    stations: usize,
    /// Offset just after `</pdv_liste>`: a cut before it must fail.
    root_end: usize,
}

fn sample() -> &'static Sample {
    static S: std::sync::OnceLock<Sample> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let xml = sample_xml();
        let (feed, _) = parse_bytes(&xml).expect("sample parses");
        let root_end = xml.windows(12).rposition(|w| w == b"</pdv_liste>").unwrap() + 12;
        Sample { zip: sample_zip(&xml), stations: feed.stations.len(), xml, root_end }
    })
}

fn count(bytes: &[u8]) -> Result<usize, FeedError> {
    let r = archive::open(bytes, &Limits::default())?;
    let mut n = 0;
    parse::parse_stream(r, |_| n += 1)?;
    Ok(n)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn truncated_xml_is_always_an_error(frac in 0.0f64..1.0) {
        let s = sample();
        let cut = ((s.xml.len() as f64) * frac) as usize;
        let got = count(&s.xml[..cut]);
        if cut < s.root_end {
            prop_assert!(got.is_err(), "cut at {cut} of {}: {got:?}", s.xml.len());
        } else {
            prop_assert_eq!(got.ok(), Some(s.stations));
        }
    }

    #[test]
    fn truncated_zip_is_always_an_error(frac in 0.0f64..1.0) {
        let s = sample();
        let cut = ((s.zip.len() as f64) * frac) as usize;
        prop_assert!(count(&s.zip[..cut]).is_err());
    }

    #[test]
    fn damaged_bytes_never_panic(
        flips in proptest::collection::vec((0.0f64..1.0, 1u8..=255), 1..6),
        zipped in any::<bool>(),
    ) {
        let s = sample();
        let mut bytes = if zipped { s.zip.clone() } else { s.xml.clone() };
        let len = bytes.len();
        for (at, mask) in flips {
            bytes[((len as f64) * at) as usize % len] ^= mask;
        }
        // Any outcome but a panic; a damaged ZIP that still opens must have passed its CRC.
        if let (true, Ok(n)) = (zipped, count(&bytes)) {
            prop_assert_eq!(n, s.stations);
        }
    }
}

/// Release-mode speed figure: `cargo test --release --test it parse::speed -- --ignored --nocapture`.
#[test]
#[ignore]
fn speed() {
    use std::time::Instant;
    for name in ["instantane_ruptures_2026-06-05T1010.zip", "instantane_2025-02-07T0730.zip"] {
        let Some(path) = shared_file(name) else {
            eprintln!("{name} absent");
            continue;
        };
        let bytes = std::fs::read(path).unwrap();
        let mut best = (f64::MAX, f64::MAX, f64::MAX);
        let mut xml = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let mut r = archive::open(&bytes, &Limits::default()).unwrap();
            xml.clear();
            std::io::Read::read_to_end(&mut r, &mut xml).unwrap();
            let unzip = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let feed = parse::parse(&xml).unwrap();
            let parse_s = t.elapsed().as_secs_f64();
            assert!(!feed.stations.is_empty());
            let t = Instant::now();
            let n = count(&bytes).unwrap();
            let both = t.elapsed().as_secs_f64();
            assert_eq!(n, feed.stations.len());
            best = (best.0.min(unzip), best.1.min(parse_s), best.2.min(both));
        }
        let mb = xml.len() as f64 / 1e6;
        println!(
            "{name}: {mb:.1} MB XML; unzip {:.1} ms; parse {:.1} ms = {:.0} MB/s; streamed unzip+parse {:.1} ms",
            best.0 * 1e3,
            best.1 * 1e3,
            mb / best.1,
            best.2 * 1e3
        );
    }
    let xml = synth::generate_xml(10_000, 1);
    let t = Instant::now();
    let f = parse::parse(&xml).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "synth 10,000 stations: {:.1} MB, parse {:.1} ms = {:.0} MB/s ({} stations)",
        xml.len() as f64 / 1e6,
        s * 1e3,
        xml.len() as f64 / 1e6 / s,
        f.stations.len()
    );
}
