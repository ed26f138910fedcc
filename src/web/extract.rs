//! Request extractors that reject with the API's JSON errors instead of axum's plain text.
//!
//! Query strings are read by hand into [`QueryParams`] (which cannot fail), then parsed into a
//! typed struct by its [`FromQuery`] impl: every parameter is checked for presence, syntax and
//! range in one place, and a bad one becomes a 400 naming it. Parameters nobody asked for are
//! refused too: a script that writes `radius=50` instead of `radius_km=50` learns it at once
//! rather than silently getting the default.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::domain::{Fuel, StationId};
use crate::error::AppError;
use crate::web::error::ApiError;
use crate::web::i18n::Lang;
use crate::web::page::HtmlError;

/// The decoded query string, consumed parameter by parameter.
///
/// An empty value (`?radius_km=`, as an HTML form sends an empty field) counts as absent.
#[derive(Debug, Default)]
pub struct QueryParams {
    values: BTreeMap<String, String>,
}

impl QueryParams {
    pub fn parse(query: Option<&str>) -> Result<QueryParams, AppError> {
        let mut values = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if k.is_empty() {
                continue;
            }
            let k = k.into_owned();
            if values.contains_key(&k) {
                return Err(AppError::bad_request(format!("parameter `{k}` is given more than once")));
            }
            values.insert(k, v.trim().to_owned());
        }
        Ok(QueryParams { values })
    }

    /// Takes a parameter out; `None` when absent or empty.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name).filter(|v| !v.is_empty())
    }

    pub fn required(&mut self, name: &str) -> Result<String, AppError> {
        self.take(name).ok_or_else(|| AppError::bad_request(format!("missing parameter `{name}`")))
    }

    /// A finite number within `range`.
    pub fn f64_in(&mut self, name: &str, range: RangeInclusive<f64>) -> Result<Option<f64>, AppError> {
        let Some(raw) = self.take(name) else {
            return Ok(None);
        };
        match raw.parse::<f64>() {
            Ok(v) if v.is_finite() && range.contains(&v) => Ok(Some(v)),
            _ => Err(out_of_range(name, &raw, range.start(), range.end())),
        }
    }

    /// An integer within `range`.
    pub fn u32_in(&mut self, name: &str, range: RangeInclusive<u32>) -> Result<Option<u32>, AppError> {
        let Some(raw) = self.take(name) else {
            return Ok(None);
        };
        match raw.parse::<u32>() {
            Ok(v) if range.contains(&v) => Ok(Some(v)),
            _ => Err(AppError::bad_request(format!(
                "parameter `{name}` must be a whole number from {} to {}, got {raw:?}",
                range.start(),
                range.end()
            ))),
        }
    }

    /// A fuel name (`Gazole`, `SP95`, `E85`, `GPLc`, `E10`, `SP98`, any case) or id (1–6).
    pub fn fuel(&mut self, name: &str) -> Result<Option<Fuel>, AppError> {
        let Some(raw) = self.take(name) else {
            return Ok(None);
        };
        Fuel::from_str(&raw).map(Some).map_err(|e| AppError::bad_request(format!("parameter `{name}`: {e}")))
    }

    /// Fails on the first parameter left over, i.e. one the endpoint does not know.
    pub fn finish(self, known: &[&str]) -> Result<(), AppError> {
        match self.values.into_keys().next() {
            None => Ok(()),
            Some(k) => Err(AppError::bad_request(format!(
                "unknown parameter `{k}` (expected {})",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            ))),
        }
    }
}

fn out_of_range(name: &str, raw: &str, min: &impl Display, max: &impl Display) -> AppError {
    AppError::bad_request(format!("parameter `{name}` must be a number from {min} to {max}, got {raw:?}"))
}

/// A typed set of query parameters.
pub trait FromQuery: Sized {
    /// The parameter names the endpoint accepts, for the "unknown parameter" message.
    const PARAMS: &'static [&'static str];

    /// Takes and parses the parameters it knows; the extractor refuses what is left.
    fn from_query(params: &mut QueryParams) -> Result<Self, AppError>;
}

/// `Query` that fails with a JSON 400 naming the parameter.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: FromQuery, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut params = QueryParams::parse(parts.uri.query())?;
        let value = T::from_query(&mut params)?;
        params.finish(T::PARAMS)?;
        Ok(ApiQuery(value))
    }
}

/// The `{id}` segment of `/api/v1/stations/{id}…`.
///
/// Not a number → 400; a number that cannot be a station id (0, ten digits) → 404, like any
/// other id that is not in the database.
#[derive(Debug, Clone, Copy)]
pub struct StationIdPath(pub Result<StationId, i64>);

impl StationIdPath {
    /// The id, or the 404 for an impossible one.
    pub fn id(self) -> Result<StationId, AppError> {
        self.0.map_err(|raw| AppError::not_found(format!("station {raw}")))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for StationIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let bad = |raw: &str| {
            ApiError(AppError::bad_request(format!("station id must be a positive whole number, got {raw:?}")))
        };
        // Every route using this extractor has exactly one path parameter, `id`.
        let axum::extract::Path(raw): axum::extract::Path<String> =
            axum::extract::Path::from_request_parts(parts, state).await.map_err(|e| bad(&e.body_text()))?;
        if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&raw));
        }
        let n: i64 = raw.parse().map_err(|_| bad(&raw))?;
        Ok(StationIdPath(StationId::new(n).ok_or(n)))
    }
}

/// The path parameters of a page, deserialized as `T` (ids as text, `{action}` segments as
/// enums): a segment that does not deserialize, such as an unknown action, is the site's 404
/// page, as any unknown page is.
#[derive(Debug)]
pub struct PagePath<T>(pub T);

impl<T, S> FromRequestParts<S> for PagePath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = HtmlError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PagePath(value)),
            Err(rejection) => {
                let lang = Lang::from_request_parts(parts, state).await.unwrap_or_else(|never| match never {});
                let what = format!("page {} ({})", parts.uri.path(), rejection.body_text());
                Err(HtmlError(AppError::not_found(what), lang))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let mut p = QueryParams::parse(Some("lat=48.5&fuel=gazole&radius_km=&x=1")).unwrap();
        assert_eq!(p.f64_in("lat", -90.0..=90.0).unwrap(), Some(48.5));
        assert_eq!(p.fuel("fuel").unwrap(), Some(Fuel::Gazole));
        assert_eq!(p.f64_in("radius_km", 0.0..=100.0).unwrap(), None);
        assert!(p.finish(&["lat"]).unwrap_err().to_string().contains("`x`"));

        let mut p = QueryParams::parse(Some("lat=NaN&lon=inf&limit=-1")).unwrap();
        assert!(p.f64_in("lat", -90.0..=90.0).is_err());
        assert!(p.f64_in("lon", -180.0..=180.0).is_err());
        assert!(p.u32_in("limit", 1..=200).is_err());
        assert!(QueryParams::parse(Some("a=1&a=2")).is_err());
    }
}
