//! The stored daily averages: kept by every import (snapshots and archives) equal to
//! a full recomputation, equal between a run of snapshots and an archive of the same prices,
//! checked against a brute-force average, untouched by a failed import; the trends API, the
//! station history steps, the station chart's ranges and the weekday line. Both backends.

use std::time::Duration;

use bytes::Bytes;
use carburoam::db::Db;
use carburoam::feed::FeedKind;
use carburoam::feed::{self, ImportOptions};
use carburoam::on_db;
use chrono::{NaiveDate, TimeZone};
use chrono_tz::Europe::Paris;

use crate::app::spawn_app;
use crate::db_test;
use crate::helpers::TestDb;

/// Six stations in three départements.
const STATIONS: [(i64, &str); 6] = [
    (1_000_001, "01000"),
    (1_000_002, "01000"),
    (29_000_001, "29000"),
    (29_000_002, "29200"),
    (75_000_001, "75013"),
    (75_000_002, "75015"),
];
const FUELS: [(i16, &str); 2] = [(1, "Gazole"), (5, "E10")];
/// Forty daily snapshots from 10 March 2025 (across the change to summer time).
const DAYS: usize = 40;

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 10).unwrap()
}

fn paris(d: NaiveDate, h: u32, m: u32) -> i64 {
    Paris.from_local_datetime(&d.and_hms_opt(h, m, 0).unwrap()).earliest().unwrap().timestamp()
}

fn maj(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).unwrap().with_timezone(&Paris).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The price of station `si`, fuel `f` on day `i`: station `si` changes every `si % 3 + 1`
/// days, the last station never (its price ages past 30 days).
fn price_on(si: usize, f: i16, i: usize) -> i32 {
    if si == 5 {
        return 1650 + i32::from(f);
    }
    1700 + si as i32 * 7 + i32::from(f) * 30 + ((i / (si % 3 + 1)) % 5) as i32 * 4
}

/// The change points `(at, price)` of a station's fuel over the run, as the snapshots report
/// them (a change is dated 08:0s of its day).
fn changes(si: usize, f: i16) -> Vec<(i64, i32)> {
    let mut out: Vec<(i64, i32)> = Vec::new();
    for i in 0..DAYS {
        let p = price_on(si, f, i);
        if out.last().is_none_or(|l| l.1 != p) {
            let d = first_day() + chrono::Duration::days(i as i64);
            out.push((paris(d, 8, si as u32), p));
        }
    }
    out
}

fn pdv(id: i64, cp: &str, prix: &str) -> String {
    format!(
        "<pdv id=\"{id}\" latitude=\"4620114\" longitude=\"519791\" cp=\"{cp}\" pop=\"R\"><adresse>1 rue A</adresse>\
         <ville>Ville</ville>{prix}</pdv>\n"
    )
}

fn doc(body: &str) -> Bytes {
    Bytes::from(format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" standalone=\"yes\"?>\n<pdv_liste>\n{body}</pdv_liste>\n"
    ))
}

fn prix(fuel: &str, id: i16, at: i64, p: i32) -> String {
    format!("<prix nom=\"{fuel}\" id=\"{id}\" maj=\"{}\" valeur=\"{}.{:03}\"/>", maj(at), p / 1000, p % 1000)
}

/// The snapshot of day `i` (10:00): every station, its current price of each fuel.
pub(crate) fn snapshot(i: usize) -> Bytes {
    let day_end = paris(first_day() + chrono::Duration::days(i as i64), 10, 0);
    let mut body = String::new();
    for (si, (id, cp)) in STATIONS.iter().enumerate() {
        let mut p = String::new();
        for (f, name) in FUELS {
            let last = changes(si, f).into_iter().rfind(|c| c.0 <= day_end).unwrap();
            p.push_str(&prix(name, f, last.0, last.1));
        }
        body.push_str(&pdv(*id, cp, &p));
    }
    doc(&body)
}

/// An archive-format file of the same prices: every change point of days `days`, many `<prix>`
/// per fuel.
fn archive(days: std::ops::Range<usize>, extra: &[(usize, i16, i64, i32)]) -> Bytes {
    let lo = paris(first_day() + chrono::Duration::days(days.start as i64), 0, 0);
    let hi = paris(first_day() + chrono::Duration::days(days.end as i64), 0, 0);
    let mut body = String::new();
    for (si, (id, cp)) in STATIONS.iter().enumerate() {
        let mut p = String::new();
        for (f, name) in FUELS {
            for (at, v) in changes(si, f).into_iter().filter(|c| (lo..hi).contains(&c.0)) {
                p.push_str(&prix(name, f, at, v));
            }
            for &(_, _, at, v) in extra.iter().filter(|e| e.0 == si && e.1 == f) {
                p.push_str(&prix(name, f, at, v));
            }
        }
        body.push_str(&pdv(*id, cp, &p));
    }
    doc(&body)
}

