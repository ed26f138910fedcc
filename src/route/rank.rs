//! Ranking the stations along a trip by what the stop costs.
//!
//! For each station of the corridor ([`crate::index::PriceIndex::corridor`]): the fill (litres ×
//! price), the detour (km and minutes; from the engine's matrix for the best
//! [`EXACT_DETOURS`] candidates when it has one — start of the leg → station → end of the leg
//! minus the leg —, otherwise estimated as 2 × off-route × 1.3 at 50 km/h), its cost (detour km
//! × consumption / 100 × price), the net cost (their sum), and whether the station is open when
//! the trip gets there.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Europe::Paris;

use super::{LatLon, Router, Trip};
use crate::domain::{Fuel, RoadType, ShortageKind, StationId};
use crate::index::PriceIndex;

/// How many of the best candidates get an exact detour from the engine's matrix.
pub const EXACT_DETOURS: usize = 25;
/// Road distance per km as the crow flies, for estimated detours.
pub const DETOUR_FACTOR: f64 = 1.3;
/// Speed of an estimated detour, km/h.
pub const DETOUR_SPEED_KMH: f64 = 50.0;

/// How the list is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Sort {
    /// Net cost (fill + detour), cheapest first.
    #[default]
    Net,
    /// Price per litre, cheapest first.
    Price,
    /// Order along the route.
    Along,
}

impl std::str::FromStr for Sort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "net" => Ok(Sort::Net),
            "price" => Ok(Sort::Price),
            "along" => Ok(Sort::Along),
            other => Err(format!("{other:?} is not a sort: net, price or along")),
        }
    }
}

/// What the driver asks, parsed and in range.
#[derive(Debug, Clone, Copy)]
pub struct RankQuery {
    pub fuel: Fuel,
    pub litres: f64,
    /// L/100 km.
    pub consumption: f64,
    pub corridor_km: f64,
    pub avoid_motorway: bool,
    pub sort: Sort,
    pub depart: DateTime<Utc>,
    /// Prices updated before this Unix time are left out.
    pub updated_since: i64,
}

impl RankQuery {
    /// The defaults of the page and the API (40 L, 6.5 L/100 km, 3 km, by net cost), every
    /// price whatever its age.
    pub fn defaults(fuel: Fuel, depart: DateTime<Utc>) -> RankQuery {
        RankQuery {
            fuel,
            litres: 40.0,
            consumption: 6.5,
            corridor_km: 3.0,
            avoid_motorway: false,
            sort: Sort::Net,
            depart,
            updated_since: 0,
        }
    }
}

/// One station of the answer.
#[derive(Debug, Clone)]
pub struct Stop {
    pub id: StationId,
    pub brand: Option<String>,
    pub name: Option<String>,
    pub address: String,
    pub city: String,
    pub latitude: f64,
    pub longitude: f64,
    /// Thousandths of a euro per litre.
    pub price: i32,
    pub updated_at: i64,
    pub km_from_start: f64,
    pub off_route_km: f64,
    pub detour_km: f64,
    pub detour_min: f64,
    pub detour_estimated: bool,
    /// Euros.
    pub fill_cost: f64,
    pub detour_cost: f64,
    pub net_cost: f64,
    pub motorway: bool,
    pub open_on_arrival: Option<bool>,
    pub shortage: Option<ShortageKind>,
}

impl Stop {
    /// A stop at `price` (thousandths of a euro), `km_from_start` along the trip and
    /// `off_route_km` from it, with nothing else known yet (no costs until [`Stop::set_detour`]).
    pub fn new(id: StationId, price: i32, km_from_start: f64, off_route_km: f64) -> Stop {
        Stop {
            id,
            brand: None,
            name: None,
            address: String::new(),
            city: String::new(),
            latitude: 0.0,
            longitude: 0.0,
            price,
            updated_at: 0,
            km_from_start,
            off_route_km,
            detour_km: 0.0,
            detour_min: 0.0,
            detour_estimated: true,
            fill_cost: 0.0,
            detour_cost: 0.0,
            net_cost: 0.0,
            motorway: false,
            open_on_arrival: None,
            shortage: None,
        }
    }

