//! Web Push and the installable web app.
//!
//! | path | what |
//! |---|---|
//! | `GET /manifest.webmanifest` | the web app manifest (name, icons, colours), in the visitor's language |
//! | `GET /sw.js` | the service worker (scope `/`): notifications, last prices offline |
//! | `GET /offline` | what the service worker shows for a page it cannot fetch |
//! | `GET /push/key` | the VAPID public key (`{"publicKey": …}`) |
//! | `GET /me/push` | the "notifications on this device" block on a page of its own |
//! | `POST /me/push/subscribe` | form `endpoint`, `p256dh`, `auth` → JSON; this device for the signed-in user |
//! | `POST /me/push/unsubscribe` | form `endpoint` → JSON; only the caller's own |
//! | `POST /me/push/{id}/delete` | removes one of the caller's devices (no JavaScript needed) |
//! | `POST /me/push/test` | sends a test notification to the caller's devices |
//!
//! The POSTs go through the session layer's CSRF check like every form (same origin, `csrf`
//! field): the script posts `application/x-www-form-urlencoded` with the page's token.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sha2::{Digest, Sha256};

use crate::alerts::push::{self, PushMessage, PushOutcome, SubscribeError};
use crate::alerts::rules::paris_day;
use crate::alerts::target::{self, TargetError};
use crate::db::alerts::{TESTS_PER_CHANNEL_HOUR, TESTS_PER_USER_DAY, TestSlot, take_test_slot};
use crate::db::push as q;
use crate::domain::{ChannelKind, PushSubscriptionId, UserId};
use crate::error::AppError;
use crate::text::push::{PushStrings, strings};
use crate::web::assets;
use crate::web::cache_control::CachePolicy;
use crate::web::form::{Form, no_store, query_param, see_other};
use crate::web::i18n::Lang;
use crate::web::page::{HtmlError, HtmlResult, Layout, freshness, layout, render};
use crate::web::session::{SignedIn, Viewer, safe_redirect};
use crate::web::state::AppState;

/// Where the block's forms come back to when the page does not say.
const DEFAULT_BACK: &str = "/me/push";

// ---------------------------------------------------------------------------------------------
// The block

/// One subscribed device as the block lists it.
pub struct DeviceView {
    pub id: PushSubscriptionId,
    pub label: String,
    pub added: String,
    pub success: Option<String>,
    pub error: Option<String>,
    pub remove_label: String,
}

/// What `templates/push_block.html` shows: a page including it has a field `push` of this type.
pub struct PushBlock {
    pub t: &'static PushStrings,
    pub csrf: String,
    pub public_key: String,
    pub devices: Vec<DeviceView>,
    /// The outcome of the last test or removal (from the query string).
    pub notice: Option<String>,
    /// The page the block's forms come back to.
    pub back: String,
}

impl PushBlock {
    /// The block of `user_id`, for a page at `back` whose query string is `raw_query`.
    pub async fn load(
        state: &AppState,
        lang: Lang,
        user_id: UserId,
        csrf: &str,
        back: &str,
        raw_query: &Option<String>,
    ) -> Result<PushBlock, AppError> {
        let t = strings(lang);
        let keys = push::vapid_keys(&state.db).await.map_err(|e| AppError::Internal(e.into()))?;
        let devices = q::for_user(&state.db, user_id)
            .await?
            .into_iter()
            .map(|s| {
                let label = device_label(&s.user_agent).unwrap_or_else(|| t.unknown_device.to_owned());
                DeviceView {
                    id: s.id,
                    remove_label: (t.remove_label)(&label),
                    label,
                    added: (t.added_on)(&lang.date(s.created_at)),
                    success: s.last_success_at.map(|at| (t.last_success)(&lang.datetime(at))),
                    error: match (s.last_error_at, s.last_error.as_deref()) {
                        (Some(at), Some(code)) => Some((t.last_error)(&lang.datetime(at), &error_reason(t, code))),
                        _ => None,
                    },
                }
            })
            .collect();
        let notice = match query_param(raw_query, "push").as_deref() {
            Some("sent") => {
                let n = query_param(raw_query, "n").and_then(|n| n.parse().ok()).unwrap_or(0);
                Some((t.test_sent)(n))
            }
            Some("none") => Some(t.test_none.to_owned()),
            Some("limit-hour") => Some((t.test_limit_hour)(TESTS_PER_CHANNEL_HOUR.unsigned_abs())),
            Some("limit-day") => Some((t.test_limit_day)(TESTS_PER_USER_DAY.unsigned_abs())),
            Some("failed") => Some(t.failed.to_owned()),
            Some("removed") => Some(t.removed.to_owned()),
            _ => None,
        };
        Ok(PushBlock { t, csrf: csrf.to_owned(), public_key: keys.public, devices, notice, back: back.to_owned() })
    }
}

