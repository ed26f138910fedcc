//! Yearly archives at scale: synthetic yearly files through the whole import, the
//! history as change points whatever order the years come in, the streamed merge of older years
//! into a newer history, and PostgreSQL's `COPY` path equal to the INSERT path.

use std::collections::BTreeMap;

use carburoam::db::{Backend, Db};
use carburoam::feed::FeedKind;
use carburoam::feed::parse::parse_stream;
use carburoam::feed::synth::{YearSpec, write_year_zip};
use carburoam::feed::{self, ImportOptions, ImportReport};
use carburoam::on_db;

use crate::db_test;
use crate::helpers::TestDb;
use crate::load::fingerprint;

const STATIONS: usize = 120;

fn year_zip(year: i32) -> Vec<u8> {
    let f = tempfile::NamedTempFile::new().expect("temp file");
    write_year_zip(f.path(), &YearSpec::new(year, STATIONS, 3)).expect("synth");
    std::fs::read(f.path()).expect("read synth")
}

async fn import(db: &Db, year: i32, zip: &[u8], pg_copy: bool) -> ImportReport {
    let opts = ImportOptions { trigger: carburoam::domain::Trigger::Cli, pg_copy, ..ImportOptions::default() };
    feed::import_bytes(db, &format!("annuel_{year}"), zip.to_vec().into(), &opts)
        .await
        .unwrap_or_else(|e| panic!("{year}: {e}"))
}

async fn history(db: &Db) -> Vec<(i64, i16, i64, i32)> {
    on_db!(db, p => sqlx::query_as(
        "SELECT station_id, fuel, at, price FROM price_history ORDER BY station_id, fuel, at"
    ).fetch_all(p).await)
    .expect("history")
}

async fn prices(db: &Db) -> Vec<(i64, i16, i32, i64)> {
    on_db!(db, p => sqlx::query_as("SELECT station_id, fuel, price, updated_at FROM prices ORDER BY station_id, fuel")
        .fetch_all(p).await)
    .expect("prices")
}

/// The change points of the given files computed without the database: per (station, fuel),
/// every valid point in time order (the later in the files wins at the same second), then only
/// those whose price differs from the one before.
fn expected_history(zips: &[&[u8]]) -> Vec<(i64, i16, i64, i32)> {
    let mut points: BTreeMap<(i64, i16), BTreeMap<i64, i32>> = BTreeMap::new();
    for zip in zips {
        let r = carburoam::feed::archive::open(zip, &Default::default()).expect("open");
        parse_stream(r, |s| {
            for p in &s.prices {
                points.entry((s.id.get(), p.fuel.id())).or_default().insert(p.updated_at.timestamp(), p.price.milli());
            }
        })
        .expect("parse");
    }
    let mut out = Vec::new();
    for ((s, f), pts) in points {
        let mut last = None;
        for (at, price) in pts {
            if last != Some(price) {
                out.push((s, f, at, price));
                last = Some(price);
            }
        }
    }
    out
}

async fn other_db(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => TestDb::sqlite().await,
        Backend::Postgres => TestDb::postgres().await.expect("the PostgreSQL variant runs with TEST_POSTGRES_URL"),
    }
}

db_test!(synthetic_year_imports_whole, |t| {
    let zip = year_zip(2022);
    let r = import(&t.db, 2022, &zip, true).await;
    assert_eq!(r.kind, Some(FeedKind::Archive));
    let mut rows = 0usize;
    let mut rejected = 0usize;
    {
        let o = parse_stream(carburoam::feed::archive::open(&zip, &Default::default()).unwrap(), |_| {}).unwrap();
        rows += o.price_elements;
        rejected += o.rejections.len();
    }
    assert_eq!(r.price_elements, rows);
    assert!(rows > STATIONS * 300, "{rows} rows");
    assert_eq!(r.counts.rejected as usize, rejected);
    assert_eq!(history(&t.db).await, expected_history(&[&zip]));
    assert_eq!(r.counts.history_added as usize, history(&t.db).await.len());
});

