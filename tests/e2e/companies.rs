//! Companies end to end, on the root app: create, read, change under
//! `If-Match` (one winner among concurrent writers), delete; every field's
//! validation naming the field; names unique per org whatever their case;
//! the org's default currency; roles; keyset pages in every order while
//! rows are inserted; status filter; fuzzy search; and org B's token on
//! every route with org A's ids, plus row-level security under a query that
//! forgets the org filter.

use serde_json::{Value, json};

use crate::helpers::{Response, TestApp, app, app_db, unique};
use crate::identity::Tenant;
use crate::org_admin::join;
use crate::resources::{
    Case, Resource, assert_bad_queries, assert_changes_refused, assert_deleted_under_if_match,
    assert_hidden_from, assert_one_winner, assert_pages_visit_every_row_once, assert_problem,
    assert_problems, assert_read_then_changed, assert_rls_hides, assert_roles, assert_search_ranks,
    create_cases, names, walk_pages, with_fields,
};

const COMPANIES: Resource = Resource {
    path: "/v1/companies",
    table: "companies",
    entity: "company",
};

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

    // Read back; changing needs If-Match, and the current one.
    let change = json!({"legal_name": null, "currency": "CHF", "status": "archived"});
    let (c2, new_etag) = assert_read_then_changed(app, &COMPANIES, &t.access, (&c, &etag), &change);
    assert_eq!(c2["legal_name"], Value::Null, "null clears");
    assert_eq!(c2["currency"], "CHF");
    assert_eq!(c2["status"], "archived");
    assert_eq!(c2["tax_id"], "DE123456789", "absent keeps");

    // Every write is in the audit log, with only the changed fields.
    let events = COMPANIES.audit_trail(&t.org_id, &id);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "company.created");
    assert_eq!(events[1].0, "company.updated");
    assert_eq!(
        events[1].1,
        Some(json!({"legal_name": null, "currency": "CHF", "status": "archived"}))
    );

    // Delete: a stale If-Match is refused; then 204, then gone.
    assert_deleted_under_if_match(app, &COMPANIES, &t, &id, (&etag, &new_etag));
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
    let base = |extra: Value| with_fields(&json!({"name": "A"}), extra);
    // (body, status, problem type, field), besides the shared ones.
    let mut cases: Vec<Case> = vec![
        (json!({}), 400, "malformed-request", "name"),
        (
            base(json!({"legal_name": " "})),
            422,
            "validation-error",
            "legal_name",
        ),
        (
            base(json!({"country": "de"})),
            422,
            "validation-error",
            "country",
        ),
        (
            base(json!({"country": "XX"})),
            422,
            "validation-error",
            "country",
        ),
        (
            base(json!({"country": "DEU"})),
            422,
            "validation-error",
            "country",
        ),
        (
            base(json!({"currency": "EURO"})),
            422,
            "validation-error",
            "currency",
        ),
        (
            base(json!({"currency": "eur"})),
            422,
            "validation-error",
            "currency",
        ),
        (
            base(json!({"currency": 978})),
            400,
            "malformed-request",
            "currency",
        ),
        (
            base(json!({"metadata": [1]})),
            400,
            "malformed-request",
            "metadata",
        ),
        (
            base(json!({"metadata": {"k": big}})),
            422,
            "validation-error",
            "metadata",
        ),
    ];
    cases.extend(create_cases(base, &t.org_id));
    assert_problems(&cases, |body| app.create_company(&t.access, body));
    assert_eq!(COMPANIES.rows(&t.org_id), 0, "no partial writes");

    // The same rules on a change; `null` only where a field may be cleared.
    let c = app.company(&t, "Valid");
    let id = c["id"].as_str().unwrap();
    let cases: Vec<Case> = vec![
        (
            json!({"currency": null}),
            400,
            "malformed-request",
            "currency",
        ),
        (
            json!({"metadata": null}),
            400,
            "malformed-request",
            "metadata",
        ),
        (json!({"country": "uk"}), 422, "validation-error", "country"),
        (
            json!({"currency": "XXX"}),
            422,
            "validation-error",
            "currency",
        ),
        (
            json!({"metadata": {"k": big}}),
            422,
            "validation-error",
            "metadata",
        ),
    ];
    assert_changes_refused(app, &COMPANIES, &t.access, id, cases);
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
    let resp =
        app.patch_with_current_etag(&COMPANIES, &t.access, id, &json!({"name": "Acme GMBH"}));
    assert_problem(&resp, 409, "conflict", "name", "rename onto a taken name");
    assert_eq!(COMPANIES.rows(&t.org_id), 2);
}

