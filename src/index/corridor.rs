//! The stations along a path: every station selling a fuel within a distance of a polyline, with
//! where along the path it lies. Answered from the fuel's grid: each segment of the path looks
//! only at the grid cells its own box (widened by the corridor) crosses, so a 900 km path with a
//! 3 km corridor reads a few thousand entries, never the whole country.
//!
//! Distances to a segment are exact in the segment's local plane (an equirectangular projection
//! at its mean latitude: within 0.1 % of the great-circle distance for segments of a few tens of
//! km); the position along the path adds the haversine lengths of the segments before.

use std::collections::HashMap;

use super::{Offer, PriceIndex, Station, slot};
use crate::db::stations::{EARTH_RADIUS_KM, haversine_km_cos};
use crate::domain::Fuel;

/// Km per degree of latitude (and of longitude at the equator).
const KM_PER_DEG: f64 = EARTH_RADIUS_KM * std::f64::consts::PI / 180.0;

/// Longest piece of a segment looked up as one box: a long straight segment (a GPX route with
/// few points) would otherwise read every cell of its whole bounding box.
const PIECE_KM: f64 = 10.0;

/// One station of a corridor.
#[derive(Debug, Clone, Copy)]
pub struct CorridorHit<'a> {
    pub station: &'a Station,
    pub offer: Offer,
    /// Shortest distance from the station to the path.
    pub off_route_km: f64,
    /// Distance along the path from its start to the point nearest the station.
    pub along_km: f64,
}

/// Distance from `p` to the segment `a`–`b` (each `(lat, lon)`), in km, and where the nearest
/// point lies on the segment (0 at `a`, 1 at `b`).
pub fn point_segment_km(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    point_segment_km_at(p, a, b, km_per_lon_degree(a, b))
}

/// Km per degree of longitude in the plane of the segment `a`–`b` (at its mean latitude).
fn km_per_lon_degree(a: (f64, f64), b: (f64, f64)) -> f64 {
    KM_PER_DEG * ((a.0 + b.0) / 2.0).to_radians().cos()
}

