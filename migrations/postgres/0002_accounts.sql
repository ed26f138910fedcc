-- Accounts, PostgreSQL flavour. Keep in step with migrations/sqlite/0002_accounts.sql.
-- Times are Unix seconds (UTC). Secrets (session ids, reset codes, confirmation tokens) are
-- stored as SHA-256 hex digests, passwords as argon2id PHC strings: a copy of the database
-- gives no way to log in.

CREATE TABLE users (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- As typed at registration; `username_key` (lower case) makes "Alice" and "alice" one name.
    username            TEXT    NOT NULL,
    username_key        TEXT    NOT NULL UNIQUE,
    display_name        TEXT    NOT NULL,
    email               TEXT    NOT NULL,
    email_key           TEXT    NOT NULL UNIQUE,
    password_hash       TEXT    NOT NULL,
    is_admin            BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_at         BIGINT,
    lang                TEXT    NOT NULL DEFAULT 'fr',
    litres_per_year     INTEGER NOT NULL DEFAULT 650,
    created_at          BIGINT  NOT NULL,
    last_login_at       BIGINT,
    password_changed_at BIGINT  NOT NULL,
    -- Failed logins since the last success; from the 10th, logins wait until `login_blocked_until`.
    failed_logins       INTEGER NOT NULL DEFAULT 0,
    login_blocked_until BIGINT
);

CREATE TABLE user_fuels (
    user_id  BIGINT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    fuel     SMALLINT NOT NULL,
    PRIMARY KEY (user_id, fuel)
);

-- The stations a user follows, in the user's order, each with an optional name of their own.
CREATE TABLE user_stations (
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    station_id  BIGINT  NOT NULL REFERENCES stations (id),
    name        TEXT,
    position    INTEGER NOT NULL,
    added_at    BIGINT  NOT NULL,
    PRIMARY KEY (user_id, station_id)
);
CREATE INDEX user_stations_station ON user_stations (station_id);

CREATE TABLE sessions (
    id_hash       TEXT    PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    last_seen_at  BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    -- "Remember me": the cookie outlives the browser session.
    persistent    BOOLEAN NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE reset_codes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    used_at     BIGINT,
    -- Set when a newer code replaced this one before it was used.
    revoked_at  BIGINT
);
CREATE INDEX reset_codes_user ON reset_codes (user_id, created_at);

CREATE TABLE email_changes (
    token_hash  TEXT    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    new_email   TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX email_changes_user ON email_changes (user_id);
