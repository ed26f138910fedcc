//! Integration tests: one binary (fast to link), one module per area. Every database test runs
//! on SQLite and, when `TEST_POSTGRES_URL` is set, on PostgreSQL, each in a fresh database.

mod helpers;

mod accounts;
mod admin;
mod alerts;
mod alerts_account;
mod alerts_bench;
mod alerts_routes;
mod api;
mod app;
mod archive_scale;
mod backfill;
mod backup;
mod cli;
mod index;
mod look;
mod page_cache;
mod pages;
mod push;
mod route;
mod route_page;
mod route_valhalla;
mod security_accounts;
mod security_alerts;
mod security_net;
mod security_search;
mod security_web;
mod seed;
mod series;
mod texts;

mod download;
mod email;
mod leases;
mod load;
mod names;
mod names_web;
mod offline;
mod ops;
mod parse;
mod raw_skip;
mod real_data;
mod smtp;

db_test!(migrations_apply, |t| {
    t.db.ping().await.expect("ping");
    // Applying the migrations again is a no-op.
    t.db.migrate().await.expect("migrate twice");
});
