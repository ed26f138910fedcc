//! The public site: server-rendered HTML pages (askama), French by default.
//!
//! Every page works without JavaScript: lists are queried here, forms are plain GET forms. The
//! scripts in `static/js/` only add the map, the chart, suggestions and geolocation. Query
//! strings are read leniently (a bad or unknown value falls back to its default: these URLs are
//! typed and shared by people, not scripts).
//!
//! Prices "older than N days" are measured from the newest snapshot imported, not from the
//! clock, so a database loaded from an old file still shows its prices (and the banner says how
//! old they are).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Datelike, Timelike};
use chrono_tz::Europe::Paris;

use crate::db::favourites;
use crate::db::search::{self, Place};
use crate::db::stations as q;
use crate::db::stats;
use crate::domain::{Fuel, OpeningHours, ShortageKind, StationId, rfc3339};
use crate::error::{AppError, HtmlError, HtmlResult};
use crate::index::{Hit, NearbyQuery, Order, PriceIndex};
use crate::state::AppState;
use crate::web::assets;
use crate::web::cache::Freshness;
use crate::web::extract::QueryParams;
use crate::web::i18n::{LANG_COOKIE, Lang, Strings};

const DAY: i64 = 86_400;
/// Litres a year of an average French car, for the savings figure.
pub const LITRES_PER_YEAR: f64 = 650.0;
/// Where the demo and an empty map start: Paris, Hôtel de Ville.
pub const DEFAULT_PLACE: (f64, f64) = (48.8566, 2.3522);
pub const DEFAULT_FUEL: Fuel = Fuel::E10;
pub const DEFAULT_MAX_AGE_DAYS: u32 = 30;
/// Data older than this gets the warning banner.
pub const STALE_AFTER_SECS: i64 = 3600;
/// Services offered in the filter (the feed's spelling); the most common ones.
pub const SERVICES: [&str; 8] = [
    "Toilettes publiques",
    "Boutique alimentaire",
    "Station de gonflage",
    "Lavage automatique",
    "Automate CB 24/24",
    "DAB (Distributeur automatique de billets)",
    "Vente de gaz domestique (Butane, Propane)",
    "Bornes électriques",
];

// ---------------------------------------------------------------------------------------------
// What every page shares

/// The freshness line of every page.
pub struct FreshView {
    pub ago: String,
    pub at: String,
    pub iso: String,
    pub stale: bool,
}

/// Data of `base.html`.
pub struct Layout {
    pub lang: Lang,
    pub t: &'static Strings,
    pub title: String,
    /// `home`, `map`, `demo`, `about` or empty: the current item of the menu.
    pub nav: &'static str,
    /// Path and query of this page, for the language switch to come back to.
    pub here: String,
    pub fresh: Option<FreshView>,
    /// The visitor: the account menu, and the CSRF token of the page's forms.
    pub viewer: crate::web::session::Viewer,
    pub a: &'static crate::web::i18n_account::AccountStrings,
}

impl Layout {
    /// One of two wordings by language: for the admin console, whose few sentences are written
    /// where they are used rather than in the tables of the public site.
    pub fn tr(&self, fr: &'static str, en: &'static str) -> &'static str {
        match self.lang {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    pub fn asset(&self, path: &str) -> &'static str {
        assets::url(path)
    }

    /// `/lang?to=en&back=…` (HTML-escaped by the template).
    pub fn switch_url(&self) -> String {
        let back: String = url::form_urlencoded::byte_serialize(self.here.as_bytes()).collect();
        format!("/lang?to={}&back={back}", self.lang.other().code())
    }

    pub fn current(&self, item: &str) -> &'static str {
        if self.nav == item { "page" } else { "false" }
    }
}

pub(crate) async fn freshness(state: &AppState) -> Result<Freshness, AppError> {
    let db = state.db.clone();
    state
        .cache
        .freshness
        .get_or_try(|| async move {
            let (last_success_at, latest_snapshot_at) =
                tokio::try_join!(q::last_success_at(&db), q::latest_snapshot_at(&db))?;
            Ok::<_, AppError>(Freshness { last_success_at, latest_snapshot_at })
        })
        .await
}