fn opts() -> ImportOptions {
    ImportOptions { trigger: carburoam::domain::Trigger::Cli, ..ImportOptions::default() }
}

pub(crate) async fn import(db: &Db, name: &str, bytes: Bytes) -> feed::ImportReport {
    feed::import_bytes(db, name, bytes, &opts()).await.unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A stored cell, its histogram and percentiles included.
type SeriesRow = (i16, String, i32, i32, i32, i32, i32, i64, i32, i32, Vec<u8>);

async fn series(db: &Db) -> Vec<SeriesRow> {
    on_db!(db, p => sqlx::query_as(
        "SELECT fuel, area, day, average, stations, min_price, max_price, total, p10, p90, hist FROM price_series \
         ORDER BY fuel, area, day"
    ).fetch_all(p).await)
    .expect("series")
}

async fn history(db: &Db) -> Vec<(i64, i16, i64, i32)> {
    on_db!(db, p => sqlx::query_as("SELECT station_id, fuel, at, price FROM price_history ORDER BY station_id, fuel, at")
        .fetch_all(p).await)
    .expect("history")
}

async fn prices(db: &Db) -> Vec<(i64, i16, i32, i64)> {
    on_db!(db, p => sqlx::query_as("SELECT station_id, fuel, price, updated_at FROM prices ORDER BY station_id, fuel")
        .fetch_all(p).await)
    .expect("prices")
}

/// The stored series equals what a full recomputation from the history gives.
async fn assert_series_is_complete(db: &Db, when: &str) {
    assert!(!series(db).await.is_empty(), "{when}: no series");
    assert_series_rebuilds(db, when).await;
}

/// The stored series (empty or not), and the last day it covers, equal what `carburoam series
/// rebuild` computes from the history. For the other test files too (a refused file changes
/// nothing, the series included).
pub async fn assert_series_rebuilds(db: &Db, when: &str) {
    assert_day_index(db, when).await;
    let kept = (series(db).await, last_day(db).await);
    carburoam::history::series::rebuild(db, Duration::from_secs(5)).await.expect("rebuild");
    let rebuilt = (series(db).await, last_day(db).await);
    if kept != rebuilt {
        let a: std::collections::BTreeSet<_> = kept.0.iter().collect();
        let b: std::collections::BTreeSet<_> = rebuilt.0.iter().collect();
        let only_kept: Vec<_> = a.difference(&b).take(8).collect();
        let only_rebuilt: Vec<_> = b.difference(&a).take(8).collect();
        panic!(
            "{when}: the series kept by the imports differs from a full recomputation \
             (last day {:?} vs {:?}; {} vs {} rows)\nonly kept: {only_kept:?}\nonly rebuilt: {only_rebuilt:?}",
            kept.1,
            rebuilt.1,
            kept.0.len(),
            rebuilt.0.len()
        );
    }
}

/// SQLite: the index of the cells by day is there, on the migration's columns (a first import
/// drops it while it fills the series and builds it again before its commit).
async fn assert_day_index(db: &Db, when: &str) {
    if let Db::Sqlite(p) = db {
        let columns: Option<String> =
            sqlx::query_scalar("SELECT group_concat(name, ',') FROM pragma_index_info('price_series_day')")
                .fetch_one(p)
                .await
                .expect("index columns");
        assert_eq!(columns.as_deref(), Some("fuel,day"), "{when}: the index price_series_day");
    }
}

async fn last_day(db: &Db) -> Option<i32> {
    on_db!(db, p => sqlx::query_scalar("SELECT last_day FROM price_series_state WHERE id = 1").fetch_one(p).await)
        .expect("state")
}

fn day_number(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

/// The national average of fuel `f` on run day `i`, by brute force from the generator.
fn expected_national(f: i16, i: usize) -> (i32, i32) {
    let end = paris(first_day() + chrono::Duration::days(i as i64 + 1), 0, 0);
    let mut sum = 0i64;
    let mut n = 0;
    for si in 0..STATIONS.len() {
        if let Some(c) = changes(si, f).into_iter().rfind(|c| c.0 < end)
            && end - c.0 <= 30 * 86_400
        {
            sum += i64::from(c.1);
            n += 1;
        }
    }
    ((sum as f64 / f64::from(n)).round() as i32, n)
}

/// The national 10th and 90th percentiles (nearest rank) and min and max of fuel `f` on run day
/// `i`, by brute force from the generator.
fn expected_band(f: i16, i: usize) -> [i32; 4] {
    let end = paris(first_day() + chrono::Duration::days(i as i64 + 1), 0, 0);
    let mut prices: Vec<i32> = (0..STATIONS.len())
        .filter_map(|si| changes(si, f).into_iter().rfind(|c| c.0 < end).filter(|c| end - c.0 <= 30 * 86_400))
        .map(|c| c.1)
        .collect();
    prices.sort_unstable();
    let rank = |p: usize| prices[(p * prices.len()).div_ceil(100).max(1) - 1];
    [rank(10), rank(90), prices[0], prices[prices.len() - 1]]
}

db_test!(series_from_snapshots_and_from_an_archive_agree, |t| {
    // Database A: the forty snapshots, one by one; the series stays complete after each.
    for i in 0..DAYS {
        import(&t.db, &format!("snapshot-{i}"), snapshot(i)).await;
        if i % 9 == 0 || i == DAYS - 1 {
            assert_series_is_complete(&t.db, &format!("after snapshot {i}")).await;
        }
    }
    let snap_history = history(&t.db).await;
    let snap_series = series(&t.db).await;

    // Checked by brute force: the last station counts until its price is 30 days old.
    for i in [0usize, 20, 29, 30, 31, 39] {
        let day = day_number(first_day() + chrono::Duration::days(i as i64));
        let (avg, n) = expected_national(1, i);
        let row = snap_series.iter().find(|r| r.0 == 1 && r.1 == "FR" && r.2 == day).expect("national row");
        assert_eq!((row.3, row.4), (avg, n), "day {i}");
    }
    let d35 = day_number(first_day() + chrono::Duration::days(35));
    let n35 = snap_series.iter().find(|r| r.0 == 1 && r.1 == "FR" && r.2 == d35).unwrap().4;
    assert_eq!(n35, 5, "the unchanged price no longer counts after 30 days");
    let dept29 = snap_series.iter().find(|r| r.0 == 5 && r.1 == "29" && r.2 == d35).unwrap();
    assert_eq!(dept29.4, 2);
    assert_eq!(dept29.5, dept29.5.min(dept29.6));

    // Database B: one archive file of the same prices.
    let other = TestDb::for_backend(if matches!(t.db, Db::Sqlite(_)) { "sqlite" } else { "postgres" }).await.unwrap();
    let r = import(&other.db, "annee-2025", archive(0..DAYS, &[])).await;
    assert_eq!(r.kind, Some(FeedKind::Archive));
    assert_eq!(history(&other.db).await, snap_history, "the same history");
    assert_eq!(series(&other.db).await, snap_series, "the same series");
    assert_series_is_complete(&other.db, "after the archive").await;

    // A daily archive after the yearly one of the same year changes nothing.
    let before = (history(&other.db).await, series(&other.db).await);
    import(&other.db, "jour-20250330", archive(19..21, &[])).await;
    assert_eq!((history(&other.db).await, series(&other.db).await), before, "a daily file after the yearly one");

    // An archive never moves a current price, even with older points the history lacked; the
    // series of the days they move follow.
    let current = prices(&t.db).await;
    let older = paris(first_day() - chrono::Duration::days(5), 9, 0);
    let r = import(&t.db, "older", archive(0..DAYS, &[(0, 1, older, 1999)])).await;
    assert_eq!(r.kind, Some(FeedKind::Archive));
    assert_eq!(prices(&t.db).await, current, "current prices unmoved");
    let d_older = day_number(first_day() - chrono::Duration::days(5));
    let row = series(&t.db).await.into_iter().find(|r| r.0 == 1 && r.1 == "FR" && r.2 == d_older).unwrap();
    assert_eq!((row.3, row.4), (1999, 1));
    assert_series_is_complete(&t.db, "after an older archive").await;

    // A failed import (an XML cut in the middle) leaves the series as it was.
    let kept = series(&t.db).await;
    let cut = snapshot(DAYS - 1);
    let cut = cut.slice(..cut.len() / 2);
    assert!(feed::import_bytes(&t.db, "cut", cut, &opts()).await.is_err());
    assert_eq!(series(&t.db).await, kept);
    assert_series_rebuilds(&t.db, "after the cut file").await;
});

db_test!(an_empty_series_is_computed_by_the_next_import_or_at_start, |t| {
    for i in 0..5 {
        import(&t.db, &format!("snapshot-{i}"), snapshot(i)).await;
    }
    let full = series(&t.db).await;
    // A database whose history predates the series (as after migration 0009).
    on_db!(&t.db, p => sqlx::query("DELETE FROM price_series").execute(p).await.map(|_| ())).unwrap();
    assert!(carburoam::db::series::needs_rebuild(&t.db).await.unwrap());
    carburoam::history::series::rebuild_if_needed(t.db.clone()).await;
    assert_eq!(series(&t.db).await, full);
    assert!(!carburoam::db::series::needs_rebuild(&t.db).await.unwrap());
    // Or the next import computes every day, not only those it touches.
    on_db!(&t.db, p => sqlx::query("DELETE FROM price_series").execute(p).await.map(|_| ())).unwrap();
    import(&t.db, "snapshot-5", snapshot(5)).await;
    assert_series_is_complete(&t.db, "after an import into an empty series").await;
});

db_test!(trends_api_and_station_history_steps, |t| {
    for i in 0..DAYS {
        import(&t.db, &format!("snapshot-{i}"), snapshot(i)).await;
    }
    let app = spawn_app(t.db.clone()).await;
    let last = first_day() + chrono::Duration::days(DAYS as i64 - 1);
    let r = app.get("/api/v1/trends?fuel=Gazole").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    assert_eq!(j["area"], "FR");
    let points = j["points"].as_array().unwrap();
    assert_eq!(points.len(), 30, "the last 30 days by default");
    assert_eq!(points.last().unwrap()["at"], last.format("%Y-%m-%d").to_string());
    let (avg, n) = expected_national(1, DAYS - 1);
    assert_eq!(points.last().unwrap()["avg"].as_f64().unwrap(), f64::from(avg) / 1000.0);
    assert_eq!(points.last().unwrap()["stations"], n);
    // The band: the percentiles of the stations' prices, between min and max.
    let euros = |p: &serde_json::Value, k: &str| (p[k].as_f64().unwrap() * 1000.0).round() as i32;
    let band = |p: &serde_json::Value| ["p10", "p90", "min", "max"].map(|k| euros(p, k));
    assert_eq!(band(points.last().unwrap()), expected_band(1, DAYS - 1));
    assert_eq!(band(&points[0]), expected_band(1, DAYS - 30));

    let r = app.get("/api/v1/trends?fuel=E10&dept=29&from=2025-03-10&to=2025-04-18&step=week").await;
    let j = r.json();
    assert_eq!((j["area"].as_str(), j["step"].as_str()), (Some("29"), Some("week")));
    let weeks = j["points"].as_array().unwrap();
    // 10 March 2025 is a Monday: six weeks, the last one cut.
    assert_eq!(weeks.len(), 6);
    assert_eq!(weeks[0]["at"], "2025-03-10");
    assert!(weeks.iter().all(|w| w["min"].as_f64() <= w["avg"].as_f64() && w["avg"].as_f64() <= w["max"].as_f64()));
    let months = app.get("/api/v1/trends?fuel=1&department=75&from=2025-03-01&to=2025-04-30&step=month").await.json();
    assert_eq!(months["points"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get("/api/v1/trends?fuel=Gazole&dept=01&from=2020-01-01&to=2020-02-01").await.json()["points"],
        serde_json::json!([])
    );

    for (query, named) in [
        ("", "fuel"),
        ("fuel=Diesel", "fuel"),
        ("fuel=Gazole&dept=ZZ", "dept"),
        ("fuel=Gazole&dept=20", "dept"),
        ("fuel=Gazole&from=2025-13-01", "from"),
        ("fuel=Gazole&to=yesterday", "to"),
        ("fuel=Gazole&step=year", "step"),
        ("fuel=Gazole&from=2025-04-02&to=2025-04-01", "from"),
        ("fuel=Gazole&area=29", "area"),
    ] {
        let r = app.get(&format!("/api/v1/trends?{query}")).await;
        assert_eq!(r.status, 400, "{query}");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(msg.contains(&format!("`{named}`")), "{query}: {msg}");
    }

    // A station's history: raw change points, daily closes, weekly means with min and max.
    let id = STATIONS[2].0;
    let raw = app.get(&format!("/api/v1/stations/{id}/history?fuel=Gazole")).await.json();
    assert!(raw.get("step").is_none());
    assert_eq!(raw["points"].as_array().unwrap().len(), changes(2, 1).len());
    let days = app
        .get(&format!("/api/v1/stations/{id}/history?fuel=Gazole&step=day&from=2025-03-12&to=2025-03-15"))
        .await
        .json();
    let closes: Vec<(String, f64)> = days["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["at"].as_str().unwrap().to_owned(), p["price"].as_f64().unwrap()))
        .collect();
    let expect: Vec<(String, f64)> = (2..=5)
        .map(|i| {
            let d = first_day() + chrono::Duration::days(i);
            (d.format("%Y-%m-%d").to_string(), f64::from(price_on(2, 1, i as usize)) / 1000.0)
        })
        .collect();
    assert_eq!(closes, expect);
    let weeks = app.get(&format!("/api/v1/stations/{id}/history?fuel=Gazole&step=week&to=2025-03-23")).await.json();
    let w = weeks["points"].as_array().unwrap();
    assert_eq!(w.len(), 2);
    assert!(w[0]["min"].as_f64().unwrap() <= w[0]["price"].as_f64().unwrap());
    for (query, named) in [("fuel=Gazole&step=hour", "step"), ("fuel=Gazole&days=3&from=2025-03-12", "from")] {
        let r = app.get(&format!("/api/v1/stations/{id}/history?{query}")).await;
        assert_eq!(r.status, 400, "{query}");
        assert!(r.text.contains(&format!("`{named}`")), "{query}: {}", r.text);
    }
});

// Daily closes without `from` are the last 1,096 days up to `to`, with a link to the days
// before; an explicit `from` and the coarser steps still reach back to the first change.
db_test!(station_history_daily_closes_without_from_are_recent, |t| {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let changes = [(day(2019, 1, 10), 1500), (day(2022, 3, 1), 1600), (day(2025, 6, 29), 1700)];
    let p: String = changes.iter().map(|&(d, v)| prix("Gazole", 1, paris(d, 6, 0), v)).collect();
    import(&t.db, "annee", doc(&pdv(29_000_001, "29000", &p))).await;
    let app = spawn_app(t.db.clone()).await;
    let get = |query: String| {
        let app = &app;
        async move {
            let r = app.get(&format!("/api/v1/stations/29000001/history?fuel=Gazole&{query}")).await;
            assert_eq!(r.status, 200, "{query}: {}", r.text);
            r.json()
        }
    };
    let ats = |v: &serde_json::Value| -> Vec<String> {
        v["points"].as_array().unwrap().iter().map(|p| p["at"].as_str().unwrap().to_owned()).collect()
    };
    let iso = |d: NaiveDate| d.format("%Y-%m-%d").to_string();

    let recent = get("step=day".to_owned()).await;
    let start = day(2025, 6, 29) - chrono::Duration::days(1095);
    let at = ats(&recent);
    assert_eq!((at.len(), at[0].as_str(), at[1095].as_str()), (1096, iso(start).as_str(), "2025-06-29"));
    assert_eq!(recent["points"][0]["price"].as_f64(), Some(1.6));
    let earlier = recent["earlier"].as_str().expect("older closes are linked");
    let before = start - chrono::Duration::days(1096);
    assert_eq!(
        earlier,
        format!(
            "/api/v1/stations/29000001/history?fuel=Gazole&step=day&from={}&to={}",
            iso(before),
            iso(start - chrono::Duration::days(1))
        )
    );
    let older = app.get(earlier).await.json();
    assert_eq!(ats(&older).len(), 1096);
    assert!(older.get("earlier").is_none(), "an explicit `from` is answered as asked");

    // `to` without `from`: the 1,096 days up to it.
    let upto = get("step=day&to=2023-01-01".to_owned()).await;
    let at = ats(&upto);
    assert_eq!((at.len(), at.last().unwrap().as_str()), (1096, "2023-01-01"));
    assert!(
        upto["earlier"]
            .as_str()
            .unwrap()
            .ends_with(&format!("&to={}", iso(day(2023, 1, 1) - chrono::Duration::days(1096))))
    );

    // Explicit `from`, and the weekly means: the whole history, no link.
    let all = get("step=day&from=2019-01-01".to_owned()).await;
    let at = ats(&all);
    assert_eq!(at.len() as i64, (day(2025, 6, 29) - day(2019, 1, 10)).num_days() + 1);
    assert_eq!(at[0], "2019-01-10");
    assert!(all.get("earlier").is_none());
    let weeks = get("step=week".to_owned()).await;
    assert_eq!(ats(&weeks)[0], "2019-01-07");
    assert!(weeks.get("earlier").is_none());

    // Nothing older than the window: no link.
    let short = get("step=day&to=2021-06-01".to_owned()).await;
    assert_eq!(ats(&short)[0], "2019-01-10");
    assert!(short.get("earlier").is_none());
});

/// An archive of `weeks` weeks ending on Sunday 29 June 2025 for one station: Tuesdays 8
/// thousandths cheaper (changed at 06:00 on Tuesday, back at 06:00 on Wednesday).
fn tuesday_archive(weeks: i64) -> Bytes {
    let last = NaiveDate::from_ymd_opt(2025, 6, 29).unwrap();
    let mut p = String::new();
    let mut d = last - chrono::Duration::days(weeks * 7 - 1);
    p.push_str(&prix("Gazole", 1, paris(d, 6, 0), 1800));
    while d <= last {
        if chrono::Datelike::weekday(&d) == chrono::Weekday::Tue {
            p.push_str(&prix("Gazole", 1, paris(d, 6, 0), 1792));
            p.push_str(&prix("Gazole", 1, paris(d + chrono::Duration::days(1), 6, 0), 1800));
        }
        d += chrono::Duration::days(1);
    }
    // The file's newest price: the last day of data.
    p.push_str(&prix("E10", 5, paris(last, 20, 0), 1750));
    p.push_str(&prix("E10", 5, paris(last, 21, 0), 1751));
    doc(&pdv(29_000_001, "29000", &p))
}

db_test!(station_chart_ranges_and_the_weekday_line, |t| {
    import(&t.db, "annee", tuesday_archive(9)).await;
    let app = spawn_app(t.db.clone()).await;
    let page = app.get("/stations/29000001?fuel=Gazole").await;
    assert_eq!(page.status, 200);
    // Four ranges, links that work without scripts; 30 days by default.
    for range in ["30d", "1y", "5y", "all"] {
        assert!(page.text.contains(&format!("range={range}#history")), "{range}");
    }
    assert!(page.text.contains("aria-current=\"true\" data-range=\"30d\""));
    assert!(page.text.contains("data-testid=\"station-chart-svg\""));
    assert!(page.text.contains("Moyenne du département 29") && page.text.contains("Moyenne nationale"));
    assert!(page.text.contains("de 1,792 € au plus bas à 1,800 € au plus haut"), "the period's min and max");
    assert!(page.text.contains("c’est le mardi que c’est le moins cher ici"), "weekday line");
    assert!(page.text.contains("data-testid=\"weekday-line\""));
    let year = app.get("/stations/29000001?fuel=Gazole&range=1y").await;
    assert!(year.text.contains("aria-current=\"true\" data-range=\"1y\""));
    // The chart's figures for the script: 30 days, or more for a year.
    let points = |html: &str| {
        let start = html.find("id=\"station-data\">").unwrap() + "id=\"station-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str::<serde_json::Value>(&html[start..end]).unwrap()["x"].as_array().unwrap().len()
    };
    assert_eq!(points(&page.text), 30);
    assert_eq!(points(&year.text), 63);
    // "All" over nine weeks: daily points, as the year (the step follows the span).
    let all = app.get("/stations/29000001?fuel=Gazole&range=all").await;
    assert_eq!(points(&all.text), 63);
    // A bad range or fuel is the default.
    let odd = app.get("/stations/29000001?range=10y&fuel=Nope").await;
    assert_eq!(odd.status, 200);
    assert!(odd.text.contains("aria-current=\"true\" data-range=\"30d\""));
});

db_test!(the_weekday_line_needs_eight_weeks, |t| {
    import(&t.db, "annee", tuesday_archive(7)).await;
    let app = spawn_app(t.db.clone()).await;
    let page = app.get("/stations/29000001?fuel=Gazole").await;
    assert!(!page.text.contains("data-testid=\"weekday-line\""));
    assert!(page.text.contains("data-testid=\"weekday-not-yet\""));
});

db_test!(trends_page_in_both_languages, |t| {
    for i in 0..DAYS {
        import(&t.db, &format!("snapshot-{i}"), snapshot(i)).await;
    }
    let app = spawn_app(t.db.clone()).await;
    let fr = app.get("/tendances").await;
    assert_eq!(fr.status, 200);
    assert!(fr.text.contains("Moyenne d’un jour\u{202f}: la moyenne des prix en vigueur à la fin de la journée"));
    assert!(fr.text.contains("data-testid=\"trend-chart-svg\"") && fr.text.contains("data-testid=\"trend-table\""));
    assert!(
        fr.text.contains("href=\"/tendances\"") && fr.text.contains("aria-current=\"page\" data-testid=\"nav-trends\"")
    );
    // Three départements, cheapest first, each opening its own chart.
    let t01 = fr.text.find("dept=01&#38;period=3m").unwrap_or_else(|| panic!("{}", fr.text));
    assert!(fr.text.contains("dept=29&#38;period=3m") && fr.text.contains("dept=75&#38;period=3m"));
    assert!(fr.text.contains("data-testid=\"cheapest-dept\"") && fr.text.contains("data-testid=\"dearest-dept\""));
    let t75 = fr.text.find("dept=75&#38;period=3m").unwrap();
    assert!(t01 < t75, "sorted by price");
    // The chart's band is drawn from the 10th to the 90th percentile, as the legend says; the
    // table keeps min and max.
    assert!(fr.text.contains("10\u{202f}%–90\u{202f}% des stations"), "{}", fr.text);
    let data = fr.text.split("<script type=\"application/json\" id=\"trend-data\">").nth(1).unwrap();
    let data: serde_json::Value = serde_json::from_str(data.split("</script>").next().unwrap()).unwrap();
    assert_eq!(data["band"], serde_json::json!([1, 2]));
    let last_values = |i: usize| data["series"][i]["values"].as_array().unwrap().last().unwrap().as_f64().unwrap();
    let [p10, p90, min, max] = expected_band(1, DAYS - 1);
    assert_eq!([1, 2].map(|i| (last_values(i) * 1000.0).round() as i32), [p10, p90]);
    assert!(
        fr.text.contains(&format!("<td class=\"num\">{}</td>", carburoam::domain::Lang::Fr.price(min))),
        "the table's min"
    );
    assert!(
        fr.text.contains(&format!("<td class=\"num\">{}</td>", carburoam::domain::Lang::Fr.price(max))),
        "the table's max"
    );
    let dept = app.get("/tendances?fuel=E10&dept=29&period=1m").await;
    assert!(dept.text.contains("E10, Département 29"));
    let en = app.browser();
    en.get("/lang?to=en&back=/trends").await;
    let page = en.get("/trends?fuel=Gazole&period=1y").await;
    assert!(page.text.contains("Average of a day: the mean of the prices in effect at the end of that day"));
    assert!(page.text.contains("href=\"/trends\""));
    assert!(page.text.contains("10–90\u{202f}% of stations"));
    // Bad parameters fall back to the defaults.
    let odd = app.get("/tendances?fuel=X&dept=ZZ&period=9y").await;
    assert_eq!(odd.status, 200);
    assert!(odd.text.contains("Gazole, France entière"));
});

db_test!(me_shows_the_cheapest_weekday_at_the_users_stations, |t| {
    import(&t.db, "annee", tuesday_archive(9)).await;
    let app = spawn_app(t.db.clone()).await;
    let password = "Pompe-à-essence-Brest-29";
    let fields = [
        ("username", "yann"),
        ("display_name", "Yann"),
        ("email", "yann@example.org"),
        ("password", password),
        ("confirm", password),
        ("fuel", "Gazole"),
    ];
    let r = app.post_form("/register", &fields).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let before = app.get("/me").await;
    assert!(!before.text.contains("data-testid=\"weekday-mine\""), "no station yet");
    let r = app.post_form("/me/stations/add", &[("station_id", "29000001")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let me = app.get("/me").await;
    assert!(me.text.contains("data-testid=\"weekday-mine\""), "{}", me.text);
    assert!(me.text.contains("À vos stations, le mardi a été le jour le moins cher ces 8 dernières semaines"));
});

// ---------------------------------------------------------------------------------------------
// Imports in random orders: the series kept by deltas equals a full recomputation
// after every file, whatever files come in whatever order.

/// A small pseudo-random generator (xorshift), seeded per case: a failure names its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// A snapshot of day `i` where station `moved` has another postcode (another département) and
/// station 3 no longer lists E10 (its price leaves the current prices, kept in the history).
fn odd_snapshot(i: usize, moved: usize) -> Bytes {
    let day_end = paris(first_day() + chrono::Duration::days(i as i64), 10, 0);
    let mut body = String::new();
    for (si, (id, cp)) in STATIONS.iter().enumerate() {
        let mut p = String::new();
        for (f, name) in FUELS {
            if si == 3 && f == 5 {
                continue;
            }
            let last = changes(si, f).into_iter().rfind(|c| c.0 <= day_end).unwrap();
            p.push_str(&prix(name, f, last.0, last.1));
        }
        body.push_str(&pdv(*id, if si == moved { "56000" } else { cp }, &p));
    }
    doc(&body)
}

/// The synthetic files of the random orders: snapshots of scattered days (one moving a station
/// to another département and dropping a fuel), archives of overlapping spans, one with points
/// older and newer than the rest, the repository's fixtures.
fn synthetic_files(rng: &mut Rng) -> Vec<(String, Bytes)> {
    let mut files: Vec<(String, Bytes)> = Vec::new();
    for _ in 0..4 {
        let i = rng.below(DAYS);
        files.push((format!("snapshot-{i}"), snapshot(i)));
    }
    let i = rng.below(DAYS);
    files.push((format!("odd-snapshot-{i}"), odd_snapshot(i, rng.below(STATIONS.len()))));
    for _ in 0..3 {
        let a = rng.below(DAYS - 1);
        let b = a + 1 + rng.below(DAYS - a);
        files.push((format!("archive-{a}-{b}"), archive(a..b, &[])));
    }
    let older = paris(first_day() - chrono::Duration::days(rng.below(50) as i64), 9, 0);
    let newer = paris(first_day() + chrono::Duration::days((DAYS + rng.below(40)) as i64), 9, 0);
    let extra = [(rng.below(STATIONS.len()), 1, older, 1999), (rng.below(STATIONS.len()), 5, newer, 1555)];
    files.push(("archive-extra".into(), archive(0..DAYS, &extra)));
    for name in ["snapshot_a.xml", "snapshot_b.xml", "archive_day.xml", "old_2014.xml"] {
        files.push((name.into(), Bytes::from(std::fs::read(crate::helpers::fixture(name)).expect("fixture"))));
    }
    files
}

/// Imports `files` in order into `db`, the series checked against a full recomputation after
/// each one.
async fn import_checking(db: &Db, files: &[(String, Bytes)], seed: u64) {
    let forced = ImportOptions { force: true, ..opts() };
    for (n, (name, bytes)) in files.iter().enumerate() {
        feed::import_bytes(db, name, bytes.clone(), &forced)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {name}: {e}"));
        let order: Vec<&str> = files[..=n].iter().map(|f| f.0.as_str()).collect();
        assert_series_rebuilds(db, &format!("seed {seed}, after {order:?}")).await;
    }
}

mod random_orders {
    use super::*;
    use proptest::prelude::*;

    fn backends() -> Vec<&'static str> {
        let pg = std::env::var("TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty());
        if pg { vec!["sqlite", "postgres"] } else { vec!["sqlite"] }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]
        /// The synthetic files and the fixtures, shuffled: the series equals the rebuild after
        /// every import, on both backends.
        #[test]
        fn synthetic_files_in_any_order(seed in any::<u64>()) {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async {
                let mut rng = super::Rng::new(seed);
                let mut files = synthetic_files(&mut rng);
                rng.shuffle(&mut files);
                for backend in backends() {
                    let t = TestDb::for_backend(backend).await.expect("database");
                    import_checking(&t.db, &files, seed).await;
                }
            });
        }
    }
}

// The real files when present (../shared/data): the archive-format file and four national
// snapshots drawn at random, in a random order (seed from the clock unless SERIES_SEED is set;
// printed), the series equal to the rebuild after each. Bounded: five real files per run.
db_test!(shared_files_in_random_orders, |t| {
    let Some(dir) = crate::helpers::shared_data() else {
        eprintln!("../shared/data absent: not run");
        return;
    };
    let seed: u64 = std::env::var("SERIES_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("shared_files_in_random_orders: SERIES_SEED={seed}");
    let mut rng = Rng::new(seed);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("shared data")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("instantane"))
        .collect();
    names.sort();
    rng.shuffle(&mut names);
    names.truncate(4);
    names.push("archive_2022-01-01_2022-03-31_etalab.zip".into());
    rng.shuffle(&mut names);
    let files: Vec<(String, Bytes)> =
        names.iter().filter_map(|n| std::fs::read(dir.join(n)).ok().map(|b| (n.clone(), Bytes::from(b)))).collect();
    import_checking(&t.db, &files, seed).await;
});
