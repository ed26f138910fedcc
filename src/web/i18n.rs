//! The language of a request. [`Lang`] and its negotiation live in [`crate::domain`], the
//! sentences and the locale formatting in [`crate::text`]; this module reads the headers.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum_extra::extract::cookie::{Cookie, SameSite};

pub use crate::domain::{LANG_COOKIE, Lang};
pub use crate::text::SiteStrings as Strings;

/// The language of the visitor: the `lang` cookie, then `Accept-Language`, then French.
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(negotiate(&parts.headers))
    }
}

/// The language of a request's headers: the `lang` cookie, then `Accept-Language`, then French.
pub fn negotiate(headers: &HeaderMap) -> Lang {
    let cookie = crate::web::session::cookie(headers, LANG_COOKIE);
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Lang::negotiate(cookie.as_deref(), accept)
}

/// The cookie that remembers the language for a year: `Secure` like the others under HTTPS (not
/// HttpOnly: nothing secret in it).
pub fn lang_cookie(lang: Lang, secure: bool) -> HeaderValue {
    let c = Cookie::build((LANG_COOKIE, lang.code()))
        .path("/")
        .max_age(cookie::time::Duration::seconds(31_536_000))
        .same_site(SameSite::Lax)
        .secure(secure)
        .build();
    HeaderValue::from_str(&c.to_string()).unwrap_or_else(|_| HeaderValue::from_static("lang=fr; Path=/"))
}
