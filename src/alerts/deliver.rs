//! Delivering the outbox: each due row is claimed (a conditional UPDATE under a lease, so two
//! processes never send one row), rendered and sent to its channel; then marked sent, or retried
//! with an exponential backoff, or given up. A channel failing for 7 days is paused and its owner
//! told by email. A process dying mid-send leaves the row claimed: another (or the next start)
//! takes it over when the lease ends. A test is tried once, never retried (each press of "send a
//! test" is one request at most); nothing is mailed to an address that is not confirmed.

use crate::db::alert_outbox::{self as q, Job};
use crate::domain::{ChannelKind, MessageKind};

use super::Alerts;
use super::ntfy::{NtfyMessage, publish};
use super::push::{PushMessage, PushOutcome, PushSettings};
use super::render::render;

/// How long a claimed row stays with its claimer.
pub const LEASE_SECS: i64 = 120;
/// A failing channel is paused after this.
pub const PAUSE_AFTER_SECS: i64 = 7 * 86_400;
/// A message is not retried past this age: an alert two days late is noise.
pub const GIVE_UP_AFTER_SECS: i64 = 2 * 86_400;
/// The error an email row gets when the account's address is not confirmed.
pub const UNCONFIRMED: &str = "the address is not confirmed yet";
/// Rows claimed per pass.
const PASS: i64 = 200;

/// Seconds before the next try after `attempts` failures: 1 min, 2, 4… up to 6 h.
pub fn backoff(attempts: i32) -> i64 {
    let n = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    (60i64 << n.min(9)).min(6 * 3600)
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub failed: usize,
    pub paused_channels: usize,
}

/// Delivers every row due at `now` that this process can claim.
pub async fn deliver_due(a: &Alerts, now: i64) -> Result<Delivered, sqlx::Error> {
    let mut out = Delivered::default();
    let mut seen = std::collections::HashSet::new();
    loop {
        let ids: Vec<_> = q::due(&a.db, now, PASS).await?.into_iter().filter(|id| seen.insert(*id)).collect();
        if ids.is_empty() {
            return Ok(out);
        }
        for id in ids {
            if !q::claim(&a.db, id, &a.holder, now, LEASE_SECS).await? {
                continue;
            }
            let Some(job) = q::job(&a.db, id).await? else { continue };
            match send(a, &job, now).await {
                Ok(()) => {
                    q::delivered(&a.db, &job, &a.holder, now).await?;
                    out.sent += 1;
                }
                Err(error) => {
                    tracing::warn!(outbox = id.get(), channel = job.channel_id.get(), kind = %job.channel_kind, %error, "alert delivery failed");
                    let retry = retried(&job, now).then(|| now + backoff(job.attempts));
                    let paused = q::failed(&a.db, &job, &a.holder, &error, retry, now, now - PAUSE_AFTER_SECS).await?;
                    out.failed += 1;
                    if paused {
                        out.paused_channels += 1;
                        tracing::warn!(channel = job.channel_id.get(), "alert channel paused after 7 days of failures");
                        if !job.email_confirmed {
                            tracing::info!(
                                channel = job.channel_id.get(),
                                "address not confirmed: the pause is not mailed"
                            );
                        } else if let Err(e) = super::email::channel_paused(&a.mailer, &a.public_url, &job).await {
                            tracing::warn!(error = %e, "could not tell the user their channel was paused");
                        }
                    }
                }
            }
        }
    }
}

/// Whether a failed row is tried again: not a test (its user sees the error and may press again,
/// within the limits), not a mail to an unconfirmed address, not past 12 attempts or 2 days.
fn retried(job: &Job, now: i64) -> bool {
    job.message_kind != MessageKind::Test
        && (job.channel_kind != ChannelKind::Email || job.email_confirmed)
        && now - job.created_at < GIVE_UP_AFTER_SECS
        && job.attempts < 12
}

/// Sends one claimed row. The error is what the user's channel shows: no secret in it.
async fn send(a: &Alerts, job: &Job, now: i64) -> Result<(), String> {
    let r = render(&a.db, &a.public_url, job, now).await.map_err(|e| format!("database: {e}"))?;
    match job.channel_kind {
        ChannelKind::Email if !job.email_confirmed => Err(UNCONFIRMED.to_owned()),
        ChannelKind::Email => super::email::send(&a.db, &a.mailer, &a.public_url, job, &r, now).await,
        ChannelKind::Ntfy => {
            let topic = job.target.as_deref().ok_or("no topic URL")?;
            let body = r.paragraphs.join("\n");
            let m = NtfyMessage {
                title: &r.subject,
                body: &body,
                priority: if job.message_kind == MessageKind::Alert { 4 } else { 3 },
                click: r.click.as_deref(),
            };
            publish(&a.allow, topic, job.secret.as_deref(), &m).await
        }
        ChannelKind::Push => {
            let settings = PushSettings { subject: a.public_url.clone(), allow: a.allow.clone() };
            let msg = PushMessage {
                title: r.subject.clone(),
                body: r.paragraphs.join("\n"),
                url: r.click.clone().unwrap_or_else(|| format!("{}/me/alerts", a.public_url)),
                tag: format!("carburoam-{}", job.message_id),
            };
            match super::push::deliver(&a.db, &a.http, &settings, job.user_id, &msg).await {
                Ok(PushOutcome::Delivered { .. } | PushOutcome::NoSubscription) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_then_stops() {
        assert_eq!(super::backoff(1), 60);
        assert_eq!(super::backoff(2), 120);
        assert_eq!(super::backoff(5), 960);
        assert_eq!(super::backoff(12), 6 * 3600);
    }
}
