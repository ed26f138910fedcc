//! The spatial part of the index: points sorted into latitude bands, by longitude inside a band.
//!
//! A bounding-box lookup reads only the bands the box crosses and, in each, binary-searches the
//! longitude range: for a 10 km search that is 2 or 3 bands and a few hundred points around
//! Paris, out of 33,000 prices nationally. A sorted `Vec` rather than a tree or hash of cells:
//! built once per import, no per-cell allocation, and the scan of a band is contiguous memory.

/// Height of a band in degrees of latitude (~11 km): a search of the default 10 km radius
/// crosses 2 or 3 bands, and a band stays short enough that the longitude cut does the rest.
const BAND_DEG: f64 = 0.1;

fn band(lat: f64) -> i32 {
    (lat / BAND_DEG).floor() as i32
}

/// An item at a position.
#[derive(Debug, Clone)]
pub(super) struct Placed<T> {
    band: i32,
    pub lat: f64,
    pub lon: f64,
    pub item: T,
}

#[derive(Debug, Clone)]
pub(super) struct Grid<T> {
    /// Sorted by (band, longitude); equal keys keep the order they were given in.
    entries: Vec<Placed<T>>,
}

impl<T> Grid<T> {
    pub fn new(points: impl IntoIterator<Item = (f64, f64, T)>) -> Grid<T> {
        let mut entries: Vec<Placed<T>> =
            points.into_iter().map(|(lat, lon, item)| Placed { band: band(lat), lat, lon, item }).collect();
        entries.sort_by(|a, b| a.band.cmp(&b.band).then(a.lon.total_cmp(&b.lon)));
        entries.shrink_to_fit();
        Grid { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Placed<T>>()
    }

    /// Every entry with `min_lat <= lat <= max_lat` and `min_lon <= lon <= max_lon` (bounds
    /// included, like SQL's `BETWEEN`), band by band.
    pub fn within(&self, min_lat: f64, max_lat: f64, min_lon: f64, max_lon: f64) -> impl Iterator<Item = &Placed<T>> {
        let entries = &self.entries;
        (band(min_lat)..=band(max_lat)).flat_map(move |b| {
            let start = entries.partition_point(|e| e.band < b || (e.band == b && e.lon < min_lon));
            let end = start + entries[start..].partition_point(|e| e.band == b && e.lon <= max_lon);
            entries[start..end].iter().filter(move |e| e.lat >= min_lat && e.lat <= max_lat)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_lookup_is_a_filter() {
        // A deterministic scatter over France, some points on band edges.
        let mut points = Vec::new();
        let mut x: u64 = 12345;
        for i in 0..5000u32 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let lat = 41.0 + (x >> 40) as f64 / (1u64 << 24) as f64 * 10.0;
            let lon = -5.0 + ((x >> 16) & 0xff_ffff) as f64 / (1u64 << 24) as f64 * 13.0;
            let lat = if i % 50 == 0 { (lat * 10.0).round() / 10.0 } else { lat };
            points.push((lat, lon, i));
        }
        let grid = Grid::new(points.clone());
        assert_eq!(grid.len(), points.len());
        for (a, b, c, d) in [
            (48.7, 49.0, 2.1, 2.6),
            (48.8, 48.8, -5.0, 8.0),
            (41.0, 51.0, -5.0, 8.0),
            (-90.0, 90.0, -180.0, 180.0),
            (45.0, 44.0, 0.0, 1.0),
            (43.3, 43.9, 7.0, 7.0),
        ] {
            let mut got: Vec<u32> = grid.within(a, b, c, d).map(|e| e.item).collect();
            got.sort();
            let want: Vec<u32> = points
                .iter()
                .filter(|(lat, lon, _)| *lat >= a && *lat <= b && *lon >= c && *lon <= d)
                .map(|p| p.2)
                .collect();
            assert_eq!(got, want, "box {a} {b} {c} {d}");
        }
    }
}
