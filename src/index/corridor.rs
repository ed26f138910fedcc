//! The stations along a path: every station selling a fuel within a distance of a polyline, with
//! where along the path it lies. Answered from the fuel's grid: each segment of the path looks
//! only at the grid cells its own box (widened by the corridor) crosses, so a 900 km path with a
//! 3 km corridor reads a few thousand entries, never the whole country.
//!
//! Distances to a segment are exact in the segment's local plane (an equirectangular projection
//! at its mean latitude: within 0.1 % of the great-circle distance for segments of a few tens of
//! km); the position along the path adds the haversine lengths of the segments before.

use super::grid::Placed;
use super::{FuelEntry, Offer, PriceIndex, Station, slot};
use crate::domain::Fuel;
use crate::domain::geo::{EARTH_RADIUS_KM, haversine_km_cos};

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

/// Consecutive pieces of the path whose union stays within this many km (each way) share one
/// grid lookup: a road's points are a few hundred metres apart, and a lookup per piece (two
/// binary searches per band) cost more than testing each station of the shared box against each
/// piece's own box.
const RUN_KM: f64 = 6.0;

/// Most pieces in one run (a winding road inside a small box).
const RUN_PIECES: usize = 48;

/// A piece of a segment, with the box (widened by the corridor) that holds every point within
/// the corridor's width of it.
#[derive(Debug, Clone, Copy)]
struct Piece {
    a: (f64, f64),
    b: (f64, f64),
    /// Index of the segment's end point (0 for a one-point path).
    end: usize,
    /// Km per degree of longitude in the segment's plane.
    kx: f64,
    seg_km: f64,
    min_lat: f64,
    max_lat: f64,
    min_lon: f64,
    max_lon: f64,
}

/// The best segment of each station found so far: a slot per station of the index (its
/// position in `found`), so that a station met by many pieces costs an array read, not a hash.
struct Found {
    slot: Vec<u32>,
    found: Vec<(u32, f64, f64, Offer)>,
}

impl Found {
    fn offer(&mut self, station: u32, d: f64, along: f64, offer: Offer) {
        let slot = &mut self.slot[station as usize];
        if *slot == u32::MAX {
            *slot = self.found.len() as u32;
            self.found.push((station, d, along, offer));
            return;
        }
        let x = &mut self.found[*slot as usize];
        // The earliest segment wins a tie, as in `nearest_on_path`.
        if d < x.1 || (d == x.1 && along < x.2) {
            *x = (station, d, along, offer);
        }
    }
}

impl PriceIndex {
    /// The stations within `width_km` of `path` (`(lat, lon)` points, in order) that sell `fuel`
    /// at a price updated since `updated_since`, in order along the path (then by id). Equal to
    /// [`nearest_on_path`] applied to every station of the fuel and kept when within the width:
    /// each (station, segment) pair within the width is measured, whatever the boxes.
    pub fn corridor(&self, path: &[(f64, f64)], width_km: f64, fuel: Fuel, updated_since: i64) -> Vec<CorridorHit<'_>> {
        let grid = &self.by_fuel[slot(fuel)];
        let cum = cumulative_km(path);
        let mut best = Found { slot: vec![u32::MAX; self.stations.len()], found: Vec::new() };
        // The grid's entries of the current run's box, reused from run to run.
        let mut near: Vec<&Placed<FuelEntry>> = Vec::new();
        let mut run: Vec<Piece> = Vec::with_capacity(RUN_PIECES);
        let mut flush = |run: &mut Vec<Piece>| {
            let Some(first) = run.first() else { return };
            let mut b = (first.min_lat, first.max_lat, first.min_lon, first.max_lon);
            for p in &run[1..] {
                b = (b.0.min(p.min_lat), b.1.max(p.max_lat), b.2.min(p.min_lon), b.3.max(p.max_lon));
            }
            near.clear();
            near.extend(grid.within(b.0, b.1, b.2, b.3).filter(|e| e.item.offer.updated_at >= updated_since));
            for p in run.iter() {
                for e in &near {
                    if e.lat < p.min_lat || e.lat > p.max_lat || e.lon < p.min_lon || e.lon > p.max_lon {
                        continue;
                    }
                    let (d, t) = point_segment_km_at((e.lat, e.lon), p.a, p.b, p.kx);
                    if d > width_km {
                        continue;
                    }
                    let along = if p.end == 0 { 0.0 } else { cum[p.end - 1] + t * p.seg_km };
                    best.offer(e.item.station, d, along, e.item.offer);
                }
            }
            run.clear();
        };
        // A one-point path is one segment from the point to itself.
        let one_point = path.len() == 1;
        let segments = if one_point { 1 } else { path.len().saturating_sub(1) };
        // The extent of the current run, not widened.
        let mut extent = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for n in 0..segments {
            // (start, end, index of the end point; 0 for a one-point path).
            let (a, b, i) = if one_point { (path[0], path[0], 0) } else { (path[n], path[n + 1], n + 1) };
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
                let lat = (p0.0.min(p1.0), p0.0.max(p1.0));
                let lon = (p0.1.min(p1.1), p0.1.max(p1.1));
                let piece = Piece {
                    a,
                    b,
                    end: i,
                    kx,
                    seg_km,
                    min_lat: lat.0 - dlat,
                    max_lat: lat.1 + dlat,
                    min_lon: lon.0 - dlon,
                    max_lon: lon.1 + dlon,
                };
                let grown = (extent.0.min(lat.0), extent.1.max(lat.1), extent.2.min(lon.0), extent.3.max(lon.1));
                let fits = (grown.1 - grown.0) * KM_PER_DEG <= RUN_KM && (grown.3 - grown.2) * kx <= RUN_KM;
                if !fits || run.len() == RUN_PIECES {
                    flush(&mut run);
                    extent = (lat.0, lat.1, lon.0, lon.1);
                } else {
                    extent = grown;
                }
                run.push(piece);
            }
        }
        flush(&mut run);
        let mut hits: Vec<CorridorHit<'_>> = best
            .found
            .into_iter()
            .map(|(s, off_route_km, along_km, offer)| CorridorHit {
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
