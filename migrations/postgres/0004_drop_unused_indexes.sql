-- Searches near a point, lists by price and averages are answered by the in-memory price index
-- (src/index/) since issue 3; no query reads these indexes any more, and each costs the import
-- a B-tree insert per row. Keep in step with migrations/sqlite/0004_drop_unused_indexes.sql.
DROP INDEX IF EXISTS stations_lat_lon;
DROP INDEX IF EXISTS stations_department;
DROP INDEX IF EXISTS prices_fuel_price;
