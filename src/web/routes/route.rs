//! `/trajet` (`/route`): the cheapest stop on the way. One form (from, to, up to 3 via points,
//! or a GPX file instead; fuel, litres, consumption, corridor, avoid motorway, departure, sort)
//! that works without scripts: it posts as `multipart/form-data`; with a GPX file the answer is
//! that post's page, without one the browser is sent to `GET /trajet?from=…&to=…` (a page to
//! share and bookmark). The answer is rendered on the server (distance, duration, the best stop
//! and its savings, the list), and `js/route.js` draws the route and the stations on a map,
//! fills from/to with "my position" or a tap on the map. A signed-in user's vehicle fills the
//! form's defaults, and the results offer to save the route (`/me` then shows its best stop).

use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Multipart, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;

use crate::db::routes::VehicleRow;
use crate::domain::{Fuel, Lang, StationId};
use crate::error::AppError;
use crate::route::gpx::{GpxError, MAX_GPX_BYTES};
use crate::route::{self, EngineError, LatLon, Path, PathError, RankQuery, SearchError, Sort, Source, Stop, TripInput};
use crate::text::route::RouteStrings;
use crate::web::form::{no_store, see_other};
use crate::web::page::{FuelOption, HtmlError, HtmlResult, Layout, Lenient, freshness, fuel_options, layout, render};
use crate::web::routes::api_route::{
    DEFAULT_CONSUMPTION, DEFAULT_CORRIDOR_KM, DEFAULT_LITRES, MAX_CONSUMPTION, MAX_CORRIDOR_KM, MAX_LITRES,
    MIN_CORRIDOR_KM,
};
use crate::web::session::Viewer;
use crate::web::state::AppState;

/// Largest body of the page's form: a GPX file over 5 MB is still read whole up to this size, so
/// that the page can say what is wrong rather than cut the upload.
pub const MAX_FORM_BODY_BYTES: usize = 8 * 1024 * 1024;

pub use crate::route::MAX_SAVED_POINTS;

/// One station of the list, formatted.
pub struct StopView {
    pub id: StationId,
    pub name: String,
    pub city: String,
    pub price: String,
    pub age: String,
    pub km: String,
    pub off: String,
    pub detour: String,
    pub estimated: bool,
    pub fill: String,
    pub detour_cost: String,
    pub net: String,
    pub motorway: bool,
    pub open: Option<bool>,
    pub shortage: bool,
    pub best: bool,
}

/// A via point's field.
pub struct ViaView {
    pub n: usize,
    pub label: String,
    pub value: String,
}

/// A place suggestion after an unknown one.
pub struct Suggestion {
    pub href: String,
    pub label: String,
}

/// The hidden fields of "save this route" (signed-in users).
pub struct SaveView {
    pub name: String,
    pub from: String,
    pub to: String,
    /// One via point per line.
    pub vias: String,
    pub fuel: &'static str,
    pub points: String,
}

#[derive(Template)]
#[template(path = "route.html")]
pub struct RoutePage {
    pub l: Layout,
    pub r: &'static RouteStrings,
    pub path: &'static str,
    pub from: String,
    pub to: String,
    pub vias: Vec<ViaView>,
    /// Whether the options are shown unfolded (a via point or a filter is set).
    pub options_open: bool,
    pub fuels: Vec<FuelOption>,
    pub litres: String,
    pub consumption: String,
    pub corridor: String,
    pub avoid_motorway: bool,
    pub depart: String,
    pub sort: &'static str,
    pub error: Option<String>,
    pub suggestions: Vec<Suggestion>,
    pub offer_gpx: bool,
    pub summary: Option<String>,
    pub best: Option<String>,
    pub savings: Vec<String>,
    pub found: Option<String>,
    pub stops: Vec<StopView>,
    /// For `js/route.js`: the route's points and the stations. Safe inside a script element.
    pub json: String,
    pub tile_url: String,
    pub tile_attribution: String,
    /// A signed-in user's "save this route" form, under the results.
    pub save: Option<SaveView>,
    /// A visitor's invitation to sign in to save it (the login's `next`).
    pub sign_in_next: Option<String>,
}

fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

