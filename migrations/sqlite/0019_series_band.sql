-- The daily series' percentile band, sqlite flavour. Keep in step with
-- migrations/postgres/0019_series_band.sql.

-- Each cell's prices as a histogram (price in thousandths → number of stations), encoded as in
-- src/domain/histogram.rs: an import moves it by the prices it adds and removes, and the 10th
-- and 90th percentiles (nearest rank), stored beside it for the charts, follow exactly. The
-- rows written before it have no histogram: they are deleted here and computed again, by
-- `serve` at its start or by the next import (an empty series is computed whole).
ALTER TABLE price_series ADD COLUMN hist BLOB NOT NULL DEFAULT x'';
ALTER TABLE price_series ADD COLUMN p10 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE price_series ADD COLUMN p90 INTEGER NOT NULL DEFAULT 0;
DELETE FROM price_series;
