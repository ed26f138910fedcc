//! The JSON API of the price history: a station's history (`/api/v1/stations/{id}/history`) and
//! the stored daily averages (`/api/v1/trends`). Same conventions as [`super::api`]; days are
//! Paris calendar days written `YYYY-MM-DD`.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use serde::Serialize;

use crate::db::series as s;
use crate::db::stations as q;
use crate::domain::series::{Day, NATIONAL, date, day_of, day_of_date, day_start};
use crate::domain::{Fuel, Price, StationId};
use crate::error::AppError;
use crate::history::series::{Point, Step, aggregate, aggregate_closes, closes};
use crate::web::error::ApiResult;
use crate::web::extract::{ApiQuery, FromQuery, QueryParams, StationIdPath};
use crate::web::state::AppState;
use crate::web::versioned::{Body, Key};

pub const MAX_HISTORY_DAYS: u32 = 36_500;
/// Points one history answer may hold: daily closes since 2000 fit (about 9,800 days); a
/// longer series asks for a coarser `step`.
pub const MAX_HISTORY_POINTS: usize = 10_000;
/// Days a daily answer (`step=day`) holds when neither `from` nor `days` says where it starts:
/// the three years up to `to`. Twenty years of daily closes are 7,300 points (300 KB); older
/// days are asked with an explicit `from`, and the answer's `earlier` gives that URL.
pub const RECENT_DAILY_DAYS: Day = 1096;

/// A day parameter: `YYYY-MM-DD`.
fn day_param(p: &mut QueryParams, name: &str) -> Result<Option<Day>, AppError> {
    let Some(raw) = p.take(name) else { return Ok(None) };
    NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2200).contains(&chrono::Datelike::year(d)))
        .map(|d| Some(day_of_date(d)))
        .ok_or_else(|| AppError::bad_request(format!("parameter `{name}` must be a day YYYY-MM-DD, got {raw:?}")))
}

fn step_param(p: &mut QueryParams) -> Result<Option<Step>, AppError> {
    let Some(raw) = p.take("step") else { return Ok(None) };
    Step::parse(&raw)
        .map(Some)
        .ok_or_else(|| AppError::bad_request(format!("parameter `step` must be day, week or month, got {raw:?}")))
}

fn check_order(from: Option<Day>, to: Option<Day>) -> Result<(), AppError> {
    match (from, to) {
        (Some(f), Some(t)) if f > t => Err(AppError::bad_request("parameter `from` is after `to`")),
        _ => Ok(()),
    }
}

/// A département code as the feed's postcodes give them: `01`–`95` (not `20`), `2A`, `2B`,
/// `971`–`989`.
pub fn department_code(raw: &str) -> Option<String> {
    let d = raw.trim().to_ascii_uppercase();
    let ok = match d.len() {
        2 => d == "2A" || d == "2B" || (d.bytes().all(|b| b.is_ascii_digit()) && d != "00" && d != "20"),
        3 => d.bytes().all(|b| b.is_ascii_digit()) && (d.starts_with("97") || d.starts_with("98")),
        _ => false,
    };
    ok.then_some(d)
}

fn day_string(day: Day) -> String {
    date(day).format("%Y-%m-%d").to_string()
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/stations/{id}/history?fuel=&days=&from=&to=&step=

/// The history's parameters, parsed and checked together. The OpenAPI document describes them
/// from this type (`IntoParams`).
#[derive(Debug, Clone, Copy, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    #[param(value_type = crate::web::routes::api_docs::FuelParam)]
    pub fuel: Fuel,
    /// Only the last `days` days (counted from now); the whole history when absent. Not with
    /// `from`: both together is a 400 (the two would say where the series starts).
    #[param(minimum = 1, maximum = 36500)]
    pub days: Option<u32>,
    /// First day (Paris time), YYYY-MM-DD, years 2000 to 2199. Not with `days` (400). After
    /// `to`: 400. When absent: the first change, but with `step=day` the 1,096 days (three
    /// years) up to `to` only; ask older daily closes with an explicit `from` (the answer's
    /// `earlier` gives the URL of the three years before).
    #[param(value_type = Option<crate::web::routes::api_docs::DayParam>)]
    pub from: Option<Day>,
    /// Last day (Paris time), YYYY-MM-DD, years 2000 to 2199, included; today when absent.
    #[param(value_type = Option<crate::web::routes::api_docs::DayParam>)]
    pub to: Option<Day>,
    /// Absent: the raw change points (`at` is the time of the change). `day`: the daily closes,
    /// the price in effect at the end of each day (Paris time) from the first change on; without
    /// `from` nor `days`, those of the last 1,096 days up to `to` only. `week` (from Monday) and
    /// `month`: the mean of the daily closes, with their `min` and `max`; `at` is the first day
    /// of the step.
    #[param(value_type = Option<StepName>)]
    pub step: Option<Step>,
}

