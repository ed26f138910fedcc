//! `GET /api/v1/route` and `POST /api/v1/route`: the stations along a trip, ranked by what the
//! stop costs (see [`crate::route`]). Shapes are a public contract, described by the
//! `#[utoipa::path]` attributes below (the OpenAPI document, [`super::api_docs::ApiDoc`]).
//!
//! GET takes `from`, `to` (a position `LAT,LON` or a place of the site's index: a town, a
//! postcode, a département) and up to 3 `via`; POST takes the same fields as JSON with
//! `"points": [[lat, lon], …]` for a path the client already has, or a GPX document
//! (`Content-Type: application/gpx+xml`) with the fields in the query string.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Fuel, Price, ShortageKind, StationId};
use crate::error::AppError;
use crate::route::{self, EngineError, LatLon, Path, PathError, RankQuery, SearchError, Sort, Source, Stop, TripInput};
use crate::web::error::ApiResult;
use crate::web::extract::QueryParams;
use crate::web::state::AppState;

pub const DEFAULT_LITRES: f64 = 40.0;
pub const MAX_LITRES: f64 = 200.0;
pub const DEFAULT_CONSUMPTION: f64 = 6.5;
pub const MAX_CONSUMPTION: f64 = 40.0;
pub use crate::route::{DEFAULT_CORRIDOR_KM, MAX_CORRIDOR_KM, MIN_CORRIDOR_KM};
pub const MAX_VIA: usize = 3;
/// Largest request body: a GPX file of 5 MB (refused with a 422 above that) and some margin.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// The fields of a route search other than where it goes.
pub(crate) const FIELDS: &[&str] =
    &["fuel", "litres", "consumption", "corridor_km", "avoid_motorway", "sort", "depart", "max_age_days"];

/// A place as given: a position, or words for the place index.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    At(LatLon),
    Named(String),
}

impl Place {
    /// Numbers that are not a position in range are the client's mistake, not a town.
    fn parse(raw: &str) -> Result<Place, PathError> {
        match raw.parse::<LatLon>() {
            Ok(p) => Ok(Place::At(p)),
            Err(e @ (PathError::Latitude(_) | PathError::Longitude(_))) => Err(e),
            Err(_) => Ok(Place::Named(raw.trim().to_owned())),
        }
    }
}

/// Where the trip goes, as asked.
#[derive(Debug, Clone, Default)]
pub struct Ends {
    pub from: Option<String>,
    pub to: Option<String>,
    pub via: Vec<String>,
}

/// The ranking fields from `name=value` pairs (the query string, or the JSON body's fields
/// written as text): each checked for syntax and range, a bad one a 400 naming it.
/// `now` is the departure's default; `reference` the clock of "recent enough" prices
/// ([`crate::web::page::reference_time`]: the newest snapshot, as every other page and API).
pub fn rank_query(pairs: &[(String, String)], now: DateTime<Utc>, reference: i64) -> Result<RankQuery, AppError> {
    let raw: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let mut p = QueryParams::parse(Some(&raw))?;
    let fuel = p.fuel("fuel")?.ok_or_else(|| AppError::bad_request("missing parameter `fuel`"))?;
    let litres = p.f64_in("litres", 1.0..=MAX_LITRES)?.unwrap_or(DEFAULT_LITRES);
    let consumption = p.f64_in("consumption", 1.0..=MAX_CONSUMPTION)?.unwrap_or(DEFAULT_CONSUMPTION);
    let corridor_km = p.f64_in("corridor_km", MIN_CORRIDOR_KM..=MAX_CORRIDOR_KM)?.unwrap_or(DEFAULT_CORRIDOR_KM);
    let avoid_motorway = match p.take("avoid_motorway").as_deref() {
        None | Some("false" | "0" | "off" | "no") => false,
        Some("true" | "1" | "on" | "yes") => true,
        Some(other) => {
            return Err(AppError::bad_request(format!(
                "parameter `avoid_motorway` must be true or false, got {other:?}"
            )));
        }
    };
    let sort = match p.take("sort") {
        None => Sort::Net,
        Some(s) => s.parse().map_err(|e| AppError::bad_request(format!("parameter `sort`: {e}")))?,
    };
    let depart = match p.take("depart") {
        None => now,
        Some(s) => DateTime::parse_from_rfc3339(&s).map(|d| d.with_timezone(&Utc)).map_err(|_| {
            AppError::bad_request(format!(
                "parameter `depart` must be an RFC 3339 time (2025-02-07T07:30:00Z), got {s:?}"
            ))
        })?,
    };
    let max_age_days =
        p.u32_in("max_age_days", 1..=super::api::MAX_AGE_DAYS)?.unwrap_or(super::api::DEFAULT_MAX_AGE_DAYS);
    p.finish(FIELDS)?;
    Ok(RankQuery {
        fuel,
        litres,
        consumption,
        corridor_km,
        avoid_motorway,
        sort,
        depart,
        updated_since: reference - i64::from(max_age_days) * 86_400,
    })
}

