//! `GET /stations/{id}`: one station, its prices against the averages, its hours and services.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use chrono::{Datelike, Timelike};
use chrono_tz::Europe::Paris;

use crate::db::stations as q;
use crate::domain::series::day_of;
use crate::domain::station_name::StationName;
use crate::domain::{Fuel, OpeningHours, RoadType, StationId, rfc3339};
use crate::error::AppError;
use crate::index::PriceIndex;
use crate::index::places;
use crate::web::i18n::Lang;
use crate::web::page::{HtmlResult, Layout, freshness, layout, reference_time, render};
use crate::web::routes::stations::{fresh_class, shortage_text};
use crate::web::routes::trends::StationChart;
use crate::web::state::AppState;
use crate::web::versioned::{Key, Weigh};

pub struct FuelPriceView {
    pub fuel: &'static str,
    pub price: String,
    pub ago: String,
    pub at: String,
    pub iso: String,
    pub fresh_class: &'static str,
}

pub struct ShortageView {
    pub fuel: &'static str,
    pub kind: &'static str,
    pub since: Option<String>,
}

pub struct DayView {
    pub name: &'static str,
    pub today: bool,
    pub text: String,
}

pub struct CompareView {
    pub fuel: &'static str,
    pub price: String,
    pub dept: Option<String>,
    pub national: Option<String>,
    /// "moins cher de 0,032 €" against the département (or national) average.
    pub verdict: Option<String>,
    pub cheaper: bool,
}

#[derive(Template)]
#[template(path = "station.html")]
pub struct StationPage {
    pub l: Layout,
    pub id: StationId,
    /// The OpenStreetMap name, when known: the heading, with the address below it.
    pub name: Option<String>,
    pub badge: Option<crate::web::brand::Badge>,
    pub city: String,
    pub address: String,
    pub postcode: String,
    pub department: String,
    pub motorway: bool,
    pub lat: f64,
    pub lon: f64,
    pub gone_since: Option<String>,
    pub prices: Vec<FuelPriceView>,
    pub shortages: Vec<ShortageView>,
    pub h24: bool,
    pub open_now: Option<bool>,
    pub days: Vec<DayView>,
    pub services: Vec<String>,
    pub compare: Vec<CompareView>,
    /// The history chart: [`crate::web::routes::trends::station_chart`].
    pub chart: Option<Arc<crate::web::routes::trends::StationChart>>,
    pub tile_url: String,
    pub tile_attribution: String,
}

/// Whether the station is open at `minute` (after midnight) of `day` (1 = Monday), Paris time.
/// A slot that closes at or before it opens runs past midnight; open = close is round the
/// clock. `None` when the hours are unknown.
pub fn is_open(hours: &OpeningHours, day: u8, minute: u16) -> Option<bool> {
    hours.is_open(day, minute)
}