impl FromQuery for HistoryParams {
    const PARAMS: &'static [&'static str] = &["fuel", "days", "from", "to", "step"];

    fn from_query(p: &mut QueryParams) -> Result<Self, AppError> {
        let params = HistoryParams {
            fuel: p.fuel("fuel")?.ok_or_else(|| AppError::bad_request("missing parameter `fuel`"))?,
            days: p.u32_in("days", 1..=MAX_HISTORY_DAYS)?,
            from: day_param(p, "from")?,
            to: day_param(p, "to")?,
            step: step_param(p)?,
        };
        if params.days.is_some() && params.from.is_some() {
            return Err(AppError::bad_request("parameter `from` cannot be given with `days`"));
        }
        check_order(params.from, params.to)?;
        Ok(params)
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryJson {
    #[schema(value_type = i64)]
    pub station_id: StationId,
    pub fuel: Fuel,
    /// `null` for the raw change points.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub step: Option<StepName>,
    pub points: Vec<HistoryPointJson>,
    /// A daily answer bounded to its recent days ([`RECENT_DAILY_DAYS`]) with older closes left
    /// out: the path and query of the days before, with an explicit `from` and `to`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub earlier: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryPointJson {
    /// The change's time (RFC 3339), or the day (`YYYY-MM-DD`) that begins the step.
    pub at: String,
    /// The new price; with a step, the day's close or the mean of the closes.
    pub price: Price,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub min: Option<Price>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub max: Option<Price>,
}

/// A `step` as the answers write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepName {
    Day,
    Week,
    Month,
}

/// The trends' step when the query names none.
pub const TRENDS_STEP: Step = Step::Day;

pub fn step_name(step: Step) -> StepName {
    match step {
        Step::Day => StepName::Day,
        Step::Week => StepName::Week,
        Step::Month => StepName::Month,
    }
}

/// The last day with data: the newest snapshot's day (today while none is loaded), never a day
/// to come. A series asked past it would repeat the last price over days nobody has seen.
pub async fn last_data_day(state: &AppState) -> Result<Day, AppError> {
    let f = crate::web::page::freshness(state).await?;
    Ok(day_of(crate::web::page::reference_time(&f).min(crate::db::now())))
}

/// A station's daily closes from `from` (default: its first change) to `to`, and the day of its
/// first change (`None` when it has none).
async fn station_closes(
    state: &AppState,
    id: StationId,
    fuel: Fuel,
    from: Option<Day>,
    to: Day,
) -> Result<(Vec<(Day, i32)>, Option<Day>), AppError> {
    let points = s::station_points(&state.db, id, fuel.id(), day_start(to + 1)).await?;
    let Some(first) = points.first().map(|p| day_of(p.0)) else { return Ok((Vec::new(), None)) };
    Ok((closes(&points, from.unwrap_or(first).max(first), to), Some(first)))
}

#[utoipa::path(
    get,
    path = "/api/v1/stations/{id}/history",
    operation_id = "getStationHistory",
    summary = "Price history of one fuel at one station: its change points, or its daily closes by day, week or month",
    params(
        ("id" = i64, Path, description = "Station id as in the feed (7 or 8 digits, no leading zero). Not a whole number, or more than 18 digits: 400; a number that is no station: 404. The example is a station of the repository's test fixtures (tests/fixtures/snapshot_b.xml).", minimum = 1, maximum = 999_999_999_999_999_999_i64, example = json!(92330002)),
        HistoryParams,
    ),
    responses(
        (status = 200, description = "Recorded prices, oldest first (empty when there are none).", body = HistoryJson, example = json!(crate::web::routes::api_docs::example("history"))),
        crate::web::routes::api_docs::StationErrors,
    )
)]
#[tracing::instrument(skip(state, headers))]
pub async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: StationIdPath,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> ApiResult<Response> {
    let id = id.id()?;
    // Raw change points of the last `days` count from this very second: not shared.
    if params.step.is_none() && params.days.is_some() {
        return Ok(Json(history_json(&state, id, params).await?).into_response());
    }
    let from = match params.days {
        Some(d) => Some(day_of(crate::db::now() - i64::from(d) * 86_400)),
        None => params.from,
    };
    let (last, index) = tokio::try_join!(last_data_day(&state), async { Ok(state.index.get().await?) })?;
    let key = Key::ApiHistory { id, fuel: params.fuel, from, to: params.to, step: params.step, last };
    let body = state
        .cache
        .data
        .get_or_try(index.data_version(), key, || async { Body::json(&history_json(&state, id, params).await?) })
        .await?;
    Ok(body.respond(&headers))
}

