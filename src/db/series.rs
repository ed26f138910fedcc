//! The stored daily averages (`price_series`, migrations 0009 and 0013): kept up to date by
//! every import, inside its transaction, by deltas (`feed::load::series`: the cells an import's
//! changes move, from their stored sums, counts, min and max); read by the trends API and
//! pages. The computation itself is [`crate::domain::series`].
//!
//! The series covers every day from the first change point to the later of the newest change
//! point and the newest snapshot loaded (`price_series_state`): a snapshot moves its own day
//! (prices age out even when nothing changes). An empty series over a history (a database from
//! before this table existed, or before 0013) is computed whole by the next import, or by
//! `carburoam series rebuild`, which gives the same rows.

use std::collections::{BTreeMap, HashMap};

use futures_util::TryStreamExt;

use crate::db::{Backend, Db, Tx, copy, in_list, values_placeholders};
use crate::domain::StationId;
use crate::domain::histogram::{self, Histogram};
use crate::domain::series::{self, DailyAverages, Day, NATIONAL};
use crate::on_tx;

/// The longest piece computed at once: a year and a month of one fuel, so that memory stays
/// bounded (the points of one piece are streamed; the cells are ~100 areas × 400 days).
const PIECE_DAYS: Day = 400;

/// What a recomputation did (for logs and benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct Refreshed {
    /// Fuel-days recomputed.
    pub days: usize,
    /// History points read.
    pub points: usize,
    /// Series rows written.
    pub rows: usize,
    /// How long it took.
    pub elapsed: std::time::Duration,
    /// Of which writing the cells (an import's deltas).
    pub written: std::time::Duration,
}

/// One stored cell: the prices in effect at the end of a day in one area, as their exact sum,
/// count, min, max and 10th and 90th percentiles (the stored average is `total / stations`,
/// rounded), all read from the cell's histogram, stored beside them ([`histogram`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub total: i64,
    pub stations: i32,
    pub min: i32,
    pub max: i32,
    pub p10: i32,
    pub p90: i32,
}

/// A cell to write: fuel, area, day, what its histogram says, the histogram's encoding.
pub type CellRow<'a> = (i16, &'a str, Day, Cell, &'a [u8]);

impl Cell {
    /// What a histogram says (`None`: empty, no row).
    pub fn of(hist: &[(i32, i32)]) -> Option<Cell> {
        histogram::summary(hist).map(|s| Cell {
            total: s.total,
            stations: s.stations,
            min: s.min,
            max: s.max,
            p10: s.p10,
            p90: s.p90,
        })
    }

    /// The stored average: the mean rounded half away from zero, as [`series::DailyAverages`].
    pub fn average(&self) -> i32 {
        (self.total as f64 / f64::from(self.stations.max(1))).round() as i32
    }
}

/// The series' state when an import begins (read under its lock, see [`begin`]).
#[derive(Debug, Clone, Copy)]
pub struct State {
    /// The last day stored (`None`: never computed).
    pub last_day: Option<Day>,
    /// The Paris day of the newest snapshot loaded.
    pub snapshot_day: Option<Day>,
    /// Whether any row is stored.
    pub has_series: bool,
    /// Whether the history holds any point.
    pub has_history: bool,
}

/// Takes the series' lock for the rest of `tx` and reads its state. An import calls it first
/// thing, so that on PostgreSQL two imports run one after the other: an import's deltas are
/// computed against the history it read, which no other import may change meanwhile (SQLite
/// transactions are serialised anyway).
pub async fn begin(tx: &mut Tx) -> Result<State, sqlx::Error> {
    lock(tx).await?;
    let last_day: Option<i32> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT last_day FROM price_series_state WHERE id = 1").fetch_one(&mut *conn).await?
    });
    let snapshot_day = snapshot_day(tx).await?;
    let (series, history): (Option<i32>, Option<i32>) = on_tx!(tx, conn => {
        sqlx::query_as("SELECT (SELECT 1 FROM price_series LIMIT 1), (SELECT 1 FROM price_history LIMIT 1)")
            .fetch_one(&mut *conn)
            .await?
    });
    Ok(State { last_day, snapshot_day, has_series: series.is_some(), has_history: history.is_some() })
}

/// Records the last day stored and the newest snapshot's day.
pub async fn set_state(tx: &mut Tx, last_day: Option<Day>, snapshot_day: Option<Day>) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE price_series_state SET last_day = $1, snapshot_day = $2 WHERE id = 1")
            .bind(last_day)
            .bind(snapshot_day)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

/// The newest change point of the whole history (a scan: only when the newest may have been
/// deleted, or for a full recomputation).
pub async fn newest_point(tx: &mut Tx) -> Result<Option<i64>, sqlx::Error> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(at) FROM price_history").fetch_one(&mut *conn).await?
    }))
}

/// The newest snapshot's day: the state's, else (a database from before it was kept) the
/// newest successful snapshot run's.
async fn snapshot_day(tx: &mut Tx) -> Result<Option<Day>, sqlx::Error> {
    let stored: Option<i32> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT snapshot_day FROM price_series_state WHERE id = 1").fetch_one(&mut *conn).await?
    });
    if stored.is_some() {
        return Ok(stored);
    }
    let at = crate::db::etl_runs::latest_full_snapshot_at_in(tx).await?;
    Ok(at.map(series::day_of))
}

/// Deletes the whole series and computes it again from the history, in `tx`: every day from
/// the first change point to the later of the newest change point and the newest snapshot.
pub async fn rebuild(tx: &mut Tx) -> Result<Refreshed, sqlx::Error> {
    let started = std::time::Instant::now();
    lock(tx).await?;
    let mut done = recompute_all(tx, None).await?;
    done.elapsed = started.elapsed();
    Ok(done)
}

