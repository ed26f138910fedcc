//! The JSON API under `/api/v1`. Shapes are a public contract (people script against them):
//! their `#[utoipa::path]` attributes make the OpenAPI document; change `api.html` with them.
//!
//! Conventions: prices are euros per litre with three decimals (`1.739`), times are RFC 3339 in
//! UTC (`2025-02-07T07:30:00Z`), fuels are the feed's names (`Gazole`, `SP95`, `E85`, `GPLc`,
//! `E10`, `SP98`).

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

use crate::db::etl_runs;
use crate::db::stations as q;
use crate::domain::{DAY, Fuel, OpeningHours, Price, RoadType, ShortageKind, StationId};
use crate::error::AppError;
use crate::index::{NearbyQuery, Order};
use crate::web::error::ApiResult;
use crate::web::extract::{ApiQuery, FromQuery, QueryParams, StationIdPath};
use crate::web::state::AppState;
use crate::web::versioned::{Body, Key};

/// Unix seconds as RFC 3339 UTC with a `Z` (`2025-02-07T07:30:00Z`).
fn rfc3339(ts: i64) -> Result<String, AppError> {
    DateTime::from_timestamp(ts, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored time {ts} is out of range")))
}

/// A [`Price`] as its `Serialize` writes it: euros per litre, a number with three decimals.
impl utoipa::PartialSchema for Price {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .description(Some("Euros per litre, three decimals."))
            .examples([serde_json::json!(1.739)])
            .into()
    }
}

