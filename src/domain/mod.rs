//! Domain types: parsed once at the edge, trusted everywhere else.

mod fuel;
mod price;
mod station;
mod time;

pub use fuel::{Fuel, UnknownFuel};
pub use price::{Price, PriceError};
pub use station::{DayHours, OpeningHours, RoadType, ShortageKind, StationId, TimeSlot};
pub use time::{ParisTimeError, paris_local_to_utc};