/// [`rebuild`] without the lock (taken by the caller), with the day of a snapshot being loaded.
pub async fn recompute_all(tx: &mut Tx, snapshot: Option<Day>) -> Result<Refreshed, sqlx::Error> {
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM price_series").execute(&mut *conn).await?;
        // A new generation: servers drop the pages cached from the previous series (`generation`).
        sqlx::query("UPDATE price_series_state SET generation = generation + 1 WHERE id = 1")
            .execute(&mut *conn)
            .await?;
    });
    let snapshot_day = snapshot_day(tx).await?.max(snapshot);
    let (min, max): (Option<i64>, Option<i64>) = on_tx!(tx, conn => {
        sqlx::query_as("SELECT MIN(at), MAX(at) FROM price_history").fetch_one(&mut *conn).await?
    });
    let last = max.map(series::day_of).max(snapshot_day);
    set_state(tx, last, snapshot_day).await?;
    let (Some(min), Some(last)) = (min, last) else { return Ok(Refreshed::default()) };
    let plan: Vec<(i16, Vec<(Day, Day)>)> =
        crate::domain::Fuel::ALL.iter().map(|f| (f.id(), vec![(series::day_of(min), last)])).collect();
    compute(tx, &plan).await
}

/// The series' generation: moves each time the whole series is computed again (an import moves
/// the data version by its own run). Part of [`crate::index::DataVersion`].
pub async fn generation(db: &Db) -> Result<i64, sqlx::Error> {
    crate::on_db!(db, p => sqlx::query_scalar::<_, i64>("SELECT generation FROM price_series_state WHERE id = 1")
        .fetch_one(p)
        .await)
}

/// Recomputes the days `first..=last` of every fuel from the history (what an import does for
/// the days between the last one stored and a later one its file reaches).
pub async fn recompute_days(tx: &mut Tx, first: Day, last: Day) -> Result<Refreshed, sqlx::Error> {
    if first > last {
        return Ok(Refreshed::default());
    }
    let plan: Vec<(i16, Vec<(Day, Day)>)> =
        crate::domain::Fuel::ALL.iter().map(|f| (f.id(), vec![(first, last)])).collect();
    compute(tx, &plan).await
}

/// Serialises refreshes: the row lock of `price_series_state` is held until `tx` ends (SQLite
/// transactions are serialised anyway).
async fn lock(tx: &mut Tx) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE price_series_state SET refreshed_at = $1 WHERE id = 1")
            .bind(crate::db::now())
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

/// Computes and stores the given intervals of each fuel.
async fn compute(tx: &mut Tx, plan: &[(i16, Vec<(Day, Day)>)]) -> Result<Refreshed, sqlx::Error> {
    let mut done = Refreshed::default();
    if plan.iter().all(|(_, iv)| iv.is_empty()) {
        return Ok(done);
    }
    // Each station's area: its département (an empty one counts nationally only).
    let rows: Vec<(i64, String)> = on_tx!(tx, conn => {
        sqlx::query_as("SELECT id, department FROM stations").fetch_all(&mut *conn).await?
    });
    let mut areas: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut area_of: HashMap<i64, usize> = HashMap::with_capacity(rows.len());
    for (id, dept) in rows {
        if dept.is_empty() {
            continue;
        }
        let next = areas.len();
        let i = *index.entry(dept.clone()).or_insert_with(|| {
            areas.push(dept);
            next
        });
        area_of.insert(id, i);
    }
    for (fuel, intervals) in plan {
        for &(first, last) in &series::pieces(intervals, PIECE_DAYS) {
            let piece = compute_piece(tx, *fuel, first, last, &areas, &area_of).await?;
            done.days += usize::try_from(last - first + 1).unwrap_or(0);
            done.points += piece.points;
            done.rows += piece.rows;
        }
    }
    Ok(done)
}

async fn compute_piece(
    tx: &mut Tx,
    fuel: i16,
    first: Day,
    last: Day,
    areas: &[String],
    area_of: &HashMap<i64, usize>,
) -> Result<Refreshed, sqlx::Error> {
    let mut acc = DailyAverages::new(first, last, areas.len());
    let (lo, hi) = acc.window();
    let mut points: Vec<(i64, i32)> = Vec::new();
    let mut read = 0usize;
    // Driven by the stations (CROSS JOIN fixes that order in SQLite): one seek per station into
    // the history's primary key (station_id, fuel, at), never a scan of the whole history. One
    // row per station, its points packed as `at × 2^24 + price` in a comma-separated text (one
    // number to write out per point; sorted here: no ORDER BY inside the aggregate, which
    // SQLite would pay with a sorter): sqlx hands every row from the SQLite worker thread to
    // this task, and one row per point made that handoff most of the refresh.
    let sql = "SELECT s.id, string_agg(CAST(h.at * 16777216 + h.price AS TEXT), ',') \
               FROM stations s CROSS JOIN price_history h \
               WHERE h.station_id = s.id AND h.fuel = $1 AND h.at >= $2 AND h.at < $3 \
               GROUP BY s.id";
    on_tx!(tx, conn => {
        let mut rows = sqlx::query_as::<_, (i64, String)>(sql).bind(fuel).bind(lo).bind(hi).fetch(&mut *conn);
        while let Some((id, packed)) = rows.try_next().await? {
            points.clear();
            unpack_shifted(&packed, &mut points)?;
            points.sort_unstable_by_key(|p| p.0);
            read += points.len();
            acc.station(area_of.get(&id).copied(), &points);
        }
    });
    let out = acc.finish();
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM price_series WHERE fuel = $1 AND day >= $2 AND day <= $3")
            .bind(fuel)
            .bind(first)
            .bind(last)
            .execute(&mut *conn)
            .await?;
    });
    let encoded: Vec<Vec<u8>> = out.iter().map(|(_, _, s)| histogram::to_bytes(&s.hist)).collect();
    let rows: Vec<CellRow> = out
        .iter()
        .zip(&encoded)
        .map(|((area, day, s), hist)| {
            let area = area.and_then(|a| areas.get(a)).map_or(NATIONAL, String::as_str);
            let cell = Cell { total: s.total, stations: s.stations, min: s.min, max: s.max, p10: s.p10, p90: s.p90 };
            (fuel, area, *day, cell, hist.as_slice())
        })
        .collect();
    write_cells(tx, &rows).await?;
    Ok(Refreshed { points: read, rows: out.len(), ..Refreshed::default() })
}

