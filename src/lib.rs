//! Carburoam: find the cheapest fuel near you in France, from the official open-data feed.
//!
//! The crate is laid out by layer: [`domain`] types parsed once at the edge, [`feed`] (download,
//! unzip, parse — pure — and load), [`db`] (one SQL text over SQLite and PostgreSQL), [`etl`]
//! (the scheduled job and its lease), [`web`] (router and routes) and the [`cli`].

pub mod bench;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod etl;
pub mod feed;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
