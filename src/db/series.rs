//! The stored daily averages (`price_series`, migration 0009): kept up to date by every import,
//! inside its transaction, for the days it touched ([`refresh`]); read by the trends API and
//! pages. The computation itself is [`crate::domain::series`].
//!
//! What an import touches: every history point it inserts or deletes moves the days
//! `D..=D+30` of its fuel (see [`crate::domain::series`]); a snapshot also moves its own day
//! (prices age out even when nothing changes), and so does every day between the last stored
//! one and it. An empty series (a new database, or one that had history before this table
//! existed) is computed whole by the first import, or by `carburoam series rebuild`.

use std::collections::HashMap;

use futures_util::TryStreamExt;

use crate::db::{Backend, Db, Tx, values_placeholders};
use crate::domain::series::{self, DailyAverages, Day, NATIONAL};
use crate::on_tx;

/// The longest piece computed at once: a year and a month of one fuel, so that memory stays
/// bounded (the points of one piece are streamed; the cells are ~100 areas × 400 days).
const PIECE_DAYS: Day = 400;

/// Bits per fuel: days 0..2^17 (up to the year 2328); a day outside is clamped to the edge.
const DAY_BITS: usize = 1 << 17;

/// The days an import touched, per fuel: filled by the loader for every history point it
/// writes or deletes. A bit set per fuel and day, so marking costs a shift and an OR.
#[derive(Default)]
pub struct Touched {
    bits: Vec<Vec<u64>>,
    max_at: Option<i64>,
}

impl Touched {
    /// A history point of `fuel` at `at` (Unix seconds) was written or deleted.
    #[inline]
    pub fn mark(&mut self, fuel: i16, at: i64) {
        let Ok(f) = usize::try_from(fuel) else { return };
        if f > 6 {
            return;
        }
        if self.bits.is_empty() {
            self.bits = vec![Vec::new(); 7];
        }
        let words = &mut self.bits[f];
        if words.is_empty() {
            *words = vec![0; DAY_BITS / 64];
        }
        // Paris is UTC+1 or UTC+2: its calendar day is one of these two (almost always both).
        for offset in [3600, 7200] {
            let day = (at + offset).div_euclid(86_400).clamp(0, DAY_BITS as i64 - 1) as usize;
            words[day / 64] |= 1u64 << (day % 64);
        }
        self.max_at = Some(self.max_at.map_or(at, |m| m.max(at)));
    }

    pub fn is_empty(&self) -> bool {
        self.max_at.is_none()
    }

    fn days(&self, fuel: i16) -> Vec<Day> {
        let Some(words) = usize::try_from(fuel).ok().and_then(|f| self.bits.get(f)) else { return Vec::new() };
        let mut out = Vec::new();
        for (w, &word) in words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                out.push((w * 64 + b) as Day);
                bits &= bits - 1;
            }
        }
        out
    }
}

/// What a refresh did (for logs and benchmarks).
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
}

/// Recomputes the days `touched` moves (and, for a `snapshot` at that Unix time, the days up to
/// its own), inside the import's transaction. On an empty series, computes every day of the
/// history.
pub async fn refresh(tx: &mut Tx, touched: &Touched, snapshot: Option<i64>) -> Result<Refreshed, sqlx::Error> {
    let started = std::time::Instant::now();
    let mut done = refresh_inner(tx, touched, snapshot).await?;
    done.elapsed = started.elapsed();
    Ok(done)
}

async fn refresh_inner(tx: &mut Tx, touched: &Touched, snapshot: Option<i64>) -> Result<Refreshed, sqlx::Error> {
    lock(tx).await?;
    let any: Option<i16> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT fuel FROM price_series LIMIT 1").fetch_optional(&mut *conn).await?
    });
    if any.is_none() {
        return compute_all(tx, snapshot).await;
    }
    if touched.is_empty() && snapshot.is_none() {
        return Ok(Refreshed::default());
    }
    let mut last: HashMap<i16, Day> = HashMap::new();
    for fuel in crate::domain::Fuel::ALL {
        let day: Option<i32> = on_tx!(tx, conn => {
            sqlx::query_scalar("SELECT MAX(day) FROM price_series WHERE fuel = $1 AND area = $2")
                .bind(fuel.id())
                .bind(NATIONAL)
                .fetch_one(&mut *conn)
                .await?
        });
        if let Some(d) = day {
            last.insert(fuel.id(), d);
        }
    }
    let cap = [touched.max_at.map(series::day_of), last.values().max().copied(), snapshot.map(series::day_of)]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
    let mut plan = Vec::new();
    for fuel in crate::domain::Fuel::ALL {
        let mut intervals = series::reach(touched.days(fuel.id()), cap);
        if let Some(&l) = last.get(&fuel.id())
            && l < cap
        {
            intervals.push((l + 1, cap));
        }
        plan.push((fuel.id(), series::merge(intervals)));
    }
    compute(tx, &plan).await
}

