//! Read queries behind the JSON API (one station, price history, the figures of the status
//! endpoint) and the consistent read the in-memory price index is built from
//! ([`current_data`]; searches near a point are answered by [`crate::index`], not SQL).
//!
//! Rows come back with the stored encodings (fuel ids, thousandths of a euro, Unix seconds); the
//! web layer turns them into domain types and JSON. Every query is one SQL text for both backends.
//! Decoded Rust types follow the PostgreSQL column types (SMALLINT → i16, INTEGER → i32, BIGINT →
//! i64), which SQLite decodes as well.

use sqlx::postgres::PgConnection;

use crate::db::batch::{self, Texts};
use crate::db::etl_runs::RunStatus;
use crate::db::{Db, Tx};
use crate::domain::{Fuel, RoadType, ShortageKind, StationId};
use crate::{on_db, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StationRow {
    pub id: StationId,
    pub latitude: f64,
    pub longitude: f64,
    pub address: String,
    pub city: String,
    pub postcode: String,
    pub department: String,
    pub road_type: RoadType,
    pub automate_24_24: bool,
    /// JSON of [`crate::domain::OpeningHours`], or NULL when the feed had no `<horaires>`.
    pub opening_hours: Option<String>,
    /// JSON array of strings.
    pub services: String,
    pub first_seen_at: i64,
    /// Only exact while the station is missing: see [`StationRow::last_seen`].
    pub last_seen_at: i64,
    /// Set when the station dropped out of the snapshots.
    pub missing_since: Option<i64>,
}

impl StationRow {
    /// When the station was last present in a snapshot. The loader only rewrites
    /// `last_seen_at` when a station changes or goes missing; a station not missing is in the
    /// latest snapshot imported, so that snapshot's time is the answer then.
    pub fn last_seen(&self, latest_snapshot_at: Option<i64>) -> i64 {
        match (self.missing_since, latest_snapshot_at) {
            (None, Some(t)) => self.last_seen_at.max(t),
            _ => self.last_seen_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct PriceRow {
    pub fuel: Fuel,
    pub price: i32,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ShortageRow {
    pub fuel: Fuel,
    pub kind: ShortageKind,
    pub since: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct HistoryPoint {
    pub at: i64,
    pub price: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Counts {
    pub stations: i64,
    pub prices: i64,
    pub history_points: i64,
    pub shortages: i64,
}

pub async fn station(db: &Db, id: StationId) -> Result<Option<StationRow>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, StationRow>(
        "SELECT id, latitude, longitude, address, city, postcode, department, road_type, \
                automate_24_24, opening_hours, services, first_seen_at, last_seen_at, \
                missing_since \
         FROM stations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(p)
    .await)
}

pub async fn station_exists(db: &Db, id: StationId) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> = on_db!(db, p => sqlx::query_as("SELECT id FROM stations WHERE id = $1")
        .bind(id)
        .fetch_optional(p)
        .await)?;
    Ok(row.is_some())
}

/// Whether any station is stored (an import into an empty database has none to compare with).
pub async fn any(db: &Db) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> = on_db!(db, p => sqlx::query_as("SELECT id FROM stations LIMIT 1")
        .fetch_optional(p)
        .await)?;
    Ok(row.is_some())
}

/// PostgreSQL, inside an import's transaction: how many of `ids` (distinct) are not stations,
/// by one anti-join over an array (the check of the stations a file's current prices and history
/// rows name, where those tables have no foreign key: migrations 0015 and 0020).
pub async fn count_missing(conn: &mut PgConnection, ids: &[i64]) -> Result<usize, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM unnest($1::int8[]) AS k (id) WHERE NOT EXISTS (SELECT 1 FROM stations s WHERE s.id = k.id)",
    )
    .bind(ids)
    .fetch_one(conn)
    .await?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Current prices of a station, in fuel id order.
pub async fn prices(db: &Db, station_id: StationId) -> Result<Vec<PriceRow>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, PriceRow>(
        "SELECT fuel, price, updated_at FROM prices WHERE station_id = $1 ORDER BY fuel",
    )
    .bind(station_id)
    .fetch_all(p)
    .await)
}

/// Current shortages of a station, in fuel id order.
pub async fn shortages(db: &Db, station_id: StationId) -> Result<Vec<ShortageRow>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, ShortageRow>(
        "SELECT fuel, kind, since FROM shortages WHERE station_id = $1 ORDER BY fuel",
    )
    .bind(station_id)
    .fetch_all(p)
    .await)
}