pub(crate) fn layout(lang: Lang, title: String, nav: &'static str, here: String, f: &Freshness) -> Layout {
    let now = crate::db::now();
    let fresh = f.last_success_at.map(|t| FreshView {
        ago: lang.ago(now, t),
        at: lang.datetime(t),
        iso: rfc3339(t),
        stale: now - t > STALE_AFTER_SECS,
    });
    Layout {
        lang,
        t: lang.strings(),
        title,
        nav,
        here,
        fresh,
        viewer: crate::web::session::current_viewer(),
        a: crate::web::i18n_account::strings(lang),
    }
}

/// The time "N days old" is measured from: the newest snapshot, or now.
fn reference_time(f: &Freshness) -> i64 {
    f.latest_snapshot_at.unwrap_or_else(crate::db::now)
}

/// Renders a template as an HTML response.
pub(crate) fn render<T: Template>(tpl: &T) -> Result<Response, AppError> {
    let body = tpl.render().map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok(Html(body).into_response())
}

fn path_and_query(path: &str, query: &Option<String>) -> String {
    match query.as_deref() {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

/// Lenient query parameters: a bad value is as if absent.
struct Lenient(QueryParams);

impl Lenient {
    fn new(raw: &Option<String>) -> Lenient {
        // Duplicates make `parse` fail; then only the first of each name counts.
        let params = QueryParams::parse(raw.as_deref()).unwrap_or_else(|_| {
            let mut seen = std::collections::BTreeSet::new();
            let dedup: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
                        .filter(|(k, _)| seen.insert(k.to_string())),
                )
                .finish();
            QueryParams::parse(Some(&dedup)).unwrap_or_default()
        });
        Lenient(params)
    }
    fn str(&mut self, name: &str) -> Option<String> {
        self.0.take(name)
    }
    fn f64_in(&mut self, name: &str, r: std::ops::RangeInclusive<f64>) -> Option<f64> {
        self.0.f64_in(name, r).ok().flatten()
    }
    fn u32_in(&mut self, name: &str, r: std::ops::RangeInclusive<u32>) -> Option<u32> {
        self.0.u32_in(name, r).ok().flatten()
    }
    fn fuel(&mut self, name: &str) -> Option<Fuel> {
        self.0.fuel(name).ok().flatten()
    }
    fn flag(&mut self, name: &str) -> bool {
        self.0.take(name).is_some_and(|v| v != "0")
    }
}

// ---------------------------------------------------------------------------------------------
// Lists of stations

/// A station of a list, formatted.
pub struct StationItem {
    pub id: i64,
    pub city: String,
    pub address: String,
    pub distance: String,
    pub price: String,
    /// `c0` (cheapest fifth) to `c4` (dearest).
    pub price_class: &'static str,
    pub ago: String,
    pub updated_iso: String,
    pub fresh_class: &'static str,
    pub shortage: Option<&'static str>,
    pub h24: bool,
}

/// Colour class of a price's age (from now): fresh under a day, then under three days, then old.
fn fresh_class(now: i64, ts: i64) -> &'static str {
    match now - ts {
        d if d < DAY => "fresh",
        d if d < 3 * DAY => "aging",
        _ => "old",
    }
}

fn price_class(price: i32, min: i32, max: i32) -> &'static str {
    if max <= min {
        return "c0";
    }
    let x = f64::from(price - min) / f64::from(max - min);
    ["c0", "c1", "c2", "c3", "c4"][((x * 5.0) as usize).min(4)]
}

