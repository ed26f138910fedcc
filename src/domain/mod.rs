//! Domain types: parsed once at the edge, trusted everywhere else.

mod account;
mod fuel;
mod price;
pub mod savings;
mod station;
pub mod station_name;
mod time;

pub use account::{
    AccountInputError, DisplayName, EmailAddress, MIN_PASSWORD_CHARS, NewPassword, Password, PasswordAdvice, Username,
};
pub use fuel::{Fuel, UnknownFuel};
pub use price::{Price, PriceError};
pub use station::{DayHours, OpeningHours, RoadType, ShortageKind, StationId, TimeSlot};
pub use time::{ParisTimeError, paris_local_to_utc, rfc3339};
