//! `/me/alerts`: the user's price alerts (rules), where they arrive (channels, each with "send a
//! test", its last delivery and last error), quiet hours and the daily cap. Every form works
//! without JavaScript and is CSRF-checked by the session layer; every statement is scoped by the
//! signed-in user's id, so another user's ids are a 404. And `/alerts/unsubscribe/{token}`: the
//! one-click unsubscribe of the emails (RFC 8058), without login: GET shows a button, POST pauses
//! the token's rules only.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::alerts::deliver;
use crate::alerts::ntfy::{MAX_TOKEN_LEN, parse_token};
use crate::alerts::outbox::Payload;
use crate::alerts::rules::paris_day;
use crate::alerts::rules::{self, Problem, RuleForm, show_time};
use crate::alerts::target::{MAX_URL_LEN, TargetError};
use crate::auth::secret;
use crate::db::alerts::{self as q, Rule, Settings};
use crate::db::{alert_outbox, users};
use crate::domain::{ChannelId, ChannelKind, Fuel, MessageKind, RuleId, RuleKind, SavedRouteId, UserId};
use crate::error::AppError;
use crate::index::places;
use crate::text::AlertStrings;
use crate::web::extract::PagePath;
use crate::web::form::{Form, no_store, query_param, see_other};
use crate::web::i18n::Lang;
use crate::web::page::{HtmlResult, Layout, freshness, layout, place_index, render};
use crate::web::routes::me::alerts_route::{self as along, RouteChoice};
use crate::web::routes::me::push::PushBlock;
use crate::web::session::SignedIn;
use crate::web::state::AppState;

pub struct RuleView {
    pub id: RuleId,
    pub text: String,
    pub paused: bool,
}

/// The rule form: typed values and problems.
#[derive(Default)]
pub struct RuleFormView {
    pub action: String,
    pub editing: bool,
    pub kind: String,
    pub fuel: String,
    pub price: String,
    pub near_place: bool,
    pub place: String,
    pub radius: String,
    /// Along a saved route, and which (its id as posted).
    pub near_route: bool,
    pub route: String,
    /// Km each side of the route, as typed.
    pub corridor: String,
    pub drop_cents: String,
    pub weekday: String,
    pub hour: String,
    pub errors: Vec<String>,
}

pub struct ChannelView {
    pub id: ChannelId,
    pub kind: ChannelKind,
    pub label: &'static str,
    pub detail: String,
    pub paused: bool,
    pub has_token: bool,
    pub delivered: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "me/alerts.html")]
pub struct AlertsPage {
    pub l: Layout,
    pub t: &'static AlertStrings,
    pub message: Option<String>,
    pub message_is_error: bool,
    pub rules: Vec<RuleView>,
    pub form: RuleFormView,
    pub channels: Vec<ChannelView>,
    pub has_email: bool,
    /// The account's address waits for confirmation: nothing is mailed to it.
    pub email_unconfirmed: bool,
    pub ntfy_url: String,
    pub ntfy_has_token: bool,
    pub channel_error: Option<String>,
    pub quiet_start: String,
    pub quiet_end: String,
    pub cap: String,
    pub settings_error: Option<String>,
    pub fuels: Vec<&'static str>,
    pub days: Vec<(i16, &'static str)>,
    pub kinds: Vec<(&'static str, &'static str)>,
    /// The user's saved routes, for a threshold along one of them.
    pub routes: Vec<RouteChoice>,
    pub push: PushBlock,
}

/// A rule in words; `routes`: the user's saved routes' names (for a threshold along one).
fn describe(lang: Lang, r: &Rule, routes: &HashMap<SavedRouteId, String>) -> String {
    let t = lang.texts().alerts;
    let fuel = r.f.fuel.and_then(|f| Fuel::from_id(i64::from(f))).map_or("?", Fuel::name);
    match r.f.kind {
        RuleKind::Threshold => {
            let place = match (&r.f.place, r.f.radius_km, r.f.route_id) {
                (_, _, Some(id)) => (t.where_route_short)(
                    routes.get(&id).map_or("?", String::as_str),
                    &lang.km(r.f.corridor_km.unwrap_or(crate::route::DEFAULT_CORRIDOR_KM)),
                ),
                (Some(p), Some(km), None) => (t.where_place_short)(&lang.km(km), p),
                _ => t.where_mine_short.to_owned(),
            };
            (t.describe_threshold)(fuel, &lang.price(r.f.price.unwrap_or(0)), &place)
        }
        RuleKind::Drop => (t.describe_drop)(fuel, &lang.price(r.f.drop_by.unwrap_or(0))),
        RuleKind::Cheapest => (t.describe_cheapest)(fuel),
        RuleKind::Digest => (t.describe_digest)(
            lang.day_name(u8::try_from(r.f.weekday.unwrap_or(1)).unwrap_or(1)),
            &show_time(r.f.hour.unwrap_or(8) * 60),
        ),
    }
}

fn kind_label(t: &AlertStrings, kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Email => t.channel_email,
        ChannelKind::Ntfy => t.channel_ntfy,
        ChannelKind::Push => t.channel_push,
    }
}

