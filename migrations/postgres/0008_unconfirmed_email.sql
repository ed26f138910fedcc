-- Issue 9 point 16, PostgreSQL flavour. Keep in step with migrations/sqlite/0008_unconfirmed_email.sql.
--
-- A registration's address starts unconfirmed; an address is unique among CONFIRMED addresses
-- only (the unique index below), so that registering with an address already in use looks like
-- any other registration and nobody can hold an address they never confirmed. `email_key` is
-- always set; `email_confirmed` says whether the link mailed to it (or a reset code) was used.

-- Every existing address counts as confirmed (it was unique and in use before this rule).
ALTER TABLE users ADD COLUMN email_confirmed BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ALTER COLUMN email_confirmed SET DEFAULT FALSE;

ALTER TABLE users DROP CONSTRAINT users_email_key_key;
CREATE UNIQUE INDEX users_email_key_confirmed ON users (email_key) WHERE email_confirmed;
CREATE INDEX users_email_key ON users (email_key);

-- The dead columns of 0005 go (SQLite drops them in its rebuild).
ALTER TABLE users DROP COLUMN failed_logins;
ALTER TABLE users DROP COLUMN login_blocked_until;
