-- Daily average prices (issue 12), sqlite flavour. Keep in step with
-- migrations/postgres/0009_price_series.sql.

-- One row per fuel, area and day: `area` is a département code (`75`, `2A`, `971`) or `FR`
-- for the whole country; `day` the Paris calendar day as days since 1970-01-01. The average of
-- a day is the mean of the prices in effect at the end of that day (Paris time) over the
-- stations whose price was set at most 30 days before; `stations` counts them (a day with none
-- has no row). Prices in thousandths of a euro. Written by every import for the days it touched
-- (src/db/series.rs); `carburoam series rebuild` recomputes it all.
CREATE TABLE price_series (
    fuel       SMALLINT NOT NULL,
    area       TEXT     NOT NULL,
    day        INTEGER  NOT NULL,
    average    INTEGER  NOT NULL,
    stations   INTEGER  NOT NULL,
    min_price  INTEGER  NOT NULL,
    max_price  INTEGER  NOT NULL,
    PRIMARY KEY (fuel, area, day)
) WITHOUT ROWID;
-- Every area on one day (the département table of the trends page).
CREATE INDEX price_series_day ON price_series (fuel, day);

-- One row: when the series was last refreshed. Each refresh updates it first, which makes two
-- imports that overlap (PostgreSQL) compute their days one after the other, the second seeing
-- the first one's history.
CREATE TABLE price_series_state (
    id            INTEGER PRIMARY KEY,
    refreshed_at  BIGINT  NOT NULL
);
INSERT INTO price_series_state (id, refreshed_at) VALUES (1, 0);