/// Recorded prices of one fuel at one station at or after `since` (Unix seconds), oldest first;
/// `None` when there is no such station.
///
/// One row comes back, the points packed (`crate::db::series::unpack_shifted`), not one row per
/// point: sqlx hands every SQLite row from its worker thread to the request's task, and for a
/// chart over twenty years (1,500+ points) those thread switches were half the CPU of the
/// request (perf under wrk, docs/benchmarks.md). The station's existence comes in the same row
/// (one trip to the database per request, not two). The points are sorted here: an `ORDER BY`
/// inside the aggregate made SQLite build a sorter B-tree of the rows it reads in that order
/// already. `string_agg` is the same text on both backends (SQLite ≥ 3.44).
pub async fn history(
    db: &Db,
    station_id: StationId,
    fuel: i16,
    since: i64,
) -> Result<Option<Vec<HistoryPoint>>, sqlx::Error> {
    let row: Option<(i64, Option<String>)> = on_db!(db, p => sqlx::query_as(
        "SELECT s.id, (SELECT string_agg(CAST(h.at * 16777216 + h.price AS TEXT), ',') \
         FROM price_history h WHERE h.station_id = s.id AND h.fuel = $2 AND h.at >= $3) \
         FROM stations s WHERE s.id = $1",
    )
    .bind(station_id)
    .bind(fuel)
    .bind(since)
    .fetch_optional(p)
    .await)?;
    let Some((_, packed)) = row else { return Ok(None) };
    let mut points = Vec::new();
    crate::db::series::unpack_shifted(packed.as_deref().unwrap_or_default(), &mut points)?;
    points.sort_unstable_by_key(|p| p.0);
    Ok(Some(points.into_iter().map(|(at, price)| HistoryPoint { at, price }).collect()))
}

/// Snapshot time of the newest file imported (`success` or `unchanged` runs).
pub async fn latest_snapshot_at(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    let row: (Option<i64>,) = on_db!(db, p => sqlx::query_as(LATEST_SNAPSHOT_SQL)
    .bind(RunStatus::Success)
    .bind(RunStatus::Unchanged)
    .fetch_one(p)
    .await)?;
    Ok(row.0)
}

const LATEST_SNAPSHOT_SQL: &str = "SELECT MAX(snapshot_at) FROM etl_runs WHERE status IN ($1, $2)";

/// Row counts of the main tables (exact `COUNT(*)`: fine at the size of the French network).
pub async fn counts(db: &Db) -> Result<Counts, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, Counts>(
        "SELECT (SELECT COUNT(*) FROM stations) AS stations, \
                (SELECT COUNT(*) FROM prices) AS prices, \
                (SELECT COUNT(*) FROM price_history) AS history_points, \
                (SELECT COUNT(*) FROM shortages) AS shortages",
    )
    .fetch_one(p)
    .await)
}

/// A station still in the feed, with what the in-memory index keeps of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CurrentStationRow {
    pub id: StationId,
    pub latitude: f64,
    pub longitude: f64,
    pub address: String,
    pub city: String,
    pub postcode: String,
    pub department: String,
    pub automate_24_24: bool,
    /// JSON array of strings.
    pub services: String,
    pub road_type: RoadType,
    /// JSON of [`crate::domain::OpeningHours`], or NULL when the feed had none.
    pub opening_hours: Option<String>,
}

/// One current price of any station (missing ones included: the index drops them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct CurrentPriceRow {
    pub station_id: StationId,
    /// The feed's fuel id, kept as stored: the index drops an id none of [`Fuel`] has.
    pub fuel: i16,
    pub price: i32,
    pub updated_at: i64,
}

/// One current shortage of any station.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CurrentShortageRow {
    pub station_id: StationId,
    /// As in [`CurrentPriceRow`].
    pub fuel: i16,
    pub kind: ShortageKind,
    pub since: Option<i64>,
}