/// SQLite: the index of every area's cell on one day, as migration 0009 creates it.
const DAY_INDEX: &str = "CREATE INDEX price_series_day ON price_series (fuel, day)";

/// SQLite: drops the index of the cells by day while an empty series is filled in one
/// transaction ([`fill_done`] builds it again). The cells go in sorted by key, (fuel, area,
/// day), but the index, by (fuel, day), takes them one area after the other, each in another
/// place; built after the table, it is one sort. The 46,000 cells of a first national snapshot
/// in the `sqlite3` shell: 70 ms with the index kept up, 26 ms + 16 ms to build it after.
/// Nothing to do on PostgreSQL.
pub async fn fill_begin(tx: &mut Tx) -> Result<(), sqlx::Error> {
    if let Tx::Sqlite(t) = tx {
        sqlx::query("DROP INDEX price_series_day").execute(&mut **t).await?;
    }
    Ok(())
}

/// Builds the index [`fill_begin`] dropped, in the same transaction.
pub async fn fill_done(tx: &mut Tx) -> Result<(), sqlx::Error> {
    if let Tx::Sqlite(t) = tx {
        sqlx::query(DAY_INDEX).execute(&mut **t).await?;
    }
    Ok(())
}

/// Cells per packed SQLite statement: 6 parameters each ([`packed_cell`] and the histogram).
const PACKED_CELL_ROWS: usize = 1_024;

/// A cell packed into four integers for SQLite (with the area and the histogram beside them):
/// `day × 8 + fuel`, `stations × 2^40 + min × 2^20 + max`, `total × 2^20 + average`,
/// `p10 × 2^20 + p90`, unpacked by the statement's `SELECT`. Binding through sqlx costs more than SQLite's own shifts, as for the
/// history rows. `None` when a value does not fit (never for validated feed prices, under 10 €):
/// the cells then go unpacked.
fn packed_cell(&(fuel, _, day, c, _): &CellRow) -> Option<(i64, i64, i64, i64)> {
    let field = |v: i32| (0..CELL_SPAN).contains(&i64::from(v));
    let fits = (0..8).contains(&fuel)
        && day >= 0
        && (0..(1 << 23)).contains(&c.stations)
        && field(c.min)
        && field(c.max)
        && field(c.average())
        && field(c.p10)
        && field(c.p90)
        && (0..(1 << 43)).contains(&c.total);
    fits.then(|| {
        (
            i64::from(day) * 8 + i64::from(fuel),
            (i64::from(c.stations) << 40) | (i64::from(c.min) << 20) | i64::from(c.max),
            (c.total << 20) | i64::from(c.average()),
            (i64::from(c.p10) << 20) | i64::from(c.p90),
        )
    })
}

const CELL_SPAN: i64 = 1 << 20;

const PACKED_CELLS_HEAD: &str = "INSERT INTO price_series \
     (fuel, area, day, average, stations, min_price, max_price, total, p10, p90, hist) \
     SELECT column1 & 7, column2, column1 >> 3, column4 & 1048575, column3 >> 40, (column3 >> 20) & 1048575, \
     column3 & 1048575, column4 >> 20, column5 >> 20, column5 & 1048575, column6 FROM (VALUES ";

/// `WHERE true`: SQLite reads `ON CONFLICT` right after a `SELECT … FROM` as a join clause.
const CELLS_TAIL: &str = " ON CONFLICT (fuel, area, day) DO UPDATE SET average = excluded.average, \
     stations = excluded.stations, min_price = excluded.min_price, max_price = excluded.max_price, \
     total = excluded.total, p10 = excluded.p10, p90 = excluded.p90, hist = excluded.hist";

/// Writes cells (inserted, or replacing the stored ones).
pub async fn write_cells(tx: &mut Tx, rows: &[CellRow<'_>]) -> Result<(), sqlx::Error> {
    let backend = tx.backend();
    if backend == Backend::Sqlite
        && let Some(packed) = rows.iter().map(|r| packed_cell(r).map(|p| (p, r.1, r.4))).collect::<Option<Vec<_>>>()
    {
        // Full statements, then the rest in powers of two: sqlx prepares and caches one statement
        // per distinct text, and a prepared statement of a thousand rows weighs about a megabyte.
        let mut rest = packed.as_slice();
        while !rest.is_empty() {
            let n = if rest.len() >= PACKED_CELL_ROWS { PACKED_CELL_ROWS } else { 1 << rest.len().ilog2() };
            let (part, tail) = rest.split_at(n);
            rest = tail;
            let sql =
                format!("{PACKED_CELLS_HEAD}{}) WHERE true{CELLS_TAIL}", values_placeholders(backend, part.len(), 6));
            on_tx!(tx, conn => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for ((key, spread, sum, band), area, hist) in part {
                    q = q.bind(*key).bind(*area).bind(*spread).bind(*sum).bind(*band).bind(*hist);
                }
                q.execute(&mut *conn).await?;
            });
        }
        return Ok(());
    }
    if let Tx::Postgres(t) = tx
        && rows.len() > Backend::batch_rows(11)
    {
        return copy_cells(t, rows).await;
    }
    let per = Backend::batch_rows(11);
    let mut texts: HashMap<usize, String> = HashMap::new();
    for part in rows.chunks(per) {
        let sql = texts
            .entry(part.len())
            .or_insert_with(|| {
                format!(
                    "INSERT INTO price_series \
                     (fuel, area, day, average, stations, min_price, max_price, total, p10, p90, hist) \
                     VALUES {}{CELLS_TAIL}",
                    values_placeholders(backend, part.len(), 11)
                )
            })
            .clone();
        on_tx!(tx, conn => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (fuel, area, day, c, hist) in part {
                q = q.bind(*fuel).bind(*area).bind(*day).bind(c.average()).bind(c.stations).bind(c.min).bind(c.max)
                    .bind(c.total).bind(c.p10).bind(c.p90).bind(*hist);
            }
            q.execute(&mut *conn).await?;
        });
    }
    Ok(())
}

