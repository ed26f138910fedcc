//! The official fuel-price feed: fetch it, open it, parse it, load it.
//!
//! `download` → `archive` (sniff, unzip with caps) → `parse` (pure, DB-free) → `load` (the
//! writer, one transaction), driven by `import` (one pass over the file, the run recorded), the one
//! public entry: [`import_file`], [`import_bytes`]; the step after imports is
//! [`crate::etl::AfterImport`]. Only `load` and `import` touch the database; `report` holds the
//! types both share.

pub mod archive;
pub mod download;
pub mod error;
pub mod import;
pub mod load;
pub mod model;
pub mod parse;
mod report;
pub mod synth;
mod text;

pub use crate::domain::Rejection;
pub use error::FeedError;
pub use import::{ImportError, ImportOptions, ImportReport, Progress, import_bytes, import_file};
pub use model::{FeedKind, FeedPrice, FeedShortage, FeedStation, ParsedFeed};
