//! Domain types: parsed once at the edge, trusted everywhere else.

mod account;
mod alert;
mod department;
mod feed_kind;
mod fuel;
pub mod geo;
pub mod histogram;
mod ids;
mod lang;
mod price;
mod rejection;
pub mod savings;
mod search;
pub mod series;
mod station;
pub mod station_name;
pub(crate) mod time;
mod trigger;

pub use account::{
    AccountInputError, DisplayName, EmailAddress, MIN_PASSWORD_CHARS, NewPassword, Password, PasswordAdvice, Username,
};
pub use alert::{ChannelKind, MessageKind, RuleKind};
pub use department::{department_label, department_name};
pub use feed_kind::FeedKind;
pub use fuel::{Fuel, UnknownFuel};
pub use ids::{
    AuditId, ChannelId, MessageId, OutboxId, PushSubscriptionId, ResetCodeId, RuleId, RunId, SavedRouteId, UserId,
};
pub use lang::{LANG_COOKIE, Lang};
pub use price::{Price, PriceError};
pub use rejection::Rejection;
pub use search::{MAX_SEARCH_CHARS, MAX_SEARCH_WORDS, SearchText, SearchTextError, search_echo};
pub use station::{DayHours, OpeningHours, RoadType, ShortageKind, StationId, TimeSlot};
pub use time::{DAY, ParisTimeError, paris_local_to_utc, parse_every, rfc3339};
pub use trigger::Trigger;