/// Splits a query string into the trip's ends (`from`, `to`, repeatable `via`) and the rest.
fn split_query(raw: Option<&str>) -> Result<(Ends, Vec<(String, String)>), AppError> {
    let mut ends = Ends::default();
    let mut rest = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let v = v.trim().to_owned();
        match &*k {
            "from" | "to" if v.is_empty() => {}
            "from" | "to" => {
                let slot = if k == "from" { &mut ends.from } else { &mut ends.to };
                if slot.replace(v).is_some() {
                    return Err(AppError::bad_request(format!("parameter `{k}` is given more than once")));
                }
            }
            "via" if v.is_empty() => {}
            "via" => ends.via.push(v),
            _ => rest.push((k.into_owned(), v)),
        }
    }
    if ends.via.len() > MAX_VIA {
        return Err(AppError::bad_request(format!("at most {MAX_VIA} `via` points, got {}", ends.via.len())));
    }
    Ok((ends, rest))
}

/// The position of a place: as written, or the best match of the site's place index.
pub async fn locate(state: &AppState, name: &str, raw: &str) -> Result<LatLon, AppError> {
    match Place::parse(raw).map_err(|e| AppError::Unprocessable(format!("`{name}`: {e}")))? {
        Place::At(p) => Ok(p),
        Place::Named(words) => {
            let index = crate::web::page::place_index(state).await?;
            let found = crate::index::places::resolve(&index, &words, 1);
            let place = found.first().ok_or_else(|| {
                AppError::Unprocessable(format!(
                    "`{name}`: no place {raw:?} (a town, a postcode, a département, or LAT,LON)"
                ))
            })?;
            LatLon::new(place.latitude, place.longitude).map_err(|e| AppError::Internal(anyhow::anyhow!("place: {e}")))
        }
    }
}

/// The start, via points and end of `ends`, located.
pub async fn stops(state: &AppState, ends: &Ends) -> Result<Vec<LatLon>, AppError> {
    let from = ends.from.as_deref().ok_or_else(|| AppError::bad_request("missing parameter `from`"))?;
    let to = ends.to.as_deref().ok_or_else(|| AppError::bad_request("missing parameter `to`"))?;
    let mut out = vec![locate(state, "from", from).await?];
    for v in &ends.via {
        out.push(locate(state, "via", v).await?);
    }
    out.push(locate(state, "to", to).await?);
    Ok(out)
}

/// A failed search as the client sees it: the input's fault is a 422 naming it; the engine's
/// a 503 (busy, slow) or 502 (down, garbage) that offers to send the path instead.
pub fn search_error(e: SearchError) -> AppError {
    const OFFER: &str = "send the path itself instead: POST /api/v1/route with \"points\" or a GPX file";
    match e {
        SearchError::Path(p) => AppError::Unprocessable(p.to_string()),
        SearchError::Engine(EngineError::NoRoute) => {
            AppError::Unprocessable(format!("{}; {OFFER}", EngineError::NoRoute))
        }
        SearchError::Engine(e) if e.is_transient() || e == EngineError::Off => {
            AppError::Unavailable(format!("{e}; {OFFER}"))
        }
        SearchError::Engine(e) => AppError::BadGateway(format!("{e}; {OFFER}")),
        SearchError::Interrupted => AppError::Internal(anyhow::anyhow!("route search interrupted")),
    }
}