/// "Firefox · Android" from a `User-Agent`, when it names a known browser or system.
pub fn device_label(ua: &str) -> Option<String> {
    let browser =
        [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
            .iter()
            .find(|(k, _)| ua.contains(k))
            .map(|(_, v)| *v);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    match (browser, system) {
        (Some(b), Some(s)) => Some(format!("{b} · {s}")),
        (Some(x), None) | (None, Some(x)) => Some(x.to_owned()),
        (None, None) => None,
    }
}

#[derive(Template)]
#[template(path = "push/page.html")]
pub struct PushPage {
    pub l: Layout,
    pub push: PushBlock,
}

/// `GET /me/push`.
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    let f = freshness(&state).await?;
    let block = PushBlock::load(&state, lang, user.user_id, &viewer.csrf, DEFAULT_BACK, &raw).await?;
    let title = format!("{} — Carburoam", block.t.page_title);
    Ok(no_store(render(&PushPage { l: layout(lang, title, "me", "/me/push".into(), &f), push: block })?))
}

// ---------------------------------------------------------------------------------------------
// JSON endpoints

/// A JSON error in the API's shape, never cached.
fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    no_store((status, Json(body)).into_response())
}

fn json_ok(body: serde_json::Value) -> Response {
    no_store(Json(body).into_response())
}

/// What the block's script and forms post: a subscription's endpoint and keys, or the page to
/// come back to.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PushBody {
    endpoint: String,
    p256dh: String,
    auth: String,
    back: String,
}

/// A device's last error (a code stored by `alerts::push`) in the viewer's language.
fn error_reason(t: &crate::text::push::PushStrings, code: &str) -> String {
    match code {
        "unreachable" => t.err_unreachable.to_owned(),
        "refused" => t.err_refused.to_owned(),
        "keys" => t.err_keys.to_owned(),
        _ => match code.strip_prefix("status:").and_then(|s| s.parse().ok()) {
            Some(status) => (t.err_status)(status),
            None => t.err_server.to_owned(),
        },
    }
}

/// `POST /me/push/subscribe`: this device's subscription for the signed-in user.
#[tracing::instrument(skip_all)]
pub async fn subscribe(
    State(state): State<AppState>,
    lang: Lang,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<PushBody>,
) -> Response {
    let t = strings(lang);
    let Some(user) = viewer.user else {
        return json_error(StatusCode::UNAUTHORIZED, "login_required", t.login_required);
    };
    let (endpoint, p256dh, auth) = (form.endpoint.as_str().trim(), form.p256dh.as_str(), form.auth.as_str());
    if let Err(e) = push::validate(&state.push.settings.allow, endpoint, p256dh, auth) {
        tracing::info!(user_id = user.user_id.get(), error = %e, "push subscription refused");
        return match e {
            SubscribeError::Target(TargetError::TooLong) => json_error(
                StatusCode::BAD_REQUEST,
                "endpoint_too_long",
                &(t.endpoint_too_long)(target::MAX_URL_LEN as u64),
            ),
            SubscribeError::Target(_) => json_error(StatusCode::BAD_REQUEST, "endpoint_refused", t.endpoint_refused),
            _ => json_error(StatusCode::BAD_REQUEST, "bad_subscription", t.bad_subscription),
        };
    }
    let ua: String =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(300).collect();
    let new = q::NewSubscription { endpoint, p256dh: p256dh.trim(), auth: auth.trim(), user_agent: &ua };
    match store_subscription(&state.db, user.user_id, &new).await {
        Ok(Stored::Saved(id)) => {
            tracing::info!(user_id = user.user_id.get(), subscription = id.get(), "push subscription saved");
            json_ok(serde_json::json!({ "ok": true, "id": id }))
        }
        Ok(Stored::TooMany) => json_error(
            StatusCode::CONFLICT,
            "too_many_devices",
            &(t.too_many_devices)(push::MAX_DEVICES.unsigned_abs()),
        ),
        Ok(Stored::OtherAccount) => {
            tracing::info!(user_id = user.user_id.get(), "push endpoint of another account: refused");
            json_error(StatusCode::CONFLICT, "endpoint_taken", t.endpoint_taken)
        }
        Err(e) => {
            let e = AppError::Database(e);
            e.log();
            json_error(e.status(), "internal", t.failed)
        }
    }
}