/// PostgreSQL, more cells than one statement takes: a binary `COPY` into a temporary table
/// (never WAL-logged, dropped at commit), then one `INSERT … SELECT … ON CONFLICT` in key order,
/// where multi-row statements would cost a parse and a plan of 5,500 parameters each.
async fn copy_cells(
    t: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    rows: &[CellRow<'_>],
) -> Result<(), sqlx::Error> {
    let conn = &mut **t;
    // Whether a cell may already be stored: one probe of the primary key per (fuel, area) over
    // the span of its days here. Usually none (a first import, an archive of days never loaded):
    // the cells then go straight into `price_series` by `COPY`, with no staging table and no
    // speculative insertion of `ON CONFLICT` per row. Keys are unique within the rows (a
    // settled cell is written once), so the COPY cannot conflict with itself; if it ever did,
    // the unique violation refuses the file.
    let spans = cell_spans(rows);
    let (stored,): (bool,) = sqlx::query_as(STORED_CELLS)
        .bind(spans.keys().map(|k| k.0).collect::<Vec<i16>>())
        .bind(spans.keys().map(|k| k.1).collect::<Vec<&str>>())
        .bind(spans.values().map(|d| d.0).collect::<Vec<Day>>())
        .bind(spans.values().map(|d| d.1).collect::<Vec<Day>>())
        .fetch_one(&mut *conn)
        .await?;
    if !stored {
        return copy::copy_in(
            conn,
            "COPY price_series (fuel, area, day, average, stations, min_price, max_price, total, p10, p90, hist) \
             FROM STDIN (FORMAT binary)",
            rows,
            copy_cell,
        )
        .await;
    }
    sqlx::query(
        "CREATE TEMPORARY TABLE IF NOT EXISTS series_load (fuel SMALLINT NOT NULL, area TEXT NOT NULL, \
         day INTEGER NOT NULL, average INTEGER NOT NULL, stations INTEGER NOT NULL, min_price INTEGER NOT NULL, \
         max_price INTEGER NOT NULL, total BIGINT NOT NULL, p10 INTEGER NOT NULL, p90 INTEGER NOT NULL, \
         hist BYTEA NOT NULL) ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await?;
    copy::copy_in(
        conn,
        "COPY series_load (fuel, area, day, average, stations, min_price, max_price, total, p10, p90, hist) \
         FROM STDIN (FORMAT binary)",
        rows,
        copy_cell,
    )
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO price_series (fuel, area, day, average, stations, min_price, max_price, total, p10, p90, hist) \
         SELECT fuel, area, day, average, stations, min_price, max_price, total, p10, p90, hist FROM series_load \
         ORDER BY fuel, area, day{CELLS_TAIL}"
    )))
    .execute(&mut *conn)
    .await?;
    sqlx::query("TRUNCATE series_load").execute(&mut *conn).await?;
    Ok(())
}

/// Whether any of the given (fuel, area, first day, last day) has a stored cell in its span.
const STORED_CELLS: &str = "SELECT EXISTS (SELECT 1 FROM unnest($1::int2[], $2::text[], $3::int4[], $4::int4[]) \
     AS k (fuel, area, lo, hi) WHERE EXISTS (SELECT 1 FROM price_series s \
     WHERE s.fuel = k.fuel AND s.area = k.area AND s.day BETWEEN k.lo AND k.hi))";

/// Each (fuel, area) of the cells with its first and last day.
fn cell_spans<'a>(rows: &[CellRow<'a>]) -> BTreeMap<(i16, &'a str), (Day, Day)> {
    let mut spans: BTreeMap<(i16, &'a str), (Day, Day)> = BTreeMap::new();
    for &(fuel, area, day, _, _) in rows {
        spans.entry((fuel, area)).and_modify(|s| *s = (s.0.min(day), s.1.max(day))).or_insert((day, day));
    }
    spans
}

/// One cell in the binary COPY format (the types of `price_series` and of `series_load`).
fn copy_cell(out: &mut copy::CopyRows, &(fuel, area, day, c, hist): &CellRow<'_>) {
    out.row(11)
        .i16(fuel)
        .bytes(area.as_bytes())
        .i32(day)
        .i32(c.average())
        .i32(c.stations)
        .i32(c.min)
        .i32(c.max)
        .i64(c.total)
        .i32(c.p10)
        .i32(c.p90)
        .bytes(hist);
}

/// Deletes cells (days left without any station).
pub async fn delete_cells(tx: &mut Tx, rows: &[(i16, &str, Day)]) -> Result<(), sqlx::Error> {
    for (fuel, area, day) in rows {
        on_tx!(tx, conn => {
            sqlx::query("DELETE FROM price_series WHERE fuel = $1 AND area = $2 AND day = $3")
                .bind(*fuel)
                .bind(*area)
                .bind(*day)
                .execute(&mut *conn)
                .await?;
        });
    }
    Ok(())
}

/// Deletes the days after `last` (the series no longer reaches them).
pub async fn delete_after(tx: &mut Tx, last: Day) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM price_series WHERE day > $1").bind(last).execute(&mut *conn).await?;
    });
    Ok(())
}

