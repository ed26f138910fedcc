-- The corridor of a threshold alert along a saved route, SQLite flavour. Keep in step with
-- migrations/postgres/0017_alert_route_width.sql.

-- Km each side of the route within which a station is along it (0.5 to 20, checked by the form);
-- NULL for the rules that watch no route. The alerts saved before it watched 3 km.
ALTER TABLE alert_rules ADD COLUMN corridor_km REAL;
UPDATE alert_rules SET corridor_km = 3.0 WHERE route_id IS NOT NULL;
