-- "Send a test" limits (issue 19, hole 2), PostgreSQL flavour. Keep in step with
-- migrations/sqlite/0012_alert_test_sends.sql. Times are Unix seconds (UTC).

-- One row per test message a user asked for, by channel kind (`email`, `ntfy`, `push`): the
-- limits (per channel an hour, per user a day) count these rows, in the database, so every
-- instance shares them. Rows older than a day are deleted as the user's next test is counted.
CREATE TABLE alert_test_sends (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id  BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind     TEXT    NOT NULL,
    sent_at  BIGINT  NOT NULL
);
CREATE INDEX alert_test_sends_user ON alert_test_sends (user_id, sent_at);

-- One row per user who asked for a test, updated first by each request: two requests at once,
-- on any instance, are counted one after the other (the row lock; SQLite: its write lock).
CREATE TABLE alert_test_gate (
    user_id   BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    requests  BIGINT NOT NULL
);
