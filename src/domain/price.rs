use std::fmt;

use serde::{Serialize, Serializer};

use super::Fuel;

/// A fuel price in thousandths of a euro per litre (1.739 € → 1739).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Price(i32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("price {0:?} is not a number")]
    NotANumber(String),
    #[error("price {value} € is outside the plausible range for {fuel} ({min}–{max} €)")]
    Implausible { fuel: Fuel, value: String, min: String, max: String },
}

impl Price {
    pub fn from_milli(milli: i32) -> Price {
        Price(milli)
    }

    pub fn milli(self) -> i32 {
        self.0
    }

    pub fn euros(self) -> f64 {
        f64::from(self.0) / 1000.0
    }

    /// Parses the feed's `valeur`: euros with a decimal point since 2015 (`1.739`), thousandths
    /// before (`1739`). No float rounding: the digits are read as they are written.
    pub fn parse_feed(raw: &str) -> Result<Price, PriceError> {
        let s = raw.trim();
        let bad = || PriceError::NotANumber(raw.to_owned());
        if s.is_empty() || s.len() > 12 {
            return Err(bad());
        }
        let (int, frac) = match s.split_once(['.', ',']) {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let int: i32 = int.parse().map_err(|_| bad())?;
        match frac {
            None => Ok(Price(int)), // pre-2015 files: already thousandths
            Some(f) => {
                if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let mut milli = 0i32;
                for (i, b) in f.bytes().chain(std::iter::repeat(b'0')).take(3).enumerate() {
                    let _ = i;
                    milli = milli * 10 + i32::from(b - b'0');
                }
                // A fourth decimal is rounded half up (never seen, but do not truncate silently).
                if f.len() > 3 && f.as_bytes()[3] >= b'5' {
                    milli += 1;
                }
                int.checked_mul(1000).and_then(|v| v.checked_add(milli)).map(Price).ok_or_else(bad)
            }
        }
    }

    /// Checks the price against the plausible range of its fuel.
    pub fn validate_for(self, fuel: Fuel) -> Result<Price, PriceError> {
        let range = fuel.plausible_range();
        if range.contains(&self.0) {
            Ok(self)
        } else {
            Err(PriceError::Implausible {
                fuel,
                value: self.to_string(),
                min: Price(*range.start()).to_string(),
                max: Price(*range.end()).to_string(),
            })
        }
    }
}

impl fmt::Display for Price {
    /// `1.739`: the feed's own notation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:03}", a / 1000, a % 1000)
    }
}

impl Serialize for Price {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.euros())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_eras() {
        assert_eq!(Price::parse_feed("1.739").unwrap().milli(), 1739);
        assert_eq!(Price::parse_feed("1.7").unwrap().milli(), 1700);
        assert_eq!(Price::parse_feed("1255").unwrap().milli(), 1255);
        assert_eq!(Price::parse_feed("0.001").unwrap().milli(), 1);
        assert_eq!(Price::parse_feed("1.7395").unwrap().milli(), 1740);
        for bad in ["", "abc", "1.", ".5", "-1.2", "1.2.3", "1e3", "99999999999999"] {
            assert!(Price::parse_feed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_placeholders_and_typos() {
        for (fuel, v) in
            [(Fuel::Gazole, "0.001"), (Fuel::SP98, "9.999"), (Fuel::SP98, "7.849"), (Fuel::Gazole, "0.745")]
        {
            let p = Price::parse_feed(v).unwrap();
            assert!(p.validate_for(fuel).is_err(), "{fuel} {v}");
        }
        assert!(Price::parse_feed("0.745").unwrap().validate_for(Fuel::E85).is_ok());
        assert!(Price::parse_feed("1.849").unwrap().validate_for(Fuel::SP98).is_ok());
        assert_eq!(Price::from_milli(1739).to_string(), "1.739");
        assert_eq!(Price::from_milli(905).to_string(), "0.905");
    }
}
