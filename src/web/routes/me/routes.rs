//! The route search's account side: the vehicle (`POST /me/vehicle`, the route
//! form's defaults), saving a route from the results page (`POST /me/routes`), deleting one
//! (`POST /me/routes/{id}/delete`), and the `/me` section listing the saved routes with their
//! best stop now, ranked along their stored points (no engine call).

use super::*;
use crate::db::routes::{self, NewRoute, SavedRoute, VehicleRow};
use crate::domain::{SavedRouteId, UserId};
use crate::route::{Path as RoutePath, RankQuery, Source, Trip, rank};
use crate::web::routes::api_route::{
    DEFAULT_CONSUMPTION, DEFAULT_CORRIDOR_KM, DEFAULT_LITRES, MAX_CONSUMPTION, MAX_LITRES,
};
use crate::web::routes::route::{MAX_SAVED_POINTS, stop_name};

/// Longest place label kept (as typed in the form).
const MAX_LABEL: usize = 200;
/// Longest route name.
const MAX_NAME: usize = 60;

/// `POST /me/routes`: the results page's hidden fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SaveRouteForm {
    pub name: String,
    pub from: String,
    pub to: String,
    /// One via point per line.
    pub vias: String,
    pub fuel: String,
    /// `lat,lon;…` as the page wrote them.
    pub points: String,
}

fn clip(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

/// Saves the route shown (at most [`routes::MAX_ROUTES`]; past that `/me` says so).
#[tracing::instrument(skip_all, fields(user_id = user.user_id.get()))]
pub async fn save_route(
    State(state): State<AppState>,
    user: SignedIn,
    Form(form): Form<SaveRouteForm>,
) -> HtmlResult<Response> {
    let path = RoutePath::from_text(form.points.trim(), MAX_SAVED_POINTS)
        .map_err(|e| AppError::Unprocessable(format!("the route's points: {e}")))?;
    let fuel: Fuel = form.fuel.parse().map_err(|_| AppError::Unprocessable("the route's fuel".into()))?;
    let from = clip(&form.from, MAX_LABEL);
    if from.is_empty() {
        return Err(AppError::Unprocessable("the route's start".into()).into());
    }
    let to = clip(&form.to, MAX_LABEL);
    let vias: Vec<String> = form.vias.lines().map(|v| clip(v, MAX_LABEL)).filter(|v| !v.is_empty()).take(3).collect();
    let mut name = clip(&form.name, MAX_NAME);
    if name.is_empty() {
        name = clip(&if to.is_empty() { from.clone() } else { format!("{from} → {to}") }, MAX_NAME);
    }
    let points = path.to_text();
    let new = NewRoute {
        name: &name,
        from_label: &from,
        to_label: &to,
        via_labels: &vias.join("\n"),
        fuel: fuel.id(),
        points: &points,
        distance_km: path.length_km(),
    };
    match routes::add(&state.db, user.user_id, &new, crate::db::now()).await? {
        Some(id) => tracing::info!(route_id = id.get(), "route saved"),
        None => tracing::info!("route not saved: the user has the most routes"),
    }
    Ok(see_other("/me#routes"))
}

/// `POST /me/routes/{id}/delete`.
#[tracing::instrument(skip_all, fields(user_id = user.user_id.get()))]
pub async fn delete_route(
    State(state): State<AppState>,
    user: SignedIn,
    Path(id): Path<SavedRouteId>,
) -> HtmlResult<Response> {
    routes::remove(&state.db, user.user_id, id).await?;
    Ok(see_other("/me#routes"))
}

/// `POST /me/vehicle`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VehicleForm {
    pub fuel: String,
    pub tank_litres: String,
    pub consumption: String,
}

fn number_in(raw: &str, r: std::ops::RangeInclusive<f64>) -> Option<f64> {
    raw.trim().replace(',', ".").parse::<f64>().ok().filter(|v| v.is_finite() && r.contains(v))
}

