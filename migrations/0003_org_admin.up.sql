-- 0003: running an org — the audit log, per-org role permissions, invitations, email
-- verification and password reset tokens, and the outbox of messages to send.

-- The address a user proved they read (a verification link); NULL until then. A new
-- address (there is no change-email route yet) would clear it.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- Which permissions each non-owner role holds in this org, where the org's owners
-- changed the defaults: {"admin": ["members.read", …], "viewer": [...]}. A role absent
-- from the object holds its defaults (platform::auth::Permission). Owners always hold
-- every permission, so no configuration can lock an org out of its own administration.
ALTER TABLE org ADD COLUMN role_permissions jsonb NOT NULL DEFAULT '{}'::jsonb
    CONSTRAINT org_role_permissions_check CHECK (jsonb_typeof(role_permissions) = 'object');

-- Who did what to which entity of an org, written in the same transaction as the change.
-- before/after hold only the fields that changed. Rows are appended, never updated (the
-- app role has no UPDATE), and removed only with their org.
CREATE TABLE audit_events (
    id uuid CONSTRAINT audit_events_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL CONSTRAINT audit_events_org_id_fkey REFERENCES org (id) ON DELETE RESTRICT,
    -- The user who acted; no foreign key, so the record outlives the user.
    actor_user_id uuid,
    -- `<entity>.<verb>`, e.g. `member.role_changed`, `company.created`.
    action text NOT NULL CONSTRAINT audit_events_action_check CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    entity_type text NOT NULL CONSTRAINT audit_events_entity_type_check CHECK (entity_type ~ '^[a-z_]+$'),
    entity_id text NOT NULL,
    before jsonb,
    after jsonb,
    request_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_events_org_id_id_key UNIQUE (org_id, id)
);

-- Newest first, per org, and per entity.
CREATE INDEX audit_events_org_id_created_at_idx ON audit_events (org_id, created_at DESC, id DESC);
CREATE INDEX audit_events_entity_idx ON audit_events (org_id, entity_type, entity_id, created_at DESC);

CREATE TRIGGER audit_events_set_updated_at BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_tenant ON audit_events
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);

-- An invitation to join an org. Global like memberships: accepting one starts from its
-- token alone, before any tenant context exists. The token is kept only as its digest.
-- State: accepted (accepted_at), revoked (revoked_at), expired (expires_at passed), or
-- pending.
CREATE TABLE invitations (
    id uuid CONSTRAINT invitations_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL CONSTRAINT invitations_org_id_fkey REFERENCES org (id) ON DELETE CASCADE,
    email text NOT NULL CONSTRAINT invitations_email_check CHECK (
        char_length(email) BETWEEN 3 AND 254 AND email ~ '^[^@\s]+@[^@\s]+$'
    ),
    role text NOT NULL CONSTRAINT invitations_role_check CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    token_digest text NOT NULL CONSTRAINT invitations_token_digest_key UNIQUE
        CONSTRAINT invitations_token_digest_check CHECK (token_digest ~ '^[0-9a-f]{64}$'),
    invited_by uuid CONSTRAINT invitations_invited_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    expires_at timestamptz NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    accepted_at timestamptz,
    accepted_by uuid CONSTRAINT invitations_accepted_by_fkey REFERENCES users (id) ON DELETE SET NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- An org's invitations, newest first (the list's order), and finding a pending one by
-- address.
CREATE INDEX invitations_org_id_idx ON invitations (org_id, created_at DESC, id DESC);
CREATE INDEX invitations_org_id_email_idx ON invitations (org_id, lower(email));

CREATE TRIGGER invitations_set_updated_at BEFORE UPDATE ON invitations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Single-use tokens mailed to a user: verify an address, or reset a password. Only the
-- digest is kept. email is the address the token was sent to (verification proves that
-- one).
CREATE TABLE email_tokens (
    digest text CONSTRAINT email_tokens_pkey PRIMARY KEY
        CONSTRAINT email_tokens_digest_check CHECK (digest ~ '^[0-9a-f]{64}$'),
    user_id uuid NOT NULL CONSTRAINT email_tokens_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    purpose text NOT NULL CONSTRAINT email_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password')),
    email text NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX email_tokens_user_id_idx ON email_tokens (user_id, purpose);

CREATE TRIGGER email_tokens_set_updated_at BEFORE UPDATE ON email_tokens
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Messages to send, written in the same transaction as the change that causes them and
-- drained by the mailer. Global: a message may concern no org (password reset).
CREATE TABLE email_outbox (
    id uuid CONSTRAINT email_outbox_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    to_address text NOT NULL,
    kind text NOT NULL CONSTRAINT email_outbox_kind_check CHECK (
        kind IN ('verify_email', 'reset_password', 'invitation', 'password_changed')
    ),
    subject text NOT NULL,
    body text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    sent_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The mailer's queue: unsent messages, oldest first.
CREATE INDEX email_outbox_unsent_idx ON email_outbox (created_at) WHERE sent_at IS NULL;

CREATE TRIGGER email_outbox_set_updated_at BEFORE UPDATE ON email_outbox
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The credential check (0002), now also answering what the caller's role may do in this
-- org and the org's request budget, in the same one lookup. Returns NULL (no live
-- session), '' (live, not a member of p_org), or `role|permissions|budget`:
-- `permissions` is the comma-separated configuration of that role in the org, empty for
-- its defaults; `budget` the org's requests per minute, empty for none.
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

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_app') THEN
        GRANT SELECT, INSERT, DELETE ON TABLE audit_events TO plinth_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE invitations, email_tokens, email_outbox
            TO plinth_app;
    END IF;
END
$$;
