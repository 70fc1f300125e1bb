//! The platform's Postgres write paths through a real component
//! (tests/components/platform-probe), under each Spin devhost reproduces:
//! a duplicate answers 409 naming the field, a dangling foreign key 422
//! naming the field, and a trap inside a transaction commits nothing, even
//! though Spin reports errors from a `query`'s row stream without a SQLSTATE.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, is_devhost, manifest, owner_url_for, pg_connect, scratch_db, service,
    superuser_url_for,
};
use crate::identity::Tenant;

const SCHEMA: &str = "
CREATE TABLE probe_parent (id uuid PRIMARY KEY);
CREATE TABLE probe_item (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug text NOT NULL,
    parent_id uuid,
    CONSTRAINT probe_item_slug_key UNIQUE (slug),
    CONSTRAINT probe_item_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES probe_parent (id)
);
CREATE TABLE probe_tenant_item (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL,
    slug text NOT NULL,
    CONSTRAINT probe_tenant_item_org_id_slug_key UNIQUE (org_id, slug)
);
ALTER TABLE probe_tenant_item ENABLE ROW LEVEL SECURITY;
ALTER TABLE probe_tenant_item FORCE ROW LEVEL SECURITY;
CREATE POLICY probe_tenant_item_org ON probe_tenant_item
    USING (org_id = nullif(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = nullif(current_setting('app.org_id', true), '')::uuid);
";

/// A scratch database with the probe's tables, writable by the app role.
fn probe_db() -> String {
    let db = scratch_db("writes");
    let mut owner = pg_connect(&owner_url_for(&db));
    owner
        .batch_execute(&format!(
            "{SCHEMA} GRANT SELECT, INSERT ON probe_parent, probe_item, probe_tenant_item TO {}",
            service("SPIN_VARIABLE_PG_APP_USER")
        ))
        .expect("create the probe tables");
    db
}

/// The Spin behaviours to run under: devhost's default (4.0.2) and
/// `--spin 3.6`; under a real Spin, that Spin only.
fn spins() -> Vec<(&'static str, Vec<&'static str>)> {
    if is_devhost() {
        vec![("4.0.2", vec![]), ("3.6.3", vec!["--spin", "3.6"])]
    } else {
        eprintln!(
            "under APP_RUNTIME=spin only that Spin is checked; devhost --spin 3.6 covers 3.6.3"
        );
        vec![("the Spin under test", vec![])]
    }
}

fn probe_app(db: &str, args: &[&str]) -> TestApp {
    TestApp::spawn_with(
        &manifest("tests/apps/platform-probe/spin.toml"),
        &[("SPIN_VARIABLE_PG_DATABASE", db.to_owned())],
        args,
    )
}

fn count(db: &str, sql: &str) -> i64 {
    pg_connect(&owner_url_for(db))
        .query_one(sql, &[])
        .expect("count")
        .get(0)
}

/// (what, path, body, headers) of one write path.
type WriteCase<'a> = (String, &'a str, Value, Vec<(&'a str, &'a str)>);

