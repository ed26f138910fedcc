-- Issue 9 (account side), SQLite flavour. Keep in step with
-- migrations/postgres/0005_account_throttles.sql.

-- Failed password checks (logins and the current-password checks of /me), counted per login
-- name as typed (normalised, then SHA-256: an unknown name is counted exactly like an existing
-- one) and client address (an IPv6 client by its /64). `client = '*'` is the name's total over
-- every address in a one-hour window: a ceiling far above what one person types.
CREATE TABLE login_failures (
    subject        TEXT    NOT NULL,
    client         TEXT    NOT NULL,
    failures       INTEGER NOT NULL,
    -- Start of the counting window (the total) or of the run of failures (per address).
    first_at       BIGINT  NOT NULL,
    last_at        BIGINT  NOT NULL,
    blocked_until  BIGINT,
    PRIMARY KEY (subject, client)
);
CREATE INDEX login_failures_last ON login_failures (last_at);

-- The client that asked for a reset code (`NULL`: the admin console or the command line), for
-- the per-address allowance under the per-account ceiling.
ALTER TABLE reset_codes ADD COLUMN requested_from TEXT;

-- Wrong tries on a code, per client: a wrong code from one address does not spend the tries of
-- another.
CREATE TABLE reset_code_tries (
    code_id   BIGINT  NOT NULL REFERENCES reset_codes (id) ON DELETE CASCADE,
    client    TEXT    NOT NULL,
    attempts  INTEGER NOT NULL,
    PRIMARY KEY (code_id, client)
);

-- The digest of the secret of the link mailed to the old address, which cancels the change.
ALTER TABLE email_changes ADD COLUMN cancel_hash TEXT;
CREATE UNIQUE INDEX email_changes_cancel ON email_changes (cancel_hash);

-- users.failed_logins and users.login_blocked_until are no longer read or written (replaced by
-- login_failures). They stay: SQLite cannot drop them (the comment before them in 0002 makes
-- its DROP COLUMN rewrite fail) without rebuilding the table and its foreign keys.
