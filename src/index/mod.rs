//! The in-memory index of current prices: every search near a point (the JSON API, the lists of
//! `/` and `/stations`, the demo) and the averages of the station page are answered from here.
//!
//! Why: the same questions in SQL cost ~2 ms of CPU per nearby request (decoding the rows of a
//! bounding box and the shortage join) and ~200 ms per average, while the data behind them
//! changes at most once per import (every ten minutes). A snapshot of ~10,000 stations and
//! ~33,000 prices fits in a few MB and answers in microseconds.
//!
//! [`PriceIndex`] is immutable: built from one consistent read of the database
//! ([`crate::db::stations::current_data`]) and tagged with the id of the import it reflects.
//! [`IndexHandle`] holds the current one and replaces it when a newer import shows up in
//! `etl_runs`, which is how every server instance on a shared database sees new data.
//!
//! Answers are filtered and ordered as SQL would (cheapest, then nearest, then by id; or
//! nearest first); stations gone from the feed are never listed, even with a recent price.

mod averages;
mod build;
mod corridor;
mod grid;
mod handle;
pub mod places;

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::db::stations::{self as q, CurrentData};
use crate::domain::geo::{bounding_box, haversine_km};
use crate::domain::station_name::{StationName, simplify};
use crate::domain::{Fuel, OpeningHours, RoadType, ShortageKind, StationId};
pub use averages::{AVERAGE_WINDOW_SECS, Averager, FuelAverage};
pub use corridor::{CorridorHit, cumulative_km, nearest_on_path, point_segment_km};
use grid::Grid;
pub use handle::{CHECK_EVERY, IndexHandle};

/// A station still in the feed, with what lists show and filter on.
#[derive(Debug, Clone)]
pub struct Station {
    pub id: StationId,
    pub latitude: f64,
    pub longitude: f64,
    pub address: Box<str>,
    /// As the feed writes it (often upper case).
    pub city: Box<str>,
    pub postcode: Box<str>,
    pub department: Box<str>,
    pub automate_24_24: bool,
    /// On a motorway (`pop="A"`), a road, or unknown.
    pub road_type: RoadType,
    /// The published opening hours, when the feed has them (the route search's "open on arrival").
    pub opening_hours: Option<Box<OpeningHours>>,
    /// Canonical brand from OpenStreetMap (see [`crate::names`]), when known.
    pub brand: Option<Box<str>>,
    /// The shown name from OpenStreetMap ([`StationName::display`]), when known.
    pub name: Option<Box<str>>,
    /// The words of the brand and OSM name, each reduced by [`simplify`], space-separated: what
    /// the `q=` station search matches ("leclerc", "a7").
    name_words: Box<str>,
    /// The words of the town, the postcode and the département, the same way.
    place_words: Box<str>,
    /// Ids into [`PriceIndex`]'s table of service names.
    services: Box<[u16]>,
    /// Current prices, in fuel id order.
    pub prices: Box<[Offer]>,
    /// Current shortages, in fuel id order, of fuels with or without a price.
    pub shortages: Box<[Shortage]>,
}

/// A shortage a station reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortage {
    pub fuel: Fuel,
    pub kind: ShortageKind,
    /// Unix seconds, when the feed says.
    pub since: Option<i64>,
}

/// A current price of one fuel at a station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub fuel: Fuel,
    /// Thousandths of a euro.
    pub price: i32,
    /// Unix seconds.
    pub updated_at: i64,
    /// The shortage the station reports for this fuel, if any (also in
    /// [`Station::shortages`]), inline for the searches.
    pub shortage: Option<ShortageKind>,
}

impl Station {
    pub fn price_of(&self, fuel: Fuel) -> Option<&Offer> {
        self.prices.iter().find(|o| o.fuel == fuel)
    }

    /// Whether every word of `words` (from [`search_words`]) starts a word of the station's brand,
    /// OSM name, town, postcode or département, and one at least a word of its brand or name
    /// ("leclerc rennes", "intermarche 35", "total a7"; not "rennes" alone).
    pub fn matches_words(&self, words: &[String]) -> bool {
        let starts = |key: &str, w: &str| key.split(' ').any(|k| k.starts_with(w));
        let mut named = false;
        for w in words {
            if starts(&self.name_words, w) {
                named = true;
            } else if !starts(&self.place_words, w) {
                return false;
            }
        }
        named
    }
}

/// A price in a fuel's grid, with the station it belongs to (an index into `stations`).
#[derive(Debug, Clone, Copy)]
struct FuelEntry {
    station: u32,
    offer: Offer,
}

