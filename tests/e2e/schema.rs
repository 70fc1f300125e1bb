//! The tenant conventions checked against the live schema (pg_catalog /
//! information_schema) after upgrading a scratch database to head, the `org`
//! table's own guarantees (slug uniqueness, settings_json, updated_at trigger), and
//! the identity tables' (constraint names the handlers map, cascades, grants).

use postgres::Client;
use postgres::error::SqlState;

use crate::helpers::{
    app, migrate_app, owner_url_for, pg_connect, scratch_db, service, superuser_url_for,
};

/// Tables that are the named exceptions to the tenant rules.
const GLOBAL_TABLES: [&str; 9] = [
    "org",
    "users",
    "sessions",
    "memberships",
    "refresh_tokens",
    "invitations",
    "email_tokens",
    "email_outbox",
    "schema_migrations",
];
/// Index tables (the lint's `INDEX_TABLES`): tenant tables kept by triggers
/// and read only through SECURITY DEFINER functions, so row-level security
/// is enabled, not forced and without a policy, and the app role has no grant.
const INDEX_TABLES: [&str; 2] = ["partner_names", "partner_terms"];
/// Tables without created_at/updated_at (bookkeeping).
const NO_TIMESTAMPS: [&str; 1] = ["schema_migrations"];
const APP_ROLE: &str = "plinth_app";

/// A scratch database upgraded to head through the migrate component.
fn migrated_db(tag: &str) -> String {
    let db = scratch_db(tag);
    let m = migrate_app(&db);
    let resp = m.upgrade("head");
    assert_eq!(
        resp.status,
        200,
        "upgrade: {}\nlogs:\n{}",
        resp.text(),
        m.logs()
    );
    db
}

fn tables(c: &mut Client) -> Vec<String> {
    c.query(
        "SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
        &[],
    )
    .expect("list tables")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

struct Column {
    name: String,
    data_type: String,
    nullable: bool,
    default: String,
}

fn columns(c: &mut Client, table: &str) -> Vec<Column> {
    c.query(
        "SELECT column_name::text, data_type::text, is_nullable::text = 'YES', \
                coalesce(column_default::text, '') \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name::text = $1 ORDER BY ordinal_position",
        &[&table],
    )
    .expect("columns")
    .iter()
    .map(|r| Column {
        name: r.get(0),
        data_type: r.get(1),
        nullable: r.get(2),
        default: r.get(3),
    })
    .collect()
}

/// Violations of the rules every table follows.
fn common_violations(c: &mut Client, table: &str) -> Vec<String> {
    let mut v = Vec::new();
    let cols = columns(c, table);
    for col in &cols {
        if col.data_type == "timestamp without time zone" {
            v.push(format!("{table}.{}: timestamp without time zone", col.name));
        }
        if col.default.starts_with("nextval(") {
            v.push(format!("{table}.{}: serial (use uuid ids)", col.name));
        }
    }
    if NO_TIMESTAMPS.contains(&table) {
        return v;
    }
    for name in ["created_at", "updated_at"] {
        match cols.iter().find(|c| c.name == name) {
            None => v.push(format!("{table}: no {name}")),
            Some(col) => {
                if col.data_type != "timestamp with time zone" || col.nullable {
                    v.push(format!("{table}.{name}: must be timestamptz NOT NULL"));
                }
                if col.default != "now()" {
                    v.push(format!(
                        "{table}.{name}: default must be now(), is {:?}",
                        col.default
                    ));
                }
            }
        }
    }
    let triggers: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid \
             WHERE t.tgrelid = ($1::text)::regclass AND NOT t.tgisinternal \
               AND p.proname = 'set_updated_at' \
               AND (t.tgtype & 1) = 1 AND (t.tgtype & 2) = 2 AND (t.tgtype & 16) = 16",
            &[&table],
        )
        .expect("triggers")
        .get(0);
    if triggers != 1 {
        v.push(format!(
            "{table}: needs one BEFORE UPDATE FOR EACH ROW trigger running set_updated_at()"
        ));
    }
    let owner: String = c
        .query_one(
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = ($1::text)::regclass",
            &[&table],
        )
        .expect("owner")
        .get(0);
    if owner == APP_ROLE {
        v.push(format!("{table}: owned by the app role"));
    }
    v
}