db_test!(years_in_any_order_give_the_same_change_points, |t| {
    // 2014 is in the pre-2015 schema (integer thousandths), 2015 in today's.
    let years: Vec<(i32, Vec<u8>)> = [2014, 2015, 2016].into_iter().map(|y| (y, year_zip(y))).collect();
    let all: Vec<&[u8]> = years.iter().map(|(_, z)| z.as_slice()).collect();
    let expected = expected_history(&all);

    for (y, z) in &years {
        import(&t.db, *y, z, true).await;
    }
    assert_eq!(history(&t.db).await, expected, "in order");

    // Newest first: the older years merge into the history (the streamed merge) and never move
    // a current price.
    let reverse = other_db(t.db.backend()).await;
    import(&reverse.db, 2016, &years[2].1, true).await;
    let current = prices(&reverse.db).await;
    for (y, z) in years.iter().rev().skip(1) {
        let r = import(&reverse.db, *y, z, true).await;
        assert!(r.history_backfilled > 0, "{y} merged");
    }
    assert_eq!(history(&reverse.db).await, expected, "newest first");
    let after = prices(&reverse.db).await;
    for c in &current {
        assert!(after.contains(c), "older years never move a current price: {c:?}");
    }
    assert!(after.len() > current.len(), "stations gone by 2016 keep their last price");
    assert_eq!(prices(&t.db).await, after, "the same current prices either way");

    // Middle year last, and every year again: nothing changes.
    let shuffled = other_db(t.db.backend()).await;
    for i in [2, 0, 1] {
        import(&shuffled.db, years[i].0, &years[i].1, true).await;
    }
    assert_eq!(history(&shuffled.db).await, expected, "2016, 2014, 2015");
    let before = fingerprint(&shuffled.db).await;
    for (y, z) in &years {
        let r = import(&shuffled.db, *y, z, true).await;
        assert_eq!(r.counts.history_added, 0, "{y} again");
    }
    assert_eq!(fingerprint(&shuffled.db).await, before);
});

db_test!(copy_path_equals_insert_path, |t| {
    let (old, new) = (year_zip(2020), year_zip(2021));
    // In order (history inserted as it streams) and then an older year merged into it.
    let copy = other_db(t.db.backend()).await;
    for (y, z) in [(2021, &new), (2020, &old)] {
        import(&t.db, y, z, false).await;
        import(&copy.db, y, z, true).await;
    }
    assert!(!history(&t.db).await.is_empty());
    assert_eq!(fingerprint(&copy.db).await, fingerprint(&t.db).await);
});

// A yearly file damaged two thirds in (the ZIP whole, its compressed data not) changes
// nothing, although the chunks before the damage were merged and written in the transaction.
db_test!(damaged_yearly_file_changes_nothing, |t| {
    import(&t.db, 2024, &year_zip(2024), true).await;
    let before = fingerprint(&t.db).await;
    let mut zip = year_zip(2023);
    let i = zip.len() * 2 / 3;
    zip[i] ^= 0x55;
    zip[i + 1] ^= 0x55;
    let opts = ImportOptions { trigger: carburoam::domain::Trigger::Cli, ..ImportOptions::default() };
    let err = feed::import_bytes(&t.db, "annuel_2023_damaged", zip.into(), &opts).await;
    assert!(err.is_err());
    assert_eq!(fingerprint(&t.db).await, before);
    crate::series::assert_series_rebuilds(&t.db, "after the damaged 2023 file").await;
});

// Imports on SQLite run with foreign-key checks off (`Db::begin_import`): the loader writes each
// station before the rows that reference it. After imports of every kind (yearly files in order
// and merged into a newer history, daily files, snapshots, old schema), no row references a
// missing station, and the pool's connections all check foreign keys again.
db_test!(no_row_outlives_its_station, |t| {
    import(&t.db, 2021, &year_zip(2021), true).await;
    import(&t.db, 2020, &year_zip(2020), true).await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for name in ["old_2014.xml", "archive_day.xml", "snapshot_a.xml", "snapshot_b.xml"] {
        let bytes = std::fs::read(fixtures.join(name)).expect("fixture");
        let opts = ImportOptions { trigger: carburoam::domain::Trigger::Cli, force: true, ..ImportOptions::default() };
        feed::import_bytes(&t.db, name, bytes.into(), &opts).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for table in ["prices", "price_history", "shortages", "station_names", "user_stations"] {
        let orphans: i64 = on_db!(&t.db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} x WHERE NOT EXISTS (SELECT 1 FROM stations s WHERE s.id = x.station_id)"
        )))
        .fetch_one(p)
        .await)
        .expect("orphans");
        assert_eq!(orphans, 0, "{table}");
    }
    assert!(history(&t.db).await.len() > STATIONS * 300);
    if let Db::Sqlite(pool) = &t.db {
        let violations: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT \"table\", rowid FROM pragma_foreign_key_check")
                .fetch_all(pool)
                .await
                .expect("foreign_key_check");
        assert!(violations.is_empty(), "{violations:?}");
        // Every connection the pool holds, at once: the import's own was closed, not returned.
        let mut held = Vec::new();
        while let Some(mut c) = pool.try_acquire() {
            let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut *c).await.expect("pragma");
            assert_eq!(on, 1, "a pooled connection without foreign keys");
            held.push(c);
        }
        assert!(!held.is_empty());
        drop(held);
        let refused = sqlx::query("INSERT INTO prices (station_id, fuel, price, updated_at) VALUES (1, 1, 1500, 0)")
            .execute(pool)
            .await;
        assert!(refused.is_err(), "a price for no station is refused");
    }
});

