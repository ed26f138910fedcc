//! `GET /lang?to=en&back=/path`: the language switch.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::web::i18n::{Lang, lang_cookie};
use crate::web::page::Lenient;
use crate::web::state::AppState;

/// The language switch: remembers the choice in a cookie for a year and goes back.
pub async fn switch_lang(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let mut p = Lenient::new(&raw);
    let lang = p.str("to").and_then(|s| Lang::parse(&s)).unwrap_or(Lang::Fr);
    // Only a local path: never an open redirect (`//evil.example`, `/%09/evil.example`).
    let back = crate::web::session::safe_redirect(&p.str("back").unwrap_or_default(), "/");
    let mut resp = Redirect::to(&back).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, lang_cookie(lang, state.accounts.settings.secure_cookies));
    resp
}

/// The language switch.
pub fn router() -> Router<AppState> {
    Router::new().route("/lang", get(switch_lang))
}
