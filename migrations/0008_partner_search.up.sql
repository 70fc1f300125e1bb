-- 0008: a word index for partner search (`GET /v1/partners?q=`).
--
-- Under forced row-level security PostgreSQL uses a condition as an index condition only
-- when its functions are leakproof, and pg_trgm's `%` and array `&&` are not: for the app
-- role no GIN index on partners can ever be used. So the words of each partner's name are
-- kept in two index tables that the app role cannot read at all, and are searched only
-- through plinth_partner_matches(), a SECURITY DEFINER function that filters by the
-- request's org and company limit itself. What it returns are partner ids; the caller reads
-- the partners under their own row-level security, so even a wrong id shows nothing.
--
-- Index tables (`INDEX_TABLES` in the migration lint): derived from a tenant table and kept
-- in step by its triggers; row-level security enabled with no policy and not forced (their
-- owner, which the functions run as, reads them; nobody else can); no grant to plinth_app.

-- The lowercase words (runs of letters and digits) of a name, each once.
CREATE FUNCTION plinth_name_terms(p_name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog AS $$
    SELECT coalesce(array_agg(DISTINCT w), '{}')
    FROM regexp_split_to_table(lower(p_name), '[^[:alnum:]]+') AS w
    WHERE w <> ''
$$;

-- One row per partner: its lowercase name and the words in it.
CREATE TABLE partner_names (
    id uuid CONSTRAINT partner_names_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL CONSTRAINT partner_names_org_id_fkey REFERENCES org (id) ON DELETE RESTRICT,
    partner_id uuid NOT NULL,
    company_id uuid NOT NULL,
    name text NOT NULL,
    terms text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT partner_names_partner_id_key UNIQUE (org_id, partner_id),
    CONSTRAINT partner_names_partner_id_fkey FOREIGN KEY (org_id, partner_id)
        REFERENCES partners (org_id, id) ON DELETE CASCADE
);

-- Every word of the org's partner names, once: what a query word may be a typo or a
-- prefix of. Removed with the last name that uses it; with the org as a last resort.
CREATE TABLE partner_terms (
    id uuid CONSTRAINT partner_terms_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL CONSTRAINT partner_terms_org_id_fkey REFERENCES org (id) ON DELETE CASCADE,
    term text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT partner_terms_term_key UNIQUE (org_id, term)
);

-- btree_gin puts org_id into the GIN indexes, so a search reads only its own org's
-- posting lists. (In a DO block only because the migration lint's SQL parser cannot read
-- an operator class.)
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX partner_names_terms_idx ON partner_names USING gin (org_id, terms);
-- Names equal to the query, which a broad query must not leave out.
CREATE INDEX partner_names_name_idx ON partner_names (org_id, name);
DO $$
BEGIN
    CREATE INDEX partner_terms_term_trgm_idx ON partner_terms
        USING gin (org_id, term gin_trgm_ops);
END
$$;

CREATE TRIGGER partner_names_set_updated_at BEFORE UPDATE ON partner_names
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER partner_terms_set_updated_at BEFORE UPDATE ON partner_terms
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

ALTER TABLE partner_names ENABLE ROW LEVEL SECURITY;
ALTER TABLE partner_terms ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE partner_names, partner_terms FROM PUBLIC;

-- Keeps both index tables in step with a partner's name and company. A word that no name
-- of the org uses any more is removed; a word removed while another transaction adds a
-- name with it is found again by its exact spelling (a query word always matches itself)
-- and comes back with the next name that uses it.
CREATE FUNCTION plinth_partner_names_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE
    new_terms text[] := '{}';
    gone text[];
BEGIN
    IF TG_OP <> 'DELETE' THEN
        new_terms := plinth_name_terms(NEW.name);
        INSERT INTO partner_names (org_id, partner_id, company_id, name, terms)
        VALUES (NEW.org_id, NEW.id, NEW.company_id, lower(NEW.name), new_terms)
        ON CONFLICT (org_id, partner_id) DO UPDATE
            SET company_id = EXCLUDED.company_id, name = EXCLUDED.name, terms = EXCLUDED.terms
            WHERE (partner_names.company_id, partner_names.name)
                  IS DISTINCT FROM (EXCLUDED.company_id, EXCLUDED.name);
        INSERT INTO partner_terms (org_id, term)
        SELECT NEW.org_id, t FROM unnest(new_terms) AS t
        ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM partner_names WHERE org_id = OLD.org_id AND partner_id = OLD.id;
        END IF;
        gone := ARRAY(SELECT t FROM unnest(plinth_name_terms(OLD.name)) AS t
                      WHERE NOT t = ANY (new_terms));
        IF cardinality(gone) > 0 THEN
            DELETE FROM partner_terms v
            WHERE v.org_id = OLD.org_id AND v.term = ANY (gone)
              AND NOT EXISTS (SELECT 1 FROM partner_names n
                              WHERE n.org_id = v.org_id AND n.terms @> ARRAY[v.term]);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER partners_names_sync AFTER INSERT OR DELETE OR UPDATE OF name, company_id
    ON partners FOR EACH ROW EXECUTE FUNCTION plinth_partner_names_sync();

-- The ids of the partners whose names hold every word of p_query, each word as typed, as
-- a prefix (from 2 letters), or as a typo (trigram similarity over
-- pg_trgm.similarity_threshold) of a word in the org's names: of the request's org
-- (app.org_id) and company limit (app.company_ids), as the partners policy reads them.
-- At most p_max of them (for a query that broad, which ones is the index's order) and
-- every name equal to p_query. The first 8 words count.
CREATE FUNCTION plinth_partner_matches(p_query text, p_max integer) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 50
SET search_path = pg_catalog, public AS $$
DECLARE
    org uuid := nullif(current_setting('app.org_id', true), '')::uuid;
    companies uuid[] := nullif(current_setting('app.company_ids', true), '')::uuid[];
    word text;
    variants text[];
    conditions text := '';
    found uuid[];
BEGIN
    IF org IS NULL THEN
        RETURN;
    END IF;
    FOR word IN SELECT t FROM unnest(plinth_name_terms(p_query)) AS t LIMIT 8 LOOP
        variants := ARRAY(
            SELECT term FROM partner_terms
            WHERE org_id = org
              AND (term % word OR (char_length(word) >= 2 AND term LIKE word || '%'))
            ORDER BY similarity(term, word) DESC, term
            LIMIT 16);
        IF NOT word = ANY (variants) THEN
            variants := array_append(variants, word);
        END IF;
        conditions := conditions || format(' AND terms && %L::text[]', variants);
    END LOOP;
    IF conditions = '' THEN
        RETURN;
    END IF;
    EXECUTE format(
        'SELECT ARRAY(SELECT partner_id FROM partner_names WHERE org_id = $1'
        ' AND ($2::uuid[] IS NULL OR company_id = ANY ($2))%s LIMIT $3)', conditions)
        INTO found USING org, companies, p_max;
    RETURN QUERY
        SELECT unnest(found)
        UNION
        SELECT partner_id FROM partner_names
        WHERE org_id = org AND name = lower(p_query)
          AND (companies IS NULL OR company_id = ANY (companies));
END
$$;

REVOKE ALL ON FUNCTION plinth_partner_matches(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION plinth_partner_names_sync() FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_app') THEN
        GRANT EXECUTE ON FUNCTION plinth_partner_matches(text, integer) TO plinth_app;
    END IF;
END
$$;

-- The partners there already. Their owner reads them past row-level security only while
-- the policy is not forced, within this migration's transaction.
ALTER TABLE partners NO FORCE ROW LEVEL SECURITY;
INSERT INTO partner_names (org_id, partner_id, company_id, name, terms)
SELECT org_id, id, company_id, lower(name), plinth_name_terms(name) FROM partners;
INSERT INTO partner_terms (org_id, term)
SELECT DISTINCT org_id, unnest(terms) FROM partner_names;
ALTER TABLE partners FORCE ROW LEVEL SECURITY;