fn shortage_text(t: &'static Strings, kind: ShortageKind) -> &'static str {
    match kind {
        ShortageKind::Temporary => t.shortage_temporary,
        ShortageKind::Permanent => t.shortage_permanent,
        ShortageKind::Unknown => t.shortage_unknown,
    }
}

fn station_items(lang: Lang, hits: &[Hit<'_>]) -> Vec<StationItem> {
    let now = crate::db::now();
    let t = lang.strings();
    let min = hits.iter().map(|h| h.offer.price).min().unwrap_or(0);
    let max = hits.iter().map(|h| h.offer.price).max().unwrap_or(0);
    hits.iter()
        .map(|h| {
            let (s, o) = (h.station, h.offer);
            StationItem {
                id: s.id,
                city: search::title_case(&s.city),
                address: s.address.to_string(),
                distance: lang.km(h.distance_km),
                price: lang.price(o.price),
                price_class: price_class(o.price, min, max),
                ago: lang.ago(now, o.updated_at),
                updated_iso: rfc3339(o.updated_at),
                fresh_class: fresh_class(now, o.updated_at),
                shortage: o.shortage.map(|k| shortage_text(t, k)),
                h24: s.automate_24_24,
            }
        })
        .collect()
}

pub(crate) async fn place_index(state: &AppState) -> Result<Arc<Vec<Place>>, AppError> {
    let db = state.db.clone();
    state
        .cache
        .places
        .get_or_try(|| async move { Ok::<_, AppError>(Arc::new(search::build_index(&search::place_rows(&db).await?))) })
        .await
}

/// A place other than the one shown, as a link.
pub struct PlaceLink {
    pub label: String,
    pub query: String,
}

/// Where a search is centred, and what it found.
struct Centre {
    lat: f64,
    lon: f64,
    radius_km: f64,
    label: Option<String>,
    others: Vec<PlaceLink>,
}

/// `q` resolved against the known places, or `lat`/`lon`, or nothing.
async fn centre(state: &AppState, p: &mut Lenient) -> Result<(Option<String>, Option<Centre>), AppError> {
    let q = p.str("q");
    let lat = p.f64_in("lat", -90.0..=90.0);
    let lon = p.f64_in("lon", -180.0..=180.0);
    if let Some(text) = &q {
        let index = place_index(state).await?;
        let found = search::resolve(&index, text, 6);
        let Some(first) = found.first() else {
            return Ok((q, None));
        };
        let others = found[1..].iter().map(|p| PlaceLink { label: p.label.clone(), query: p.query.clone() }).collect();
        let label = first.label.clone();
        return Ok((
            q,
            Some(Centre {
                lat: first.latitude,
                lon: first.longitude,
                radius_km: first.radius_km,
                label: Some(label),
                others,
            }),
        ));
    }
    if let (Some(lat), Some(lon)) = (lat, lon) {
        return Ok((None, Some(Centre { lat, lon, radius_km: 10.0, label: None, others: Vec::new() })));
    }
    Ok((None, None))
}

/// A fuel of the picker.
pub struct FuelOption {
    pub name: &'static str,
    pub selected: bool,
}

fn fuel_options(selected: Fuel) -> Vec<FuelOption> {
    Fuel::ALL.iter().map(|f| FuelOption { name: f.name(), selected: *f == selected }).collect()
}

// ---------------------------------------------------------------------------------------------
// GET /

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub l: Layout,
    pub q: String,
    pub fuels: Vec<FuelOption>,
    pub fuel: &'static str,
    pub searched: bool,
    pub place: Option<String>,
    pub others: Vec<PlaceLink>,
    pub items: Vec<StationItem>,
    pub map_url: String,
}

#[tracing::instrument(skip(state))]
pub async fn home(State(state): State<AppState>, lang: Lang, RawQuery(raw): RawQuery) -> HtmlResult<Response> {
    let here = path_and_query("/", &raw);
    let r = async {
        let mut p = Lenient::new(&raw);
        let fuel = p.fuel("fuel").unwrap_or(DEFAULT_FUEL);
        let (q, centre) = centre(&state, &mut p).await?;
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
        render(&HomePage {
            l: layout(lang, format!("Carburoam — {}", t.tagline), "home", here, &f),
            q: q.unwrap_or_default(),
            fuels: fuel_options(fuel),
            fuel: fuel.name(),
            searched,
            place,
            others,
            items,
            map_url,
        })
    }
    .await;
    r.map_err(|e| HtmlError(e, lang))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---------------------------------------------------------------------------------------------
// GET /stations

/// A service of the filter.
pub struct ServiceOption {
    pub name: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "stations.html")]
pub struct StationsPage {
    pub l: Layout,
    pub q: String,
    pub fuels: Vec<FuelOption>,
    pub fuel: &'static str,
    pub searched: bool,
    pub place: Option<String>,
    pub others: Vec<PlaceLink>,
    pub items: Vec<StationItem>,
    pub lat: f64,
    pub lon: f64,
    pub radius_km: f64,
    pub has_centre: bool,
    pub by_distance: bool,
    pub h24: bool,
    pub hide_shortages: bool,
    pub services: Vec<ServiceOption>,
    pub max_age: u32,
    /// `max_age` plus the age of the newest snapshot: what the JSON API's `max_age_days` needs
    /// for the map to show the same prices as the list.
    pub api_max_age: u32,
    pub tile_url: String,
    pub tile_attribution: String,
}

#[tracing::instrument(skip(state))]
pub async fn stations(State(state): State<AppState>, lang: Lang, RawQuery(raw): RawQuery) -> HtmlResult<Response> {
    let here = path_and_query("/stations", &raw);
    let r = async {
        let mut p = Lenient::new(&raw);
        let fuel = p.fuel("fuel").unwrap_or(DEFAULT_FUEL);
        let radius = p.f64_in("radius_km", 1.0..=100.0);
        let by_distance = p.str("sort").as_deref() == Some("distance");
        let h24 = p.flag("h24");
        let hide_shortages = p.flag("hide_shortages");
        let service = p.str("service").and_then(|s| SERVICES.iter().find(|x| **x == s).copied());
        let max_age = p.u32_in("max_age", 1..=365).unwrap_or(DEFAULT_MAX_AGE_DAYS);
        let (q, centre) = centre(&state, &mut p).await?;
        let f = freshness(&state).await?;
        let reference = reference_time(&f);
        let searched = q.is_some() || centre.is_some();
        let (lat, lon, radius_km, has_centre) = match &centre {
            Some(c) => (c.lat, c.lon, radius.unwrap_or(c.radius_km), true),
            None => (46.6, 2.4, radius.unwrap_or(10.0), false),
        };
        let items = if has_centre {
            let index = state.index.get().await?;
            let hits = index.nearby(&NearbyQuery {
                latitude: lat,
                longitude: lon,
                radius_km,
                fuel,
                updated_since: reference - i64::from(max_age) * DAY,
                hide_shortages,
                only_24_24: h24,
                service,
                order: if by_distance { Order::Distance } else { Order::Price },
                limit: 50,
            });
            station_items(lang, &hits)
        } else {
            Vec::new()
        };
        let behind_days = ((crate::db::now() - reference).max(0) / DAY) as u32 + 1;
        let (place, others) = match centre {
            Some(c) => (c.label, c.others),
            None => (None, Vec::new()),
        };
        let t = lang.strings();
        let title = match &place {
            Some(p) => format!("{} {p} — Carburoam", t.cheapest_around),
            None => format!("{} — Carburoam", t.results_title),
        };
        render(&StationsPage {
            l: layout(lang, title, "map", here, &f),
            q: q.unwrap_or_default(),
            fuels: fuel_options(fuel),
            fuel: fuel.name(),
            searched,
            place,
            others,
            items,
            lat,
            lon,
            radius_km,
            has_centre,
            by_distance,
            h24,
            hide_shortages,
            services: SERVICES.iter().map(|s| ServiceOption { name: s, selected: Some(*s) == service }).collect(),
            max_age,
            api_max_age: (max_age + behind_days).min(crate::web::routes::api::MAX_AGE_DAYS),
            tile_url: state.site.tile_url.clone(),
            tile_attribution: state.site.tile_attribution.clone(),
        })
    }
    .await;
    r.map_err(|e| HtmlError(e, lang))
}

// ---------------------------------------------------------------------------------------------
// GET /stations/{id}

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
    pub id: i64,
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
    pub chart_fuels: Vec<&'static str>,
    pub behind_days: u32,
    pub tile_url: String,
    pub tile_attribution: String,
}

