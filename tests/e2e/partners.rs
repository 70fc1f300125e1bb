//! Partners end to end, on the root app: create (flat and under a company),
//! read, change under `If-Match` (one winner among concurrent writers),
//! delete; every field's validation naming the field; external references
//! unique per company; roles; keyset pages in every order while rows are
//! inserted; the kind, status, company and tag filters; fuzzy search; a
//! company with partners refusing deletion; and org B's token on every
//! route with org A's ids, plus row-level security under a query that
//! forgets the org filter.

use serde_json::{Value, json};

use crate::helpers::{Response, TestApp, app, app_db, unique};
use crate::identity::Tenant;
use crate::org_admin::join;
use crate::resources::{
    Case, Resource, assert_bad_queries, assert_changes_refused, assert_deleted_under_if_match,
    assert_hidden_from, assert_one_winner, assert_pages_visit_every_row_once, assert_problem,
    assert_problems, assert_read_then_changed, assert_rls_hides, assert_roles, assert_search_ranks,
    create_cases, with_fields,
};

const PARTNERS: Resource = Resource {
    path: "/v1/partners",
    table: "partners",
    entity: "partner",
};

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
}

/// A company of `t`'s org with a fresh name; its id.
fn company_of(app: &TestApp, t: &Tenant) -> String {
    app.company(t, &unique("co"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
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

    // Read back; changing needs If-Match, and the current one.
    let change = json!({"email": null, "kind": "both", "tags": [], "status": "archived"});
    let (p2, new_etag) = assert_read_then_changed(app, &PARTNERS, &t.access, (&p, &etag), &change);
    assert_eq!(p2["email"], Value::Null, "null clears");
    assert_eq!(p2["kind"], "both");
    assert_eq!(p2["tags"], json!([]));
    assert_eq!(p2["status"], "archived");
    assert_eq!(p2["phone"], "+4930123456", "absent keeps");

    // A partner may move to another company of the org.
    let other = company_of(app, &t);
    let moved = app.patch_in(
        &PARTNERS,
        &t.access,
        &id,
        Some(&new_etag),
        &json!({"company_id": other}),
    );
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(moved.json()["company_id"], other.as_str());
    let new_etag = moved.header("etag").unwrap().to_owned();

    // Every write is in the audit log, with only the changed fields.
    let events = PARTNERS.audit_trail(&t.org_id, &id);
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
    assert_deleted_under_if_match(app, &PARTNERS, &t, &id, (&etag, &new_etag));
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

    assert_eq!(app.names_at(&t.access, &under, ""), ["Nested", "Same"]);
    // The flat list's filter is the same list.
    assert_eq!(
        app.names_at(&t.access, PARTNERS.path, &format!("company_id={company}")),
        ["Nested", "Same"]
    );
    assert_eq!(
        app.names_at(&t.access, &under, "kind=supplier"),
        ["Nested", "Same"],
        "supplier includes both"
    );
    assert_eq!(app.names_at(&t.access, &under, "q=nestd"), ["Nested"]);
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
        app.names_at(&t.access, &format!("/v1/companies/{empty}/partners"), ""),
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
    assert_eq!(PARTNERS.rows(&t.org_id), 3);
}

#[test]
fn every_field_is_validated_by_name() {
    let app = app();
    let t = app.new_tenant();
    let c = company_of(app, &t);
    let base = |extra: Value| {
        with_fields(
            &json!({"company_id": c, "name": "A", "kind": "customer"}),
            extra,
        )
    };
    let many_tags: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let unknown = "00000000-0000-4000-8000-000000000000";
    // (body, status, problem type, field), besides the shared ones.
    let mut cases: Vec<Case> = vec![
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
    ];
    cases.extend(create_cases(base, &t.org_id));
    assert_problems(&cases, |body| app.create_partner(&t.access, body));
    assert_eq!(PARTNERS.rows(&t.org_id), 0, "no partial writes");
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
    let cases: Vec<Case> = vec![
        (json!({"kind": null}), 400, "malformed-request", "kind"),
        (
            json!({"company_id": null}),
            400,
            "malformed-request",
            "company_id",
        ),
        (json!({"tags": null}), 400, "malformed-request", "tags"),
        (
            json!({"company_id": unknown}),
            422,
            "validation-error",
            "company_id",
        ),
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
    ];
    assert_changes_refused(app, &PARTNERS, &t.access, id, cases);
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
    let resp =
        app.patch_with_current_etag(&PARTNERS, &t.access, id, &json!({"external_ref": "X-1"}));
    assert_problem(
        &resp,
        409,
        "conflict",
        "external_ref",
        "rename onto a taken ref",
    );
    assert_eq!(PARTNERS.rows(&t.org_id), 4);
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
    let under = format!("/v1/companies/{c}/partners");
    let body = |name: &str| json!({"company_id": c, "name": name, "kind": "customer"});

    // The company's list: viewers read it and add nothing to it.
    assert_eq!(app.get_as(&under, &viewer.access).status, 200);
    let resp = app.send_as(
        "POST",
        &under,
        &viewer.access,
        &[],
        Some(&body("By viewer")),
    );
    assert_eq!(resp.status, 403, "{}", resp.text());
    let roles = (&owner, &viewer, &member, &admin);
    assert_roles(app, &PARTNERS, roles, id_of(&p), body);
    assert_eq!(app.get("/v1/partners").status, 401, "no token");
}

#[test]
fn concurrent_changes_under_one_etag_have_one_winner() {
    let app = app();
    let t = app.new_tenant();
    let c = company_of(app, &t);
    let p = app.partner(&t, &c, "Contended", "customer");
    assert_one_winner(app, &PARTNERS, &t, id_of(&p));
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
    let walks = [
        (PARTNERS.path, "name"),
        (PARTNERS.path, "-name"),
        (PARTNERS.path, "created_at"),
        (list.as_str(), "-created_at"),
    ];
    assert_pages_visit_every_row_once(app, &PARTNERS, &t, &walks, |name| {
        app.partner(&t, &c, name, "supplier");
    });
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
    let resp =
        app.patch_with_current_etag(&PARTNERS, &t.access, id, &json!({"status": "archived"}));
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
        assert_eq!(
            app.names_at(&t.access, PARTNERS.path, query),
            want,
            "{query}"
        );
    }
    let bad = [
        ("kind=vendor", 422, "kind"),
        ("status=gone", 422, "status"),
        ("company_id=nope", 422, "company_id"),
        ("tag=", 422, "tag"),
    ];
    assert_bad_queries(app, &t.access, PARTNERS.path, &bad);
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
    assert_search_ranks(app, &PARTNERS, &t);
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
            app.names_at(&t.access, PARTNERS.path, &format!("q={q}")),
            [long],
            "q={q}"
        );
    }
    // Every word must be there: a word no name has leaves only the nearest
    // whole names, and this one is not near enough.
    assert!(
        app.names_at(&t.access, PARTNERS.path, "q=society%20zebrafish")
            .is_empty()
    );

    // A rename reindexes the name; words no name uses any more leave.
    let renamed = "Southern Lights Renewable Energy Cooperative Association";
    let resp = app.patch_with_current_etag(&PARTNERS, &t.access, id, &json!({"name": renamed}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(
        app.names_at(&t.access, PARTNERS.path, "q=society")
            .is_empty()
    );
    assert_eq!(
        app.names_at(&t.access, PARTNERS.path, "q=association"),
        [renamed]
    );
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
    assert!(
        app.names_at(&t.access, PARTNERS.path, "q=association")
            .is_empty()
    );
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
    let broad = app.names_at(&t.access, PARTNERS.path, "q=bulk&limit=20");
    assert_eq!(broad.len(), 20, "{broad:?}");
    assert_eq!(broad[0], "Bulk", "the exact name first: {broad:?}");
    assert!(broad.iter().all(|n| n.starts_with("Bulk")), "{broad:?}");
    let suppliers = app.names_at(&t.access, PARTNERS.path, "q=bulk&kind=supplier");
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
    let etag = app.etag_in(&PARTNERS, &a.access, id);
    let under = format!("/v1/companies/{a_company}/partners");
    let nested = json!({"name": "Planted", "kind": "customer"});
    let more = [
        ("GET", under.as_str(), None, vec![]),
        ("POST", under.as_str(), Some(&nested), vec![]),
    ];
    assert_hidden_from(app, &PARTNERS, &b, (id, &etag), &more);
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
    assert_eq!(PARTNERS.rows(&b.org_id), 0, "nothing written in B");
    // Nor may B move its own partner there.
    let b_company = company_of(app, &b);
    let own = app.partner(&b, &b_company, "Own", "customer");
    let own_etag = app.etag_in(&PARTNERS, &b.access, id_of(&own));
    let resp = app.patch_in(
        &PARTNERS,
        &b.access,
        id_of(&own),
        Some(&own_etag),
        &json!({"company_id": a_company}),
    );
    assert_problem(&resp, 422, "validation-error", "company_id", "move into A");
    assert_eq!(app.etag_in(&PARTNERS, &b.access, id_of(&own)), own_etag);

    let read = app.get_as(&PARTNERS.item(id), &a.access);
    assert_eq!(read.status, 200);
    assert_eq!(read.header("etag"), Some(etag.as_str()), "A unchanged");
    assert_eq!(PARTNERS.rows(&a.org_id), 1);
    for query in [
        "",
        "sort=-created_at",
        "kind=supplier",
        "tag=x",
        &format!("company_id={a_company}"),
        "q=Secret%20Supplies",
    ] {
        let listed = app.names_at(&b.access, PARTNERS.path, query);
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
    let plant = "INSERT INTO partners (org_id, company_id, name, kind) \
                 VALUES ($1::text::uuid, $2::text::uuid, 'planted', 'customer')";
    assert_rls_hides(
        &PARTNERS,
        (&a, &b),
        id_of(&secret),
        "notes",
        (plant, &[&a.org_id, &a_company]),
    );
}
