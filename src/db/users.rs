//! `users` and `user_fuels`: accounts and their settings (failed logins: [`super::login_failures`]).

use crate::db::Db;
use crate::domain::UserId;
use crate::{on_db, on_tx};

/// An account as the pages show it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    /// The address as typed: confirmed, or waiting for confirmation (`email_confirmed`).
    pub email: String,
    pub email_confirmed: bool,
    pub is_admin: bool,
    pub disabled_at: Option<i64>,
    pub lang: String,
    pub litres_per_year: i32,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub password_changed_at: i64,
}

const USER_COLUMNS: &str = "id, username, display_name, email, email_confirmed, is_admin, disabled_at, lang, litres_per_year, \
     created_at, last_login_at, password_changed_at";

/// What a login needs to decide.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    pub id: UserId,
    pub password_hash: String,
    pub disabled_at: Option<i64>,
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    pub display_name: &'a str,
    pub email: &'a str,
    pub email_key: &'a str,
    /// Only an operator's account starts confirmed; a registration's address waits for its link.
    pub email_confirmed: bool,
    pub password_hash: &'a str,
    pub lang: &'a str,
    pub fuels: &'a [i16],
    pub now: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("username taken")]
    UsernameTaken,
    #[error("email taken")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Which unique key a failed insert or update ran into, if that was the failure.
fn unique_violation(e: &sqlx::Error) -> Option<InsertUserError> {
    let d = e.as_database_error()?;
    if !d.is_unique_violation() {
        return None;
    }
    // SQLite: "UNIQUE constraint failed: users.email_key"; PostgreSQL: "users_email_key_confirmed".
    let text = format!("{} {}", d.message(), d.constraint().unwrap_or(""));
    Some(if text.contains("email_key") { InsertUserError::EmailTaken } else { InsertUserError::UsernameTaken })
}

/// Creates an account and its fuels in one transaction.
pub async fn insert(db: &Db, u: &NewUser<'_>) -> Result<UserId, InsertUserError> {
    let mut tx = db.begin().await?;
    let inserted: Result<(UserId,), sqlx::Error> = on_tx!(&mut tx, c => sqlx::query_as(
        "INSERT INTO users (username, username_key, display_name, email, email_key, password_hash, lang, \
                            created_at, password_changed_at, last_login_at, email_confirmed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9) RETURNING id",
    )
    .bind(u.username)
    .bind(u.username_key)
    .bind(u.display_name)
    .bind(u.email)
    .bind(u.email_key)
    .bind(u.password_hash)
    .bind(u.lang)
    .bind(u.now)
    .bind(u.email_confirmed)
    .fetch_one(c)
    .await);
    let id = match inserted {
        Ok((id,)) => id,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(unique_violation(&e).unwrap_or(InsertUserError::Db(e)));
        }
    };
    for fuel in u.fuels {
        on_tx!(&mut tx, c => sqlx::query("INSERT INTO user_fuels (user_id, fuel) VALUES ($1, $2)")
            .bind(id)
            .bind(*fuel)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    Ok(id)
}

pub async fn by_id(db: &Db, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    on_db!(db, p => sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await)
}

/// The account a login name `key` (lower-cased) stands for: the account of that username; else
/// the account that confirmed that address; else the one account waiting to confirm it (none
/// when several are: an unconfirmed address names nobody for sure).
pub async fn by_login(db: &Db, key: &str) -> Result<Option<UserRow>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Ranked {
        rank: i32,
        #[sqlx(flatten)]
        user: UserRow,
    }
    let sql = format!(
        "SELECT {USER_COLUMNS}, CASE WHEN username_key = $1 THEN 0 WHEN email_confirmed THEN 1 ELSE 2 END AS rank \
         FROM users WHERE username_key = $1 OR email_key = $1 ORDER BY rank, id LIMIT 2"
    );
    let rows: Vec<Ranked> =
        on_db!(db, p => sqlx::query_as::<_, Ranked>(sqlx::AssertSqlSafe(sql)).bind(key).fetch_all(p).await)?;
    let mut rows = rows.into_iter();
    Ok(match (rows.next(), rows.next()) {
        (Some(first), _) if first.rank < 2 => Some(first.user),
        (Some(only), None) => Some(only.user),
        _ => None,
    })
}

/// The account that confirmed the address `email_key` (an unconfirmed address belongs to nobody).
pub async fn by_email(db: &Db, email_key: &str) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1 AND email_confirmed");
    on_db!(db, p => sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql)).bind(email_key).fetch_optional(p).await)
}

/// The accounts waiting to confirm the address `email_key`, oldest first.
pub async fn unconfirmed_with_email(db: &Db, email_key: &str) -> Result<Vec<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1 AND NOT email_confirmed ORDER BY id");
    on_db!(db, p => sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql)).bind(email_key).fetch_all(p).await)
}

/// Whether an account other than `user_id` confirmed the address `email_key`.
pub async fn confirmed_by_other(db: &Db, email_key: &str, user_id: UserId) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> = on_db!(db, p => sqlx::query_as(
        "SELECT id FROM users WHERE email_key = $1 AND email_confirmed AND id <> $2",
    )
    .bind(email_key)
    .bind(user_id)
    .fetch_optional(p)
    .await)?;
    Ok(row.is_some())
}

pub async fn credentials(db: &Db, id: UserId) -> Result<Option<Credentials>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as::<_, Credentials>(
        "SELECT id, password_hash, disabled_at FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(p)
    .await)
}

pub async fn record_login(db: &Db, id: UserId, now: i64) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "UPDATE users SET last_login_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// New password hash.
pub async fn set_password(db: &Db, id: UserId, hash: &str, now: i64) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3",
    )
    .bind(hash)
    .bind(now)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn update_profile(
    db: &Db,
    id: UserId,
    display_name: &str,
    lang: &str,
    litres_per_year: i32,
) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "UPDATE users SET display_name = $1, lang = $2, litres_per_year = $3 WHERE id = $4",
    )
    .bind(display_name)
    .bind(lang)
    .bind(litres_per_year)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A confirmed address (its link was followed): `EmailTaken` when another account confirmed it first.
pub async fn set_email(db: &Db, id: UserId, email: &str, email_key: &str) -> Result<(), InsertUserError> {
    let r = on_db!(db, p => sqlx::query("UPDATE users SET email = $1, email_key = $2, email_confirmed = TRUE WHERE id = $3")
        .bind(email)
        .bind(email_key)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()));
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(unique_violation(&e).unwrap_or(InsertUserError::Db(e))),
    }
}

/// The fuels a user follows, by fuel id.
pub async fn fuels(db: &Db, id: UserId) -> Result<Vec<i16>, sqlx::Error> {
    let rows: Vec<(i16,)> = on_db!(db, p => sqlx::query_as(
        "SELECT fuel FROM user_fuels WHERE user_id = $1 ORDER BY fuel",
    )
    .bind(id)
    .fetch_all(p)
    .await)?;
    Ok(rows.into_iter().map(|(f,)| f).collect())
}

pub async fn set_fuels(db: &Db, id: UserId, fuels: &[i16]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => sqlx::query("DELETE FROM user_fuels WHERE user_id = $1").bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    for fuel in fuels {
        on_tx!(&mut tx, c => sqlx::query("INSERT INTO user_fuels (user_id, fuel) VALUES ($1, $2)")
            .bind(id)
            .bind(*fuel)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    tx.commit().await
}

/// Erases the account; sessions, codes, fuels and followed stations go with it (ON DELETE CASCADE).
pub async fn delete(db: &Db, id: UserId) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, p => sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