/// Whether the station is open at `minute` (after midnight) of `day` (1 = Monday), Paris time.
/// A slot that closes at or before it opens runs past midnight; open = close is round the
/// clock. `None` when the hours are unknown.
pub fn is_open(hours: &OpeningHours, day: u8, minute: u16) -> Option<bool> {
    // The feed often lists the days with no slot at all: that says nothing.
    if hours.days.iter().all(|d| d.slots.is_empty()) {
        return None;
    }
    let prev = if day == 1 { 7 } else { day - 1 };
    let today = hours.days.iter().find(|d| d.day == day);
    let yesterday = hours.days.iter().find(|d| d.day == prev);
    let open_today = today.is_some_and(|d| {
        !d.closed
            && d.slots.iter().any(|s| {
                if s.open == s.close {
                    true
                } else if s.overnight() {
                    minute >= s.open
                } else {
                    (s.open..s.close).contains(&minute)
                }
            })
    });
    let from_yesterday = yesterday
        .is_some_and(|d| !d.closed && d.slots.iter().any(|s| s.overnight() && s.open != s.close && minute < s.close));
    Some(open_today || from_yesterday)
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
                "24 h/24".to_owned()
            } else if s.overnight() {
                let next = match lang {
                    Lang::Fr => "lendemain",
                    Lang::En => "next day",
                };
                format!("{} – {} ({next})", Lang::hhmm(s.open), Lang::hhmm(s.close))
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
    id: i64,
) -> Result<(Vec<q::PriceRow>, Vec<q::ShortageRow>), AppError> {
    let Some(s) = index.station(id) else {
        return Ok(tokio::try_join!(q::prices(&state.db, id), q::shortages(&state.db, id))?);
    };
    let prices =
        s.prices.iter().map(|o| q::PriceRow { fuel: o.fuel.id(), price: o.price, updated_at: o.updated_at }).collect();
    let shortages = s
        .shortages
        .iter()
        .map(|x| q::ShortageRow { fuel: x.fuel.id(), kind: x.kind.as_str().to_owned(), since: x.since })
        .collect();
    Ok((prices, shortages))
}

