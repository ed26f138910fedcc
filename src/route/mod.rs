//! Route search: the cheapest stop on the way, ranked by what it really costs (the fuel bought
//! plus the fuel the detour burns).
//!
//! - [`Path`]: the points of a trip, checked once (count, ranges), from a routing engine, a GPX
//!   file ([`gpx`]) or a client's own points.
//! - [`Router`] ([`engine`]): the routing engines behind one type — the French Géoplateforme
//!   (default), a self-hosted Valhalla or OSRM, or none — with a timeout, a size cap, the
//!   Géoplateforme's rate limit and a cache of answers. Routing is never done here.
//! - [`rank`]: the corridor from the in-memory price index, the costs, the exact detours from
//!   the engine's matrix where it has one, "open on arrival".

pub mod bench;
pub mod engine;
pub mod gpx;
pub mod rank;

use std::str::FromStr;

use serde::Serialize;

pub use engine::{EngineError, Router, RouterKind, RouterSettings};
pub use rank::{RankQuery, Sort, Stop};

/// Most points a path may have (a GPX file, a client's list, an engine's answer is simplified
/// to fit).
pub const MAX_POINTS: usize = 50_000;

/// Most points a saved route keeps (the save form carries them; `/me` ranks along them, and
/// an alert along the route matches stations near them).
pub const MAX_SAVED_POINTS: usize = 1_000;

/// The corridor's width when none is given: the route form's, `/me`'s saved routes' and the
/// alerts along a saved route's.
pub const DEFAULT_CORRIDOR_KM: f64 = 3.0;
/// The narrowest and widest corridors a search or an alert may ask for.
pub const MIN_CORRIDOR_KM: f64 = 0.5;
pub const MAX_CORRIDOR_KM: f64 = 20.0;

/// A point, latitude and longitude in degrees, in range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    pub fn new(lat: f64, lon: f64) -> Result<LatLon, PathError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(PathError::Latitude(lat));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(PathError::Longitude(lon));
        }
        Ok(LatLon { lat, lon })
    }

    pub fn pair(self) -> (f64, f64) {
        (self.lat, self.lon)
    }

    /// Great-circle distance in km.
    pub fn km_to(self, other: LatLon) -> f64 {
        crate::domain::geo::haversine_km(self.lat, self.lon, other.lat, other.lon)
    }
}

/// `48.85,2.35` (latitude first, as the API's `from=`, `to=` and `via=`).
impl FromStr for LatLon {
    type Err = PathError;

    fn from_str(s: &str) -> Result<LatLon, PathError> {
        let (a, b) = s.split_once(',').ok_or_else(|| PathError::Syntax(s.chars().take(60).collect()))?;
        let num = |x: &str| x.trim().parse::<f64>().map_err(|_| PathError::Syntax(s.chars().take(60).collect()));
        LatLon::new(num(a)?, num(b)?)
    }
}

/// Why points do not make a path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    #[error("latitude {0} is out of range (-90 to 90)")]
    Latitude(f64),
    #[error("longitude {0} is out of range (-180 to 180)")]
    Longitude(f64),
    #[error("{0:?} is not a position written LAT,LON")]
    Syntax(String),
    #[error("a path needs at least 2 points, got {0}")]
    TooFew(usize),
    #[error("a path may have at most {MAX_POINTS} points, got {0}")]
    TooMany(usize),
    #[error("the start and the end are the same place")]
    SameEnds,
    #[error("the path is outside France: no station can be along it")]
    OutsideFrance,
}

/// The points of a trip, in order: at least 2, at most [`MAX_POINTS`], each in range.
#[derive(Debug, Clone, PartialEq)]
pub struct Path(Vec<LatLon>);

impl Path {
    pub fn new(points: Vec<LatLon>) -> Result<Path, PathError> {
        match points.len() {
            n if n < 2 => Err(PathError::TooFew(n)),
            n if n > MAX_POINTS => Err(PathError::TooMany(n)),
            _ => Ok(Path(points)),
        }
    }