/// The stored cells of one fuel on the days `first..=last`: `(area, day, histogram)`.
pub async fn stored_cells(
    tx: &mut Tx,
    fuel: i16,
    first: Day,
    last: Day,
) -> Result<Vec<(String, Day, Histogram)>, sqlx::Error> {
    let rows: Vec<(String, i32, Vec<u8>)> = on_tx!(tx, conn => {
        sqlx::query_as("SELECT area, day, hist FROM price_series WHERE fuel = $1 AND day >= $2 AND day <= $3")
            .bind(fuel)
            .bind(first)
            .bind(last)
            .fetch_all(&mut *conn)
            .await?
    });
    rows.into_iter()
        .map(|(area, day, bytes)| {
            let hist = histogram::decode(&bytes).ok_or_else(|| {
                sqlx::Error::Decode(format!("malformed histogram of series cell ({fuel}, {area}, {day})").into())
            })?;
            Ok((area, day, hist))
        })
        .collect()
}

/// Cells computed exactly from the history, for one fuel and day: the given départements
/// (those with a station in effect), and the nation when `national`, as histograms. What an
/// import does for a cell whose moves do not fit its stored histogram (they remove a price it
/// does not hold, which a consistent series never gives): one index seek per station of the
/// area into the history.
pub async fn exact_cells(
    tx: &mut Tx,
    fuel: i16,
    day: Day,
    areas: &[&str],
    national: bool,
) -> Result<Vec<(String, Histogram)>, sqlx::Error> {
    let end = series::day_start(day + 1);
    let from = end - series::MAX_AGE_SECS;
    let backend = tx.backend();
    let mut out: HashMap<String, Histogram> = HashMap::new();
    let inner = |filter: &str| {
        let (p1, p2, p3) = match backend {
            Backend::Sqlite => ("?", "?", "?"),
            Backend::Postgres => ("$1", "$2", "$3"),
        };
        format!(
            "SELECT s.department AS area, (SELECT h.price FROM price_history h WHERE h.station_id = s.id \
             AND h.fuel = {p1} AND h.at < {p2} AND h.at >= {p3} ORDER BY h.at DESC LIMIT 1) AS p \
             FROM stations s{filter}"
        )
    };
    // The subquery's price is read once per station: written as a subquery in FROM, SQLite's
    // flattener copies the correlated seek into each use of `x.p` (the filter, the grouping
    // and the output), one seek per use; `AS MATERIALIZED` (SQLite ≥ 3.35, PostgreSQL ≥ 12)
    // keeps it a table computed once.
    // (area, price, stations at that price).
    type Row = (String, i32, i64);
    let mut rows: Vec<Row> = Vec::new();
    for part in areas.chunks(Backend::MAX_PARAMS - 3) {
        let sql = format!(
            "WITH x AS MATERIALIZED ({}) SELECT x.area, x.p, COUNT(*) FROM x WHERE x.p IS NOT NULL \
             GROUP BY x.area, x.p",
            inner(&format!(" WHERE s.department IN ({})", in_list(backend, 4, part.len())))
        );
        let part_rows: Vec<Row> = on_tx!(tx, conn => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(fuel).bind(end).bind(from);
            for a in part {
                q = q.bind(*a);
            }
            q.fetch_all(&mut *conn).await?
        });
        rows.extend(part_rows);
    }
    if national {
        let sql = format!(
            "WITH x AS MATERIALIZED ({}) SELECT '{NATIONAL}', x.p, COUNT(*) FROM x WHERE x.p IS NOT NULL GROUP BY x.p",
            inner("")
        );
        let national_rows: Vec<Row> = on_tx!(tx, conn => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(fuel).bind(end).bind(from).fetch_all(&mut *conn).await?
        });
        rows.extend(national_rows);
    }
    for (area, price, n) in rows {
        let hist = out.entry(area).or_default();
        histogram::add(hist, price, i32::try_from(n).unwrap_or(i32::MAX));
    }
    Ok(out.into_iter().collect())
}

/// A key's stored points around times an import writes: the last point before `lo`, every
/// point in `lo..=hi`, and the first point after `hi`.
#[derive(Debug, Default, Clone)]
pub struct Around {
    pub before: Option<(i64, i32)>,
    pub inside: Vec<(i64, i32)>,
    pub after: Option<(i64, i32)>,
}

/// [`Around`] for each `(station, fuel, lo, hi)`, read before the import writes them: one
/// statement of a fixed text ([`around_sql`], the keys bound as one list, [`keys_cte`]), index
/// seeks into the history's primary key.
pub async fn history_around(
    tx: &mut Tx,
    keys: &[(i64, i16, i64, i64)],
) -> Result<HashMap<(i64, i16), Around>, sqlx::Error> {
    let spans: HashMap<(i64, i16), (i64, i64)> = keys.iter().map(|&(s, f, lo, hi)| ((s, f), (lo, hi))).collect();
    let mut out: HashMap<(i64, i16), Around> = HashMap::with_capacity(keys.len());
    for (s, f, at, price) in keyed_points(tx, around_sql(tx.backend()), keys).await? {
        let Some(&(lo, hi)) = spans.get(&(s, f)) else { continue };
        let a = out.entry((s, f)).or_default();
        if at < lo {
            a.before = Some((at, price));
        } else if at > hi {
            a.after = Some((at, price));
        } else {
            a.inside.push((at, price));
        }
    }
    for a in out.values_mut() {
        a.inside.sort_unstable();
    }
    Ok(out)
}

