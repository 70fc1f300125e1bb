-- 0004: companies, the legal entities an org runs. Partners (and files) refer to a
-- company through the composite key (org_id, id), so a reference never crosses orgs.
CREATE TABLE companies (
    id uuid CONSTRAINT companies_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL CONSTRAINT companies_org_id_fkey REFERENCES org (id) ON DELETE RESTRICT,
    name text NOT NULL CONSTRAINT companies_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    legal_name text CONSTRAINT companies_legal_name_check CHECK (char_length(legal_name) BETWEEN 1 AND 200),
    tax_id text CONSTRAINT companies_tax_id_check CHECK (char_length(tax_id) BETWEEN 1 AND 64),
    -- ISO 3166-1 alpha-2 and ISO 4217; the component checks the codes against its lists.
    country text CONSTRAINT companies_country_check CHECK (country ~ '^[A-Z]{2}$'),
    currency text NOT NULL CONSTRAINT companies_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    -- {line1, line2, postal_code, city, region, country}, each optional.
    address jsonb CONSTRAINT companies_address_check CHECK (jsonb_typeof(address) = 'object'),
    status text NOT NULL DEFAULT 'active'
        CONSTRAINT companies_status_check CHECK (status IN ('active', 'archived')),
    -- At most 16 KiB serialized (checked by the component; this bound is the backstop).
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb CONSTRAINT companies_metadata_check CHECK (
        jsonb_typeof(metadata) = 'object' AND octet_length(metadata::text) <= 32768
    ),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT companies_org_id_id_key UNIQUE (org_id, id)
);

-- Names are unique per org whatever their case.
CREATE UNIQUE INDEX companies_org_id_name_key ON companies (org_id, lower(name));

-- The list's two orders (keyset on (sort key, id)), each within the status filter.
CREATE INDEX companies_org_id_name_idx ON companies (org_id, name, id);
CREATE INDEX companies_org_id_created_at_idx ON companies (org_id, created_at, id);

-- Fuzzy search (`q=`): trigram similarity on the lower-cased name.
CREATE INDEX companies_name_trgm_idx ON companies USING gin (lower(name) gin_trgm_ops);

CREATE TRIGGER companies_set_updated_at BEFORE UPDATE ON companies
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE companies ENABLE ROW LEVEL SECURITY;
ALTER TABLE companies FORCE ROW LEVEL SECURITY;
CREATE POLICY companies_tenant ON companies
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE companies TO plinth_app;
    END IF;
END
$$;