// The loader's check of a file's history rows (PostgreSQL keeps no per-row foreign key on the
// history, migration 0015): one anti-join counts which of the file's stations do not exist, so a
// row naming a station neither in the file nor loaded refuses the file.
db_test!(history_batches_are_checked_against_the_stations, |t| {
    import(&t.db, 2021, &year_zip(2021), true).await;
    let known: Vec<i64> = on_db!(&t.db, p => sqlx::query_scalar("SELECT id FROM stations ORDER BY id LIMIT 3")
        .fetch_all(p)
        .await)
    .expect("stations");
    assert_eq!(known.len(), 3);
    if let Db::Postgres(p) = &t.db {
        let mut conn = p.acquire().await.expect("connection");
        let all_known = carburoam::db::stations::count_missing(&mut conn, &known).await.expect("count");
        let with_unknown =
            carburoam::db::stations::count_missing(&mut conn, &[known[0], known[1], 999_999_999, 999_999_998])
                .await
                .expect("count");
        assert_eq!((all_known, with_unknown), (0, 2));
    }
    if let Db::Postgres(p) = &t.db {
        let fks: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_constraint WHERE conrelid = 'price_history'::regclass AND contype = 'f'",
        )
        .fetch_one(p)
        .await
        .expect("constraints");
        assert_eq!(fks, 0, "the history's foreign key is dropped: the loader checks once per file");
    }
});

// A station row that does not get written (a trigger drops it, standing in for a loader that
// would lose it) leaves its current prices and history rows naming no station. PostgreSQL keeps
// no per-row foreign key on either table (migrations 0015 and 0020): the loader's once-per-file
// anti-join refuses the file, with the error that says so, and nothing is stored, through `COPY`
// or the multi-row INSERTs. SQLite's imports check no foreign keys (`Db::begin_import`): they rely
// on the loader writing each station first, which `no_row_outlives_its_station` checks there.
db_test!(prices_naming_no_station_refuse_the_file, |t| {
    let zip = year_zip(2023);
    let mut first = None;
    parse_stream(carburoam::feed::archive::open(&zip, &Default::default()).expect("open"), |s| {
        if first.is_none() && !s.prices.is_empty() {
            first = Some(s.id.get());
        }
    })
    .expect("parse");
    let dropped = first.expect("a station with prices");
    let Db::Postgres(p) = &t.db else {
        return;
    };
    let fks: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_constraint WHERE conrelid = 'prices'::regclass AND contype = 'f'")
            .fetch_one(p)
            .await
            .expect("constraints");
    assert_eq!(fks, 0, "the prices' foreign key is dropped: the loader checks once per file");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE FUNCTION drop_one_station() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN IF NEW.id = {dropped} THEN RETURN NULL; END IF; RETURN NEW; END $$; \
         CREATE TRIGGER drop_one_station BEFORE INSERT ON stations FOR EACH ROW EXECUTE FUNCTION drop_one_station();"
    )))
    .execute(p)
    .await
    .expect("trigger");
    let before = fingerprint(&t.db).await;
    for pg_copy in [true, false] {
        let opts = ImportOptions { trigger: carburoam::domain::Trigger::Cli, pg_copy, ..ImportOptions::default() };
        let err = feed::import_bytes(&t.db, "annuel_2023_station_lost", zip.clone().into(), &opts).await;
        match err {
            Err(e @ feed::ImportError::UnknownStations { missing: 1 }) => {
                assert!(e.to_string().contains("name 1 stations"), "{e}");
            }
            other => panic!("pg_copy {pg_copy}: expected a refusal naming one station, got {other:?}"),
        }
        assert_eq!(fingerprint(&t.db).await, before, "pg_copy {pg_copy}: nothing stored");
    }
    sqlx::raw_sql("DROP TRIGGER drop_one_station ON stations; DROP FUNCTION drop_one_station();")
        .execute(p)
        .await
        .expect("drop trigger");
    let r = import(&t.db, 2023, &zip, true).await;
    assert!(r.counts.history_added > 0);
    assert!(prices(&t.db).await.iter().any(|r| r.0 == dropped));
});

