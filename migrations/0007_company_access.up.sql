-- 0007: a membership may be limited to some of the org's companies. Such a member sees
-- and touches only those companies and their partners, everywhere (lists and search
-- included), because the limit is part of the row-level security policies: no handler
-- can forget it.

-- false: every company of the org (the default); true: only those in member_companies.
ALTER TABLE memberships ADD COLUMN companies_limited boolean NOT NULL DEFAULT false;

CREATE TABLE member_companies (
    id uuid CONSTRAINT member_companies_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL CONSTRAINT member_companies_org_id_fkey REFERENCES org (id) ON DELETE RESTRICT,
    user_id uuid NOT NULL,
    company_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT member_companies_org_id_id_key UNIQUE (org_id, id),
    CONSTRAINT member_companies_key UNIQUE (org_id, user_id, company_id),
    -- A removed member or a deleted company takes its rows with it.
    CONSTRAINT member_companies_member_fkey FOREIGN KEY (org_id, user_id)
        REFERENCES memberships (org_id, user_id) ON DELETE CASCADE,
    CONSTRAINT member_companies_company_fkey FOREIGN KEY (org_id, company_id)
        REFERENCES companies (org_id, id) ON DELETE CASCADE
);

-- Deleting a company finds its rows.
CREATE INDEX member_companies_company_idx ON member_companies (org_id, company_id);

CREATE TRIGGER member_companies_set_updated_at BEFORE UPDATE ON member_companies
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE member_companies ENABLE ROW LEVEL SECURITY;
ALTER TABLE member_companies FORCE ROW LEVEL SECURITY;
CREATE POLICY member_companies_tenant ON member_companies
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- The credential check (0003) also sets app.company_ids for the statement or
-- transaction: '' for a member of every company, else the array of the member's companies
-- ('{}' for none). The policies below read it.
CREATE OR REPLACE FUNCTION plinth_confirm(p_session uuid, p_user uuid, p_org uuid, p_digest text)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    live boolean;
    found_role text;
    limited boolean;
    granted jsonb;
    budget text;
BEGIN
    SELECT true, m.role, m.companies_limited, o.role_permissions -> m.role,
           o.settings_json -> 'rate_limit' ->> 'requests_per_minute'
      INTO live, found_role, limited, granted, budget
    FROM sessions s
    LEFT JOIN memberships m ON m.user_id = s.user_id AND m.org_id = p_org
    LEFT JOIN org o ON o.id = m.org_id
    WHERE s.id = p_session AND s.user_id = p_user AND s.revoked_at IS NULL
      AND s.expires_at > now() AND p_digest IN (s.access_digest, s.prev_access_digest);
    IF found_role IS NOT NULL THEN
        PERFORM set_config('app.org_id', p_org::text, true);
        PERFORM set_config('app.company_ids', CASE WHEN limited THEN coalesce(
            (SELECT array_agg(company_id)::text FROM member_companies
              WHERE org_id = p_org AND user_id = p_user), '{}') ELSE '' END, true);
        RETURN found_role || '|'
            || coalesce((SELECT string_agg(p, ',') FROM jsonb_array_elements_text(granted) p), '')
            || '|' || coalesce(budget, '');
    END IF;
    RETURN CASE WHEN live THEN '' END;
END
$$;

-- Companies: the org's, and of those only the member's when the member is limited.
ALTER POLICY companies_tenant ON companies
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid
           AND (nullif(current_setting('app.company_ids', true), '') IS NULL
                OR id = ANY (nullif(current_setting('app.company_ids', true), '')::uuid[])))
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid
           AND (nullif(current_setting('app.company_ids', true), '') IS NULL
                OR id = ANY (nullif(current_setting('app.company_ids', true), '')::uuid[])));

-- Partners: the org's, and of those only the ones of the member's companies.
ALTER POLICY partners_tenant ON partners
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid
           AND (nullif(current_setting('app.company_ids', true), '') IS NULL
                OR company_id = ANY (nullif(current_setting('app.company_ids', true), '')::uuid[])))
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid
           AND (nullif(current_setting('app.company_ids', true), '') IS NULL
                OR company_id = ANY (nullif(current_setting('app.company_ids', true), '')::uuid[])));

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE member_companies TO plinth_app;
    END IF;
END
$$;
