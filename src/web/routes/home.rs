//! `GET /`: the search box and the cheapest stations around the place searched.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;

use crate::domain::series::day_start;
use crate::history::series::NationalFigure;
use crate::index::{NearbyQuery, Order};
use crate::web::i18n::Lang;
use crate::web::page::{DAY, HtmlResult, Layout, Lenient, freshness, layout, path_and_query, reference_time, render};
use crate::web::routes::stations::{
    DEFAULT_FUEL, DEFAULT_MAX_AGE_DAYS, ListResults, Search, centre, refused_status, station_items,
};
use crate::web::routes::trends::national_figures;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub l: Layout,
    pub list: ListResults,
    pub map_url: String,
    /// "National averages on 5 Jun 2026", with the figures (none before any daily series).
    pub national_title: String,
    pub national: Vec<NationalView>,
    /// `/tendances` or `/trends`.
    pub trends_path: &'static str,
    /// css/site.css, inlined ([`crate::web::assets::INLINE_CSS`]).
    pub css: &'static str,
}

/// A fuel's national average under the search.
pub struct NationalView {
    pub fuel: &'static str,
    pub average: String,
    pub change: Option<String>,
    /// `down` (cheaper than a week before), `up` or empty.
    pub change_class: &'static str,
}

fn national_views(lang: Lang, figures: &[NationalFigure]) -> (String, Vec<NationalView>) {
    let title =
        figures.iter().map(|f| f.day).max().map_or_else(String::new, |d| {
            (lang.texts().history.home_national_title)(&lang.date(day_start(d) + 12 * 3600))
        });
    let views = figures
        .iter()
        .map(|f| NationalView {
            fuel: f.fuel.name(),
            average: lang.price(f.average),
            change: f.week_change.map(|c| lang.price_change(c)),
            change_class: match f.week_change {
                Some(c) if c < 0 => "down",
                Some(c) if c > 0 => "up",
                _ => "",
            },
        })
        .collect();
    (title, views)
}

#[tracing::instrument(skip(state))]
pub async fn home(State(state): State<AppState>, lang: Lang, RawQuery(raw): RawQuery) -> HtmlResult<Response> {
    let here = path_and_query("/", &raw);
    let mut p = Lenient::new(&raw);
    let fuel = p.fuel("fuel").unwrap_or(DEFAULT_FUEL);
    let search = centre(&state, &mut p).await?;
    let refusal = search.refusal(lang.strings());
    let Search { q, centre, .. } = search;
    let f = freshness(&state).await?;
    let searched = q.is_some() || centre.is_some();
    let (items, place, others, map_url) = match centre {
        Some(c) => {
            let index = state.index.get().await?;
            let hits = index.nearby(&NearbyQuery {
                latitude: c.lat,
                longitude: c.lon,
                radius_km: c.radius_km,
                fuel,
                updated_since: reference_time(&f) - i64::from(DEFAULT_MAX_AGE_DAYS) * DAY,
                hide_shortages: true,
                only_24_24: false,
                service: None,
                brands: &[],
                words: &c.words,
                order: Order::Price,
                limit: 10,
            });
            let map_url = match &q {
                Some(q) => format!("/stations?q={}&fuel={}", enc(q), fuel.name()),
                None => format!("/stations?lat={:.5}&lon={:.5}&fuel={}", c.lat, c.lon, fuel.name()),
            };
            (station_items(lang, &hits), c.label, c.others, map_url)
        }
        None => (Vec::new(), None, Vec::new(), String::new()),
    };
    let (national_title, national) = national_views(lang, &national_figures(&state, &f).await?);
    let t = lang.strings();
    let page = render(&HomePage {
        l: layout(lang, format!("Carburoam — {}", t.tagline), "home", here, &f),
        list: ListResults { refusal, ..ListResults::new(q, fuel, searched, place, others, items) },
        map_url,
        national_title,
        national,
        trends_path: if lang == Lang::Fr { "/tendances" } else { "/trends" },
        css: crate::web::assets::INLINE_CSS,
    })?;
    Ok(refused_status(page, refusal))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The home page.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}
