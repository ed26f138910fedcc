//! Turning triggers into messages: in ONE transaction per batch, each trigger's de-duplication
//! record, then per user one message (merged into the user's message still waiting, if any),
//! delayed to the end of quiet hours and counted against the daily cap, and its outbox rows.
//! A trigger whose record already exists (a second import, a second instance, a replay after a
//! crash) makes nothing.

use std::collections::BTreeMap;

use crate::db::alert_outbox::{self as q, Occurrence};
use crate::db::alerts::Settings;
use crate::db::{Db, Tx};
use crate::domain::{MessageKind, RuleId, RuleKind, StationId, UserId};

use super::rules::{paris_day, quiet_until};

/// One reason to tell a user something. Its identity is (rule, station, fuel, changed_at).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Item {
    pub rule: RuleId,
    pub kind: RuleKind,
    pub station: StationId,
    pub fuel: i16,
    pub old: i32,
    pub new: i32,
    pub at: i64,
    /// The rule's threshold, for the threshold kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<i32>,
    /// The saved route's name, for a threshold along a route (as it was named at the trigger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// What an alert message carries.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    #[serde(default)]
    pub items: Vec<Item>,
}

impl Payload {
    pub fn parse(s: &str) -> Payload {
        parse_or_default(s)
    }

    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

/// What a digest message carries: the rule and the occurrence it was queued for (its figures
/// are computed at delivery). The same `{"items": [...]}` shape as [`Payload`]; the fields of
/// an alert's trigger that digest rows hold as zeros (station, fuel, prices) are ignored.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DigestPayload {
    #[serde(default)]
    pub items: Vec<DigestItem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DigestItem {
    pub rule: RuleId,
    pub at: i64,
}

impl DigestPayload {
    pub fn parse(s: &str) -> DigestPayload {
        parse_or_default(s)
    }

    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

/// A stored payload that does not parse reads as an empty one: the message still goes out.
fn parse_or_default<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// What [`store`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Triggers already recorded before: dropped.
    pub duplicates: usize,
    pub messages: usize,
    pub merged: usize,
    /// Users over their daily cap: their triggers are recorded, not sent.
    pub capped: usize,
}

/// Stores `items` (several users) and, in the same transaction, deletes the changes
/// `changes` (the evaluated id range), so that a batch is consumed exactly once.
pub async fn store(
    db: &Db,
    items: BTreeMap<UserId, Vec<Item>>,
    changes: Option<(i64, i64)>,
    now: i64,
) -> Result<Stored, sqlx::Error> {
    let users: Vec<UserId> = items.keys().copied().collect();
    let settings: BTreeMap<UserId, Settings> = q::settings_of(db, &users)
        .await?
        .into_iter()
        .map(|(u, quiet_start, quiet_end, daily_cap)| (u, Settings { quiet_start, quiet_end, daily_cap }))
        .collect();
    let mut tx = db.begin().await?;
    let mut out = Stored::default();
    for (user, list) in items {
        let s = settings.get(&user).copied().unwrap_or_default();
        match store_user(&mut tx, user, list, s, now, &mut out).await {
            Ok(()) => {}
            Err(e) => {
                tx.rollback().await?;
                return Err(e);
            }
        }
    }
    if let Some((first, last)) = changes {
        q::delete_changes(&mut tx, first, last).await?;
    }
    tx.commit().await?;
    Ok(out)
}

async fn store_user(
    tx: &mut Tx,
    user: UserId,
    list: Vec<Item>,
    s: Settings,
    now: i64,
    out: &mut Stored,
) -> Result<(), sqlx::Error> {
    let mut fresh = Vec::with_capacity(list.len());
    for it in list {
        let what = Occurrence::Change { station: it.station, fuel: it.fuel, at: it.at };
        if q::insert_dedup(tx, it.rule, what, now).await? {
            fresh.push(it);
        } else {
            out.duplicates += 1;
        }
    }
    if fresh.is_empty() {
        return Ok(());
    }
    let deliver_after = quiet_until(&s, now).unwrap_or(now);
    if let Some((id, payload)) = q::open_message(tx, user, MessageKind::Alert).await? {
        let mut p = Payload::parse(&payload);
        p.items.extend(fresh.iter().cloned());
        if q::merge_into(tx, id, &p.to_json()).await? {
            out.merged += 1;
            return Ok(());
        }
    }
    if !q::take_daily_slot(tx, user, paris_day(deliver_after), s.daily_cap).await? {
        out.capped += 1;
        return Ok(());
    }
    let payload = Payload { items: fresh }.to_json();
    q::enqueue(tx, user, MessageKind::Alert, &payload, deliver_after, None, now).await?;
    out.messages += 1;
    Ok(())
}
