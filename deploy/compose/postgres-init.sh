#!/bin/sh
# Creates Plinth's two roles and its database on first start of the container:
# the owner runs migrations; the app role is not the owner of any table, so
# row-level security applies to it.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres --dbname postgres <<SQL
CREATE ROLE plinth_owner LOGIN PASSWORD '${PLINTH_PG_OWNER_PASSWORD}';
CREATE ROLE plinth_app LOGIN PASSWORD '${PLINTH_PG_APP_PASSWORD}';
CREATE DATABASE plinth OWNER plinth_owner;
SQL
psql -v ON_ERROR_STOP=1 --username postgres --dbname plinth <<SQL
ALTER SCHEMA public OWNER TO plinth_owner;
GRANT CONNECT ON DATABASE plinth TO plinth_app;
GRANT USAGE ON SCHEMA public TO plinth_app;
SQL
