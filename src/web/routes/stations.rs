//! The public site's search: `GET /stations` (the list and the map around a place) and
//! `GET /suggest` (places for the search box), with the station lists the home page shares.
//!
//! Every page works without JavaScript: lists are queried here, forms are plain GET forms. The
//! scripts in `static/js/` only add the map, the chart, suggestions and geolocation. Query
//! strings are read leniently (a bad or unknown value falls back to its default: these URLs are
//! typed and shared by people, not scripts).
//!
//! Prices "older than N days" are measured from the newest snapshot imported, not from the
//! clock, so a database loaded from an old file still shows its prices (and the banner says how
//! old they are).

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::domain::{Fuel, SearchText, SearchTextError, ShortageKind, StationId, rfc3339, search_echo};
use crate::error::AppError;
use crate::index::places;
use crate::index::{Hit, NearbyQuery, Order};
use crate::web::brand::Badge;
use crate::web::cache_control::CachePolicy;
use crate::web::i18n::{Lang, Strings};
use crate::web::page::{
    DAY, FuelOption, HtmlResult, Layout, Lenient, freshness, fuel_options, layout, path_and_query, place_index,
    reference_time, render,
};
use crate::web::state::AppState;
use crate::web::versioned::{Key, Weigh};

pub const DEFAULT_FUEL: Fuel = Fuel::E10;
pub const DEFAULT_MAX_AGE_DAYS: u32 = 30;

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
// Lists of stations

