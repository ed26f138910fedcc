//! Price history from the official archives: the backfill of yearly and daily files.

pub mod backfill;
