//! Who is asking: the session cookie, the CSRF token, and the client's address.
//!
//! One middleware ([`layer`]) runs in front of every page:
//! 1. **CSRF.** Every browser gets a random token in a cookie ([`csrf_cookie_name`]), renewed at
//!    login; every form carries it in a hidden `csrf` field. A state-changing request (POST…)
//!    must come from this site's origin (`Origin`, else `Referer`, when the browser sends one)
//!    *and* carry the field equal to the cookie. Both checks, because either alone has known
//!    gaps (old browsers without `Origin`; a sibling subdomain able to set cookies).
//! 2. **Session.** The session cookie holds a 256-bit random secret; the database holds its
//!    SHA-256 ([`crate::db::sessions`]). A valid one yields a [`SignedIn`]; an unknown or expired
//!    one is cleared (and an expired one deleted). Activity slides the expiry of browser-session
//!    logins, but never past the session's absolute lifetime (12 h, 30 days with "remember me").
//! 3. The result is put in the request's extensions (for the extractors below) and in a
//!    task-local for the page layout, which shows the account menu on every page.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::auth::secret;
use crate::db::sessions;
use crate::domain::UserId;
use crate::error::AppError;
use crate::services::accounts::{AccountSettings, SESSION_IDLE_SECS, SESSION_TOUCH_SECS};
use crate::web::i18n::Lang;
use crate::web::page::HtmlError;
use crate::web::state::AppState;

pub const CSRF_FIELD: &str = "csrf";
/// Largest form body read by the CSRF check (the biggest form of the site is a few hundred bytes).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The session cookie's name: with HTTPS the `__Host-` prefix, which browsers only accept from a
/// secure origin, on `/`, without `Domain` (no subdomain can plant or shadow it).
pub fn session_cookie_name(settings: &AccountSettings) -> &'static str {
    if settings.secure_cookies { "__Host-carburoam_session" } else { "carburoam_session" }
}

/// The CSRF cookie's name: like the session cookie, `__Host-` prefixed with HTTPS, so that a
/// sibling subdomain cannot plant a token of its choosing (which would defeat the double-submit
/// check).
pub fn csrf_cookie_name(settings: &AccountSettings) -> &'static str {
    if settings.secure_cookies { "__Host-carburoam_csrf" } else { "carburoam_csrf" }
}

/// A fresh CSRF cookie: given to a new visitor, and at login, so that a token known before the
/// login (planted, or read on a shared computer) is worthless after it.
pub fn new_csrf_cookie(settings: &AccountSettings) -> HeaderValue {
    set_cookie(settings, csrf_cookie_name(settings), &secret::token(), None)
}

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: UserId,
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

/// The value of the cookie `name` of a request, parsed by the `cookie` crate (as axum-extra's
/// `CookieJar` does). The *first* of several with that name wins, unlike the jar which keeps the
/// last: browsers send the longest path and then the oldest cookie first, so a cookie planted
/// later by a sibling subdomain (`Domain=` the parent) cannot shadow ours.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse_encoded)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

fn is_token(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A cookie of the site: HttpOnly, SameSite=Lax, Path=/, Secure when served over HTTPS.
/// `max_age: None` is a browser-session cookie; `Some(0)` deletes it.
pub fn site_cookie(settings: &AccountSettings, name: &str, value: &str, max_age: Option<i64>) -> Cookie<'static> {
    let mut c = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure_cookies);
    if let Some(age) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(age));
    }
    c.build()
}

