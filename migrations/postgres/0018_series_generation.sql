-- The daily averages' generation, postgres flavour. Keep in step with
-- migrations/sqlite/0018_series_generation.sql.

-- Moves each time the whole series is computed again (`carburoam series rebuild`, or `serve`
-- computing a missing series): part of the data version the pages are cached by, so that the
-- servers sharing the database drop the pages built from the previous series. Imports move the
-- data version by their own run.
ALTER TABLE price_series_state ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
