-- 0006: partners, the customers and suppliers of a company. A partner belongs to one
-- company of its org: the composite foreign key (org_id, company_id) cannot point into
-- another org, and a company with partners cannot be deleted (ON DELETE RESTRICT).
CREATE TABLE partners (
    id uuid CONSTRAINT partners_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL CONSTRAINT partners_org_id_fkey REFERENCES org (id) ON DELETE RESTRICT,
    company_id uuid NOT NULL,
    name text NOT NULL CONSTRAINT partners_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CONSTRAINT partners_kind_check CHECK (kind IN ('customer', 'supplier', 'both')),
    email text CONSTRAINT partners_email_check CHECK (char_length(email) BETWEEN 3 AND 254),
    -- E.164: `+` and 8-15 digits.
    phone text CONSTRAINT partners_phone_check CHECK (phone ~ '^\+[0-9]{8,15}$'),
    tax_id text CONSTRAINT partners_tax_id_check CHECK (char_length(tax_id) BETWEEN 1 AND 64),
    -- {line1, line2, postal_code, city, region, country}, each optional (as companies.address).
    address jsonb CONSTRAINT partners_address_check CHECK (jsonb_typeof(address) = 'object'),
    -- The partner's id in another system; unique per company when given.
    external_ref text CONSTRAINT partners_external_ref_check CHECK (char_length(external_ref) BETWEEN 1 AND 200),
    -- Distinct, 1-50 characters each (checked by the component), at most 20.
    tags text[] NOT NULL DEFAULT '{}'
        CONSTRAINT partners_tags_check CHECK (cardinality(tags) <= 20 AND array_position(tags, NULL) IS NULL),
    notes text CONSTRAINT partners_notes_check CHECK (char_length(notes) <= 10000),
    status text NOT NULL DEFAULT 'active'
        CONSTRAINT partners_status_check CHECK (status IN ('active', 'archived')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT partners_org_id_id_key UNIQUE (org_id, id),
    CONSTRAINT partners_company_id_fkey FOREIGN KEY (org_id, company_id)
        REFERENCES companies (org_id, id) ON DELETE RESTRICT
);

-- One external reference per company (partners without one are not constrained).
CREATE UNIQUE INDEX partners_external_ref_key ON partners (org_id, company_id, external_ref)
    WHERE external_ref IS NOT NULL;

-- The list's two orders (keyset on (sort key, id)), for the org and for one company
-- (`/v1/companies/{id}/partners`, `company_id=`); the company indexes also serve the
-- foreign key's check when a company is deleted.
CREATE INDEX partners_org_id_name_idx ON partners (org_id, name, id);
CREATE INDEX partners_org_id_created_at_idx ON partners (org_id, created_at, id);
CREATE INDEX partners_org_id_company_id_name_idx ON partners (org_id, company_id, name, id);
CREATE INDEX partners_org_id_company_id_created_at_idx ON partners (org_id, company_id, created_at, id);

-- Fuzzy search (`q=`): the org's names nearest to the query by trigram distance
-- (`ORDER BY lower(name) <-> q`), read in that order from a GiST index led by org_id
-- (btree_gist). Not a GIN index: under forced row-level security the planner refuses
-- to use a qual that is not leakproof (pg_trgm's `%`, `lower`, `@>` on arrays) as an
-- index condition, so a GIN index on lower(name) (or on tags) is never used for the
-- app role; an ordering operator is not a qual, so KNN stays available. A 256-byte
-- signature keeps the distance bounds of names this long precise. (In a DO block only
-- because the migration lint's SQL parser cannot read an operator class's parameters.)
CREATE EXTENSION IF NOT EXISTS btree_gist;
DO $$
BEGIN
    CREATE INDEX partners_org_id_name_trgm_idx ON partners
        USING gist (org_id, lower(name) gist_trgm_ops (siglen = 256));
END
$$;

CREATE TRIGGER partners_set_updated_at BEFORE UPDATE ON partners
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE partners ENABLE ROW LEVEL SECURITY;
ALTER TABLE partners FORCE ROW LEVEL SECURITY;
CREATE POLICY partners_tenant ON partners
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE partners TO plinth_app;
    END IF;
END
$$;
