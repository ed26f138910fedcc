//! Station names from OpenStreetMap: the brand and name of every station.
//!
//! OpenStreetMap maps French fuel stations with `ref:FR:prix-carburants=<feed id>` beside
//! `brand`, `name`, `operator`. This module reads them from an Overpass answer (JSON or CSV,
//! [`parse`]), downloaded ([`overpass`]) or from a file, canonicalises the brands with the
//! name-suggestion-index ([`canonical`]) and replaces the `station_names` table in one
//! transaction (`crate::db::station_names`). The data is © OpenStreetMap contributors, ODbL.

pub mod canonical;
pub mod import;
pub mod overpass;
pub mod parse;
pub mod schedule;

pub use import::{ImportNamesError, NamesImportOptions, NamesReport, import_bytes, import_source};
