//! Companies end to end, on the root app: create, read, change under
//! `If-Match` (one winner among concurrent writers), delete; every field's
//! validation naming the field; names unique per org whatever their case;
//! the org's default currency; roles; keyset pages in every order while
//! rows are inserted; status filter; fuzzy search; and org B's token on
//! every route with org A's ids, plus row-level security under a query that
//! forgets the org filter.

use std::collections::HashSet;
use std::thread;

use serde_json::{Value, json};

use crate::helpers::{Response, TestApp, app, app_db, field_of, unique};
use crate::identity::Tenant;
use crate::org_admin::join;

impl TestApp {
    fn create_company(&self, access: &str, body: &Value) -> Response {
        self.send_as("POST", "/v1/companies", access, &[], Some(body))
    }

    /// A company of `owner`'s org named `name` (201 asserted).
    pub(crate) fn company(&self, owner: &Tenant, name: &str) -> Value {
        let resp = self.create_company(&owner.access, &json!({ "name": name }));
        assert_eq!(resp.status, 201, "{}", resp.text());
        resp.json()
    }

    fn patch_company(
        &self,
        access: &str,
        id: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> Response {
        let headers: Vec<(&str, &str)> =
            if_match.map(|tag| ("if-match", tag)).into_iter().collect();
        self.send_as(
            "PATCH",
            &format!("/v1/companies/{id}"),
            access,
            &headers,
            Some(body),
        )
    }

    fn company_etag(&self, access: &str, id: &str) -> String {
        let resp = self.get_as(&format!("/v1/companies/{id}"), access);
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.header("etag").expect("an ETag").to_owned()
    }

    /// The names of `GET /v1/companies?{query}`, one page.
    fn company_names(&self, access: &str, query: &str) -> Vec<String> {
        let resp = self.get_as(&format!("/v1/companies?{query}"), access);
        assert_eq!(resp.status, 200, "{query}: {}", resp.text());
        names(&resp.json()["items"])
    }
}

pub(crate) fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts a problem+json of `status`, of type `…/{kind}`, naming `field`.
pub(crate) fn assert_problem(resp: &Response, status: u16, kind: &str, field: &str, what: &str) {
    assert_eq!(resp.status, status, "{what}: {}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    let problem = resp.json();
    assert!(
        problem["type"].as_str().unwrap_or("").ends_with(kind),
        "{what}: type {}",
        problem["type"]
    );
    assert_eq!(field_of(&problem), Some(field), "{what}: {problem}");
}

fn company_rows(org_id: &str) -> i64 {
    app_db()
        .query_one(
            "SELECT count(*) FROM companies WHERE org_id = $1::text::uuid",
            &[&org_id],
        )
        .unwrap()
        .get(0)
}

#[test]
fn companies_are_created_read_changed_and_deleted() {
    let app = app();
    let t = app.new_tenant();
    let body = json!({
        "name": "  ACME GmbH ",
        "legal_name": "ACME Gesellschaft mit beschränkter Haftung",
        "tax_id": "DE123456789",
        "country": "DE",
        "address": {"line1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin", "country": "DE"},
        "metadata": {"crm": {"id": 42}},
    });
    let created = app.create_company(&t.access, &body);
    assert_eq!(created.status, 201, "{}", created.text());
    let etag = created.header("etag").expect("an ETag").to_owned();
    let c = created.json();
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/companies/{id}").as_str())
    );
    assert_eq!(c["name"], "ACME GmbH", "trimmed");
    assert_eq!(c["currency"], "EUR", "the org's default currency");
    assert_eq!(c["status"], "active");
    assert_eq!(c["address"]["city"], "Berlin");
    assert_eq!(c["address"].get("line2"), None, "absent parts stay absent");
    assert_eq!(c["metadata"]["crm"]["id"], 42);
    assert!(c["created_at"].is_string() && c["updated_at"].is_string());

    let read = app.get_as(&format!("/v1/companies/{id}"), &t.access);
    assert_eq!(read.status, 200);
    assert_eq!(read.header("etag"), Some(etag.as_str()));
    assert_eq!(read.json(), c);

    // Changing needs If-Match, and the current one.
    let change = json!({"legal_name": null, "currency": "CHF", "status": "archived"});
    let resp = app.patch_company(&t.access, &id, None, &change);
    assert_eq!(resp.status, 428, "{}", resp.text());
    let resp = app.patch_company(&t.access, &id, Some("\"stale\""), &change);
    assert_eq!(resp.status, 412, "{}", resp.text());
    let changed = app.patch_company(&t.access, &id, Some(&etag), &change);
    assert_eq!(changed.status, 200, "{}", changed.text());
    let new_etag = changed.header("etag").expect("an ETag").to_owned();
    assert_ne!(new_etag, etag);
    let c2 = changed.json();
    assert_eq!(c2["legal_name"], Value::Null, "null clears");
    assert_eq!(c2["currency"], "CHF");
    assert_eq!(c2["status"], "archived");
    assert_eq!(c2["tax_id"], "DE123456789", "absent keeps");
    assert_eq!(c2["created_at"], c["created_at"]);
    assert_eq!(app.company_etag(&t.access, &id), new_etag);
    // The old tag is stale now.
    let resp = app.patch_company(&t.access, &id, Some(&etag), &json!({"name": "x"}));
    assert_eq!(resp.status, 412, "{}", resp.text());

    // Every write is in the audit log, with only the changed fields.
    let events: Vec<(String, Option<Value>)> = app_db()
        .query(
            "SELECT action, after::text FROM audit_events \
             WHERE org_id = $1::text::uuid AND entity_type = 'company' AND entity_id = $2 \
             ORDER BY created_at, action",
            &[&t.org_id, &id],
        )
        .unwrap()
        .iter()
        .map(|row| {
            let after: Option<String> = row.get(1);
            (row.get(0), after.map(|a| serde_json::from_str(&a).unwrap()))
        })
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "company.created");
    assert_eq!(events[1].0, "company.updated");
    assert_eq!(
        events[1].1,
        Some(json!({"legal_name": null, "currency": "CHF", "status": "archived"}))
    );