    /// From `[lat, lon]` pairs as the API's `"points"` has them.
    pub fn from_pairs(pairs: &[[f64; 2]]) -> Result<Path, PathError> {
        if pairs.len() > MAX_POINTS {
            return Err(PathError::TooMany(pairs.len()));
        }
        Path::new(pairs.iter().map(|p| LatLon::new(p[0], p[1])).collect::<Result<_, _>>()?)
    }

    pub fn points(&self) -> &[LatLon] {
        &self.0
    }

    pub fn start(&self) -> LatLon {
        self.0[0]
    }

    pub fn end(&self) -> LatLon {
        self.0[self.0.len() - 1]
    }

    pub fn pairs(&self) -> Vec<(f64, f64)> {
        self.0.iter().map(|p| p.pair()).collect()
    }

    /// Its length along the points, in km: the sum of [`LatLon::km_to`] over its segments, each
    /// point's cosine computed once (the same value, bit for bit).
    pub fn length_km(&self) -> f64 {
        crate::index::cumulative_km(&self.pairs()).last().copied().unwrap_or(0.0)
    }

    /// At most `max` points (at least 2): every k-th point, and the last. A road's points are
    /// dense enough that the corridor of the thinned path differs by metres.
    pub fn thinned(&self, max: usize) -> Path {
        let max = max.max(2);
        if self.0.len() <= max {
            return self.clone();
        }
        let step = self.0.len().div_ceil(max - 1);
        let mut out: Vec<LatLon> = self.0.iter().step_by(step).copied().collect();
        if !(self.0.len() - 1).is_multiple_of(step) {
            out.push(self.end());
        }
        Path(out)
    }

    /// `lat,lon;lat,lon;…`, 5 decimals (a metre): how a saved route keeps its points.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.0.len() * 20);
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(&format!("{:.5},{:.5}", p.lat, p.lon));
        }
        out
    }

    /// The points of [`Path::to_text`], each checked; at most `max` of them.
    pub fn from_text(text: &str, max: usize) -> Result<Path, PathError> {
        let n = text.split(';').count();
        if n > max {
            return Err(PathError::TooMany(n));
        }
        Path::new(text.split(';').map(str::parse).collect::<Result<_, _>>()?)
    }

    /// Whether some point lies within `km` of a station of `index` (up to 200 points looked at,
    /// evenly spread): a path that is not is outside France. An index without stations (a
    /// fresh install) says yes.
    pub fn near_stations(&self, index: &crate::index::PriceIndex, km: f64) -> bool {
        if index.stations().is_empty() {
            return true;
        }
        let step = self.0.len().div_ceil(200).max(1);
        self.0
            .iter()
            .step_by(step)
            .chain([&self.0[self.0.len() - 1]])
            .any(|p| !index.nearest(p.lat, p.lon, 1, km).is_empty())
    }
}

/// Where a route's points come from, as the API says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Geoplateforme,
    Valhalla,
    Osrm,
    Points,
    Gpx,
}

/// A trip ready to rank stations along: its path, how long it takes when an engine said, and
/// the places it must pass (start, via points, end) with their km along the path.
#[derive(Debug, Clone)]
pub struct Trip {
    pub path: Path,
    pub distance_km: f64,
    /// `None` for a bare path (GPX, points): nobody said how fast it is driven.
    pub duration_min: Option<f64>,
    pub source: Source,
    /// Start, via points and end, each with its km along the path (for exact detours per leg).
    pub waypoints: Vec<(LatLon, f64)>,
}

impl Trip {
    /// A path the client already has (GPX or points): no duration, its own ends as waypoints.
    pub fn bare(path: Path, source: Source) -> Trip {
        let distance_km = path.length_km();
        let waypoints = vec![(path.start(), 0.0), (path.end(), distance_km)];
        Trip { path, distance_km, duration_min: None, source, waypoints }
    }
}

/// What a search starts from: places for the engine to route through, or a path as it is.
#[derive(Debug, Clone)]
pub enum TripInput {
    /// Start, via points, end.
    Stops(Vec<LatLon>),
    /// A GPX file's or a client's points.
    Bare(Path, Source),
}

/// Why a search failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the search was interrupted")]
    Interrupted,
}

/// A path with no station within this distance of any of its points is outside France.
const OUTSIDE_KM: f64 = 30.0;