/// Violations of the tenant-table conventions (ARCHITECTURE.md, migrations/README.md).
fn tenant_violations(c: &mut Client, table: &str) -> Vec<String> {
    let mut v = Vec::new();
    let cols = columns(c, table);
    let col = |n: &str| cols.iter().find(|c| c.name == n);
    match col("id") {
        Some(id) if id.data_type == "uuid" && id.default.contains("gen_random_uuid()") => {}
        _ => v.push(format!(
            "{table}: id must be uuid DEFAULT gen_random_uuid()"
        )),
    }
    let pk: Option<Vec<String>> = c
        .query_opt(
            "SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = ($1::text)::regclass AND i.indisprimary GROUP BY i.indexrelid",
            &[&table],
        )
        .expect("primary key")
        .map(|r| r.get(0));
    if pk.as_deref() != Some(&["id".to_owned()][..]) {
        v.push(format!("{table}: PRIMARY KEY must be (id), is {pk:?}"));
    }
    match col("org_id") {
        Some(o) if o.data_type == "uuid" && !o.nullable => {}
        _ => v.push(format!("{table}: org_id must be uuid NOT NULL")),
    }
    let fks: Vec<(String, String, Vec<String>, Vec<String>)> = c
        .query(
            "SELECT c.confdeltype::text, c.confrelid::regclass::text, \
                    array(SELECT attname::text FROM pg_attribute \
                          WHERE attrelid = c.conrelid AND attnum = ANY(c.conkey)), \
                    array(SELECT attname::text FROM pg_attribute \
                          WHERE attrelid = c.confrelid AND attnum = ANY(c.confkey)) \
             FROM pg_constraint c WHERE c.conrelid = ($1::text)::regclass AND c.contype = 'f'",
            &[&table],
        )
        .expect("foreign keys")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let index_table = INDEX_TABLES.contains(&table);
    let org_fk = fks.iter().any(|(del, to, from, target)| {
        to == "org"
            && from == &["org_id"]
            && target == &["id"]
            && (del == "r" || (index_table && del == "c"))
    });
    if !org_fk {
        v.push(format!(
            "{table}: needs org_id REFERENCES org(id) ON DELETE RESTRICT"
        ));
    }
    for (_, to, from, _) in &fks {
        if to != "org"
            && !GLOBAL_TABLES.contains(&to.as_str())
            && !from.contains(&"org_id".to_owned())
        {
            v.push(format!(
                "{table}: reference to tenant table {to} must be composite with org_id, is {from:?}"
            ));
        }
    }
    let (rls, forced): (bool, bool) = c
        .query_one(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = ($1::text)::regclass",
            &[&table],
        )
        .map(|r| (r.get(0), r.get(1)))
        .expect("row level security flags");
    if index_table {
        if !rls || forced {
            v.push(format!(
                "{table}: an index table's row level security is enabled, not forced"
            ));
        }
    } else if !rls || !forced {
        v.push(format!(
            "{table}: row level security must be enabled and forced"
        ));
    }
    let policies: Vec<String> = c
        .query(
            "SELECT coalesce(qual, '') || ' ' || coalesce(with_check, '') FROM pg_policies \
             WHERE schemaname = 'public' AND tablename::text = $1",
            &[&table],
        )
        .expect("policies")
        .iter()
        .map(|r| r.get(0))
        .collect();
    if index_table {
        if !policies.is_empty() {
            v.push(format!("{table}: an index table has no policy"));
        }
    } else if !policies
        .iter()
        .map(|p| p.to_ascii_lowercase())
        .any(|p| p.contains("app.org_id") && p.contains("nullif"))
    {
        v.push(format!(
            "{table}: needs a policy on nullif(current_setting('app.org_id', true), '')::uuid"
        ));
    }
    let org_indexes: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indrelid = ($1::text)::regclass AND NOT i.indisprimary AND a.attname = 'org_id'",
            &[&table],
        )
        .expect("indexes")
        .get(0);
    if org_indexes == 0 {
        v.push(format!("{table}: needs an index leading with org_id"));
    }
    let grants: String = c
        .query_one(
            "SELECT coalesce(string_agg(privilege_type::text, ',' ORDER BY privilege_type::text), '') \
             FROM information_schema.role_table_grants \
             WHERE grantee::text = $1 AND table_schema = 'public' AND table_name::text = $2",
            &[&APP_ROLE, &table],
        )
        .expect("grants")
        .get(0);
    // Append-only tables: rows are written once and removed only with their
    // org, so the app role cannot rewrite history.
    let want = if index_table {
        ""
    } else if APPEND_ONLY.contains(&table) {
        "DELETE,INSERT,SELECT"
    } else {
        "DELETE,INSERT,SELECT,UPDATE"
    };
    if grants != want {
        v.push(format!(
            "{table}: the app role needs exactly {want}, has {grants:?}"
        ));
    }
    v
}

