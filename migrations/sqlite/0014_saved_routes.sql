-- Route search for accounts (issue 20), SQLite flavour. Keep in step with
-- migrations/postgres/0014_saved_routes.sql.

-- The user's vehicle: the route form's defaults (fuel, litres to buy = the tank, L/100 km).
CREATE TABLE user_vehicles (
    user_id      BIGINT   PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    fuel         SMALLINT NOT NULL,
    tank_litres  REAL     NOT NULL,
    consumption  REAL     NOT NULL,
    updated_at   BIGINT   NOT NULL
);

-- Routes a user saved ("home → work"): the places as typed, the fuel, and the routed points
-- (`lat,lon;…`, at most 1,000) so that `/me` ranks their stations with no engine call.
CREATE TABLE saved_routes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT     NOT NULL,
    from_label   TEXT     NOT NULL,
    to_label     TEXT     NOT NULL,
    -- The via points as typed, one per line.
    via_labels   TEXT     NOT NULL,
    fuel         SMALLINT NOT NULL,
    points       TEXT     NOT NULL,
    distance_km  REAL     NOT NULL,
    created_at   BIGINT   NOT NULL
);
CREATE INDEX saved_routes_user ON saved_routes (user_id);
