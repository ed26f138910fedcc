-- What an import reads of every stored station (id, content hash, whether missing), as an
-- index-only scan: a few dozen pages instead of the stations' wide rows.
CREATE INDEX stations_import_state ON stations (id, content_hash, missing_since);