    // Delete: a stale If-Match is refused; then 204, then gone.
    let path = format!("/v1/companies/{id}");
    let resp = app.send_as("DELETE", &path, &t.access, &[("if-match", &etag)], None);
    assert_eq!(resp.status, 412, "{}", resp.text());
    let resp = app.send_as("DELETE", &path, &t.access, &[("if-match", &new_etag)], None);
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(app.get_as(&path, &t.access).status, 404);
    assert_eq!(
        app.send_as("DELETE", &path, &t.access, &[], None).status,
        404
    );
    assert_eq!(company_rows(&t.org_id), 0);
    let deleted: i64 = app_db()
        .query_one(
            "SELECT count(*) FROM audit_events WHERE org_id = $1::text::uuid \
             AND action = 'company.deleted' AND entity_id = $2",
            &[&t.org_id, &id],
        )
        .unwrap()
        .get(0);
    assert_eq!(deleted, 1);
    // A malformed id is no company.
    assert_eq!(
        app.get_as("/v1/companies/not-a-uuid", &t.access).status,
        404
    );
}

#[test]
fn the_currency_defaults_to_the_orgs_default_currency() {
    let app = app();
    let t = app.new_tenant();
    app_db()
        .execute(
            "UPDATE org SET settings_json = '{\"default_currency\": \"CHF\"}' \
             WHERE id = $1::text::uuid",
            &[&t.org_id],
        )
        .unwrap();
    assert_eq!(app.company(&t, "Swiss")["currency"], "CHF");
    let given = app.create_company(&t.access, &json!({"name": "Dollar", "currency": "USD"}));
    assert_eq!(given.json()["currency"], "USD");
}