/// Everything [`crate::index::PriceIndex`] is built from, read at one instant.
#[derive(Debug, Clone, Default)]
pub struct CurrentData {
    /// [`latest_import`] as of this read.
    pub version: Option<i64>,
    /// [`latest_snapshot_at`] as of this read.
    pub latest_snapshot_at: Option<i64>,
    /// Stations not missing, by id.
    pub stations: Vec<CurrentStationRow>,
    pub prices: Vec<CurrentPriceRow>,
    pub shortages: Vec<CurrentShortageRow>,
}

/// The id of the latest successful import: the version of the current prices.
///
/// Only `success` runs write data (`unchanged` and `not_modified` runs load nothing, failed ones
/// roll back), and the loader marks a run successful after its transaction committed, so a new
/// id here means new data is visible. Imports never overlap (the `feed-import` lease), so a
/// higher id is also the newer data. `ORDER BY id DESC LIMIT 1` walks the primary key backwards
/// and stops at the first match, where `MAX(id) … WHERE` would scan the whole table on SQLite.
pub async fn latest_import(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    on_db!(db, p => sqlx::query_scalar::<_, i64>(LATEST_IMPORT_SQL)
        .bind(RunStatus::Success)
        .fetch_optional(p)
        .await)
}

const LATEST_IMPORT_SQL: &str = "SELECT id FROM etl_runs WHERE status = $1 ORDER BY id DESC LIMIT 1";

/// The current stations, prices and shortages with the import version they belong to, in one
/// read-only transaction so that the three tables and the version agree even while an import
/// commits (SQLite in WAL mode reads one snapshot from the first `SELECT`; PostgreSQL needs
/// `REPEATABLE READ` for that). A few tens of milliseconds on the national file.
pub async fn current_data(db: &Db) -> Result<CurrentData, sqlx::Error> {
    let mut tx = match db {
        // Plain (deferred) BEGIN: no write lock, unlike `Db::begin`.
        Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
        Db::Postgres(p) => Tx::Postgres(p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?),
    };
    let data = on_tx!(&mut tx, c => {
        let version = sqlx::query_scalar::<_, i64>(LATEST_IMPORT_SQL)
            .bind(RunStatus::Success)
            .fetch_optional(&mut *c)
            .await?;
        let latest_snapshot_at: Option<i64> = sqlx::query_scalar(LATEST_SNAPSHOT_SQL)
            .bind(RunStatus::Success)
            .bind(RunStatus::Unchanged)
            .fetch_one(&mut *c)
            .await?;
        let stations = sqlx::query_as::<_, CurrentStationRow>(
            "SELECT id, latitude, longitude, address, city, postcode, department, automate_24_24, services, \
                    road_type, opening_hours \
             FROM stations WHERE missing_since IS NULL ORDER BY id",
        )
        .fetch_all(&mut *c)
        .await?;
        let prices = sqlx::query_as::<_, CurrentPriceRow>("SELECT station_id, fuel, price, updated_at FROM prices")
            .fetch_all(&mut *c)
            .await?;
        let shortages = sqlx::query_as::<_, CurrentShortageRow>("SELECT station_id, fuel, kind, since FROM shortages")
            .fetch_all(&mut *c)
            .await?;
        Ok::<_, sqlx::Error>(CurrentData { version, latest_snapshot_at, stations, prices, shortages })
    })?;
    // Read only: nothing to commit.
    tx.rollback().await?;
    Ok(data)
}

/// A station as an import writes it: the feed's attributes in their stored encodings. The id
/// stays the raw `i64` the loader packs into its multi-row binds (import hot path; the feed's
/// parser has checked it as a [`StationId`] already).
pub struct StationWrite {
    pub id: i64,
    pub latitude: f64,
    pub longitude: f64,
    pub postcode: String,
    pub department: String,
    pub city: String,
    pub address: String,
    pub road_type: &'static str,
    pub automate: bool,
    pub hours: Option<String>,
    pub services: String,
    pub hash: i64,
    /// The hash of the station's `<pdv>` element's bytes, when the parser can vouch for it.
    pub raw_hash: Option<i64>,
}

/// Columns bound per [`StationWrite`] by [`write`].
pub const STATION_COLUMNS: usize = 17;

