//! Partners end to end, on the root app: create (flat and under a company),
//! read, change under `If-Match` (one winner among concurrent writers),
//! delete; every field's validation naming the field; external references
//! unique per company; roles; keyset pages in every order while rows are
//! inserted; the kind, status, company and tag filters; fuzzy search; a
//! company with partners refusing deletion; and org B's token on every
//! route with org A's ids, plus row-level security under a query that
//! forgets the org filter.

use std::collections::HashSet;
use std::thread;

use serde_json::{Value, json};

use crate::companies::{assert_problem, names};
use crate::helpers::{Response, TestApp, app, app_db, field_of, unique};
use crate::identity::Tenant;
use crate::org_admin::join;

impl TestApp {
    fn create_partner(&self, access: &str, body: &Value) -> Response {
        self.send_as("POST", "/v1/partners", access, &[], Some(body))
    }

    /// A partner of `company` named `name`, of `kind` (201 asserted).
    fn partner(&self, owner: &Tenant, company: &str, name: &str, kind: &str) -> Value {
        let body = json!({"company_id": company, "name": name, "kind": kind});
        let resp = self.create_partner(&owner.access, &body);
        assert_eq!(resp.status, 201, "{}", resp.text());
        resp.json()
    }

    fn patch_partner(
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
            &format!("/v1/partners/{id}"),
            access,
            &headers,
            Some(body),
        )
    }

    fn partner_etag(&self, access: &str, id: &str) -> String {
        let resp = self.get_as(&format!("/v1/partners/{id}"), access);
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.header("etag").expect("an ETag").to_owned()
    }

    /// The names of one page of `GET {path}?{query}`.
    fn partner_names_at(&self, access: &str, path: &str, query: &str) -> Vec<String> {
        let resp = self.get_as(&format!("{path}?{query}"), access);
        assert_eq!(resp.status, 200, "{path}?{query}: {}", resp.text());
        names(&resp.json()["items"])
    }

    fn partner_names(&self, access: &str, query: &str) -> Vec<String> {
        self.partner_names_at(access, "/v1/partners", query)
    }
}

