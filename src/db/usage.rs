//! Page views and API calls per UTC day and route pattern, for the admin console.
//!
//! The web layer counts requests in memory ([`crate::web::metrics::Metrics`]) and adds its
//! counts here about once a minute: one upsert per (day, route) instead of one write per request,
//! and nothing that identifies a visitor (no cookie, no address, no user) ever reaches the table.
//! Days are Unix seconds of UTC midnight ([`utc_day`]), so both backends compare plain integers.

use crate::db::{Backend, Db};
use crate::domain::DAY;
use crate::on_db;

/// How long daily counts are kept by default before the cleaning job deletes them: a little
/// more than a year, so this month can be compared with the same month last year.
pub const RETENTION_DAYS: i64 = 400;

/// Unix seconds of the UTC midnight that starts the day of `ts` (also Unix seconds).
pub fn utc_day(ts: i64) -> i64 {
    ts - ts.rem_euclid(DAY)
}

/// The first day kept when keeping `days` days up to the day of `now`: pass it to
/// [`delete_older_than`] or as the `since_day` of the reports.
pub fn days_back(now: i64, days: i64) -> i64 {
    utc_day(now).saturating_sub(days.saturating_sub(1).max(0).saturating_mul(DAY))
}

/// One counter to add: requests to `route` on `day`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// Unix seconds of UTC midnight (see [`utc_day`]).
    pub day: i64,
    /// The route pattern (`/stations/{id}`), never a concrete path.
    pub route: String,
    /// An API endpoint (as opposed to a page), shown apart in the console.
    pub api: bool,
    pub count: i64,
}

/// Adds the counts to the stored ones, creating missing rows, all in one transaction: a flush
/// is either fully counted or not at all (the caller keeps its counts for the next try), never
/// half counted. `rows` must not repeat a (day, route) pair: PostgreSQL refuses to update one row
/// twice in a statement.
pub async fn add(db: &Db, rows: &[UsageRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    crate::on_tx!(&mut tx, conn => {
        for chunk in rows.chunks(Backend::batch_rows(4)) {
            let sql = format!(
                "INSERT INTO usage_daily (day, route, api, count) VALUES {} \
                 ON CONFLICT (day, route) DO UPDATE SET count = usage_daily.count + excluded.count",
                super::values_placeholders(db.backend(), chunk.len(), 4)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q.bind(r.day).bind(r.route.as_str()).bind(r.api).bind(r.count);
            }
            q.execute(&mut *conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    })?;
    tx.commit().await
}

/// `(day, page views, API calls)` for each day from `since_day` on that has any count, oldest
/// first. Days without any request are absent: the caller fills the gaps of its chart.
pub async fn per_day(db: &Db, since_day: i64) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    // SUM of a BIGINT is a NUMERIC on PostgreSQL: cast back so both backends decode an i64.
    on_db!(db, p => {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT day, \
                    CAST(SUM(CASE WHEN api THEN 0 ELSE count END) AS BIGINT), \
                    CAST(SUM(CASE WHEN api THEN count ELSE 0 END) AS BIGINT) \
             FROM usage_daily WHERE day >= $1 GROUP BY day ORDER BY day",
        )
        .bind(since_day)
        .fetch_all(p)
        .await
    })
}

/// The `limit` most requested routes since `since_day`: `(route, api, requests)`, busiest first
/// (ties by route, so the order is stable between page loads).
pub async fn top_routes(db: &Db, since_day: i64, limit: i64) -> Result<Vec<(String, bool, i64)>, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query_as::<_, (String, bool, i64)>(
            "SELECT route, api, CAST(SUM(count) AS BIGINT) AS total FROM usage_daily WHERE day >= $1 \
             GROUP BY route, api ORDER BY total DESC, route LIMIT $2",
        )
        .bind(since_day)
        .bind(limit)
        .fetch_all(p)
        .await
    })
}

/// Deletes the counts of days before `day` (for the cleaning job; see [`RETENTION_DAYS`] and
/// [`days_back`]). Returns the number of rows deleted.
pub async fn delete_older_than(db: &Db, day: i64) -> Result<u64, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query("DELETE FROM usage_daily WHERE day < $1")
            .bind(day)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_midnights() {
        // 2024-03-10T23:59:59Z and 2024-03-10T00:00:00Z.
        assert_eq!(utc_day(1_710_115_199), 1_710_028_800);
        assert_eq!(utc_day(1_710_028_800), 1_710_028_800);
        assert_eq!(utc_day(-1), -DAY);
        assert_eq!(days_back(1_710_115_199, 1), 1_710_028_800);
        assert_eq!(days_back(1_710_115_199, 90), 1_710_028_800 - 89 * DAY);
    }
}
