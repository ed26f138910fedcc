-- The hash of the `<pdv>` element's bytes a station was last written from (NULL when the parser
-- could not vouch for it): a later file's element with the same bytes is dropped unparsed. Read
-- with the other import state, so the covering index carries it.
ALTER TABLE stations ADD COLUMN raw_hash BIGINT;
DROP INDEX stations_import_state;
CREATE INDEX stations_import_state ON stations (id, content_hash, missing_since, raw_hash);