/// A company of `t`'s org with a fresh name; its id.
fn company_of(app: &TestApp, t: &Tenant) -> String {
    app.company(t, &unique("co"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn partner_rows(org_id: &str) -> i64 {
    app_db()
        .query_one(
            "SELECT count(*) FROM partners WHERE org_id = $1::text::uuid",
            &[&org_id],
        )
        .unwrap()
        .get(0)
}

fn id_of(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

#[test]
fn partners_are_created_read_changed_and_deleted() {
    let app = app();
    let t = app.new_tenant();
    let company = company_of(app, &t);
    let body = json!({
        "company_id": company,
        "name": "  ACME GmbH ",
        "kind": "customer",
        "email": " ap@acme.example ",
        "phone": "+4930123456",
        "tax_id": "DE123456789",
        "address": {"line1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin", "country": "DE"},
        "external_ref": "CRM-42",
        "tags": ["vip", " eu "],
        "notes": "Pays on time.",
    });
    let created = app.create_partner(&t.access, &body);
    assert_eq!(created.status, 201, "{}", created.text());
    let etag = created.header("etag").expect("an ETag").to_owned();
    let p = created.json();
    let id = id_of(&p).to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/partners/{id}").as_str())
    );
    assert_eq!(p["company_id"], company.as_str());
    assert_eq!(p["name"], "ACME GmbH", "trimmed");
    assert_eq!(p["kind"], "customer");
    assert_eq!(p["email"], "ap@acme.example");
    assert_eq!(p["phone"], "+4930123456");
    assert_eq!(p["tax_id"], "DE123456789");
    assert_eq!(p["address"]["city"], "Berlin");
    assert_eq!(p["address"].get("line2"), None, "absent parts stay absent");
    assert_eq!(p["external_ref"], "CRM-42");
    assert_eq!(p["tags"], json!(["vip", "eu"]));
    assert_eq!(p["notes"], "Pays on time.");
    assert_eq!(p["status"], "active");
    assert!(p["created_at"].is_string() && p["updated_at"].is_string());

    let read = app.get_as(&format!("/v1/partners/{id}"), &t.access);
    assert_eq!(read.status, 200);
    assert_eq!(read.header("etag"), Some(etag.as_str()));
    assert_eq!(read.json(), p);

    // Changing needs If-Match, and the current one.
    let change = json!({"email": null, "kind": "both", "tags": [], "status": "archived"});
    let resp = app.patch_partner(&t.access, &id, None, &change);
    assert_eq!(resp.status, 428, "{}", resp.text());
    let resp = app.patch_partner(&t.access, &id, Some("\"stale\""), &change);
    assert_eq!(resp.status, 412, "{}", resp.text());
    let changed = app.patch_partner(&t.access, &id, Some(&etag), &change);
    assert_eq!(changed.status, 200, "{}", changed.text());
    let new_etag = changed.header("etag").expect("an ETag").to_owned();
    assert_ne!(new_etag, etag);
    let p2 = changed.json();
    assert_eq!(p2["email"], Value::Null, "null clears");
    assert_eq!(p2["kind"], "both");
    assert_eq!(p2["tags"], json!([]));
    assert_eq!(p2["status"], "archived");
    assert_eq!(p2["phone"], "+4930123456", "absent keeps");
    assert_eq!(p2["created_at"], p["created_at"]);
    assert_eq!(app.partner_etag(&t.access, &id), new_etag);
    let resp = app.patch_partner(&t.access, &id, Some(&etag), &json!({"name": "x"}));
    assert_eq!(resp.status, 412, "the old tag is stale: {}", resp.text());

    // A partner may move to another company of the org.
    let other = company_of(app, &t);
    let moved = app.patch_partner(
        &t.access,
        &id,
        Some(&new_etag),
        &json!({"company_id": other}),
    );
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(moved.json()["company_id"], other.as_str());
    let new_etag = moved.header("etag").unwrap().to_owned();

    // Every write is in the audit log, with only the changed fields.
    let events: Vec<(String, Option<Value>)> = app_db()
        .query(
            "SELECT action, after::text FROM audit_events \
             WHERE org_id = $1::text::uuid AND entity_type = 'partner' AND entity_id = $2 \
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
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0].0, "partner.created");
    assert_eq!(events[0].1.as_ref().unwrap()["name"], "ACME GmbH");
    assert_eq!(events[1].0, "partner.updated");
    assert_eq!(
        events[1].1,
        Some(json!({"email": null, "kind": "both", "tags": [], "status": "archived"}))
    );
    assert_eq!(events[2].1, Some(json!({"company_id": other})));

    // Delete: a stale If-Match is refused; then 204, then gone.
    let path = format!("/v1/partners/{id}");
    let resp = app.send_as("DELETE", &path, &t.access, &[("if-match", &etag)], None);
    assert_eq!(resp.status, 412, "{}", resp.text());
    let resp = app.send_as("DELETE", &path, &t.access, &[("if-match", &new_etag)], None);
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(app.get_as(&path, &t.access).status, 404);
    assert_eq!(
        app.send_as("DELETE", &path, &t.access, &[], None).status,
        404
    );
    assert_eq!(partner_rows(&t.org_id), 0);
    let deleted: i64 = app_db()
        .query_one(
            "SELECT count(*) FROM audit_events WHERE org_id = $1::text::uuid \
             AND action = 'partner.deleted' AND entity_id = $2",
            &[&t.org_id, &id],
        )
        .unwrap()
        .get(0);
    assert_eq!(deleted, 1);
    assert_eq!(app.get_as("/v1/partners/not-a-uuid", &t.access).status, 404);
}

#[test]
fn a_companys_partners_are_created_and_listed_under_it() {
    let app = app();
    let t = app.new_tenant();
    let company = company_of(app, &t);
    let other = company_of(app, &t);
    let under = format!("/v1/companies/{company}/partners");
    let resp = app.send_as(
        "POST",
        &under,
        &t.access,
        &[],
        Some(&json!({"name": "Nested", "kind": "supplier"})),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert!(resp.header("etag").is_some());
    let nested = resp.json();
    assert_eq!(nested["company_id"], company.as_str());
    assert_eq!(
        resp.header("location"),
        Some(format!("/v1/partners/{}", id_of(&nested)).as_str())
    );
    // The body may repeat the path's company, not name another.
    let same = json!({"name": "Same", "kind": "both", "company_id": company});
    let resp = app.send_as("POST", &under, &t.access, &[], Some(&same));
    assert_eq!(resp.status, 201, "{}", resp.text());
    let elsewhere = json!({"name": "Elsewhere", "kind": "both", "company_id": other});
    let resp = app.send_as("POST", &under, &t.access, &[], Some(&elsewhere));
    assert_problem(
        &resp,
        422,
        "validation-error",
        "company_id",
        "another company",
    );
    app.partner(&t, &other, "Other's", "customer");

    assert_eq!(
        app.partner_names_at(&t.access, &under, ""),
        ["Nested", "Same"]
    );
    // The flat list's filter is the same list.
    assert_eq!(
        app.partner_names(&t.access, &format!("company_id={company}")),
        ["Nested", "Same"]
    );
    assert_eq!(
        app.partner_names_at(&t.access, &under, "kind=supplier"),
        ["Nested", "Same"],
        "supplier includes both"
    );
    assert_eq!(
        app.partner_names_at(&t.access, &under, "q=nestd"),
        ["Nested"]
    );
    let resp = app.get_as(&format!("{under}?company_id={other}"), &t.access);
    assert_problem(
        &resp,
        422,
        "validation-error",
        "company_id",
        "filter under a path",
    );
    // A company without partners lists empty; no such company is a 404.
    let empty = company_of(app, &t);
    assert_eq!(
        app.partner_names_at(&t.access, &format!("/v1/companies/{empty}/partners"), ""),
        Vec::<String>::new()
    );
    let unknown = "00000000-0000-4000-8000-000000000000";
    for path in [
        format!("/v1/companies/{unknown}/partners"),
        "/v1/companies/not-a-uuid/partners".to_owned(),
    ] {
        assert_eq!(app.get_as(&path, &t.access).status, 404, "{path}");
        let resp = app.send_as(
            "POST",
            &path,
            &t.access,
            &[],
            Some(&json!({"name": "Lost", "kind": "customer"})),
        );
        assert_eq!(resp.status, 404, "{path}: {}", resp.text());
    }
    // The company routes are still the companies component's.
    assert_eq!(
        app.get_as(&format!("/v1/companies/{company}"), &t.access)
            .status,
        200
    );
    assert_eq!(partner_rows(&t.org_id), 3);
}

#[test]
fn every_field_is_validated_by_name() {
    let app = app();
    let t = app.new_tenant();
    let c = company_of(app, &t);
    let base = |extra: Value| {
        let mut body = json!({"company_id": c, "name": "A", "kind": "customer"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let many_tags: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let unknown = "00000000-0000-4000-8000-000000000000";
    // (body, status, problem type, field)
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"name": "A", "kind": "customer"}),
            400,
            "malformed-request",
            "company_id",
        ),
        (
            json!({"company_id": c, "kind": "customer"}),
            400,
            "malformed-request",
            "name",
        ),
        (
            json!({"company_id": c, "name": "A"}),
            400,
            "malformed-request",
            "kind",
        ),
        (
            base(json!({"company_id": "nope"})),
            400,
            "malformed-request",
            "company_id",
        ),
        (
            base(json!({"company_id": unknown})),
            422,
            "validation-error",
            "company_id",
        ),
        (base(json!({"name": ""})), 422, "validation-error", "name"),
        (
            base(json!({"name": "x".repeat(201)})),
            422,
            "validation-error",
            "name",
        ),
        (base(json!({"name": 5})), 400, "malformed-request", "name"),
        (
            base(json!({"kind": "vendor"})),
            422,
            "validation-error",
            "kind",
        ),
        (
            base(json!({"kind": null})),
            400,
            "malformed-request",
            "kind",
        ),
        (
            base(json!({"email": "nope"})),
            422,
            "validation-error",
            "email",
        ),
        (
            base(json!({"email": "a@b"})),
            422,
            "validation-error",
            "email",
        ),
        (
            base(json!({"phone": "030 123456"})),
            422,
            "validation-error",
            "phone",
        ),
        (
            base(json!({"phone": "+1234567"})),
            422,
            "validation-error",
            "phone",
        ),
        (
            base(json!({"phone": "+1234567890123456"})),
            422,
            "validation-error",
            "phone",
        ),
        (
            base(json!({"phone": 4930123456_i64})),
            400,
            "malformed-request",
            "phone",
        ),
        (
            base(json!({"tax_id": ""})),
            422,
            "validation-error",
            "tax_id",
        ),
        (
            base(json!({"tax_id": "1".repeat(65)})),
            422,
            "validation-error",
            "tax_id",
        ),
        (
            base(json!({"address": "Berlin"})),
            400,
            "malformed-request",
            "address",
        ),
        (
            base(json!({"address": {"street": "x"}})),
            400,
            "malformed-request",
            "address.street",
        ),
        (
            base(json!({"address": {"city": ""}})),
            422,
            "validation-error",
            "address.city",
        ),
        (
            base(json!({"address": {"country": "de"}})),
            422,
            "validation-error",
            "address.country",
        ),
        (
            base(json!({"address": {"postal_code": "1".repeat(33)}})),
            422,
            "validation-error",
            "address.postal_code",
        ),
        (
            base(json!({"external_ref": " "})),
            422,
            "validation-error",
            "external_ref",
        ),
        (
            base(json!({"tags": "vip"})),
            400,
            "malformed-request",
            "tags",
        ),
        (
            base(json!({"tags": [1]})),
            400,
            "malformed-request",
            "tags[0]",
        ),
        (
            base(json!({"tags": many_tags})),
            422,
            "validation-error",
            "tags",
        ),
        (
            base(json!({"tags": ["a", "b", "a"]})),
            422,
            "validation-error",
            "tags[2]",
        ),
        (
            base(json!({"tags": ["ok", ""]})),
            422,
            "validation-error",
            "tags[1]",
        ),
        (
            base(json!({"tags": ["x".repeat(51)]})),
            422,
            "validation-error",
            "tags[0]",
        ),
        (
            base(json!({"notes": "x".repeat(10_001)})),
            422,
            "validation-error",
            "notes",
        ),
        (
            base(json!({"status": "deleted"})),
            422,
            "validation-error",
            "status",
        ),
        (
            base(json!({"org_id": t.org_id})),
            400,
            "malformed-request",
            "org_id",
        ),
    ];
    for (body, status, kind, field) in &cases {
        let resp = app.create_partner(&t.access, body);
        let what: String = body.to_string().chars().take(120).collect();
        assert_problem(&resp, *status, kind, field, &what);
    }
    assert_eq!(partner_rows(&t.org_id), 0, "no partial writes");
    // The limits themselves are allowed.
    let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    let edge = base(json!({
        "name": "é".repeat(200), "notes": "x".repeat(10_000), "tags": twenty,
        "phone": "+123456789012345", "tax_id": "1".repeat(64),
    }));
    let resp = app.create_partner(&t.access, &edge);
    assert_eq!(resp.status, 201, "{}", resp.text());

    // The same rules on a change; `null` only where a field may be cleared.
    let p = app.partner(&t, &c, "Valid", "supplier");
    let id = id_of(&p);
    let etag = app.partner_etag(&t.access, id);
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({}), 422, "validation-error", "body"),
        (json!({"name": null}), 400, "malformed-request", "name"),
        (json!({"kind": null}), 400, "malformed-request", "kind"),
        (
            json!({"company_id": null}),
            400,
            "malformed-request",
            "company_id",
        ),
        (json!({"tags": null}), 400, "malformed-request", "tags"),
        (json!({"status": null}), 400, "malformed-request", "status"),
        (
            json!({"company_id": unknown}),
            422,
            "validation-error",
            "company_id",
        ),
        (json!({"name": " "}), 422, "validation-error", "name"),
        (json!({"kind": "both "}), 422, "validation-error", "kind"),
        (json!({"email": "x@"}), 422, "validation-error", "email"),
        (json!({"phone": "+49"}), 422, "validation-error", "phone"),
        (
            json!({"tags": ["a", "a"]}),
            422,
            "validation-error",
            "tags[1]",
        ),
        (
            json!({"notes": "x".repeat(10_001)}),
            422,
            "validation-error",
            "notes",
        ),
        (
            json!({"address": {"region": ""}}),
            422,
            "validation-error",
            "address.region",
        ),
        (json!({"status": "gone"}), 422, "validation-error", "status"),
        (json!({"id": "x"}), 400, "malformed-request", "id"),
    ];
    for (body, status, kind, field) in &cases {
        let resp = app.patch_partner(&t.access, id, Some(&etag), body);
        let what: String = body.to_string().chars().take(120).collect();
        assert_problem(&resp, *status, kind, field, &what);
    }
    assert_eq!(app.partner_etag(&t.access, id), etag, "unchanged");
}