fn day_text(lang: Lang, d: &crate::domain::DayHours) -> String {
    let t = lang.strings();
    if d.closed {
        return t.closed.to_owned();
    }
    if d.slots.is_empty() {
        return "—".to_owned();
    }
    d.slots
        .iter()
        .map(|s| {
            if s.open == s.close {
                t.slot_all_day.to_owned()
            } else if s.overnight() {
                (t.slot_overnight)(&Lang::hhmm(s.open), &Lang::hhmm(s.close))
            } else {
                format!("{} – {}", Lang::hhmm(s.open), Lang::hhmm(s.close))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A station's current prices and shortages, in fuel id order: from the price index, the same
/// snapshot as the lists the visitor came from (and no SQLite round trip: two queries fewer per
/// page, which profiling showed to be most of this page's cost), or from the database for a
/// station the index does not hold (gone from the feed, or newer than the snapshot).
async fn station_prices(
    state: &AppState,
    index: &PriceIndex,
    id: StationId,
) -> Result<(Vec<q::PriceRow>, Vec<q::ShortageRow>), AppError> {
    let Some(s) = index.station(id) else {
        return Ok(tokio::try_join!(q::prices(&state.db, id), q::shortages(&state.db, id))?);
    };
    let prices =
        s.prices.iter().map(|o| q::PriceRow { fuel: o.fuel, price: o.price, updated_at: o.updated_at }).collect();
    let shortages = s.shortages.iter().map(|x| q::ShortageRow { fuel: x.fuel, kind: x.kind, since: x.since }).collect();
    Ok((prices, shortages))
}

/// What the station page shows that changes only with the data (and the chart's fuel and
/// range): computed once per data version ([`crate::web::versioned`]).
#[derive(Clone)]
struct StationData {
    row: q::StationRow,
    osm: Option<StationName>,
    prices: Vec<q::PriceRow>,
    shortages: Vec<q::ShortageRow>,
    chart: Option<Arc<StationChart>>,
    /// `row.services` and `row.opening_hours` read.
    services: Vec<String>,
    hours: Option<OpeningHours>,
}

impl Weigh for StationData {
    fn weight(&self) -> usize {
        let chart = self.chart.as_ref().map_or(0, |c| c.svg.len() + c.json.len() + 1024);
        chart + 1024 + 2 * (self.row.services.len() + self.row.opening_hours.as_ref().map_or(0, String::len))
    }
}

async fn station_data(
    state: &AppState,
    index: &PriceIndex,
    lang: Lang,
    id: StationId,
    query: &Option<String>,
) -> Result<StationData, AppError> {
    let (row, (prices, shortages), osm) = tokio::try_join!(
        async { q::station(&state.db, id).await?.ok_or_else(|| AppError::not_found(format!("station {id}"))) },
        station_prices(state, index, id),
        async { Ok(crate::db::station_names::get(&state.db, id).await?.map(|(n, _tags)| n)) },
    )?;
    let chart_fuels: Vec<&'static str> = prices.iter().map(|p| p.fuel.name()).collect();
    let chart =
        crate::web::routes::trends::station_chart(state, lang, id, &row.department, &chart_fuels, query).await?;
    let services = serde_json::from_str::<Vec<String>>(&row.services).unwrap_or_default();
    let hours = row.opening_hours.as_deref().and_then(|s| serde_json::from_str::<OpeningHours>(s).ok());
    Ok(StationData { row, osm, prices, shortages, chart: chart.map(Arc::new), services, hours })
}

#[tracing::instrument(skip(state))]
pub async fn station(
    State(state): State<AppState>,
    lang: Lang,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> HtmlResult<Response> {
    let id = StationId::parse(&raw).ok_or_else(|| AppError::not_found(format!("station {raw}")))?;
    let (f, index) = tokio::try_join!(freshness(&state), async { state.index.get().await.map_err(AppError::from) })?;
    let reference = reference_time(&f);
    // "Today's" averages: prices updated within a week of the newest snapshot (precomputed
    // by the price index for exactly this window).
    let since = reference - crate::index::AVERAGE_WINDOW_SECS;
    let mut params = crate::web::page::Lenient::new(&query);
    let key = Key::Station { id, lang, fuel: params.str("fuel"), range: params.str("range"), last: day_of(reference) };
    let data = state
        .cache
        .data
        .get_or_try(index.data_version(), key, || station_data(&state, &index, lang, id, &query))
        .await?;
    let StationData { row, osm, prices, shortages, chart, services, hours } = &*data;
    let dept = index.averages(Some(&row.department), since);
    let national = index.averages(None, since);
    let now = crate::db::now();
    let t = lang.strings();

    let paris = chrono::Utc::now().with_timezone(&Paris);
    let today = paris.weekday().number_from_monday() as u8;
    let minute = (paris.hour() * 60 + paris.minute()) as u16;
    let open_now = if row.automate_24_24 { Some(true) } else { hours.as_ref().and_then(|h| is_open(h, today, minute)) };
    let days = hours
        .as_ref()
        .filter(|h| h.days.iter().any(|d| !d.slots.is_empty()))
        .map(|h| {
            let mut days: Vec<_> = h.days.iter().collect();
            days.sort_by_key(|d| d.day);
            days.into_iter()
                .map(|d| DayView { name: lang.day_name(d.day), today: d.day == today, text: day_text(lang, d) })
                .collect()
        })
        .unwrap_or_default();

    let avg_of = |list: &[crate::index::FuelAverage], fuel: Fuel| {
        list.iter().find(|a| a.fuel == fuel.id() && a.stations > 0).map(|a| a.average)
    };
    let compare = prices
        .iter()
        .map(|p| {
            let d = avg_of(&dept, p.fuel);
            let n = avg_of(&national, p.fuel);
            let verdict_base = d.or(n);
            let (verdict, cheaper) = match verdict_base {
                Some(avg) => {
                    let diff = f64::from(p.price) - avg;
                    let amount = lang.price(diff.abs().round() as i32);
                    if diff <= 0.0 {
                        (Some(format!("{} {amount}", t.cheaper_by)), true)
                    } else {
                        (Some(format!("{} {amount}", t.dearer_by)), false)
                    }
                }
                None => (None, false),
            };
            CompareView {
                fuel: p.fuel.name(),
                price: lang.price(p.price),
                dept: d.map(|a| lang.price(a.round() as i32)),
                national: n.map(|a| lang.price(a.round() as i32)),
                verdict,
                cheaper,
            }
        })
        .collect();
    let prices = prices
        .iter()
        .map(|p| FuelPriceView {
            fuel: p.fuel.name(),
            price: lang.price(p.price),
            ago: lang.ago(now, p.updated_at),
            at: lang.datetime(p.updated_at),
            iso: rfc3339(p.updated_at),
            fresh_class: fresh_class(now, p.updated_at),
        })
        .collect();
    let shortages = shortages
        .iter()
        .map(|s| ShortageView {
            fuel: s.fuel.name(),
            kind: shortage_text(t, s.kind),
            since: s.since.map(|ts| lang.datetime(ts)),
        })
        .collect();
    let city = places::title_case(&row.city);
    let name = osm.as_ref().and_then(|n| n.display());
    let badge = osm.as_ref().and_then(|n| n.brand.as_deref()).map(crate::web::brand::Badge::new);
    let title = if let Some(name) = &name {
        format!("{name}, {city} — Carburoam")
    } else if row.address.is_empty() {
        format!("{city} — Carburoam")
    } else {
        format!("{}, {city} — Carburoam", row.address)
    };
    Ok(render(&StationPage {
        l: layout(lang, title, "", format!("/stations/{id}"), &f),
        id,
        name,
        badge,
        city,
        address: row.address.clone(),
        postcode: row.postcode.clone(),
        department: row.department.clone(),
        motorway: row.road_type == RoadType::Motorway,
        lat: row.latitude,
        lon: row.longitude,
        gone_since: row.missing_since.map(|ts| lang.datetime(ts)),
        prices,
        shortages,
        h24: row.automate_24_24,
        open_now,
        days,
        services: services.clone(),
        compare,
        chart: chart.clone(),
        tile_url: state.site.tile_url.clone(),
        tile_attribution: state.site.tile_attribution.clone(),
    })?)
}

/// A station's page.
pub fn router() -> Router<AppState> {
    Router::new().route("/stations/{id}", get(station))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DayHours, TimeSlot};

    fn week(slots: Vec<TimeSlot>) -> OpeningHours {
        OpeningHours { days: (1..=7).map(|day| DayHours { day, closed: false, slots: slots.clone() }).collect() }
    }

    #[test]
    fn opening_hours() {
        let overnight = week(vec![TimeSlot { open: 380, close: 60 }]);
        assert_eq!(is_open(&overnight, 3, 30), Some(true)); // 00:30, from Tuesday's slot
        assert_eq!(is_open(&overnight, 3, 200), Some(false)); // 03:20
        assert_eq!(is_open(&overnight, 3, 400), Some(true));
        let day = week(vec![TimeSlot { open: 420, close: 1200 }]);
        assert_eq!(is_open(&day, 1, 419), Some(false));
        assert_eq!(is_open(&day, 1, 420), Some(true));
        assert_eq!(is_open(&day, 1, 1200), Some(false));
        let always = week(vec![TimeSlot { open: 60, close: 60 }]);
        assert_eq!(is_open(&always, 5, 10), Some(true));
        let mut closed_sunday = day.clone();
        closed_sunday.days[6].closed = true;
        assert_eq!(is_open(&closed_sunday, 7, 600), Some(false));
        assert_eq!(is_open(&OpeningHours::default(), 1, 0), None);
        assert_eq!(is_open(&week(Vec::new()), 1, 0), None);
    }
}
