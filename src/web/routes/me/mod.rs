//! The signed-in user's pages: the dashboard (`/me`), their stations (`/me/stations`), their
//! profile (`/me/profile`), export and deletion. Every handler takes a [`SignedIn`] (anyone else
//! is sent to the login page) and every query is scoped by that user's id.

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::db::{email_changes, favourites, users};
use crate::domain::{DAY, DisplayName, Fuel, StationId, rfc3339, savings};
use crate::error::AppError;
use crate::index::places;
use crate::services::accounts::{AccountError, Field};
use crate::web::form::{Form, FormView, clear_session, de, no_store, query_param, see_other};
use crate::web::i18n::{Lang, lang_cookie};
use crate::web::i18n_account::{problem_text, strings};
use crate::web::page::{DEFAULT_PLACE, FuelOption, HtmlResult, Layout, freshness, layout, place_index, render};
use crate::web::routes::account::notice;
use crate::web::session::{ClientIp, SignedIn, Viewer, safe_next};
use crate::web::state::AppState;

pub mod alerts;
pub mod alerts_route;
mod dashboard;
mod email;
mod profile;
pub mod push;
mod routes;
mod stations;

pub use dashboard::{DashFuel, DashRow, DashboardPage, SavingView, Watched, dashboard, fuel_sections};
pub use email::{CancelEmailPage, cancel_email, cancel_email_page, confirm_email};
pub use profile::{
    ProfilePage, change_email, change_password, delete_account, export, profile_page, resend_confirmation, save_profile,
};
pub use routes::{SavedRouteView, delete_route, save_route, save_vehicle, saved_routes};
pub use stations::{MineView, MyStationsPage, PickCandidate, add_station, my_stations, station_action};

/// A price older than this (from the newest snapshot) is stale: greyed, and left out of savings.
pub const STALE_PRICE_SECS: i64 = 3 * DAY;
const WEEK: i64 = 7 * DAY;

/// The name a user sees for a station: their own, else its OpenStreetMap name (from the price
/// index), else the town, title-cased.
fn shown_name(f: &favourites::Favourite, index: &crate::index::PriceIndex) -> String {
    f.name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| index.station(f.station_id).and_then(|s| s.name.as_deref()).map(str::to_owned))
        .unwrap_or_else(|| places::title_case(&f.city))
}

fn message_for(lang: Lang, code: Option<&str>) -> (Option<String>, bool) {
    let a = strings(lang);
    let m = match code {
        Some("added") => (a.msg_added, false),
        Some("already") => (a.msg_already, false),
        Some("full") => (a.msg_full, true),
        Some("unknown") => (a.msg_unknown_station, true),
        Some("renamed") => (a.msg_renamed, false),
        Some("removed") => (a.msg_removed, false),
        Some("saved") => (a.msg_saved, false),
        Some("email_sent") => (a.msg_email_sent, false),
        Some("link_sent") => (a.msg_link_sent, false),
        Some("password_changed") => (a.msg_password_changed, false),
        Some("welcome") => (a.msg_welcome, false),
        Some("vehicle_saved") => (crate::text::route::strings(lang).vehicle_saved, false),
        _ => return (None, false),
    };
    (Some(m.0.to_owned()), m.1)
}

/// The signed-in user's pages but alerts and push ([`alerts::router`], [`push::router`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(dashboard))
        .route("/me/stations", get(my_stations))
        .route("/me/stations/add", post(add_station))
        .route("/me/stations/{id}/{action}", post(station_action))
        .route("/me/profile", get(profile_page).post(save_profile))
        .route("/me/vehicle", post(save_vehicle))
        .route("/me/routes", post(save_route))
        .route("/me/routes/{id}/delete", post(delete_route))
        .route("/me/email", post(change_email))
        .route("/me/email/confirm", get(confirm_email))
        .route("/me/email/resend", post(resend_confirmation))
        .route("/me/email/cancel", get(cancel_email_page).post(cancel_email))
        .route("/me/password", post(change_password))
        .route("/me/export", get(export))
        .route("/me/delete", post(delete_account))
}