/// Paths longer than this are ranked on a blocking thread (the corridor walk of 50,000 points
/// takes milliseconds, too long for an async worker).
const BLOCKING_FROM_POINTS: usize = 5_000;

/// The trip and its stations, ranked by `q.sort`: the route from the engine (or the path as
/// given), the corridor from `index`, exact detours where the engine has a matrix.
#[tracing::instrument(skip_all)]
pub async fn search(
    router: &Router,
    index: std::sync::Arc<crate::index::PriceIndex>,
    input: TripInput,
    q: RankQuery,
) -> Result<(std::sync::Arc<Trip>, Vec<Stop>), SearchError> {
    let trip = match input {
        TripInput::Stops(stops) => {
            if stops.len() < 2 {
                return Err(PathError::TooFew(stops.len()).into());
            }
            if stops[0].km_to(stops[stops.len() - 1]) < 0.05 && stops.len() == 2 {
                return Err(PathError::SameEnds.into());
            }
            if !Path::new(stops.clone())?.near_stations(&index, OUTSIDE_KM) {
                return Err(PathError::OutsideFrance.into());
            }
            router.route(&stops).await?
        }
        TripInput::Bare(path, source) => {
            // The trip measures the path once (2,000 haversines for a long one).
            let trip = Trip::bare(path, source);
            if trip.distance_km < 0.05 {
                return Err(PathError::SameEnds.into());
            }
            if !trip.path.near_stations(&index, OUTSIDE_KM) {
                return Err(PathError::OutsideFrance.into());
            }
            std::sync::Arc::new(trip)
        }
    };
    let mut stops = if trip.path.points().len() > BLOCKING_FROM_POINTS {
        let (t, i) = (std::sync::Arc::clone(&trip), index);
        tokio::task::spawn_blocking(move || rank::candidates(&i, &t, &q)).await.map_err(|_| SearchError::Interrupted)?
    } else {
        rank::candidates(&index, &trip, &q)
    };
    rank::exact_detours(router, &trip, &mut stops, &q).await;
    rank::sort(&mut stops, q.sort);
    Ok((trip, stops))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_checked() {
        assert_eq!("48.85, 2.35".parse::<LatLon>(), Ok(LatLon { lat: 48.85, lon: 2.35 }));
        assert_eq!("91,2".parse::<LatLon>(), Err(PathError::Latitude(91.0)));
        assert_eq!("48,-181".parse::<LatLon>(), Err(PathError::Longitude(-181.0)));
        assert!(matches!("Rennes".parse::<LatLon>(), Err(PathError::Syntax(_))));
        assert!(matches!("NaN,2".parse::<LatLon>(), Err(PathError::Latitude(_))));
        assert_eq!(Path::from_pairs(&[[48.0, 2.0]]), Err(PathError::TooFew(1)));
        let p = Path::from_pairs(&[[48.0, 2.0], [48.1, 2.0]]).expect("path");
        assert!((p.length_km() - 11.12).abs() < 0.01, "{}", p.length_km());
        assert!(p.near_stations(&crate::index::PriceIndex::empty(), 30.0));
    }

    #[test]
    fn thinning_and_text() {
        let long = Path::new((0..1_001).map(|i| LatLon { lat: 48.0 + f64::from(i) * 0.001, lon: 2.0 }).collect())
            .expect("path");
        let t = long.thinned(100);
        assert!(t.points().len() <= 100, "{}", t.points().len());
        assert_eq!((t.start(), t.end()), (long.start(), long.end()));
        let text = t.to_text();
        assert!(text.starts_with("48.00000,2.00000;"), "{text}");
        let back = Path::from_text(&text, 100).expect("back");
        assert_eq!(back.points().len(), t.points().len());
        assert!(matches!(Path::from_text(&text, 10), Err(PathError::TooMany(_))));
        assert!(matches!(Path::from_text("48,2;x", 10), Err(PathError::Syntax(_))));
        assert!(matches!(Path::from_text("48,2;95,2", 10), Err(PathError::Latitude(_))));
        assert_eq!(Path::from_text("48,2", 10), Err(PathError::TooFew(1)));
    }
}