#[tracing::instrument(skip(state))]
pub async fn station(State(state): State<AppState>, lang: Lang, Path(raw): Path<String>) -> HtmlResult<Response> {
    let r = async {
        let id = StationId::parse(&raw).ok_or_else(|| AppError::not_found(format!("station {raw}")))?;
        let (row, f, index) = tokio::try_join!(
            async {
                q::station(&state.db, id.get()).await?.ok_or_else(|| AppError::not_found(format!("station {id}")))
            },
            freshness(&state),
            async { state.index.get().await.map_err(AppError::from) },
        )?;
        let reference = reference_time(&f);
        // "Today's" averages: prices updated within a week of the newest snapshot (precomputed
        // by the price index for exactly this window).
        let since = reference - stats::AVERAGE_WINDOW_SECS;
        let (prices, shortages) = station_prices(&state, &index, id.get()).await?;
        let dept = index.averages(Some(&row.department), since);
        let national = index.averages(None, since);
        let now = crate::db::now();
        let t = lang.strings();

        let services = serde_json::from_str::<Vec<String>>(&row.services).unwrap_or_default();
        let hours = row.opening_hours.as_deref().and_then(|s| serde_json::from_str::<OpeningHours>(s).ok());
        let paris = chrono::Utc::now().with_timezone(&Paris);
        let today = paris.weekday().number_from_monday() as u8;
        let minute = (paris.hour() * 60 + paris.minute()) as u16;
        let open_now =
            if row.automate_24_24 { Some(true) } else { hours.as_ref().and_then(|h| is_open(h, today, minute)) };
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

        let fuel_name = |id: i16| Fuel::from_id(id.into()).map(Fuel::name).unwrap_or("?");
        let avg_of = |list: &[stats::FuelAverage], fuel: i16| {
            list.iter().find(|a| a.fuel == fuel && a.stations > 0).map(|a| a.average)
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
                    fuel: fuel_name(p.fuel),
                    price: lang.price(p.price),
                    dept: d.map(|a| lang.price(a.round() as i32)),
                    national: n.map(|a| lang.price(a.round() as i32)),
                    verdict,
                    cheaper,
                }
            })
            .collect();
        let chart_fuels = prices.iter().map(|p| fuel_name(p.fuel)).collect();
        let prices = prices
            .iter()
            .map(|p| FuelPriceView {
                fuel: fuel_name(p.fuel),
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
                fuel: fuel_name(s.fuel),
                kind: shortage_text(t, ShortageKind::from_db(&s.kind)),
                since: s.since.map(|ts| lang.datetime(ts)),
            })
            .collect();
        let city = search::title_case(&row.city);
        let title = if row.address.is_empty() {
            format!("{city} — Carburoam")
        } else {
            format!("{}, {city} — Carburoam", row.address)
        };
        render(&StationPage {
            l: layout(lang, title, "", format!("/stations/{id}"), &f),
            id: id.get(),
            city,
            address: row.address,
            postcode: row.postcode,
            department: row.department,
            motorway: row.road_type == "motorway",
            lat: row.latitude,
            lon: row.longitude,
            gone_since: row.missing_since.map(|ts| lang.datetime(ts)),
            prices,
            shortages,
            h24: row.automate_24_24,
            open_now,
            days,
            services,
            compare,
            chart_fuels,
            behind_days: ((now - reference).max(0) / DAY) as u32,
            tile_url: state.site.tile_url.clone(),
            tile_attribution: state.site.tile_attribution.clone(),
        })
    }
    .await;
    r.map_err(|e| HtmlError(e, lang))
}

