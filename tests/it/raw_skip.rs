//! The parser's raw sieve (`feed/parse/raw.rs`): a `<pdv>` element whose bytes are those its
//! stored station was written from is dropped unparsed. The same sequences of files go into two
//! databases of one backend, one with the sieve and one parsing every element
//! (`ImportOptions::raw_skip` false), and every table an import writes must be equal after each
//! file, down to the reports' counts: with the real snapshots of `../shared/data` (in order,
//! older after newer, again) and with the fixtures (duplicates, a shortage ending later, a
//! changed price, damaged files).
//!
//! The second database also reads the stored state of changed stations by whole tables from the
//! first one (`ImportOptions::whole_tables_from` 1), the first only from a chunk of 256 (the
//! default, so by lists of ids on the fixtures): the two reads give the same tables too.

use carburoam::db::{Backend, Db};
use carburoam::feed::{self, ImportOptions, ImportReport};
use carburoam::on_db;

use crate::db_test;
use crate::helpers::{TestDb, fixture, shared_file};

/// What an import may write, per table: every column but those holding the wall-clock time of
/// the run (and its log, which gives the elapsed time).
const TABLES: [(&str, &[&str]); 9] = [
    ("stations", &[]),
    ("prices", &[]),
    ("price_history", &[]),
    ("shortages", &[]),
    ("price_series", &[]),
    ("price_series_state", &["refreshed_at"]),
    ("alert_changes", &["id", "created_at"]),
    ("etl_runs", &["started_at", "finished_at", "log"]),
    ("etl_rejections", &[]),
];

/// The rows of `table` as text, sorted, without the `skip` columns.
async fn rows(db: &Db, table: &str, skip: &[&str]) -> Vec<String> {
    let sqlite = db.backend() == Backend::Sqlite;
    let q = if sqlite {
        "SELECT name FROM pragma_table_info($1) ORDER BY cid"
    } else {
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position"
    };
    let columns: Vec<String> = on_db!(db, p => sqlx::query_scalar(q).bind(table).fetch_all(p).await).expect("columns");
    assert!(!columns.is_empty(), "no table {table}");
    let expr = columns
        .iter()
        .filter(|c| !skip.contains(&c.as_str()))
        .map(|c| if sqlite { format!("quote(\"{c}\")") } else { format!("coalesce(\"{c}\"::text, 'NULL')") })
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    let sql = format!("SELECT r FROM (SELECT {expr} AS r FROM {table}) AS t ORDER BY r");
    on_db!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(p).await).expect("rows")
}

/// Panics, naming the first rows that differ, unless both databases hold the same rows.
async fn assert_same(skipping: &Db, parsing: &Db, step: &str) {
    for (table, skip) in TABLES {
        let a = rows(skipping, table, skip).await;
        let b = rows(parsing, table, skip).await;
        if a != b {
            let only_a: Vec<_> = a.iter().filter(|r| !b.contains(r)).take(3).collect();
            let only_b: Vec<_> = b.iter().filter(|r| !a.contains(r)).take(3).collect();
            panic!(
                "{step}: {table} differs ({} rows with the raw sieve, {} without)\n with: {only_a:#?}\n without: {only_b:#?}",
                a.len(),
                b.len()
            );
        }
    }
}

/// A report's content, without its run id and times.
fn outcome(r: &ImportReport) -> String {
    format!(
        "{:?} {:?} {:?} {} {} {:?} {} {} {}",
        r.status,
        r.kind,
        r.snapshot_at,
        r.stations_in_file,
        r.price_elements,
        r.counts,
        r.prices_removed,
        r.shortages_changed,
        r.history_backfilled
    )
}

/// Both databases of one backend: the first imports with the raw sieve, the second without.
struct Pair {
    skipping: TestDb,
    parsing: TestDb,
}

impl Pair {
    async fn new(t: TestDb) -> Pair {
        let backend = if t.db.backend() == Backend::Sqlite { "sqlite" } else { "postgres" };
        let parsing = TestDb::for_backend(backend).await.expect("a second database");
        Pair { skipping: t, parsing }
    }

