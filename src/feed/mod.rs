//! The official fuel-price feed: fetch it, open it, parse it, load it.
//!
//! `download` → `archive` (sniff, unzip with caps) → `parse` (pure, DB-free) → `load` (one
//! transaction). Only `load` touches the database.

pub mod archive;
pub mod download;
pub mod error;
pub mod load;
pub mod model;
pub mod parse;
pub mod synth;
mod text;

pub use error::FeedError;
pub use crate::domain::Rejection;
pub use model::{FeedKind, FeedPrice, FeedShortage, FeedStation, ParsedFeed};