/// Saves the vehicle, or the profile page again with a message next to each wrong field.
#[tracing::instrument(skip_all, fields(user_id = user.user_id.get()))]
pub async fn save_vehicle(
    State(state): State<AppState>,
    lang: Lang,
    user: SignedIn,
    Form(form): Form<VehicleForm>,
) -> HtmlResult<Response> {
    let t = crate::text::route::strings(lang);
    let fuel = form.fuel.parse::<Fuel>().ok();
    let tank = number_in(&form.tank_litres, 1.0..=MAX_LITRES);
    let consumption = number_in(&form.consumption, 1.0..=MAX_CONSUMPTION);
    let (Some(fuel), Some(tank), Some(consumption)) = (fuel, tank, consumption) else {
        let mut f = FormView::keep(&[
            ("vehicle_fuel", &form.fuel),
            ("tank_litres", &form.tank_litres),
            ("consumption", &form.consumption),
        ]);
        if tank.is_none() {
            f.errors.push(("tank_litres", t.vehicle_invalid_tank.to_owned()));
        }
        if consumption.is_none() {
            f.errors.push(("consumption", t.vehicle_invalid_consumption.to_owned()));
        }
        return super::profile::profile_view(
            &state,
            lang,
            &user,
            Some(f),
            (None, true),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let v = VehicleRow { fuel: fuel.id(), tank_litres: tank, consumption, updated_at: crate::db::now() };
    routes::set_vehicle(&state.db, user.user_id, &v).await?;
    Ok(see_other("/me/profile?msg=vehicle_saved#vehicle"))
}

/// One saved route on `/me`.
pub struct SavedRouteView {
    pub id: SavedRouteId,
    pub name: String,
    /// "Rennes → Vitré → Laval", or the GPX file's label.
    pub places: String,
    pub meta: String,
    /// The best stop now, and its station page.
    pub best: Option<(String, String)>,
    /// The route page of the same places (not for a GPX track).
    pub open_href: Option<String>,
}

/// The user's saved routes, each with its best stop now: the stations along its stored points
/// with the user's vehicle (or the form's defaults), the corridor of the form's default width,
/// prices of the 30 days before `reference` (the newest snapshot).
pub async fn saved_routes(
    state: &AppState,
    lang: Lang,
    user_id: UserId,
    index: &crate::index::PriceIndex,
    reference: i64,
) -> Result<(Vec<SavedRouteView>, Option<String>), AppError> {
    let (list, vehicle) = tokio::try_join!(routes::list(&state.db, user_id), routes::vehicle(&state.db, user_id))?;
    let t = crate::text::route::strings(lang);
    let now = chrono::Utc::now();
    let views = list.iter().map(|r| saved_view(lang, r, vehicle.as_ref(), index, now, reference)).collect();
    let full = (list.len() as i64 >= routes::MAX_ROUTES).then(|| (t.me_routes_full)(routes::MAX_ROUTES as u64));
    Ok((views, full))
}

fn saved_view(
    lang: Lang,
    r: &SavedRoute,
    vehicle: Option<&VehicleRow>,
    index: &crate::index::PriceIndex,
    now: chrono::DateTime<chrono::Utc>,
    reference: i64,
) -> SavedRouteView {
    let t = crate::text::route::strings(lang);
    let fuel = Fuel::from_id(i64::from(r.fuel)).unwrap_or(Fuel::Gazole);
    let vias: Vec<&str> = r.via_labels.lines().filter(|v| !v.trim().is_empty()).collect();
    let places = if r.to_label.is_empty() {
        r.from_label.clone()
    } else {
        std::iter::once(r.from_label.as_str())
            .chain(vias.iter().copied())
            .chain([r.to_label.as_str()])
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let open_href = (!r.to_label.is_empty()).then(|| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("from", &r.from_label).append_pair("to", &r.to_label);
        for (i, v) in vias.iter().enumerate() {
            q.append_pair(&format!("via{}", i + 1), v);
        }
        q.append_pair("fuel", fuel.name());
        format!("/trajet?{}", q.finish())
    });
    let mut query = RankQuery::defaults(fuel, now);
    query.litres = vehicle.map(|v| v.tank_litres).filter(|v| (1.0..=MAX_LITRES).contains(v)).unwrap_or(DEFAULT_LITRES);
    query.consumption =
        vehicle.map(|v| v.consumption).filter(|v| (1.0..=MAX_CONSUMPTION).contains(v)).unwrap_or(DEFAULT_CONSUMPTION);
    query.corridor_km = DEFAULT_CORRIDOR_KM;
    // As the other pages: the age of a price from the newest snapshot loaded.
    query.updated_since = reference - i64::from(crate::web::routes::api::DEFAULT_MAX_AGE_DAYS) * 86_400;
    // Stored points were checked when saved; a row that no longer parses shows no best stop.
    let best = RoutePath::from_text(&r.points, MAX_SAVED_POINTS).ok().and_then(|path| {
        let trip = Trip::bare(path, Source::Points);
        let list = rank::candidates(index, &trip, &query);
        rank::best(&list).map(|b| {
            let text = (t.me_routes_best)(
                &format!("{} ({})", stop_name(b), b.city),
                &lang.price(b.price),
                &lang.euros(b.net_cost),
            );
            (text, format!("/stations/{}", b.id))
        })
    });
    SavedRouteView {
        id: r.id,
        name: r.name.clone(),
        places,
        meta: (t.me_route_meta)(fuel.name(), &lang.km(r.distance_km)),
        best,
        open_href,
    }
}
