//! The price-alert part of `/me/export` (the account's data, downloadable): the user's alert settings, rules, channels and
//! push devices. Never a secret: an ntfy access token is only "token set", a push device only its
//! endpoint's host (the endpoint is a capability URL) and dates, never its keys.

use serde::Serialize;

use crate::db::{Db, alerts, push};
use crate::domain::{ChannelKind, Fuel, RuleId, RuleKind, SavedRouteId, UserId, rfc3339};

#[derive(Debug, Serialize)]
pub struct ExportAlerts {
    pub settings: ExportAlertSettings,
    pub rules: Vec<ExportRule>,
    pub channels: Vec<ExportChannel>,
    pub push_devices: Vec<ExportPushDevice>,
}

#[derive(Debug, Serialize)]
pub struct ExportAlertSettings {
    /// `HH:MM`, Europe/Paris; the same start and end: no quiet hours.
    pub quiet_start: String,
    pub quiet_end: String,
    pub daily_cap: i16,
}

#[derive(Debug, Serialize)]
pub struct ExportRule {
    pub id: RuleId,
    pub kind: RuleKind,
    pub fuel: Option<&'static str>,
    /// Thousandths of a euro.
    pub price_thousandths: Option<i32>,
    pub drop_thousandths: Option<i32>,
    pub place: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub radius_km: Option<f64>,
    /// A threshold along one of the user's saved routes (`routes[].id` of the export).
    pub saved_route_id: Option<SavedRouteId>,
    /// How far from that route a station may be, in km.
    pub corridor_km: Option<f64>,
    /// Digest: 1 = Monday … 7 = Sunday, and the hour (Europe/Paris).
    pub weekday: Option<i16>,
    pub hour: Option<i16>,
    pub paused: bool,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct ExportChannel {
    pub kind: ChannelKind,
    /// The ntfy topic URL (without any user:password part).
    pub target: Option<String>,
    /// An access token is stored (never exported).
    pub token_set: bool,
    pub paused: bool,
    pub created_at: String,
    pub last_delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub delivered_count: i64,
    pub failed_count: i64,
}

#[derive(Debug, Serialize)]
pub struct ExportPushDevice {
    pub endpoint_host: String,
    pub user_agent: String,
    pub created_at: String,
    pub last_success_at: Option<String>,
    pub last_error_at: Option<String>,
}

/// A URL without its credentials; an unparsable one is left out.
fn without_credentials(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    let _ = u.set_username("");
    let _ = u.set_password(None);
    Some(u.into())
}

pub async fn export(db: &Db, user_id: UserId) -> Result<ExportAlerts, sqlx::Error> {
    let s = alerts::settings(db, user_id).await?;
    let rules = alerts::rules(db, user_id)
        .await?
        .into_iter()
        .map(|r| ExportRule {
            id: r.id,
            kind: r.f.kind,
            fuel: r.f.fuel.and_then(|f| Fuel::from_id(i64::from(f))).map(Fuel::name),
            price_thousandths: r.f.price,
            drop_thousandths: r.f.drop_by,
            place: r.f.place,
            latitude: r.f.latitude,
            longitude: r.f.longitude,
            radius_km: r.f.radius_km,
            saved_route_id: r.f.route_id,
            corridor_km: r.f.corridor_km,
            weekday: r.f.weekday,
            hour: r.f.hour,
            paused: r.paused,
            created_at: rfc3339(r.created_at),
        })
        .collect();
    let channels = alerts::channels(db, user_id)
        .await?
        .into_iter()
        .map(|c| ExportChannel {
            target: c.target.as_deref().and_then(without_credentials),
            token_set: c.secret.as_deref().is_some_and(|t| !t.is_empty()),
            kind: c.kind,
            paused: c.paused,
            created_at: rfc3339(c.created_at),
            last_delivered_at: c.last_delivered_at.map(rfc3339),
            last_error: c.last_error,
            last_error_at: c.last_error_at.map(rfc3339),
            delivered_count: c.delivered_count,
            failed_count: c.failed_count,
        })
        .collect();
    let push_devices = push::for_user(db, user_id)
        .await?
        .into_iter()
        .map(|d| ExportPushDevice {
            endpoint_host: url::Url::parse(&d.endpoint)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default(),
            user_agent: d.user_agent,
            created_at: rfc3339(d.created_at),
            last_success_at: d.last_success_at.map(rfc3339),
            last_error_at: d.last_error_at.map(rfc3339),
        })
        .collect();
    Ok(ExportAlerts {
        settings: ExportAlertSettings {
            quiet_start: crate::domain::Lang::hhmm(u16::try_from(s.quiet_start).unwrap_or(0)),
            quiet_end: crate::domain::Lang::hhmm(u16::try_from(s.quiet_end).unwrap_or(0)),
            daily_cap: s.daily_cap,
        },
        rules,
        channels,
        push_devices,
    })
}