// ---------------------------------------------------------------------------------------------
// GET /demo

/// A station of the demo's list, with the link that removes it.
pub struct DemoRow {
    pub id: i64,
    pub city: String,
    pub address: String,
    pub remove_url: String,
}

pub struct DemoCandidate {
    pub id: i64,
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
    ids: &[i64],
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
                let Some(row) = q::station(&state.db, *id).await? else { continue };
                let offers = q::prices(&state.db, *id).await?.iter().map(|p| (p.fuel, p.price, p.updated_at)).collect();
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

fn demo_url(ids: &[i64], fuels: [Fuel; 2], lat: f64, lon: f64) -> String {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("/demo?ids={}&fuel1={}&fuel2={}&lat={lat:.4}&lon={lon:.4}", ids.join("%2C"), fuels[0], fuels[1])
}

#[tracing::instrument(skip(state))]
pub async fn demo(State(state): State<AppState>, lang: Lang, RawQuery(raw): RawQuery) -> HtmlResult<Response> {
    let here = path_and_query("/demo", &raw);
    let r = async {
        let mut p = Lenient::new(&raw);
        let fuels = [p.fuel("fuel1").unwrap_or(Fuel::E10), p.fuel("fuel2").unwrap_or(Fuel::Gazole)];
        let lat = p.f64_in("lat", -90.0..=90.0).unwrap_or(DEFAULT_PLACE.0);
        let lon = p.f64_in("lon", -180.0..=180.0).unwrap_or(DEFAULT_PLACE.1);
        let explicit_ids = p.str("ids");
        let explicit = explicit_ids.is_some();
        let mut ids: Vec<i64> = Vec::new();
        for s in explicit_ids.as_deref().unwrap_or("").split([',', ' ']) {
            if let Some(id) = StationId::parse(s)
                && !ids.contains(&id.get())
                && ids.len() < DEMO_MAX_STATIONS
            {
                ids.push(id.get());
            }
        }
        let (f, index) =
            tokio::try_join!(freshness(&state), async { state.index.get().await.map_err(AppError::from) })?;
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
                let others: Vec<i64> = ids.iter().copied().filter(|x| *x != s.station_id).collect();
                DemoRow {
                    id: s.station_id,
                    city: search::title_case(&s.city),
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
                    city: search::title_case(&s.city),
                    address: s.address.to_string(),
                    distance: lang.km(d),
                    lat: s.latitude,
                    lon: s.longitude,
                    add_url: demo_url(&with, fuels, lat, lon),
                }
            })
            .collect();
        let t = lang.strings();
        render(&DemoPage {
            l: layout(lang, format!("{} — Carburoam", t.demo_title), "demo", here, &f),
            fuel_names: fuels.iter().map(|f| f.name()).collect(),
            fuels1: fuel_options(fuels[0]),
            fuels2: fuel_options(fuels[1]),
            ids: ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
            explicit,
            rows,
            sections,
            candidates,
            lat,
            lon,
            tile_url: state.site.tile_url.clone(),
            tile_attribution: state.site.tile_attribution.clone(),
        })
    }
    .await;
    r.map_err(|e| HtmlError(e, lang))
}