fn outcome(t: &AlertStrings, code: Option<&str>) -> Option<(String, bool)> {
    let m = match code? {
        "created" => t.msg_created,
        "saved" => t.msg_saved,
        "deleted" => t.msg_deleted,
        "paused" => t.msg_paused,
        "resumed" => t.msg_resumed,
        "test" => t.msg_test_queued,
        "full" => return Some((t.msg_too_many.to_owned(), true)),
        _ => return None,
    };
    Some((m.to_owned(), false))
}

/// Whatever the page shows besides what a failed form brings back.
struct Extra {
    /// An outcome to show as an error (instead of the query string's).
    error: Option<String>,
    form: Option<RuleFormView>,
    channel_error: Option<(String, String)>,
    settings: Option<(String, String, String, String)>,
    status: StatusCode,
}

impl Extra {
    fn none() -> Extra {
        Extra { error: None, form: None, channel_error: None, settings: None, status: StatusCode::OK }
    }
}

async fn page(
    state: &AppState,
    lang: Lang,
    user: &SignedIn,
    raw: &Option<String>,
    extra: Extra,
) -> HtmlResult<Response> {
    let t = lang.texts().alerts;
    let uid = user.user_id;
    let (account, list, channels, settings) = tokio::try_join!(
        users::by_id(&state.db, uid),
        q::rules(&state.db, uid),
        q::channels(&state.db, uid),
        q::settings(&state.db, uid),
    )?;
    let routes = along::choices(&state.db, uid).await?;
    let route_names: HashMap<SavedRouteId, String> =
        routes.iter().filter_map(|c| Some((c.id.parse().ok()?, c.name.clone()))).collect();
    let Some(account) = account else {
        return Err(AppError::not_found("account").into());
    };
    let now = crate::db::now();
    let form = match extra.form {
        Some(f) => f,
        None => match query_param(raw, "edit").and_then(|v| v.parse::<RuleId>().ok()) {
            Some(id) => {
                let r = list.iter().find(|r| r.id == id).ok_or_else(|| AppError::not_found(format!("alert {id}")))?;
                RuleFormView {
                    action: format!("/me/alerts/rules/{id}/save"),
                    editing: true,
                    kind: r.f.kind.as_str().to_owned(),
                    fuel: r.f.fuel.and_then(|f| Fuel::from_id(i64::from(f))).map_or("", Fuel::name).to_owned(),
                    price: r.f.price.map(|p| format!("{:.3}", f64::from(p) / 1000.0)).unwrap_or_default(),
                    near_place: r.f.latitude.is_some(),
                    near_route: r.f.route_id.is_some(),
                    route: r.f.route_id.map(|id| id.to_string()).unwrap_or_default(),
                    corridor: corridor_text(r.f.corridor_km.unwrap_or(crate::route::DEFAULT_CORRIDOR_KM)),
                    place: r.f.place.clone().unwrap_or_default(),
                    radius: r.f.radius_km.map(|k| format!("{k}")).unwrap_or_else(|| "10".into()),
                    drop_cents: r.f.drop_by.map(|d| (d / 10).to_string()).unwrap_or_else(|| "5".into()),
                    weekday: r.f.weekday.map(|d| d.to_string()).unwrap_or_else(|| "1".into()),
                    hour: r.f.hour.map(|h| h.to_string()).unwrap_or_else(|| "8".into()),
                    errors: Vec::new(),
                }
            }
            None => new_form(),
        },
    };
    let ntfy = channels.iter().find(|c| c.kind == ChannelKind::Ntfy);
    let (message, message_is_error) = match extra.error {
        Some(e) => (Some(e), true),
        None => outcome(t, query_param(raw, "msg").as_deref()).map_or((None, false), |(m, e)| (Some(m), e)),
    };
    let views = channels
        .iter()
        .map(|c| ChannelView {
            id: c.id,
            kind: c.kind,
            label: kind_label(t, c.kind),
            detail: match c.kind {
                ChannelKind::Email => (t.email_to)(&account.email),
                ChannelKind::Ntfy => c.target.clone().unwrap_or_default(),
                ChannelKind::Push => String::new(),
            },
            paused: c.paused,
            has_token: c.secret.is_some(),
            delivered: c
                .last_delivered_at
                .map_or(t.never_delivered.to_owned(), |at| (t.last_delivered)(&lang.ago(now, at))),
            error: c.last_error.as_deref().map(|e| {
                let e = if e == deliver::UNCONFIRMED { t.err_unconfirmed } else { e };
                (t.last_error)(&lang.ago(now, c.last_error_at.unwrap_or(now)), e)
            }),
        })
        .collect();
    let (qs, qe, cap, settings_error) = match extra.settings {
        Some((a, b, c, e)) => (a, b, c, Some(e)),
        None => (show_time(settings.quiet_start), show_time(settings.quiet_end), settings.daily_cap.to_string(), None),
    };
    let f = freshness(state).await?;
    let l = layout(lang, format!("{} — Carburoam", t.title), "me", "/me/alerts".into(), &f);
    // "Notifications on this device" (Web Push), with its own notices (`?push=…`).
    let push = PushBlock::load(state, lang, uid, &l.viewer.csrf, "/me/alerts", raw).await?;
    let resp = render(&AlertsPage {
        l,
        push,
        t,
        message,
        message_is_error,
        rules: list
            .iter()
            .map(|r| RuleView { id: r.id, text: describe(lang, r, &route_names), paused: r.paused })
            .collect(),
        routes,
        form,
        has_email: channels.iter().any(|c| c.kind == ChannelKind::Email),
        email_unconfirmed: !account.email_confirmed,
        ntfy_url: extra
            .channel_error
            .as_ref()
            .map(|e| e.0.clone())
            .or_else(|| ntfy.and_then(|c| c.target.clone()))
            .unwrap_or_default(),
        ntfy_has_token: ntfy.is_some_and(|c| c.secret.is_some()),
        channel_error: extra.channel_error.map(|e| e.1),
        channels: views,
        quiet_start: qs,
        quiet_end: qe,
        cap,
        settings_error,
        fuels: Fuel::ALL.iter().map(|f| f.name()).collect(),
        days: (1..=7).map(|d| (d, lang.day_name(d as u8))).collect(),
        kinds: RuleKind::ALL
            .iter()
            .map(|k| {
                (
                    k.as_str(),
                    match k {
                        RuleKind::Threshold => t.kind_threshold,
                        RuleKind::Drop => t.kind_drop,
                        RuleKind::Cheapest => t.kind_cheapest,
                        RuleKind::Digest => t.kind_digest,
                    },
                )
            })
            .collect(),
    })?;
    let mut resp = no_store(resp);
    *resp.status_mut() = extra.status;
    Ok(resp)
}