/// The answer of [`history`].
async fn history_json(state: &AppState, id: StationId, params: HistoryParams) -> Result<HistoryJson, AppError> {
    let missing = || AppError::not_found(format!("station {id}"));
    let from = match params.days {
        Some(d) => Some(day_of(crate::db::now() - i64::from(d) * 86_400)),
        None => params.from,
    };
    let mut earlier = None;
    let points = match params.step {
        None => {
            let since = match params.days {
                Some(d) => crate::db::now() - i64::from(d) * 86_400,
                None => from.map_or(i64::MIN, day_start),
            };
            let until = params.to.map_or(i64::MAX, |t| day_start(t + 1));
            q::history(&state.db, id, params.fuel.id(), since)
                .await?
                .ok_or_else(missing)?
                .into_iter()
                .filter(|p| p.at < until)
                .map(|p| {
                    Ok(HistoryPointJson {
                        at: crate::domain::rfc3339(p.at),
                        price: Price::from_milli(p.price),
                        min: None,
                        max: None,
                    })
                })
                .collect::<Result<Vec<_>, AppError>>()?
        }
        Some(step) => {
            if !q::station_exists(&state.db, id).await? {
                return Err(missing());
            }
            let last = last_data_day(state).await?;
            let to = params.to.map_or(last, |t| t.min(last));
            // Daily closes with no start asked: the recent ones only.
            let recent = (step == Step::Day && from.is_none()).then(|| to - (RECENT_DAILY_DAYS - 1));
            let (c, first) = station_closes(state, id, params.fuel, from.or(recent), to).await?;
            if let (Some(start), Some(first)) = (recent, first)
                && first < start
            {
                earlier = Some(format!(
                    "/api/v1/stations/{id}/history?fuel={}&step=day&from={}&to={}",
                    params.fuel.name(),
                    day_string(first.max(start - RECENT_DAILY_DAYS)),
                    day_string(start - 1)
                ));
            }
            let grouped = step != Step::Day;
            aggregate_closes(&c, step)
                .into_iter()
                .map(|p| HistoryPointJson {
                    at: day_string(p.day),
                    price: Price::from_milli(p.average),
                    min: grouped.then(|| Price::from_milli(p.min)),
                    max: grouped.then(|| Price::from_milli(p.max)),
                })
                .collect()
        }
    };
    if points.len() > MAX_HISTORY_POINTS {
        return Err(AppError::bad_request(format!(
            "the answer would hold {} points, more than {MAX_HISTORY_POINTS}: ask a coarser `step` (week, month) or a shorter range",
            points.len()
        )));
    }
    Ok(HistoryJson { station_id: id, fuel: params.fuel, step: params.step.map(step_name), points, earlier })
}

// ---------------------------------------------------------------------------------------------
// GET /api/v1/trends?fuel=&dept=&from=&to=&step=

/// The trends' parameters, parsed. The OpenAPI document describes them from this type
/// (`IntoParams`); `department`, `dept`'s other spelling, is said in `dept`'s description.
#[derive(Debug, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendsParams {
    #[param(value_type = crate::web::routes::api_docs::FuelParam)]
    pub fuel: Fuel,
    /// A département code (`01`–`95`, `2A`, `2B`, `971`–`989`); the whole country when absent.
    /// `department` is accepted too (one of the two); anything else is a 400.
    #[param(pattern = "^(0[1-9]|1[0-9]|2[1-9AaBb]|[3-8][0-9]|9[0-5]|97[1-9]|98[0-9])$", example = json!("29"))]
    pub dept: Option<String>,
    /// First day, YYYY-MM-DD, years 2000 to 2199; 29 days before `to` when absent. After `to`: 400.
    #[param(value_type = Option<crate::web::routes::api_docs::DayParam>)]
    pub from: Option<Day>,
    /// Last day, YYYY-MM-DD, years 2000 to 2199, included; the last stored day when absent.
    #[param(value_type = Option<crate::web::routes::api_docs::DayParam>)]
    pub to: Option<Day>,
    /// `day`, `week` (from Monday) or `month`: a week or month is the mean of its daily
    /// averages, with the lowest `min`, the highest `max`, the means of `p10` and `p90` and the
    /// mean number of stations.
    #[param(value_type = Option<StepName>, default = json!(step_name(TRENDS_STEP)))]
    pub step: Step,
}

