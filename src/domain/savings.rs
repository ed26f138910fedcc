//! What choosing the cheapest of one's stations saves in a year.
//!
//! For one fuel: (average price of the stations − cheapest price) × litres a year. Only prices
//! that count go in (the caller leaves out stale prices and fuels in shortage), never two fuels
//! mixed. Prices are thousandths of a euro, results euros.

/// The savings figure of one fuel, with what it was computed from (shown to the user).
#[derive(Debug, Clone, PartialEq)]
pub struct Saving {
    /// Mean of the prices, thousandths of a euro.
    pub average: f64,
    pub cheapest: i32,
    pub stations: usize,
    pub litres: i32,
    /// Euros a year.
    pub per_year: f64,
}

/// `None` with fewer than two prices: there is nothing to compare.
pub fn saving(prices: &[i32], litres: i32) -> Option<Saving> {
    if prices.len() < 2 {
        return None;
    }
    let cheapest = *prices.iter().min()?;
    let average = prices.iter().map(|p| f64::from(*p)).sum::<f64>() / prices.len() as f64;
    Some(Saving { average, cheapest, stations: prices.len(), litres, per_year: per_year(average, cheapest, litres) })
}

/// (reference − cheapest) × litres, in euros. Negative when the cheapest is dearer than the
/// reference.
pub fn per_year(reference: f64, cheapest: i32, litres: i32) -> f64 {
    (reference - f64::from(cheapest)) / 1000.0 * f64::from(litres)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures() {
        assert_eq!(saving(&[1739], 650), None);
        let s = saving(&[1739, 1789, 1839], 650).expect("three prices");
        assert_eq!(s.cheapest, 1739);
        assert!((s.average - 1789.0).abs() < 1e-9);
        assert!((s.per_year - 32.5).abs() < 1e-9, "{}", s.per_year);
        assert!((per_year(1700.0, 1739, 1000) + 39.0).abs() < 1e-9);
    }
}
