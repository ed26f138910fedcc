-- A threshold alert along a saved route (issue 20), SQLite flavour. Keep in step with
-- migrations/postgres/0016_alert_routes.sql.

-- The saved route a threshold rule watches (NULL: at one of my stations, or around a place).
-- Deleting the route deletes its alerts (the page that deletes routes says so).
ALTER TABLE alert_rules ADD COLUMN route_id BIGINT REFERENCES saved_routes (id) ON DELETE CASCADE;
CREATE INDEX alert_rules_route ON alert_rules (route_id) WHERE route_id IS NOT NULL;