#[test]
fn every_field_is_validated_by_name() {
    let app = app();
    let t = app.new_tenant();
    let big = "x".repeat(16 * 1024);
    // (body, status, problem type, field)
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({}), 400, "malformed-request", "name"),
        (json!({"name": ""}), 422, "validation-error", "name"),
        (
            json!({"name": "x".repeat(201)}),
            422,
            "validation-error",
            "name",
        ),
        (json!({"name": 5}), 400, "malformed-request", "name"),
        (
            json!({"name": "A", "legal_name": " "}),
            422,
            "validation-error",
            "legal_name",
        ),
        (
            json!({"name": "A", "tax_id": ""}),
            422,
            "validation-error",
            "tax_id",
        ),
        (
            json!({"name": "A", "tax_id": "1".repeat(65)}),
            422,
            "validation-error",
            "tax_id",
        ),
        (
            json!({"name": "A", "country": "de"}),
            422,
            "validation-error",
            "country",
        ),
        (
            json!({"name": "A", "country": "XX"}),
            422,
            "validation-error",
            "country",
        ),
        (
            json!({"name": "A", "country": "DEU"}),
            422,
            "validation-error",
            "country",
        ),
        (
            json!({"name": "A", "currency": "EURO"}),
            422,
            "validation-error",
            "currency",
        ),
        (
            json!({"name": "A", "currency": "eur"}),
            422,
            "validation-error",
            "currency",
        ),
        (
            json!({"name": "A", "currency": 978}),
            400,
            "malformed-request",
            "currency",
        ),
        (
            json!({"name": "A", "status": "deleted"}),
            422,
            "validation-error",
            "status",
        ),
        (
            json!({"name": "A", "address": "Berlin"}),
            400,
            "malformed-request",
            "address",
        ),
        (
            json!({"name": "A", "address": {"street": "x"}}),
            400,
            "malformed-request",
            "address.street",
        ),
        (
            json!({"name": "A", "address": {"city": 1}}),
            400,
            "malformed-request",
            "address.city",
        ),
        (
            json!({"name": "A", "address": {"city": ""}}),
            422,
            "validation-error",
            "address.city",
        ),
        (
            json!({"name": "A", "address": {"country": "ZZ"}}),
            422,
            "validation-error",
            "address.country",
        ),
        (
            json!({"name": "A", "address": {"postal_code": "1".repeat(33)}}),
            422,
            "validation-error",
            "address.postal_code",
        ),
        (
            json!({"name": "A", "metadata": [1]}),
            400,
            "malformed-request",
            "metadata",
        ),
        (
            json!({"name": "A", "metadata": {"k": big}}),
            422,
            "validation-error",
            "metadata",
        ),
        (
            json!({"name": "A", "org_id": t.org_id}),
            400,
            "malformed-request",
            "org_id",
        ),
    ];
    for (body, status, kind, field) in &cases {
        let resp = app.create_company(&t.access, body);
        assert_problem(&resp, *status, kind, field, &body.to_string());
    }
    assert_eq!(company_rows(&t.org_id), 0, "no partial writes");

    // The same rules on a change; `null` only where a field may be cleared.
    let c = app.company(&t, "Valid");
    let id = c["id"].as_str().unwrap();
    let etag = app.company_etag(&t.access, id);
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({}), 422, "validation-error", "body"),
        (json!({"name": null}), 400, "malformed-request", "name"),
        (
            json!({"currency": null}),
            400,
            "malformed-request",
            "currency",
        ),
        (json!({"status": null}), 400, "malformed-request", "status"),
        (
            json!({"metadata": null}),
            400,
            "malformed-request",
            "metadata",
        ),
        (json!({"name": " "}), 422, "validation-error", "name"),
        (json!({"country": "uk"}), 422, "validation-error", "country"),
        (
            json!({"currency": "XXX"}),
            422,
            "validation-error",
            "currency",
        ),
        (json!({"status": "gone"}), 422, "validation-error", "status"),
        (
            json!({"address": {"region": ""}}),
            422,
            "validation-error",
            "address.region",
        ),
        (
            json!({"address": {"zip": "1"}}),
            400,
            "malformed-request",
            "address.zip",
        ),
        (
            json!({"metadata": {"k": big}}),
            422,
            "validation-error",
            "metadata",
        ),
        (json!({"id": "x"}), 400, "malformed-request", "id"),
    ];
    for (body, status, kind, field) in &cases {
        let resp = app.patch_company(&t.access, id, Some(&etag), body);
        assert_problem(&resp, *status, kind, field, &body.to_string());
    }
    assert_eq!(app.company_etag(&t.access, id), etag, "unchanged");
}

