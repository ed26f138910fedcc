//! Integration tests: one binary (fast to link), one module per area. Every database test runs
//! on SQLite and, when `TEST_POSTGRES_URL` is set, on PostgreSQL, each in a fresh database.

mod helpers;

mod api;
mod app;
mod cli;
mod pages;

mod download;
mod leases;
mod load;
mod parse;
mod real_data;

db_test!(migrations_apply, |t| {
    t.db.ping().await.expect("ping");
    // Applying the migrations again is a no-op.
    t.db.migrate().await.expect("migrate twice");
});
