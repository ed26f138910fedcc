//! Price history from the official archives: the backfill of yearly and daily files, the daily
//! series as pages read them, and the cheapest weekday.

pub mod backfill;
pub mod series;
pub mod weekday;