/// What [`store_subscription`] did.
enum Stored {
    Saved(PushSubscriptionId),
    /// The user has [`push::MAX_DEVICES`] others already.
    TooMany,
    /// The endpoint is another account's device: it stays theirs.
    OtherAccount,
}

/// Stores a device unless the user has [`push::MAX_DEVICES`] others already or the endpoint is
/// another account's.
async fn store_subscription(
    db: &crate::db::Db,
    user_id: UserId,
    new: &q::NewSubscription<'_>,
) -> Result<Stored, sqlx::Error> {
    let known = q::owns_endpoint(db, user_id, new.endpoint).await?;
    if !known && q::count_for_user(db, user_id).await? >= push::MAX_DEVICES {
        return Ok(Stored::TooMany);
    }
    Ok(match q::upsert(db, user_id, new, crate::db::now()).await? {
        Some(id) => Stored::Saved(id),
        None => Stored::OtherAccount,
    })
}

/// `POST /me/push/unsubscribe`: forgets this device, if it is the caller's.
pub async fn unsubscribe(
    State(state): State<AppState>,
    lang: Lang,
    viewer: Viewer,
    Form(form): Form<PushBody>,
) -> Response {
    let t = strings(lang);
    let Some(user) = viewer.user else {
        return json_error(StatusCode::UNAUTHORIZED, "login_required", t.login_required);
    };
    match q::delete_endpoint(&state.db, user.user_id, form.endpoint.as_str().trim()).await {
        Ok(removed) => json_ok(serde_json::json!({ "ok": true, "removed": removed })),
        Err(e) => {
            let e = AppError::Database(e);
            e.log();
            json_error(e.status(), "internal", t.failed)
        }
    }
}

/// `GET /push/key`: the VAPID public key browsers subscribe with.
pub async fn public_key(State(state): State<AppState>) -> Result<Response, crate::web::error::ApiError> {
    let keys = push::vapid_keys(&state.db).await.map_err(|e| AppError::Internal(e.into()))?;
    Ok((CachePolicy::PublicHour, Json(serde_json::json!({ "publicKey": keys.public }))).into_response())
}

// ---------------------------------------------------------------------------------------------
// Forms of the block

/// The page a block's form comes back to, with `query` added.
fn back_to(form: &PushBody, query: &str) -> Response {
    let back = safe_redirect(form.back.as_str(), DEFAULT_BACK);
    let back = back.split(['?', '#']).next().unwrap_or(DEFAULT_BACK);
    see_other(&format!("{back}?{query}"))
}

/// `POST /me/push/{id}/delete`.
pub async fn delete_device(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    Path(id): Path<PushSubscriptionId>,
    Form(form): Form<PushBody>,
) -> HtmlResult<Response> {
    if !q::delete_id(&state.db, user.user_id, id).await? {
        return Err(HtmlError(AppError::not_found("device"), lang));
    }
    Ok(back_to(&form, "push=removed"))
}

