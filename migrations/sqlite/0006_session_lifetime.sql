-- An absolute lifetime for sessions (12 h, or 30 days with "remember me"), fixed at login:
-- activity slides `expires_at` (the idle timeout) but never past `absolute_expires_at`.
ALTER TABLE sessions ADD COLUMN absolute_expires_at BIGINT NOT NULL DEFAULT 0;

-- Sessions opened before this migration get the lifetime counted from their login: a
-- browser-session login older than 12 h ends at its next request.
UPDATE sessions
SET absolute_expires_at = created_at + CASE WHEN persistent THEN 2592000 ELSE 43200 END;

UPDATE sessions SET expires_at = absolute_expires_at WHERE expires_at > absolute_expires_at;
