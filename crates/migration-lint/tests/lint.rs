//! The lint against small snippets (one rule broken at a time) and the real migrations.

use plinth_migration_lint::{Finding, lint::lint_sources, lint_dir, rules};

const PRELUDE: &str = "
CREATE TABLE org (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL);
";

/// A tenant table that follows every convention; `{}` pieces are replaced per case.
const GOOD: &str = "
CREATE TABLE companies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);
CREATE TRIGGER companies_set_updated_at BEFORE UPDATE ON companies
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
ALTER TABLE companies ENABLE ROW LEVEL SECURITY;
ALTER TABLE companies FORCE ROW LEVEL SECURITY;
CREATE POLICY companies_org ON companies
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
CREATE TABLE contacts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,
    company_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, company_id) REFERENCES companies(org_id, id)
);
CREATE INDEX contacts_org_company ON contacts (org_id, company_id);
CREATE TRIGGER contacts_set_updated_at BEFORE UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY contacts_org ON contacts
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
";

fn lint(sql: &str) -> Vec<Finding> {
    lint_sources([("0001_base.up.sql", PRELUDE), ("0002_x.up.sql", sql)])
}

#[test]
fn a_conforming_schema_has_no_findings() {
    assert_eq!(lint(GOOD), Vec::<Finding>::new());
}

#[test]
fn each_broken_convention_is_found() {
    // (what changes, from, to, table, rule)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "id not uuid",
            "id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n    org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,\n    name",
            "id bigint PRIMARY KEY DEFAULT 1,\n    org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,\n    name",
            "companies",
            rules::TENANT_ID,
        ),
        (
            "id without default",
            "id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n    org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,\n    name",
            "id uuid PRIMARY KEY,\n    org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,\n    name",
            "companies",
            rules::TENANT_ID,
        ),
        (
            "serial id",
            "id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n    org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,\n    name",
            "id bigserial PRIMARY KEY,\n    org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,\n    name",
            "companies",
            rules::NO_SERIAL,
        ),
        (
            "org_id nullable",
            "org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,\n    name",
            "org_id uuid REFERENCES org(id) ON DELETE RESTRICT,\n    name",
            "companies",
            rules::TENANT_ORG_ID,
        ),
        (
            "org_id cascade",
            "org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,\n    name",
            "org_id uuid NOT NULL REFERENCES org(id) ON DELETE CASCADE,\n    name",
            "companies",
            rules::TENANT_ORG_ID,
        ),
        (
            "org_id without FK",
            "org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,\n    name",
            "org_id uuid NOT NULL,\n    name",
            "companies",
            rules::TENANT_ORG_ID,
        ),
        (
            "no org index",
            "CREATE INDEX contacts_org_company ON contacts (org_id, company_id);",
            "CREATE INDEX contacts_company ON contacts (company_id, org_id);",
            "contacts",
            rules::TENANT_ORG_INDEX,
        ),
        (
            "timestamp without tz",
            "name text NOT NULL,\n    created_at timestamptz",
            "name text NOT NULL,\n    created_at timestamp",
            "companies",
            rules::NO_TIMESTAMP_WITHOUT_TZ,
        ),
        (
            "nullable updated_at",
            "name text NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now(),\n    updated_at timestamptz NOT NULL",
            "name text NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now(),\n    updated_at timestamptz",
            "companies",
            rules::TENANT_TIMESTAMPS,
        ),
        (
            "no trigger",
            "CREATE TRIGGER contacts_set_updated_at BEFORE UPDATE ON contacts\n    FOR EACH ROW EXECUTE FUNCTION set_updated_at();",
            "",
            "contacts",
            rules::TENANT_UPDATED_AT_TRIGGER,
        ),
        (
            "trigger runs another function",
            "ON contacts\n    FOR EACH ROW EXECUTE FUNCTION set_updated_at()",
            "ON contacts\n    FOR EACH ROW EXECUTE FUNCTION touch()",
            "contacts",
            rules::TENANT_UPDATED_AT_TRIGGER,
        ),
        (
            "single-column FK to a tenant table",
            "FOREIGN KEY (org_id, company_id) REFERENCES companies(org_id, id)",
            "FOREIGN KEY (company_id) REFERENCES companies(id)",
            "contacts",
            rules::TENANT_COMPOSITE_FK,
        ),
        (
            "RLS not forced",
            "ALTER TABLE companies FORCE ROW LEVEL SECURITY;",
            "",
            "companies",
            rules::TENANT_RLS,
        ),
        (
            "no policy",
            "CREATE POLICY contacts_org ON contacts\n    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);",
            "",
            "contacts",
            rules::TENANT_RLS,
        ),
        (
            "no created_at",
            "    created_at timestamptz NOT NULL DEFAULT now(),\n    updated_at timestamptz NOT NULL DEFAULT now(),\n    UNIQUE",
            "    updated_at timestamptz NOT NULL DEFAULT now(),\n    UNIQUE",
            "companies",
            rules::TENANT_TIMESTAMPS,
        ),
    ];
    for (what, from, to, table, rule) in cases {
        assert!(GOOD.contains(from), "{what}: snippet not found");
        let found = lint(&GOOD.replacen(from, to, 1));
        assert!(
            found
                .iter()
                .any(|f| f.rule == *rule && f.table == *table && f.file == "0002_x.up.sql"),
            "{what}: expected {rule} on {table}, got {found:#?}"
        );
        assert!(
            found.iter().all(|f| f.table == *table),
            "{what}: findings on other tables: {found:#?}"
        );
    }
}