/// A station of a list, formatted.
pub struct StationItem {
    pub id: StationId,
    /// The OpenStreetMap name ("TotalEnergies — Relais Beaune Tailly"), when known: the first
    /// line, with the address and town as the second.
    pub name: Option<String>,
    pub badge: Option<Badge>,
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
pub(crate) fn fresh_class(now: i64, ts: i64) -> &'static str {
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

pub(crate) fn shortage_text(t: &'static Strings, kind: ShortageKind) -> &'static str {
    match kind {
        ShortageKind::Temporary => t.shortage_temporary,
        ShortageKind::Permanent => t.shortage_permanent,
        ShortageKind::Unknown => t.shortage_unknown,
    }
}

pub(crate) fn station_items(lang: Lang, hits: &[Hit<'_>]) -> Vec<StationItem> {
    let now = crate::db::now();
    items_with(lang, hits, |ts| (fresh_class(now, ts), lang.ago(now, ts)))
}

/// The items of `hits`, with `age` giving each price's colour class and age text from its time.
fn items_with(lang: Lang, hits: &[Hit<'_>], age: impl Fn(i64) -> (&'static str, String)) -> Vec<StationItem> {
    let t = lang.strings();
    let min = hits.iter().map(|h| h.offer.price).min().unwrap_or(0);
    let max = hits.iter().map(|h| h.offer.price).max().unwrap_or(0);
    hits.iter()
        .map(|h| {
            let (s, o) = (h.station, h.offer);
            let (fresh_class, ago) = age(o.updated_at);
            StationItem {
                id: s.id,
                name: s.name.as_deref().map(str::to_owned),
                badge: s.brand.as_deref().map(Badge::new),
                city: places::title_case(&s.city),
                address: s.address.to_string(),
                distance: lang.km(h.distance_km),
                price: lang.price(o.price),
                price_class: price_class(o.price, min, max),
                ago,
                updated_iso: rfc3339(o.updated_at),
                fresh_class,
                shortage: o.shortage.map(|k| shortage_text(t, k)),
                h24: s.automate_24_24,
            }
        })
        .collect()
}

/// Whether a list shows a name from OpenStreetMap (and so needs its attribution).
pub(crate) fn any_osm(items: &[StationItem]) -> bool {
    items.iter().any(|s| s.name.is_some())
}

/// A place other than the one shown, as a link.
#[derive(Clone)]
pub struct PlaceLink {
    pub label: String,
    pub query: String,
}

/// What the lists of `/` and `/stations` share: the search, the place found and its results
/// (`_search.html`, `_list.html`).
pub struct ListResults {
    pub q: String,
    pub fuels: Vec<FuelOption>,
    pub fuel: &'static str,
    pub searched: bool,
    pub place: Option<String>,
    pub others: Vec<PlaceLink>,
    pub items: Vec<StationItem>,
    /// A name from OpenStreetMap is shown: the attribution is due.
    pub osm: bool,
    /// Why the search was not run (too long), shown instead of its results.
    pub refusal: Option<&'static str>,
}

impl ListResults {
    pub fn new(
        q: Option<String>,
        fuel: Fuel,
        searched: bool,
        place: Option<String>,
        others: Vec<PlaceLink>,
        items: Vec<StationItem>,
    ) -> ListResults {
        ListResults {
            refusal: None,
            q: q.unwrap_or_default(),
            fuels: fuel_options(fuel),
            fuel: fuel.name(),
            searched,
            place,
            others,
            osm: any_osm(&items),
            items,
        }
    }
}

/// What a text search found, as the page cache keeps it.
struct Found(Option<Centre>);

impl Weigh for Found {
    fn weight(&self) -> usize {
        self.0.as_ref().map_or(0, |c| {
            let others: usize = c.others.iter().map(|o| o.label.len() + o.query.len() + 48).sum();
            let words: usize = c.words.iter().map(|w| w.len() + 24).sum();
            c.label.as_ref().map_or(0, String::len) + others + words + 128
        })
    }
}

/// Where a search is centred, and what it found.
#[derive(Clone)]
pub(crate) struct Centre {
    pub lat: f64,
    pub lon: f64,
    pub radius_km: f64,
    pub label: Option<String>,
    pub others: Vec<PlaceLink>,
    /// A search by station name ("leclerc rennes"): only the stations matching these words.
    pub words: Vec<String>,
}

/// Where the stations named by `q` are ("leclerc rennes", "total a7"): their centre and a radius
/// that holds them all. `None` when no station's brand or name matches.
fn named_centre(index: &crate::index::PriceIndex, q: &SearchText) -> Option<Centre> {
    let mut words = crate::index::search_words(q.as_str());
    // "total total total" asks what "total" asks: each station is tested once per distinct word.
    words.sort_unstable();
    words.dedup();
    let found = index.named(&words);
    if found.is_empty() {
        return None;
    }
    let n = found.len() as f64;
    let lat = found.iter().map(|s| s.latitude).sum::<f64>() / n;
    let lon = found.iter().map(|s| s.longitude).sum::<f64>() / n;
    let far =
        found.iter().map(|s| crate::domain::geo::haversine_km(lat, lon, s.latitude, s.longitude)).fold(0.0, f64::max);
    Some(Centre {
        lat,
        lon,
        radius_km: (far + 1.0).max(5.0),
        label: Some(q.as_str().to_owned()),
        others: Vec::new(),
        words,
    })
}

/// `q` as a place, else as station names: pure CPU work over the two indexes.
fn text_centre(places: &[places::Place], stations: &crate::index::PriceIndex, q: &SearchText) -> Option<Centre> {
    let found = places::resolve(places, q.as_str(), 6);
    let Some(first) = found.first() else {
        // Not a place: maybe a brand or a station name, with or without a place.
        return named_centre(stations, q);
    };
    Some(Centre {
        lat: first.latitude,
        lon: first.longitude,
        radius_km: first.radius_km,
        label: Some(first.label.clone()),
        others: found[1..].iter().map(|p| PlaceLink { label: p.label.clone(), query: p.query.clone() }).collect(),
        words: Vec::new(),
    })
}

/// What a search asked and where it is centred.
pub(crate) struct Search {
    /// The text searched, as the box shows it again (at most [`crate::domain::MAX_SEARCH_CHARS`]).
    pub q: Option<String>,
    pub centre: Option<Centre>,
    /// Why the text was not searched at all.
    pub refused: Option<SearchTextError>,
}

impl Search {
    /// The sentence that says why the search was refused.
    pub fn refusal(&self, t: &'static Strings) -> Option<&'static str> {
        self.refused.map(|e| match e {
            SearchTextError::TooManyWords => t.search_too_many_words,
            SearchTextError::TooLong | SearchTextError::Empty => t.search_too_long,
        })
    }
}

/// `q` resolved against the known places, or `lat`/`lon`, or nothing. A text past the bounds of
/// [`SearchText`] is refused before any matching; the matching itself runs on the blocking pool,
/// so that no search holds an async worker while `/healthz` and other requests wait.
pub(crate) async fn centre(state: &AppState, p: &mut Lenient) -> Result<Search, AppError> {
    let q = p.str("q");
    let lat = p.f64_in("lat", -90.0..=90.0);
    let lon = p.f64_in("lon", -180.0..=180.0);
    if let Some(raw) = q.as_deref().filter(|s| !s.trim().is_empty()) {
        let text = match SearchText::parse(raw) {
            Ok(text) => text,
            Err(e) => return Ok(Search { q: Some(search_echo(raw)), centre: None, refused: Some(e) }),
        };
        let stations = state.index.get().await?;
        // Where a text leads changes only with the data: one matching per text and data version.
        let key = Key::Place { text: text.as_str().to_owned() };
        let found = state
            .cache
            .data
            .get_or_try(stations.data_version(), key, || async {
                let places = place_index(state).await?;
                let text = text.clone();
                let stations = stations.clone();
                tokio::task::spawn_blocking(move || Found(text_centre(&places, &stations, &text)))
                    .await
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("search task: {e}")))
            })
            .await?;
        return Ok(Search { q: Some(text.into_string()), centre: found.0.clone(), refused: None });
    }
    if let (Some(lat), Some(lon)) = (lat, lon) {
        // A blank `q` beside a position is no text search: the position decides.
        return Ok(Search {
            q: None,
            centre: Some(Centre { lat, lon, radius_km: 10.0, label: None, others: Vec::new(), words: Vec::new() }),
            refused: None,
        });
    }
    Ok(Search { q, centre: None, refused: None })
}

// ---------------------------------------------------------------------------------------------
// GET /stations

/// A service of the filter.
pub struct ServiceOption {
    pub name: &'static str,
    pub selected: bool,
}

/// A brand of the filter: the brands present around the centre, with their station counts.
pub struct BrandOption {
    pub name: String,
    pub count: usize,
    pub selected: bool,
}

/// The `brand=` values of a query string (repeatable), trimmed, without empty ones.
pub(crate) fn brand_params(raw: &Option<String>) -> Vec<String> {
    url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "brand")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

#[derive(Template)]
#[template(path = "stations.html")]
pub struct StationsPage {
    pub l: Layout,
    pub list: ListResults,
    pub lat: f64,
    pub lon: f64,
    pub radius_km: f64,
    pub has_centre: bool,
    pub by_distance: bool,
    pub h24: bool,
    pub hide_shortages: bool,
    pub services: Vec<ServiceOption>,
    pub brands: Vec<BrandOption>,
    /// The brands filtered on, for the map's API calls (`&brand=…`, encoded).
    pub brand_query: String,
    /// Days back from the newest snapshot, for the list and the map's API calls alike.
    pub max_age: u32,
    pub tile_url: String,
    pub tile_attribution: String,
}

/// What a `/stations` query asks besides the place (read before [`centre`] takes `q`, `lat`
/// and `lon`).
struct Filters {
    fuel: Fuel,
    radius: Option<f64>,
    by_distance: bool,
    h24: bool,
    hide_shortages: bool,
    service: Option<&'static str>,
    max_age: u32,
    brands: Vec<String>,
}

impl Filters {
    fn read(p: &mut Lenient, raw: &Option<String>) -> Filters {
        Filters {
            fuel: p.fuel("fuel").unwrap_or(DEFAULT_FUEL),
            radius: p.f64_in("radius_km", 1.0..=100.0),
            by_distance: p.str("sort").as_deref() == Some("distance"),
            h24: p.flag("h24"),
            hide_shortages: p.flag("hide_shortages"),
            service: p.str("service").and_then(|s| SERVICES.iter().find(|x| **x == s).copied()),
            max_age: p.u32_in("max_age", 1..=365).unwrap_or(DEFAULT_MAX_AGE_DAYS),
            brands: brand_params(raw),
        }
    }
}

#[tracing::instrument(skip(state))]
pub async fn stations(State(state): State<AppState>, lang: Lang, RawQuery(raw): RawQuery) -> HtmlResult<Response> {
    let here = path_and_query("/stations", &raw);
    let mut p = Lenient::new(&raw);
    let filters = Filters::read(&mut p, &raw);
    let search = centre(&state, &mut p).await?;
    let refusal = search.refusal(lang.strings());
    let f = freshness(&state).await?;
    let index = state.index.get().await?;
    let t = lang.strings();
    let title = match search.centre.as_ref().and_then(|c| c.label.as_ref()) {
        Some(p) => format!("{} {p} — Carburoam", t.cheapest_around),
        None => format!("{} — Carburoam", t.results_title),
    };
    let l = layout(lang, title, "map", here, &f);
    let now = || {
        let now = crate::db::now();
        move |ts: i64| (fresh_class(now, ts), lang.ago(now, ts))
    };
    let Some(fingerprint) = l.fingerprint() else {
        // A signed-in visitor's page: their menu and token, rendered for them.
        let (page, _) = stations_page(&state, &index, l, &filters, &search, refusal, &f, now());
        return Ok(refused_status(render(&page)?, refusal));
    };
    // For everyone else, the page is the same for every request of this data version, query and
    // layout but for the prices' ages: rendered once with marks where they go ([`Frame`]).
    let key = Key::Frame { path: "/stations", query: raw.clone().unwrap_or_default(), layout: fingerprint };
    let shared = l.shared();
    let frame = state
        .cache
        .data
        .get_or_try(index.data_version(), key, || async {
            let marks = |_: i64| (CLASS_MARK, AGO_MARK.to_owned());
            let (page, updated) = stations_page(&state, &index, shared, &filters, &search, refusal, &f, marks);
            let html = page.render().map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
            Ok(Cut(Frame::cut(&html, updated)))
        })
        .await?;
    let page = match &frame.0 {
        Some(frame) => Html(frame.fill(lang, crate::db::now())).into_response(),
        // A text of the page held a mark itself: rendered whole, as for a signed-in visitor.
        None => render(&stations_page(&state, &index, l.shared(), &filters, &search, refusal, &f, now()).0)?,
    };
    Ok(refused_status(page, refusal))
}

/// The `/stations` page with layout `l`, `age` giving each price's colour class and age text;
/// with the time of each listed price, in the list's order.
#[allow(clippy::too_many_arguments)]
fn stations_page(
    state: &AppState,
    index: &crate::index::PriceIndex,
    l: Layout,
    filters: &Filters,
    search: &Search,
    refusal: Option<&'static str>,
    f: &crate::web::cache::Freshness,
    age: impl Fn(i64) -> (&'static str, String),
) -> (StationsPage, Vec<i64>) {
    let Filters { fuel, radius, by_distance, h24, hide_shortages, service, max_age, brands: ref wanted_brands } =
        *filters;
    let reference = reference_time(f);
    let centre = search.centre.as_ref();
    let searched = search.q.is_some() || centre.is_some();
    let words = centre.map(|c| c.words.clone()).unwrap_or_default();
    let mut brands = Vec::new();
    let (lat, lon, radius_km, has_centre) = match centre {
        Some(c) => (c.lat, c.lon, radius.unwrap_or(c.radius_km), true),
        None => (46.6, 2.4, radius.unwrap_or(10.0), false),
    };
    let mut updated = Vec::new();
    let items = if has_centre {
        let hits = index.nearby(&NearbyQuery {
            latitude: lat,
            longitude: lon,
            radius_km,
            fuel,
            updated_since: reference - i64::from(max_age) * DAY,
            hide_shortages,
            only_24_24: h24,
            service,
            brands: wanted_brands,
            words: &words,
            order: if by_distance { Order::Distance } else { Order::Price },
            limit: 50,
        });
        brands = index
            .brands_near(lat, lon, radius_km, fuel)
            .into_iter()
            .map(|(name, count)| BrandOption {
                selected: wanted_brands.iter().any(|b| b == name),
                name: name.to_owned(),
                count,
            })
            .collect();
        // A brand asked for that is not around still shows, selected, with no station.
        for b in wanted_brands {
            if !brands.iter().any(|o| &o.name == b) {
                brands.push(BrandOption { name: b.clone(), count: 0, selected: true });
            }
        }
        updated = hits.iter().map(|h| h.offer.updated_at).collect();
        items_with(l.lang, &hits, age)
    } else {
        Vec::new()
    };
    let (place, others) = match centre {
        Some(c) => (c.label.clone(), c.others.clone()),
        None => (None, Vec::new()),
    };
    let page = StationsPage {
        l,
        list: ListResults { refusal, ..ListResults::new(search.q.clone(), fuel, searched, place, others, items) },
        lat,
        lon,
        radius_km,
        has_centre,
        by_distance,
        h24,
        hide_shortages,
        services: SERVICES.iter().map(|s| ServiceOption { name: s, selected: Some(*s) == service }).collect(),
        brand_query: wanted_brands
            .iter()
            .map(|b| format!("&brand={}", url::form_urlencoded::byte_serialize(b.as_bytes()).collect::<String>()))
            .collect(),
        brands,
        max_age,
        tile_url: state.site.tile_url.clone(),
        tile_attribution: state.site.tile_attribution.clone(),
    };
    (page, updated)
}

// ---------------------------------------------------------------------------------------------
// A list page as every visitor without a session sees it, but for the prices' ages

/// Where a price's colour class goes in a [`Frame`]'s render (`class="…"` of its `<time>`).
/// Noncharacters: no feed text or search holds them, and when one does, the page is not cut.
const CLASS_MARK: &str = "\u{FDD0}";
/// Where a price's age text goes ("il y a 3 h").
const AGO_MARK: &str = "\u{FDD1}";
/// Both marks, to find them.
const MARKS: [char; 2] = ['\u{FDD0}', '\u{FDD1}'];

/// A page rendered with [`CLASS_MARK`] and [`AGO_MARK`] for each listed price, cut at them: the
/// request fills in the ages from now, and the answer is what rendering the page with them
/// gives, byte for byte.
struct Frame {
    /// The page without its marks.
    html: String,
    /// Where the marks were in `html`: each price's class, then its age, in the list's order.
    cuts: Vec<usize>,
    /// The time of each listed price.
    updated: Vec<i64>,
}

/// A cached [`Frame`], or `None` when the page could not be cut.
struct Cut(Option<Frame>);

impl Weigh for Cut {
    fn weight(&self) -> usize {
        self.0.as_ref().map_or(0, |f| f.html.len() + f.cuts.len() * 8 + f.updated.len() * 8)
    }
}

impl Frame {
    /// `rendered` cut at its marks; `None` unless they are exactly a class then an age for each
    /// of `updated`'s prices (a text of the page holding a mark itself).
    fn cut(rendered: &str, updated: Vec<i64>) -> Option<Frame> {
        let mut html = String::with_capacity(rendered.len());
        let mut cuts = Vec::with_capacity(2 * updated.len());
        let mut at = 0;
        for (i, (pos, mark)) in rendered.match_indices(MARKS).enumerate() {
            let expected = if i % 2 == 0 { CLASS_MARK } else { AGO_MARK };
            if mark != expected {
                return None;
            }
            html.push_str(&rendered[at..pos]);
            cuts.push(html.len());
            at = pos + mark.len();
        }
        html.push_str(&rendered[at..]);
        (cuts.len() == 2 * updated.len()).then_some(Frame { html, cuts, updated })
    }

    /// The page with each price's class and age as seen at `now`, in `lang`.
    fn fill(&self, lang: Lang, now: i64) -> String {
        use askama::filters::Escaper as _;
        let mut out = String::with_capacity(self.html.len() + 24 * self.updated.len());
        let mut at = 0;
        for (i, &cut) in self.cuts.iter().enumerate() {
            out.push_str(&self.html[at..cut]);
            at = cut;
            let ts = self.updated[i / 2];
            if i % 2 == 0 {
                out.push_str(fresh_class(now, ts));
            } else {
                // Escaped as the template escapes the text it replaces.
                let _ = askama::filters::Html.write_escaped_str(&mut out, &lang.ago(now, ts));
            }
        }
        out.push_str(&self.html[at..]);
        out
    }
}

/// A refused search is answered 400 (with the page that says why).
pub(crate) fn refused_status(mut page: Response, refusal: Option<&'static str>) -> Response {
    if refusal.is_some() {
        *page.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    page
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
    let q = p.str("q").and_then(|q| SearchText::parse(&q).ok());
    let list: Vec<Suggestion> = match place_index(&state).await {
        Ok(index) if let Some(q) = q.filter(|q| q.as_str().chars().count() >= 2) => {
            places::resolve(&index, q.as_str(), 8)
                .into_iter()
                .map(|p| Suggestion { label: p.label.clone(), query: p.query.clone() })
                .collect()
        }
        Ok(_) => Vec::new(),
        Err(e) => return crate::web::error::ApiError(e).into_response(),
    };
    (CachePolicy::PublicFiveMinutes, axum::Json(list)).into_response()
}

/// The search page and its suggestions.
pub fn router() -> Router<AppState> {
    Router::new().route("/stations", get(stations)).route("/suggest", get(suggest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_classes() {
        assert_eq!(price_class(1700, 1700, 1800), "c0");
        assert_eq!(price_class(1800, 1700, 1800), "c4");
        assert_eq!(price_class(1750, 1700, 1800), "c2");
        assert_eq!(price_class(1750, 1750, 1750), "c0");
    }

    /// A frame filled at a time is the page rendered with the ages of that time; a page whose
    /// own text holds a mark is not cut.
    #[test]
    fn frames_fill_in_the_ages() {
        let now = 1_780_000_000;
        let updated = vec![now - 30, now - 30 * 3600, now - 4 * DAY];
        let page = |age: &dyn Fn(i64) -> (&'static str, String), name: &str| {
            let mut html = format!("<h1>{name}</h1><ol>");
            for &ts in &updated {
                let (class, ago) = age(ts);
                html.push_str(&format!("<li><time class=\"{class}\">{ago}</time></li>"));
            }
            html + "</ol>"
        };
        for lang in [Lang::Fr, Lang::En] {
            let frame =
                Frame::cut(&page(&|_| (CLASS_MARK, AGO_MARK.to_owned()), "Rouen"), updated.clone()).expect("cut");
            let cold = page(&|ts| (fresh_class(now, ts), lang.ago(now, ts)), "Rouen");
            assert_eq!(frame.fill(lang, now), cold);
            assert!(cold.contains("class=\"aging\"") && cold.contains("class=\"old\""), "{cold}");
        }
        let marked = format!("Rouen{AGO_MARK}");
        assert!(Frame::cut(&page(&|_| (CLASS_MARK, AGO_MARK.to_owned()), &marked), updated.clone()).is_none());
        assert!(Frame::cut(&page(&|_| (CLASS_MARK, AGO_MARK.to_owned()), "Rouen"), vec![now]).is_none());
    }
}
