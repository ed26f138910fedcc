//! The `station_names` table (names from OpenStreetMap, keyed by feed station id) and the
//! `names_imports` log. An import replaces every name in one transaction, or changes nothing.

use std::collections::HashMap;
use std::time::Instant;

use crate::db::{Backend, Db, Tx, values_placeholders};
use crate::domain::StationId;
use crate::domain::station_name::StationName;
use crate::{on_db, on_tx};

/// A name to store: the station, its names, the OSM object it came from and its raw tags.
#[derive(Debug, Clone, PartialEq)]
pub struct NewName {
    pub station_id: StationId,
    pub name: StationName,
    /// `node`, `way` or `relation` (JSON sources only).
    pub osm_type: Option<String>,
    pub osm_id: Option<i64>,
    /// Every tag of the object, as a JSON object.
    pub tags: String,
}

/// Stations of the current feed (`missing_since IS NULL`) and how many of them have a brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Coverage {
    pub branded: i64,
    pub current: i64,
}

impl Coverage {
    /// Percentage of current stations with a brand (0 when there is no station).
    pub fn percent(self) -> f64 {
        if self.current == 0 { 0.0 } else { self.branded as f64 * 100.0 / self.current as f64 }
    }
}

impl std::fmt::Display for Coverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1}% ({}/{})", self.percent(), self.branded, self.current)
    }
}

/// What the import log records beside the counts computed here.
#[derive(Debug, Clone)]
pub struct ImportMeta {
    pub source: String,
    pub trigger: crate::domain::Trigger,
    pub rows_read: usize,
    pub refs_invalid: usize,
    pub rows_without_ref: usize,
    /// Refuse the import when it would lower coverage by more than this many points.
    pub max_coverage_drop: f64,
    pub force: bool,
    pub started: Instant,
}

/// What a replacement did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Replaced {
    /// Names written (refs that are feed stations).
    pub stations_named: usize,
    /// Refs that are valid ids but not stations of the database.
    pub refs_unknown: usize,
    pub before: Coverage,
    pub after: Coverage,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    #[error(
        "refused: the import would lower coverage from {before} to {after}, more than {max} points \
         (a cut answer?); use --force to import anyway"
    )]
    CoverageDrop { before: Coverage, after: Coverage, max: f64 },
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// One row of `names_imports`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct NamesImport {
    pub source: String,
    pub trigger: String,
    pub finished_at: i64,
    pub duration_ms: i64,
    pub rows_read: i64,
    pub stations_named: i64,
    pub refs_unknown: i64,
    pub refs_invalid: i64,
    pub rows_without_ref: i64,
    pub stations_current: i64,
    pub branded_before: i64,
    pub branded_after: i64,
    pub forced: bool,
}

const COLUMNS: &str =
    "station_id, brand, brand_wikidata, osm_brand, name, operator, branch, osm_type, osm_id, tags, updated_at";
const WIDTH: usize = 11;

const COVERAGE_SQL: &str = "SELECT (SELECT COUNT(*) FROM station_names n JOIN stations s ON s.id = n.station_id \
     WHERE s.missing_since IS NULL AND n.brand IS NOT NULL), \
     (SELECT COUNT(*) FROM stations WHERE missing_since IS NULL)";