    /// Imports `bytes` into both; returns the elements dropped unparsed, or the error (the
    /// same in both).
    async fn import(&self, step: &str, bytes: Vec<u8>, force: bool) -> Result<usize, String> {
        let on = ImportOptions { force, trigger: carburoam::domain::Trigger::Cli, ..ImportOptions::default() };
        let off = ImportOptions { raw_skip: false, whole_tables_from: 1, ..on.clone() };
        let a = feed::import_bytes(&self.skipping.db, step, bytes.clone().into(), &on).await;
        let b = feed::import_bytes(&self.parsing.db, step, bytes.into(), &off).await;
        assert_same(&self.skipping.db, &self.parsing.db, step).await;
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(outcome(&a), outcome(&b), "{step}");
                assert_eq!(b.elements_skipped, 0, "{step}");
                Ok(a.elements_skipped)
            }
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string(), "{step}");
                Err(a.to_string())
            }
            (a, b) => {
                panic!("{step}: with the raw sieve {:?}, without {:?}", a.map(|r| outcome(&r)), b.map(|r| outcome(&r)))
            }
        }
    }

    /// Current shortages.
    async fn shortages(&self) -> i64 {
        let db = &self.skipping.db;
        on_db!(db, p => sqlx::query_scalar("SELECT count(*) FROM shortages").fetch_one(p).await).expect("count")
    }

    /// Raw hashes stored (stations the parser vouched for).
    async fn hashes(&self) -> i64 {
        let db = &self.skipping.db;
        on_db!(db, p => sqlx::query_scalar("SELECT count(*) FROM stations WHERE raw_hash IS NOT NULL").fetch_one(p).await)
            .expect("count")
    }
}

/// A ZIP holding `xml` under the national feed's entry name, dated `time` (UTC).
fn zip_at(xml: &[u8], time: (u16, u8, u8, u8, u8)) -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let t = zip::DateTime::from_date_and_time(time.0, time.1, time.2, time.3, time.4, 0).expect("time");
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(t);
        z.start_file("PrixCarburants_instantane.xml", o).expect("entry");
        z.write_all(xml).expect("write");
        z.finish().expect("finish");
    }
    out.into_inner()
}

/// `xml` with the first occurrence of `from` replaced by `to`.
fn edit(xml: &[u8], from: &str, to: &str) -> Vec<u8> {
    let at = xml.windows(from.len()).position(|w| w == from.as_bytes()).unwrap_or_else(|| panic!("{from} in the file"));
    [&xml[..at], to.as_bytes(), &xml[at + from.len()..]].concat()
}

// The real national snapshots: each ten-minute pair, a later day, older files after newer ones,
// the same file again (forced), and the file with shortages.
db_test!(real_snapshots_give_the_same_tables_with_and_without_the_raw_sieve, |t| {
    let names = [
        ("instantane_2023-11-22T2220.zip", false),
        ("instantane_2023-11-23T0820.zip", false),
        ("instantane_2025-02-07T0200.zip", false),
        ("instantane_2025-02-07T0220.zip", false),
        ("instantane_2025-02-07T0730.zip", false),
        ("instantane_2025-02-07T0740.zip", false),
        // Older than the last one: the stations it changes keep the newer attributes.
        ("instantane_2025-02-07T0220.zip", true),
        ("instantane_2025-02-07T0740.zip", true),
        ("instantane_ruptures_2026-06-05T1010.zip", false),
        ("instantane_2025-02-07T0730.zip", true),
        ("instantane_ruptures_2026-06-05T1010.zip", true),
    ];
    let Some(files) = names.iter().map(|(n, f)| shared_file(n).map(|p| (*n, p, *f))).collect::<Option<Vec<_>>>() else {
        eprintln!("../shared/data missing: real snapshots not compared");
        return;
    };
    let pair = Pair::new(t).await;
    let mut skipped = Vec::new();
    for (i, (name, path, force)) in files.into_iter().enumerate() {
        let bytes = std::fs::read(path).expect("read");
        let n = pair.import(&format!("{i} {name}"), bytes, force).await.expect("import");
        skipped.push(n);
    }
    // The first file stores the hashes; ten minutes later, almost every element is dropped.
    assert_eq!(skipped[0], 0);
    assert!(skipped[1] > 5_000, "{skipped:?}");
    assert!(skipped[5] > 9_000, "0740 after 0730: {skipped:?}");
    assert!(skipped[7] > 9_000, "0740 again: {skipped:?}");
    assert!(pair.hashes().await > 9_000);
});