// The merge's and the daily averages' reads of the stored history bind their keys as one list
// (a JSON array on SQLite, arrays on PostgreSQL), in one statement whatever their number: more
// keys than one statement could carry as bind parameters (30,000), and none, answer as a plain
// filter of the rows does.
db_test!(history_reads_of_many_keys_equal_a_plain_filter, |t| {
    use carburoam::db::{batch::Texts, price_history, series};

    // 31,000 stations with Gazole, the first 2,000 with SP95 and E85 too: 35,000 keys, three
    // points each at times that vary per key.
    let mut rows: Vec<(i64, i16, i64, i32)> = Vec::new();
    for s in 1..=31_000i64 {
        let fuels: &[i16] = if s <= 2_000 { &[1, 2, 3] } else { &[1] };
        for &f in fuels {
            let base = 1_000 + (s % 17) * 10 + i64::from(f);
            for (i, at) in [base, base + 500, base + 1_000].into_iter().enumerate() {
                rows.push((s, f, at, 1_500 + i32::try_from(i).unwrap() + i32::from(f)));
            }
        }
    }
    let mut tx = t.db.begin_import().await.expect("begin");
    price_history::insert(&mut tx, &mut Texts::default(), &rows).await.expect("insert");

    // Each key asks around a span of its own; the last one names no stored key.
    let mut keys: Vec<(i64, i16, i64, i64)> = rows
        .iter()
        .filter(|r| r.2 % 3 == 0 || r.0 % 2 == 0)
        .map(|&(s, f, at, _)| (s, f, at - (s % 3) * 300, at + (s % 5) * 200))
        .collect();
    keys.sort_unstable();
    keys.dedup_by_key(|k| (k.0, k.1));
    keys.push((99_999_999, 1, 0, i64::MAX));
    assert!(keys.len() > 30_000 / 4, "{} keys", keys.len());

    let mut by_key: BTreeMap<(i64, i16), Vec<(i64, i32)>> = BTreeMap::new();
    for &(s, f, at, price) in &rows {
        by_key.entry((s, f)).or_default().push((at, price));
    }
    // A key's last point before its span, its points inside, its first point after.
    type Near = (Option<(i64, i32)>, Vec<(i64, i32)>, Option<(i64, i32)>);
    let mut around: BTreeMap<(i64, i16), Near> = BTreeMap::new();
    let mut flat: Vec<(i64, i16, i64, i32)> = Vec::new();
    let (mut befores, mut afters) = (0, 0);
    for &(s, f, lo, hi) in &keys {
        let points = by_key.get(&(s, f)).map(Vec::as_slice).unwrap_or_default();
        let b = points.iter().filter(|p| p.0 < lo).max_by_key(|p| p.0).copied();
        let a = points.iter().filter(|p| p.0 > hi).min_by_key(|p| p.0).copied();
        let inside: Vec<(i64, i32)> = points.iter().filter(|p| (lo..=hi).contains(&p.0)).copied().collect();
        befores += usize::from(b.is_some());
        afters += usize::from(a.is_some());
        flat.extend(b.iter().chain(&inside).chain(a.iter()).map(|p| (s, f, p.0, p.1)));
        if b.is_some() || a.is_some() || !inside.is_empty() {
            around.insert((s, f), (b, inside, a));
        }
    }
    assert!(befores > 1_000 && afters > 1_000 && around.len() > 7_500, "the reads find rows");
    let mut got = price_history::around(&mut tx, &keys).await.expect("around, as rows");
    got.sort_unstable();
    flat.sort_unstable();
    assert_eq!(got, flat);
    let got: BTreeMap<_, _> = series::history_around(&mut tx, &keys)
        .await
        .expect("around")
        .into_iter()
        .map(|(k, a)| (k, (a.before, a.inside, a.after)))
        .collect();
    assert_eq!(got, around);

    assert!(price_history::around(&mut tx, &[]).await.expect("no keys").is_empty());
    assert!(series::history_around(&mut tx, &[]).await.expect("no keys").is_empty());
    tx.rollback().await.expect("rollback");
});
