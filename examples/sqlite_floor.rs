//! The floor of a first snapshot's SQLite half, through SQLite's C API (issue 21's next step).
//!
//! Reads every row a first import wrote (stations, current prices, history points, daily
//! average cells) from a database that `carburoam import` filled, then writes the same rows into
//! a fresh copy of its schema the way the C API allows and sqlx does not: one prepared statement
//! per table, one row per step, no message to a worker thread. The order is the import's (each
//! station with its prices and points as the file streams, then the cells with their day index
//! built after), and so are the pragmas (`src/db/mod.rs`: WAL, `synchronous = NORMAL`, the
//! import's page cache, no foreign keys, no automatic checkpoint) and the single transaction. It
//! prints each part's time for ROUNDS rounds (5 by default); `docs/benchmarks.md` (session 18)
//! compares them with the import's own parts.
//!
//! ```sh
//! carburoam import --database sqlite:///tmp/first.db ../shared/data/instantane_2025-02-07T0730.zip
//! cargo run --release --example sqlite_floor -- /tmp/first.db /tmp/floor.db 5
//! ```
//!
//! rusqlite 0.39 links the same `libsqlite3-sys` 0.37 (the same SQLite) as sqlx.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use std::collections::HashMap;
use std::time::Instant;

const STATION_COLUMNS: &str = "id, latitude, longitude, postcode, department, city, address, road_type, \
     automate_24_24, opening_hours, services, content_hash, first_seen_at, last_seen_at, missing_since, updated_at, raw_hash";
const CELL_COLUMNS: &str = "fuel, area, day, average, stations, min_price, max_price, total, hist, p10, p90";

/// Every row of `sql`, each as its values.
fn rows(db: &Connection, sql: &str) -> rusqlite::Result<Vec<Vec<Value>>> {
    let mut statement = db.prepare(sql)?;
    let n = statement.column_count();
    statement.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())?.collect()
}

/// `INSERT INTO table (columns) VALUES (?1, …)`.
fn insert(table: &str, columns: &str) -> String {
    let marks: Vec<String> = (1..=columns.split(',').count()).map(|i| format!("?{i}")).collect();
    format!("INSERT INTO {table} ({columns}) VALUES ({})", marks.join(", "))
}

/// The positions in `rows` of each station's rows (the station's id first in each row).
fn by_station(rows: &[Vec<Value>]) -> HashMap<i64, Vec<usize>> {
    let mut at: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if let Some(Value::Integer(id)) = row.first() {
            at.entry(*id).or_default().push(i);
        }
    }
    at
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, filled, fresh, rest @ ..] = args.as_slice() else {
        return Err("usage: sqlite_floor FILLED_DB FRESH_DB [ROUNDS]".into());
    };
    let rounds: usize = rest.first().map(|r| r.parse()).transpose()?.unwrap_or(5);

    let source = Connection::open(filled)?;
    let stations = rows(&source, &format!("SELECT {STATION_COLUMNS} FROM stations ORDER BY rowid"))?;
    let prices = rows(&source, "SELECT station_id, fuel, price, updated_at FROM prices")?;
    let history = rows(&source, "SELECT station_id, fuel, at, price FROM price_history")?;
    let cells = rows(&source, &format!("SELECT {CELL_COLUMNS} FROM price_series ORDER BY fuel, area, day"))?;
    let schema: Vec<String> = source
        .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let (prices_of, history_of) = (by_station(&prices), by_station(&history));
    println!(
        "{} stations, {} prices, {} history points, {} cells",
        stations.len(),
        prices.len(),
        history.len(),
        cells.len()
    );

    for round in 1..=rounds {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{fresh}{suffix}"));
        }
        let db = Connection::open(fresh)?;
        for sql in &schema {
            db.execute_batch(sql)?;
        }
        db.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{}; \
             PRAGMA temp_store = memory; PRAGMA secure_delete = ON; PRAGMA foreign_keys = OFF; \
             PRAGMA wal_autocheckpoint = 0;",
            carburoam::db::IMPORT_CACHE_KIB
        ))?;

        let start = Instant::now();
        db.execute_batch("BEGIN IMMEDIATE")?;
        {
            let mut station = db.prepare(&insert("stations", STATION_COLUMNS))?;
            let mut price = db.prepare(&insert("prices", "station_id, fuel, price, updated_at"))?;
            let mut point = db.prepare(&insert("price_history", "station_id, fuel, at, price"))?;
            for row in &stations {
                station.execute(params_from_iter(row))?;
                let Some(Value::Integer(id)) = row.first() else { continue };
                for &i in prices_of.get(id).into_iter().flatten() {
                    price.execute(params_from_iter(&prices[i]))?;
                }
                for &i in history_of.get(id).into_iter().flatten() {
                    point.execute(params_from_iter(&history[i]))?;
                }
            }
        }
        let streamed = start.elapsed();
        db.execute_batch("DROP INDEX price_series_day")?;
        {
            let mut cell = db.prepare(&insert("price_series", CELL_COLUMNS))?;
            for row in &cells {
                cell.execute(params_from_iter(row))?;
            }
        }
        db.execute_batch("CREATE INDEX price_series_day ON price_series (fuel, day)")?;
        let averaged = start.elapsed();
        db.execute_batch("COMMIT")?;
        let committed = start.elapsed();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        println!(
            "round {round}: stations, prices and history {:.1} ms; cells and their index {:.1} ms; commit {:.1} ms; total {:.1} ms",
            ms(streamed),
            ms(averaged - streamed),
            ms(committed - averaged),
            ms(committed)
        );
    }
    Ok(())
}
