//! `GET /about`: where the data comes from, the source code, the accessibility statement.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::web::i18n::Lang;
use crate::web::page::{HtmlResult, Layout, freshness, layout, render};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "about.html")]
pub struct AboutPage {
    pub l: Layout,
    pub source_url: String,
    /// When the last import run succeeded ("5 juin 2026 à 12:10 (il y a 3 min)"): the header
    /// shows the feed's own date, this page also when it was last fetched.
    pub last_run: Option<String>,
}

#[tracing::instrument(skip(state))]
pub async fn about(State(state): State<AppState>, lang: Lang) -> HtmlResult<Response> {
    let f = freshness(&state).await?;
    let t = lang.strings();
    Ok(render(&AboutPage {
        l: layout(lang, format!("{} — Carburoam", t.about_title), "about", "/about".into(), &f),
        source_url: state.site.source_url.clone(),
        last_run: f.last_success_at.map(|ts| format!("{} ({})", lang.datetime(ts), lang.ago(crate::db::now(), ts))),
    })?)
}

/// The about page.
pub fn router() -> Router<AppState> {
    Router::new().route("/about", get(about))
}