/// How a search sorts its results; ties always end with the station id, for a stable order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Cheapest first, then nearest.
    Price,
    /// Nearest first, then cheapest.
    Distance,
}

/// Stations near a point selling a fuel, with the filters of the API and the pages.
#[derive(Debug, Clone, Copy)]
pub struct NearbyQuery<'a> {
    pub latitude: f64,
    pub longitude: f64,
    /// Great-circle distance, inclusive.
    pub radius_km: f64,
    pub fuel: Fuel,
    /// Prices updated before this Unix time are left out.
    pub updated_since: i64,
    /// Leave out stations reporting a shortage of the fuel; otherwise they come with it.
    pub hide_shortages: bool,
    /// Only stations with the 24/24 card machine.
    pub only_24_24: bool,
    /// Only stations offering this service, spelled as in the feed (`Toilettes publiques`).
    pub service: Option<&'a str>,
    /// Only stations of these canonical brands (empty: any).
    pub brands: &'a [String],
    /// Only stations whose names match these words ([`Station::matches_words`]; empty: any).
    pub words: &'a [String],
    pub order: Order,
    pub limit: usize,
}

/// One result of [`PriceIndex::nearby`].
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    pub station: &'a Station,
    pub offer: Offer,
    pub distance_km: f64,
}

/// Averages of one `since`, precomputed at build time for the only `since` the station page
/// asks for while the data stays the same (a week before the newest snapshot).
#[derive(Debug, Clone)]
struct Averages {
    since: i64,
    national: Vec<FuelAverage>,
    departments: HashMap<Box<str>, Vec<FuelAverage>>,
}

/// What a build cost, for logs and `carburoam bench`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildStats {
    /// Reading the rows from the database.
    pub read: Duration,
    /// Turning them into the index.
    pub build: Duration,
    pub stations: usize,
    pub prices: usize,
    /// Heap memory held by the index (sum of its allocations' sizes, not counting allocator
    /// overhead).
    pub heap_bytes: usize,
}

/// An immutable snapshot of the current prices. See the module documentation.
#[derive(Debug)]
pub struct PriceIndex {
    version: Option<i64>,
    /// The id of the names import this snapshot's names come from (`None`: no names).
    names_version: Option<i64>,
    /// The daily averages' generation when this snapshot was read
    /// ([`crate::db::series::generation`]).
    series_version: i64,
    /// Stations still in the feed, by id.
    stations: Vec<Station>,
    /// Service names, interned: stations refer to them by position.
    services: Vec<Box<str>>,
    /// One grid per fuel (fuel id − 1): only the stations that sell it, with the price inline so
    /// that a search never leaves the grid's memory but for the hits.
    by_fuel: [Grid<FuelEntry>; 6],
    /// Stations with at least one current price (the demo's picker).
    priced: Grid<u32>,
    averages: Option<Averages>,
    stats: BuildStats,
}

/// The version of the data behind the pages: the last successful import, the last names
/// import and the daily averages' generation a [`PriceIndex`] reflects
/// ([`PriceIndex::data_version`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataVersion {
    pub import: Option<i64>,
    pub names: Option<i64>,
    /// Moves when the whole series is computed again without an import
    /// (`carburoam series rebuild`).
    pub series: i64,
}

