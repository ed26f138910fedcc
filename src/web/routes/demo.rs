//! `GET /demo`: the dashboard of `/me` without an account, over stations named in the URL.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;

use crate::db::favourites;
use crate::db::stations as q;
use crate::domain::{Fuel, StationId};
use crate::error::AppError;
use crate::index::PriceIndex;
use crate::index::places;
use crate::web::i18n::Lang;
use crate::web::page::{
    DAY, DEFAULT_PLACE, FuelOption, HtmlResult, Layout, Lenient, freshness, fuel_options, layout, path_and_query,
    reference_time, render,
};
use crate::web::state::AppState;

/// Litres a year of an average French car, for the savings figure.
pub const LITRES_PER_YEAR: f64 = 650.0;

// ---------------------------------------------------------------------------------------------
// GET /demo

/// A station of the demo's list, with the link that removes it.
pub struct DemoRow {
    pub id: StationId,
    pub city: String,
    pub address: String,
    pub remove_url: String,
}

pub struct DemoCandidate {
    pub id: StationId,
    pub city: String,
    pub address: String,
    pub distance: String,
    pub lat: f64,
    pub lon: f64,
    pub add_url: String,
}

#[derive(Template)]
#[template(path = "demo.html")]
pub struct DemoPage {
    pub l: Layout,
    pub fuel_names: Vec<&'static str>,
    pub fuels1: Vec<FuelOption>,
    pub fuels2: Vec<FuelOption>,
    pub rows: Vec<DemoRow>,
    pub ids: String,
    pub explicit: bool,
    /// The same per-fuel tables and savings cards as `/me`.
    pub sections: Vec<crate::web::routes::me::DashFuel>,
    pub candidates: Vec<DemoCandidate>,
    pub lat: f64,
    pub lon: f64,
    pub tile_url: String,
    pub tile_attribution: String,
}

/// At most this many stations on the dashboard.
pub const DEMO_MAX_STATIONS: usize = 10;
/// How far from the visitor the demo looks for stations to offer.
const DEMO_SEARCH_KM: f64 = 50.0;

/// What the demo's stations would be on a real dashboard: from the price index, or, for a shared
/// link naming stations gone from the feed since, from the database with their last prices.
async fn demo_watched(
    state: &AppState,
    index: &PriceIndex,
    ids: &[StationId],
) -> Result<(Vec<favourites::Favourite>, Vec<favourites::FavPrice>, Vec<favourites::FavShortage>), AppError> {
    let (mut favs, mut prices, mut shortages) = (Vec::new(), Vec::new(), Vec::new());
    for (position, id) in ids.iter().enumerate() {
        let (fav, offers) = match index.station(*id) {
            Some(s) => {
                for o in s.prices.iter() {
                    if let Some(kind) = o.shortage {
                        shortages.push(favourites::FavShortage {
                            station_id: s.id,
                            fuel: o.fuel.id(),
                            kind: kind.as_str().to_owned(),
                        });
                    }
                }
                let offers: Vec<(i16, i32, i64)> =
                    s.prices.iter().map(|o| (o.fuel.id(), o.price, o.updated_at)).collect();
                (
                    favourites::Favourite {
                        station_id: s.id,
                        name: None,
                        position: position as i32,
                        added_at: 0,
                        city: s.city.to_string(),
                        address: s.address.to_string(),
                        postcode: s.postcode.to_string(),
                        department: s.department.to_string(),
                        latitude: s.latitude,
                        longitude: s.longitude,
                        missing_since: None,
                    },
                    offers,
                )
            }
            None => {
                let sid = *id;
                let Some(row) = q::station(&state.db, sid).await? else { continue };
                let offers =
                    q::prices(&state.db, sid).await?.iter().map(|p| (p.fuel.id(), p.price, p.updated_at)).collect();
                (
                    favourites::Favourite {
                        station_id: row.id,
                        name: None,
                        position: position as i32,
                        added_at: 0,
                        city: row.city,
                        address: row.address,
                        postcode: row.postcode,
                        department: row.department,
                        latitude: row.latitude,
                        longitude: row.longitude,
                        missing_since: row.missing_since,
                    },
                    offers,
                )
            }
        };
        for (fuel, price, updated_at) in offers {
            prices.push(favourites::FavPrice { station_id: fav.station_id, fuel, price, updated_at });
        }
        favs.push(fav);
    }
    Ok((favs, prices, shortages))
}