// ---------------------------------------------------------------------------------------------
// The answer

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = RouteAnswer)]
pub struct RouteAnswerJson<'a> {
    pub route: RouteJson<'a>,
    pub stations: Vec<RouteStationJson>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteJson<'a> {
    pub distance_km: f64,
    #[schema(required = true)]
    pub duration_min: Option<f64>,
    #[schema(inline)]
    pub points: PointsJson<'a>,
    pub source: Source,
}

/// The path's points as `[[lat, lon], …]`, written from the trip's own points (a long path is
/// most of the answer: no copy of them is made to write them).
#[derive(Debug)]
pub struct PointsJson<'a>(pub &'a [LatLon]);

impl Serialize for PointsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|p| [p.lat, p.lon]))
    }
}

/// `[[lat, lon], …]`: arrays of two numbers, as [`PointsJson`] writes them.
impl utoipa::PartialSchema for PointsJson<'_> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        let pair = ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::Number))
            .min_items(Some(2))
            .max_items(Some(2));
        ArrayBuilder::new().items(pair).description(Some("[lat, lon] pairs.")).into()
    }
}

impl utoipa::ToSchema for PointsJson<'_> {}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = RouteStation)]
pub struct RouteStationJson {
    #[schema(value_type = i64)]
    pub id: StationId,
    #[schema(required = true)]
    pub brand: Option<String>,
    #[schema(required = true)]
    pub name: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    pub fuel: Fuel,
    pub price: Price,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub km_from_start: f64,
    pub off_route_km: f64,
    pub detour_km: f64,
    pub detour_min: f64,
    pub detour_estimated: bool,
    pub fill_cost: f64,
    pub detour_cost: f64,
    pub net_cost: f64,
    pub motorway: bool,
    #[schema(required = true)]
    pub open_on_arrival: Option<bool>,
    #[schema(required = true)]
    pub shortage: Option<ShortageKind>,
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

pub fn answer_json(trip: &route::Trip, stops: Vec<Stop>, fuel: Fuel) -> RouteAnswerJson<'_> {
    RouteAnswerJson {
        route: RouteJson {
            distance_km: round(trip.distance_km, 3),
            duration_min: trip.duration_min.map(|m| round(m, 1)),
            points: PointsJson(trip.path.points()),
            source: trip.source,
        },
        stations: stops
            .into_iter()
            .map(|s| RouteStationJson {
                id: s.id,
                brand: s.brand,
                name: s.name,
                latitude: s.latitude,
                longitude: s.longitude,
                fuel,
                price: Price::from_milli(s.price),
                updated_at: crate::domain::time::rfc3339(s.updated_at),
                km_from_start: round(s.km_from_start, 3),
                off_route_km: round(s.off_route_km, 3),
                detour_km: round(s.detour_km, 3),
                detour_min: round(s.detour_min, 1),
                detour_estimated: s.detour_estimated,
                fill_cost: round(s.fill_cost, 2),
                detour_cost: round(s.detour_cost, 2),
                net_cost: round(s.net_cost, 2),
                motorway: s.motorway,
                open_on_arrival: s.open_on_arrival,
                shortage: s.shortage,
            })
            .collect(),
    }
}

/// Bytes of the answer per point of the path and per station, to size its buffer once (a
/// point is at most 40 bytes, `[-12.123456789012345,-1.123456789012345],`; a station ~450).
const BYTES_PER_POINT: usize = 40;
const BYTES_PER_STATION: usize = 512;

/// The answer as `application/json`, written into one buffer sized from the path and the
/// stations (growing a small one copied the 100 KB of a long path's answer several times).
pub struct RouteAnswer(Vec<u8>);

impl axum::response::IntoResponse for RouteAnswer {
    fn into_response(self) -> axum::response::Response {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

async fn run(state: &AppState, input: TripInput, q: RankQuery) -> ApiResult<RouteAnswer> {
    let index = state.index.get().await.map_err(AppError::from)?;
    let (trip, stops) = route::search(&state.router, index, input, q).await.map_err(search_error)?;
    let mut out =
        Vec::with_capacity(256 + trip.path.points().len() * BYTES_PER_POINT + stops.len() * BYTES_PER_STATION);
    serde_json::to_writer(&mut out, &answer_json(&trip, stops, q.fuel))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("route answer: {e}")))?;
    Ok(RouteAnswer(out))
}