#[test]
fn names_are_unique_per_org_whatever_their_case() {
    let app = app();
    let t = app.new_tenant();
    let other = app.new_tenant();
    app.company(&t, "ACME GmbH");
    let resp = app.create_company(&t.access, &json!({"name": "acme gmbh"}));
    assert_problem(&resp, 409, "conflict", "name", "same name, other case");
    // Another org may use it.
    app.company(&other, "ACME GmbH");
    // Renaming onto a taken name is the same 409.
    let b = app.company(&t, "Beta");
    let id = b["id"].as_str().unwrap();
    let etag = app.company_etag(&t.access, id);
    let resp = app.patch_company(&t.access, id, Some(&etag), &json!({"name": "Acme GMBH"}));
    assert_problem(&resp, 409, "conflict", "name", "rename onto a taken name");
    assert_eq!(company_rows(&t.org_id), 2);
}

#[test]
fn viewers_read_members_write_admins_delete() {
    let app = app();
    let owner = app.new_tenant();
    let viewer = join(app, &owner, "viewer");
    let member = join(app, &owner, "member");
    let admin = join(app, &owner, "admin");
    let c = app.company(&owner, "Roles Inc");
    let id = c["id"].as_str().unwrap();
    let path = format!("/v1/companies/{id}");

    assert_eq!(app.get_as(&path, &viewer.access).status, 200);
    assert_eq!(app.get_as("/v1/companies", &viewer.access).status, 200);
    let resp = app.create_company(&viewer.access, &json!({"name": "By viewer"}));
    assert_eq!(resp.status, 403, "{}", resp.text());
    let etag = app.company_etag(&viewer.access, id);
    let resp = app.patch_company(&viewer.access, id, Some(&etag), &json!({"tax_id": "V"}));
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(
        app.send_as("DELETE", &path, &viewer.access, &[], None)
            .status,
        403
    );

    let resp = app.create_company(&member.access, &json!({"name": "By member"}));
    assert_eq!(resp.status, 201, "{}", resp.text());
    let resp = app.patch_company(&member.access, id, Some(&etag), &json!({"tax_id": "M"}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = app.send_as("DELETE", &path, &member.access, &[], None);
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(app.get_as(&path, &owner.access).status, 200, "still there");

    let resp = app.send_as("DELETE", &path, &admin.access, &[], None);
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(app.get_as(&path, &owner.access).status, 404);
}

#[test]
fn concurrent_changes_under_one_etag_have_one_winner() {
    let app = app();
    let t = app.new_tenant();
    let c = app.company(&t, "Contended");
    let id = c["id"].as_str().unwrap();
    let etag = app.company_etag(&t.access, id);
    let statuses: Vec<u16> = thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let (etag, access) = (&etag, &t.access);
                s.spawn(move || {
                    let body = json!({"tax_id": format!("T{i}")});
                    app.patch_company(access, id, Some(etag), &body).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 412).count(),
        5,
        "{statuses:?}"
    );
    let updates: i64 = app_db()
        .query_one(
            "SELECT count(*) FROM audit_events WHERE org_id = $1::text::uuid \
             AND action = 'company.updated' AND entity_id = $2",
            &[&t.org_id, &id],
        )
        .unwrap()
        .get(0);
    assert_eq!(updates, 1);
}

#[test]
fn pages_visit_every_row_once_in_each_order_while_rows_are_inserted() {
    let app = app();
    let t = app.new_tenant();
    for i in 0..7 {
        app.company(&t, &format!("Seed {i:02}"));
    }
    for sort in ["name", "-name", "created_at", "-created_at"] {
        let before: HashSet<String> = app
            .company_names(&t.access, "limit=200")
            .into_iter()
            .collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let target = match &cursor {
                Some(c) => format!("/v1/companies?sort={sort}&limit=3&cursor={c}"),
                None => format!("/v1/companies?sort={sort}&limit=3"),
            };
            let resp = app.get_as(&target, &t.access);
            assert_eq!(resp.status, 200, "{target}: {}", resp.text());
            let body = resp.json();
            let page = &body["items"];
            assert!(page.as_array().unwrap().len() <= 3);
            for item in page.as_array().unwrap() {
                seen.push((
                    item["name"].as_str().unwrap().to_owned(),
                    item["created_at"].as_str().unwrap().to_owned(),
                ));
            }
            // A row inserted between pages, at either end of every order.
            pages += 1;
            app.company(
                &t,
                &format!(
                    "{} {sort} {pages}",
                    if pages % 2 == 0 { "Aa" } else { "Zz" }
                ),
            );
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(pages < 50, "too many pages");
        }
        let names: Vec<&String> = seen.iter().map(|(n, _)| n).collect();
        let unique: HashSet<&String> = names.iter().copied().collect();
        assert_eq!(
            unique.len(),
            names.len(),
            "{sort}: a row seen twice: {names:?}"
        );
        for name in &before {
            assert!(unique.contains(name), "{sort}: {name} never seen");
        }
        // In the order asked for.
        let ordered = |a: &(String, String), b: &(String, String)| match sort {
            "name" => a.0 <= b.0,
            "-name" => a.0 >= b.0,
            "created_at" => a.1 <= b.1,
            _ => a.1 >= b.1,
        };
        if sort.contains("created_at") {
            assert!(
                seen.windows(2).all(|w| ordered(&w[0], &w[1])),
                "{sort}: {seen:?}"
            );
        }
    }
    // The database's collation decides the name order; the API's must agree.
    let api = app.company_names(&t.access, "limit=200");
    let db: Vec<String> = app_db()
        .query(
            "SELECT name FROM companies WHERE org_id = $1::text::uuid ORDER BY name, id",
            &[&t.org_id],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(api, db);
    let mut desc = app.company_names(&t.access, "sort=-name&limit=200");
    desc.reverse();
    assert_eq!(desc, db);
}

#[test]
fn lists_filter_by_status_and_refuse_bad_parameters() {
    let app = app();
    let t = app.new_tenant();
    app.company(&t, "Live one");
    let old = app.company(&t, "Old one");
    let id = old["id"].as_str().unwrap();
    let etag = app.company_etag(&t.access, id);
    let resp = app.patch_company(&t.access, id, Some(&etag), &json!({"status": "archived"}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(app.company_names(&t.access, "status=active"), ["Live one"]);
    assert_eq!(app.company_names(&t.access, "status=archived"), ["Old one"]);
    assert_eq!(app.company_names(&t.access, ""), ["Live one", "Old one"]);
    for (query, status, field) in [
        ("status=gone", 422, "status"),
        ("sort=size", 422, "sort"),
        ("sort=name%20desc", 422, "sort"),
        ("limit=0", 422, "limit"),
        ("limit=201", 422, "limit"),
        ("limit=x", 400, "limit"),
        ("cursor=nope", 400, "cursor"),
        ("q=", 422, "q"),
        ("q=acme&sort=name", 422, "sort"),
    ] {
        let resp = app.get_as(&format!("/v1/companies?{query}"), &t.access);
        assert_eq!(resp.status, status, "{query}: {}", resp.text());
        assert_eq!(field_of(&resp.json()), Some(field), "{query}");
    }
}

#[test]
fn search_finds_names_despite_case_and_typos_best_first() {
    let app = app();
    let t = app.new_tenant();
    let other = app.new_tenant();
    for name in [
        "ACME GmbH",
        "Acme Holdings Ltd",
        "Globex Corporation",
        "Initech",
    ] {
        app.company(&t, name);
    }
    app.company(&other, "Acme Gmbh Foreign");
    let found = app.company_names(&t.access, "q=Acme%20Gmbh");
    assert_eq!(
        found.first().map(String::as_str),
        Some("ACME GmbH"),
        "{found:?}"
    );
    assert!(
        !found.contains(&"Globex Corporation".to_owned()),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|n| n.contains("Foreign")),
        "another org's row: {found:?}"
    );
    let typo = app.company_names(&t.access, "q=Globx%20Corp");
    assert_eq!(
        typo.first().map(String::as_str),
        Some("Globex Corporation"),
        "{typo:?}"
    );
    assert_eq!(
        app.company_names(&t.access, "q=zzzzqqq"),
        Vec::<String>::new()
    );
    // One page: the limit bounds it, and there is no next.
    let resp = app.get_as("/v1/companies?q=acme&limit=1", &t.access);
    let body = resp.json();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["next_cursor"], Value::Null);
    let resp = app.get_as("/v1/companies?q=acme&status=archived", &t.access);
    assert_eq!(names(&resp.json()["items"]), Vec::<String>::new());
}

#[test]
fn another_orgs_companies_are_never_readable_writable_or_listed() {
    let app = app();
    let a = app.new_tenant();
    let b = app.new_tenant();
    let c = app.company(&a, "Secret Holdings");
    let id = c["id"].as_str().unwrap();
    let etag = app.company_etag(&a.access, id);
    let path = format!("/v1/companies/{id}");
    let patch = json!({"name": "Taken over"});
    // (method, body, headers)
    let cases = [
        ("GET", None, vec![]),
        ("PATCH", Some(&patch), vec![("if-match", etag.as_str())]),
        ("PATCH", Some(&patch), vec![("if-match", "*")]),
        ("DELETE", None, vec![]),
    ];
    for (method, body, headers) in &cases {
        let resp = app.send_as(method, &path, &b.access, headers, *body);
        assert_eq!(resp.status, 404, "{method} {path}: {}", resp.text());
    }
    let read = app.get_as(&path, &a.access);
    assert_eq!(read.status, 200);
    assert_eq!(read.header("etag"), Some(etag.as_str()), "A unchanged");
    assert_eq!(read.json()["name"], "Secret Holdings");
    for query in [
        "",
        "sort=-created_at",
        "status=active",
        "q=Secret%20Holdings",
    ] {
        let listed = app.company_names(&b.access, query);
        assert!(listed.is_empty(), "{query}: {listed:?}");
    }
    // B may take the same name: uniqueness is per org and reveals nothing.
    app.company(&b, "Secret Holdings");
}

#[test]
fn row_level_security_hides_other_orgs_rows_from_a_query_without_the_org_filter() {
    let app = app();
    let a = app.new_tenant();
    let b = app.new_tenant();
    let secret = app.company(&a, &unique("rls-a"));
    app.company(&b, &unique("rls-b"));
    let mut db = app_db();
    let mut tx = db.transaction().unwrap();
    tx.batch_execute("SET LOCAL ROLE plinth_app").unwrap();
    // No setting: nothing at all.
    let none: i64 = tx
        .query_one("SELECT count(*) FROM companies", &[])
        .unwrap()
        .get(0);
    assert_eq!(none, 0);
    tx.execute("SELECT set_config('app.org_id', $1, true)", &[&b.org_id])
        .unwrap();
    let orgs: Vec<String> = tx
        .query("SELECT org_id::text FROM companies", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(orgs, std::slice::from_ref(&b.org_id), "only B's row");
    let hidden: i64 = tx
        .query_one(
            "SELECT count(*) FROM companies WHERE id = $1::text::uuid",
            &[&secret["id"].as_str().unwrap()],
        )
        .unwrap()
        .get(0);
    assert_eq!(hidden, 0);
    // Nor can a write reach A's row or place one in A.
    let touched = tx
        .execute(
            "UPDATE companies SET tax_id = 'x' WHERE org_id = $1::text::uuid",
            &[&a.org_id],
        )
        .unwrap();
    assert_eq!(touched, 0);
    let planted = tx.execute(
        "INSERT INTO companies (org_id, name, currency) VALUES ($1::text::uuid, 'planted', 'EUR')",
        &[&a.org_id],
    );
    assert!(planted.is_err(), "the policy's WITH CHECK refuses it");
    drop(tx);
}

#[test]
fn names_too_long_for_a_cursor_still_page_in_both_orders() {
    let app = app();
    let t = app.new_tenant();
    // 200 characters of two bytes each: more than a cursor holds.
    let long = |c: &str| format!("{c}{}", "Ж".repeat(199));
    let mut made: Vec<String> = ["A", "B", "C", "D"].iter().map(|c| long(c)).collect();
    for name in &made {
        app.company(&t, name);
    }
    made.sort();
    for sort in ["name", "-name"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let target = match &cursor {
                Some(c) => format!("/v1/companies?sort={sort}&limit=1&cursor={c}"),
                None => format!("/v1/companies?sort={sort}&limit=1"),
            };
            let resp = app.get_as(&target, &t.access);
            assert_eq!(resp.status, 200, "{target}: {}", resp.text());
            let body = resp.json();
            seen.extend(names(&body["items"]));
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(seen.len() <= made.len(), "{sort}: rows repeat");
        }
        if sort == "-name" {
            seen.reverse();
        }
        assert_eq!(seen, made, "{sort}");
    }
}