// The same without `../shared/data`: the fixtures (ISO-8859-1 with UTF-8 inside), their next
// snapshot, older after newer, a station listed twice, a shortage whose end is still to come,
// a changed price, and damaged files (refused alike, with the same message).
db_test!(fixtures_give_the_same_tables_with_and_without_the_raw_sieve, |t| {
    let a = std::fs::read(fixture("snapshot_a.xml")).expect("fixture");
    let b = std::fs::read(fixture("snapshot_b.xml")).expect("fixture");
    let pair = Pair::new(t).await;
    let day = |h: u8, m: u8| (2025u16, 10u8, 26u8, h, m);

    assert_eq!(pair.import("a", zip_at(&a, day(9, 0)), false).await, Ok(0));
    let vouched = pair.hashes().await;
    assert!(vouched >= 4, "{vouched}");
    let n = pair.import("b", zip_at(&b, day(10, 10)), false).await.expect("b");
    assert!(n >= 1, "{n}");
    // Older after newer, then the newest again.
    pair.import("a older", zip_at(&a, day(9, 30)), true).await.expect("a older");
    let n = pair.import("b again", zip_at(&b, day(10, 20)), true).await.expect("b again");
    assert!(n as i64 >= vouched, "{n}");

    // The first station listed twice: the second with another address, then the first changed.
    let start = b.windows(5).position(|w| w == b"<pdv ").expect("pdv");
    let end = start + b[start..].windows(6).position(|w| w == b"</pdv>").expect("end") + 6;
    let close = b.windows(12).position(|w| w == b"</pdv_liste>").expect("root end");
    let first = b[start..end].to_vec();
    let other = edit(&first, "<adresse>", "<adresse>Autre ");
    let twice = [&b[..close], &other[..], &b[close..]].concat();
    pair.import("twice", zip_at(&twice, day(10, 30)), false).await.expect("twice");
    let twice = [&b[..start], &other[..], &b[end..close], &first[..], &b[close..]].concat();
    pair.import("twice, changed first", zip_at(&twice, day(10, 40)), false).await.expect("twice");
    pair.import("b, back", zip_at(&b, day(10, 50)), false).await.expect("b back");

    // A shortage that ends later than now: never vouched for, parsed again each time.
    let later = edit(&b, "fin=\"2025-10-26 10:04:00\"", "fin=\"2099-01-01 00:00:00\"");
    pair.import("shortage ends later", zip_at(&later, day(11, 0)), false).await.expect("later");
    pair.import("shortage ends later, again", zip_at(&later, day(11, 10)), false).await.expect("later");

    // One price changed.
    let changed = edit(&later, "valeur=\"1.649\"", "valeur=\"1.639\"");
    pair.import("price", zip_at(&changed, day(11, 20)), false).await.expect("price");
    // A price changed at a station whose shortages stay: its stored shortages are read (the
    // report counts no shortage changed).
    let kept = edit(&changed, "valeur=\"1.759\"", "valeur=\"1.769\"");
    pair.import("price beside shortages", zip_at(&kept, day(11, 25)), false).await.expect("price");

    // Damaged: an unchanged element's end tag misspelt, a cut file, markup after the root, an
    // unchanged element followed by a bad one. Refused alike, and nothing changes.
    let bad_end = edit(&changed, "</pdv>", "</pdx>");
    assert!(pair.import("bad end", zip_at(&bad_end, day(11, 30)), false).await.is_err());
    let cut = changed[..changed.len() - 40].to_vec();
    assert!(pair.import("cut", zip_at(&cut, day(11, 40)), false).await.is_err());
    let after = [&changed[..], b"<pdv id=\"1\"/>"].concat();
    assert!(pair.import("after the root", zip_at(&after, day(11, 50)), false).await.is_err());
    let close = changed.windows(12).position(|w| w == b"</pdv_liste>").expect("root end");
    let inner = [&changed[..close], b"<pdv id=\"92330002\"><a></b></pdv>", &changed[close..]].concat();
    assert!(pair.import("bad inner", zip_at(&inner, day(12, 0)), false).await.is_err());
    let n = pair.import("after the refusals", zip_at(&changed, day(12, 10)), true).await.expect("again");
    assert!(n as i64 >= vouched, "{n}");

    // A shortage that ends in three seconds: current at one import, over at the next (the
    // same bytes read otherwise then, so they are never vouched for).
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let ending = edit(&changed, "fin=\"2099-01-01 00:00:00\"", &format!("fin=\"{soon}\""));
    pair.import("shortage ends soon", zip_at(&ending, day(12, 20)), false).await.expect("soon");
    let current = pair.shortages().await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    pair.import("shortage has ended", zip_at(&ending, day(12, 30)), true).await.expect("ended");
    assert_eq!(pair.shortages().await + 1, current, "the shortage ended");
});
