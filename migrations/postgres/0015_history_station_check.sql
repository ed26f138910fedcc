-- History rows checked against their station once per batch, not per row (issue 21), PostgreSQL
-- flavour. Keep in step with migrations/sqlite/0015_history_station_check.sql.
--
-- The foreign key ran one parent lookup (a trigger) per inserted history point: half of the
-- time of a yearly archive's 1–4 million rows. The loader writes every station before the rows
-- that reference it, in the import's transaction, and stations are never deleted; it now checks
-- each batch of history rows with one set-based query and refuses the file when a row names no
-- station (`feed::load::bulk`). `tests/it/archive_scale.rs` counts orphans after imports of
-- every kind, on both backends.
ALTER TABLE price_history DROP CONSTRAINT IF EXISTS price_history_station_id_fkey;
