//! Who is asking: the session cookie, the CSRF token, and the client's address.
//!
//! One middleware ([`layer`]) runs in front of every page:
//! 1. **CSRF.** Every browser gets a random token in a cookie (`carburoam_csrf`); every form
//!    carries it in a hidden `csrf` field. A state-changing request (POST…) must come from this
//!    site's origin (`Origin`, else `Referer`, when the browser sends one) *and* carry the field
//!    equal to the cookie. Both checks, because either alone has known gaps (old browsers without
//!    `Origin`; a sibling subdomain able to set cookies).
//! 2. **Session.** The session cookie holds a 256-bit random secret; the database holds its
//!    SHA-256 ([`crate::db::sessions`]). A valid one yields a [`SignedIn`]; an unknown or expired
//!    one is cleared. Activity slides the expiry of browser-session logins.
//! 3. The result is put in the request's extensions (for the extractors below) and in a
//!    task-local for the page layout, which shows the account menu on every page.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::accounts::{AccountSettings, SESSION_IDLE_SECS, SESSION_TOUCH_SECS};
use crate::auth::secret;
use crate::db::sessions;
use crate::error::AppError;
use crate::web::i18n::Lang;
use crate::web::page::HtmlError;
use crate::web::state::AppState;

pub const CSRF_COOKIE: &str = "carburoam_csrf";
pub const CSRF_FIELD: &str = "csrf";
/// Largest form body read by the CSRF check (the biggest form of the site is a few hundred bytes).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The session cookie's name: with HTTPS the `__Host-` prefix, which browsers only accept from a
/// secure origin, on `/`, without `Domain` (no subdomain can plant or shadow it).
pub fn session_cookie_name(settings: &AccountSettings) -> &'static str {
    if settings.secure_cookies { "__Host-carburoam_session" } else { "carburoam_session" }
}

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
    pub lang: Option<Lang>,
    /// The session's secret (to keep this session when ending the others).
    pub token: String,
}

/// What every page knows about its visitor.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub user: Option<SignedIn>,
    /// The CSRF token to put in forms.
    pub csrf: String,
}

tokio::task_local! {
    static VIEWER: Viewer;
}

/// The visitor of the request being served (for the layout); empty outside a request.
pub fn current_viewer() -> Viewer {
    VIEWER.try_with(Clone::clone).unwrap_or_default()
}

/// `name=value` pairs of the `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn is_token(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when served over HTTPS.
/// `max_age: None` is a browser-session cookie; `Some(0)` deletes it.
pub fn set_cookie(settings: &AccountSettings, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if settings.secure_cookies {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// Whether an unsafe request comes from this site: its `Origin` (or, without one, `Referer`)
/// names the public URL's origin or the `Host` it was sent to. Neither header (curl, old
/// browsers): allowed here, the CSRF token still has to match.
fn same_origin(headers: &HeaderMap, settings: &AccountSettings) -> bool {
    let h = |n| headers.get(n).and_then(|v: &HeaderValue| v.to_str().ok());
    let claimed = match (h(header::ORIGIN), h(header::REFERER)) {
        (Some(o), _) => o.to_owned(),
        (None, Some(r)) => match url::Url::parse(r) {
            Ok(u) => u.origin().ascii_serialization(),
            Err(_) => return false,
        },
        (None, None) => return true,
    };
    if claimed == "null" {
        return false;
    }
    let public = url::Url::parse(&settings.public_url).map(|u| u.origin().ascii_serialization()).ok();
    if public.as_deref() == Some(claimed.as_str()) {
        return true;
    }
    // The host the browser addressed: any scheme, the same host and port.
    let Some(host) = h(header::HOST) else {
        return false;
    };
    claimed.strip_prefix("http://").or_else(|| claimed.strip_prefix("https://")) == Some(host)
}

fn forbidden(lang: Lang, why: &str) -> Response {
    HtmlError(AppError::Forbidden(why.to_owned()), lang).into_response()
}

/// The middleware described in the module's documentation.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let settings = state.accounts.settings.clone();
    let (mut parts, body) = req.into_parts();
    let lang = Lang::negotiate(
        parts.headers.get(header::COOKIE).and_then(|v| v.to_str().ok()),
        parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    );
    let cookie_csrf = cookie(&parts.headers, CSRF_COOKIE).filter(|t| is_token(t, 64)).map(str::to_owned);
    let new_csrf = cookie_csrf.is_none();
    let csrf = cookie_csrf.clone().unwrap_or_else(secret::token);

    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let body = if unsafe_method {
        if !same_origin(&parts.headers, &settings) {
            tracing::warn!(method = %parts.method, path = %parts.uri.path(), "cross-origin form post refused");
            return forbidden(lang, "cross-origin request");
        }
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return forbidden(lang, "not a form");
        }
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
        };
        let sent = url::form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned());
        let valid = match (&cookie_csrf, &sent) {
            (Some(c), Some(s)) => secret::same_digest(c, s),
            _ => false,
        };
        if !valid {
            tracing::warn!(path = %parts.uri.path(), "form without a valid CSRF token refused");
            return forbidden(lang, "missing or stale form token");
        }
        Body::from(bytes)
    } else {
        body
    };

    let cookie_name = session_cookie_name(&settings);
    let mut clear_session = false;
    let mut user = None;
    if let Some(token) = cookie(&parts.headers, cookie_name).map(str::to_owned) {
        let now = crate::db::now();
        match sessions::lookup(&state.db, &secret::digest(&token), now).await {
            Ok(Some(s)) => {
                if now - s.last_seen_at >= SESSION_TOUCH_SECS {
                    let expires = if s.persistent { s.expires_at } else { now + SESSION_IDLE_SECS };
                    if let Err(e) = sessions::touch(&state.db, &secret::digest(&token), now, expires).await {
                        tracing::warn!(error = %e, "could not record session activity");
                    }
                }
                user = Some(SignedIn {
                    user_id: s.user_id,
                    username: s.username,
                    display_name: s.display_name,
                    is_admin: s.is_admin,
                    lang: Lang::parse(&s.lang),
                    token,
                });
            }
            Ok(None) => clear_session = true,
            Err(e) => return HtmlError(AppError::Database(e), lang).into_response(),
        }
    }

    let viewer = Viewer { user, csrf: csrf.clone() };
    parts.extensions.insert(viewer.clone());
    let req = Request::from_parts(parts, body);
    let mut resp = VIEWER.scope(viewer, next.run(req)).await;
    let headers = resp.headers_mut();
    if new_csrf {
        headers.append(header::SET_COOKIE, set_cookie(&settings, CSRF_COOKIE, &csrf, None));
    }
    if clear_session && !headers.contains_key(header::SET_COOKIE) {
        headers.append(header::SET_COOKIE, set_cookie(&settings, cookie_name, "", Some(0)));
    }
    resp
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Viewer>().cloned().unwrap_or_default())
    }
}