/// The statement that reads, for each key `(station, fuel, lo, hi)` of [`keys_cte`], its
/// stored points from the last one before `lo` to the first one after `hi`: `(station, fuel,
/// at, price)`. The two bounds are one index seek each (a correlated subquery of the key), the
/// points between them one range of the primary key: one statement where a scan of the span
/// and a statement per neighbour took three (about half the time, docs/benchmarks.md).
pub(crate) fn around_sql(backend: Backend) -> String {
    let bound = |cmp: &str, of: &str, order: &str| {
        format!(
            "coalesce((SELECT p.at FROM price_history p WHERE p.station_id = k.column1 AND p.fuel = k.column2 \
             AND p.at {cmp} k.{of} ORDER BY p.at {order} LIMIT 1), k.{of})"
        )
    };
    format!(
        "WITH {} SELECT h.station_id, h.fuel, h.at, h.price FROM k CROSS JOIN price_history h \
         WHERE h.station_id = k.column1 AND h.fuel = k.column2 AND h.at >= {} AND h.at <= {}",
        keys_cte(backend),
        bound("<", "column3", "DESC"),
        bound(">", "column4", "ASC")
    )
}

/// The `WITH` item `k (column1, column2, column3, column4)`: the keys `(station, fuel, lo, hi)`
/// of a read of the history, whatever their number, in one fixed text ([`keyed_points`] binds
/// them). SQLite reads them from ONE parameter, a JSON array of `[station, fuel, lo, hi]`,
/// materialized so that each key is unpacked once; `->>` gives JSON integers as SQL integers,
/// so the history's primary key is seeked as with bound integers. `jsonb_each` hands each key
/// to `->>` as binary JSON where `json_each` would print it as text for `->>` to parse again
/// (about a third less time per key on SQLite 3.51). PostgreSQL reads one array per column
/// (`unnest`). A `VALUES` list of placeholders would make each number of keys a text of its
/// own, parsed for one use (0.95 MB of SQL in an archive's import into a live instance,
/// docs/benchmarks.md, session 13); a fixed text is prepared once per import connection and
/// stays in its statement cache.
fn keys_cte(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "k AS MATERIALIZED (SELECT value ->> 0 AS column1, value ->> 1 AS column2, value ->> 2 AS column3, \
             value ->> 3 AS column4 FROM jsonb_each($1))"
        }
        Backend::Postgres => {
            "k AS (SELECT * FROM unnest($1::int8[], $2::int2[], $3::int8[], $4::int8[]) \
             AS u (column1, column2, column3, column4))"
        }
    }
}

/// Runs `sql` (a statement on [`keys_cte`]) for `keys`: `(station, fuel, at, price)` rows. The
/// text is the same for any keys, so it is kept prepared.
pub(crate) async fn keyed_points(
    tx: &mut Tx,
    sql: String,
    keys: &[(i64, i16, i64, i64)],
) -> Result<Vec<(i64, i16, i64, i32)>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = sqlx::AssertSqlSafe(sql);
    Ok(match tx {
        Tx::Sqlite(t) => sqlx::query_as(sql).bind(json_param(keys)?).fetch_all(&mut **t).await?,
        Tx::Postgres(t) => {
            sqlx::query_as(sql)
                .bind(keys.iter().map(|k| k.0).collect::<Vec<i64>>())
                .bind(keys.iter().map(|k| k.1).collect::<Vec<i16>>())
                .bind(keys.iter().map(|k| k.2).collect::<Vec<i64>>())
                .bind(keys.iter().map(|k| k.3).collect::<Vec<i64>>())
                .fetch_all(&mut **t)
                .await?
        }
    })
}

/// A list as SQLite's one JSON parameter (`json_each`, [`keys_cte`]): integers give `[v,…]`,
/// the history's keys `[[station,fuel,lo,hi],…]`.
pub(crate) fn json_param<T: serde::Serialize + ?Sized>(values: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(values).map_err(|e| sqlx::Error::Encode(e.into()))
}

/// Every change point of the given stations (all fuels): `(station, fuel, at, price)`, in
/// key and time order. For the stations an import moves to another département.
pub async fn stations_history(tx: &mut Tx, ids: &[i64]) -> Result<Vec<(i64, i16, i64, i32)>, sqlx::Error> {
    let mut out = Vec::new();
    for id in ids {
        let rows: Vec<(i64, i16, i64, i32)> = on_tx!(tx, conn => {
            sqlx::query_as(
                "SELECT station_id, fuel, at, price FROM price_history WHERE station_id = $1 ORDER BY fuel, at",
            )
            .bind(*id)
            .fetch_all(&mut *conn)
            .await?
        });
        out.extend(rows);
    }
    Ok(out)
}

