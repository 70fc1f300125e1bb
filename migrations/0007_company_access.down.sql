-- Reverses 0007_company_access.up.sql.

ALTER POLICY partners_tenant ON partners
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

ALTER POLICY companies_tenant ON companies
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

CREATE OR REPLACE FUNCTION plinth_confirm(p_session uuid, p_user uuid, p_org uuid, p_digest text)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    live boolean;
    found_role text;
    granted jsonb;
    budget text;
BEGIN
    SELECT true, m.role, o.role_permissions -> m.role,
           o.settings_json -> 'rate_limit' ->> 'requests_per_minute'
      INTO live, found_role, granted, budget
    FROM sessions s
    LEFT JOIN memberships m ON m.user_id = s.user_id AND m.org_id = p_org
    LEFT JOIN org o ON o.id = m.org_id
    WHERE s.id = p_session AND s.user_id = p_user AND s.revoked_at IS NULL
      AND s.expires_at > now() AND p_digest IN (s.access_digest, s.prev_access_digest);
    IF found_role IS NOT NULL THEN
        PERFORM set_config('app.org_id', p_org::text, true);
        RETURN found_role || '|'
            || coalesce((SELECT string_agg(p, ',') FROM jsonb_array_elements_text(granted) p), '')
            || '|' || coalesce(budget, '');
    END IF;
    RETURN CASE WHEN live THEN '' END;
END
$$;

DROP TABLE member_companies;
ALTER TABLE memberships DROP COLUMN companies_limited;