/// Why a snapshot could not be built.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("cannot read the current prices: {0}")]
    Db(#[from] sqlx::Error),
    #[error("building the price index failed: {0}")]
    Build(#[from] tokio::task::JoinError),
}

fn slot(fuel: Fuel) -> usize {
    // Fuel ids are 1 to 6.
    (fuel.id() - 1) as usize
}

impl PriceIndex {
    /// No stations: what a database without data gives.
    pub fn empty() -> PriceIndex {
        PriceIndex::build(CurrentData::default())
    }

    /// The id of the import this snapshot reflects (`None`: no import yet).
    pub fn version(&self) -> Option<i64> {
        self.version
    }

    /// The id of the names import this snapshot's names come from (`None`: none yet).
    pub fn names_version(&self) -> Option<i64> {
        self.names_version
    }

    /// The daily averages' generation this snapshot was read at.
    pub fn series_version(&self) -> i64 {
        self.series_version
    }

    /// What the pages built from the database show, as of this snapshot: moves with every
    /// successful import (prices, history and daily averages commit with it), every names
    /// import and every recomputation of the whole series. The page cache ([`crate::web::cache::Versioned`]) is keyed by it.
    pub fn data_version(&self) -> DataVersion {
        DataVersion { import: self.version, names: self.names_version, series: self.series_version }
    }

    /// Canonical brands of the stations within `radius_km` of a point that have a current
    /// price of `fuel`, with their station counts: most common first, then by name.
    pub fn brands_near(&self, lat: f64, lon: f64, radius_km: f64, fuel: Fuel) -> Vec<(&str, usize)> {
        let (min_lat, max_lat, min_lon, max_lon) = bounding_box(lat, lon, radius_km);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for e in self.by_fuel[slot(fuel)].within(min_lat, max_lat, min_lon, max_lon) {
            let s = &self.stations[e.item.station as usize];
            if let Some(b) = s.brand.as_deref()
                && haversine_km(lat, lon, e.lat, e.lon) <= radius_km
            {
                *counts.entry(b).or_default() += 1;
            }
        }
        sorted_counts(counts)
    }

    /// The stations whose names match `words` ([`Station::matches_words`]), by id.
    pub fn named(&self, words: &[String]) -> Vec<&Station> {
        if words.is_empty() {
            return Vec::new();
        }
        self.stations.iter().filter(|s| s.matches_words(words)).collect()
    }

    /// Canonical brands of every station in the feed, with their station counts.
    pub fn brands(&self) -> Vec<(&str, usize)> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for b in self.stations.iter().filter_map(|s| s.brand.as_deref()) {
            *counts.entry(b).or_default() += 1;
        }
        sorted_counts(counts)
    }

    pub fn stats(&self) -> BuildStats {
        self.stats
    }

    /// Stations still in the feed, by id.
    pub fn stations(&self) -> &[Station] {
        &self.stations
    }

    pub fn station(&self, id: StationId) -> Option<&Station> {
        self.stations.binary_search_by_key(&id, |s| s.id).ok().map(|i| &self.stations[i])
    }

    /// The stations within `q.radius_km` of the point that sell `q.fuel` at a price updated
    /// since `q.updated_since` and pass the filters, sorted by `q.order`, at most `q.limit`.
    pub fn nearby(&self, q: &NearbyQuery<'_>) -> Vec<Hit<'_>> {
        let service = match q.service {
            Some(name) => match self.services.iter().position(|s| **s == *name) {
                Some(id) => Some(id),
                // Nobody offers it.
                None => return Vec::new(),
            },
            None => None,
        };
        // The box is generous (it holds the whole circle), so it only saves distance
        // computations; the exact distance decides.
        let (min_lat, max_lat, min_lon, max_lon) = bounding_box(q.latitude, q.longitude, q.radius_km);
        let mut hits: Vec<Hit<'_>> = self.by_fuel[slot(q.fuel)]
            .within(min_lat, max_lat, min_lon, max_lon)
            .filter(|e| {
                let o = &e.item.offer;
                o.updated_at >= q.updated_since && !(q.hide_shortages && o.shortage.is_some())
            })
            .filter_map(|e| {
                let station = &self.stations[e.item.station as usize];
                if q.only_24_24 && !station.automate_24_24 {
                    return None;
                }
                if !q.words.is_empty() && !station.matches_words(q.words) {
                    return None;
                }
                if !q.brands.is_empty()
                    && !station.brand.as_deref().is_some_and(|b| q.brands.iter().any(|x| x.as_str() == b))
                {
                    return None;
                }
                if let Some(id) = service
                    && !station.services.iter().any(|s| usize::from(*s) == id)
                {
                    return None;
                }
                let distance_km = haversine_km(q.latitude, q.longitude, e.lat, e.lon);
                (distance_km <= q.radius_km).then_some(Hit { station, offer: e.item.offer, distance_km })
            })
            .collect();
        let cmp = |a: &Hit<'_>, b: &Hit<'_>| {
            let by_price = a.offer.price.cmp(&b.offer.price);
            let by_distance = a.distance_km.total_cmp(&b.distance_km);
            let first = match q.order {
                Order::Price => by_price.then(by_distance),
                Order::Distance => by_distance.then(by_price),
            };
            first.then(a.station.id.cmp(&b.station.id))
        };
        top(&mut hits, q.limit, cmp);
        hits
    }

    /// The `n` stations with at least one current price nearest to a point, within `max_km`:
    /// nearest first, then by id.
    pub fn nearest(&self, lat: f64, lon: f64, n: usize, max_km: f64) -> Vec<(&Station, f64)> {
        let (min_lat, max_lat, min_lon, max_lon) = bounding_box(lat, lon, max_km);
        let mut found: Vec<(&Station, f64)> = self
            .priced
            .within(min_lat, max_lat, min_lon, max_lon)
            .filter_map(|e| {
                let d = haversine_km(lat, lon, e.lat, e.lon);
                (d <= max_km).then(|| (&self.stations[e.item as usize], d))
            })
            .collect();
        top(&mut found, n, |a, b| a.1.total_cmp(&b.1).then(a.0.id.cmp(&b.0.id)));
        found
    }

    /// Average price per fuel of the prices updated at or after `since`, in one département
    /// (`Some("92")`) or all of France (`None`), in fuel id order. Precomputed for the window
    /// the station page uses; any other `since` (the page's clock moved ahead of this
    /// snapshot, or no snapshot was ever imported) is computed here, in well under a
    /// millisecond.
    pub fn averages(&self, department: Option<&str>, since: i64) -> Cow<'_, [FuelAverage]> {
        if let Some(a) = &self.averages
            && a.since == since
        {
            return match department {
                None => Cow::Borrowed(&a.national),
                Some(d) => a.departments.get(d).map_or(Cow::Borrowed(&[]), |v| Cow::Borrowed(v)),
            };
        }
        let mut acc = Averager::default();
        for s in self.stations.iter().filter(|s| department.is_none_or(|d| *s.department == *d)) {
            for o in s.prices.iter().filter(|o| o.updated_at >= since) {
                acc.add(o.fuel, o.price);
            }
        }
        Cow::Owned(acc.finish())
    }

    /// Heap memory held, in bytes (see [`BuildStats::heap_bytes`]).
    fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let stations: usize = self
            .stations
            .iter()
            .map(|s| {
                s.address.len()
                    + s.brand.as_ref().map_or(0, |b| b.len())
                    + s.name.as_ref().map_or(0, |b| b.len())
                    + s.name_words.len()
                    + s.place_words.len()
                    + s.city.len()
                    + s.postcode.len()
                    + s.department.len()
                    + s.opening_hours.as_ref().map_or(0, |h| {
                        size_of::<OpeningHours>()
                            + h.days.capacity() * size_of::<crate::domain::DayHours>()
                            + h.days
                                .iter()
                                .map(|d| d.slots.capacity() * size_of::<crate::domain::TimeSlot>())
                                .sum::<usize>()
                    })
                    + s.services.len() * size_of::<u16>()
                    + s.prices.len() * size_of::<Offer>()
                    + s.shortages.len() * size_of::<Shortage>()
            })
            .sum::<usize>()
            + self.stations.capacity() * size_of::<Station>();
        let services: usize =
            self.services.iter().map(|s| s.len()).sum::<usize>() + self.services.capacity() * size_of::<Box<str>>();
        let grids: usize = self.by_fuel.iter().map(Grid::heap_bytes).sum::<usize>() + self.priced.heap_bytes();
        let averages = self.averages.as_ref().map_or(0, |a| {
            let list = |v: &Vec<FuelAverage>| v.capacity() * size_of::<FuelAverage>();
            list(&a.national)
                + a.departments.iter().map(|(d, v)| d.len() + list(v)).sum::<usize>()
                + a.departments.capacity() * (size_of::<Box<str>>() + size_of::<Vec<FuelAverage>>() + 1)
        });
        stations + services + grids + averages
    }
}

/// What someone typed, as the words [`Station::matches_words`] takes: split on anything that
/// is not a letter or a digit, each [`simplify`]d (`E.Leclerc Saint-Malo` → `e leclerc saint malo`).
pub fn search_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric()).map(simplify).filter(|w| !w.is_empty()).collect()
}

fn word_key<'a>(parts: impl IntoIterator<Item = &'a str>) -> Box<str> {
    let mut key = String::new();
    for w in parts.into_iter().flat_map(search_words) {
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(&w);
    }
    key.into()
}

fn sorted_counts(counts: HashMap<&str, usize>) -> Vec<(&str, usize)> {
    let mut list: Vec<(&str, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    list
}

/// Sorts `items` by `cmp` and keeps the first `n`: a partial selection first, so that a search
/// with many matches and a small limit sorts only what it returns. `cmp` is a total order (ids
/// break ties), so this is exactly a full sort and a truncation.
fn top<T>(items: &mut Vec<T>, n: usize, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if n == 0 {
        items.clear();
        return;
    }
    if items.len() > n {
        items.select_nth_unstable_by(n - 1, &cmp);
        items.truncate(n);
    }
    items.sort_unstable_by(cmp);
}

#[cfg(test)]
mod tests;