/// Replaces every stored name by `names` in one transaction, and logs the import. Names of ids
/// that are not in `stations` are skipped and counted. Refused (nothing changed) when coverage
/// would drop by more than `meta.max_coverage_drop` points, unless `meta.force`.
pub async fn replace_all(db: &Db, names: &[NewName], meta: &ImportMeta) -> Result<Replaced, ReplaceError> {
    let mut tx = db.begin().await?;
    match replace_in(&mut tx, names, meta).await {
        Ok(r) => {
            tx.commit().await?;
            Ok(r)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn replace_in(tx: &mut Tx, names: &[NewName], meta: &ImportMeta) -> Result<Replaced, ReplaceError> {
    let backend = tx.backend();
    let stations: Vec<(i64, Option<i64>)> = on_tx!(tx, conn => {
        sqlx::query_as("SELECT id, missing_since FROM stations").fetch_all(conn).await
    })?;
    let current: HashMap<i64, bool> = stations.into_iter().map(|(id, missing)| (id, missing.is_none())).collect();
    let (branded, all): (i64, i64) = on_tx!(tx, conn => sqlx::query_as(COVERAGE_SQL).fetch_one(conn).await)?;
    let before = Coverage { branded, current: all };

    let known: Vec<&NewName> = names.iter().filter(|n| current.contains_key(&n.station_id.get())).collect();
    let branded_after =
        known.iter().filter(|n| n.name.brand.is_some() && current.get(&n.station_id.get()) == Some(&true)).count();
    let after = Coverage { branded: branded_after as i64, current: all };
    if !meta.force && before.percent() - after.percent() > meta.max_coverage_drop {
        return Err(ReplaceError::CoverageDrop { before, after, max: meta.max_coverage_drop });
    }

    on_tx!(tx, conn => sqlx::query("DELETE FROM station_names").execute(conn).await.map(|_| ()))?;
    let now = crate::db::now();
    for part in known.chunks(Backend::batch_rows(WIDTH)) {
        let sql =
            format!("INSERT INTO station_names ({COLUMNS}) VALUES {}", values_placeholders(backend, part.len(), WIDTH));
        on_tx!(tx, conn => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for n in part {
                q = q
                    .bind(n.station_id.get())
                    .bind(n.name.brand.as_deref())
                    .bind(n.name.brand_wikidata.as_deref())
                    .bind(n.name.osm_brand.as_deref())
                    .bind(n.name.name.as_deref())
                    .bind(n.name.operator.as_deref())
                    .bind(n.name.branch.as_deref())
                    .bind(n.osm_type.as_deref())
                    .bind(n.osm_id)
                    .bind(n.tags.as_str())
                    .bind(now);
            }
            q.execute(conn).await.map(|_| ())
        })?;
    }
    let replaced = Replaced { stations_named: known.len(), refs_unknown: names.len() - known.len(), before, after };
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let duration_ms = i64::try_from(meta.started.elapsed().as_millis()).unwrap_or(i64::MAX);
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO names_imports (source, trigger, finished_at, duration_ms, rows_read, stations_named, \
         refs_unknown, refs_invalid, rows_without_ref, stations_current, branded_before, branded_after, forced) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(meta.source.as_str())
    .bind(meta.trigger)
    .bind(now)
    .bind(duration_ms)
    .bind(count(meta.rows_read))
    .bind(count(replaced.stations_named))
    .bind(count(replaced.refs_unknown))
    .bind(count(meta.refs_invalid))
    .bind(count(meta.rows_without_ref))
    .bind(all)
    .bind(before.branded)
    .bind(after.branded)
    .bind(meta.force)
    .execute(conn)
    .await
    .map(|_| ()))?;
    Ok(replaced)
}

type NameRow = (i64, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);

fn from_row(r: NameRow) -> Option<(StationId, StationName)> {
    let (id, brand, brand_wikidata, osm_brand, name, operator, branch) = r;
    Some((StationId::new(id)?, StationName { brand, brand_wikidata, osm_brand, name, operator, branch }))
}

/// Every stored name, by station (for the in-memory index).
pub async fn all(db: &Db) -> Result<HashMap<StationId, StationName>, sqlx::Error> {
    let rows: Vec<NameRow> = on_db!(db, p => sqlx::query_as(
        "SELECT station_id, brand, brand_wikidata, osm_brand, name, operator, branch FROM station_names",
    )
    .fetch_all(p)
    .await)?;
    Ok(rows.into_iter().filter_map(from_row).collect())
}

/// A [`NameRow`] followed by the raw OSM tags.
type NameRowWithTags =
    (i64, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, String);

/// One station's names and the raw OSM tags (JSON object text), for its page.
pub async fn get(db: &Db, id: StationId) -> Result<Option<(StationName, String)>, sqlx::Error> {
    let row: Option<NameRowWithTags> = on_db!(db, p => sqlx::query_as(
            "SELECT station_id, brand, brand_wikidata, osm_brand, name, operator, branch, tags \
             FROM station_names WHERE station_id = $1",
        )
        .bind(id.get())
        .fetch_optional(p)
        .await)?;
    Ok(row.and_then(|(id, b, q, ob, n, o, br, tags)| from_row((id, b, q, ob, n, o, br)).map(|(_, s)| (s, tags))))
}

/// Canonical brands of the current feed's stations with their station counts, most common first.
pub async fn brands(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as(
        "SELECT n.brand, COUNT(*) AS c FROM station_names n JOIN stations s ON s.id = n.station_id \
         WHERE s.missing_since IS NULL AND n.brand IS NOT NULL GROUP BY n.brand ORDER BY c DESC, n.brand",
    )
    .fetch_all(p)
    .await)
}

/// Today's coverage: current stations with a brand.
pub async fn coverage(db: &Db) -> Result<Coverage, sqlx::Error> {
    let (branded, current): (i64, i64) = on_db!(db, p => sqlx::query_as(COVERAGE_SQL).fetch_one(p).await)?;
    Ok(Coverage { branded, current })
}

/// The last successful names import.
pub async fn last_import(db: &Db) -> Result<Option<NamesImport>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as(
        "SELECT source, trigger, finished_at, duration_ms, rows_read, stations_named, refs_unknown, refs_invalid, \
         rows_without_ref, stations_current, branded_before, branded_after, forced \
         FROM names_imports ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(p)
    .await)
}

/// The id of the last successful names import (`None`: never): the version of the names the
/// in-memory index holds.
pub async fn last_import_id(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    on_db!(db, p => sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM names_imports")
        .fetch_one(p)
        .await)
}