impl utoipa::ToSchema for Price {
    fn name() -> std::borrow::Cow<'static, str> {
        "Euros".into()
    }
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/stations/{id}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Station)]
pub struct StationJson {
    #[schema(value_type = i64)]
    pub id: StationId,
    /// Canonical brand from OpenStreetMap (`null` when unknown).
    #[schema(required = true)]
    pub brand: Option<String>,
    /// The shown name from OpenStreetMap ("TotalEnergies — Relais Beaune Tailly"; `null` when unknown).
    #[schema(required = true)]
    pub name: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    pub address: String,
    pub city: String,
    pub postcode: String,
    pub department: String,
    pub road_type: RoadType,
    pub automate_24_24: bool,
    pub services: Vec<String>,
    #[schema(required = true)]
    pub opening_hours: Option<OpeningHours>,
    pub prices: Vec<PriceJson>,
    pub shortages: Vec<ShortageJson>,
    #[schema(format = DateTime)]
    pub first_seen: String,
    /// Last time the station was in an imported snapshot.
    #[schema(format = DateTime)]
    pub last_seen: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PriceJson {
    pub fuel: Fuel,
    pub price: Price,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShortageJson {
    pub fuel: Fuel,
    pub kind: ShortageKind,
    #[schema(format = DateTime)]
    #[schema(required = true)]
    pub since: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/stations/{id}",
    operation_id = "getStation",
    summary = "One station with its current prices and shortages",
    params(
        ("id" = i64, Path, description = "Station id as in the feed (7 or 8 digits, no leading zero). Not a whole number, or more than 18 digits: 400; a number that is no station: 404. The example is a station of the repository's test fixtures (tests/fixtures/snapshot_b.xml).", minimum = 1, maximum = 999_999_999_999_999_999_i64, example = json!(92330002)),
    ),
    responses(
        (status = 200, description = "The station.", body = StationJson, example = json!(crate::web::routes::api_docs::example("station"))),
        crate::web::routes::api_docs::StationErrors,
    )
)]
#[tracing::instrument(skip(state, headers))]
pub async fn station(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: StationIdPath,
    _params: ApiQuery<NoParams>,
) -> ApiResult<Response> {
    let id = id.id()?;
    let index = state.index.get().await.map_err(AppError::from)?;
    let body = state
        .cache
        .data
        .get_or_try(index.data_version(), Key::ApiStation { id }, || async {
            Body::json(&station_json(&state, id).await?)
        })
        .await?;
    Ok(body.respond(&headers))
}

/// The answer of [`station`].
async fn station_json(state: &AppState, id: StationId) -> Result<StationJson, AppError> {
    let db = &state.db;
    let row = q::station(db, id).await?.ok_or_else(|| AppError::not_found(format!("station {id}")))?;
    let (prices, shortages, latest_snapshot, osm) = tokio::try_join!(
        q::prices(db, id),
        q::shortages(db, id),
        q::latest_snapshot_at(db),
        crate::db::station_names::get(db, id),
    )?;
    let osm = osm.map(|(n, _tags)| n);

    // The two JSON columns are written by our own loader; if one is ever unreadable, the
    // station is still worth showing, so it degrades to "unknown" with a log line.
    let services = serde_json::from_str::<Vec<String>>(&row.services).unwrap_or_else(|e| {
        tracing::warn!(station = %id, error = %e, "unreadable services JSON");
        Vec::new()
    });
    let opening_hours = row.opening_hours.as_deref().and_then(|s| {
        serde_json::from_str::<OpeningHours>(s)
            .inspect_err(|e| tracing::warn!(station = %id, error = %e, "unreadable opening hours JSON"))
            .ok()
    });

    let prices = prices
        .into_iter()
        .map(|p| Ok(PriceJson { fuel: p.fuel, price: Price::from_milli(p.price), updated_at: rfc3339(p.updated_at)? }))
        .collect::<Result<Vec<_>, AppError>>()?;
    let shortages = shortages
        .into_iter()
        .map(|s| Ok(ShortageJson { fuel: s.fuel, kind: s.kind, since: s.since.map(rfc3339).transpose()? }))
        .collect::<Result<Vec<_>, AppError>>()?;

    Ok(StationJson {
        id,
        name: osm.as_ref().and_then(|n| n.display()),
        brand: osm.and_then(|n| n.brand),
        latitude: row.latitude,
        longitude: row.longitude,
        road_type: row.road_type,
        automate_24_24: row.automate_24_24,
        services,
        opening_hours,
        prices,
        shortages,
        first_seen: rfc3339(row.first_seen_at)?,
        last_seen: rfc3339(row.last_seen(latest_snapshot))?,
        address: row.address,
        city: row.city,
        postcode: row.postcode,
        department: row.department,
    })
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/stations?lat=&lon=&fuel=…

pub const DEFAULT_RADIUS_KM: f64 = 10.0;
pub const MAX_RADIUS_KM: f64 = 100.0;
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 200;
pub const DEFAULT_MAX_AGE_DAYS: u32 = 30;
pub const MAX_AGE_DAYS: u32 = 3650;

/// The parameters of the nearby search, parsed and in range. The OpenAPI document describes
/// them from this type (`IntoParams`), with the defaults [`FromQuery::from_query`] gives.
#[derive(Debug, Clone, Copy, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearbyParams {
    /// Latitude in degrees (WGS 84).
    #[param(minimum = -90, maximum = 90, example = json!(48.8566))]
    pub lat: f64,
    /// Longitude in degrees (WGS 84).
    #[param(minimum = -180, maximum = 180, example = json!(2.3522))]
    pub lon: f64,
    /// Search radius in km (great-circle distance).
    #[param(required = false, minimum = 0, maximum = 100, default = json!(DEFAULT_RADIUS_KM))]
    pub radius_km: f64,
    #[param(value_type = crate::web::routes::api_docs::FuelParam)]
    pub fuel: Fuel,
    /// Most stations returned.
    #[param(required = false, minimum = 1, maximum = 200, default = json!(DEFAULT_LIMIT))]
    pub limit: u32,
    /// Leave out prices not updated for this many days, counted back from the newest snapshot
    /// loaded (not from now: a feed that stopped changing still answers with its last prices).
    #[param(required = false, minimum = 1, maximum = 3650, default = json!(DEFAULT_MAX_AGE_DAYS))]
    pub max_age_days: u32,
}

impl FromQuery for NearbyParams {
    const PARAMS: &'static [&'static str] = &["lat", "lon", "fuel", "radius_km", "limit", "max_age_days"];

