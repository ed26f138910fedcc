//! `/me/alerts`, the threshold along a saved route: the choice of the user's saved
//! routes in the rule form, the check that a posted route is theirs (another user's route id is
//! a 404, as their rule ids are), and the routes' names the rule list and unsubscribe page show.

use std::collections::HashMap;

use crate::db::{Db, routes};
use crate::domain::{SavedRouteId, UserId};
use crate::error::AppError;

/// One choice of the form's route select: the route's id (as the form posts it) and its name.
pub struct RouteChoice {
    pub id: String,
    pub name: String,
}

/// The user's saved routes as choices, in the order `/me` lists them.
pub async fn choices(db: &Db, user_id: UserId) -> Result<Vec<RouteChoice>, AppError> {
    Ok(routes::list(db, user_id)
        .await?
        .into_iter()
        .map(|r| RouteChoice { id: r.id.to_string(), name: r.name })
        .collect())
}

/// The user's saved routes' names by id.
pub async fn names(db: &Db, user_id: UserId) -> Result<HashMap<SavedRouteId, String>, AppError> {
    Ok(routes::list(db, user_id).await?.into_iter().map(|r| (r.id, r.name)).collect())
}

/// The route a rule form posted: `Ok(None)` when none was chosen (the form says so),
/// `Err(not found)` when the id is not one of the user's routes.
#[tracing::instrument(skip(db, user_id), fields(user_id = user_id.get()))]
pub async fn owned(db: &Db, user_id: UserId, raw: &str) -> Result<Option<SavedRouteId>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let Ok(id) = raw.parse::<SavedRouteId>() else {
        return Ok(None);
    };
    match routes::get(db, user_id, id).await? {
        Some(r) => Ok(Some(r.id)),
        None => Err(AppError::not_found(format!("saved route {id}"))),
    }
}
