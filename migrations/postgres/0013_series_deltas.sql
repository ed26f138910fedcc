-- Daily averages kept by deltas (issue 21), postgres flavour. Keep in step with
-- migrations/sqlite/0012_series_deltas.sql.

-- The exact sum of the prices of a day (`average` is it divided by `stations`, rounded): an
-- import moves it by what it adds and removes, and the average follows without reading the
-- history again. The rows written before it have no sum: they are deleted here and computed
-- again, by `serve` at its start or by the next import (an empty series is computed whole).
ALTER TABLE price_series ADD COLUMN total BIGINT NOT NULL DEFAULT 0;
DELETE FROM price_series;

-- The last day the series covers (`NULL`: not computed yet), and the Paris day of the newest
-- snapshot loaded: the series covers every day up to the later of it and the newest change
-- point, the same for an import and for `carburoam series rebuild`.
ALTER TABLE price_series_state ADD COLUMN last_day INTEGER;
ALTER TABLE price_series_state ADD COLUMN snapshot_day INTEGER;