/// A corridor's width as the form shows it (`3`, `2.5`).
fn corridor_text(km: f64) -> String {
    format!("{km}")
}

fn new_form() -> RuleFormView {
    RuleFormView {
        action: "/me/alerts/rules".into(),
        kind: "threshold".into(),
        fuel: "Gazole".into(),
        radius: "10".into(),
        corridor: corridor_text(crate::route::DEFAULT_CORRIDOR_KM),
        drop_cents: "5".into(),
        weekday: "1".into(),
        hour: "8".into(),
        ..RuleFormView::default()
    }
}

#[tracing::instrument(skip_all, fields(user_id = user.user_id.get()))]
pub async fn alerts_page(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    page(&state, lang, &user, &raw, Extra::none()).await
}

/// The rule form as posted; [`rules::check`] turns it into a rule or per-field problems.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RuleBody {
    kind: String,
    fuel: String,
    price: String,
    drop: String,
    #[serde(rename = "where")]
    near: Near,
    place: String,
    radius: String,
    /// The saved route's id (`where=route`).
    route: String,
    /// Km each side of the route (`where=route`).
    corridor: String,
    weekday: String,
    hour: String,
}

/// Where a threshold rule looks (`where` in the rule form). A value the form never sends, or
/// none, is the user's own stations, as the form's first choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Near {
    Place,
    Route,
    #[default]
    #[serde(other)]
    Mine,
}