#[test]
fn a_duplicate_through_every_write_path_is_a_409_naming_the_field_on_every_spin() {
    let db = probe_db();
    for (round, (spin, args)) in spins().into_iter().enumerate() {
        let app = probe_app(&db, &args);
        if round == 0 {
            let migrated = app.upgrade("head");
            assert_eq!(migrated.status, 200, "{}", migrated.text());
        }
        let tenant = app.new_tenant();
        let auth = format!("Bearer {}", tenant.access);
        let tag = spin.replace(['.', ' '], "-");
        let mut cases: Vec<WriteCase> = Vec::new();
        for how in ["fetch", "transaction"] {
            let body = json!({"how": how, "slug": format!("dup-{how}-{tag}")});
            cases.push((format!("Db::{how}"), "/probe/items", body, vec![]));
        }
        cases.push((
            "Db::tenant_as".into(),
            "/probe/tenant-items/as-caller",
            json!({"slug": format!("dup-tenant-{tag}")}),
            vec![("authorization", auth.as_str())],
        ));
        for (what, path, body, headers) in &cases {
            let first = app.post_json_with(path, headers, body);
            assert_eq!(first.status, 201, "{spin}, {what}: {}", first.text());
            let second = app.post_json_with(path, headers, body);
            assert_eq!(second.status, 409, "{spin}, {what}: {}", second.text());
            assert_eq!(
                second.header("content-type"),
                Some("application/problem+json"),
                "{spin}, {what}"
            );
            let problem = second.json();
            assert_eq!(problem["field"], "slug", "{spin}, {what}: {problem}");
            assert_eq!(problem["detail"], "slug is already taken", "{spin}, {what}");
        }
        // The same slug in another org is not a duplicate (the key is per org).
        let other_auth = format!("Bearer {}", app.new_tenant().access);
        let other = app.post_json_with(
            "/probe/tenant-items/as-caller",
            &[("authorization", &other_auth)],
            &json!({"slug": format!("dup-tenant-{tag}")}),
        );
        assert_eq!(other.status, 201, "{spin}: {}", other.text());

        // A foreign key that points nowhere: 422 naming the field, nothing written.
        let orphan = format!("orphan-{tag}");
        for how in ["fetch", "transaction"] {
            let resp = app.post_json(
                "/probe/items",
                &json!({"how": how, "slug": orphan, "parent_id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}),
            );
            assert_eq!(resp.status, 422, "{spin}, {how}: {}", resp.text());
            assert_eq!(
                resp.json()["errors"][0]["field"],
                "parent_id",
                "{spin}, {how}: {}",
                resp.text()
            );
        }
        assert_eq!(
            count(
                &db,
                &format!("SELECT count(*) FROM probe_item WHERE slug = '{orphan}'")
            ),
            0,
            "{spin}: a refused write leaves nothing behind"
        );
    }
    assert_eq!(
        count(&db, "SELECT count(*) FROM probe_item"),
        2 * spins().len() as i64,
        "exactly the first write of each duplicate pair landed"
    );
}

#[test]
fn a_trap_inside_a_platform_transaction_is_neither_committed_nor_seen_by_the_next() {
    let db = probe_db();
    for (spin, args) in spins() {
        // Its own host: the pool for the database holds one connection, so the
        // next request gets the one the trapped request left in its transaction.
        let app = probe_app(&db, &args);
        let tag = spin.replace(['.', ' '], "-");
        let trapped = format!("trapped-{tag}");
        let after = format!("after-trap-{tag}");
        let resp = app.post_json("/probe/trap-in-transaction", &json!({"slug": trapped}));
        assert_eq!(resp.status, 500, "{spin}: the probe traps: {}", resp.text());
        std::thread::sleep(Duration::from_millis(150));
        let resp = app.post_json(
            "/probe/items",
            &json!({"how": "transaction", "slug": after}),
        );
        assert_eq!(resp.status, 201, "{spin}: {}", resp.text());
        assert_eq!(
            count(
                &db,
                &format!("SELECT count(*) FROM probe_item WHERE slug = '{trapped}'")
            ),
            0,
            "{spin}: the next request's COMMIT did not commit the trapped write"
        );
        assert_eq!(
            count(
                &db,
                &format!("SELECT count(*) FROM probe_item WHERE slug = '{after}'")
            ),
            1,
            "{spin}: the next request's own write committed"
        );
        if is_devhost() {
            assert!(
                app.logs().contains("left open by another request"),
                "{spin}: the next request found the trapped transaction and rolled it back:\n{}",
                app.logs()
            );
        }
    }
}

/// The probe app on a migrated scratch database with the probe tables, and
/// two tenants signed up through the real auth component.
fn tenants_on_probe_db() -> (String, TestApp, Tenant, Tenant) {
    let db = probe_db();
    let app = probe_app(&db, &[]);
    let migrated = app.upgrade("head");
    assert_eq!(migrated.status, 200, "{}", migrated.text());
    let a = app.new_tenant();
    let b = app.new_tenant();
    (db, app, a, b)
}

#[test]
fn row_level_security_alone_keeps_other_orgs_out_of_a_tenant_read() {
    let (db, app, a, b) = tenants_on_probe_db();
    // As the superuser, which bypasses row-level security.
    let mut su = pg_connect(&superuser_url_for(&db));
    for (org, slug) in [(&a.org_id, "a-1"), (&a.org_id, "a-2"), (&b.org_id, "b-1")] {
        su.execute(
            "INSERT INTO probe_tenant_item (org_id, slug) VALUES ($1::text::uuid, $2)",
            &[org, &slug],
        )
        .expect("insert a tenant row");
    }
    // The probe's SQL has no org filter: only row-level security, on the
    // org the credential check set in the same statement, decides.
    for (tenant, want) in [(&a, vec!["a-1", "a-2"]), (&b, vec!["b-1"])] {
        let resp = app.get_as("/probe/tenant-items", &tenant.access);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let body = resp.json();
        assert_eq!(body["org"], tenant.org_id.as_str());
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        let slugs: Vec<&str> = rows.iter().filter_map(|r| r["slug"].as_str()).collect();
        assert_eq!(slugs, want, "{body}");
        assert!(
            rows.iter().all(|r| r["org_id"] == tenant.org_id.as_str()),
            "{body}"
        );
    }
    // Without a confirmed caller no rows are read at all.
    assert_eq!(app.get_as("/probe/tenant-items", "junk").status, 401);
    assert_eq!(app.logout(&a.access, "session").status, 204);
    assert_eq!(app.get_as("/probe/tenant-items", &a.access).status, 401);
}

#[test]
fn a_write_for_a_caller_lands_in_the_caller_org_only() {
    let (db, app, a, b) = tenants_on_probe_db();
    for tenant in [&a, &b] {
        let auth = format!("Bearer {}", tenant.access);
        let resp = app.post_json_with(
            "/probe/tenant-items/as-caller",
            &[("authorization", &auth)],
            &json!({"slug": "same-slug"}),
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        assert_eq!(resp.json()["org_id"], tenant.org_id.as_str());
    }
    let auth = format!("Bearer {}", a.access);
    let again = app.post_json_with(
        "/probe/tenant-items/as-caller",
        &[("authorization", &auth)],
        &json!({"slug": "same-slug"}),
    );
    assert_eq!(again.status, 409, "{}", again.text());
    assert_eq!(again.json()["field"], "slug");
    // A viewer may read but not write.
    pg_connect(&superuser_url_for(&db))
        .execute(
            "UPDATE memberships SET role = 'viewer' WHERE user_id = $1::text::uuid",
            &[&a.user_id],
        )
        .unwrap();
    let refused = app.post_json_with(
        "/probe/tenant-items/as-caller",
        &[("authorization", &auth)],
        &json!({"slug": "viewer-write"}),
    );
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM probe_tenant_item WHERE slug = 'viewer-write'"
        ),
        0
    );
}
