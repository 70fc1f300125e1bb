//! The migrate component's admin routes on scratch databases: upgrade, current,
//! downgrade and back, concurrent upgrades, a failing step (fixture), drift, auth.

use std::time::Instant;

use serde_json::{Value, json};

use crate::helpers::{
    Response, TestApp, migrate_app, migrate_fixture_app, owner_url_for, pg_connect, scratch_db,
    superuser_url_for,
};

fn ok_json(resp: &Response, what: &str, app: &TestApp) -> Value {
    assert_eq!(
        resp.status,
        200,
        "{what}: {} {}\nlogs:\n{}",
        resp.status,
        resp.text(),
        app.logs()
    );
    resp.json()
}

fn revisions(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["revision"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn table_exists(db: &str, table: &str) -> bool {
    let mut c = pg_connect(&superuser_url_for(db));
    c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .expect("to_regclass")
        .get(0)
}

#[test]
fn upgrade_current_downgrade_and_back() {
    let db = scratch_db("mig_cycle");
    let m = migrate_app(&db);

    let before = ok_json(&m.migration_status(), "status of an empty database", &m);
    assert_eq!(
        before["current"],
        Value::Null,
        "nothing applied yet: {before}"
    );
    let head = before["head"].as_str().expect("head revision").to_owned();
    let all = revisions(&before["pending"]);
    assert_eq!(all.last(), Some(&head), "pending ends at head: {before}");

    let started = Instant::now();
    let up = ok_json(&m.upgrade("head"), "upgrade to head", &m);
    eprintln!(
        "migrations: upgrade of an empty database to head ({head}, {} steps) took {:?}",
        all.len(),
        started.elapsed()
    );
    assert_eq!(up["from"], Value::Null);
    assert_eq!(up["to"], json!(head));
    assert_eq!(revisions(&up["ran"]), all, "every migration ran, in order");
    assert!(table_exists(&db, "org"), "0001 creates org");

    let now = ok_json(&m.migration_status(), "status at head", &m);
    assert_eq!(now["current"], json!(head));
    assert_eq!(now["pending"], json!([]));
    assert_eq!(now["drift"], json!([]));
    assert_eq!(revisions(&now["applied"]), all);

    let again = ok_json(&m.upgrade("head"), "upgrade at head", &m);
    assert_eq!(again["ran"], json!([]), "upgrading at head runs nothing");

    let previous = all.len().checked_sub(2).map(|i| all[i].clone());
    let down = ok_json(&m.downgrade(json!({"steps": 1})), "downgrade one step", &m);
    assert_eq!(down["from"], json!(head));
    assert_eq!(down["to"], json!(previous), "one step down");
    assert_eq!(revisions(&down["ran"]), vec![head.clone()]);
    let status = ok_json(&m.migration_status(), "status after one step down", &m);
    assert_eq!(status["current"], json!(previous));
    assert_eq!(revisions(&status["pending"]), vec![head.clone()]);

    let back = ok_json(&m.upgrade("head"), "upgrade back to head", &m);
    assert_eq!(back["to"], json!(head));
    assert_eq!(revisions(&back["ran"]), vec![head.clone()]);

    let base = ok_json(
        &m.downgrade(json!({"target": "base"})),
        "downgrade to base",
        &m,
    );
    assert_eq!(base["to"], Value::Null);
    let mut reversed = all.clone();
    reversed.reverse();
    assert_eq!(
        revisions(&base["ran"]),
        reversed,
        "down steps run newest first"
    );
    assert!(!table_exists(&db, "org"), "down of 0001 drops org");
    let status = ok_json(&m.migration_status(), "status at base", &m);
    assert_eq!(status["current"], Value::Null);
    assert_eq!(revisions(&status["pending"]), all);

    let up = ok_json(&m.upgrade("head"), "upgrade from base again", &m);
    assert_eq!(up["to"], json!(head));
    assert!(table_exists(&db, "org"));
}

#[test]
fn concurrent_upgrades_run_once() {
    let db = scratch_db("mig_concurrent");
    let m = migrate_app(&db);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| m.upgrade("head"));
        let b = s.spawn(|| m.upgrade("head"));
        (a.join().expect("thread a"), b.join().expect("thread b"))
    });
    let a = ok_json(&a, "first concurrent upgrade", &m);
    let b = ok_json(&b, "second concurrent upgrade", &m);
    let ran_a = revisions(&a["ran"]);
    let ran_b = revisions(&b["ran"]);
    assert!(
        ran_a.is_empty() != ran_b.is_empty(),
        "exactly one upgrade does the work: {a} / {b}"
    );
    let (worker, idle) = if ran_a.is_empty() { (&b, &a) } else { (&a, &b) };
    assert_eq!(
        idle["from"], worker["to"],
        "the other starts where the first ended"
    );
    assert_eq!(idle["to"], worker["to"]);
    let status = ok_json(
        &m.migration_status(),
        "status after concurrent upgrades",
        &m,
    );
    assert_eq!(status["current"], status["head"]);
    let mut c = pg_connect(&superuser_url_for(&db));
    let rows: i64 = c
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .expect("count")
        .get(0);
    assert_eq!(
        rows as usize,
        ran_a.len() + ran_b.len(),
        "one row per revision"
    );
}

