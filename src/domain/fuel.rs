use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The six fuels of the official feed, with the feed's fixed numeric ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Fuel {
    Gazole,
    SP95,
    E85,
    GPLc,
    E10,
    SP98,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown fuel {0:?} (expected one of Gazole, SP95, E85, GPLc, E10, SP98)")]
pub struct UnknownFuel(pub String);

impl Fuel {
    pub const ALL: [Fuel; 6] = [Fuel::Gazole, Fuel::SP95, Fuel::E85, Fuel::GPLc, Fuel::E10, Fuel::SP98];

    /// The feed's numeric id (Gazole 1, SP95 2, E85 3, GPLc 4, E10 5, SP98 6), also the stored value.
    pub fn id(self) -> i16 {
        match self {
            Fuel::Gazole => 1,
            Fuel::SP95 => 2,
            Fuel::E85 => 3,
            Fuel::GPLc => 4,
            Fuel::E10 => 5,
            Fuel::SP98 => 6,
        }
    }

    pub fn from_id(id: i64) -> Option<Fuel> {
        Some(match id {
            1 => Fuel::Gazole,
            2 => Fuel::SP95,
            3 => Fuel::E85,
            4 => Fuel::GPLc,
            5 => Fuel::E10,
            6 => Fuel::SP98,
            _ => return None,
        })
    }

    /// The name used by the feed and the API.
    pub fn name(self) -> &'static str {
        match self {
            Fuel::Gazole => "Gazole",
            Fuel::SP95 => "SP95",
            Fuel::E85 => "E85",
            Fuel::GPLc => "GPLc",
            Fuel::E10 => "E10",
            Fuel::SP98 => "SP98",
        }
    }

    /// Plausible retail price range in thousandths of a euro per litre (inclusive).
    ///
    /// Anything outside is a placeholder (0.001, 9.999) or a typo (7.849 for 1.849, 0.745 for 1.745)
    /// and is never stored as a current price. Ethanol and LPG are taxed far less than petrol and
    /// diesel, so their floor is lower. The ceiling leaves room for a 2022-like crisis and more.
    pub fn plausible_range(self) -> std::ops::RangeInclusive<i32> {
        match self {
            Fuel::Gazole | Fuel::SP95 | Fuel::E10 | Fuel::SP98 => 900..=3500,
            Fuel::E85 | Fuel::GPLc => 400..=2500,
        }
    }
}

impl fmt::Display for Fuel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fuel {
    type Err = UnknownFuel;

    /// Accepts the feed's names case-insensitively, and the numeric id.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Fuel::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(t))
            .or_else(|| t.parse::<i64>().ok().and_then(Fuel::from_id))
            .ok_or_else(|| UnknownFuel(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for f in Fuel::ALL {
            assert_eq!(Fuel::from_id(f.id().into()), Some(f));
            assert_eq!(f.name().parse::<Fuel>().unwrap(), f);
        }
        assert!("diesel".parse::<Fuel>().is_err());
        assert_eq!("gplc".parse::<Fuel>().unwrap(), Fuel::GPLc);
        assert_eq!("5".parse::<Fuel>().unwrap(), Fuel::E10);
    }
}
