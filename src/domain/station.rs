use std::fmt;

use serde::{Deserialize, Serialize};

/// A station id as the feed writes it (the leading zero of the département is dropped: `6110002`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StationId(i64);

impl StationId {
    /// Ids are 7 or 8 digits (département + commune + sequence); anything else is refused.
    pub fn parse(raw: &str) -> Option<StationId> {
        let s = raw.trim();
        if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: i64 = s.parse().ok()?;
        (v > 0).then_some(StationId(v))
    }

    pub fn new(v: i64) -> Option<StationId> {
        (1..1_000_000_000).contains(&v).then_some(StationId(v))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for StationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `pop`: R (road), A (autoroute = motorway); one old file has N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoadType {
    Road,
    Motorway,
    Unknown,
}

impl RoadType {
    pub fn from_feed(raw: &str) -> RoadType {
        match raw.trim() {
            "R" | "r" => RoadType::Road,
            "A" | "a" => RoadType::Motorway,
            _ => RoadType::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RoadType::Road => "road",
            RoadType::Motorway => "motorway",
            RoadType::Unknown => "unknown",
        }
    }

    pub fn from_db(s: &str) -> RoadType {
        match s {
            "road" => RoadType::Road,
            "motorway" => RoadType::Motorway,
            _ => RoadType::Unknown,
        }
    }
}

/// `<rupture type>`: `temporaire`, `definitive`, or empty (and absent in old files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShortageKind {
    Temporary,
    Permanent,
    Unknown,
}

impl ShortageKind {
    pub fn from_feed(raw: &str) -> ShortageKind {
        match raw.trim().to_ascii_lowercase().as_str() {
            "temporaire" => ShortageKind::Temporary,
            "definitive" | "définitive" => ShortageKind::Permanent,
            _ => ShortageKind::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ShortageKind::Temporary => "temporary",
            ShortageKind::Permanent => "permanent",
            ShortageKind::Unknown => "unknown",
        }
    }

    pub fn from_db(s: &str) -> ShortageKind {
        match s {
            "temporary" => ShortageKind::Temporary,
            "permanent" => ShortageKind::Permanent,
            _ => ShortageKind::Unknown,
        }
    }

    /// When the same fuel is listed twice, the more definite kind wins.
    pub fn rank(self) -> u8 {
        match self {
            ShortageKind::Permanent => 2,
            ShortageKind::Temporary => 1,
            ShortageKind::Unknown => 0,
        }
    }
}

/// One opening slot, in minutes since midnight. `close <= open` means it ends after midnight
/// (`06:20`–`01:00`); `open == close` with a closed day is the feed's "24/24 by card" oddity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeSlot {
    /// Minutes since midnight, local time.
    pub open: u16,
    /// Minutes since midnight; not after `open` means past midnight.
    pub close: u16,
}

impl TimeSlot {
    pub fn overnight(&self) -> bool {
        self.close <= self.open
    }
}

/// One day of `<horaires>`: `day` is 1 (Monday) to 7 (Sunday).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayHours {
    /// 1 Monday … 7 Sunday.
    #[schema(minimum = 1, maximum = 7)]
    pub day: u8,
    pub closed: bool,
    pub slots: Vec<TimeSlot>,
}

/// `<horaires>` as published: the days listed, in order. Stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OpeningHours {
    pub days: Vec<DayHours>,
}

impl OpeningHours {
    /// Whether the station is open at `minute` (after midnight) of `day` (1 = Monday), Paris
    /// time. A slot that closes at or before it opens runs past midnight; open = close is round
    /// the clock. `None` when the hours say nothing (no slot on any day).
    pub fn is_open(&self, day: u8, minute: u16) -> Option<bool> {
        // The feed often lists the days with no slot at all: that says nothing.
        if self.days.iter().all(|d| d.slots.is_empty()) {
            return None;
        }
        let prev = if day == 1 { 7 } else { day - 1 };
        let today = self.days.iter().find(|d| d.day == day);
        let yesterday = self.days.iter().find(|d| d.day == prev);
        let open_today = today.is_some_and(|d| {
            !d.closed
                && d.slots.iter().any(|s| {
                    if s.open == s.close {
                        true
                    } else if s.overnight() {
                        minute >= s.open
                    } else {
                        (s.open..s.close).contains(&minute)
                    }
                })
        });
        let from_yesterday = yesterday.is_some_and(|d| {
            !d.closed && d.slots.iter().any(|s| s.overnight() && s.open != s.close && minute < s.close)
        });
        Some(open_today || from_yesterday)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_ids() {
        assert_eq!(StationId::parse("6110002").unwrap().get(), 6110002);
        assert_eq!(StationId::parse(" 92330002 ").unwrap().get(), 92330002);
        for bad in ["", "0", "-1", "12a", "1234567890"] {
            assert!(StationId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(RoadType::from_feed("A"), RoadType::Motorway);
        assert_eq!(RoadType::from_feed("N"), RoadType::Unknown);
        assert_eq!(ShortageKind::from_feed("temporaire"), ShortageKind::Temporary);
        assert_eq!(ShortageKind::from_feed("definitive"), ShortageKind::Permanent);
        assert_eq!(ShortageKind::from_feed(""), ShortageKind::Unknown);
    }
}
