-- 0002: identity — users, their memberships in orgs, sessions and refresh tokens.
-- All four are global tables (no org_id, no row-level security): a user exists across
-- orgs, and sign-in runs before any tenant context exists. Constraint names are what
-- handlers map to API fields, so every one is named.

-- A person who signs in. email and name are what the API shows; password_hash is an
-- argon2id PHC string ($argon2id$v=19$…), never returned.
CREATE TABLE users (
    id uuid CONSTRAINT users_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    -- One @ with something on both sides and no whitespace anywhere; real verification
    -- is a confirmation mail, not a regex. 254 is the SMTP path limit.
    email text NOT NULL CONSTRAINT users_email_check CHECK (
        char_length(email) BETWEEN 3 AND 254 AND email ~ '^[^@\s]+@[^@\s]+$'
    ),
    name text NOT NULL CONSTRAINT users_name_check CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    password_hash text NOT NULL,
    -- The org a sign-in lands in. Deleting that org only forgets the preference.
    default_org_id uuid CONSTRAINT users_default_org_id_fkey REFERENCES org (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Unique case-insensitively (addresses are stored as typed). The name is what the API
-- maps to a 409 on `email`.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A user's role in an org. Global although it carries org_id: it is read to choose the
-- tenant (which orgs may this user enter?) before a tenant context exists. An org with
-- members cannot be deleted by accident (RESTRICT); a deleted user leaves every org.
CREATE TABLE memberships (
    org_id uuid NOT NULL CONSTRAINT memberships_org_id_fkey REFERENCES org (id) ON DELETE RESTRICT,
    user_id uuid NOT NULL CONSTRAINT memberships_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT memberships_pkey PRIMARY KEY (org_id, user_id)
);

-- The primary key serves "members of an org"; this serves "orgs of a user".
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

CREATE TRIGGER memberships_set_updated_at BEFORE UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A signed-in session (the `sid` of its access tokens). An access token's signature
-- proves who made it; its digest here proves this database issued it and the session
-- still holds it. On refresh the current digest moves to prev_access_digest, which stays
-- accepted until that token expires (requests already in flight). Revoking sets
-- revoked_at rather than deleting, so the end of a session stays visible.
CREATE TABLE sessions (
    id uuid CONSTRAINT sessions_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL CONSTRAINT sessions_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    -- The org its access tokens are for (a refresh keeps it); an org's sessions end with it.
    org_id uuid NOT NULL CONSTRAINT sessions_org_id_fkey REFERENCES org (id) ON DELETE CASCADE,
    -- Lowercase hex SHA-256 of the whole token (token::token_digest).
    access_digest text CONSTRAINT sessions_access_digest_check CHECK (access_digest ~ '^[0-9a-f]{64}$'),
    prev_access_digest text
        CONSTRAINT sessions_prev_access_digest_check CHECK (prev_access_digest ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TRIGGER sessions_set_updated_at BEFORE UPDATE ON sessions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Refresh tokens, kept only as digests: the opaque token itself is never stored. Each is
-- used once: rotating sets successor_digest and rotated_at, so a rotated token shown
-- again is recognised as reuse. updated_at only follows the table convention: a row is
-- written once and updated once, by its rotation.
CREATE TABLE refresh_tokens (
    digest text CONSTRAINT refresh_tokens_pkey PRIMARY KEY
        CONSTRAINT refresh_tokens_digest_check CHECK (digest ~ '^[0-9a-f]{64}$'),
    session_id uuid NOT NULL
        CONSTRAINT refresh_tokens_session_id_fkey REFERENCES sessions (id) ON DELETE CASCADE,
    successor_digest text
        CONSTRAINT refresh_tokens_successor_digest_check CHECK (successor_digest ~ '^[0-9a-f]{64}$'),
    rotated_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- Revoking a session's tokens, and the cascade from sessions.
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

CREATE TRIGGER refresh_tokens_set_updated_at BEFORE UPDATE ON refresh_tokens
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The credential check every authenticated request makes, as a function so that its
-- plan is made once per connection (plpgsql caches it) instead of once per request.
-- Returns the caller's role in p_org; '' when the session is live but the user is not a
-- member there; NULL when the token has no live session (unknown, revoked, expired, or
-- not the session's current or previous access token). Only when it returns a role does
-- it set app.org_id for the rest of the statement or transaction (row-level security).
-- VOLATILE: it sets a setting, so it must be called, and only once, where it stands.
CREATE FUNCTION plinth_confirm(p_session uuid, p_user uuid, p_org uuid, p_digest text)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    live boolean;
    found_role text;
BEGIN
    SELECT true, m.role INTO live, found_role
    FROM sessions s
    LEFT JOIN memberships m ON m.user_id = s.user_id AND m.org_id = p_org
    WHERE s.id = p_session AND s.user_id = p_user AND s.revoked_at IS NULL
      AND s.expires_at > now() AND p_digest IN (s.access_digest, s.prev_access_digest);
    IF found_role IS NOT NULL THEN
        PERFORM set_config('app.org_id', p_org::text, true);
        RETURN found_role;
    END IF;
    RETURN CASE WHEN live THEN '' END;
END
$$;

-- As in 0001: rows only, conditional on the role existing.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE users, memberships, sessions, refresh_tokens
            TO plinth_app;
        GRANT EXECUTE ON FUNCTION plinth_confirm(uuid, uuid, uuid, text) TO plinth_app;
    END IF;
END
$$;
