//! `GET /`: the search box and the cheapest stations around the place searched.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;

use crate::index::{NearbyQuery, Order};
use crate::web::i18n::Lang;
use crate::web::page::{DAY, HtmlResult, Layout, Lenient, freshness, layout, path_and_query, reference_time, render};
use crate::web::routes::stations::{
    DEFAULT_FUEL, DEFAULT_MAX_AGE_DAYS, ListResults, Search, centre, refused_status, station_items,
};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub l: Layout,
    pub list: ListResults,
    pub map_url: String,
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
    let t = lang.strings();
    let page = render(&HomePage {
        l: layout(lang, format!("Carburoam — {}", t.tagline), "home", here, &f),
        list: ListResults { refusal, ..ListResults::new(q, fuel, searched, place, others, items) },
        map_url,
    })?;
    Ok(refused_status(page, refusal))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