fn duration(lang: Lang, min: f64) -> String {
    let m = min.round() as u64;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, m) => match lang {
            Lang::Fr => format!("{h} h {m:02}"),
            Lang::En => format!("{h} h {m:02} min"),
        },
    }
}

/// The departure typed in the form (`2026-06-07T08:30`, Paris time), in UTC.
fn parse_depart(raw: &str) -> Option<chrono::DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M").ok()?;
    Paris.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}

/// The form's fields as typed (a bad value is as if absent: the default, or the vehicle's).
#[derive(Debug, Clone)]
struct Typed {
    from: String,
    to: String,
    vias: [String; 3],
    fuel: Fuel,
    litres: f64,
    consumption: f64,
    corridor: f64,
    avoid_motorway: bool,
    depart_raw: String,
    sort: Sort,
}

impl Typed {
    /// From `name=value` text (the query string, or the post's text fields).
    fn parse(raw: &Option<String>, vehicle: Option<&VehicleRow>) -> Typed {
        let mut q = Lenient::new(raw);
        let vehicle_fuel = vehicle.and_then(|v| Fuel::from_id(i64::from(v.fuel)));
        let in_range = |v: f64, r: std::ops::RangeInclusive<f64>| r.contains(&v).then_some(v);
        Typed {
            from: q.str("from").unwrap_or_default(),
            to: q.str("to").unwrap_or_default(),
            vias: [
                q.str("via1").unwrap_or_default(),
                q.str("via2").unwrap_or_default(),
                q.str("via3").unwrap_or_default(),
            ],
            fuel: q.fuel("fuel").or(vehicle_fuel).unwrap_or(Fuel::Gazole),
            litres: q
                .f64_in("litres", 1.0..=MAX_LITRES)
                .or_else(|| vehicle.and_then(|v| in_range(v.tank_litres, 1.0..=MAX_LITRES)))
                .unwrap_or(DEFAULT_LITRES),
            consumption: q
                .f64_in("consumption", 1.0..=MAX_CONSUMPTION)
                .or_else(|| vehicle.and_then(|v| in_range(v.consumption, 1.0..=MAX_CONSUMPTION)))
                .unwrap_or(DEFAULT_CONSUMPTION),
            corridor: q.f64_in("corridor_km", MIN_CORRIDOR_KM..=MAX_CORRIDOR_KM).unwrap_or(DEFAULT_CORRIDOR_KM),
            avoid_motorway: q.flag("avoid_motorway"),
            depart_raw: q.str("depart").unwrap_or_default(),
            sort: match q.str("sort").as_deref() {
                Some("price") => Sort::Price,
                Some("along") => Sort::Along,
                _ => Sort::Net,
            },
        }
    }

    fn has_ends(&self) -> bool {
        !self.from.trim().is_empty() && !self.to.trim().is_empty()
    }

    /// The GET query string of this search (where a post without a file is sent).
    fn query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("from", self.from.trim()).append_pair("to", self.to.trim());
        for (i, v) in self.vias.iter().enumerate() {
            if !v.trim().is_empty() {
                s.append_pair(&format!("via{}", i + 1), v.trim());
            }
        }
        s.append_pair("fuel", self.fuel.name())
            .append_pair("litres", &num(self.litres))
            .append_pair("consumption", &num(self.consumption))
            .append_pair("corridor_km", &num(self.corridor));
        if self.avoid_motorway {
            s.append_pair("avoid_motorway", "1");
        }
        if !self.depart_raw.is_empty() {
            s.append_pair("depart", &self.depart_raw);
        }
        s.append_pair("sort", sort_name(self.sort));
        s.finish()
    }
}

fn sort_name(sort: Sort) -> &'static str {
    match sort {
        Sort::Net => "net",
        Sort::Price => "price",
        Sort::Along => "along",
    }
}

/// What to search along.
enum Ask {
    /// Nothing yet: the empty form.
    Nothing,
    /// The form posted with neither places nor a file.
    NothingPosted,
    /// From, via points and to, as typed.
    Places,
    /// A GPX file (its name) and what parsing it gave.
    Gpx(String, Result<Path, GpxError>),
}