#[test]
fn global_tables_only_get_the_global_rules() {
    let sql = "CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL, seen timestamp);
               CREATE TABLE sessions (id bigserial PRIMARY KEY);";
    let found = lint(sql);
    let rules: Vec<_> = found.iter().map(|f| (f.table.as_str(), f.rule)).collect();
    assert_eq!(
        rules,
        [
            ("users", rules::NO_TIMESTAMP_WITHOUT_TZ),
            ("sessions", rules::NO_SERIAL)
        ]
    );
}

#[test]
fn later_migrations_complete_a_table() {
    let first = GOOD.replace(
        "CREATE INDEX contacts_org_company ON contacts (org_id, company_id);",
        "",
    );
    assert!(
        !lint_sources([
            ("0001_a.up.sql", PRELUDE),
            ("0002_b.up.sql", first.as_str())
        ])
        .is_empty()
    );
    let found = lint_sources([
        ("0001_a.up.sql", PRELUDE),
        ("0002_b.up.sql", first.as_str()),
        (
            "0003_c.up.sql",
            "CREATE INDEX contacts_org ON contacts (org_id);",
        ),
    ]);
    assert_eq!(found, Vec::<Finding>::new());
}

#[test]
fn findings_print_as_file_table_rule_message() {
    let f = &lint("CREATE TABLE notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid())")[0];
    let line = f.to_string();
    assert!(
        line.starts_with("0002_x.up.sql:notes: tenant-org-id: "),
        "{line}"
    );
}

#[test]
fn unreadable_table_statements_are_findings() {
    let found = lint("CREATE TABLE broken (id uuid PRIMARY KEY DEFAULT,);");
    assert!(
        found.iter().any(|f| f.rule == rules::UNREADABLE),
        "{found:#?}"
    );
    // statements the lint does not need (DO blocks, functions) are skipped
    assert!(lint("DO $$ BEGIN PERFORM 1; END $$;").is_empty());
}

#[test]
fn the_real_migrations_follow_the_conventions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
    let found = lint_dir(dir);
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        found.is_empty(),
        "migration lint findings:\n{}",
        lines.join("\n")
    );
}

#[test]
fn the_failing_fixture_set_is_a_valid_set() {
    // The fixture's tables are deliberately minimal; only its shape is checked here.
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/migrations-failing"
    );
    let files = plinth_migration_lint::files::read_dir(dir.as_ref()).unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|m| format!("{}_{}", m.revision, m.name))
        .collect();
    assert_eq!(names, ["0001_ok", "0002_fails"]);
}

/// An index table (`INDEX_TABLES`) as 0008 makes one: the tenant rules but
/// row-level security enabled, not forced, with no policy.
const INDEX_TABLE: &str = "
CREATE TABLE partner_terms (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL REFERENCES org(id) ON DELETE CASCADE,
    term text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, term)
);
CREATE TRIGGER partner_terms_set_updated_at BEFORE UPDATE ON partner_terms
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
ALTER TABLE partner_terms ENABLE ROW LEVEL SECURITY;
";

#[test]
fn index_tables_are_readable_only_by_their_owner() {
    assert_eq!(lint(INDEX_TABLE), Vec::<Finding>::new());
    let rls = |sql: &str| -> Vec<&'static str> { lint(sql).iter().map(|f| f.rule).collect() };
    let forced = format!("{INDEX_TABLE}ALTER TABLE partner_terms FORCE ROW LEVEL SECURITY;");
    assert_eq!(rls(&forced), [rules::TENANT_RLS]);
    let with_policy = format!(
        "{INDEX_TABLE}CREATE POLICY p ON partner_terms USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid);"
    );
    assert_eq!(rls(&with_policy), [rules::TENANT_RLS]);
    let disabled = INDEX_TABLE.replace("ALTER TABLE partner_terms ENABLE ROW LEVEL SECURITY;", "");
    assert_eq!(rls(&disabled), [rules::TENANT_RLS]);
    // Any other tenant table must still restrict the org's deletion.
    let cascading = GOOD.replacen("ON DELETE RESTRICT", "ON DELETE CASCADE", 1);
    assert_eq!(rls(&cascading), [rules::TENANT_ORG_ID]);
}