/// The ntfy channel form.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ChannelBody {
    url: String,
    token: String,
    #[serde(deserialize_with = "crate::web::form::de::checked")]
    clear_token: bool,
}

/// Quiet hours and the daily cap.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SettingsBody {
    quiet_start: String,
    quiet_end: String,
    cap: String,
}

/// Reads and checks the rule form; the place is looked up in the place index, the route among
/// the user's saved routes (another user's: a 404).
async fn read_rule(
    state: &AppState,
    lang: Lang,
    uid: UserId,
    form: &RuleBody,
    action: String,
    editing: bool,
) -> Result<Result<q::RuleFields, RuleFormView>, AppError> {
    let t = lang.texts().alerts;
    let near_place = form.near == Near::Place;
    let near_route = form.near == Near::Route;
    let route = if near_route { along::owned(&state.db, uid, form.route.as_str()).await? } else { None };
    let place = if near_place && !form.place.as_str().trim().is_empty() {
        let index = place_index(state).await?;
        places::resolve(&index, form.place.as_str(), 1).first().map(|p| (p.label.clone(), p.latitude, p.longitude))
    } else {
        None
    };
    let typed = RuleForm {
        kind: form.kind.as_str(),
        fuel: form.fuel.as_str(),
        price: form.price.as_str(),
        drop_cents: form.drop.as_str(),
        near_place,
        place,
        radius_km: form.radius.as_str(),
        near_route,
        route,
        corridor_km: form.corridor.as_str(),
        weekday: form.weekday.as_str(),
        hour: form.hour.as_str(),
    };
    Ok(rules::check(&typed, crate::db::now()).map_err(|problems| RuleFormView {
        action,
        editing,
        kind: form.kind.as_str().to_owned(),
        fuel: form.fuel.as_str().to_owned(),
        price: form.price.as_str().to_owned(),
        near_place,
        near_route,
        route: form.route.as_str().to_owned(),
        corridor: form.corridor.as_str().to_owned(),
        place: form.place.as_str().to_owned(),
        radius: form.radius.as_str().to_owned(),
        drop_cents: form.drop.as_str().to_owned(),
        weekday: form.weekday.as_str().to_owned(),
        hour: form.hour.as_str().to_owned(),
        errors: problems
            .into_iter()
            .map(|p| {
                match p {
                    Problem::Kind => t.err_kind,
                    Problem::Fuel => t.err_fuel,
                    Problem::Price => t.err_price,
                    Problem::Drop => t.err_drop,
                    Problem::Place => t.err_place,
                    Problem::Radius => t.err_radius,
                    Problem::Route => t.err_route,
                    Problem::Corridor => t.err_corridor,
                    Problem::Weekday => t.err_weekday,
                    Problem::Hour => t.err_hour,
                }
                .to_owned()
            })
            .collect(),
    }))
}

/// Alerts go somewhere: the account's address unless the user chose otherwise.
async fn ensure_a_channel(state: &AppState, uid: UserId) -> Result<(), AppError> {
    if q::channels(&state.db, uid).await?.is_empty() {
        q::save_channel(&state.db, uid, ChannelKind::Email, None, None, false, crate::db::now()).await?;
    }
    Ok(())
}