/// Deletes the whole series and computes it again from the history, in `tx`.
pub async fn rebuild(tx: &mut Tx) -> Result<Refreshed, sqlx::Error> {
    let started = std::time::Instant::now();
    lock(tx).await?;
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM price_series").execute(&mut *conn).await?;
    });
    let mut done = compute_all(tx, None).await?;
    done.elapsed = started.elapsed();
    Ok(done)
}

/// Serialises refreshes: the row lock of `price_series_state` is held until `tx` ends (SQLite
/// transactions are serialised anyway). Taken after the import's own writes, so on PostgreSQL
/// a second import waits here for the first to commit, then reads its history too.
async fn lock(tx: &mut Tx) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE price_series_state SET refreshed_at = $1 WHERE id = 1")
            .bind(crate::db::now())
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

async fn compute_all(tx: &mut Tx, snapshot: Option<i64>) -> Result<Refreshed, sqlx::Error> {
    let (min, max): (Option<i64>, Option<i64>) = on_tx!(tx, conn => {
        sqlx::query_as("SELECT MIN(at), MAX(at) FROM price_history").fetch_one(&mut *conn).await?
    });
    let (Some(min), Some(max)) = (min, max) else { return Ok(Refreshed::default()) };
    let cap = series::day_of(max).max(snapshot.map_or(Day::MIN, series::day_of));
    let plan: Vec<(i16, Vec<(Day, Day)>)> =
        crate::domain::Fuel::ALL.iter().map(|f| (f.id(), vec![(series::day_of(min), cap)])).collect();
    compute(tx, &plan).await
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
    let backend = tx.backend();
    for part in out.chunks(Backend::batch_rows(7)) {
        let sql = format!(
            "INSERT INTO price_series (fuel, area, day, average, stations, min_price, max_price) VALUES {} \
             ON CONFLICT (fuel, area, day) DO UPDATE SET average = excluded.average, stations = excluded.stations, \
             min_price = excluded.min_price, max_price = excluded.max_price",
            values_placeholders(backend, part.len(), 7)
        );
        on_tx!(tx, conn => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (area, day, s) in part {
                let area = area.and_then(|a| areas.get(a)).map_or(NATIONAL, String::as_str);
                q = q.bind(fuel).bind(area).bind(*day).bind(s.average).bind(s.stations).bind(s.min).bind(s.max);
            }
            q.execute(&mut *conn).await?;
        });
    }
    Ok(Refreshed { points: read, rows: out.len(), ..Refreshed::default() })
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
}

/// The days `from..=to` of one fuel and area (a département code or [`NATIONAL`]), in order.
///
/// One row comes back, the days packed as `day,average,stations,min,max;…`: a chart over
/// twenty years reads 7,000+ days, and one row per day cost a thread handoff each (see
/// [`station_points`]).
pub async fn days(db: &Db, fuel: i16, area: &str, from: Day, to: Day) -> Result<Vec<SeriesRow>, sqlx::Error> {
    const SQL: &str = "SELECT string_agg(CAST(day AS TEXT) || ',' || CAST(average AS TEXT) || ',' \
         || CAST(stations AS TEXT) || ',' || CAST(min_price AS TEXT) || ',' || CAST(max_price AS TEXT), ';') \
         FROM price_series WHERE fuel = $1 AND area = $2 AND day >= $3 AND day <= $4";
    let packed = packed_days(db, SQL, fuel, area, from, to).await?;
    let bad = || sqlx::Error::Decode(format!("malformed packed series near {:?}", packed.get(..40)).into());
    let mut out = Vec::with_capacity(packed.len() / 24 + 1);
    for item in packed.split(';').filter(|i| !i.is_empty()) {
        let mut v = [0i32; 5];
        let mut fields = item.split(',');
        for slot in &mut v {
            *slot = fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad)?;
        }
        if fields.next().is_some() {
            return Err(bad());
        }
        out.push(SeriesRow { day: v[0], average: v[1], stations: v[2], min_price: v[3], max_price: v[4] });
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
pub async fn station_points(db: &Db, station: i64, fuel: i16, before: i64) -> Result<Vec<(i64, i32)>, sqlx::Error> {
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

/// The fuels a station has history for (a station gone from the feed has no current price).
pub async fn station_fuels(db: &Db, station: i64) -> Result<Vec<i16>, sqlx::Error> {
    crate::on_db!(db, p => sqlx::query_scalar::<_, i16>(
        "SELECT DISTINCT fuel FROM price_history WHERE station_id = $1 ORDER BY fuel",
    )
    .bind(station)
    .fetch_all(p)
    .await)
}

#[cfg(test)]
mod tests {
    use super::unpack_shifted;

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