    fn from_query(p: &mut QueryParams) -> Result<Self, AppError> {
        let missing = |name: &str| AppError::bad_request(format!("missing parameter `{name}`"));
        Ok(NearbyParams {
            lat: p.f64_in("lat", -90.0..=90.0)?.ok_or_else(|| missing("lat"))?,
            lon: p.f64_in("lon", -180.0..=180.0)?.ok_or_else(|| missing("lon"))?,
            fuel: p.fuel("fuel")?.ok_or_else(|| missing("fuel"))?,
            radius_km: p.f64_in("radius_km", 0.0..=MAX_RADIUS_KM)?.unwrap_or(DEFAULT_RADIUS_KM),
            limit: p.u32_in("limit", 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT),
            max_age_days: p.u32_in("max_age_days", 1..=MAX_AGE_DAYS)?.unwrap_or(DEFAULT_MAX_AGE_DAYS),
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NearbyJson {
    pub stations: Vec<NearbyStationJson>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = NearbyStation)]
pub struct NearbyStationJson {
    #[schema(value_type = i64)]
    pub id: StationId,
    /// Canonical brand from OpenStreetMap (`null` when unknown).
    #[schema(required = true)]
    pub brand: Option<String>,
    /// The shown name from OpenStreetMap (`null` when unknown).
    #[schema(required = true)]
    pub name: Option<String>,
    /// Great-circle distance, rounded to the metre.
    pub distance_km: f64,
    pub fuel: Fuel,
    pub price: Price,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub latitude: f64,
    pub longitude: f64,
    pub address: String,
    pub city: String,
    pub postcode: String,
}

/// The nearby search's parameters and its `brand=` values (repeatable, so read apart from the
/// others, which may each be given once).
fn nearby_params(raw: Option<&str>) -> Result<(NearbyParams, Vec<String>), AppError> {
    let mut brands = Vec::new();
    let mut rest = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if k == "brand" {
            let v = v.trim();
            if v.is_empty() {
                return Err(AppError::bad_request(
                    "parameter `brand` is empty (a canonical brand, see /api/v1/brands)",
                ));
            }
            brands.push(v.to_owned());
        } else {
            rest.append_pair(&k, &v);
        }
    }
    let rest = rest.finish();
    let mut p = QueryParams::parse(Some(&rest))?;
    let params = NearbyParams::from_query(&mut p)?;
    let mut known = NearbyParams::PARAMS.to_vec();
    known.push("brand");
    p.finish(&known)?;
    Ok((params, brands))
}

/// Answered from the in-memory price index (no SQL): stations still in the feed only.
#[utoipa::path(
    get,
    path = "/api/v1/stations",
    operation_id = "nearbyStations",
    summary = "Cheapest stations near a point",
    description = "Stations within `radius_km` of (`lat`, `lon`) selling `fuel` at a price updated in the last `max_age_days` days, and reporting no shortage of it; stations no longer in the latest feed are left out. Sorted by price, then distance, then id.",
    params(
        NearbyParams,
        ("brand" = Option<Vec<crate::web::routes::api_docs::BrandName>>, Query, description = "Only stations of this canonical brand (as `/api/v1/brands` lists them; repeatable: `brand=Esso&brand=E.Leclerc`). An empty value, or a brand no station has, is a 400 naming `brand`.", style = Form, explode, example = json!(["TotalEnergies"])),
    ),
    responses(
        (status = 200, description = "Matching stations, cheapest first.", body = NearbyJson, example = json!(crate::web::routes::api_docs::example("nearby"))),
        crate::web::routes::api_docs::QueryErrors,
    )
)]
#[tracing::instrument(skip(state))]
pub async fn nearby(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Json<NearbyJson>> {
    let (params, brands) = nearby_params(raw.as_deref())?;
    let index = state.index.get().await.map_err(AppError::from)?;
    // Ages count back from the newest snapshot, as in the HTML lists (`page::reference_time`).
    let reference = crate::web::page::reference(&state).await?;
    if let Some(unknown) =
        brands.iter().find(|b| !index.stations().iter().any(|s| s.brand.as_deref() == Some(b.as_str())))
    {
        return Err(AppError::bad_request(format!(
            "parameter `brand`: no station of the brand {unknown:?} (canonical names: see /api/v1/brands)"
        ))
        .into());
    }
    let hits = index.nearby(&NearbyQuery {
        latitude: params.lat,
        longitude: params.lon,
        radius_km: params.radius_km,
        fuel: params.fuel,
        updated_since: reference - i64::from(params.max_age_days) * DAY,
        hide_shortages: true,
        only_24_24: false,
        service: None,
        brands: &brands,
        words: &[],
        order: Order::Price,
        limit: params.limit as usize,
    });
    let stations = hits
        .into_iter()
        .map(|h| {
            let s = h.station;
            Ok(NearbyStationJson {
                id: s.id,
                brand: s.brand.as_deref().map(str::to_owned),
                name: s.name.as_deref().map(str::to_owned),
                distance_km: (h.distance_km * 1000.0).round() / 1000.0,
                fuel: params.fuel,
                price: Price::from_milli(h.offer.price),
                updated_at: rfc3339(h.offer.updated_at)?,
                latitude: s.latitude,
                longitude: s.longitude,
                address: s.address.to_string(),
                city: s.city.to_string(),
                postcode: s.postcode.to_string(),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(Json(NearbyJson { stations }))
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/brands

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BrandsJson {
    pub brands: Vec<BrandJson>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BrandJson {
    /// Canonical name (the name-suggestion-index's), as `brand=` takes it.
    pub brand: String,
    /// Stations of the current feed with this brand.
    pub stations: usize,
}

/// Canonical brands of the stations in the feed, most stations first (from the price index).
#[utoipa::path(
    get,
    path = "/api/v1/brands",
    operation_id = "listBrands",
    summary = "Canonical brands of the stations, with their station counts",
    description = "Brands come from OpenStreetMap (© OpenStreetMap contributors, ODbL, https://www.openstreetmap.org/copyright), brought to one spelling with the name-suggestion-index. Stations of the current feed only; most stations first.",
    responses(
        (status = 200, description = "The brands.", body = BrandsJson, example = json!(crate::web::routes::api_docs::example("brands"))),
        crate::web::routes::api_docs::QueryErrors,
    )
)]
#[tracing::instrument(skip(state))]
pub async fn brands(State(state): State<AppState>, _params: ApiQuery<NoParams>) -> ApiResult<Json<BrandsJson>> {
    let index = state.index.get().await.map_err(AppError::from)?;
    let brands =
        index.brands().into_iter().map(|(brand, stations)| BrandJson { brand: brand.to_owned(), stations }).collect();
    Ok(Json(BrandsJson { brands }))
}

// GET /api/v1/stations/{id}/history and /api/v1/trends: see [`super::api_history`].

// ---------------------------------------------------------------------------------------------
// GET /api/v1/status

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusJson {
    /// End of the last import run that ended without error (status success, unchanged or not_modified).
    #[schema(format = DateTime)]
    #[schema(required = true)]
    pub last_success_at: Option<String>,
    #[schema(required = true)]
    pub last_run: Option<RunJson>,
    pub stations: i64,
    pub prices: i64,
    pub history_points: i64,
    pub shortages: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunJson {
    /// running, success, unchanged, not_modified or failed.
    pub status: String,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    #[schema(required = true)]
    pub finished_at: Option<String>,
    #[schema(required = true)]
    pub error: Option<String>,
}

/// No parameters; any given is refused like everywhere else.
#[derive(Debug, Clone, Copy)]
pub struct NoParams;

impl FromQuery for NoParams {
    const PARAMS: &'static [&'static str] = &[];

    fn from_query(_: &mut QueryParams) -> Result<Self, AppError> {
        Ok(NoParams)
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/status",
    operation_id = "getStatus",
    summary = "Freshness of the data and table sizes",
    responses(
        (status = 200, description = "Status.", body = StatusJson, example = json!(crate::web::routes::api_docs::example("status"))),
        crate::web::routes::api_docs::QueryErrors,
    )
)]
#[tracing::instrument(skip(state))]
pub async fn status(State(state): State<AppState>, _params: ApiQuery<NoParams>) -> ApiResult<Json<StatusJson>> {
    let db = &state.db;
    let (last_success_at, last_run, counts) =
        tokio::try_join!(etl_runs::last_success_at(db), etl_runs::last_run(db), q::counts(db))?;
    let last_run = last_run
        .map(|r| {
            Ok::<_, AppError>(RunJson {
                started_at: rfc3339(r.started_at)?,
                finished_at: r.finished_at.map(rfc3339).transpose()?,
                status: r.status.to_string(),
                error: r.error,
            })
        })
        .transpose()?;
    Ok(Json(StatusJson {
        last_success_at: last_success_at.map(rfc3339).transpose()?,
        last_run,
        stations: counts.stations,
        prices: counts.prices,
        history_points: counts.history_points,
        shortages: counts.shortages,
    }))
}

/// Stations, status and brands, nested under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/stations", get(nearby))
        .route("/stations/{id}", get(station))
        .route("/status", get(status))
        .route("/brands", get(brands))
}