    fn set_detour(&mut self, km: f64, min: f64, estimated: bool, q: &RankQuery) {
        self.detour_km = km.max(0.0);
        self.detour_min = min.max(0.0);
        self.detour_estimated = estimated;
        let euros = f64::from(self.price) / 1000.0;
        self.fill_cost = q.litres * euros;
        self.detour_cost = self.detour_km * q.consumption / 100.0 * euros;
        self.net_cost = self.fill_cost + self.detour_cost;
    }
}

/// The estimated detour of a station `off_km` away from the route: (km, minutes).
pub fn estimated_detour(off_km: f64) -> (f64, f64) {
    let km = 2.0 * off_km * DETOUR_FACTOR;
    (km, km / DETOUR_SPEED_KMH * 60.0)
}

/// The stations of the trip's corridor with estimated detours, sorted by net cost. Pure CPU
/// (the corridor walk and the costs): a few milliseconds for a trip across France.
pub fn candidates(index: &PriceIndex, trip: &Trip, q: &RankQuery) -> Vec<Stop> {
    let pairs = trip.path.pairs();
    let hits = index.corridor(&pairs, q.corridor_km, q.fuel, q.updated_since);
    let mut stops: Vec<Stop> = hits
        .into_iter()
        .filter(|h| !(q.avoid_motorway && h.station.road_type == RoadType::Motorway))
        .map(|h| {
            let s = h.station;
            let arrival = trip.duration_min.filter(|_| trip.distance_km > 0.0).map(|min| {
                let fraction = (h.along_km / trip.distance_km).clamp(0.0, 1.0);
                q.depart + chrono::Duration::seconds((min * 60.0 * fraction).round() as i64)
            });
            let open_on_arrival = if s.automate_24_24 {
                Some(true)
            } else {
                arrival.and_then(|at| {
                    let local = at.with_timezone(&Paris);
                    let day = local.weekday().number_from_monday() as u8;
                    let minute = (local.hour() * 60 + local.minute()) as u16;
                    s.opening_hours.as_ref().and_then(|h| h.is_open(day, minute))
                })
            };
            let mut stop = Stop {
                brand: s.brand.as_deref().map(str::to_owned),
                name: s.name.as_deref().map(str::to_owned),
                address: s.address.to_string(),
                city: s.city.to_string(),
                latitude: s.latitude,
                longitude: s.longitude,
                updated_at: h.offer.updated_at,
                motorway: s.road_type == RoadType::Motorway,
                open_on_arrival,
                shortage: h.offer.shortage,
                ..Stop::new(s.id, h.offer.price, h.along_km, h.off_route_km)
            };
            let (km, min) = estimated_detour(h.off_route_km);
            stop.set_detour(km, min, true, q);
            stop
        })
        .collect();
    sort(&mut stops, Sort::Net);
    stops
}

/// Sorts by `by`; a station short of the fuel always comes after those that have it, and ties
/// end with the id.
pub fn sort(stops: &mut [Stop], by: Sort) {
    stops.sort_by(|a, b| {
        let first = match by {
            Sort::Net => a.net_cost.total_cmp(&b.net_cost),
            Sort::Price => a.price.cmp(&b.price).then(a.net_cost.total_cmp(&b.net_cost)),
            Sort::Along => std::cmp::Ordering::Equal,
        };
        let along = a.km_from_start.total_cmp(&b.km_from_start);
        if by == Sort::Along {
            return along.then(a.id.cmp(&b.id));
        }
        a.shortage.is_some().cmp(&b.shortage.is_some()).then(first).then(along).then(a.id.cmp(&b.id))
    });
}