/// `GET /api/v1/route?from=&to=&via=…&fuel=…`
#[utoipa::path(
    get,
    path = "/api/v1/route",
    operation_id = "routeStations",
    summary = "The cheapest stop on the way",
    description = "Plans the route from `from` to `to` (through `via`) with the server's routing engine (the Géoplateforme's by default; answers are cached a day by rounded end points), then ranks the stations selling `fuel` within `corridor_km` of it by what the stop really costs: the fill (litres × price) plus the fuel the detour burns. Detours are exact (start → station → end minus the route, per leg) for the best 25 candidates when the engine has a distance matrix (Valhalla, OSRM), otherwise estimated as 2 × off-route distance × 1.3 at 50 km/h and marked `detour_estimated`. `open_on_arrival` comes from the station's published hours at the time the route reaches it (`null` when unknown). Stations gone from the feed and prices older than `max_age_days` are left out.",
    params(
        ("from" = String, Query, description = "A position `LAT,LON`, or a place of the site's own index (a town, a postcode, a département), as the list search takes it. A place the index does not know is a 422.", min_length = 1, example = json!("Brest")),
        ("to" = String, Query, description = "A position `LAT,LON`, or a place of the site's own index (a town, a postcode, a département), as the list search takes it. A place the index does not know is a 422.", min_length = 1, example = json!("47.2184,-1.5536")),
        ("via" = Option<Vec<String>>, Query, description = "Up to 3 places to pass through, in order (repeatable).", max_items = 3, style = Form, explode),
        ("fuel" = crate::web::routes::api_docs::FuelParam, Query),
        RankFields,
    ),
    responses(RouteAnswers, super::api_docs::RouteErrors)
)]
#[tracing::instrument(skip(state))]
pub async fn get_route(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<RouteAnswer> {
    let (ends, rest) = split_query(raw.as_deref())?;
    let q = rank_query(&rest, Utc::now(), crate::web::page::reference(&state).await?)?;
    let stops = stops(&state, &ends).await?;
    run(&state, TripInput::Stops(stops), q).await
}

/// The answers of both methods, as the document lists them: the route, or one of the failures
/// of a route search ([`RouteErrors`](super::api_docs::RouteErrors)).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum RouteAnswers {
    /// The route and the stations of its corridor, sorted as asked.
    #[response(status = 200)]
    Found(RouteAnswerJson<'static>),
}

/// The ranking fields of a route search as the document describes them (the query string of
/// both methods; [`rank_query`] reads them, [`FIELDS`] names them with `fuel`).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct RankFields {
    /// Litres to buy: the fill cost is litres × price.
    #[param(minimum = 1.0, maximum = 200.0, default = json!(DEFAULT_LITRES))]
    litres: Option<f64>,
    /// The car's consumption in L/100 km: the detour cost is detour km × consumption / 100 × price.
    #[param(minimum = 1.0, maximum = 40.0, default = json!(DEFAULT_CONSUMPTION))]
    consumption: Option<f64>,
    /// Stations up to this far from the route (shortest distance to the path).
    #[param(minimum = 0.5, maximum = 20.0, default = json!(DEFAULT_CORRIDOR_KM))]
    corridor_km: Option<f64>,
    /// Leave out motorway stations.
    #[param(default = false)]
    avoid_motorway: Option<bool>,
    /// `net` (fill + detour cost), `price` (per litre) or `along` (order along the route).
    /// Stations short of the fuel come last in the first two.
    #[param(inline)]
    sort: Option<Sort>,
    /// Departure time (RFC 3339), for "open on arrival"; default now.
    #[param(value_type = Option<String>, format = DateTime, example = "2026-06-05T07:30:00Z")]
    depart: Option<String>,
    /// Leave out prices not updated for this many days (counted from now), as `/api/v1/stations`.
    #[param(minimum = 1, maximum = 3650, default = json!(super::api::DEFAULT_MAX_AGE_DAYS))]
    max_age_days: Option<u32>,
}

