-- Operations, PostgreSQL flavour. Keep in step with migrations/sqlite/0003_operations.sql.

-- Every action of an administrator (in the console or on the command line), kept even when the
-- admin or the user acted on is deleted (no foreign keys: names are copied).
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT  NOT NULL,
    actor_id    BIGINT,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_id   BIGINT,
    target      TEXT,
    detail      TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_target ON audit_log (target_id);

-- Requests per day and route pattern (`/stations/{id}`), counted in memory and added here about
-- once a minute. No cookie, no address, no user: only how much each page and endpoint is used.
CREATE TABLE usage_daily (
    day     BIGINT  NOT NULL,
    route   TEXT    NOT NULL,
    api     BOOLEAN NOT NULL,
    count   BIGINT  NOT NULL,
    PRIMARY KEY (day, route)
);

-- What a run did, step by step, as shown on its page in the admin console.
ALTER TABLE etl_runs ADD COLUMN log TEXT;
