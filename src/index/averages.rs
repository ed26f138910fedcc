//! Average current prices per fuel, nationally or in one département: their definition.
//!
//! They are computed when the in-memory price index is built ([`crate::index`]) rather than by an
//! SQL `AVG(price) … GROUP BY fuel` (~200 ms over the national table), with the same definition:
//! every current price updated at or after a time, at stations still in the feed, summed as
//! integers and divided once, like SQLite's `AVG` over integers.

use crate::domain::Fuel;

/// What "today's" averages of the station page count: prices updated within this many seconds
/// before the newest snapshot (a week).
pub const AVERAGE_WINDOW_SECS: i64 = 7 * 86_400;

/// The average current price of one fuel over the stations that count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FuelAverage {
    pub fuel: i16,
    /// Thousandths of a euro, not rounded.
    pub average: f64,
    pub stations: i64,
}

/// Sums of prices per fuel, turned into [`FuelAverage`]s at the end.
#[derive(Debug, Clone, Copy, Default)]
pub struct Averager {
    /// (sum of prices, count) by fuel id − 1. An `i64` sum cannot overflow: 10⁵ stations at
    /// 3,500 thousandths is 3.5 × 10⁸.
    sums: [(i64, i64); Fuel::ALL.len()],
}

impl Averager {
    pub fn add(&mut self, fuel: Fuel, price: i32) {
        // Fuel ids are 1 to 6.
        let slot = &mut self.sums[(fuel.id() - 1) as usize];
        slot.0 += i64::from(price);
        slot.1 += 1;
    }

    /// One average per fuel that had a price, in fuel id order (what `GROUP BY fuel ORDER BY
    /// fuel` returned). The quotient of the exact integer sum is the correctly rounded double,
    /// as SQLite's; PostgreSQL's `AVG` goes through `numeric` and may differ in the last bit.
    pub fn finish(&self) -> Vec<FuelAverage> {
        Fuel::ALL
            .iter()
            .zip(&self.sums)
            .filter(|(_, (_, n))| *n > 0)
            .map(|(fuel, (sum, n))| FuelAverage { fuel: fuel.id(), average: *sum as f64 / *n as f64, stations: *n })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_in_fuel_order() {
        let mut a = Averager::default();
        a.add(Fuel::SP98, 1900);
        a.add(Fuel::Gazole, 1700);
        a.add(Fuel::Gazole, 1701);
        assert_eq!(
            a.finish(),
            [
                FuelAverage { fuel: 1, average: 1700.5, stations: 2 },
                FuelAverage { fuel: 6, average: 1900.0, stations: 1 },
            ]
        );
        assert!(Averager::default().finish().is_empty());
    }
}