/// What an import reads of every stored station before its first chunk: enough to tell an
/// unchanged station (same content hash, or same bytes: the raw hash) from a changed one, and
/// which stations a newest snapshot may mark missing. The id is the raw `i64` the loader's `KnownStations` table is
/// keyed by (import hot path: read 10,000 at a time from SQLite's packed text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredStation {
    pub id: i64,
    pub content_hash: i64,
    /// `missing_since` is set.
    pub missing: bool,
    /// The hash of the `<pdv>` element it was last written from, when the parser vouched for it.
    pub raw_hash: Option<i64>,
}

/// Every stored station's [`StoredStation`]. On SQLite, the whole table comes as one text of
/// decimal quadruples (`id hash missing raw`, `x` for no raw hash; 500 KB for 10,000 stations): sqlx's SQLite driver copies
/// each value of each row and hands rows one by one between threads, which took 20–45 ms for
/// the 10,000 rows of a national database, where SQLite builds the text in a few.
pub async fn import_state(tx: &mut Tx) -> Result<Vec<StoredStation>, sqlx::Error> {
    match tx {
        Tx::Sqlite(t) => {
            let packed: Option<String> = sqlx::query_scalar(
                "SELECT group_concat(id || ' ' || content_hash || ' ' || (missing_since IS NOT NULL) || ' ' || \
                 ifnull(raw_hash, 'x'), ' ') FROM stations",
            )
            .fetch_one(&mut **t)
            .await?;
            unpack_stored(packed.as_deref().unwrap_or("")).map_err(|e| sqlx::Error::Decode(e.into()))
        }
        Tx::Postgres(t) => {
            sqlx::query_as("SELECT id, content_hash, missing_since IS NOT NULL AS missing, raw_hash FROM stations")
                .fetch_all(&mut **t)
                .await
        }
    }
}

/// Reads the quadruples of [`import_state`]'s text.
fn unpack_stored(text: &str) -> Result<Vec<StoredStation>, String> {
    let number = |n: &str| n.parse::<i64>().map_err(|e| format!("{n:?}: {e}"));
    let mut words = text.split_ascii_whitespace();
    let mut out = Vec::with_capacity(text.len() / 48);
    while let Some(id) = words.next() {
        let (Some(hash), Some(missing), Some(raw)) = (words.next(), words.next(), words.next()) else {
            return Err("a station's quadruple is cut short".to_owned());
        };
        let raw_hash = if raw == "x" { None } else { Some(number(raw)?) };
        out.push(StoredStation {
            id: number(id)?,
            content_hash: number(hash)?,
            missing: number(missing)? != 0,
            raw_hash,
        });
    }
    Ok(out)
}

/// What an import needs of a stored station it is about to change: when its attributes were
/// last set (an older file never overwrites them) and its département (the area its history
/// counts in). The id is raw, as in [`StoredStation`].
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StationDetails {
    pub id: i64,
    pub updated_at: i64,
    pub department: String,
}

/// [`StationDetails`] of the given stations (at most [`super::Backend::MAX_PARAMS`]).
pub async fn import_details(tx: &mut Tx, ids: &[i64]) -> Result<Vec<StationDetails>, sqlx::Error> {
    batch::fetch_in(tx, ids, |list| format!("SELECT id, updated_at, department FROM stations WHERE id IN ({list})"))
        .await
}

/// [`StationDetails`] of every stored station: one scan, for an import that changes most of them
/// (an archive), where lists of ids would seek each. On SQLite as one JSON array of triples
/// ([`batch::json_rows`]).
pub async fn import_details_all(tx: &mut Tx) -> Result<Vec<StationDetails>, sqlx::Error> {
    match tx {
        Tx::Sqlite(t) => {
            let rows: Vec<(i64, i64, String)> = batch::json_rows(
                t,
                "SELECT ifnull(json_group_array(json_array(id, updated_at, department)), '[]') FROM stations",
            )
            .await?;
            Ok(rows
                .into_iter()
                .map(|(id, updated_at, department)| StationDetails { id, updated_at, department })
                .collect())
        }
        Tx::Postgres(t) => sqlx::query_as("SELECT id, updated_at, department FROM stations").fetch_all(&mut **t).await,
    }
}

