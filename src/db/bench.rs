//! Questions only the benches ask: generated rows written in bulk, sizes and counts read back,
//! scratch PostgreSQL databases made and dropped.

use crate::db::{Backend, Checkpoint, Db, values_placeholders};
use crate::on_db;

/// One bound value of a generated row ([`insert_rows`]).
#[derive(Clone, Debug)]
pub enum Value {
    I(i64),
    F(f64),
    S(String),
    /// NULL of an integer or text column.
    N,
    /// NULL of a floating-point column. Not [`Value::N`]: PostgreSQL keeps each prepared
    /// statement with the types of its first binds, so a later batch of the same SQL binding an
    /// f64 where the first bound an i64 NULL sends the f64's bytes as an INT8 (43.7 read as
    /// 4.6e18): the place rules' coordinates came out garbage on PostgreSQL only.
    NF,
    B(bool),
}

/// A table the alerts bench fills, with the columns its generated rows carry in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generated {
    /// 10 columns.
    Users,
    /// 4 columns.
    Follows,
    /// 16 columns.
    Rules,
    /// 3 columns.
    Channels,
}

impl Generated {
    fn head(self) -> &'static str {
        match self {
            Generated::Users => {
                "INSERT INTO users (username, username_key, display_name, email, email_key, email_confirmed, \
                 password_hash, lang, created_at, password_changed_at)"
            }
            Generated::Follows => "INSERT INTO user_stations (user_id, station_id, position, added_at)",
            Generated::Rules => {
                "INSERT INTO alert_rules (user_id, kind, fuel, price, drop_by, latitude, longitude, radius_km, \
                 min_lat, max_lat, min_lon, max_lon, weekday, hour, next_run_at, created_at)"
            }
            Generated::Channels => "INSERT INTO alert_channels (user_id, kind, created_at)",
        }
    }
}

/// Writes generated `rows` into `table`, in multi-row statements.
pub async fn insert_rows<const W: usize>(db: &Db, table: Generated, rows: &[[Value; W]]) -> Result<(), sqlx::Error> {
    let backend = db.backend();
    for part in rows.chunks(Backend::batch_rows(W)) {
        let sql = format!("{} VALUES {}", table.head(), values_placeholders(backend, part.len(), W));
        on_db!(db, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in part {
                for v in row {
                    q = match v {
                        Value::I(i) => q.bind(*i),
                        Value::F(f) => q.bind(*f),
                        Value::S(s) => q.bind(s.clone()),
                        Value::N => q.bind(None::<i64>),
                        Value::NF => q.bind(None::<f64>),
                        Value::B(b) => q.bind(*b),
                    };
                }
            }
            q.execute(p).await?;
        });
    }
    Ok(())
}

/// Every station's id and position, by id.
pub async fn station_points(db: &Db) -> Result<Vec<(i64, f64, f64)>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as("SELECT id, latitude, longitude FROM stations ORDER BY id").fetch_all(p).await)
}

/// Every user's id, in order.
pub async fn user_ids(db: &Db) -> Result<Vec<i64>, sqlx::Error> {
    on_db!(db, p => sqlx::query_scalar("SELECT id FROM users ORDER BY id").fetch_all(p).await)
}

/// The planner's statistics over every table, with no sampling limit (unlike [`Db::analyze`]).
pub async fn analyze_all(db: &Db) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query("ANALYZE").execute(p).await.map(|_| ()))
}

/// Users, followed stations and alert rules stored.
pub async fn population(db: &Db) -> Result<(i64, i64, i64), sqlx::Error> {
    on_db!(db, p => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM user_stations), (SELECT COUNT(*) FROM alert_rules)",
    )
    .fetch_one(p)
    .await)
}

/// History points stored.
pub async fn history_points(db: &Db) -> Result<i64, sqlx::Error> {
    on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM price_history").fetch_one(p).await)
}

/// History points and stations stored.
pub async fn history_and_stations(db: &Db) -> Result<(i64, i64), sqlx::Error> {
    on_db!(db, p => sqlx::query_as("SELECT (SELECT COUNT(*) FROM price_history), (SELECT COUNT(*) FROM stations)")
        .fetch_one(p)
        .await)
}

/// The station with the most Gazole (fuel 1) history points: its id, the fuel and the count.
pub async fn busiest_gazole_chart(db: &Db) -> Result<Option<(i64, i16, i64)>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as(
        "SELECT station_id, fuel, COUNT(*) AS n FROM price_history WHERE fuel = 1 \
         GROUP BY station_id, fuel ORDER BY n DESC LIMIT 1",
    )
    .fetch_optional(p)
    .await)
}

/// The database's size in bytes: SQLite's pages once its log is folded in, PostgreSQL's
/// `pg_database_size`.
pub async fn size_bytes(db: &Db) -> Result<i64, sqlx::Error> {
    match db {
        Db::Sqlite(p) => {
            db.checkpoint(Checkpoint::Truncate).await?;
            sqlx::query_scalar("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
                .fetch_one(p)
                .await
        }
        Db::Postgres(p) => sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(p).await,
    }
}

/// A scratch database's name: letters, digits and `_` only, since it is written into the SQL.
fn checked_name(name: &str) -> Result<&str, sqlx::Error> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(name)
    } else {
        Err(sqlx::Error::Protocol(format!("not a scratch database name: {name:?}")))
    }
}

/// Creates the PostgreSQL database `name` from an `admin` connection (nothing on SQLite).
/// `replace` drops one of that name first.
pub async fn create_database(admin: &Db, name: &str, replace: bool) -> Result<(), sqlx::Error> {
    let name = checked_name(name)?;
    if let Db::Postgres(p) = admin {
        if replace {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(p).await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(p).await?;
    }
    Ok(())
}

/// Drops the PostgreSQL database `name`, closing its connections (nothing on SQLite).
pub async fn drop_database(admin: &Db, name: &str) -> Result<(), sqlx::Error> {
    let name = checked_name(name)?;
    if let Db::Postgres(p) = admin {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(p).await?;
    }
    Ok(())
}