#[test]
fn external_refs_are_unique_per_company() {
    let app = app();
    let t = app.new_tenant();
    let a = company_of(app, &t);
    let b = company_of(app, &t);
    let with_ref = |company: &str, name: &str| json!({"company_id": company, "name": name, "kind": "customer", "external_ref": "X-1"});
    let resp = app.create_partner(&t.access, &with_ref(&a, "First"));
    assert_eq!(resp.status, 201, "{}", resp.text());
    let resp = app.create_partner(&t.access, &with_ref(&a, "Second"));
    assert_problem(
        &resp,
        409,
        "conflict",
        "external_ref",
        "same ref, same company",
    );
    // Another company may use it, and partners without one are many.
    let resp = app.create_partner(&t.access, &with_ref(&b, "Elsewhere"));
    assert_eq!(resp.status, 201, "{}", resp.text());
    app.partner(&t, &a, "No ref 1", "customer");
    let plain = app.partner(&t, &a, "No ref 2", "customer");
    // Setting a taken one by a change is the same 409.
    let id = id_of(&plain);
    let etag = app.partner_etag(&t.access, id);
    let resp = app.patch_partner(&t.access, id, Some(&etag), &json!({"external_ref": "X-1"}));
    assert_problem(
        &resp,
        409,
        "conflict",
        "external_ref",
        "rename onto a taken ref",
    );
    assert_eq!(partner_rows(&t.org_id), 4);
}