pub async fn create_rule(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    Form(form): Form<RuleBody>,
) -> HtmlResult<Response> {
    match read_rule(&state, lang, user.user_id, &form, "/me/alerts/rules".into(), false).await? {
        Err(view) => {
            page(
                &state,
                lang,
                &user,
                &None,
                Extra { form: Some(view), status: StatusCode::UNPROCESSABLE_ENTITY, ..Extra::none() },
            )
            .await
        }
        Ok(fields) => match q::insert_rule(&state.db, user.user_id, &fields, crate::db::now()).await? {
            Some(_) => {
                ensure_a_channel(&state, user.user_id).await?;
                Ok(see_other("/me/alerts?msg=created"))
            }
            None => Ok(see_other("/me/alerts?msg=full")),
        },
    }
}

/// The `{action}` of `POST /me/alerts/rules/{id}/{action}`.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    Save,
    Pause,
    Resume,
    Delete,
}

/// `POST /me/alerts/rules/{id}/{save|pause|resume|delete}`, on the user's own rules only.
pub async fn rule_action(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    PagePath((id, action)): PagePath<(RuleId, RuleAction)>,
    Form(form): Form<RuleBody>,
) -> HtmlResult<Response> {
    let (uid, db) = (user.user_id, &state.db);
    let (done, msg) = match action {
        RuleAction::Save => {
            if q::rule(db, uid, id).await?.is_none() {
                return Err(AppError::not_found(format!("alert {id}")).into());
            }
            match read_rule(&state, lang, uid, &form, format!("/me/alerts/rules/{id}/save"), true).await? {
                Err(view) => {
                    let extra = Extra { form: Some(view), status: StatusCode::UNPROCESSABLE_ENTITY, ..Extra::none() };
                    return page(&state, lang, &user, &None, extra).await;
                }
                Ok(fields) => (q::update_rule(db, uid, id, &fields).await?, "saved"),
            }
        }
        RuleAction::Pause => (q::set_rule_paused(db, uid, id, true).await?, "paused"),
        RuleAction::Resume => (q::set_rule_paused(db, uid, id, false).await?, "resumed"),
        RuleAction::Delete => (q::delete_rule(db, uid, id).await?, "deleted"),
    };
    if !done {
        return Err(AppError::not_found(format!("alert {id}")).into());
    }
    Ok(see_other(&format!("/me/alerts?msg={msg}")))
}

/// `POST /me/alerts/channels/{email|ntfy}`: adds or replaces the channel of that kind.
pub async fn save_channel(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    Path(kind): Path<String>,
    Form(form): Form<ChannelBody>,
) -> HtmlResult<Response> {
    let now = crate::db::now();
    match ChannelKind::parse(&kind) {
        Some(ChannelKind::Email) => {
            q::save_channel(&state.db, user.user_id, ChannelKind::Email, None, None, false, now).await?;
        }
        Some(ChannelKind::Ntfy) => {
            let t = lang.texts().alerts;
            let typed = form.url.as_str().trim();
            let checked = state.alerts.allow.parse_url(typed).map_err(|e| match e {
                TargetError::TooLong => (t.err_url_too_long)(MAX_URL_LEN as u64),
                e => (t.err_url)(&e.to_string()),
            });
            let checked = checked.and_then(|url| {
                parse_token(form.token.as_str())
                    .map(|token| (url, token))
                    .map_err(|_| (t.err_token)(MAX_TOKEN_LEN as u64))
            });
            let (url, token) = match checked {
                Ok(v) => v,
                Err(message) => {
                    // The typed URL comes back in the form when it is short enough to show.
                    let kept = if typed.len() <= MAX_URL_LEN { typed.to_owned() } else { String::new() };
                    let extra = Extra {
                        channel_error: Some((kept, message)),
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        ..Extra::none()
                    };
                    return page(&state, lang, &user, &None, extra).await;
                }
            };
            let clear = form.clear_token;
            q::save_channel(&state.db, user.user_id, ChannelKind::Ntfy, Some(url.as_str()), token, clear, now).await?;
        }
        Some(ChannelKind::Push) | None => return Err(AppError::not_found(format!("channel kind {kind}")).into()),
    }
    Ok(see_other("/me/alerts?msg=saved"))
}