/// The signed-in user's vehicle, if they set one.
async fn vehicle_of(state: &AppState, viewer: &Viewer) -> Result<Option<VehicleRow>, AppError> {
    match &viewer.user {
        Some(u) => Ok(crate::db::routes::vehicle(&state.db, u.user_id).await?),
        None => Ok(None),
    }
}

/// `GET /trajet` and `GET /route`.
#[tracing::instrument(skip(state, uri, viewer))]
pub async fn route_page(
    State(state): State<AppState>,
    lang: Lang,
    viewer: Viewer,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> HtmlResult<Response> {
    let r = async {
        let path = page_path(&uri);
        let typed = Typed::parse(&raw, vehicle_of(&state, &viewer).await?.as_ref());
        let ask = if typed.has_ends() { Ask::Places } else { Ask::Nothing };
        let resp =
            answer(&state, lang, &viewer, path, crate::web::page::path_and_query(path, &raw), typed, ask).await?;
        Ok(if viewer.user.is_some() { no_store(resp) } else { resp })
    }
    .await;
    r.map_err(|e| HtmlError(e, lang))
}

fn page_path(uri: &Uri) -> &'static str {
    if uri.path() == "/route" { "/route" } else { "/trajet" }
}

/// `POST /trajet` (`multipart/form-data`): the form with a GPX file searches along it; without
/// one, the browser is sent to the GET page of the places typed.
#[tracing::instrument(skip_all)]
pub async fn route_post(
    State(state): State<AppState>,
    lang: Lang,
    viewer: Viewer,
    uri: Uri,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> HtmlResult<Response> {
    let r = async {
        let path = page_path(&uri);
        let vehicle = vehicle_of(&state, &viewer).await?;
        let (fields, file) = match multipart {
            Ok(m) => read_form(m).await,
            Err(_) => return Err(AppError::bad_request("the route form posts multipart/form-data")),
        };
        let typed = Typed::parse(&Some(fields), vehicle.as_ref());
        let ask = match file {
            Some((name, doc)) => Ask::Gpx(name, doc.and_then(|d| route::gpx::parse(&d))),
            None if typed.has_ends() => return Ok(see_other(&format!("{path}?{}", typed.query()))),
            None => Ask::NothingPosted,
        };
        Ok(no_store(answer(&state, lang, &viewer, path, path.to_owned(), typed, ask).await?))
    }
    .await;
    r.map_err(|e| HtmlError(e, lang))
}

/// A part of the route form: the GPX file input, or a text field by its name.
enum FormPart {
    Gpx,
    Text(String),
}

impl FormPart {
    fn of(name: &str) -> FormPart {
        match name {
            "gpx" => FormPart::Gpx,
            other => FormPart::Text(other.to_owned()),
        }
    }
}

/// The text fields as `name=value&…`, and the GPX file when one was chosen: its name and bytes
/// (at most [`MAX_GPX_BYTES`]; more is [`GpxError::TooLarge`], as is a body past the route's
/// limit). A field that cannot be read ends the reading (the rest keeps its defaults).
async fn read_form(mut m: Multipart) -> (String, Option<(String, Result<Vec<u8>, GpxError>)>) {
    let mut text: Vec<(String, String)> = Vec::new();
    let mut file = None;
    loop {
        let mut field = match m.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE && file.is_none() {
                    file = Some((String::new(), Err(GpxError::TooLarge(MAX_GPX_BYTES + 1))));
                }
                break;
            }
        };
        match FormPart::of(field.name().unwrap_or_default()) {
            FormPart::Gpx => {
                let file_name: String = field.file_name().unwrap_or_default().chars().take(80).collect();
                let mut doc: Vec<u8> = Vec::new();
                let mut size = 0usize;
                let mut failed = false;
                loop {
                    match field.chunk().await {
                        Ok(Some(c)) => {
                            size += c.len();
                            if size <= MAX_GPX_BYTES {
                                doc.extend_from_slice(&c);
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            failed = true;
                            break;
                        }
                    }
                }
                // An empty file input sends a part with no name and no bytes: no file chosen.
                if failed {
                    file = Some((file_name, Err(GpxError::TooLarge(size.max(MAX_GPX_BYTES + 1)))));
                    break;
                } else if size > MAX_GPX_BYTES {
                    file = Some((file_name, Err(GpxError::TooLarge(size))));
                } else if !file_name.is_empty() || size > 0 {
                    file = Some((file_name, Ok(doc)));
                }
            }
            FormPart::Text(name) => match field.text().await {
                Ok(v) if v.len() <= 1_000 && text.len() < 50 => text.push((name, v)),
                Ok(_) => {}
                Err(_) => break,
            },
        }
    }
    (url::form_urlencoded::Serializer::new(String::new()).extend_pairs(text).finish(), file)
}