#[test]
fn viewers_read_members_write_admins_delete() {
    let app = app();
    let owner = app.new_tenant();
    let viewer = join(app, &owner, "viewer");
    let member = join(app, &owner, "member");
    let admin = join(app, &owner, "admin");
    let c = app.company(&owner, "Roles Inc");
    let roles = (&owner, &viewer, &member, &admin);
    assert_roles(
        app,
        &COMPANIES,
        roles,
        c["id"].as_str().unwrap(),
        |name| json!({ "name": name }),
    );
}

#[test]
fn concurrent_changes_under_one_etag_have_one_winner() {
    let app = app();
    let t = app.new_tenant();
    let c = app.company(&t, "Contended");
    assert_one_winner(app, &COMPANIES, &t, c["id"].as_str().unwrap());
}

#[test]
fn pages_visit_every_row_once_in_each_order_while_rows_are_inserted() {
    let app = app();
    let t = app.new_tenant();
    for i in 0..7 {
        app.company(&t, &format!("Seed {i:02}"));
    }
    let walks = ["name", "-name", "created_at", "-created_at"].map(|sort| (COMPANIES.path, sort));
    assert_pages_visit_every_row_once(app, &COMPANIES, &t, &walks, |name| {
        app.company(&t, name);
    });
}

#[test]
fn lists_filter_by_status_and_refuse_bad_parameters() {
    let app = app();
    let t = app.new_tenant();
    app.company(&t, "Live one");
    let old = app.company(&t, "Old one");
    let id = old["id"].as_str().unwrap();
    let resp =
        app.patch_with_current_etag(&COMPANIES, &t.access, id, &json!({"status": "archived"}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        app.names_at(&t.access, COMPANIES.path, "status=active"),
        ["Live one"]
    );
    assert_eq!(
        app.names_at(&t.access, COMPANIES.path, "status=archived"),
        ["Old one"]
    );
    assert_eq!(
        app.names_at(&t.access, COMPANIES.path, ""),
        ["Live one", "Old one"]
    );
    let bad = [("status=gone", 422, "status")];
    assert_bad_queries(app, &t.access, COMPANIES.path, &bad);
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
    assert_search_ranks(app, &COMPANIES, &t);
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
    let etag = app.etag_in(&COMPANIES, &a.access, id);
    assert_hidden_from(app, &COMPANIES, &b, (id, &etag), &[]);
    let read = app.get_as(&COMPANIES.item(id), &a.access);
    assert_eq!(read.status, 200);
    assert_eq!(read.header("etag"), Some(etag.as_str()), "A unchanged");
    assert_eq!(read.json()["name"], "Secret Holdings");
    for query in [
        "",
        "sort=-created_at",
        "status=active",
        "q=Secret%20Holdings",
    ] {
        let listed = app.names_at(&b.access, COMPANIES.path, query);
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
    let plant = "INSERT INTO companies (org_id, name, currency) \
                 VALUES ($1::text::uuid, 'planted', 'EUR')";
    assert_rls_hides(
        &COMPANIES,
        (&a, &b),
        secret["id"].as_str().unwrap(),
        "tax_id",
        (plant, &[&a.org_id]),
    );
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
        let first = format!("/v1/companies?sort={sort}&limit=1");
        walk_pages(app, &t.access, &first, |body| {
            seen.extend(names(&body["items"]));
            assert!(seen.len() <= made.len(), "{sort}: rows repeat");
        });
        if sort == "-name" {
            seen.reverse();
        }
        assert_eq!(seen, made, "{sort}");
    }
}
