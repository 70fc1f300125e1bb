-- Reverses 0002_identity.up.sql: children before the tables they reference. Dropping a
-- table also drops its indexes, constraints, triggers and grants.

DROP FUNCTION plinth_confirm(uuid, uuid, uuid, text);
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE memberships;
DROP TABLE users;