/// Replaces the estimated detours of the best [`EXACT_DETOURS`] stops (sorted by net cost) by
/// the engine's: for a station on the leg from waypoint A to waypoint B, A → station → B minus
/// A → B. One matrix call; when it fails, the estimates stay (and say so).
#[tracing::instrument(skip_all, fields(stops = stops.len()))]
pub async fn exact_detours(router: &Router, trip: &Trip, stops: &mut [Stop], q: &RankQuery) {
    if !router.has_matrix() || stops.is_empty() {
        return;
    }
    let n = stops.len().min(EXACT_DETOURS);
    let ways: Vec<LatLon> = trip.waypoints.iter().map(|w| w.0).collect();
    let stations: Vec<LatLon> = stops[..n].iter().map(|s| LatLon { lat: s.latitude, lon: s.longitude }).collect();
    // Sources: the waypoints, then the stations; targets: the stations, then the waypoints.
    let sources: Vec<LatLon> = ways.iter().chain(&stations).copied().collect();
    let targets: Vec<LatLon> = stations.iter().chain(&ways).copied().collect();
    let m = match router.matrix(&sources, &targets).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "no exact detours: the matrix failed");
            return;
        }
    };
    let w = ways.len();
    for (i, stop) in stops[..n].iter_mut().enumerate() {
        // The leg the station is on: the last waypoint at or before it.
        let leg = trip.waypoints.iter().rposition(|x| x.1 <= stop.km_from_start).unwrap_or(0).min(w.saturating_sub(2));
        let (a, b) = (leg, leg + 1);
        let there = m.get(a, i);
        let back = m.get(w + i, n + b);
        let direct = m.get(a, n + b);
        if let (Some(t), Some(r), Some(d)) = (there, back, direct) {
            stop.set_detour(t.0 + r.0 - d.0, t.1 + r.1 - d.1, false, q);
        }
    }
    sort(stops, Sort::Net);
}

/// The stop to recommend: the cheapest by net cost among those not short of the fuel and not
/// known to be closed on arrival.
pub fn best(stops: &[Stop]) -> Option<&Stop> {
    stops
        .iter()
        .filter(|s| s.shortage.is_none() && s.open_on_arrival != Some(false))
        .min_by(|a, b| a.net_cost.total_cmp(&b.net_cost).then(a.id.cmp(&b.id)))
}

/// What the best stop saves: against the cheapest stop that needs (almost) no detour (within
/// 0.5 km of the route), and against filling at the average price along the route. Euros;
/// `None` when there is nothing to compare with.
pub fn savings(stops: &[Stop], q: &RankQuery) -> (Option<f64>, Option<f64>) {
    let Some(b) = best(stops) else { return (None, None) };
    let on_route = stops
        .iter()
        .filter(|s| s.shortage.is_none() && s.off_route_km <= 0.5)
        .map(|s| s.net_cost)
        .min_by(f64::total_cmp)
        .map(|c| c - b.net_cost);
    let average = if stops.is_empty() {
        None
    } else {
        let mean = stops.iter().map(|s| f64::from(s.price)).sum::<f64>() / stops.len() as f64 / 1000.0;
        Some(q.litres * mean - b.net_cost)
    };
    (on_route, average)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_and_costs() {
        let (km, min) = estimated_detour(1.0);
        assert!((km - 2.6).abs() < 1e-9 && (min - 3.12).abs() < 1e-9);
        let q = RankQuery::defaults(Fuel::Gazole, Utc::now());
        let mut s = Stop::new(StationId::new(1).expect("an id"), 1_800, 0.0, 1.0);
        s.set_detour(10.0, 12.0, false, &q);
        assert!((s.fill_cost - 72.0).abs() < 1e-9);
        assert!((s.detour_cost - 10.0 * 0.065 * 1.8).abs() < 1e-9);
        assert!((s.net_cost - s.fill_cost - s.detour_cost).abs() < 1e-12);
        assert_eq!("along".parse::<Sort>(), Ok(Sort::Along));
        assert!("cheap".parse::<Sort>().is_err());
    }
}