/// Tenant tables the app role may not update.
const APPEND_ONLY: [&str; 1] = ["audit_events"];

fn all_violations(c: &mut Client) -> Vec<String> {
    let mut v = Vec::new();
    for table in tables(c) {
        v.extend(common_violations(c, &table));
        if !GLOBAL_TABLES.contains(&table.as_str()) {
            v.extend(tenant_violations(c, &table));
        }
    }
    v
}

#[test]
fn live_schema_follows_the_tenant_conventions() {
    let scratch = migrated_db("schema_conventions");
    // The app's own database too, as the shared app migrated it.
    let _ = app();
    let app_db = service("SPIN_VARIABLE_PG_DATABASE").to_owned();
    for db in [scratch, app_db] {
        check_live_schema(&db);
    }
}

fn check_live_schema(db: &str) {
    let mut su = pg_connect(&superuser_url_for(db));
    let found = tables(&mut su);
    for global in ["org", "schema_migrations"] {
        assert!(
            found.contains(&global.to_owned()),
            "{global} exists after upgrade: {found:?}"
        );
    }
    // Every table is classified: a new one must be added here, as global (and
    // to the lint's allowlist) or as tenant, so the tenant rules run on it.
    const EXPECTED_GLOBAL: &[&str] = &[
        "org",
        "users",
        "memberships",
        "sessions",
        "refresh_tokens",
        "invitations",
        "email_tokens",
        "email_outbox",
        "schema_migrations",
    ];
    const EXPECTED_TENANT: &[&str] = &[
        "audit_events",
        "companies",
        "files",
        "member_companies",
        "partner_names",
        "partner_terms",
        "partners",
    ];
    let tenant: Vec<&String> = found
        .iter()
        .filter(|t| !GLOBAL_TABLES.contains(&t.as_str()))
        .collect();
    let mut expected: Vec<&str> = EXPECTED_GLOBAL
        .iter()
        .chain(EXPECTED_TENANT)
        .copied()
        .collect();
    expected.sort_unstable();
    let mut actual: Vec<&str> = found.iter().map(String::as_str).collect();
    actual.sort_unstable();
    assert_eq!(actual, expected, "{db}: the tables after upgrade");
    let mut tenant: Vec<&str> = tenant.iter().map(|t| t.as_str()).collect();
    tenant.sort_unstable();
    let mut expected_tenant = EXPECTED_TENANT.to_vec();
    expected_tenant.sort_unstable();
    assert_eq!(tenant, expected_tenant, "{db}: tenant tables");
    let owned: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)",
            &[&APP_ROLE],
        )
        .expect("objects owned by the app role")
        .get(0);
    assert_eq!(owned, 0, "{db}: the app role owns nothing");
    let can_create: bool = su
        .query_one(
            "SELECT has_schema_privilege($1, 'public', 'CREATE')",
            &[&APP_ROLE],
        )
        .expect("schema privilege")
        .get(0);
    assert!(
        !can_create,
        "the app role cannot create objects in schema public"
    );
    let violations = all_violations(&mut su);
    assert!(
        violations.is_empty(),
        "{db}: the live schema breaks the conventions:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_convention_check_flags_a_bad_tenant_table_and_passes_a_good_one() {
    let db = migrated_db("schema_checker");
    let mut owner = pg_connect(&owner_url_for(&db));
    owner
        .batch_execute(
            "CREATE TABLE e2e_bad (id serial PRIMARY KEY, name text, seen timestamp);
             CREATE TABLE e2e_good (
                 id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
                 org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT,
                 created_at timestamptz NOT NULL DEFAULT now(),
                 updated_at timestamptz NOT NULL DEFAULT now(),
                 UNIQUE (org_id, id)
             );
             CREATE TRIGGER e2e_good_set_updated_at BEFORE UPDATE ON e2e_good
                 FOR EACH ROW EXECUTE FUNCTION set_updated_at();
             ALTER TABLE e2e_good ENABLE ROW LEVEL SECURITY;
             ALTER TABLE e2e_good FORCE ROW LEVEL SECURITY;
             CREATE POLICY e2e_good_tenant ON e2e_good
                 USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
                 WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
             GRANT SELECT, INSERT, UPDATE, DELETE ON e2e_good TO plinth_app;",
        )
        .expect("create the checker's sample tables");
    let mut su = pg_connect(&superuser_url_for(&db));
    let mut bad = common_violations(&mut su, "e2e_bad");
    bad.extend(tenant_violations(&mut su, "e2e_bad"));
    for expected in [
        "serial",
        "timestamp without time zone",
        "no created_at",
        "set_updated_at",
        "id must be uuid",
        "org_id must be uuid",
        "REFERENCES org(id)",
        "row level security",
        "policy",
        "index leading with org_id",
        "app role needs exactly",
    ] {
        assert!(
            bad.iter().any(|v| v.contains(expected)),
            "the check must report {expected:?} for e2e_bad; got:\n{}",
            bad.join("\n")
        );
    }
    let mut good = common_violations(&mut su, "e2e_good");
    good.extend(tenant_violations(&mut su, "e2e_good"));
    assert!(
        good.is_empty(),
        "a conforming table passes; got:\n{}",
        good.join("\n")
    );
}

