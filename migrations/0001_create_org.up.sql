-- 0001: extensions, the shared updated_at trigger function, and the org (tenant) table.

-- Trigram indexes for name search. gen_random_uuid() is core since PostgreSQL 13.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- pgvector where the server has it (docker-compose's pgvector image). Never fails: not
-- installed → skipped; installed but not creatable by this role → a notice.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'extension vector not enabled: %', SQLERRM;
        END;
    END IF;
END
$$;

-- Every table with an updated_at column gets a BEFORE UPDATE trigger running this.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- The tenant. A global table: no org_id and no row-level security (an org row is
-- looked up by id or slug before any tenant context exists).
CREATE TABLE org (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CONSTRAINT org_name_check CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    slug text NOT NULL CONSTRAINT org_slug_check CHECK (
        char_length(slug) <= 63 AND slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'
    ),
    settings_json jsonb NOT NULL DEFAULT '{}'::jsonb
        CONSTRAINT org_settings_json_check CHECK (jsonb_typeof(settings_json) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Unique case-insensitively (the format check already forces lower case; this keeps
-- the guarantee if the check is ever relaxed). The constraint name is what the API maps
-- to a 409 on `slug`.
CREATE UNIQUE INDEX org_slug_key ON org (lower(slug));

CREATE INDEX org_settings_json_idx ON org USING gin (settings_json);

CREATE TRIGGER org_set_updated_at BEFORE UPDATE ON org
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The app role reads and writes rows; it owns nothing. Absent in some databases
-- (scratch test databases), so the grants are conditional.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_app') THEN
        GRANT USAGE ON SCHEMA public TO plinth_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE org TO plinth_app;
    END IF;
END
$$;
