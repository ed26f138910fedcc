//! Integration tests: one binary (fast to link), one module per area. Every database test runs
//! on SQLite and, when `TEST_POSTGRES_URL` is set, on PostgreSQL, each in a fresh database.

mod helpers;

db_test!(migrations_apply, |t| {
    t.db.ping().await.expect("ping");
    // Applying the migrations again is a no-op.
    t.db.migrate().await.expect("migrate twice");
});