/// Reads `v,v,…` where `v = at × 2^24 + price` back into `(at, price)` points. Prices are
/// validated thousandths of a euro (under 10,000), far from the 2^24 that would spill into `at`.
pub(crate) fn unpack_shifted(packed: &str, out: &mut Vec<(i64, i32)>) -> Result<(), sqlx::Error> {
    for item in packed.split(',').filter(|i| !i.is_empty()) {
        let v: i64 = item
            .parse()
            .map_err(|_| sqlx::Error::Decode(format!("malformed packed history near {:?}", packed.get(..40)).into()))?;
        out.push((v >> 24, (v & 0xff_ffff) as i32));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading

/// One stored day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct SeriesRow {
    pub day: i32,
    pub average: i32,
    pub stations: i32,
    pub min_price: i32,
    pub max_price: i32,
    /// The 10th and 90th percentiles of the day's prices (the chart's band).
    pub p10: i32,
    pub p90: i32,
}

/// The days `from..=to` of one fuel and area (a département code or [`NATIONAL`]), in order.
///
/// One row comes back, the days packed as `day,average,stations,min,max,p10,p90;…`: a chart over
/// twenty years reads 7,000+ days, and one row per day cost a thread handoff each (see
/// [`station_points`]).
pub async fn days(db: &Db, fuel: i16, area: &str, from: Day, to: Day) -> Result<Vec<SeriesRow>, sqlx::Error> {
    const SQL: &str = "SELECT string_agg(CAST(day AS TEXT) || ',' || CAST(average AS TEXT) || ',' \
         || CAST(stations AS TEXT) || ',' || CAST(min_price AS TEXT) || ',' || CAST(max_price AS TEXT) || ',' \
         || CAST(p10 AS TEXT) || ',' || CAST(p90 AS TEXT), ';') \
         FROM price_series WHERE fuel = $1 AND area = $2 AND day >= $3 AND day <= $4";
    let packed = packed_days(db, SQL, fuel, area, from, to).await?;
    let bad = || sqlx::Error::Decode(format!("malformed packed series near {:?}", packed.get(..40)).into());
    let mut out = Vec::with_capacity(packed.len() / 24 + 1);
    for item in packed.split(';').filter(|i| !i.is_empty()) {
        let mut v = [0i32; 7];
        let mut fields = item.split(',');
        for slot in &mut v {
            *slot = fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad)?;
        }
        if fields.next().is_some() {
            return Err(bad());
        }
        out.push(SeriesRow {
            day: v[0],
            average: v[1],
            stations: v[2],
            min_price: v[3],
            max_price: v[4],
            p10: v[5],
            p90: v[6],
        });
    }
    // No ORDER BY in the aggregate: SQLite would sort rows it reads in key order already.
    out.sort_unstable_by_key(|r| r.day);
    Ok(out)
}

/// The daily averages alone of `from..=to`, one fuel and area, in order: what a chart's line
/// needs, packed as one number per day (`day × 2^24 + average`), a fifth of what SQLite writes
/// out for [`days`].
pub async fn averages(db: &Db, fuel: i16, area: &str, from: Day, to: Day) -> Result<Vec<(Day, i32)>, sqlx::Error> {
    const SQL: &str = "SELECT string_agg(CAST(CAST(day AS BIGINT) * 16777216 + average AS TEXT), ',') \
         FROM price_series WHERE fuel = $1 AND area = $2 AND day >= $3 AND day <= $4";
    let packed = packed_days(db, SQL, fuel, area, from, to).await?;
    let mut points = Vec::new();
    unpack_shifted(&packed, &mut points)?;
    // No ORDER BY in the aggregate: SQLite would sort rows it reads in key order already.
    let mut out: Vec<(Day, i32)> =
        points.into_iter().map(|(day, average)| (Day::try_from(day).unwrap_or(Day::MAX), average)).collect();
    out.sort_unstable_by_key(|p| p.0);
    Ok(out)
}

/// Runs one of the packed-days queries above (`$1` fuel, `$2` area, `$3..=$4` days).
async fn packed_days(
    db: &Db,
    sql: &'static str,
    fuel: i16,
    area: &str,
    from: Day,
    to: Day,
) -> Result<String, sqlx::Error> {
    let packed: Option<String> = crate::on_db!(db, p => sqlx::query_scalar(sql)
        .bind(fuel)
        .bind(area)
        .bind(from)
        .bind(to)
        .fetch_one(p)
        .await)?;
    Ok(packed.unwrap_or_default())
}

/// Every département's average of one fuel on the days `from..=to`: `(area, day, average)`.
pub async fn departments(db: &Db, fuel: i16, from: Day, to: Day) -> Result<Vec<(String, i32, i32)>, sqlx::Error> {
    crate::on_db!(db, p => sqlx::query_as::<_, (String, i32, i32)>(
        "SELECT area, day, average FROM price_series \
         WHERE fuel = $1 AND day >= $2 AND day <= $3 AND area <> $4 ORDER BY area, day",
    )
    .bind(fuel)
    .bind(from)
    .bind(to)
    .bind(NATIONAL)
    .fetch_all(p)
    .await)
}

/// The first and last stored day of a fuel's national series.
pub async fn span(db: &Db, fuel: i16) -> Result<Option<(Day, Day)>, sqlx::Error> {
    let row: (Option<i32>, Option<i32>) = crate::on_db!(db, p => sqlx::query_as(
        "SELECT MIN(day), MAX(day) FROM price_series WHERE fuel = $1 AND area = $2",
    )
    .bind(fuel)
    .bind(NATIONAL)
    .fetch_one(p)
    .await)?;
    Ok(row.0.zip(row.1))
}

/// Whether the series is empty while the history is not (a database from before the series).
pub async fn needs_rebuild(db: &Db) -> Result<bool, sqlx::Error> {
    let (series, history): (Option<i32>, Option<i32>) = crate::on_db!(db, p => sqlx::query_as(
        "SELECT (SELECT 1 FROM price_series LIMIT 1), (SELECT 1 FROM price_history LIMIT 1)",
    )
    .fetch_one(p)
    .await)?;
    Ok(series.is_none() && history.is_some())
}