#[test]
fn a_failing_step_is_rolled_back_and_stops() {
    let db = scratch_db("mig_failing");
    let m = migrate_fixture_app(&db);
    let resp = m.upgrade("head");
    assert_eq!(resp.status, 500, "a failing step is a 500: {}", resp.text());
    let body = resp.json();
    assert!(
        body["type"]
            .as_str()
            .unwrap_or_default()
            .ends_with("migration-failed"),
        "problem type migration-failed: {body}"
    );
    assert_eq!(body["revision"], "0002", "{body}");
    assert_eq!(body["sqlstate"], "22012", "Postgres's SQLSTATE: {body}");
    assert_eq!(body["to"], "0001", "the database stays at 0001: {body}");
    assert_eq!(revisions(&body["ran"]), vec!["0001"], "{body}");

    let status = ok_json(&m.migration_status(), "status after the failure", &m);
    assert_eq!(status["current"], "0001");
    assert!(table_exists(&db, "fixture_ok"), "0001's table stays");
    assert!(
        !table_exists(&db, "fixture_never"),
        "0002's table is rolled back"
    );
    let mut c = pg_connect(&superuser_url_for(&db));
    let rows: i64 = c
        .query_one("SELECT count(*) FROM fixture_ok", &[])
        .expect("count")
        .get(0);
    assert_eq!(rows, 0, "0002's insert is rolled back");
}

#[test]
fn drift_is_reported_and_blocks_upgrades() {
    let db = scratch_db("mig_drift");
    let m = migrate_app(&db);
    ok_json(&m.upgrade("head"), "upgrade", &m);
    let mut owner = pg_connect(&owner_url_for(&db));

    owner
        .execute(
            "UPDATE schema_migrations SET checksum = 'tampered' WHERE revision = '0001'",
            &[],
        )
        .expect("tamper checksum");
    let status = ok_json(&m.migration_status(), "status with a tampered checksum", &m);
    let drift = status["drift"].as_array().cloned().unwrap_or_default();
    assert_eq!(drift.len(), 1, "{status}");
    assert_eq!(drift[0]["revision"], "0001");
    assert_eq!(drift[0]["kind"], "checksum-mismatch");
    let blocked = m.upgrade("head");
    assert_eq!(
        blocked.status,
        409,
        "drift blocks upgrades: {}",
        blocked.text()
    );
    assert!(
        blocked.text().contains("0001"),
        "the 409 names the revision: {}",
        blocked.text()
    );

    let checksum = drift[0]["file_checksum"]
        .as_str()
        .expect("file_checksum of the drifted revision")
        .to_owned();
    owner
        .execute(
            "UPDATE schema_migrations SET checksum = $1 WHERE revision = '0001'",
            &[&checksum],
        )
        .expect("restore checksum");
    owner
        .execute(
            "INSERT INTO schema_migrations (revision, name, checksum) VALUES ('9999', 'ghost', 'x')",
            &[],
        )
        .expect("insert a fake applied revision");
    let status = ok_json(
        &m.migration_status(),
        "status with an unknown applied revision",
        &m,
    );
    let drift = status["drift"].as_array().cloned().unwrap_or_default();
    assert_eq!(drift.len(), 1, "{status}");
    assert_eq!(drift[0]["revision"], "9999");
    assert_eq!(drift[0]["kind"], "missing-file");
    assert_eq!(
        m.upgrade("head").status,
        409,
        "a missing file blocks upgrades too"
    );
}

