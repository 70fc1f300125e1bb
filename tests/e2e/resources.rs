//! What the companies and partners tests share: a [`Resource`] (a
//! collection route, its table and its audit entity) and the checks every
//! such resource passes, each given the route and a maker of rows or
//! bodies: change and delete under `If-Match`, one winner among concurrent
//! writers, the audit trail, roles, keyset pages in every order while rows
//! are inserted, search ranking, bad list parameters, other orgs' tokens and
//! row-level security.

use std::collections::HashSet;
use std::thread;

use postgres::types::ToSql;
use serde_json::{Value, json};

use crate::helpers::{Response, TestApp, app_db, field_of};
use crate::identity::Tenant;

/// A collection of tenant rows behind one route.
pub(crate) struct Resource {
    /// The collection route: `/v1/companies`.
    pub path: &'static str,
    /// Its table: `companies`.
    pub table: &'static str,
    /// The audit events' entity type: `company`.
    pub entity: &'static str,
}

impl Resource {
    /// The route of the row `id`.
    pub(crate) fn item(&self, id: &str) -> String {
        format!("{}/{id}", self.path)
    }

    /// How many rows the org has, as the superuser sees them.
    pub(crate) fn rows(&self, org_id: &str) -> i64 {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE org_id = $1::text::uuid",
            self.table
        );
        app_db().query_one(&sql, &[&org_id]).unwrap().get(0)
    }

    /// The audit events of the row `id`, oldest first: action and `after`.
    pub(crate) fn audit_trail(&self, org_id: &str, id: &str) -> Vec<(String, Option<Value>)> {
        app_db()
            .query(
                "SELECT action, after::text FROM audit_events \
                 WHERE org_id = $1::text::uuid AND entity_type = $3 AND entity_id = $2 \
                 ORDER BY created_at, action",
                &[&org_id, &id, &self.entity],
            )
            .unwrap()
            .iter()
            .map(|row| {
                let after: Option<String> = row.get(1);
                (row.get(0), after.map(|a| serde_json::from_str(&a).unwrap()))
            })
            .collect()
    }
}

/// How many audit events of `action` the org has for the row `id`.
pub(crate) fn audit_count(org_id: &str, action: &str, id: &str) -> i64 {
    app_db()
        .query_one(
            "SELECT count(*) FROM audit_events WHERE org_id = $1::text::uuid \
             AND action = $2 AND entity_id = $3",
            &[&org_id, &action, &id],
        )
        .unwrap()
        .get(0)
}

