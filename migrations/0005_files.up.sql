-- 0005: files, the metadata of objects stored in S3 under orgs/{org_id}/files/{id}.
-- A row is visible to the API once `status` is 'ready' and `deleting_at` is NULL.
-- 'pending' rows are presigned uploads not yet completed (until `expires_at`);
-- `deleting_at` marks a delete whose object removal has not finished yet.
CREATE TABLE files (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL CONSTRAINT files_org_id_fkey REFERENCES org (id) ON DELETE RESTRICT,
    name text NOT NULL CONSTRAINT files_name_check CHECK (char_length(name) BETWEEN 1 AND 255),
    content_type text NOT NULL
        CONSTRAINT files_content_type_check CHECK (char_length(content_type) BETWEEN 3 AND 255),
    size bigint NOT NULL CONSTRAINT files_size_check CHECK (size >= 0),
    sha256 text CONSTRAINT files_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    status text NOT NULL CONSTRAINT files_status_check CHECK (status IN ('pending', 'ready')),
    -- The attached business record; its foreign key comes with the companies and
    -- partners tables.
    entity_type text CONSTRAINT files_entity_type_check CHECK (entity_type IN ('company', 'partner')),
    entity_id uuid,
    expires_at timestamptz,
    deleting_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT files_entity_check CHECK ((entity_type IS NULL) = (entity_id IS NULL)),
    CONSTRAINT files_pending_check CHECK (status = 'ready' OR expires_at IS NOT NULL),
    CONSTRAINT files_org_id_id_key UNIQUE (org_id, id)
);

-- The list (newest first) and its filter by attached record.
CREATE INDEX files_org_id_created_at_idx ON files (org_id, created_at, id);
CREATE INDEX files_org_id_entity_idx ON files (org_id, entity_type, entity_id)
    WHERE entity_type IS NOT NULL;

CREATE TRIGGER files_set_updated_at BEFORE UPDATE ON files
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE files ENABLE ROW LEVEL SECURITY;
ALTER TABLE files FORCE ROW LEVEL SECURITY;
CREATE POLICY files_tenant ON files
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE files TO plinth_app;
    END IF;
END
$$;