/// Writes stations seen in a file taken at `snapshot`: `new` ones are inserted, the others
/// updated (and no longer missing; first and last seen widened to the snapshot).
pub async fn write(
    tx: &mut Tx,
    texts: &mut Texts,
    rows: Vec<StationWrite>,
    snapshot: i64,
    new: bool,
) -> Result<(), sqlx::Error> {
    // SQLite: new stations by `INSERT OR FAIL` (see `db::prices::insert_new`: no statement journal;
    // a station already stored fails the statement, and the import rolls back). PostgreSQL has
    // no such clause; it has no statement journal either.
    let or_fail = if new && tx.backend() == super::Backend::Sqlite { " OR FAIL" } else { "" };
    let head = format!(
        "INSERT{or_fail} INTO stations (id, latitude, longitude, postcode, department, city, address, road_type, \
         automate_24_24, opening_hours, services, content_hash, raw_hash, first_seen_at, last_seen_at, \
         missing_since, updated_at) VALUES "
    );
    let tail = if new {
        ""
    } else {
        " ON CONFLICT (id) DO UPDATE SET latitude = excluded.latitude, longitude = excluded.longitude, \
          postcode = excluded.postcode, department = excluded.department, city = excluded.city, \
          address = excluded.address, road_type = excluded.road_type, automate_24_24 = excluded.automate_24_24, \
          opening_hours = excluded.opening_hours, services = excluded.services, \
          content_hash = excluded.content_hash, raw_hash = excluded.raw_hash, missing_since = NULL, \
          first_seen_at = CASE WHEN excluded.first_seen_at < stations.first_seen_at \
              THEN excluded.first_seen_at ELSE stations.first_seen_at END, \
          last_seen_at = CASE WHEN excluded.last_seen_at > stations.last_seen_at \
              THEN excluded.last_seen_at ELSE stations.last_seen_at END, \
          updated_at = excluded.updated_at"
    };
    batch::rows_owned(tx, texts, &head, tail, STATION_COLUMNS, rows, |q, r| {
        q.bind(r.id)
            .bind(r.latitude)
            .bind(r.longitude)
            .bind(r.postcode)
            .bind(r.department)
            .bind(r.city)
            .bind(r.address)
            .bind(r.road_type)
            .bind(r.automate)
            .bind(r.hours)
            .bind(r.services)
            .bind(r.hash)
            .bind(r.raw_hash)
            .bind(snapshot)
            .bind(snapshot)
            .bind(None::<i64>)
            .bind(snapshot);
    })
    .await
}

/// Stores the raw hash of the `<pdv>` element of unchanged stations: `(station, raw hash)`.
pub async fn set_raw_hashes(tx: &mut Tx, texts: &mut Texts, rows: &[(i64, i64)]) -> Result<(), sqlx::Error> {
    batch::rows(
        tx,
        texts,
        "UPDATE stations SET raw_hash = v.column2 FROM (VALUES ",
        ") AS v WHERE stations.id = v.column1",
        2,
        rows,
        |q, r| q.bind(r.0).bind(r.1),
    )
    .await
}

/// Marks stations missing since `snapshot` (a newer snapshot lacks them), last seen at
/// `last_seen`.
pub async fn mark_missing(tx: &mut Tx, snapshot: i64, last_seen: i64, ids: &[i64]) -> Result<(), sqlx::Error> {
    batch::by_ids(tx, &[snapshot, last_seen], ids, |p, list| {
        format!("UPDATE stations SET missing_since = {}, last_seen_at = {} WHERE id IN ({list})", p[0], p[1])
    })
    .await
}

#[cfg(test)]
mod import_state_tests {
    use super::{StoredStation, unpack_stored};

    #[test]
    fn packed_quadruples_read_back() {
        let got = unpack_stored("1000001 -9223372036854775808 0 x 95350002 42 1 -7").unwrap();
        assert_eq!(
            got,
            vec![
                StoredStation { id: 1000001, content_hash: i64::MIN, missing: false, raw_hash: None },
                StoredStation { id: 95350002, content_hash: 42, missing: true, raw_hash: Some(-7) },
            ]
        );
        assert_eq!(unpack_stored("").unwrap(), vec![]);
        assert!(unpack_stored("1 2 0").is_err());
        assert!(unpack_stored("1 x 0 x").is_err());
    }
}
