//! How long browsers and proxies may keep an answer: one [`CachePolicy`] per kind of answer.
//!
//! Handlers say which policy their answer has by putting it in the response's extensions (it is
//! an [`IntoResponseParts`], or [`CachePolicy::set`]); a router group gives the policy of the
//! answers that name none ([`default_layer`]: the API's minute, the pages' revalidation); one
//! layer, [`layer`], writes the `Cache-Control` header from it. No other code writes that
//! header: a test below checks it. Answers made outside the routers (a refused connection, a
//! caught panic) are finished by [`finish`].

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponseParts, Response, ResponseParts};
use tower::util::MapResponseLayer;

/// What caches may do with an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CachePolicy {
    /// Never kept: errors, account pages and form answers (a CSRF token, personal data), the
    /// probes, `/metrics`.
    NoStore,
    /// Kept by the browser only, revalidated at each use: pages, which show who is logged in
    /// (the account menu changes at login and logout).
    PrivateRevalidate,
    /// Kept, revalidated at each use: the service worker and the offline page it keeps.
    Revalidate,
    /// One minute, by browsers and proxies: the JSON API. Its data changes every ten minutes at
    /// most (the feed's period); a minute is invisible to users and takes load off the database.
    PublicMinute,
    /// Five minutes: the search box's place suggestions.
    PublicFiveMinutes,
    /// An hour: what changes only with a new binary or never (the API's documentation, the app
    /// manifest, the push key, an asset asked for by a hash that is not its own).
    PublicHour,
    /// A year, never revalidated: an asset under its own content hash.
    Immutable,
}

impl CachePolicy {
    /// The `Cache-Control` value of this policy.
    pub const fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            CachePolicy::NoStore => "no-store",
            CachePolicy::PrivateRevalidate => "private, no-cache",
            CachePolicy::Revalidate => "no-cache",
            CachePolicy::PublicMinute => "public, max-age=60",
            CachePolicy::PublicFiveMinutes => "public, max-age=300",
            CachePolicy::PublicHour => "public, max-age=3600",
            CachePolicy::Immutable => "public, max-age=31536000, immutable",
        })
    }

    /// `resp` with this policy (replacing any other).
    pub fn set(self, mut resp: Response) -> Response {
        resp.extensions_mut().insert(self);
        resp
    }

    /// `resp` with this policy unless it has one already.
    fn or_in(self, mut resp: Response) -> Response {
        if resp.extensions().get::<CachePolicy>().is_none() {
            resp.extensions_mut().insert(self);
        }
        resp
    }
}

impl IntoResponseParts for CachePolicy {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

/// Writes the `Cache-Control` header of `resp`'s policy; an answer without one keeps no header.
pub fn finish(mut resp: Response) -> Response {
    if let Some(policy) = resp.extensions().get::<CachePolicy>().copied() {
        resp.headers_mut().insert(header::CACHE_CONTROL, policy.header_value());
    }
    resp
}

/// The layer that writes every answer's `Cache-Control` ([`finish`]).
pub fn layer() -> MapResponseLayer<fn(Response) -> Response> {
    MapResponseLayer::new(finish)
}

/// The layer that gives `policy` to the answers of a router group that name none.
pub fn default_layer(policy: CachePolicy) -> MapResponseLayer<impl Fn(Response) -> Response + Clone> {
    MapResponseLayer::new(move |resp| policy.or_in(resp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    #[test]
    fn the_policy_of_the_extension_becomes_the_header() {
        let resp = finish((CachePolicy::PublicHour, "x").into_response());
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "public, max-age=3600");
        let resp = finish(CachePolicy::NoStore.or_in(CachePolicy::PublicMinute.or_in("x".into_response())));
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "public, max-age=60", "the first policy stays");
        let resp = finish(CachePolicy::NoStore.set(CachePolicy::PublicMinute.set("x".into_response())));
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store", "set replaces");
        assert!(finish("x".into_response()).headers().get(header::CACHE_CONTROL).is_none());
    }

    /// Only this module writes `Cache-Control` in `src/web`: every other answer names a [`CachePolicy`].
    #[test]
    fn no_other_code_writes_the_header() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        crate::web::tests::web_sources(&root.join("src/web"), &mut files);
        let mut found = Vec::new();
        for file in files.iter().filter(|f| !f.ends_with("web/cache_control.rs")) {
            let text = std::fs::read_to_string(file).expect("source");
            let code = &text[..text.find("#[cfg(test)]").unwrap_or(text.len())];
            for needle in ["CACHE_CONTROL", "\"no-store\"", "\"no-cache\"", "\"public, ", "\"private, "] {
                let hits = code.lines().filter(|l| !l.trim_start().starts_with("//") && l.contains(needle));
                found.extend(hits.map(|l| format!("{}: {}", file.display(), l.trim())));
            }
        }
        assert!(found.is_empty(), "use a CachePolicy instead:\n{}", found.join("\n"));
    }
}