/// Pages for signed-in users take a `SignedIn`; anyone else is sent to `/login?next=…`.
impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Redirect;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Viewer>().and_then(|v| v.user.clone()) {
            Some(u) => Ok(u),
            None => {
                // After logging in the browser GETs `next`: only a GET can be sent back to.
                let next = match parts.method {
                    Method::GET | Method::HEAD => parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/me"),
                    _ => "/me",
                };
                let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
                Err(Redirect::to(&format!("/login?next={next}")))
            }
        }
    }
}

/// A `next=` target that can only lead somewhere on this site: a path starting with one `/`
/// (not `//host`, not `/\host`, no scheme), else `/me`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/me".to_owned(),
    }
}

/// The client's address, for rate limits: the peer, or behind a proxy the address the proxy
/// appended last to `X-Forwarded-For` (the only entry a client cannot forge).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.accounts.settings.behind_proxy
            && let Some(ip) = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse::<IpAddr>().ok())
                .next_back()
        {
            return Ok(ClientIp(ip));
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientIp(peer.unwrap_or(IpAddr::from([0, 0, 0, 0]))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets() {
        assert_eq!(safe_next(Some("/me/stations?x=1")), "/me/stations?x=1");
        for bad in ["//evil.example", "https://evil.example", "/\\evil.example", "evil", "/a\nb", ""] {
            assert_eq!(safe_next(Some(bad)), "/me", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/me");
    }

    #[test]
    fn cookies_are_secure_behind_https() {
        let https = AccountSettings::new("https://carburoam.example.org", false);
        assert_eq!(session_cookie_name(&https), "__Host-carburoam_session");
        let c = set_cookie(&https, session_cookie_name(&https), "abc", Some(60));
        assert_eq!(c, "__Host-carburoam_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure");
        let http = AccountSettings::new("http://127.0.0.1:8080", false);
        let c = set_cookie(&http, session_cookie_name(&http), "abc", None);
        assert_eq!(c, "carburoam_session=abc; Path=/; HttpOnly; SameSite=Lax");
    }

    #[test]
    fn origins() {
        let s = AccountSettings::new("https://carburoam.example.org", false);
        let mut h = HeaderMap::new();
        assert!(same_origin(&h, &s));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://carburoam.example.org"));
        assert!(same_origin(&h, &s));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&h, &s));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&h, &s));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h, &s));
        h.remove(header::ORIGIN);
        h.insert(header::REFERER, HeaderValue::from_static("https://evil.example/page"));
        assert!(!same_origin(&h, &s));
        h.insert(header::REFERER, HeaderValue::from_static("http://127.0.0.1:8080/login"));
        assert!(same_origin(&h, &s));
    }
}