/// [`site_cookie`] as a `Set-Cookie` value.
pub fn set_cookie(settings: &AccountSettings, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    HeaderValue::from_str(&site_cookie(settings, name, value, max_age).encoded().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
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

/// The response header naming the session a page was made for: [`session_tag`] of the session
/// cookie, empty without a session. The service worker keeps `/me` pages for offline use only
/// while the pages it sees carry the tag they were kept under (`static/sw.js`).
pub const SESSION_TAG_HEADER: &str = "x-session-tag";

/// An opaque name of a session for the service worker: not the session's secret (the cookie is
/// `HttpOnly`), nor its hash in the database; a different digest, cut to 128 bits.
pub fn session_tag(token: &str) -> String {
    let mut d = secret::digest(&format!("carburoam session tag\n{token}"));
    d.truncate(32);
    d
}

/// Whether `path` is the admin console's: `/admin` and everything under it.
pub fn is_console(path: &str) -> bool {
    path.strip_prefix("/admin").is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The session of a request's cookie: the signed-in user, and whether to clear the cookie (the
/// session is unknown or over; an expired one is deleted now).
async fn resolve(
    state: &AppState,
    headers: &HeaderMap,
    cookie_name: &str,
) -> Result<(Option<SignedIn>, bool), sqlx::Error> {
    let Some(token) = cookie(headers, cookie_name) else {
        return Ok((None, false));
    };
    let now = crate::db::now();
    let id_hash = secret::digest(&token);
    match sessions::lookup(&state.db, &id_hash).await? {
        Some(s) if !s.is_live(now) => {
            // Idle too long, or past its absolute lifetime: logged out, and the row goes now
            // rather than at the next cleaning.
            if let Err(e) = sessions::delete(&state.db, &id_hash).await {
                tracing::warn!(error = %e, "could not delete an expired session");
            }
            Ok((None, true))
        }
        Some(s) => {
            if now - s.last_seen_at >= SESSION_TOUCH_SECS {
                // `touch` caps the idle expiry at the absolute one.
                let expires = if s.persistent { s.expires_at } else { now + SESSION_IDLE_SECS };
                if let Err(e) = sessions::touch(&state.db, &id_hash, now, expires).await {
                    tracing::warn!(error = %e, "could not record session activity");
                }
            }
            let user = SignedIn {
                user_id: s.user_id,
                username: s.username,
                display_name: s.display_name,
                is_admin: s.is_admin,
                lang: Lang::parse(&s.lang),
                token,
            };
            Ok((Some(user), false))
        }
        None => Ok((None, true)),
    }
}

/// The middleware described in the module's documentation.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let settings = state.accounts.settings.clone();
    let (mut parts, body) = req.into_parts();
    let lang = crate::web::i18n::negotiate(&parts.headers);
    let csrf_cookie = csrf_cookie_name(&settings);
    let cookie_csrf = cookie(&parts.headers, csrf_cookie).filter(|t| is_token(t, 64));
    let new_csrf = cookie_csrf.is_none();
    let csrf = cookie_csrf.clone().unwrap_or_else(secret::token);

    let cookie_name = session_cookie_name(&settings);
    let (user, clear_session) = match resolve(&state, &parts.headers, cookie_name).await {
        Ok(found) => found,
        Err(e) => return HtmlError(AppError::Database(e), lang).into_response(),
    };
    // The console does not exist for anyone but an admin: the site's 404 page, whatever the
    // method (no 405 naming the allowed ones), before the form checks (a refused form post
    // looks like one to any unknown page).
    let refused = is_console(parts.uri.path()) && !user.as_ref().is_some_and(|u| u.is_admin);

    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    // The route search's form posts a GPX file (multipart): a search that changes nothing and
    // that the page answers itself, so no CSRF token is needed (the origin is still checked).
    let search_upload = parts.method == Method::POST
        && matches!(parts.uri.path(), "/trajet" | "/route")
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    let body = if search_upload {
        if !same_origin(&parts.headers, &settings) {
            tracing::warn!(path = %parts.uri.path(), "cross-origin route search post refused");
            return forbidden(lang, "cross-origin request");
        }
        body
    } else if unsafe_method && !refused {
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

    let tag = user.as_ref().map(|u| session_tag(&u.token)).unwrap_or_default();
    let viewer = Viewer { user, csrf: csrf.clone() };
    parts.extensions.insert(viewer.clone());
    let req = Request::from_parts(parts, body);
    let inner = async move {
        if refused {
            HtmlError(AppError::not_found(format!("page {}", req.uri().path())), lang).into_response()
        } else {
            next.run(req).await
        }
    };
    let mut resp = crate::web::page::with_lang(lang, VIEWER.scope(viewer, inner)).await;
    let headers = resp.headers_mut();
    if new_csrf {
        headers.append(header::SET_COOKIE, set_cookie(&settings, csrf_cookie, &csrf, None));
    }
    // Unless the handler just set a new session (a login over an expired one).
    let session_prefix = format!("{cookie_name}=");
    let new_session = headers.get_all(header::SET_COOKIE).iter().find_map(|v| {
        v.to_str()
            .ok()?
            .strip_prefix(session_prefix.as_str())
            .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
    });
    if clear_session && new_session.is_none() {
        headers.append(header::SET_COOKIE, set_cookie(&settings, cookie_name, "", Some(0)));
    }
    // The session the browser holds after this response: a new one (login), none (logout), or
    // the one it came with.
    let tag = match new_session.as_deref() {
        Some("") => String::new(),
        Some(token) => session_tag(token),
        None => tag,
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        headers.insert(SESSION_TAG_HEADER, v);
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
                Err(Redirect::to(&safe_redirect(&format!("/login?next={next}"), "/login")))
            }
        }
    }
}

/// Where a redirect may lead: `target` when it is a path of this site, else `fallback`.
///
/// Accepted: a path starting with exactly one `/`. Refused, whatever follows: `//host` and `/\host`
/// (other sites, for browsers), a scheme (`https://…`, `javascript:`), a backslash, a control
/// character (0x00–0x1F, 0x7F) — raw or percent-encoded (`%09`, `%0A`, `%7F`, `%5C`…): browsers drop
/// tabs and newlines from URLs, so `/%09/evil.example` would lead to `//evil.example` — and an
/// encoded slash right after the first one (`/%2F…`). Spaces and non-ASCII characters are
/// percent-encoded so the result is always a valid `Location` (never a 500).
///
/// Every redirect of the site goes through this ([`crate::web::form::see_other`], `/lang`, the
/// login page's `next`, the station forms' `back`).
pub fn safe_redirect(target: &str, fallback: &str) -> String {
    let bytes = target.as_bytes();
    let encoded_at = |i: usize| -> Option<u8> {
        let hex = bytes.get(i + 1..i + 3)?;
        u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    let forbidden = |b: u8| b.is_ascii_control() || b == b'\\';
    let local = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !(bytes.get(1) == Some(&b'%') && matches!(encoded_at(1), Some(b'/' | b'\\')))
        && bytes
            .iter()
            .enumerate()
            .all(|(i, &b)| !forbidden(b) && (b != b'%' || !encoded_at(i).is_some_and(forbidden)));
    if !local {
        return fallback.to_owned();
    }
    let mut out = String::with_capacity(target.len());
    for &b in bytes {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `next=` target that can only lead somewhere on this site (see [`safe_redirect`]), else `/me`.
pub fn safe_next(next: Option<&str>) -> String {
    safe_redirect(next.unwrap_or(""), "/me")
}

/// The client's address, for rate limits: the peer, or behind a proxy the address the proxy
/// appended last to `X-Forwarded-For` (the only entry a client cannot forge).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// The address in one `X-Forwarded-For` entry: `203.0.113.8`, `203.0.113.8:51234`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:443`.
fn forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = entry.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    let v6 = entry.strip_prefix('[')?.strip_suffix(']')?;
    v6.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

/// The client address a proxy reported: the rightmost entry of `X-Forwarded-For` (the proxy
/// appends the address it saw; everything before it came from the client and can be forged).
/// `None` when the header is absent or its last entry is not an address: then the caller uses
/// the proxy's own address, never an earlier entry.
pub fn forwarded_client(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?.to_str().ok()?.rsplit(',').next()?;
    forwarded_entry(last)
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.accounts.settings.behind_proxy
            && let Some(ip) = forwarded_client(&parts.headers)
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
    fn console_paths() {
        for p in ["/admin", "/admin/", "/admin/users/1/grant", "/admin/backups/download"] {
            assert!(is_console(p), "{p}");
        }
        for p in ["/", "/administrator", "/adminx/y", "/me/admin", "/Admin"] {
            assert!(!is_console(p), "{p}");
        }
    }

    #[test]
    fn session_tags_are_neither_the_secret_nor_its_stored_hash() {
        let token = secret::token();
        let tag = session_tag(&token);
        assert_eq!(tag.len(), 32);
        assert!(!token.contains(&tag) && !secret::digest(&token).contains(&tag));
        assert_eq!(tag, session_tag(&token), "stable for a session");
        assert_ne!(tag, session_tag(&secret::token()));
    }

    #[test]
    fn next_targets() {
        assert_eq!(safe_next(Some("/me/stations?x=1")), "/me/stations?x=1");
        for bad in ["//evil.example", "https://evil.example", "/\\evil.example", "evil", "/a\nb", ""] {
            assert_eq!(safe_next(Some(bad)), "/me", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/me");
    }

    #[test]
    fn redirect_targets_stay_on_the_site() {
        for good in ["/", "/stations?q=Lyon&fuel=E10", "/me/stations?lat=48.8&lon=2.3", "/a%20b", "/%C3%A9", "/x?y=%2F"]
        {
            assert_eq!(safe_redirect(good, "/"), good, "{good:?}");
        }
        let bad = [
            "",
            "evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "//evil.example",
            "/\\evil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%2F/evil.example",
            "/%2f/evil.example",
            "/ok\\x",
            "/ok%5Cx",
            "/\t/evil.example",
            "/%09/evil.example",
            "/%0a/x",
            "/%0A/x",
            "/%0B/x",
            "/%0D/x",
            "/%00",
            "/%1F",
            "/%7F",
            "/%7f",
            "/a\u{7f}",
            "/a\u{0}",
            "/a\rb",
            " /x",
        ];
        for b in bad {
            assert_eq!(safe_redirect(b, "/"), "/", "{b:?}");
        }
        assert_eq!(safe_redirect("//evil.example", "/me"), "/me", "the caller's fallback");
        // Spaces and non-ASCII come out percent-encoded: always a valid header value.
        assert_eq!(safe_redirect("/stations?q=Saint Étienne", "/"), "/stations?q=Saint%20%C3%89tienne");
        // A lone or truncated `%` is only a character.
        assert_eq!(safe_redirect("/100%", "/"), "/100%");
        assert_eq!(safe_redirect("/a%0", "/"), "/a%0");
        for t in ["/", "/x y", "/é", "/%zz", "/a%"] {
            assert!(HeaderValue::from_str(&safe_redirect(t, "/")).is_ok(), "{t:?}");
        }
    }

    #[test]
    fn forwarded_for_entries() {
        let client = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", HeaderValue::from_str(v).expect("header"));
            }
            forwarded_client(&h)
        };
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        assert_eq!(client(&["203.0.113.8"]), ip("203.0.113.8"));
        assert_eq!(client(&["198.51.100.1, 203.0.113.8:51234"]), ip("203.0.113.8"));
        assert_eq!(client(&["198.51.100.1,[2001:db8::1]:443"]), ip("2001:db8::1"));
        assert_eq!(client(&["198.51.100.1, 2001:db8::1"]), ip("2001:db8::1"));
        assert_eq!(client(&["198.51.100.1, [2001:db8::1]"]), ip("2001:db8::1"));
        assert_eq!(client(&["  203.0.113.8  "]), ip("203.0.113.8"));
        // Several headers: the last one is the proxy's.
        assert_eq!(client(&["198.51.100.1", "203.0.113.9"]), ip("203.0.113.9"));
        // An unparsable last entry: nobody (the caller uses the proxy's address), never the
        // entry before it.
        for last in ["unknown", "", "203.0.113.8:51234:9", "[2001:db8::1", "2001:db8::1]:443", "_hidden", "::1::2"] {
            assert_eq!(client(&[&format!("198.51.100.1, {last}")]), None, "{last:?}");
        }
        assert_eq!(client(&["198.51.100.1,"]), None);
        assert_eq!(client(&[]), None);
    }

    #[test]
    fn cookies_are_secure_behind_https() {
        let https = AccountSettings::new("https://carburoam.example.org", false);
        assert_eq!(session_cookie_name(&https), "__Host-carburoam_session");
        let c = set_cookie(&https, session_cookie_name(&https), "abc", Some(60));
        assert_eq!(c, "__Host-carburoam_session=abc; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60");
        let http = AccountSettings::new("http://127.0.0.1:8080", false);
        let c = set_cookie(&http, session_cookie_name(&http), "abc", None);
        assert_eq!(c, "carburoam_session=abc; HttpOnly; SameSite=Lax; Path=/");
        // The CSRF cookie likewise, and a fresh value each time.
        assert_eq!(csrf_cookie_name(&https), "__Host-carburoam_csrf");
        assert_eq!(csrf_cookie_name(&http), "carburoam_csrf");
        let (a, b) = (new_csrf_cookie(&https), new_csrf_cookie(&https));
        assert_ne!(a, b);
        let a = a.to_str().expect("ASCII");
        assert!(
            a.starts_with("__Host-carburoam_csrf=") && a.ends_with("; HttpOnly; SameSite=Lax; Secure; Path=/"),
            "{a}"
        );
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