#[test]
fn org_table_guarantees() {
    let db = migrated_db("schema_org");
    let mut su = pg_connect(&superuser_url_for(&db));

    let slug_index: String = su
        .query_one(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = 'org_slug_key'",
            &[],
        )
        .expect("org_slug_key exists")
        .get(0);
    assert!(
        slug_index.contains("UNIQUE") && slug_index.contains("lower(slug)"),
        "org_slug_key is a unique index on lower(slug): {slug_index}"
    );
    let gin: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'org' \
             AND indexdef ILIKE '%USING gin (settings_json)%'",
            &[],
        )
        .expect("gin index")
        .get(0);
    assert_eq!(gin, 1, "org.settings_json has a GIN index");
    let cols = columns(&mut su, "org");
    let settings = cols
        .iter()
        .find(|c| c.name == "settings_json")
        .expect("org.settings_json");
    assert_eq!(settings.data_type, "jsonb");
    assert!(!settings.nullable, "settings_json NOT NULL");
    assert_eq!(
        settings.default, "'{}'::jsonb",
        "settings_json DEFAULT '{{}}'"
    );

    let mut owner = pg_connect(&owner_url_for(&db));
    let row = owner
        .query_one(
            "INSERT INTO org (name, slug) VALUES ('Acme', 'acme') \
             RETURNING id::text, settings_json::text, updated_at = created_at",
            &[],
        )
        .expect("insert org");
    let id: String = row.get(0);
    assert_eq!(
        row.get::<_, String>(1),
        "{}",
        "settings_json defaults to {{}}"
    );
    assert!(row.get::<_, bool>(2));

    std::thread::sleep(std::time::Duration::from_millis(20));
    let changed: bool = owner
        .query_one(
            "UPDATE org SET name = 'Acme Inc' WHERE id = $1::text::uuid RETURNING updated_at > created_at",
            &[&id],
        )
        .expect("update org")
        .get(0);
    assert!(changed, "the updated_at trigger moves updated_at on UPDATE");

    let dup = owner
        .execute(
            "INSERT INTO org (name, slug) VALUES ('Acme again', 'acme')",
            &[],
        )
        .expect_err("same slug twice");
    assert_eq!(dup.code(), Some(&SqlState::UNIQUE_VIOLATION), "{dup}");
    assert_eq!(
        dup.as_db_error().and_then(|e| e.constraint()),
        Some("org_slug_key"),
        "the violation names org_slug_key"
    );

    // Slugs differing only in case: the format check already refuses upper case …
    let upper = owner
        .execute("INSERT INTO org (name, slug) VALUES ('Upper', 'ACME')", &[])
        .expect_err("upper-case slug");
    assert_eq!(upper.code(), Some(&SqlState::CHECK_VIOLATION), "{upper}");
    // … and without it, the unique index on lower(slug) still does.
    let slug_check: String = owner
        .query_one(
            "SELECT conname::text FROM pg_constraint WHERE conrelid = 'org'::regclass \
             AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%slug%'",
            &[],
        )
        .expect("the slug format check")
        .get(0);
    let mut tx = owner.transaction().expect("begin");
    tx.batch_execute(&format!("ALTER TABLE org DROP CONSTRAINT {slug_check}"))
        .expect("drop the format check inside the transaction");
    let case = tx
        .execute("INSERT INTO org (name, slug) VALUES ('Upper', 'ACME')", &[])
        .expect_err("slug differing only in case");
    assert_eq!(case.code(), Some(&SqlState::UNIQUE_VIOLATION), "{case}");
    drop(tx); // rolls back
    let still: i64 = owner
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conname = $1",
            &[&slug_check],
        )
        .expect("constraint")
        .get(0);
    assert_eq!(still, 1, "the format check is back after the rollback");
}

