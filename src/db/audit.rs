//! `audit_log`: what administrators did, newest first. Names are copied into each row, so the
//! log outlives the accounts it mentions.

use crate::db::Db;
use crate::domain::{AuditId, UserId};
use crate::on_db;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AuditRow {
    pub id: AuditId,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target_id: Option<UserId>,
    pub target: Option<String>,
    pub detail: Option<String>,
}

pub struct Entry<'a> {
    pub at: i64,
    pub actor_id: Option<UserId>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target_id: Option<UserId>,
    pub target: Option<&'a str>,
    pub detail: Option<&'a str>,
}

pub async fn record(db: &Db, e: &Entry<'_>) -> Result<(), sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor, action, target_id, target, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.at)
    .bind(e.actor_id)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.target_id)
    .bind(e.target)
    .bind(e.detail)
    .execute(p)
    .await
    .map(|_| ()))
}

/// The latest entries, all of them or only those about one user.
pub async fn recent(db: &Db, target_id: Option<UserId>, limit: i64) -> Result<Vec<AuditRow>, sqlx::Error> {
    match target_id {
        Some(id) => on_db!(db, p => sqlx::query_as::<_, AuditRow>(
            "SELECT id, at, actor, action, target_id, target, detail FROM audit_log WHERE target_id = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(p)
        .await),
        None => on_db!(db, p => sqlx::query_as::<_, AuditRow>(
            "SELECT id, at, actor, action, target_id, target, detail FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(p)
        .await),
    }
}
