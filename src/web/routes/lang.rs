//! `GET /lang?to=en&back=/path`: the language switch.

use axum::extract::RawQuery;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::web::i18n::{LANG_COOKIE, Lang};
use crate::web::page::Lenient;

/// The language switch: remembers the choice in a cookie for a year and goes back.
pub async fn switch_lang(RawQuery(raw): RawQuery) -> Response {
    let mut p = Lenient::new(&raw);
    let lang = p.str("to").and_then(|s| Lang::parse(&s)).unwrap_or(Lang::Fr);
    // Only a local path: never an open redirect (`//evil.example`, `/%09/evil.example`).
    let back = crate::web::session::safe_redirect(&p.str("back").unwrap_or_default(), "/");
    let cookie = format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code());
    let mut resp = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}
