-- History rows checked against their station once per batch (issue 21), SQLite flavour. Keep in
-- step with migrations/postgres/0015_history_station_check.sql.
--
-- Nothing to change here: SQLite's imports already run without per-row foreign-key checks
-- (`Db::begin_import`), and dropping a constraint would mean rebuilding the history table. The
-- file exists so that both folders hold the same migrations.
SELECT 1;
