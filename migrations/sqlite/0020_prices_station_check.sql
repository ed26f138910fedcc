-- Current prices checked against their station once per file (issue 21), SQLite flavour. Keep in
-- step with migrations/postgres/0020_prices_station_check.sql.
--
-- Nothing to change here: SQLite's imports already run without per-row foreign-key checks
-- (`Db::begin_import`), and dropping a constraint would mean rebuilding the prices table. The
-- file exists so that both folders hold the same migrations.
SELECT 1;
