//! What the parser produces and the loader consumes: plain data, already validated.

use chrono::{DateTime, Utc};

use crate::domain::{Fuel, OpeningHours, Price, Rejection, RoadType, ShortageKind, StationId};

/// The kind of document, told from its content (never from the file name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// `instantane` or `instantane_ruptures`: one current price per fuel per station.
    Snapshot,
    /// `jour` / `annee` archives, and pre-2015 files: every price change of the period, so
    /// several `<prix>` per fuel per station.
    Archive,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Snapshot => "snapshot",
            FeedKind::Archive => "archive",
        }
    }
}

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