/// A station's change points of one fuel before `before` (Unix seconds), oldest first.
///
/// One row comes back, the points packed (see [`unpack_shifted`]): sqlx hands every SQLite row
/// from its worker thread to the request's task, and a chart over twenty years reads 1,500+
/// points.
pub async fn station_points(
    db: &Db,
    station: StationId,
    fuel: i16,
    before: i64,
) -> Result<Vec<(i64, i32)>, sqlx::Error> {
    let packed: Option<String> = crate::on_db!(db, p => sqlx::query_scalar(
        "SELECT string_agg(CAST(at * 16777216 + price AS TEXT), ',') FROM price_history \
         WHERE station_id = $1 AND fuel = $2 AND at < $3",
    )
    .bind(station)
    .bind(fuel)
    .bind(before)
    .fetch_one(p)
    .await)?;
    let mut out = Vec::new();
    unpack_shifted(packed.as_deref().unwrap_or_default(), &mut out)?;
    // No ORDER BY in the aggregate: SQLite would sort rows it reads in key order already.
    out.sort_unstable_by_key(|p| p.0);
    Ok(out)
}

/// The history points of one station and fuel from the one in force at `from` (the last point
/// at or before it, when there is one) to `to`, in time order: (Unix seconds, price).
pub async fn points_in_force_since(
    db: &Db,
    station: i64,
    fuel: i16,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, i32)>, sqlx::Error> {
    crate::on_db!(db, p => sqlx::query_as(
        "SELECT at, price FROM price_history WHERE station_id = $1 AND fuel = $2 AND at <= $3 \
           AND at >= (SELECT COALESCE(MAX(at), 0) FROM price_history WHERE station_id = $1 AND fuel = $2 AND at <= $4) \
         ORDER BY at",
    )
    .bind(station)
    .bind(fuel)
    .bind(to)
    .bind(from)
    .fetch_all(p)
    .await)
}

/// The fuels a station has history for (a station gone from the feed has no current price).
pub async fn station_fuels(db: &Db, station: StationId) -> Result<Vec<i16>, sqlx::Error> {
    crate::on_db!(db, p => sqlx::query_scalar::<_, i16>(
        "SELECT DISTINCT fuel FROM price_history WHERE station_id = $1 ORDER BY fuel",
    )
    .bind(station)
    .fetch_all(p)
    .await)
}

#[cfg(test)]
mod tests {
    use super::{Cell, cell_spans, json_param, packed_cell, unpack_shifted};

    #[test]
    fn json_params_are_the_lists_json_each_reads() {
        let keys: &[(i64, i16, i64, i64)] = &[(1_000_001, 2, -5, i64::MAX), (7, 0, 0, 1)];
        assert_eq!(json_param(keys).unwrap(), "[[1000001,2,-5,9223372036854775807],[7,0,0,1]]");
        assert_eq!(json_param(&[95_350_002_i64, -1][..]).unwrap(), "[95350002,-1]");
        assert_eq!(json_param(&[] as &[i64]).unwrap(), "[]");
    }

    #[test]
    fn cell_spans_run_from_first_to_last_day() {
        let c = Cell::of(&[(1_800, 1)]).expect("a cell");
        let rows =
            [(1, "75", 12, c, &[][..]), (1, "FR", 3, c, &[][..]), (1, "75", 10, c, &[][..]), (2, "75", 4, c, &[][..])];
        let spans: Vec<_> = cell_spans(&rows).into_iter().collect();
        assert_eq!(spans, vec![((1, "75"), (10, 12)), ((1, "FR"), (3, 3)), ((2, "75"), (4, 4))]);
    }

    /// What the packed statement's shifts and masks compute, on the packed values.
    #[test]
    fn packed_cells_unpack_to_themselves() {
        for (fuel, day, c) in [
            (1, 19_000, Cell { total: 1_799 * 9_000, stations: 9_000, min: 1_499, max: 2_199, p10: 1_650, p90: 1_900 }),
            (6, 0, Cell { total: 0, stations: 0, min: 0, max: 0, p10: 0, p90: 0 }),
            (5, 30_000, Cell { total: 3, stations: 2, min: 1, max: 2, p10: 1, p90: 2 }),
        ] {
            let (key, spread, sum, band) = packed_cell(&(fuel, "75", day, c, &[])).expect("fits");
            assert_eq!((key & 7, key >> 3), (i64::from(fuel), i64::from(day)));
            assert_eq!(
                (spread >> 40, (spread >> 20) & 1_048_575, spread & 1_048_575),
                (i64::from(c.stations), i64::from(c.min), i64::from(c.max))
            );
            assert_eq!((sum >> 20, sum & 1_048_575), (c.total, i64::from(c.average())));
            assert_eq!((band >> 20, band & 1_048_575), (i64::from(c.p10), i64::from(c.p90)));
        }
        let cell = Cell { total: 1, stations: 1, min: 1, max: 1, p10: 1, p90: 1 };
        assert!(packed_cell(&(8, "00", 1, cell, &[])).is_none());
        assert!(packed_cell(&(1, "00", -1, cell, &[])).is_none());
        assert!(packed_cell(&(1, "00", 1, Cell { max: 1 << 20, ..cell }, &[])).is_none());
        assert!(packed_cell(&(1, "00", 1, Cell { p90: 1 << 20, ..cell }, &[])).is_none());
    }

    #[test]
    fn shifted_points_read_back() {
        let mut out = Vec::new();
        let pack = |at: i64, price: i64| (at * 16_777_216 + price).to_string();
        let text =
            [pack(1_641_195_858, 1_572), pack(0, 0), pack(-86_400, 9_999), pack(4_102_444_800, 16_777_215)].join(",");
        unpack_shifted(&text, &mut out).unwrap();
        assert_eq!(out, [(1_641_195_858, 1_572), (0, 0), (-86_400, 9_999), (4_102_444_800, 16_777_215)]);
        unpack_shifted("", &mut out).unwrap();
        assert_eq!(out.len(), 4);
        assert!(unpack_shifted("12,x", &mut out).is_err());
    }
}
