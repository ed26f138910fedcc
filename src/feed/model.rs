//! What the parser produces and the loader consumes: plain data, already validated, and what the
//! loader derives from a station (its département, its content hash).

use chrono::{DateTime, Utc};

pub use crate::domain::FeedKind;
use crate::domain::{Fuel, OpeningHours, Price, Rejection, RoadType, ShortageKind, StationId};

crate::text_column!(FeedKind, "feed kind", [FeedKind::Snapshot, FeedKind::Archive]);

#[derive(Debug, Clone, PartialEq)]
pub struct FeedPrice {
    pub fuel: Fuel,
    pub price: Price,
    /// `maj`, converted from Europe/Paris to UTC, truncated to the second.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedShortage {
    pub fuel: Fuel,
    pub kind: ShortageKind,
    /// `debut` (or `début`), when present and valid.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedStation {
    pub id: StationId,
    /// Degrees (the feed writes degrees × 100000).
    pub latitude: f64,
    pub longitude: f64,
    /// As written, leading zero kept (`06110`).
    pub postcode: String,
    /// Trimmed, inner runs of white space folded; capitals kept as published.
    pub city: String,
    pub address: String,
    pub road_type: RoadType,
    /// `<horaires automate-24-24="1">`.
    pub automate_24_24: bool,
    /// `None` when the station publishes no hours.
    pub opening_hours: Option<OpeningHours>,
    pub services: Vec<String>,
    /// Valid prices only (rejected ones are in [`ParsedFeed::rejections`]). In a snapshot at most
    /// one per fuel; in an archive any number, in document order.
    pub prices: Vec<FeedPrice>,
    /// At most one per fuel (a fuel listed twice is merged: the more definite kind, the earlier start).
    pub shortages: Vec<FeedShortage>,
    /// The hash of the `<pdv>` element's bytes ([`crate::feed::parse::raw_hash`]), when parsing
    /// those bytes again always gives this station (stored, so that the next file's unchanged
    /// element is dropped unparsed). Not part of [`content_hash`].
    pub raw_hash: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ParsedFeed {
    pub kind: FeedKind,
    /// Whether the document carried `<rupture>` elements in the `instantane_ruptures` way.
    pub has_shortages: bool,
    pub stations: Vec<FeedStation>,
    pub rejections: Vec<Rejection>,
    /// Number of `<prix>` elements read (valid or not).
    pub price_elements: usize,
}

/// A batch of parsed stations, as the parser hands them to the loader.
pub type Chunk = Vec<FeedStation>;

/// Département code from a postcode: `06110` → `06`; Corsica `20xxx` → `2A`/`2B`; overseas
/// `97x`/`98x` → three digits.
pub fn department_of(postcode: &str) -> String {
    let p = postcode.trim();
    if p.len() < 2 || !p.is_ascii() {
        return String::new();
    }
    if p.starts_with("97") || p.starts_with("98") {
        return p.get(..3).unwrap_or(p).to_owned();
    }
    if let Some(rest) = p.strip_prefix("20") {
        // 200xx–201xx: Corse-du-Sud; 202xx–206xx: Haute-Corse.
        return match rest.as_bytes().first() {
            Some(b'0') | Some(b'1') => "2A".to_owned(),
            Some(_) => "2B".to_owned(),
            None => "20".to_owned(),
        };
    }
    p[..2].to_owned()
}

/// FNV-1a over a canonical encoding of everything the loader stores about a station: stable
/// across builds and Rust versions (it is stored in the database).
pub(super) fn content_hash(st: &FeedStation) -> i64 {
    struct Fnv(u64);
    impl Fnv {
        fn bytes(&mut self, b: &[u8]) {
            for &x in b {
                self.0 ^= u64::from(x);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
            self.0 ^= 0xff;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        /// A whole word per step (xor, then multiply by an odd constant: a bijection, so
        /// a single changed number always changes the hash); a yearly archive hashes 3.5
        /// million prices, and byte by byte this was 3 % of its import.
        fn num(&mut self, v: i64) {
            self.0 = (self.0 ^ v as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.num(st.id.get());
    h.bytes(&st.latitude.to_bits().to_le_bytes());
    h.bytes(&st.longitude.to_bits().to_le_bytes());
    h.bytes(st.postcode.as_bytes());
    h.bytes(st.city.as_bytes());
    h.bytes(st.address.as_bytes());
    h.bytes(st.road_type.as_str().as_bytes());
    h.num(i64::from(st.automate_24_24));
    if let Some(hours) = &st.opening_hours {
        for d in &hours.days {
            h.num(i64::from(d.day) * 2 + i64::from(d.closed));
            for s in &d.slots {
                h.num(i64::from(s.open) << 16 | i64::from(s.close));
            }
        }
    } else {
        h.num(-1);
    }
    for s in &st.services {
        h.bytes(s.as_bytes());
    }
    for p in &st.prices {
        h.num(i64::from(p.fuel.id()) << 32 | i64::from(p.price.milli()));
        h.num(p.updated_at.timestamp());
    }
    for s in &st.shortages {
        h.num(i64::from(s.fuel.id()));
        h.bytes(s.kind.as_str().as_bytes());
        h.num(s.since.map_or(-1, |t| t.timestamp()));
    }
    h.0 as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments() {
        assert_eq!(department_of("06110"), "06");
        assert_eq!(department_of("75013"), "75");
        assert_eq!(department_of("20090"), "2A");
        assert_eq!(department_of("20200"), "2B");
        assert_eq!(department_of("97400"), "974");
        assert_eq!(department_of(""), "");
    }
}