/// A GPX file's problem, as the page says it.
fn gpx_message(t: &RouteStrings, e: &GpxError) -> String {
    match e {
        GpxError::TooLarge(bytes) => (t.gpx_too_large)(&format!("{:.1}", *bytes as f64 / 1_048_576.0)),
        GpxError::Empty => t.gpx_empty.to_owned(),
        GpxError::NotXml(_) => t.gpx_not_xml.to_owned(),
        GpxError::NotGpx(root) => (t.gpx_not_gpx)(root),
        GpxError::Dtd => t.gpx_dtd.to_owned(),
        GpxError::NoPoints => t.gpx_no_points.to_owned(),
        GpxError::TooManyPoints | GpxError::Path(PathError::TooMany(_)) => t.gpx_too_many.to_owned(),
        GpxError::Missing { point, attr } => (t.gpx_point_missing)(&point.to_string(), attr),
        GpxError::NotANumber { point, attr, value } => (t.gpx_point_value)(&point.to_string(), attr, value),
        GpxError::OutOfRange { point, source } => {
            let (attr, v) = match source {
                PathError::Latitude(v) => ("lat", *v),
                PathError::Longitude(v) => ("lon", *v),
                _ => ("lat", f64::NAN),
            };
            (t.gpx_point_range)(&point.to_string(), attr, &v.to_string())
        }
        GpxError::Path(_) => t.gpx_too_few.to_owned(),
    }
}

