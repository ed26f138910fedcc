-- Carburoam schema, PostgreSQL flavour. Keep in step with migrations/sqlite/0001_init.sql:
-- same tables, same columns, same names. Times are Unix seconds (UTC), prices thousandths of a euro.

CREATE TABLE stations (
    id              BIGINT  PRIMARY KEY,
    latitude        DOUBLE PRECISION NOT NULL,
    longitude       DOUBLE PRECISION NOT NULL,
    postcode        TEXT    NOT NULL,
    department      TEXT    NOT NULL,
    city            TEXT    NOT NULL,
    address         TEXT    NOT NULL,
    road_type       TEXT    NOT NULL,
    automate_24_24  BOOLEAN NOT NULL,
    opening_hours   TEXT,
    services        TEXT    NOT NULL,
    content_hash    BIGINT  NOT NULL,
    -- When the station was first and last present in a snapshot. `last_seen_at` is written when
    -- the station changes or goes missing; while `missing_since` is NULL the station is also in
    -- the latest snapshot (see `etl_runs.snapshot_at`), so nothing is rewritten for the
    -- thousands of stations that did not change.
    first_seen_at   BIGINT  NOT NULL,
    last_seen_at    BIGINT  NOT NULL,
    missing_since   BIGINT,
    -- Snapshot time of the file that last set the attributes above (an older file never
    -- overwrites them).
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX stations_lat_lon ON stations (latitude, longitude);
CREATE INDEX stations_department ON stations (department);

CREATE TABLE prices (
    station_id  BIGINT   NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    fuel        SMALLINT NOT NULL,
    price       INTEGER  NOT NULL,
    updated_at  BIGINT   NOT NULL,
    PRIMARY KEY (station_id, fuel)
);
CREATE INDEX prices_fuel_price ON prices (fuel, price);

CREATE TABLE price_history (
    station_id  BIGINT   NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    fuel        SMALLINT NOT NULL,
    at          BIGINT   NOT NULL,
    price       INTEGER  NOT NULL,
    PRIMARY KEY (station_id, fuel, at)
);

CREATE TABLE shortages (
    station_id  BIGINT   NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    fuel        SMALLINT NOT NULL,
    kind        TEXT     NOT NULL,
    since       BIGINT,
    PRIMARY KEY (station_id, fuel)
);

CREATE TABLE etl_runs (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source              TEXT    NOT NULL,
    trigger             TEXT    NOT NULL,
    started_at          BIGINT  NOT NULL,
    finished_at         BIGINT,
    status              TEXT    NOT NULL,
    feed_kind           TEXT,
    file_sha256         TEXT,
    snapshot_at         BIGINT,
    stations_new        INTEGER NOT NULL DEFAULT 0,
    stations_updated    INTEGER NOT NULL DEFAULT 0,
    stations_unchanged  INTEGER NOT NULL DEFAULT 0,
    stations_missing    INTEGER NOT NULL DEFAULT 0,
    prices_changed      INTEGER NOT NULL DEFAULT 0,
    prices_redated      INTEGER NOT NULL DEFAULT 0,
    prices_unchanged    INTEGER NOT NULL DEFAULT 0,
    history_added       INTEGER NOT NULL DEFAULT 0,
    shortages           INTEGER NOT NULL DEFAULT 0,
    rejected            INTEGER NOT NULL DEFAULT 0,
    error               TEXT
);
CREATE INDEX etl_runs_started ON etl_runs (started_at);

CREATE TABLE etl_rejections (
    run_id      BIGINT  NOT NULL REFERENCES etl_runs (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    station_id  BIGINT,
    fuel        SMALLINT,
    value       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- One row per job name: who runs it and until when. Taken with a conditional UPDATE so that
-- several server processes on one database never run the same job at once.
CREATE TABLE job_leases (
    name        TEXT   PRIMARY KEY,
    holder      TEXT,
    expires_at  BIGINT NOT NULL DEFAULT 0,
    acquired_at BIGINT
);

-- Conditional-GET state of each feed URL (ETag / Last-Modified) and the hash of the last
-- file imported from it.
CREATE TABLE feed_sources (
    url            TEXT PRIMARY KEY,
    etag           TEXT,
    last_modified  TEXT,
    sha256         TEXT,
    checked_at     BIGINT NOT NULL
);