#[test]
fn admin_routes_need_the_admin_token() {
    // Own database: a broken check must not downgrade the shared app's schema.
    let db = scratch_db("mig_auth");
    let a = migrate_app(&db);
    let cases: [(&str, Option<String>); 4] = [
        ("no Authorization header", None),
        ("wrong token", Some("Bearer not-the-token".to_owned())),
        ("empty bearer", Some("Bearer ".to_owned())),
        (
            "wrong scheme",
            Some(format!("Basic {}", crate::helpers::admin_token())),
        ),
    ];
    for (what, header) in cases {
        let headers: Vec<(&str, &str)> = header
            .as_deref()
            .map(|h| vec![("authorization", h)])
            .unwrap_or_default();
        for (method, path, body) in [
            ("GET", "/admin/migrations", ""),
            ("POST", "/admin/migrations/upgrade", r#"{"target":"head"}"#),
            ("POST", "/admin/migrations/downgrade", r#"{"steps":1}"#),
        ] {
            let mut all = headers.clone();
            all.push(("content-type", "application/json"));
            let resp = a.request(method, path, &all, body.as_bytes());
            assert_eq!(resp.status, 401, "{what}: {method} {path}: {}", resp.text());
            assert_eq!(
                resp.header("www-authenticate"),
                Some("Bearer"),
                "{what}: {method} {path} challenges with Bearer"
            );
        }
    }
    let status = a.migration_status();
    assert_eq!(
        status.status,
        200,
        "the right token works: {}",
        status.text()
    );
}

/// One bad admin request and the problem it must get.
struct Bad {
    what: &'static str,
    method: &'static str,
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
    status: u16,
    /// Last segment of the problem `type`.
    kind: &'static str,
    /// The field named in `errors`, for a malformed-request or validation error.
    field: Option<&'static str>,
}

#[test]
fn bad_admin_requests_are_4xx_problems_and_change_nothing() {
    let db = scratch_db("mig_validation");
    let m = migrate_app(&db);
    // At head, so a bad downgrade wrongly accepted would show.
    let head = ok_json(&m.upgrade("head"), "upgrade before the bad requests", &m);
    let auth = crate::helpers::bearer();
    const JSON_CT: &str = "application/json";
    let cases = [
        Bad {
            what: "unknown upgrade target",
            method: "POST",
            path: "/admin/migrations/upgrade",
            content_type: JSON_CT,
            body: r#"{"target":"latest"}"#,
            status: 422,
            kind: "validation-error",
            field: Some("target"),
        },
        Bad {
            what: "upgrade to a revision that does not exist",
            method: "POST",
            path: "/admin/migrations/upgrade",
            content_type: JSON_CT,
            body: r#"{"target":"9999"}"#,
            status: 422,
            kind: "validation-error",
            field: Some("target"),
        },
        Bad {
            what: "upgrade without target",
            method: "POST",
            path: "/admin/migrations/upgrade",
            content_type: JSON_CT,
            body: "{}",
            status: 400,
            kind: "malformed-request",
            field: Some("target"),
        },
        Bad {
            what: "upgrade with an unknown field",
            method: "POST",
            path: "/admin/migrations/upgrade",
            content_type: JSON_CT,
            body: r#"{"target":"head","force":true}"#,
            status: 400,
            kind: "malformed-request",
            field: Some("force"),
        },
        Bad {
            what: "malformed JSON",
            method: "POST",
            path: "/admin/migrations/upgrade",
            content_type: JSON_CT,
            body: r#"{"target":"#,
            status: 400,
            kind: "bad-request",
            field: None,
        },
        Bad {
            what: "not JSON at all",
            method: "POST",
            path: "/admin/migrations/upgrade",
            content_type: "text/plain",
            body: "head",
            status: 415,
            kind: "unsupported-media-type",
            field: None,
        },
        Bad {
            what: "downgrade without steps or target",
            method: "POST",
            path: "/admin/migrations/downgrade",
            content_type: JSON_CT,
            body: "{}",
            status: 400,
            kind: "bad-request",
            field: None,
        },
        Bad {
            what: "downgrade zero steps",
            method: "POST",
            path: "/admin/migrations/downgrade",
            content_type: JSON_CT,
            body: r#"{"steps":0}"#,
            status: 422,
            kind: "validation-error",
            field: Some("steps"),
        },
        Bad {
            what: "downgrade with steps and target",
            method: "POST",
            path: "/admin/migrations/downgrade",
            content_type: JSON_CT,
            body: r#"{"steps":1,"target":"base"}"#,
            status: 400,
            kind: "bad-request",
            field: None,
        },
        Bad {
            what: "downgrade to an unknown target",
            method: "POST",
            path: "/admin/migrations/downgrade",
            content_type: JSON_CT,
            body: r#"{"target":"first"}"#,
            status: 422,
            kind: "validation-error",
            field: Some("target"),
        },
        Bad {
            what: "wrong method",
            method: "GET",
            path: "/admin/migrations/upgrade",
            content_type: JSON_CT,
            body: "",
            status: 405,
            kind: "method-not-allowed",
            field: None,
        },
        Bad {
            what: "wrong method on status",
            method: "DELETE",
            path: "/admin/migrations",
            content_type: JSON_CT,
            body: "",
            status: 405,
            kind: "method-not-allowed",
            field: None,
        },
        Bad {
            what: "unknown admin route",
            method: "GET",
            path: "/admin/migrations/nope",
            content_type: JSON_CT,
            body: "",
            status: 404,
            kind: "not-found",
            field: None,
        },
    ];
    for Bad {
        what,
        method,
        path,
        content_type,
        body,
        status,
        kind,
        field,
    } in cases
    {
        let resp = m.request(
            method,
            path,
            &[("authorization", &auth), ("content-type", content_type)],
            body.as_bytes(),
        );
        assert_eq!(resp.status, status, "{what}: {}", resp.text());
        assert_eq!(
            resp.header("content-type"),
            Some("application/problem+json"),
            "{what}: problem+json"
        );
        let problem = resp.json();
        assert!(
            problem["type"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&format!("/{kind}")),
            "{what}: problem type {kind}: {problem}"
        );
        assert_eq!(problem["status"], status, "{what}: {problem}");
        if let Some(field) = field {
            let fields: Vec<&str> = problem["errors"]
                .as_array()
                .map(|e| e.iter().filter_map(|f| f["field"].as_str()).collect())
                .unwrap_or_default();
            assert!(
                fields.contains(&field),
                "{what}: names the field {field}: {problem}"
            );
        }
        if status == 405 {
            assert!(resp.header("allow").is_some(), "{what}: 405 carries Allow");
        }
    }
    let status = ok_json(&m.migration_status(), "status after the bad requests", &m);
    assert_eq!(
        status["current"], head["to"],
        "no bad request ran anything: {status}"
    );
    assert_eq!(status["current"], status["head"]);
    assert!(table_exists(&db, "org"), "nothing was downgraded");
}
