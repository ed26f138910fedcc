//! The language of a request. [`Lang`] and its negotiation live in [`crate::domain`], the
//! sentences and the locale formatting in [`crate::text`]; this module reads the headers.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

pub use crate::domain::{LANG_COOKIE, Lang};
pub use crate::text::SiteStrings as Strings;

/// The language of the visitor: the `lang` cookie, then `Accept-Language`, then French.
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let h = |name| parts.headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
        Ok(Lang::negotiate(h(header::COOKIE), h(header::ACCEPT_LANGUAGE)))
    }
}