// ---------------------------------------------------------------------------------------------
// GET /about

#[derive(Template)]
#[template(path = "about.html")]
pub struct AboutPage {
    pub l: Layout,
    pub source_url: String,
    pub snapshot: Option<String>,
}

#[tracing::instrument(skip(state))]
pub async fn about(State(state): State<AppState>, lang: Lang) -> HtmlResult<Response> {
    let r = async {
        let f = freshness(&state).await?;
        let t = lang.strings();
        render(&AboutPage {
            l: layout(lang, format!("{} — Carburoam", t.about_title), "about", "/about".into(), &f),
            source_url: state.site.source_url.clone(),
            snapshot: f.latest_snapshot_at.map(|ts| lang.datetime(ts)),
        })
    }
    .await;
    r.map_err(|e| HtmlError(e, lang))
}

// ---------------------------------------------------------------------------------------------
// GET /lang?to=en&back=/path

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

// ---------------------------------------------------------------------------------------------
// GET /suggest?q=

#[derive(serde::Serialize)]
pub struct Suggestion {
    pub label: String,
    pub query: String,
}

/// Places for the search box's suggestions, as JSON (`[{"label", "query"}]`).
pub async fn suggest(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let mut p = Lenient::new(&raw);
    let q = p.str("q").unwrap_or_default();
    let list: Vec<Suggestion> = match place_index(&state).await {
        Ok(index) if q.chars().count() >= 2 => search::resolve(&index, &q, 8)
            .into_iter()
            .map(|p| Suggestion { label: p.label.clone(), query: p.query.clone() })
            .collect(),
        Ok(_) => Vec::new(),
        Err(e) => return crate::error::ApiError(e).into_response(),
    };
    ([(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"))], axum::Json(list)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub l: Layout,
    pub status: u16,
    pub heading: &'static str,
    pub text: String,
}

/// The HTML page of an error, in the site's style (no database access: it must render even when
/// the database is what failed).
pub fn error_page(err: &AppError, lang: Lang) -> Response {
    let t = lang.strings();
    let status = err.status();
    let (heading, text) = match err {
        AppError::NotFound(_) => (t.not_found_title, t.not_found_text.to_owned()),
        AppError::BadRequest(_) => (t.bad_request_title, err.public_message()),
        AppError::Forbidden(_) => (lang_account(lang).forbidden_title, lang_account(lang).forbidden_text.to_owned()),
        AppError::TooManyRequests(secs) => {
            (lang_account(lang).too_many_title, lang_account(lang).too_many_text.replace("{s}", &secs.to_string()))
        }
        AppError::Database(_) | AppError::Internal(_) => (t.error_title, t.error_text.to_owned()),
    };
    let page = ErrorPage {
        l: Layout {
            lang,
            t,
            title: format!("{heading} — Carburoam"),
            nav: "",
            here: "/".into(),
            fresh: None,
            viewer: crate::web::session::current_viewer(),
            a: lang_account(lang),
        },
        status: status.as_u16(),
        heading,
        text,
    };
    let body = page.render().unwrap_or_else(|_| format!("<!doctype html><title>{status}</title><h1>{heading}</h1>"));
    let mut resp = (status, Html(body)).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let AppError::TooManyRequests(secs) = err {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*secs));
    }
    resp
}

fn lang_account(lang: Lang) -> &'static crate::web::i18n_account::AccountStrings {
    crate::web::i18n_account::strings(lang)
}

/// Unknown paths outside `/api`: the HTML 404.
pub async fn not_found(lang: Lang, uri: axum::http::Uri) -> HtmlError {
    HtmlError(AppError::not_found(format!("page {}", uri.path())), lang)
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

    #[test]
    fn price_classes() {
        assert_eq!(price_class(1700, 1700, 1800), "c0");
        assert_eq!(price_class(1800, 1700, 1800), "c4");
        assert_eq!(price_class(1750, 1700, 1800), "c2");
        assert_eq!(price_class(1750, 1750, 1750), "c0");
    }
}