impl TestApp {
    /// `PATCH` the row `id` of `r`, with `If-Match` when given.
    pub(crate) fn patch_in(
        &self,
        r: &Resource,
        access: &str,
        id: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> Response {
        let headers: Vec<(&str, &str)> =
            if_match.map(|tag| ("if-match", tag)).into_iter().collect();
        self.send_as("PATCH", &r.item(id), access, &headers, Some(body))
    }

    /// `PATCH` the row `id` of `r` under its current `ETag`.
    pub(crate) fn patch_with_current_etag(
        &self,
        r: &Resource,
        access: &str,
        id: &str,
        body: &Value,
    ) -> Response {
        let etag = self.etag_in(r, access, id);
        self.patch_in(r, access, id, Some(&etag), body)
    }

    /// The current `ETag` of the row `id` of `r` (200 asserted).
    pub(crate) fn etag_in(&self, r: &Resource, access: &str, id: &str) -> String {
        let resp = self.get_as(&r.item(id), access);
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.header("etag").expect("an ETag").to_owned()
    }

    /// The names of one page of `GET {path}?{query}`.
    pub(crate) fn names_at(&self, access: &str, path: &str, query: &str) -> Vec<String> {
        let resp = self.get_as(&format!("{path}?{query}"), access);
        assert_eq!(resp.status, 200, "{path}?{query}: {}", resp.text());
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

/// A validation case: the body, and the status, problem type and field of
/// its answer.
pub(crate) type Case = (Value, u16, &'static str, &'static str);

/// `body` with the fields of `extra` set.
pub(crate) fn with_fields(body: &Value, extra: Value) -> Value {
    let mut body = body.clone();
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// The cases of a create of the fields every named row has (`name`,
/// `tax_id`, `address`, `status`), and of an `org_id` in the body. `base`
/// sets the given fields on a valid body.
pub(crate) fn create_cases(base: impl Fn(Value) -> Value, org_id: &str) -> Vec<Case> {
    vec![
        (base(json!({"name": ""})), 422, "validation-error", "name"),
        (
            base(json!({"name": "x".repeat(201)})),
            422,
            "validation-error",
            "name",
        ),
        (base(json!({"name": 5})), 400, "malformed-request", "name"),
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
            base(json!({"status": "deleted"})),
            422,
            "validation-error",
            "status",
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
            base(json!({"address": {"city": 1}})),
            400,
            "malformed-request",
            "address.city",
        ),
        (
            base(json!({"address": {"city": ""}})),
            422,
            "validation-error",
            "address.city",
        ),
        (
            base(json!({"address": {"country": "ZZ"}})),
            422,
            "validation-error",
            "address.country",
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
            base(json!({"org_id": org_id})),
            400,
            "malformed-request",
            "org_id",
        ),
    ]
}

/// The cases of a change of the fields of [`create_cases`]: `null` only where a field may
/// be cleared, and a change of no field.
fn change_cases() -> Vec<Case> {
    vec![
        (json!({}), 422, "validation-error", "body"),
        (json!({"name": null}), 400, "malformed-request", "name"),
        (json!({"status": null}), 400, "malformed-request", "status"),
        (json!({"name": " "}), 422, "validation-error", "name"),
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
        (json!({"id": "x"}), 400, "malformed-request", "id"),
    ]
}

/// Each of `cases` and [`change_cases`], as a change of the row `id` of
/// `r` under its current `ETag`, answers its problem, and the row is
/// unchanged.
pub(crate) fn assert_changes_refused(
    app: &TestApp,
    r: &Resource,
    access: &str,
    id: &str,
    mut cases: Vec<Case>,
) {
    let etag = app.etag_in(r, access, id);
    cases.extend(change_cases());
    assert_problems(&cases, |body| {
        app.patch_in(r, access, id, Some(&etag), body)
    });
    assert_eq!(app.etag_in(r, access, id), etag, "unchanged");
}

/// Each `(body, status, problem type, field)` sent by `send` answers that
/// problem.
pub(crate) fn assert_problems(
    cases: &[(Value, u16, &str, &str)],
    send: impl Fn(&Value) -> Response,
) {
    for (body, status, kind, field) in cases {
        let resp = send(body);
        let what: String = body.to_string().chars().take(120).collect();
        assert_problem(&resp, *status, kind, field, &what);
    }
}

/// The list parameters every list refuses, with the status and the field
/// named: `(query, status, field)`.
const BAD_LIST_QUERIES: [(&str, u16, &str); 8] = [
    ("sort=size", 422, "sort"),
    ("sort=name%20desc", 422, "sort"),
    ("limit=0", 422, "limit"),
    ("limit=201", 422, "limit"),
    ("limit=x", 400, "limit"),
    ("cursor=nope", 400, "cursor"),
    ("q=", 422, "q"),
    ("q=acme&sort=name", 422, "sort"),
];

/// Each bad filter `(query, status, field)` of the list at `path`, and
/// each bad parameter of every list, is refused naming its field.
pub(crate) fn assert_bad_queries(
    app: &TestApp,
    access: &str,
    path: &str,
    filters: &[(&str, u16, &str)],
) {
    for (query, status, field) in filters.iter().chain(&BAD_LIST_QUERIES) {
        let resp = app.get_as(&format!("{path}?{query}"), access);
        assert_eq!(resp.status, *status, "{query}: {}", resp.text());
        assert_eq!(field_of(&resp.json()), Some(*field), "{query}");
    }
}

/// The row `id` as created (`created` and its `etag`) is what a read
/// answers; `change` needs `If-Match`, and the current one. The changed
/// row and its new `ETag`, which the old one no longer matches.
pub(crate) fn assert_read_then_changed(
    app: &TestApp,
    r: &Resource,
    access: &str,
    (created, etag): (&Value, &str),
    change: &Value,
) -> (Value, String) {
    let id = created["id"].as_str().unwrap();
    let read = app.get_as(&r.item(id), access);
    assert_eq!(read.status, 200);
    assert_eq!(read.header("etag"), Some(etag));
    assert_eq!(&read.json(), created);

    let resp = app.patch_in(r, access, id, None, change);
    assert_eq!(resp.status, 428, "{}", resp.text());
    let resp = app.patch_in(r, access, id, Some("\"stale\""), change);
    assert_eq!(resp.status, 412, "{}", resp.text());
    let changed = app.patch_in(r, access, id, Some(etag), change);
    assert_eq!(changed.status, 200, "{}", changed.text());
    let new_etag = changed.header("etag").expect("an ETag").to_owned();
    assert_ne!(new_etag, etag);
    let body = changed.json();
    assert_eq!(body["created_at"], created["created_at"]);
    assert_eq!(app.etag_in(r, access, id), new_etag);
    let resp = app.patch_in(r, access, id, Some(etag), &json!({"name": "x"}));
    assert_eq!(resp.status, 412, "the old tag is stale: {}", resp.text());
    (body, new_etag)
}

/// Deleting the org's only row `id` of `r`: refused under the `stale` tag,
/// then 204 under `current`, then gone (404 to read or delete again), no
/// row left, and the deletion in the audit log.
pub(crate) fn assert_deleted_under_if_match(
    app: &TestApp,
    r: &Resource,
    t: &Tenant,
    id: &str,
    (stale, current): (&str, &str),
) {
    let path = r.item(id);
    let resp = app.send_as("DELETE", &path, &t.access, &[("if-match", stale)], None);
    assert_eq!(resp.status, 412, "{}", resp.text());
    let resp = app.send_as("DELETE", &path, &t.access, &[("if-match", current)], None);
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(app.get_as(&path, &t.access).status, 404);
    assert_eq!(
        app.send_as("DELETE", &path, &t.access, &[], None).status,
        404
    );
    assert_eq!(r.rows(&t.org_id), 0);
    let action = format!("{}.deleted", r.entity);
    assert_eq!(audit_count(&t.org_id, &action, id), 1);
    // A malformed id is no row.
    assert_eq!(app.get_as(&r.item("not-a-uuid"), &t.access).status, 404);
}

/// Six changes of the row `id` under its one current `ETag`: one wins, five
/// get a 412, and one update is in the audit log.
pub(crate) fn assert_one_winner(app: &TestApp, r: &Resource, t: &Tenant, id: &str) {
    let etag = app.etag_in(r, &t.access, id);
    let statuses: Vec<u16> = thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let (etag, access) = (&etag, &t.access);
                s.spawn(move || {
                    let body = json!({"tax_id": format!("T{i}")});
                    app.patch_in(r, access, id, Some(etag), &body).status
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
    let action = format!("{}.updated", r.entity);
    assert_eq!(audit_count(&t.org_id, &action, id), 1);
}

/// The roles on the row `id` of `r` and its collection: viewers read and
/// nothing else, members also create and change, admins also delete.
/// `body` makes a new row's body from its name.
pub(crate) fn assert_roles(
    app: &TestApp,
    r: &Resource,
    (owner, viewer, member, admin): (&Tenant, &Tenant, &Tenant, &Tenant),
    id: &str,
    body: impl Fn(&str) -> Value,
) {
    let path = r.item(id);
    let create =
        |access: &str, name: &str| app.send_as("POST", r.path, access, &[], Some(&body(name)));
    assert_eq!(app.get_as(&path, &viewer.access).status, 200);
    assert_eq!(app.get_as(r.path, &viewer.access).status, 200);
    let resp = create(&viewer.access, "By viewer");
    assert_eq!(resp.status, 403, "{}", resp.text());
    let etag = app.etag_in(r, &viewer.access, id);
    let resp = app.patch_in(r, &viewer.access, id, Some(&etag), &json!({"tax_id": "V"}));
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(
        app.send_as("DELETE", &path, &viewer.access, &[], None)
            .status,
        403
    );

    let resp = create(&member.access, "By member");
    assert_eq!(resp.status, 201, "{}", resp.text());
    let resp = app.patch_in(r, &member.access, id, Some(&etag), &json!({"tax_id": "M"}));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = app.send_as("DELETE", &path, &member.access, &[], None);
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(app.get_as(&path, &owner.access).status, 200, "still there");

    let resp = app.send_as("DELETE", &path, &admin.access, &[], None);
    assert_eq!(resp.status, 204, "{}", resp.text());
    assert_eq!(app.get_as(&path, &owner.access).status, 404);
}

/// Walks every `(path, sort)` list three rows a page while `insert` adds
/// a row (by name) between pages at either end of every order: every row
/// there before is seen, none twice, in the creation order asked for. Then
/// the name orders of `r`'s list agree with the database's collation.
pub(crate) fn assert_pages_visit_every_row_once(
    app: &TestApp,
    r: &Resource,
    t: &Tenant,
    walks: &[(&str, &str)],
    insert: impl Fn(&str),
) {
    for (path, sort) in walks {
        let before: HashSet<String> = app
            .names_at(&t.access, r.path, "limit=200")
            .into_iter()
            .collect();
        let mut seen = Vec::new();
        let mut pages = 0;
        walk_pages(
            app,
            &t.access,
            &format!("{path}?sort={sort}&limit=3"),
            |body| {
                let page = body["items"].as_array().unwrap();
                assert!(page.len() <= 3);
                for item in page {
                    seen.push((
                        item["name"].as_str().unwrap().to_owned(),
                        item["created_at"].as_str().unwrap().to_owned(),
                    ));
                }
                pages += 1;
                let prefix = if pages % 2 == 0 { "Aa" } else { "Zz" };
                insert(&format!("{prefix} {sort} {pages}"));
                assert!(pages <= 50, "too many pages");
            },
        );
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
        // The name orders are the collation's, checked below.
        let ordered = |a: &(String, String), b: &(String, String)| match *sort {
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
    let api = app.names_at(&t.access, r.path, "limit=200");
    let sql = format!(
        "SELECT name FROM {} WHERE org_id = $1::text::uuid ORDER BY name, id",
        r.table
    );
    let db: Vec<String> = app_db()
        .query(&sql, &[&t.org_id])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(api, db);
    let mut desc = app.names_at(&t.access, r.path, "sort=-name&limit=200");
    desc.reverse();
    assert_eq!(desc, db);
}

/// Every page of the list `GET {first}` (with its sort and limit), first
/// to last by `next_cursor`, each handed to `on_page`.
pub(crate) fn walk_pages(
    app: &TestApp,
    access: &str,
    first: &str,
    mut on_page: impl FnMut(&Value),
) {
    let mut target = first.to_owned();
    loop {
        let resp = app.get_as(&target, access);
        assert_eq!(resp.status, 200, "{target}: {}", resp.text());
        let body = resp.json();
        on_page(&body);
        match body["next_cursor"].as_str() {
            Some(next) => target = format!("{first}&cursor={next}"),
            None => break,
        }
    }
}

/// Search on `r`'s list for `t`, whose org has the rows "ACME GmbH", "Acme
/// Holdings Ltd", "Globex Corporation" and "Initech", and another org
/// "Acme Gmbh Foreign": the best match first despite case and typos, no
/// other org's row, nothing for nonsense, and one page.
pub(crate) fn assert_search_ranks(app: &TestApp, r: &Resource, t: &Tenant) {
    let found = app.names_at(&t.access, r.path, "q=Acme%20Gmbh");
    let typo = app.names_at(&t.access, r.path, "q=Globx%20Corp");
    for (found, best) in [(&found, "ACME GmbH"), (&typo, "Globex Corporation")] {
        assert_eq!(found.first().map(String::as_str), Some(best), "{found:?}");
    }
    assert!(
        !found.contains(&"Globex Corporation".to_owned()),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|n| n.contains("Foreign")),
        "another org's row: {found:?}"
    );
    assert_eq!(
        app.names_at(&t.access, r.path, "q=zzzzqqq"),
        Vec::<String>::new()
    );
    // One page: the limit bounds it, and there is no next.
    let resp = app.get_as(&format!("{}?q=acme&limit=1", r.path), &t.access);
    let body = resp.json();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["next_cursor"], Value::Null);
}

/// One request of another org's token: (method, path, body, headers).
pub(crate) type Attempt<'a> = (&'a str, &'a str, Option<&'a Value>, Vec<(&'a str, &'a str)>);

/// Org B's token on org A's row `id` of `r` (its current `etag`): reading,
/// changing (under A's `ETag`, or any) and deleting are each a 404, as are
/// the `more` attempts.
pub(crate) fn assert_hidden_from(
    app: &TestApp,
    r: &Resource,
    b: &Tenant,
    (id, etag): (&str, &str),
    more: &[Attempt<'_>],
) {
    let path = r.item(id);
    let patch = json!({"name": "Taken over"});
    let cases: Vec<Attempt<'_>> = vec![
        ("GET", path.as_str(), None, vec![]),
        (
            "PATCH",
            path.as_str(),
            Some(&patch),
            vec![("if-match", etag)],
        ),
        (
            "PATCH",
            path.as_str(),
            Some(&patch),
            vec![("if-match", "*")],
        ),
        ("DELETE", path.as_str(), None, vec![]),
    ];
    for (method, target, body, headers) in cases.iter().chain(more) {
        let resp = app.send_as(method, target, &b.access, headers, *body);
        assert_eq!(resp.status, 404, "{method} {target}: {}", resp.text());
    }
}

/// Under the app role, a query without the org filter sees no row of
/// `r.table` without `app.org_id`, only B's with B's, not A's row
/// `secret`; nor can a write (setting `column` of A's rows) reach A's
/// rows, or `plant` (SQL and parameters) place one in A.
pub(crate) fn assert_rls_hides(
    r: &Resource,
    (a, b): (&Tenant, &Tenant),
    secret: &str,
    column: &str,
    plant: (&str, &[&(dyn ToSql + Sync)]),
) {
    let table = r.table;
    let mut db = app_db();
    let mut tx = db.transaction().unwrap();
    tx.batch_execute("SET LOCAL ROLE plinth_app").unwrap();
    let none: i64 = tx
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .unwrap()
        .get(0);
    assert_eq!(none, 0, "no setting: nothing at all");
    tx.execute("SELECT set_config('app.org_id', $1, true)", &[&b.org_id])
        .unwrap();
    let orgs: Vec<String> = tx
        .query(&format!("SELECT org_id::text FROM {table}"), &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(orgs, std::slice::from_ref(&b.org_id), "only B's row");
    let hidden: i64 = tx
        .query_one(
            &format!("SELECT count(*) FROM {table} WHERE id = $1::text::uuid"),
            &[&secret],
        )
        .unwrap()
        .get(0);
    assert_eq!(hidden, 0);
    let touched = tx
        .execute(
            &format!("UPDATE {table} SET {column} = 'x' WHERE org_id = $1::text::uuid"),
            &[&a.org_id],
        )
        .unwrap();
    assert_eq!(touched, 0);
    let planted = tx.execute(plant.0, plant.1);
    assert!(planted.is_err(), "the policy's WITH CHECK refuses it");
    drop(tx);
}
