//! The weekly digest: a scheduled job (one instance at a time, under the `alerts_digest` lease)
//! queues a message for each digest rule that is due, then moves the rule to its next
//! occurrence. The de-duplication record of (rule, occurrence) is written in the same
//! transaction as the message, so a replay never sends one week twice.

use crate::db::alert_outbox::{self as q, Occurrence};
use crate::db::{Db, leases};
use crate::domain::MessageKind;

use super::outbox::{DigestItem, DigestPayload};
use super::rules::next_digest;

pub const LEASE: &str = "alerts_digest";
const LEASE_SECS: i64 = 300;

/// Queues the digests due at `now`; returns how many were queued. `holder` takes the lease for
/// the length of the run (another instance skips this round).
pub async fn run_due(db: &Db, holder: &str, now: i64) -> Result<usize, sqlx::Error> {
    if !leases::try_acquire(db, LEASE, holder, now, LEASE_SECS).await? {
        return Ok(0);
    }
    let result = queue_due(db, now).await;
    if let Err(e) = leases::release(db, LEASE, holder).await {
        tracing::warn!(error = %e, "could not release the digest lease (it expires by itself)");
    }
    result
}

async fn queue_due(db: &Db, now: i64) -> Result<usize, sqlx::Error> {
    let mut queued = 0;
    for rule in q::due_digests(db, now, 1000).await? {
        let (Some(at), Some(day), Some(hour)) = (rule.f.next_run_at, rule.f.weekday, rule.f.hour) else { continue };
        let mut tx = db.begin().await?;
        let fresh = !rule.paused && q::insert_dedup(&mut tx, rule.id, Occurrence::Digest { at }, now).await?;
        if fresh {
            let item = DigestItem { rule: rule.id, at };
            q::enqueue(
                &mut tx,
                rule.user_id,
                MessageKind::Digest,
                &DigestPayload { items: vec![item] }.to_json(),
                now,
                None,
                now,
            )
            .await?;
            queued += 1;
        }
        q::advance_digest(&mut tx, rule.id, at, next_digest(day, hour, now.max(at))).await?;
        tx.commit().await?;
    }
    Ok(queued)
}
