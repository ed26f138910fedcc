//! Carburoam: find the cheapest fuel near you in France, from the official open-data feed.
//!
//! The crate is laid out by layer: [`domain`] types parsed once at the edge, [`feed`] (download,
//! unzip, parse — pure — and load), [`db`] (one SQL text over SQLite and PostgreSQL), [`etl`]
//! (the scheduled job and its lease), [`services`] (accounts, the console's actions, cleaning,
//! notifications), [`web`] (router and routes) and the [`cli`].

pub mod alerts;
pub mod auth;
pub mod backup;
pub mod bench;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod email;
pub mod error;
pub mod etl;
pub mod feed;
pub mod history;
pub mod index;
pub mod names;
pub mod route;
pub mod services;
pub mod startup;
pub mod telemetry;
pub mod text;
pub mod tls;
pub mod web;