/// The `{action}` of `POST /me/alerts/channels/{id}/{action}`.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelAction {
    Test,
    Pause,
    Resume,
    Delete,
}

/// `POST /me/alerts/channels/{id}/{test|pause|resume|delete}`, on the user's own channels only.
pub async fn channel_action(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    PagePath((id, action)): PagePath<(ChannelId, ChannelAction)>,
) -> HtmlResult<Response> {
    let (uid, db) = (user.user_id, &state.db);
    let (done, msg) = match action {
        ChannelAction::Test => {
            let Some(channel) = q::channel(db, uid, id).await? else {
                return Err(AppError::not_found(format!("channel {id}")).into());
            };
            if let Err((status, error)) = queue_test(&state, lang, uid, &channel).await? {
                let extra = Extra { error: Some(error), status, ..Extra::none() };
                return page(&state, lang, &user, &None, extra).await;
            }
            (true, "test")
        }
        ChannelAction::Pause => (q::set_channel_paused(db, uid, id, true).await?, "paused"),
        ChannelAction::Resume => (q::set_channel_paused(db, uid, id, false).await?, "resumed"),
        ChannelAction::Delete => (q::delete_channel(db, uid, id).await?, "deleted"),
    };
    if !done {
        return Err(AppError::not_found(format!("channel {id}")).into());
    }
    Ok(see_other(&format!("/me/alerts?msg={msg}")))
}

/// "Send a test" on one of the user's channels: never to an address not confirmed, and within
/// the limits of tests (counted in the database, so every instance shares them; a test counts
/// against the day's cap of alert messages too). `Err`: why not, and the answer's status.
#[tracing::instrument(skip_all, fields(user_id = uid.get(), channel = channel.id.get()))]
async fn queue_test(
    state: &AppState,
    lang: Lang,
    uid: UserId,
    channel: &q::Channel,
) -> Result<Result<(), (StatusCode, String)>, AppError> {
    let t = lang.texts().alerts;
    let db = &state.db;
    if channel.kind == ChannelKind::Email && !users::by_id(db, uid).await?.is_some_and(|u| u.email_confirmed) {
        return Ok(Err((StatusCode::CONFLICT, t.msg_test_unconfirmed.to_owned())));
    }
    let now = crate::db::now();
    let mut tx = db.begin().await?;
    let refused = match q::take_test_slot(&mut tx, uid, channel.kind, now, paris_day(now)).await? {
        q::TestSlot::Taken => None,
        q::TestSlot::ChannelHour => Some((t.msg_test_limit_hour)(q::TESTS_PER_CHANNEL_HOUR.unsigned_abs())),
        q::TestSlot::UserDay => Some((t.msg_test_limit_day)(q::TESTS_PER_USER_DAY.unsigned_abs())),
    };
    if let Some(message) = refused {
        tx.commit().await?;
        tracing::info!("test refused: limit reached");
        return Ok(Err((StatusCode::TOO_MANY_REQUESTS, message)));
    }
    alert_outbox::enqueue(&mut tx, uid, MessageKind::Test, &Payload::default().to_json(), now, Some(channel.id), now)
        .await?;
    tx.commit().await?;
    state.alerts.wake();
    Ok(Ok(()))
}