/// The page: the form as typed, and the answer to `ask`.
async fn answer(
    state: &AppState,
    lang: Lang,
    viewer: &Viewer,
    path: &'static str,
    here: String,
    typed: Typed,
    ask: Ask,
) -> Result<Response, AppError> {
    let t = crate::text::route::strings(lang);
    let now = Utc::now();
    let depart = parse_depart(&typed.depart_raw).unwrap_or(now);
    let f = freshness(state).await?;
    let Typed { from, to, vias, fuel, litres, consumption, corridor, avoid_motorway, depart_raw, sort } = typed;
    let mut page = RoutePage {
        l: layout(lang, format!("{} — Carburoam", t.title), "route", here.clone(), &f),
        r: t,
        path,
        from: from.clone(),
        to: to.clone(),
        vias: vias
            .iter()
            .enumerate()
            .map(|(i, v)| ViaView { n: i + 1, label: (t.via_label)(i as u64 + 1), value: v.clone() })
            .collect(),
        options_open: avoid_motorway || vias.iter().any(|v| !v.trim().is_empty()),
        fuels: fuel_options(fuel),
        litres: num(litres),
        consumption: num(consumption),
        corridor: num(corridor),
        avoid_motorway,
        depart: if depart_raw.is_empty() {
            depart.with_timezone(&Paris).format("%Y-%m-%dT%H:%M").to_string()
        } else {
            depart_raw
        },
        sort: sort_name(sort),
        error: None,
        suggestions: Vec::new(),
        offer_gpx: false,
        summary: None,
        best: None,
        savings: Vec::new(),
        found: None,
        stops: Vec::new(),
        json: "null".into(),
        tile_url: state.site.tile_url.clone(),
        tile_attribution: state.site.tile_attribution.clone(),
        save: None,
        sign_in_next: None,
    };

    let (input, labels) = match ask {
        Ask::NothingPosted => {
            page.error = Some(t.need_ends.to_owned());
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
        Ask::Nothing => return render(&page),
        Ask::Gpx(name, Err(e)) => {
            page.error = Some(gpx_message(t, &e));
            let resp = render(&page)?;
            tracing::info!(file = %name, error = %e, "GPX file refused");
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, resp).into_response());
        }
        Ask::Gpx(name, Ok(p)) => {
            let label = (t.gpx_source)(if name.is_empty() { "GPX" } else { &name });
            (TripInput::Bare(p, Source::Gpx), (label, String::new(), String::new()))
        }
        Ask::Places => {
            // The places, each from a position or the site's own index.
            let places = crate::web::page::place_index(state).await?;
            let mut stops: Vec<LatLon> = Vec::new();
            for typed in std::iter::once(&from).chain(vias.iter().filter(|v| !v.trim().is_empty())).chain([&to]) {
                if let Ok(p) = typed.parse::<LatLon>() {
                    stops.push(p);
                    continue;
                }
                match crate::index::places::resolve(&places, typed, 1).first() {
                    Some(p) => stops.push(LatLon { lat: p.latitude, lon: p.longitude }),
                    None => {
                        page.error = Some((t.unknown_place)(typed));
                        // Places starting like what was typed, offered as links.
                        let start: String = typed.trim().chars().take(4).collect();
                        page.suggestions = crate::index::places::resolve(&places, &start, 5)
                            .into_iter()
                            .map(|p| {
                                let pick = |v: &String| if v == typed { p.query.clone() } else { v.clone() };
                                let pairs =
                                    [("from", pick(&from)), ("to", pick(&to)), ("fuel", fuel.name().to_owned())];
                                let query: String =
                                    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
                                Suggestion { href: format!("{path}?{query}"), label: p.label.clone() }
                            })
                            .collect();
                        return render(&page);
                    }
                }
            }
            let via_lines: Vec<&str> = vias.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
            (TripInput::Stops(stops), (from.trim().to_owned(), to.trim().to_owned(), via_lines.join("\n")))
        }
    };

    let query = RankQuery {
        fuel,
        litres,
        consumption,
        corridor_km: corridor,
        avoid_motorway,
        sort,
        depart,
        // As the other pages: the age of a price from the newest snapshot loaded.
        updated_since: crate::web::page::reference_time(&f) - i64::from(super::api::DEFAULT_MAX_AGE_DAYS) * 86_400,
    };
    let index = state.index.get().await.map_err(AppError::from)?;
    let (trip, list) = match route::search(&state.router, index, input, query).await {
        Ok(x) => x,
        Err(e) => {
            page.error = Some(
                match e {
                    SearchError::Path(PathError::SameEnds) => t.same_ends,
                    SearchError::Path(PathError::OutsideFrance) => t.outside_france,
                    SearchError::Engine(EngineError::NoRoute) => t.no_route,
                    SearchError::Path(_) => t.no_route,
                    SearchError::Engine(EngineError::Off) => t.engine_off,
                    SearchError::Engine(_) | SearchError::Interrupted => t.engine_failed,
                }
                .to_owned(),
            );
            page.offer_gpx = matches!(e, SearchError::Engine(_) | SearchError::Interrupted);
            let resp = render(&page)?;
            let bare_refused = labels.1.is_empty() && matches!(e, SearchError::Path(_));
            return Ok(if bare_refused { (StatusCode::UNPROCESSABLE_ENTITY, resp).into_response() } else { resp });
        }
    };
    let distance = lang.km(trip.distance_km);
    page.summary = Some(match trip.duration_min {
        Some(m) => (t.summary)(&distance, &duration(lang, m)),
        None => (t.summary_no_time)(&distance),
    });
    let best = route::rank::best(&list);
    if let Some(b) = best {
        page.best =
            Some((t.best)(&format!("{} ({})", stop_name(b), b.city), &lang.price(b.price), &lang.euros(b.net_cost)));
        let (on_route, average) = route::rank::savings(&list, &query);
        if let Some(v) = on_route.filter(|v| *v >= 0.005) {
            page.savings.push((t.saves_on_route)(&lang.euros(v)));
        }
        if let Some(v) = average.filter(|v| *v >= 0.005) {
            page.savings.push((t.saves_average)(&lang.euros(v)));
        }
    }
    page.found = Some((t.stations_found)(list.len() as u64));
    let best_id = best.map(|b| b.id);
    let reference = crate::web::page::reference_time(&f);
    page.stops = list.iter().map(|s| stop_view(lang, reference, s, Some(s.id) == best_id)).collect();
    let json = serde_json::json!({
        "points": trip.path.points().iter().map(|p| [p.lat, p.lon]).collect::<Vec<_>>(),
        "stations": list.iter().map(|s| serde_json::json!({
            "id": s.id, "lat": s.latitude, "lon": s.longitude, "name": stop_name(s),
            "price": lang.price(s.price), "best": Some(s.id) == best_id,
        })).collect::<Vec<_>>(),
    });
    page.json = json.to_string().replace("</", "<\\/");
    let (from_label, to_label, via_lines) = labels;
    if viewer.user.is_some() {
        let name = if to_label.is_empty() { from_label.clone() } else { format!("{from_label} → {to_label}") };
        page.save = Some(SaveView {
            name: name.chars().take(60).collect(),
            from: from_label,
            to: to_label,
            vias: via_lines,
            fuel: fuel.name(),
            points: trip.path.thinned(MAX_SAVED_POINTS).to_text(),
        });
    } else {
        page.sign_in_next = Some(url::form_urlencoded::byte_serialize(here.as_bytes()).collect());
    }
    render(&page)
}