/// The constraint a failed statement names, with its SQLSTATE.
fn refused(e: &postgres::Error) -> (Option<&SqlState>, Option<&str>) {
    (e.code(), e.as_db_error().and_then(|d| d.constraint()))
}

#[test]
fn identity_table_guarantees() {
    let db = migrated_db("schema_identity");
    let mut su = pg_connect(&superuser_url_for(&db));
    for table in [
        "users",
        "memberships",
        "sessions",
        "refresh_tokens",
        "invitations",
        "email_tokens",
        "email_outbox",
    ] {
        let grants: String = su
            .query_one(
                "SELECT coalesce(string_agg(privilege_type::text, ',' ORDER BY privilege_type::text), '') \
                 FROM information_schema.role_table_grants \
                 WHERE grantee::text = $1 AND table_schema = 'public' AND table_name::text = $2",
                &[&APP_ROLE, &table],
            )
            .expect("grants")
            .get(0);
        assert_eq!(
            grants, "DELETE,INSERT,SELECT,UPDATE",
            "{table}: the app role's privileges"
        );
    }
    let email_index: String = su
        .query_one(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = 'users_email_key'",
            &[],
        )
        .expect("users_email_key exists")
        .get(0);
    assert!(
        email_index.contains("UNIQUE") && email_index.contains("lower(email)"),
        "users_email_key is a unique index on lower(email): {email_index}"
    );

    let mut owner = pg_connect(&owner_url_for(&db));
    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    const INSERT_USER: &str = "INSERT INTO users (email, name, password_hash, default_org_id) \
                               VALUES ($1, $2, $3, $4::text::uuid) RETURNING id::text";
    let org: String = owner
        .query_one(
            "INSERT INTO org (name, slug) VALUES ('Acme', 'acme') RETURNING id::text",
            &[],
        )
        .expect("insert org")
        .get(0);
    let user: String = owner
        .query_one(
            INSERT_USER,
            &[&"Ada@Example.com", &"Ada", &HASH, &Some(&org)],
        )
        .expect("insert user")
        .get(0);

    // Each refusal names the constraint a handler maps to a field.
    let no_org: Option<&str> = None;
    let cases: [(&str, &str, &str, SqlState, &str); 6] = [
        (
            "same email, other case",
            "ada@EXAMPLE.com",
            "Ada",
            SqlState::UNIQUE_VIOLATION,
            "users_email_key",
        ),
        (
            "no @",
            "ada.example.com",
            "Ada",
            SqlState::CHECK_VIOLATION,
            "users_email_check",
        ),
        (
            "two @",
            "a@b@example.com",
            "Ada",
            SqlState::CHECK_VIOLATION,
            "users_email_check",
        ),
        (
            "@ at the end",
            "ada@",
            "Ada",
            SqlState::CHECK_VIOLATION,
            "users_email_check",
        ),
        (
            "leading whitespace",
            " ada@example.org",
            "Ada",
            SqlState::CHECK_VIOLATION,
            "users_email_check",
        ),
        (
            "blank name",
            "bob@example.com",
            "   ",
            SqlState::CHECK_VIOLATION,
            "users_name_check",
        ),
    ];
    for (what, email, name, code, constraint) in cases {
        let e = owner
            .query_one(INSERT_USER, &[&email, &name, &HASH, &no_org])
            .expect_err(what);
        assert_eq!(refused(&e), (Some(&code), Some(constraint)), "{what}: {e}");
    }
    let long = format!("{}@example.com", "a".repeat(250));
    let e = owner
        .query_one(INSERT_USER, &[&long, &"Long", &HASH, &no_org])
        .expect_err("email over 254 characters");
    assert_eq!(
        refused(&e),
        (Some(&SqlState::CHECK_VIOLATION), Some("users_email_check")),
        "{e}"
    );
    let e = owner
        .query_one(
            INSERT_USER,
            &[
                &"eve@example.com",
                &"Eve",
                &HASH,
                &Some("00000000-0000-4000-8000-000000000000"),
            ],
        )
        .expect_err("default org that does not exist");
    assert_eq!(
        refused(&e),
        (
            Some(&SqlState::FOREIGN_KEY_VIOLATION),
            Some("users_default_org_id_fkey")
        ),
        "{e}"
    );

    owner
        .execute(
            "INSERT INTO memberships (org_id, user_id, role) VALUES ($1::text::uuid, $2::text::uuid, 'owner')",
            &[&org, &user],
        )
        .expect("insert membership");
    for (what, role, code, constraint) in [
        (
            "twice",
            "admin",
            SqlState::UNIQUE_VIOLATION,
            "memberships_pkey",
        ),
        (
            "unknown role",
            "root",
            SqlState::CHECK_VIOLATION,
            "memberships_role_check",
        ),
    ] {
        let e = owner
            .execute(
                "INSERT INTO memberships (org_id, user_id, role) VALUES ($1::text::uuid, $2::text::uuid, $3)",
                &[&org, &user, &role],
            )
            .expect_err(what);
        assert_eq!(
            refused(&e),
            (Some(&code), Some(constraint)),
            "membership {what}: {e}"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    let moved: bool = owner
        .query_one(
            "UPDATE memberships SET role = 'admin' WHERE user_id = $1::text::uuid \
             RETURNING updated_at > created_at",
            &[&user],
        )
        .expect("update membership")
        .get(0);
    assert!(moved, "memberships.updated_at moves on UPDATE");
    let e = owner
        .execute("DELETE FROM org WHERE id = $1::text::uuid", &[&org])
        .expect_err("an org with members");
    assert_eq!(
        refused(&e),
        (
            Some(&SqlState::FOREIGN_KEY_VIOLATION),
            Some("memberships_org_id_fkey")
        ),
        "{e}"
    );

    let digest = "a".repeat(64);
    let session: String = owner
        .query_one(
            "INSERT INTO sessions (user_id, org_id, access_digest, expires_at) \
             VALUES ($1::text::uuid, $3::text::uuid, $2, now() + interval '1 hour') RETURNING id::text",
            &[&user, &digest, &org],
        )
        .expect("insert session")
        .get(0);
    for (column, constraint) in [
        ("access_digest", "sessions_access_digest_check"),
        ("prev_access_digest", "sessions_prev_access_digest_check"),
    ] {
        for bad in [
            "A".repeat(64),
            "a".repeat(63),
            format!("{}g", "a".repeat(63)),
        ] {
            let e = owner
                .execute(
                    &format!("UPDATE sessions SET {column} = $1 WHERE id = $2::text::uuid"),
                    &[&bad, &session],
                )
                .expect_err("not 64 lowercase hex characters");
            assert_eq!(
                refused(&e),
                (Some(&SqlState::CHECK_VIOLATION), Some(constraint)),
                "{column} = {bad:?}: {e}"
            );
        }
    }
    owner
        .execute(
            "UPDATE sessions SET prev_access_digest = access_digest, access_digest = $1 \
             WHERE id = $2::text::uuid",
            &[&"b".repeat(64), &session],
        )
        .expect("rotate the access digest");

    const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (digest, session_id, expires_at) \
                                  VALUES ($1, $2::text::uuid, now() + interval '30 days')";
    owner
        .execute(INSERT_REFRESH, &[&"c".repeat(64), &session])
        .expect("insert refresh token");
    let e = owner
        .execute(INSERT_REFRESH, &[&"c".repeat(64), &session])
        .expect_err("same digest twice");
    assert_eq!(
        refused(&e),
        (
            Some(&SqlState::UNIQUE_VIOLATION),
            Some("refresh_tokens_pkey")
        ),
        "{e}"
    );
    let e = owner
        .execute(INSERT_REFRESH, &[&"not-hex", &session])
        .expect_err("a digest that is not hex");
    assert_eq!(
        refused(&e),
        (
            Some(&SqlState::CHECK_VIOLATION),
            Some("refresh_tokens_digest_check")
        ),
        "{e}"
    );
    owner
        .execute(
            "UPDATE refresh_tokens SET successor_digest = $1, rotated_at = now() WHERE digest = $2",
            &[&"d".repeat(64), &"c".repeat(64)],
        )
        .expect("rotate the refresh token");

    // Deleting the user takes its memberships, sessions and their refresh tokens along;
    // then the org can go, and a user pointing at it as default only loses the pointer.
    owner
        .execute("DELETE FROM users WHERE id = $1::text::uuid", &[&user])
        .expect("delete user");
    for table in ["memberships", "sessions", "refresh_tokens"] {
        let left: i64 = owner
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .expect("count")
            .get(0);
        assert_eq!(left, 0, "{table}: cascaded from the user");
    }
    let other: String = owner
        .query_one(
            INSERT_USER,
            &[&"grace@example.com", &"Grace", &HASH, &Some(&org)],
        )
        .expect("insert a user defaulting to the org")
        .get(0);
    owner
        .execute("DELETE FROM org WHERE id = $1::text::uuid", &[&org])
        .expect("delete an org without members");
    let default_org: Option<String> = owner
        .query_one(
            "SELECT default_org_id::text FROM users WHERE id = $1::text::uuid",
            &[&other],
        )
        .expect("the user stays")
        .get(0);
    assert_eq!(default_org, None, "default_org_id is set null with its org");
}
