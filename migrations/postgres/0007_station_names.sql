-- Station names from OpenStreetMap, PostgreSQL flavour. Keep in step with
-- migrations/sqlite/0007_station_names.sql.

-- One row per feed station that an OpenStreetMap object names (tag `ref:FR:prix-carburants`).
-- Feed data is never overwritten: names live here, replaced as a whole by each import.
-- `brand` is the canonical brand (name-suggestion-index), `osm_brand` the brand as mapped.
CREATE TABLE station_names (
    station_id      BIGINT  PRIMARY KEY REFERENCES stations (id) ON DELETE CASCADE,
    brand           TEXT,
    brand_wikidata  TEXT,
    osm_brand       TEXT,
    name            TEXT,
    operator        TEXT,
    branch          TEXT,
    -- `node`, `way` or `relation` and its id; NULL for a CSV source (it does not say).
    osm_type        TEXT,
    osm_id          BIGINT,
    -- Every OSM tag of the object as a JSON object (for a CSV source: its columns).
    tags            TEXT    NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX station_names_brand ON station_names (brand);

-- Every successful names import, for the admin data page and the coverage guard.
CREATE TABLE names_imports (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source              TEXT    NOT NULL,
    trigger             TEXT    NOT NULL,
    finished_at         BIGINT  NOT NULL,
    duration_ms         BIGINT  NOT NULL,
    rows_read           BIGINT  NOT NULL,
    stations_named      BIGINT  NOT NULL,
    refs_unknown        BIGINT  NOT NULL,
    refs_invalid        BIGINT  NOT NULL,
    rows_without_ref    BIGINT  NOT NULL,
    -- Coverage = stations of the current feed (missing_since IS NULL) with a brand.
    stations_current    BIGINT  NOT NULL,
    branded_before      BIGINT  NOT NULL,
    branded_after       BIGINT  NOT NULL,
    forced              BOOLEAN NOT NULL
);
