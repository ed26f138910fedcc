//! What is known of each feed URL between runs (`feed_sources`): the HTTP validators of its last
//! answer, when it was checked, and the SHA-256 of the last file imported from it.

use crate::db::Db;
use crate::on_db;

/// The stored validators of `url` (ETag, Last-Modified), or `None` when it was never fetched.
pub async fn validators(db: &Db, url: &str) -> Result<Option<(Option<String>, Option<String>)>, sqlx::Error> {
    on_db!(db, p => {
        sqlx::query_as("SELECT etag, last_modified FROM feed_sources WHERE url = $1")
            .bind(url)
            .fetch_optional(p)
            .await
    })
}

/// Records the state of `url` after a fetch: its validators (replaced, so a server that stops
/// sending an ETag is not sent a stale one) and the check time. `sha256: None` keeps the stored
/// hash: a 304 or a failed import says nothing about what was last imported.
pub async fn save_state(
    db: &Db,
    url: &str,
    etag: Option<&str>,
    last_modified: Option<&str>,
    sha256: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    on_db!(db, p => {
        sqlx::query(
            "INSERT INTO feed_sources (url, etag, last_modified, sha256, checked_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (url) DO UPDATE SET \
               etag = excluded.etag, \
               last_modified = excluded.last_modified, \
               sha256 = COALESCE(excluded.sha256, feed_sources.sha256), \
               checked_at = excluded.checked_at",
        )
        .bind(url)
        .bind(etag)
        .bind(last_modified)
        .bind(sha256)
        .bind(now)
        .execute(p)
        .await?;
    });
    Ok(())
}

/// SHA-256 (hex) of the last file imported from `url`: an identical download can be skipped
/// even when the server ignores conditional requests.
pub async fn last_sha256(db: &Db, url: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(Option<String>,)> = on_db!(db, p => {
        sqlx::query_as("SELECT sha256 FROM feed_sources WHERE url = $1")
            .bind(url)
            .fetch_optional(p)
            .await?
    });
    Ok(row.and_then(|(h,)| h))
}