/// [`point_segment_km`] with the segment's [`km_per_lon_degree`] computed once by the caller:
/// the corridor measures many stations against each segment, and the cosine was a fifth of
/// the route API's time.
fn point_segment_km_at(p: (f64, f64), a: (f64, f64), b: (f64, f64), kx: f64) -> (f64, f64) {
    let (bx, by) = ((b.1 - a.1) * kx, (b.0 - a.0) * KM_PER_DEG);
    let (px, py) = ((p.1 - a.1) * kx, (p.0 - a.0) * KM_PER_DEG);
    let len2 = bx * bx + by * by;
    let t = if len2 > 0.0 { ((px * bx + py * by) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (dx, dy) = (px - t * bx, py - t * by);
    // Km over France: no overflow for `hypot` to guard against.
    ((dx * dx + dy * dy).sqrt(), t)
}

/// The cumulative haversine length of a path at each of its points (0 at the first).
pub fn cumulative_km(path: &[(f64, f64)]) -> Vec<f64> {
    let mut out = Vec::with_capacity(path.len());
    let mut total = 0.0;
    // Each point's cosine once, not once per segment it ends.
    let mut prev: Option<((f64, f64), f64)> = None;
    for &p in path {
        let cos = p.0.to_radians().cos();
        if let Some((q, cos_q)) = prev {
            total += haversine_km_cos(q, cos_q, p, cos);
        }
        out.push(total);
        prev = Some((p, cos));
    }
    out
}

/// The nearest point of the path to `p`: (distance, km along). Ties keep the earlier segment.
/// What [`PriceIndex::corridor`] computes for each station it finds.
pub fn nearest_on_path(p: (f64, f64), path: &[(f64, f64)], cum: &[f64]) -> Option<(f64, f64)> {
    let mut best: Option<(f64, f64)> = None;
    for i in 1..path.len() {
        let (d, t) = point_segment_km(p, path[i - 1], path[i]);
        if best.is_none_or(|b| d < b.0) {
            best = Some((d, cum[i - 1] + t * (cum[i] - cum[i - 1])));
        }
    }
    if path.len() == 1 {
        best = path.first().map(|a| (point_segment_km(p, *a, *a).0, 0.0));
    }
    best
}

impl PriceIndex {
    /// The stations within `width_km` of `path` (`(lat, lon)` points, in order) that sell `fuel`
    /// at a price updated since `updated_since`, in order along the path (then by id). Equal to
    /// [`nearest_on_path`] applied to every station of the fuel and kept when within the width.
    pub fn corridor(&self, path: &[(f64, f64)], width_km: f64, fuel: Fuel, updated_since: i64) -> Vec<CorridorHit<'_>> {
        let grid = &self.by_fuel[slot(fuel)];
        let cum = cumulative_km(path);
        // Station position → (distance, along): the best segment so far.
        let mut best: HashMap<u32, (f64, f64, Offer)> = HashMap::new();
        // (start, end, index of the end point; 0 for a one-point path).
        type Segment = ((f64, f64), (f64, f64), usize);
        let segments: Vec<Segment> = if path.len() == 1 {
            vec![(path[0], path[0], 0)]
        } else {
            (1..path.len()).map(|i| (path[i - 1], path[i], i)).collect()
        };
        for (a, b, i) in segments {
            let seg_km = if i == 0 { 0.0 } else { cum[i] - cum[i - 1] };
            let kx = km_per_lon_degree(a, b);
            let cos = (kx / KM_PER_DEG).max(1e-6);
            // The box of each piece, widened by the corridor in the segment's own plane (1 %
            // margin): it holds every point within `width_km` of the piece.
            let dlat = width_km / KM_PER_DEG * 1.01;
            let dlon = width_km / (KM_PER_DEG * cos) * 1.01;
            let pieces = ((seg_km / PIECE_KM).ceil() as usize).max(1);
            for k in 0..pieces {
                let (t0, t1) = (k as f64 / pieces as f64, (k + 1) as f64 / pieces as f64);
                let p0 = (a.0 + (b.0 - a.0) * t0, a.1 + (b.1 - a.1) * t0);
                let p1 = (a.0 + (b.0 - a.0) * t1, a.1 + (b.1 - a.1) * t1);
                let (min_lat, max_lat) = (p0.0.min(p1.0) - dlat, p0.0.max(p1.0) + dlat);
                let (min_lon, max_lon) = (p0.1.min(p1.1) - dlon, p0.1.max(p1.1) + dlon);
                for e in grid.within(min_lat, max_lat, min_lon, max_lon) {
                    if e.item.offer.updated_at < updated_since {
                        continue;
                    }
                    let (d, t) = point_segment_km_at((e.lat, e.lon), a, b, kx);
                    if d > width_km {
                        continue;
                    }
                    let along = if i == 0 { 0.0 } else { cum[i - 1] + t * seg_km };
                    best.entry(e.item.station)
                        .and_modify(|x| {
                            // The earliest segment wins a tie, as in `nearest_on_path`.
                            if d < x.0 || (d == x.0 && along < x.1) {
                                *x = (d, along, e.item.offer);
                            }
                        })
                        .or_insert((d, along, e.item.offer));
                }
            }
        }
        let mut hits: Vec<CorridorHit<'_>> = best
            .into_iter()
            .map(|(s, (off_route_km, along_km, offer))| CorridorHit {
                station: &self.stations[s as usize],
                offer,
                off_route_km,
                along_km,
            })
            .collect();
        hits.sort_by(|a, b| a.along_km.total_cmp(&b.along_km).then(a.station.id.cmp(&b.station.id)));
        hits
    }

    /// Every price of `fuel` (for tests comparing [`PriceIndex::corridor`] with a scan).
    pub fn offers_of(&self, fuel: Fuel) -> impl Iterator<Item = (&Station, Offer)> {
        self.stations.iter().filter_map(move |s| s.price_of(fuel).map(|o| (s, *o)))
    }
}