#[test]
fn viewers_read_members_write_admins_delete() {
    let app = app();
    let owner = app.new_tenant();
    let viewer = join(app, &owner, "viewer");
    let member = join(app, &owner, "member");
    let admin = join(app, &owner, "admin");
    let c = company_of(app, &owner);
    let p = app.partner(&owner, &c, "Roles Inc", "customer");
    let id = id_of(&p);
    let path = format!("/v1/partners/{id}");
    let under = format!("/v1/companies/{c}/partners");
    let body = json!({"company_id": c, "name": "By someone", "kind": "customer"});

    assert_eq!(app.get_as(&path, &viewer.access).status, 200);
    assert_eq!(app.get_as("/v1/partners", &viewer.access).status, 200);
    assert_eq!(app.get_as(&under, &viewer.access).status, 200);
    assert_eq!(app.create_partner(&viewer.access, &body).status, 403);
    let resp = app.send_as("POST", &under, &viewer.access, &[], Some(&body));
    assert_eq!(resp.status, 403, "{}", resp.text());
    let etag = app.partner_etag(&viewer.access, id);
    let resp = app.patch_partner(&viewer.access, id, Some(&etag), &json!({"tax_id": "V"}));
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(
        app.send_as("DELETE", &path, &viewer.access, &[], None)
            .status,
        403
    );

    let resp = app.create_partner(&member.access, &body);
    assert_eq!(resp.status, 201, "{}", resp.text());
    let resp = app.patch_partner(&member.access, id, Some(&etag), &json!({"tax_id": "M"}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = app.send_as("DELETE", &path, &member.access, &[], None);
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(app.get_as(&path, &owner.access).status, 200, "still there");

    let resp = app.send_as("DELETE", &path, &admin.access, &[], None);
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(app.get_as(&path, &owner.access).status, 404);
    assert_eq!(app.get("/v1/partners").status, 401, "no token");
}

#[test]
fn concurrent_changes_under_one_etag_have_one_winner() {
    let app = app();
    let t = app.new_tenant();
    let c = company_of(app, &t);
    let p = app.partner(&t, &c, "Contended", "customer");
    let id = id_of(&p);
    let etag = app.partner_etag(&t.access, id);
    let statuses: Vec<u16> = thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let (etag, access) = (&etag, &t.access);
                s.spawn(move || {
                    let body = json!({"tax_id": format!("T{i}")});
                    app.patch_partner(access, id, Some(etag), &body).status
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
             AND action = 'partner.updated' AND entity_id = $2",
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
    let c = company_of(app, &t);
    for i in 0..7 {
        app.partner(&t, &c, &format!("Seed {i:02}"), "customer");
    }
    let list = format!("/v1/companies/{c}/partners");
    for (path, sort) in [
        ("/v1/partners", "name"),
        ("/v1/partners", "-name"),
        ("/v1/partners", "created_at"),
        (list.as_str(), "-created_at"),
    ] {
        let before: HashSet<String> = app
            .partner_names(&t.access, "limit=200")
            .into_iter()
            .collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let target = match &cursor {
                Some(cur) => format!("{path}?sort={sort}&limit=3&cursor={cur}"),
                None => format!("{path}?sort={sort}&limit=3"),
            };
            let resp = app.get_as(&target, &t.access);
            assert_eq!(resp.status, 200, "{target}: {}", resp.text());
            let body = resp.json();
            let page = body["items"].as_array().unwrap();
            assert!(page.len() <= 3);
            for item in page {
                seen.push((
                    item["name"].as_str().unwrap().to_owned(),
                    item["created_at"].as_str().unwrap().to_owned(),
                ));
            }
            // A row inserted between pages, at either end of every order.
            pages += 1;
            let prefix = if pages % 2 == 0 { "Aa" } else { "Zz" };
            app.partner(&t, &c, &format!("{prefix} {sort} {pages}"), "supplier");
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
        let ordered = |a: &(String, String), b: &(String, String)| match sort {
            "created_at" => a.1 <= b.1,
            "-created_at" => a.1 >= b.1,
            _ => true,
        };
        assert!(
            seen.windows(2).all(|w| ordered(&w[0], &w[1])),
            "{sort}: {seen:?}"
        );
    }
    // The database's collation decides the name order; the API's must agree.
    let api = app.partner_names(&t.access, "limit=200");
    let db: Vec<String> = app_db()
        .query(
            "SELECT name FROM partners WHERE org_id = $1::text::uuid ORDER BY name, id",
            &[&t.org_id],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(api, db);
    let mut desc = app.partner_names(&t.access, "sort=-name&limit=200");
    desc.reverse();
    assert_eq!(desc, db);
}

#[test]
fn lists_filter_by_kind_status_company_and_tag_and_refuse_bad_parameters() {
    let app = app();
    let t = app.new_tenant();
    let a = company_of(app, &t);
    let b = company_of(app, &t);
    let make = |company: &str, name: &str, kind: &str, tags: Value| {
        let body = json!({"company_id": company, "name": name, "kind": kind, "tags": tags});
        let resp = app.create_partner(&t.access, &body);
        assert_eq!(resp.status, 201, "{}", resp.text());
        resp.json()
    };
    make(&a, "Buyer", "customer", json!(["vip"]));
    make(&a, "Seller", "supplier", json!(["eu", "vip"]));
    let both = make(&b, "Trader", "both", json!(["eu"]));
    let id = id_of(&both);
    let etag = app.partner_etag(&t.access, id);
    let resp = app.patch_partner(&t.access, id, Some(&etag), &json!({"status": "archived"}));
    assert_eq!(resp.status, 200, "{}", resp.text());

    for (query, want) in [
        ("", vec!["Buyer", "Seller", "Trader"]),
        ("kind=customer", vec!["Buyer", "Trader"]),
        ("kind=supplier", vec!["Seller", "Trader"]),
        ("kind=both", vec!["Trader"]),
        ("status=active", vec!["Buyer", "Seller"]),
        ("status=archived", vec!["Trader"]),
        (&format!("company_id={a}"), vec!["Buyer", "Seller"]),
        (&format!("company_id={b}"), vec!["Trader"]),
        ("tag=vip", vec!["Buyer", "Seller"]),
        ("tag=eu", vec!["Seller", "Trader"]),
        ("tag=none", vec![]),
        ("tag=eu&kind=customer", vec!["Trader"]),
        ("tag=eu&status=active&sort=-name", vec!["Seller"]),
        ("q=trader&status=archived", vec!["Trader"]),
        ("q=trader&status=active", vec![]),
        ("q=seler&tag=vip", vec!["Seller"]),
    ] {
        assert_eq!(app.partner_names(&t.access, query), want, "{query}");
    }
    for (query, status, field) in [
        ("kind=vendor", 422, "kind"),
        ("status=gone", 422, "status"),
        ("company_id=nope", 422, "company_id"),
        ("tag=", 422, "tag"),
        ("sort=size", 422, "sort"),
        ("limit=0", 422, "limit"),
        ("limit=201", 422, "limit"),
        ("limit=x", 400, "limit"),
        ("cursor=nope", 400, "cursor"),
        ("q=", 422, "q"),
        ("q=acme&sort=name", 422, "sort"),
    ] {
        let resp = app.get_as(&format!("/v1/partners?{query}"), &t.access);
        assert_eq!(resp.status, status, "{query}: {}", resp.text());
        assert_eq!(field_of(&resp.json()), Some(field), "{query}");
    }
}

#[test]
fn search_finds_names_despite_case_and_typos_best_first() {
    let app = app();
    let t = app.new_tenant();
    let other = app.new_tenant();
    let c = company_of(app, &t);
    for name in [
        "ACME GmbH",
        "Acme Holdings Ltd",
        "Globex Corporation",
        "Initech",
    ] {
        app.partner(&t, &c, name, "customer");
    }
    let foreign = company_of(app, &other);
    app.partner(&other, &foreign, "Acme Gmbh Foreign", "customer");
    let found = app.partner_names(&t.access, "q=Acme%20Gmbh");
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
    let typo = app.partner_names(&t.access, "q=Globx%20Corp");
    assert_eq!(typo.first().map(String::as_str), Some("Globex Corporation"));
    assert_eq!(
        app.partner_names(&t.access, "q=zzzzqqq"),
        Vec::<String>::new()
    );
    let resp = app.get_as("/v1/partners?q=acme&limit=1", &t.access);
    let body = resp.json();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["next_cursor"], Value::Null);
}

/// The words of `org`'s partner names in the search index (as the owner
/// sees it: the app role cannot read it).
fn indexed_terms(org: &str) -> Vec<String> {
    app_db()
        .query(
            "SELECT term FROM partner_terms WHERE org_id = $1::text::uuid ORDER BY term",
            &[&org],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn search_by_words_follows_every_write_and_falls_back_to_the_nearest_names() {
    let app = app();
    let t = app.new_tenant();
    let c = company_of(app, &t);
    let long = "Northern Lights Renewable Energy Cooperative Society";
    let p = app.partner(&t, &c, long, "customer");
    let id = id_of(&p);
    // Too long a name for its whole-name similarity to pass `%`: only the
    // word index finds it by one of its words.
    let whole: f32 = app_db()
        .query_one("SELECT similarity(lower($1), 'society')", &[&long])
        .unwrap()
        .get(0);
    assert!(whole < 0.3, "similarity {whole}");
    for q in [
        "society",
        "Socety",
        "coop",
        "northern%20energy",
        "ENERGY%20lights",
    ] {
        assert_eq!(
            app.partner_names(&t.access, &format!("q={q}")),
            [long],
            "q={q}"
        );
    }
    // Every word must be there: a word no name has leaves only the nearest
    // whole names, and this one is not near enough.
    assert!(
        app.partner_names(&t.access, "q=society%20zebrafish")
            .is_empty()
    );

    // A rename reindexes the name; words no name uses any more leave.
    let renamed = "Southern Lights Renewable Energy Cooperative Association";
    let etag = app.partner_etag(&t.access, id);
    let resp = app.patch_partner(&t.access, id, Some(&etag), &json!({"name": renamed}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(app.partner_names(&t.access, "q=society").is_empty());
    assert_eq!(app.partner_names(&t.access, "q=association"), [renamed]);
    let terms = indexed_terms(&t.org_id);
    assert!(terms.contains(&"association".to_owned()), "{terms:?}");
    assert!(!terms.contains(&"society".to_owned()), "{terms:?}");
    assert!(!terms.contains(&"northern".to_owned()), "{terms:?}");

    // A deleted partner leaves the index, and its words with it.
    let path = format!("/v1/partners/{id}");
    assert_eq!(
        app.send_as("DELETE", &path, &t.access, &[], None).status,
        204
    );
    assert!(app.partner_names(&t.access, "q=association").is_empty());
    assert_eq!(indexed_terms(&t.org_id), Vec::<String>::new());
    let left: i64 = app_db()
        .query_one(
            "SELECT count(*) FROM partner_names WHERE org_id = $1::text::uuid",
            &[&t.org_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);

    // More names hold the word than are ranked (500): the page is still
    // names holding it, and a name equal to the query is never left out.
    app_db()
        .execute(
            "INSERT INTO partners (org_id, company_id, name, kind) \
             SELECT $1::text::uuid, $2::text::uuid, 'Bulk Trading ' || g, 'customer' \
             FROM generate_series(1, 501) AS g",
            &[&t.org_id, &c],
        )
        .unwrap();
    app.partner(&t, &c, "Bulk", "supplier");
    let broad = app.partner_names(&t.access, "q=bulk&limit=20");
    assert_eq!(broad.len(), 20, "{broad:?}");
    assert_eq!(broad[0], "Bulk", "the exact name first: {broad:?}");
    assert!(broad.iter().all(|n| n.starts_with("Bulk")), "{broad:?}");
    let suppliers = app.partner_names(&t.access, "q=bulk&kind=supplier");
    assert_eq!(
        suppliers,
        ["Bulk"],
        "filters apply to the nearest names too"
    );
}

#[test]
fn the_app_role_cannot_read_the_search_index() {
    let app = app();
    let t = app.new_tenant();
    let c = company_of(app, &t);
    app.partner(&t, &c, &unique("indexed"), "customer");
    for table in ["partner_names", "partner_terms"] {
        let mut db = app_db();
        let mut tx = db.transaction().unwrap();
        tx.batch_execute("SET LOCAL ROLE plinth_app").unwrap();
        tx.execute("SELECT set_config('app.org_id', $1, true)", &[&t.org_id])
            .unwrap();
        let err = tx
            .query(&format!("SELECT * FROM {table}"), &[])
            .expect_err("no grant on an index table");
        assert_eq!(
            err.code(),
            Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{table}: {err}"
        );
    }
    // The matching function answers nothing without an org.
    let mut db = app_db();
    let mut tx = db.transaction().unwrap();
    tx.batch_execute("SET LOCAL ROLE plinth_app").unwrap();
    let found: i64 = tx
        .query_one(
            "SELECT count(*) FROM plinth_partner_matches('indexed', 500)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(found, 0);
}

#[test]
fn a_company_with_partners_is_not_deleted() {
    let app = app();
    let t = app.new_tenant();
    let c = company_of(app, &t);
    let one = app.partner(&t, &c, "One", "customer");
    let two = app.partner(&t, &c, "Two", "supplier");
    let company = format!("/v1/companies/{c}");
    let resp = app.send_as("DELETE", &company, &t.access, &[], None);
    assert_eq!(resp.status, 409, "{}", resp.text());
    assert_eq!(
        resp.json()["blocking"],
        json!([{"table": "partners", "count": 2}])
    );
    assert_eq!(app.get_as(&company, &t.access).status, 200, "still there");
    for p in [&one, &two] {
        let path = format!("/v1/partners/{}", id_of(p));
        assert_eq!(
            app.send_as("DELETE", &path, &t.access, &[], None).status,
            204
        );
    }
    let resp = app.send_as("DELETE", &company, &t.access, &[], None);
    assert_eq!(resp.status, 204, "{}", resp.text());
    // The foreign key is the backstop even for a write that skips the check.
    let c2 = company_of(app, &t);
    app.partner(&t, &c2, "Holds on", "customer");
    let refused = app_db().execute("DELETE FROM companies WHERE id = $1::text::uuid", &[&c2]);
    assert!(refused.is_err(), "ON DELETE RESTRICT");
}

#[test]
fn another_orgs_partners_are_never_readable_writable_or_listed() {
    let app = app();
    let a = app.new_tenant();
    let b = app.new_tenant();
    let a_company = company_of(app, &a);
    let p = app.partner(&a, &a_company, "Secret Supplies", "supplier");
    let id = id_of(&p);
    let etag = app.partner_etag(&a.access, id);
    let path = format!("/v1/partners/{id}");
    let under = format!("/v1/companies/{a_company}/partners");
    let patch = json!({"name": "Taken over"});
    let nested = json!({"name": "Planted", "kind": "customer"});
    // (method, path, body, headers)
    let cases = [
        ("GET", path.as_str(), None, vec![]),
        (
            "PATCH",
            path.as_str(),
            Some(&patch),
            vec![("if-match", etag.as_str())],
        ),
        (
            "PATCH",
            path.as_str(),
            Some(&patch),
            vec![("if-match", "*")],
        ),
        ("DELETE", path.as_str(), None, vec![]),
        ("GET", under.as_str(), None, vec![]),
        ("POST", under.as_str(), Some(&nested), vec![]),
    ];
    for (method, target, body, headers) in &cases {
        let resp = app.send_as(method, target, &b.access, headers, *body);
        assert_eq!(resp.status, 404, "{method} {target}: {}", resp.text());
    }
    // A partner in B pointing at A's company: refused, nothing written.
    let planted = json!({"company_id": a_company, "name": "Planted", "kind": "customer"});
    let resp = app.create_partner(&b.access, &planted);
    assert_problem(
        &resp,
        422,
        "validation-error",
        "company_id",
        "A's company from B",
    );
    assert_eq!(partner_rows(&b.org_id), 0, "nothing written in B");
    // Nor may B move its own partner there.
    let b_company = company_of(app, &b);
    let own = app.partner(&b, &b_company, "Own", "customer");
    let own_etag = app.partner_etag(&b.access, id_of(&own));
    let resp = app.patch_partner(
        &b.access,
        id_of(&own),
        Some(&own_etag),
        &json!({"company_id": a_company}),
    );
    assert_problem(&resp, 422, "validation-error", "company_id", "move into A");
    assert_eq!(app.partner_etag(&b.access, id_of(&own)), own_etag);

    let read = app.get_as(&path, &a.access);
    assert_eq!(read.status, 200);
    assert_eq!(read.header("etag"), Some(etag.as_str()), "A unchanged");
    assert_eq!(partner_rows(&a.org_id), 1);
    for query in [
        "",
        "sort=-created_at",
        "kind=supplier",
        "tag=x",
        &format!("company_id={a_company}"),
        "q=Secret%20Supplies",
    ] {
        let listed = app.partner_names(&b.access, query);
        assert!(
            !listed.contains(&"Secret Supplies".to_owned()),
            "{query}: {listed:?}"
        );
    }
}

#[test]
fn row_level_security_hides_other_orgs_partners_from_a_query_without_the_org_filter() {
    let app = app();
    let a = app.new_tenant();
    let b = app.new_tenant();
    let a_company = company_of(app, &a);
    let secret = app.partner(&a, &a_company, &unique("rls-a"), "customer");
    let b_company = company_of(app, &b);
    app.partner(&b, &b_company, &unique("rls-b"), "customer");
    let mut db = app_db();
    let mut tx = db.transaction().unwrap();
    tx.batch_execute("SET LOCAL ROLE plinth_app").unwrap();
    let none: i64 = tx
        .query_one("SELECT count(*) FROM partners", &[])
        .unwrap()
        .get(0);
    assert_eq!(none, 0, "no setting: nothing at all");
    tx.execute("SELECT set_config('app.org_id', $1, true)", &[&b.org_id])
        .unwrap();
    let orgs: Vec<String> = tx
        .query("SELECT org_id::text FROM partners", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(orgs, std::slice::from_ref(&b.org_id), "only B's row");
    let hidden: i64 = tx
        .query_one(
            "SELECT count(*) FROM partners WHERE id = $1::text::uuid",
            &[&id_of(&secret)],
        )
        .unwrap()
        .get(0);
    assert_eq!(hidden, 0);
    let touched = tx
        .execute(
            "UPDATE partners SET notes = 'x' WHERE org_id = $1::text::uuid",
            &[&a.org_id],
        )
        .unwrap();
    assert_eq!(touched, 0);
    let planted = tx.execute(
        "INSERT INTO partners (org_id, company_id, name, kind) \
         VALUES ($1::text::uuid, $2::text::uuid, 'planted', 'customer')",
        &[&a.org_id, &a_company],
    );
    assert!(planted.is_err(), "the policy's WITH CHECK refuses it");
    drop(tx);
}
