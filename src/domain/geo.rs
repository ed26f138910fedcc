//! Distances on the Earth's surface: the great-circle distance between two points and a box of
//! latitudes and longitudes around a circle (the search near a point, the route corridors).

/// Mean Earth radius (IUGG), in km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km (haversine), on a sphere of [`EARTH_RADIUS_KM`].
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    haversine_km_cos((lat1, lon1), lat1.to_radians().cos(), (lat2, lon2), lat2.to_radians().cos())
}

/// [`haversine_km`] of `(lat, lon)` points with the cosines of their latitudes given: a path's
/// length computes each point's once (the same value, bit for bit).
pub fn haversine_km_cos(a: (f64, f64), cos_a: f64, b: (f64, f64), cos_b: f64) -> f64 {
    let dp = b.0.to_radians() - a.0.to_radians();
    let dl = (b.1 - a.1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + cos_a * cos_b * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// A box of (min_lat, max_lat, min_lon, max_lon) that contains every point within `radius_km`
/// of the centre. Generous rather than tight: the exact distance is checked afterwards. Near a
/// pole or across the antimeridian it widens to every longitude instead of wrapping, which is
/// correct and only slower (France is far from both).
pub fn bounding_box(lat: f64, lon: f64, radius_km: f64) -> (f64, f64, f64, f64) {
    // 1 % margin for float noise at the edges.
    let dlat = (radius_km / EARTH_RADIUS_KM).to_degrees() * 1.01;
    let min_lat = (lat - dlat).max(-90.0);
    let max_lat = (lat + dlat).min(90.0);
    // Meridians converge: a degree of longitude is shortest at the box's highest |latitude|.
    let widest = min_lat.abs().max(max_lat.abs()).to_radians().cos();
    if widest < 1e-6 {
        return (min_lat, max_lat, -180.0, 180.0);
    }
    let dlon = dlat / widest;
    let (min_lon, max_lon) = (lon - dlon, lon + dlon);
    if min_lon < -180.0 || max_lon > 180.0 {
        (min_lat, max_lat, -180.0, 180.0)
    } else {
        (min_lat, max_lat, min_lon, max_lon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_paris_lyon() {
        // Notre-Dame de Paris to Lyon Bellecour: about 392 km.
        let d = haversine_km(48.8530, 2.3499, 45.7578, 4.8320);
        assert!((d - 392.0).abs() < 2.0, "{d}");
        assert_eq!(haversine_km(45.0, 5.0, 45.0, 5.0), 0.0);
    }

    #[test]
    fn box_contains_the_circle() {
        let (lat, lon, r) = (48.85, 2.35, 10.0);
        let (a, b, c, d) = bounding_box(lat, lon, r);
        // Points exactly `r` away north, south, east and west are inside.
        for (plat, plon) in [(b, lon), (a, lon), (lat, c), (lat, d)] {
            assert!(haversine_km(lat, lon, plat, plon) >= r);
        }
        let dlon = (r / (EARTH_RADIUS_KM * lat.to_radians().cos())).to_degrees();
        assert!(d > lon + dlon && c < lon - dlon);
        assert_eq!(bounding_box(89.99, 0.0, 50.0).2, -180.0);
        assert_eq!(bounding_box(0.0, 179.99, 50.0).3, 180.0);
    }
}
