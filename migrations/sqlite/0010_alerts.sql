-- Price alerts and the weekly digest (issue 13), SQLite flavour. Keep in step with
-- migrations/postgres/0010_alerts.sql. Times are Unix seconds (UTC), prices thousandths of a euro.

-- What a user asks to be told. `kind`: `threshold` (fuel at or under `price`, at one of the
-- user's stations, or within `radius_km` of a place when `latitude` is set), `drop` (a station
-- of the user's drops by at least `drop_by`), `cheapest` (the cheapest of the user's stations
-- for `fuel` is now another one), `digest` (weekly, `weekday` 1 = Monday, `hour` Europe/Paris).
CREATE TABLE alert_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT     NOT NULL,
    fuel        SMALLINT,
    price       INTEGER,
    drop_by     INTEGER,
    place       TEXT,
    latitude    REAL,
    longitude   REAL,
    radius_km   REAL,
    -- The place's bounding box (radius included), for the index below.
    min_lat     REAL,
    max_lat     REAL,
    min_lon     REAL,
    max_lon     REAL,
    weekday     SMALLINT,
    hour        SMALLINT,
    -- Digest: the next time it is due.
    next_run_at BIGINT,
    paused      BOOLEAN  NOT NULL DEFAULT FALSE,
    created_at  BIGINT   NOT NULL
);
CREATE INDEX alert_rules_user_fuel ON alert_rules (user_id, fuel);
CREATE INDEX alert_rules_place ON alert_rules (fuel, min_lat) WHERE latitude IS NOT NULL;
CREATE INDEX alert_rules_digest ON alert_rules (next_run_at) WHERE kind = 'digest';

-- Quiet hours (minutes after midnight, Europe/Paris) and the daily cap; absent: the defaults.
CREATE TABLE alert_settings (
    user_id      BIGINT   PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    quiet_start  SMALLINT NOT NULL,
    quiet_end    SMALLINT NOT NULL,
    daily_cap    SMALLINT NOT NULL
);

-- Where messages go: `email` (the account's address), `ntfy` (`target` = topic URL, `secret` =
-- optional access token, never shown nor logged), `push` (the user's push subscriptions).
CREATE TABLE alert_channels (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind               TEXT    NOT NULL,
    target             TEXT,
    secret             TEXT,
    paused             BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT  NOT NULL,
    last_delivered_at  BIGINT,
    last_error         TEXT,
    last_error_at      BIGINT,
    -- First failure of the current streak: 7 days of it pause the channel.
    failing_since      BIGINT,
    delivered_count    BIGINT  NOT NULL DEFAULT 0,
    failed_count       BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (user_id, kind)
);

-- Prices an import changed, written in the import's transaction, consumed by the engine.
CREATE TABLE alert_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id  BIGINT   NOT NULL,
    fuel        SMALLINT NOT NULL,
    old_price   INTEGER  NOT NULL,
    new_price   INTEGER  NOT NULL,
    changed_at  BIGINT   NOT NULL,
    created_at  BIGINT   NOT NULL
);

-- One row per (rule, price change) already turned into a message: never twice.
CREATE TABLE alert_dedup (
    rule_id     BIGINT   NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    station_id  BIGINT   NOT NULL,
    fuel        SMALLINT NOT NULL,
    changed_at  BIGINT   NOT NULL,
    created_at  BIGINT   NOT NULL,
    PRIMARY KEY (rule_id, station_id, fuel, changed_at)
);

-- One message to a user (several triggers coalesced), `kind` alert, digest, test or notice;
-- `payload` JSON. `sealed`: a delivery started, nothing more may be merged into it.
CREATE TABLE alert_messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    deliver_after  BIGINT  NOT NULL,
    sealed         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX alert_messages_user ON alert_messages (user_id, created_at);

-- One row per message and channel to deliver. `state`: pending, sending (claimed until
-- `lease_until` by `claimed_by`), sent, failed.
CREATE TABLE alert_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id       BIGINT  NOT NULL REFERENCES alert_messages (id) ON DELETE CASCADE,
    channel_id       BIGINT  NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    claimed_by       TEXT,
    lease_until      BIGINT,
    sent_at          BIGINT,
    last_error       TEXT,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_at);
CREATE INDEX alert_outbox_message ON alert_outbox (message_id);

-- Alert messages per user and Europe/Paris day (YYYYMMDD), for the daily cap.
CREATE TABLE alert_daily (
    user_id  BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day      INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (user_id, day)
);

-- One-click unsubscribe links: SHA-256 of the random token; a token pauses only its rules.
CREATE TABLE alert_unsubscribe (
    token_hash  TEXT    NOT NULL,
    rule_id     BIGINT  NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (token_hash, rule_id)
);