/// The JSON body of `POST /api/v1/route`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    description = "`points`, or `from` and `to` (with `via`) to have the path routed: not both (400).",
    example = json!({"points": [[48.1147, -1.6794], [48.0707, -0.7734]], "fuel": "Gazole", "litres": 40, "consumption": 6.5})
)]
struct RouteBody {
    #[schema(schema_with = points_schema)]
    points: Option<Vec<[f64; 2]>>,
    #[schema(min_length = 1, nullable = false)]
    from: Option<String>,
    #[schema(min_length = 1, nullable = false)]
    to: Option<String>,
    #[serde(default)]
    #[schema(max_items = 3)]
    via: Vec<String>,
    #[schema(value_type = crate::web::routes::api_docs::FuelParam)]
    fuel: Option<serde_json::Value>,
    #[schema(minimum = 1.0, maximum = 200.0, nullable = false)]
    litres: Option<f64>,
    #[schema(minimum = 1.0, maximum = 40.0, nullable = false)]
    consumption: Option<f64>,
    #[schema(minimum = 0.5, maximum = 20.0, nullable = false)]
    corridor_km: Option<f64>,
    #[schema(nullable = false)]
    avoid_motorway: Option<bool>,
    #[schema(value_type = crate::route::rank::Sort, required = false)]
    sort: Option<String>,
    #[schema(value_type = String, format = DateTime, required = false)]
    depart: Option<String>,
    #[schema(minimum = 1, maximum = 3650, nullable = false)]
    max_age_days: Option<u32>,
}

/// `points`: 2 to [`crate::route::MAX_POINTS`] pairs `[lat, lon]` in range (serde reads them as
/// `[f64; 2]`, which utoipa writes without the bounds).
fn points_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ArrayItems, ObjectBuilder, Type};
    let coordinate =
        |bound: f64| ObjectBuilder::new().schema_type(Type::Number).minimum(Some(-bound)).maximum(Some(bound));
    let pair = ArrayBuilder::new()
        .items(ArrayItems::False)
        .prefix_items([coordinate(90.0), coordinate(180.0)])
        .min_items(Some(2))
        .max_items(Some(2));
    ArrayBuilder::new().items(pair).min_items(Some(2)).max_items(Some(crate::route::MAX_POINTS)).build()
}

impl RouteBody {
    /// The ranking fields as `name=value` text, for [`rank_query`].
    fn pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k.to_owned(), v));
            }
        };
        put(
            "fuel",
            self.fuel.as_ref().map(|f| match f {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        );
        put("litres", self.litres.map(|v| v.to_string()));
        put("consumption", self.consumption.map(|v| v.to_string()));
        put("corridor_km", self.corridor_km.map(|v| v.to_string()));
        put("avoid_motorway", self.avoid_motorway.map(|v| v.to_string()));
        put("sort", self.sort.clone());
        put("depart", self.depart.clone());
        put("max_age_days", self.max_age_days.map(|v| v.to_string()));
        out
    }
}

