//! Records of a feed file that were not loaded as such: produced by the parser, stored with the
//! run by the database layer (both point down here, neither at the other).

use super::{Fuel, StationId};

/// A record of the file that was not loaded as such, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub station_id: Option<StationId>,
    pub fuel: Option<Fuel>,
    /// The offending raw value (attribute or text), shortened to 200 characters.
    pub value: String,
    pub reason: String,
}