/// The name shown for a station: its name, else its brand, else its address.
pub fn stop_name(s: &Stop) -> String {
    s.name.clone().or_else(|| s.brand.clone()).unwrap_or_else(|| s.address.clone())
}

fn stop_view(lang: Lang, reference: i64, s: &Stop, best: bool) -> StopView {
    StopView {
        id: s.id,
        name: stop_name(s),
        city: s.city.clone(),
        price: lang.price(s.price),
        age: lang.ago(reference, s.updated_at),
        km: lang.km(s.km_from_start),
        off: lang.km(s.off_route_km),
        detour: format!("{} · {}", lang.km(s.detour_km), duration(lang, s.detour_min)),
        estimated: s.detour_estimated,
        fill: lang.euros(s.fill_cost),
        detour_cost: lang.euros(s.detour_cost),
        net: lang.euros(s.net_cost),
        motorway: s.motorway,
        open: s.open_on_arrival,
        shortage: s.shortage.is_some(),
        best,
    }
}

/// The trip page, under its French and English paths.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/trajet", get(route_page).post(route_post).layer(DefaultBodyLimit::max(MAX_FORM_BODY_BYTES)))
        .route("/route", get(route_page).post(route_post).layer(DefaultBodyLimit::max(MAX_FORM_BODY_BYTES)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values() {
        assert_eq!(num(40.0), "40");
        assert_eq!(num(6.5), "6.5");
        assert_eq!(duration(Lang::Fr, 125.0), "2 h 05");
        assert_eq!(duration(Lang::En, 12.4), "12 min");
        let d = parse_depart("2026-06-07T12:00").expect("time");
        assert_eq!(d.to_rfc3339(), "2026-06-07T10:00:00+00:00");
        assert!(parse_depart("demain").is_none());
    }

    #[test]
    fn typed_fields_and_the_vehicle() {
        let v = VehicleRow { fuel: Fuel::E10.id(), tank_litres: 55.0, consumption: 7.2, updated_at: 0 };
        let t = Typed::parse(&Some("from=Rennes&to=Laval".into()), Some(&v));
        assert_eq!((t.fuel, t.litres, t.consumption), (Fuel::E10, 55.0, 7.2));
        // What is typed wins over the vehicle.
        let t = Typed::parse(&Some("from=Rennes&to=Laval&fuel=Gazole&litres=30".into()), Some(&v));
        assert_eq!((t.fuel, t.litres, t.consumption), (Fuel::Gazole, 30.0, 7.2));
        assert!(t.has_ends());
        assert_eq!(t.query(), "from=Rennes&to=Laval&fuel=Gazole&litres=30&consumption=7.2&corridor_km=3&sort=net");
        let t = Typed::parse(&None, None);
        assert_eq!((t.fuel, t.litres, t.consumption), (Fuel::Gazole, 40.0, 6.5));
        assert!(!t.has_ends());
    }
}