/// `POST /me/alerts/settings`: quiet hours and the daily cap.
pub async fn save_settings(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    Form(form): Form<SettingsBody>,
) -> HtmlResult<Response> {
    let t = lang.texts().alerts;
    let start = rules::parse_time(form.quiet_start.as_str());
    let end = rules::parse_time(form.quiet_end.as_str());
    let cap = form.cap.as_str().trim().parse::<i16>().ok().filter(|c| (1..=20).contains(c));
    match (start, end, cap) {
        (Some(quiet_start), Some(quiet_end), Some(daily_cap)) => {
            q::save_settings(&state.db, user.user_id, Settings { quiet_start, quiet_end, daily_cap }).await?;
            Ok(see_other("/me/alerts?msg=saved"))
        }
        _ => {
            let error = if cap.is_none() { t.err_cap } else { t.err_time };
            let kept = (
                form.quiet_start.as_str().to_owned(),
                form.quiet_end.as_str().to_owned(),
                form.cap.as_str().to_owned(),
            );
            let extra = Extra {
                settings: Some((kept.0, kept.1, kept.2, error.to_owned())),
                status: StatusCode::UNPROCESSABLE_ENTITY,
                ..Extra::none()
            };
            page(&state, lang, &user, &None, extra).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One-click unsubscribe (outside the session layer: the token is the only credential)

#[derive(Template)]
#[template(path = "alerts_unsubscribe.html")]
pub struct UnsubscribePage {
    pub l: Layout,
    pub t: &'static AlertStrings,
    pub token: String,
    pub rules: Vec<String>,
    pub confirm: String,
    pub done: bool,
}

fn token_hash(raw: &str) -> Option<String> {
    (raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit())).then(|| secret::digest(raw))
}

async fn unsubscribe_view(state: &AppState, lang: Lang, token: &str, done: bool) -> HtmlResult<Response> {
    let t = lang.texts().alerts;
    let rules = match token_hash(token) {
        Some(h) => q::unsubscribe_rules(&state.db, &h, crate::db::now()).await?,
        None => Vec::new(),
    };
    if rules.is_empty() {
        return Err(AppError::not_found("unsubscribe token").into());
    }
    let names = along::names(&state.db, rules[0].user_id).await?;
    let f = freshness(state).await?;
    Ok(no_store(render(&UnsubscribePage {
        l: layout(lang, format!("{} — Carburoam", t.unsub_title), "", "/".into(), &f),
        t,
        token: token.to_owned(),
        confirm: (t.unsub_confirm)(rules.len() as u64),
        rules: rules.iter().map(|r| describe(lang, r, &names)).collect(),
        done,
    })?))
}

pub async fn unsubscribe_page(
    State(state): State<AppState>,
    lang: Lang,
    Path(token): Path<String>,
) -> HtmlResult<Response> {
    unsubscribe_view(&state, lang, &token, false).await
}

/// The button of the page, or the mail provider's RFC 8058 one-click POST
/// (`List-Unsubscribe=One-Click`): pauses the token's rules, nothing else.
pub async fn unsubscribe(State(state): State<AppState>, lang: Lang, Path(token): Path<String>) -> HtmlResult<Response> {
    let Some(h) = token_hash(&token) else {
        return Err(AppError::not_found("unsubscribe token").into());
    };
    let paused = q::unsubscribe(&state.db, &h, crate::db::now()).await?;
    tracing::info!(rules = paused, "alert rules paused by an unsubscribe link");
    unsubscribe_view(&state, lang, &token, true).await
}

/// `/me/alerts` and its forms, behind the session layer.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/me/alerts", get(alerts_page))
        .route("/me/alerts/rules", post(create_rule))
        .route("/me/alerts/rules/{id}/{action}", post(rule_action))
        .route("/me/alerts/settings", post(save_settings))
        .route("/me/alerts/channels/{kind}", post(save_channel))
        .route("/me/alerts/channels/{id}/{action}", post(channel_action))
}

/// The one-click unsubscribe of alert emails (RFC 8058): outside the session layer, since a mail
/// provider posts it without cookies nor CSRF token; the random token is the credential.
pub fn unsubscribe_router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new().route("/alerts/unsubscribe/{token}", get(unsubscribe_page).post(unsubscribe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn where_reads_as_near() {
        use axum::extract::FromRequest;
        let cases = [
            ("where=place", Near::Place),
            ("where=route&route=3", Near::Route),
            ("where=mine", Near::Mine),
            ("where=elsewhere", Near::Mine),
            ("where=", Near::Mine),
            ("kind=drop", Near::Mine),
        ];
        for (body, near) in cases {
            let req = axum::http::Request::post("/")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .expect("a request");
            let Ok(Form(form)) = Form::<RuleBody>::from_request(req, &()).await else { panic!("{body} is refused") };
            assert_eq!(form.near, near, "{body}");
        }
    }
}