impl FromQuery for TrendsParams {
    const PARAMS: &'static [&'static str] = &["fuel", "dept", "department", "from", "to", "step"];

    fn from_query(p: &mut QueryParams) -> Result<Self, AppError> {
        let fuel = p.fuel("fuel")?.ok_or_else(|| AppError::bad_request("missing parameter `fuel`"))?;
        let mut dept = None;
        for name in ["dept", "department"] {
            if let Some(raw) = p.take(name) {
                let code = department_code(&raw).ok_or_else(|| {
                    AppError::bad_request(format!(
                        "parameter `{name}` must be a département code (01–95, 2A, 2B, 971–989), got {raw:?}"
                    ))
                })?;
                if dept.replace(code).is_some() {
                    return Err(AppError::bad_request("give `dept` or `department`, not both"));
                }
            }
        }
        let (from, to) = (day_param(p, "from")?, day_param(p, "to")?);
        check_order(from, to)?;
        Ok(TrendsParams { fuel, dept, from, to, step: step_param(p)?.unwrap_or(TRENDS_STEP) })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrendsJson {
    pub fuel: Fuel,
    /// The département code, or `FR` for the whole country.
    pub area: String,
    pub step: StepName,
    pub points: Vec<TrendPointJson>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrendPointJson {
    /// The day (`YYYY-MM-DD`) that begins the step.
    #[schema(format = Date)]
    pub at: String,
    pub avg: Price,
    pub min: Price,
    pub max: Price,
    /// The 10th and 90th percentiles of the stations' prices (nearest rank; over a week or
    /// month, the means of the daily ones): the band most stations lie in.
    pub p10: Price,
    pub p90: Price,
    /// Stations counted (mean per day over a week or month).
    pub stations: i32,
}

/// The stored daily averages of `area` from `from` (default: 30 days before `to`) to `to`
/// (default: the last stored day), grouped by `step`.
pub async fn trend_points(
    state: &AppState,
    fuel: Fuel,
    area: &str,
    from: Option<Day>,
    to: Option<Day>,
    step: Step,
) -> Result<Vec<Point>, AppError> {
    let Some((first, last)) = s::span(&state.db, fuel.id()).await? else { return Ok(Vec::new()) };
    let to = to.unwrap_or(last);
    let from = from.unwrap_or(to - 29).max(first);
    let rows = s::days(&state.db, fuel.id(), area, from, to).await?;
    Ok(aggregate(&rows, step))
}

#[utoipa::path(
    get,
    path = "/api/v1/trends",
    operation_id = "getTrends",
    summary = "Daily average prices of a fuel, nationally or in one département",
    description = "Stored daily series, kept up to date by every import. The average of a day is the mean of the prices in effect at the end of that day (Paris time) over the stations whose price changed within the 30 days before; `min` and `max` are the lowest and highest of those prices, `p10` and `p90` their 10th and 90th percentiles (nearest rank), `stations` how many there were. A day without any such station has no point.",
    params(
        TrendsParams,
    ),
    responses(
        (status = 200, description = "The points in day order (empty when there are none).", body = TrendsJson, example = json!(crate::web::routes::api_docs::example("trends"))),
        crate::web::routes::api_docs::QueryErrors,
    )
)]
#[tracing::instrument(skip(state, headers))]
pub async fn trends(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<TrendsParams>,
) -> ApiResult<Response> {
    let area = p.dept.clone().unwrap_or_else(|| NATIONAL.to_owned());
    let index = state.index.get().await.map_err(AppError::from)?;
    let key = Key::ApiTrends { fuel: p.fuel, area: area.clone(), from: p.from, to: p.to, step: p.step };
    let body = state
        .cache
        .data
        .get_or_try(index.data_version(), key, || async { Body::json(&trends_json(&state, p, area).await?) })
        .await?;
    Ok(body.respond(&headers))
}

/// The answer of [`trends`].
async fn trends_json(state: &AppState, p: TrendsParams, area: String) -> Result<TrendsJson, AppError> {
    let points = trend_points(state, p.fuel, &area, p.from, p.to, p.step)
        .await?
        .into_iter()
        .map(|x| TrendPointJson {
            at: day_string(x.day),
            avg: Price::from_milli(x.average),
            min: Price::from_milli(x.min),
            max: Price::from_milli(x.max),
            p10: Price::from_milli(x.p10),
            p90: Price::from_milli(x.p90),
            stations: x.stations,
        })
        .collect();
    Ok(TrendsJson { fuel: p.fuel, area, step: step_name(p.step), points })
}

/// A station's price history and the national trends, nested under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/stations/{id}/history", get(history)).route("/trends", get(trends))
}
