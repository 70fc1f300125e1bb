-- Reverses 0001_create_org.up.sql, in reverse order. Dropping the table also drops its
-- grants. Extensions (pg_trgm, vector) stay: they are database-wide and other objects may
-- use them; dropping them is an operator's decision.

DROP TRIGGER org_set_updated_at ON org;
DROP INDEX org_settings_json_idx;
DROP INDEX org_slug_key;
DROP TABLE org;
DROP FUNCTION set_updated_at();
