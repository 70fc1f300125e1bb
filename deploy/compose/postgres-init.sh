#!/bin/sh
# First start of the compose Postgres volume: Plinth's two roles, its database and the
# extensions its migrations use. The same setup as `cargo xtask services start`
# (xtask/src/services/postgres.rs) for the native development stack:
# - the owner role owns the database and the `public` schema and runs the migrations;
# - the app role serves requests and owns nothing, so FORCE ROW LEVEL SECURITY applies
#   to it (the migrations grant it the table privileges it needs);
# - neither is a superuser, may create roles or databases, or bypasses row-level security.
# Values reach SQL as psql variables (:'v' quotes a literal, :"v" an identifier), so a
# password with quotes in it cannot break out of the statement.
set -eu
: "${PLINTH_PG_OWNER_USER:=plinth_owner}"
: "${PLINTH_PG_APP_USER:=plinth_app}"
: "${PLINTH_PG_DATABASE:=plinth}"
: "${PLINTH_PG_OWNER_PASSWORD:?set PLINTH_PG_OWNER_PASSWORD}"
: "${PLINTH_PG_APP_PASSWORD:?set PLINTH_PG_APP_PASSWORD}"

psql -X -v ON_ERROR_STOP=1 --username postgres --dbname postgres \
  -v owner="$PLINTH_PG_OWNER_USER" -v owner_password="$PLINTH_PG_OWNER_PASSWORD" \
  -v app="$PLINTH_PG_APP_USER" -v app_password="$PLINTH_PG_APP_PASSWORD" \
  -v db="$PLINTH_PG_DATABASE" <<'SQL'
CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'app_password';
CREATE DATABASE :"db" OWNER :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app";
\connect :"db"
ALTER SCHEMA public OWNER TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
-- Created here by the superuser, so the owner role never needs the right to create
-- them (pgvector's `vector` is not a trusted extension in every release); the
-- migrations' CREATE EXTENSION IF NOT EXISTS then finds them. `vector` only where the
-- server has it (the pgvector image does), so the script runs on any PostgreSQL.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
SELECT 'CREATE EXTENSION IF NOT EXISTS vector'
  WHERE EXISTS (SELECT FROM pg_available_extensions WHERE name = 'vector') \gexec
SQL
