-- Web Push, SQLite flavour. Keep in step with migrations/postgres/0011_web_push.sql.
-- Times are Unix seconds (UTC).

-- The instance's VAPID key pair (RFC 8292), made at first start: one row, shared by every
-- instance over this database. Keys are base64url without padding: the P-256 private scalar
-- (32 bytes, a secret: never logged nor shown) and the uncompressed public point (65 bytes,
-- what browsers get as `applicationServerKey`).
CREATE TABLE push_vapid (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    private_key TEXT    NOT NULL,
    public_key  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- A browser or phone where a user turned notifications on (a `PushSubscription`). The endpoint
-- is the push service's capability URL for that device: one row per endpoint, owned by the user
-- who subscribed last on it. `p256dh` (65-byte P-256 point) and `auth` (16 bytes) are the
-- device's keys, base64url. Deleted when the push service answers 404 or 410.
CREATE TABLE push_subscriptions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint        TEXT    NOT NULL UNIQUE,
    p256dh          TEXT    NOT NULL,
    auth            TEXT    NOT NULL,
    user_agent      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    last_success_at BIGINT,
    last_error_at   BIGINT,
    last_error      TEXT
);

CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