fn demo_url(ids: &[StationId], fuels: [Fuel; 2], lat: f64, lon: f64) -> String {
    let ids: Vec<String> = ids.iter().map(StationId::to_string).collect();
    format!("/demo?ids={}&fuel1={}&fuel2={}&lat={lat:.4}&lon={lon:.4}", ids.join("%2C"), fuels[0], fuels[1])
}

#[tracing::instrument(skip(state))]
pub async fn demo(State(state): State<AppState>, lang: Lang, RawQuery(raw): RawQuery) -> HtmlResult<Response> {
    let here = path_and_query("/demo", &raw);
    let mut p = Lenient::new(&raw);
    let fuels = [p.fuel("fuel1").unwrap_or(Fuel::E10), p.fuel("fuel2").unwrap_or(Fuel::Gazole)];
    let lat = p.f64_in("lat", -90.0..=90.0).unwrap_or(DEFAULT_PLACE.0);
    let lon = p.f64_in("lon", -180.0..=180.0).unwrap_or(DEFAULT_PLACE.1);
    let explicit_ids = p.str("ids");
    let explicit = explicit_ids.is_some();
    let mut ids: Vec<StationId> = Vec::new();
    for s in explicit_ids.as_deref().unwrap_or("").split([',', ' ']) {
        if let Some(id) = StationId::parse(s)
            && !ids.contains(&id)
            && ids.len() < DEMO_MAX_STATIONS
        {
            ids.push(id);
        }
    }
    let (f, index) = tokio::try_join!(freshness(&state), async { state.index.get().await.map_err(AppError::from) })?;
    let near = index.nearest(lat, lon, 12, DEMO_SEARCH_KM);
    if !explicit {
        ids = near.iter().take(3).map(|(s, _)| s.id).collect();
    }
    let reference = reference_time(&f);
    let (favs, prices, shortages) = demo_watched(&state, &index, &ids).await?;
    let before = favourites::prices_at_stations(&state.db, &ids, reference - 7 * DAY).await?;
    let watched =
        crate::web::routes::me::Watched { favs: &favs, prices: &prices, before: &before, shortages: &shortages };
    let sections =
        crate::web::routes::me::fuel_sections(lang, &fuels, reference, &watched, LITRES_PER_YEAR as i32, &index);
    let rows = favs
        .iter()
        .map(|s| {
            let others: Vec<StationId> = ids.iter().copied().filter(|x| *x != s.station_id).collect();
            DemoRow {
                id: s.station_id,
                city: index
                    .station(s.station_id)
                    .and_then(|st| st.name.as_deref())
                    .map_or_else(|| places::title_case(&s.city), str::to_owned),
                address: s.address.clone(),
                remove_url: demo_url(&others, fuels, lat, lon),
            }
        })
        .collect();
    let candidates = near
        .into_iter()
        .filter(|(s, _)| !ids.contains(&s.id))
        .take(8)
        .map(|(s, d)| {
            let mut with = ids.clone();
            with.push(s.id);
            DemoCandidate {
                id: s.id,
                city: s.name.as_deref().map_or_else(|| places::title_case(&s.city), str::to_owned),
                address: s.address.to_string(),
                distance: lang.km(d),
                lat: s.latitude,
                lon: s.longitude,
                add_url: demo_url(&with, fuels, lat, lon),
            }
        })
        .collect();
    let t = lang.strings();
    Ok(render(&DemoPage {
        l: layout(lang, format!("{} — Carburoam", t.demo_title), "demo", here, &f),
        fuel_names: fuels.iter().map(|f| f.name()).collect(),
        fuels1: fuel_options(fuels[0]),
        fuels2: fuel_options(fuels[1]),
        ids: ids.iter().map(StationId::to_string).collect::<Vec<_>>().join(","),
        explicit,
        rows,
        sections,
        candidates,
        lat,
        lon,
        tile_url: state.site.tile_url.clone(),
        tile_attribution: state.site.tile_attribution.clone(),
    })?)
}

/// The demonstration page.
pub fn router() -> Router<AppState> {
    Router::new().route("/demo", get(demo))
}