/// `POST /api/v1/route`: JSON (`points`, or `from`/`to`/`via`) or a GPX document.
#[utoipa::path(
    post,
    path = "/api/v1/route",
    operation_id = "routeStationsAlongPath",
    summary = "The cheapest stop along a path you have",
    description = "The same search over a path the client already has, without any routing engine: a JSON body with `\"points\": [[lat, lon], …]` (2 to 50,000) and the fields of the GET (or `from`, `to`, `via` to have it routed), or a GPX document (`Content-Type: application/gpx+xml`, at most 5 MB and 50,000 points; the points of its tracks, else of its routes; no DTD) with the fields in the query string. `duration_min` is then `null`, and so is `open_on_arrival` unless the station is open round the clock.",
    request_body(content((RouteBody = "application/json"), (String = "application/gpx+xml"))),
    params(
        ("fuel" = Option<crate::web::routes::api_docs::FuelParam>, Query, description = "Required with a GPX body. With a JSON body every field goes in the body and none in the query string: a query parameter there is a 400."),
        RankFields,
    ),
    responses(RouteAnswers, super::api_docs::RouteErrors)
)]
#[tracing::instrument(skip(state, headers, body), fields(bytes = body.len()))]
pub async fn post_route(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<RouteAnswer> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/gpx+xml" | "application/gpx" | "application/xml" | "text/xml" => {
            let (ends, rest) = split_query(raw.as_deref())?;
            if ends.from.is_some() || ends.to.is_some() || !ends.via.is_empty() {
                return Err(AppError::bad_request("a GPX path has its own ends: no `from`, `to` nor `via`").into());
            }
            let q = rank_query(&rest, Utc::now(), crate::web::page::reference(&state).await?)?;
            let path = route::gpx::parse(&body).map_err(|e| AppError::Unprocessable(format!("GPX: {e}")))?;
            run(&state, TripInput::Bare(path, Source::Gpx), q).await
        }
        "application/json" => {
            if raw.as_deref().is_some_and(|r| !r.is_empty()) {
                return Err(AppError::bad_request(
                    "with a JSON body, every field goes in the body, none in the query string",
                )
                .into());
            }
            let b: RouteBody =
                serde_json::from_slice(&body).map_err(|e| AppError::Unprocessable(format!("the JSON body: {e}")))?;
            let q = rank_query(&b.pairs(), Utc::now(), crate::web::page::reference(&state).await?)?;
            let input = match (&b.points, &b.from, &b.to) {
                (Some(points), None, None) if b.via.is_empty() => TripInput::Bare(
                    Path::from_pairs(points).map_err(|e| AppError::Unprocessable(format!("`points`: {e}")))?,
                    Source::Points,
                ),
                (Some(_), _, _) => {
                    return Err(AppError::bad_request("give either `points` or `from` and `to`, not both").into());
                }
                (None, _, _) => {
                    if b.via.len() > MAX_VIA {
                        return Err(AppError::bad_request(format!("at most {MAX_VIA} `via` points")).into());
                    }
                    let ends = Ends { from: b.from.clone(), to: b.to.clone(), via: b.via.clone() };
                    TripInput::Stops(stops(&state, &ends).await?)
                }
            };
            run(&state, input, q).await
        }
        other => {
            Err(AppError::bad_request(format!("Content-Type {other:?}: send application/json or application/gpx+xml"))
                .into())
        }
    }
}

/// The stations along a trip, nested under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/route", get(get_route).post(post_route).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fields_are_checked() {
        let now = Utc::now();
        let q = rank_query(&pairs(&[("fuel", "Gazole")]), now, now.timestamp()).expect("defaults");
        assert_eq!((q.litres, q.consumption, q.corridor_km, q.sort), (40.0, 6.5, 3.0, Sort::Net));
        for (k, v) in [
            ("corridor_km", "0.4"),
            ("corridor_km", "21"),
            ("litres", "0"),
            ("sort", "cheap"),
            ("depart", "demain"),
            ("avoid_motorway", "maybe"),
            ("colour", "red"),
        ] {
            let e = rank_query(&pairs(&[("fuel", "Gazole"), (k, v)]), now, now.timestamp()).expect_err(k);
            assert!(e.to_string().contains(k), "{e}");
        }
        assert!(rank_query(&[], now, now.timestamp()).is_err_and(|e| e.to_string().contains("fuel")));
        let (ends, rest) = split_query(Some("from=Rennes&to=48.1,2&via=1,1&via=Laval&fuel=E10")).expect("split");
        assert_eq!(ends.via.len(), 2);
        assert_eq!(rest, pairs(&[("fuel", "E10")]));
        assert!(split_query(Some("via=1,1&via=1,1&via=1,1&via=1,1")).is_err());
        assert_eq!(Place::parse("48.1, -1.6"), Ok(Place::At(LatLon { lat: 48.1, lon: -1.6 })));
        assert_eq!(Place::parse("Rennes"), Ok(Place::Named("Rennes".into())));
        assert_eq!(Place::parse("148.1,2"), Err(PathError::Latitude(148.1)));
    }
}
