-- no-transaction
-- Issue 9 point 16, SQLite flavour. Keep in step with migrations/postgres/0008_unconfirmed_email.sql.
--
-- A registration's address starts unconfirmed; an address is unique among CONFIRMED addresses
-- only (the unique index below), so that registering with an address already in use looks like
-- any other registration and nobody can hold an address they never confirmed. `email_key` is
-- always set; `email_confirmed` says whether the link mailed to it (or a reset code) was used.
--
-- SQLite cannot drop the inline UNIQUE of `email_key` in place: the table is rebuilt (the steps
-- of https://sqlite.org/lang_altertable.html#otheralter). Foreign keys are off during the swap,
-- which needs the statements out of the migrator's transaction, hence the first line; this file
-- opens its own. The dead columns `failed_logins` and `login_blocked_until` (see 0005) go.
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE users_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    -- As typed at registration; `username_key` (lower case) makes "Alice" and "alice" one name.
    username            TEXT    NOT NULL,
    username_key        TEXT    NOT NULL UNIQUE,
    display_name        TEXT    NOT NULL,
    -- The address as typed, confirmed or waiting for confirmation.
    email               TEXT    NOT NULL,
    email_key           TEXT    NOT NULL,
    email_confirmed     BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash       TEXT    NOT NULL,
    is_admin            BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_at         BIGINT,
    lang                TEXT    NOT NULL DEFAULT 'fr',
    litres_per_year     INTEGER NOT NULL DEFAULT 650,
    created_at          BIGINT  NOT NULL,
    last_login_at       BIGINT,
    password_changed_at BIGINT  NOT NULL
);

-- Every existing address counts as confirmed (it was unique and in use before this rule).
INSERT INTO users_new (id, username, username_key, display_name, email, email_key, email_confirmed, password_hash,
                       is_admin, disabled_at, lang, litres_per_year, created_at, last_login_at, password_changed_at)
SELECT id, username, username_key, display_name, email, email_key, TRUE, password_hash,
       is_admin, disabled_at, lang, litres_per_year, created_at, last_login_at, password_changed_at
FROM users;

-- Ids of deleted accounts are never given again (the audit log names them).
UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'users'), 0))
WHERE name = 'users_new';

DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

CREATE UNIQUE INDEX users_email_key_confirmed ON users (email_key) WHERE email_confirmed;
CREATE INDEX users_email_key ON users (email_key);

COMMIT;
PRAGMA foreign_keys = ON;
