//! `GET /about`: where the data comes from, the source code, the accessibility statement.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::web::i18n::Lang;
use crate::web::page::{HtmlResult, Layout, freshness, layout, render};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "about.html")]
pub struct AboutPage {
    pub l: Layout,
    pub source_url: String,
    pub snapshot: Option<String>,
}

#[tracing::instrument(skip(state))]
pub async fn about(State(state): State<AppState>, lang: Lang) -> HtmlResult<Response> {
    let f = freshness(&state).await?;
    let t = lang.strings();
    Ok(render(&AboutPage {
        l: layout(lang, format!("{} — Carburoam", t.about_title), "about", "/about".into(), &f),
        source_url: state.site.source_url.clone(),
        snapshot: f.latest_snapshot_at.map(|ts| lang.datetime(ts)),
    })?)
}