/// `POST /me/push/test`: a test notification to every device of the caller, within the limits
/// of tests (counted in the database, shared by every instance; a test counts against the day's
/// cap of alert messages too).
#[tracing::instrument(skip_all, fields(user_id = user.user_id.get()))]
pub async fn send_test(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    Form(form): Form<PushBody>,
) -> HtmlResult<Response> {
    let t = strings(lang);
    let Some(http) = state.push.http.as_ref() else {
        return Ok(back_to(&form, "push=failed"));
    };
    if q::count_for_user(&state.db, user.user_id).await? == 0 {
        return Ok(back_to(&form, "push=none"));
    }
    let now = crate::db::now();
    let mut tx = state.db.begin().await?;
    let slot = take_test_slot(&mut tx, user.user_id, ChannelKind::Push, now, paris_day(now)).await?;
    tx.commit().await?;
    match slot {
        TestSlot::Taken => {}
        TestSlot::ChannelHour => return Ok(back_to(&form, "push=limit-hour")),
        TestSlot::UserDay => return Ok(back_to(&form, "push=limit-day")),
    }
    let msg =
        PushMessage { title: t.test_title.into(), body: t.test_body.into(), url: "/me".into(), tag: "test".into() };
    Ok(match push::deliver(&state.db, http, &state.push.settings, user.user_id, &msg).await {
        Ok(PushOutcome::Delivered { endpoints }) => back_to(&form, &format!("push=sent&n={endpoints}")),
        Ok(PushOutcome::NoSubscription) => back_to(&form, "push=none"),
        Err(e) => {
            tracing::warn!(error = %e, "test notification failed");
            back_to(&form, "push=failed")
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The installable app

/// `GET /manifest.webmanifest`.
pub async fn manifest(lang: Lang) -> Response {
    let t = strings(lang);
    let icon = |path: &str, size: &str, purpose: &str| serde_json::json!({ "src": assets::url(path), "sizes": size, "type": "image/png", "purpose": purpose });
    let body = serde_json::json!({
        "id": "/",
        "name": "Carburoam",
        "short_name": "Carburoam",
        "description": t.app_description,
        "lang": lang.code(),
        "dir": "ltr",
        "start_url": "/me",
        "scope": "/",
        "display": "standalone",
        // The accent of static/css/site.css (`--accent`) and its light background (`--bg`).
        "theme_color": "#0b6e4f",
        "background_color": "#f7f7f5",
        "icons": [
            icon("icons/icon-192.png", "192x192", "any"),
            icon("icons/icon-512.png", "512x512", "any"),
            icon("icons/maskable-512.png", "512x512", "maskable"),
        ],
    });
    (
        CachePolicy::PublicHour,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/manifest+json")),
            (header::VARY, HeaderValue::from_static("Accept-Language, Cookie")),
        ],
        body.to_string(),
    )
        .into_response()
}

const SW_SOURCE: &str = include_str!("../../../../static/sw.js");

/// The service worker with its precache list (the offline page and what it shows) and a
/// version that changes with them, so browsers install a new worker when an asset changes.
fn service_worker_source() -> String {
    let precache = [
        "/offline",
        assets::url("css/site.css"),
        assets::url("css/pages.css"),
        assets::url("favicon.svg"),
        assets::url("icons/icon-192.png"),
    ];
    let list = serde_json::to_string(&precache).unwrap_or_else(|_| "[]".into());
    let mut h = Sha256::new();
    h.update(SW_SOURCE.as_bytes());
    h.update(list.as_bytes());
    let version = hex::encode(&h.finalize()[..6]);
    SW_SOURCE
        .replace("__VERSION__", &version)
        .replace("__PRECACHE__", &list)
        .replace("__ICON__", assets::url("icons/icon-192.png"))
}

static SW: std::sync::LazyLock<String> = std::sync::LazyLock::new(service_worker_source);

/// `GET /sw.js`: revalidated at each check (browsers look for a new worker at most daily anyway).
pub async fn service_worker() -> Response {
    (
        CachePolicy::Revalidate,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"))],
        SW.as_str(),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "push/offline.html")]
pub struct OfflinePage {
    pub l: Layout,
    pub t: &'static PushStrings,
}

/// `GET /offline`: kept by the service worker. Nobody's page: no account menu, no form token.
pub async fn offline(lang: Lang) -> HtmlResult<Response> {
    let t = strings(lang);
    let l = Layout {
        lang,
        t: lang.strings(),
        title: format!("{} — Carburoam", t.offline_title),
        nav: "",
        here: "/offline".into(),
        fresh: None,
        viewer: Viewer::default(),
        a: crate::web::i18n_account::strings(lang),
    };
    Ok(CachePolicy::Revalidate.set(render(&OfflinePage { l, t })?))
}

/// `/me/push` and its forms, behind the session layer.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/push", get(page))
        .route("/me/push/subscribe", post(subscribe))
        .route("/me/push/unsubscribe", post(unsubscribe))
        .route("/me/push/test", post(send_test))
        .route("/me/push/{id}/delete", post(delete_device))
}

/// The installable app and the key browsers subscribe with: nobody's pages, outside the session
/// layer.
pub fn app_router() -> Router<AppState> {
    Router::new()
        .route("/manifest.webmanifest", get(manifest))
        .route("/sw.js", get(service_worker))
        .route("/offline", get(offline))
        .route("/push/key", get(public_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_from_their_user_agent() {
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36";
        assert_eq!(device_label(android).as_deref(), Some("Chrome · Android"));
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(device_label(firefox).as_deref(), Some("Firefox · Linux"));
        assert_eq!(device_label(""), None);
    }

    #[test]
    fn the_worker_gets_its_precache_list() {
        let sw = service_worker_source();
        assert!(!sw.contains("__PRECACHE__") && !sw.contains("__VERSION__") && !sw.contains("__ICON__"));
        assert!(sw.contains(assets::url("css/site.css")));
    }
}
