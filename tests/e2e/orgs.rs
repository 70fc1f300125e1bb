//! Orgs end to end, on the root app: creating an org (the caller becomes its
//! owner; slugs derived, suffixed, refused, and one winner among concurrent
//! claims, for sign-up too), changing the current org under `If-Match`,
//! deleting it (refused while others are members), and one cross-org table:
//! org B's token on every route that acts on "current" data leaves org A
//! unchanged and never shows it.

use serde_json::{Value, json};

use crate::helpers::{Response, TestApp, app, app_db, field_of, unique};
use crate::identity::Tenant;

impl TestApp {
    /// `method path` with `access` as bearer, extra headers and a JSON body
    /// (none when `body` is `None`).
    pub fn send_as(
        &self,
        method: &str,
        path: &str,
        access: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let auth = format!("Bearer {access}");
        let mut all = vec![("authorization", auth.as_str())];
        if body.is_some() {
            all.push(("content-type", "application/json"));
        }
        all.extend_from_slice(headers);
        let body = body.map(Value::to_string).unwrap_or_default();
        self.request(method, path, &all, body.as_bytes())
    }

    pub fn create_org(&self, access: &str, body: &Value) -> Response {
        self.send_as("POST", "/v1/orgs", access, &[], Some(body))
    }

    /// `PATCH /v1/orgs/current`, with `If-Match` when `if_match` is given.
    pub fn patch_current(&self, access: &str, if_match: Option<&str>, body: &Value) -> Response {
        let headers: Vec<(&str, &str)> =
            if_match.map(|tag| ("if-match", tag)).into_iter().collect();
        self.send_as("PATCH", "/v1/orgs/current", access, &headers, Some(body))
    }

    pub fn delete_current(&self, access: &str) -> Response {
        self.send_as("DELETE", "/v1/orgs/current", access, &[], None)
    }

    /// The `ETag` of `GET /v1/orgs/current`.
    pub fn current_etag(&self, access: &str) -> String {
        let resp = self.get_as("/v1/orgs/current", access);
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.header("etag").expect("an ETag").to_owned()
    }
}

fn problem_type(problem: &Value) -> &str {
    problem["type"]
        .as_str()
        .and_then(|t| t.rsplit('/').next())
        .unwrap_or_default()
}

/// `"` + 32 lowercase hex + `"`.
fn is_strong_etag(tag: &str) -> bool {
    tag.len() == 34
        && tag.starts_with('"')
        && tag.ends_with('"')
        && tag[1..33]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn count(db: &mut postgres::Client, sql: &str, param: &str) -> i64 {
    db.query_one(sql, &[&param]).unwrap().get(0)
}

fn set_role(db: &mut postgres::Client, t: &Tenant, role: &str) {
    let n = db
        .execute(
            "UPDATE memberships SET role = $3 \
             WHERE org_id = $1::text::uuid AND user_id = $2::text::uuid",
            &[&t.org_id, &t.user_id, &role],
        )
        .unwrap();
    assert_eq!(n, 1, "one membership set to {role}");
}

/// The org row as JSON text (every column), for before/after comparisons.
fn org_row(db: &mut postgres::Client, org_id: &str) -> Option<String> {
    db.query_opt(
        "SELECT row_to_json(o)::text FROM org o WHERE o.id = $1::text::uuid",
        &[&org_id],
    )
    .unwrap()
    .map(|row| row.get(0))
}

#[test]
fn create_makes_the_caller_owner_and_derives_or_suffixes_the_slug() {
    let app = app();
    let t = app.new_tenant();
    let name = unique("Orgs Create");
    let resp = app.create_org(&t.access, &json!({ "name": format!("  {name}  ") }));
    assert_eq!(resp.status, 201, "{}\n{}", resp.text(), app.logs());
    assert!(
        resp.header("etag").is_some_and(is_strong_etag),
        "{:?}",
        resp.header("etag")
    );
    let org = resp.json();
    let derived = name.to_lowercase().replace(' ', "-");
    assert_eq!(org["name"], name.as_str(), "stored trimmed");
    assert_eq!(org["slug"], derived.as_str(), "made from the name");
    assert_eq!(org["role"], "owner");
    assert_eq!(org["settings"], json!({}));
    for key in ["id", "created_at", "updated_at"] {
        assert!(org[key].is_string(), "{key}: {org}");
    }
    let id = org["id"].as_str().unwrap().to_owned();

    let mine = app.get_as("/v1/orgs", &t.access).json();
    let items = mine["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "both orgs: {mine}");
    for org_id in [&t.org_id, &id] {
        let item = items
            .iter()
            .find(|i| i["id"] == org_id.as_str())
            .unwrap_or_else(|| panic!("{org_id} listed: {mine}"));
        assert_eq!(item["role"], "owner");
    }
    let current = app.get_as("/v1/orgs/current", &t.access).json();
    assert_eq!(
        current["id"],
        t.org_id.as_str(),
        "the token stays on its org"
    );

    let mut db = app_db();
    let row = db
        .query_one(
            "SELECT m.role, u.default_org_id::text FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1::text::uuid AND m.user_id = $2::text::uuid",
            &[&id, &t.user_id],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "owner");
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        Some(t.org_id.as_str()),
        "the default org is left alone"
    );

    // The same name again: the derived slug is taken, so it gets a suffix.
    let again = app.create_org(&t.access, &json!({ "name": name }));
    assert_eq!(again.status, 201, "{}", again.text());
    let slug = again.json()["slug"].as_str().unwrap().to_owned();
    let suffix = slug
        .strip_prefix(&format!("{derived}-"))
        .unwrap_or_else(|| panic!("{slug} is {derived} with a suffix"));
    assert!(
        suffix.len() == 4 && suffix.bytes().all(|b| b.is_ascii_hexdigit()),
        "{slug}"
    );

    // A given slug is kept; a name without letters gets a made-up slug.
    let given = unique("given").to_lowercase();
    let resp = app.create_org(&t.access, &json!({ "name": "Given", "slug": given }));
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["slug"], given.as_str());
    let resp = app.create_org(&t.access, &json!({ "name": "!!" }));
    assert_eq!(resp.status, 201, "{}", resp.text());
    let made_up = resp.json()["slug"].as_str().unwrap().to_owned();
    assert!(
        made_up.starts_with("org-") && made_up.len() == 10,
        "{made_up}"
    );

    // Any member may create an org, a viewer too.
    set_role(&mut db, &t, "viewer");
    let resp = app.create_org(&t.access, &json!({ "name": unique("By Viewer") }));
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["role"], "owner");
    let owned = count(
        &mut db,
        "SELECT count(*) FROM memberships WHERE user_id = $1::text::uuid AND role = 'owner'",
        &t.user_id,
    );
    assert_eq!(owned, 5, "five orgs created, each with its owner");
}

#[test]
fn bad_creates_are_4xx_naming_the_field_and_create_nothing() {
    let app = app();
    let t = app.new_tenant();
    let taken = app.new_tenant();
    let good = || json!({ "name": unique("Bad Create") });
    let with = |key: &str, value: Value| {
        let mut body = good();
        body[key] = value;
        body
    };
    let long = "x".repeat(201);
    let cases = [
        ("reserved slug", with("slug", json!("admin")), 422, "slug"),
        (
            "reserved slug: a route",
            with("slug", json!("current")),
            422,
            "slug",
        ),
        ("slug too short", with("slug", json!("ab")), 422, "slug"),
        (
            "slug upper case",
            with("slug", json!("Acme-Two")),
            422,
            "slug",
        ),
        (
            "slug with a space",
            with("slug", json!("acme two")),
            422,
            "slug",
        ),
        (
            "taken slug",
            with("slug", json!(taken.org_slug)),
            409,
            "slug",
        ),
        (
            "taken slug in upper case",
            with("slug", json!(taken.org_slug.to_uppercase())),
            422,
            "slug",
        ),
        ("empty name", with("name", json!("   ")), 422, "name"),
        ("long name", with("name", json!(long)), 422, "name"),
        (
            "name of the wrong type",
            with("name", json!(42)),
            400,
            "name",
        ),
        (
            "slug of the wrong type",
            with("slug", json!(["a"])),
            400,
            "slug",
        ),
        ("null name", with("name", Value::Null), 400, "name"),
        (
            "unknown field",
            with("owner_id", json!(t.user_id)),
            400,
            "owner_id",
        ),
        (
            "an org id",
            with("org_id", json!(taken.org_id)),
            400,
            "org_id",
        ),
        ("no name", json!({ "slug": unique("noname") }), 400, "name"),
    ];
    let mut db = app_db();
    let orgs_before = count(
        &mut db,
        "SELECT count(*) FROM memberships WHERE user_id = $1::text::uuid",
        &t.user_id,
    );
    for (what, body, status, field) in cases {
        let resp = app.create_org(&t.access, &body);
        assert_eq!(resp.status, status, "{what}: {}", resp.text());
        let problem = resp.json();
        assert_eq!(field_of(&problem), Some(field), "{what}: {problem}");
        let kind = match status {
            400 => "malformed-request",
            409 => "conflict",
            _ => "validation-error",
        };
        assert_eq!(problem_type(&problem), kind, "{what}: {problem}");
        assert_eq!(
            resp.header("content-type"),
            Some("application/problem+json"),
            "{what}"
        );
        if let Some(name) = body["name"].as_str() {
            let n = count(
                &mut db,
                "SELECT count(*) FROM org WHERE name = btrim($1)",
                name,
            );
            assert_eq!(n, 0, "{what}: no org created");
        }
        let orgs = count(
            &mut db,
            "SELECT count(*) FROM memberships WHERE user_id = $1::text::uuid",
            &t.user_id,
        );
        assert_eq!(orgs, orgs_before, "{what}: no membership created");
    }
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM org WHERE lower(slug) = lower($1::text)",
            &taken.org_slug
        ),
        1,
        "the taken slug is still one org's"
    );

    let body = good();
    let no_token = app.post_json("/v1/orgs", &body);
    assert_eq!(no_token.status, 401, "{}", no_token.text());
    let not_json = app.request(
        "POST",
        "/v1/orgs",
        &[
            ("authorization", &format!("Bearer {}", t.access)),
            ("content-type", "text/plain"),
        ],
        body.to_string().as_bytes(),
    );
    assert_eq!(not_json.status, 415, "{}", not_json.text());
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM org WHERE name = $1",
            body["name"].as_str().unwrap()
        ),
        0
    );
}

#[test]
fn concurrent_creates_with_one_slug_have_one_winner() {
    let app = app();
    let t = app.new_tenant();
    let slug = unique("race").to_lowercase();
    let results: Vec<Response> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..20)
            .map(|i| {
                let (t, slug) = (&t, &slug);
                s.spawn(move || {
                    app.create_org(
                        &t.access,
                        &json!({ "name": format!("Race {i}"), "slug": slug }),
                    )
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let created = results.iter().filter(|r| r.status == 201).count();
    let taken: Vec<&Response> = results.iter().filter(|r| r.status == 409).collect();
    assert_eq!(
        (created, taken.len()),
        (1, 19),
        "{:?}",
        results
            .iter()
            .map(|r| (r.status, r.text()))
            .collect::<Vec<_>>()
    );
    for r in taken {
        assert_eq!(field_of(&r.json()), Some("slug"), "{}", r.text());
    }
    let mut db = app_db();
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM org WHERE slug = $1", &slug),
        1
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM memberships WHERE user_id = $1::text::uuid",
            &t.user_id
        ),
        2,
        "the tenant's org and the one created"
    );
}

#[test]
fn concurrent_signups_with_one_org_slug_have_one_winner() {
    let app = app();
    let slug = unique("signup-race").to_lowercase();
    let prefix = unique("racer");
    let results: Vec<Response> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..20)
            .map(|i| {
                let (slug, prefix) = (&slug, &prefix);
                s.spawn(move || {
                    app.signup(&json!({
                        "email": format!("{prefix}-{i}@example.com"),
                        "password": "correct horse battery",
                        "name": "Racer",
                        "org_name": "Race Org",
                        "org_slug": slug,
                    }))
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let created = results.iter().filter(|r| r.status == 201).count();
    let taken: Vec<&Response> = results.iter().filter(|r| r.status == 409).collect();
    assert_eq!(
        (created, taken.len()),
        (1, 19),
        "{:?}",
        results
            .iter()
            .map(|r| (r.status, r.text()))
            .collect::<Vec<_>>()
    );
    for r in taken {
        assert_eq!(field_of(&r.json()), Some("org_slug"), "{}", r.text());
    }
    let mut db = app_db();
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM org WHERE slug = $1", &slug),
        1
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM users WHERE email LIKE $1::text || '-%'",
            &prefix
        ),
        1,
        "the losers' users are rolled back with their orgs"
    );
}

#[test]
fn patch_needs_the_current_etag_and_an_admin() {
    let app = app();
    let t = app.new_tenant();
    let other = app.new_tenant();
    let mut db = app_db();
    let first = app.current_etag(&t.access);
    let before = org_row(&mut db, &t.org_id);

    let rename = json!({ "name": "  Renamed Org  " });
    let required = app.patch_current(&t.access, None, &rename);
    assert_eq!(required.status, 428, "{}", required.text());
    assert_eq!(
        problem_type(&required.json()),
        "precondition-required",
        "{}",
        required.text()
    );
    assert_eq!(org_row(&mut db, &t.org_id), before, "428 changes nothing");

    let renamed = app.patch_current(&t.access, Some(&first), &rename);
    assert_eq!(renamed.status, 200, "{}\n{}", renamed.text(), app.logs());
    let second = renamed.header("etag").expect("a new ETag").to_owned();
    assert!(is_strong_etag(&second) && second != first, "{second}");
    let body = renamed.json();
    assert_eq!(body["name"], "Renamed Org");
    assert_eq!(body["slug"], t.org_slug.as_str(), "unchanged");
    assert_eq!(body["role"], "owner");
    let current = app.get_as("/v1/orgs/current", &t.access);
    assert_eq!(current.json()["name"], "Renamed Org", "visible in GET");
    assert_eq!(
        current.header("etag"),
        Some(second.as_str()),
        "the same ETag"
    );

    let after_rename = org_row(&mut db, &t.org_id);
    let stale = app.patch_current(&t.access, Some(&first), &json!({ "name": "Lost Update" }));
    assert_eq!(stale.status, 412, "{}", stale.text());
    assert_eq!(problem_type(&stale.json()), "precondition-failed");
    assert_eq!(
        org_row(&mut db, &t.org_id),
        after_rename,
        "412 changes nothing"
    );

    let slug = unique("patched").to_lowercase();
    let changed = app.patch_current(
        &t.access,
        Some(&second),
        &json!({ "slug": slug, "settings": { "default_currency": "CHF", "matching": { "max_candidates": 7 } } }),
    );
    assert_eq!(changed.status, 200, "{}", changed.text());
    let third = changed.header("etag").unwrap().to_owned();
    let current = app.get_as("/v1/orgs/current", &t.access).json();
    assert_eq!(current["slug"], slug.as_str());
    assert_eq!(current["name"], "Renamed Org");
    assert_eq!(
        current["settings"],
        json!({ "default_currency": "CHF", "matching": { "max_candidates": 7 } })
    );

    // Refusals with the current ETag: each names its field and changes nothing.
    let cases = [
        ("empty patch", json!({}), 422, "name"),
        (
            "settings an array",
            json!({ "settings": [1] }),
            422,
            "settings",
        ),
        (
            "settings a string",
            json!({ "settings": "dark" }),
            422,
            "settings",
        ),
        (
            "settings null",
            json!({ "settings": null }),
            422,
            "settings",
        ),
        ("empty name", json!({ "name": " " }), 422, "name"),
        ("null name", json!({ "name": null }), 400, "name"),
        ("name of the wrong type", json!({ "name": 7 }), 400, "name"),
        ("reserved slug", json!({ "slug": "settings" }), 422, "slug"),
        ("upper-case slug", json!({ "slug": "Patched" }), 422, "slug"),
        ("null slug", json!({ "slug": null }), 400, "slug"),
        ("taken slug", json!({ "slug": other.org_slug }), 409, "slug"),
        ("unknown field", json!({ "id": other.org_id }), 400, "id"),
    ];
    let unchanged = org_row(&mut db, &t.org_id);
    for (what, body, status, field) in cases {
        let resp = app.patch_current(&t.access, Some(&third), &body);
        assert_eq!(resp.status, status, "{what}: {}", resp.text());
        assert_eq!(
            field_of(&resp.json()),
            Some(field),
            "{what}: {}",
            resp.text()
        );
        assert_eq!(
            org_row(&mut db, &t.org_id),
            unchanged,
            "{what}: nothing changed"
        );
    }
    assert!(
        org_row(&mut db, &other.org_id).is_some_and(|row| row.contains(&other.org_slug)),
        "the other org keeps its slug"
    );

    // Only admins and owners may change the org.
    for role in ["member", "viewer"] {
        set_role(&mut db, &t, role);
        let resp = app.patch_current(&t.access, Some(&third), &json!({ "name": "By A Member" }));
        assert_eq!(resp.status, 403, "{role}: {}", resp.text());
        assert_eq!(
            org_row(&mut db, &t.org_id),
            unchanged,
            "{role}: nothing changed"
        );
    }
    set_role(&mut db, &t, "admin");
    let resp = app.patch_current(&t.access, Some(&third), &json!({ "name": "By The Admin" }));
    assert_eq!(resp.status, 200, "admin: {}", resp.text());
    assert_eq!(resp.json()["role"], "admin");
}

#[test]
fn delete_needs_the_owner_and_no_other_members() {
    let app = app();
    let t = app.new_tenant();
    let other = app.new_tenant();
    let mut db = app_db();
    db.execute(
        "INSERT INTO memberships (org_id, user_id, role) \
         VALUES ($1::text::uuid, $2::text::uuid, 'member')",
        &[&t.org_id, &other.user_id],
    )
    .unwrap();

    for role in ["admin", "member"] {
        set_role(&mut db, &t, role);
        let resp = app.delete_current(&t.access);
        assert_eq!(resp.status, 403, "{role}: {}", resp.text());
    }
    set_role(&mut db, &t, "owner");

    let blocked = app.delete_current(&t.access);
    assert_eq!(blocked.status, 409, "{}\n{}", blocked.text(), app.logs());
    assert_eq!(
        blocked.header("content-type"),
        Some("application/problem+json")
    );
    let problem = blocked.json();
    assert_eq!(problem_type(&problem), "conflict", "{problem}");
    assert_eq!(problem["status"], 409);
    assert!(problem["request_id"].is_string(), "{problem}");
    assert_eq!(
        problem["blocking"],
        json!([{ "table": "memberships", "count": 1 }]),
        "{problem}"
    );
    assert!(
        org_row(&mut db, &t.org_id).is_some(),
        "the org is still there"
    );
    assert_eq!(app.get_as("/v1/orgs/current", &t.access).status, 200);

    db.execute(
        "DELETE FROM memberships WHERE org_id = $1::text::uuid AND user_id = $2::text::uuid",
        &[&t.org_id, &other.user_id],
    )
    .unwrap();
    let deleted = app.delete_current(&t.access);
    assert_eq!(deleted.status, 204, "{}\n{}", deleted.text(), app.logs());
    assert!(deleted.body.is_empty());

    let gone = app.get_as("/v1/orgs/current", &t.access);
    assert_eq!(
        gone.status,
        401,
        "its session went with the org: {}",
        gone.text()
    );
    assert_eq!(app.refresh(&t.refresh).status, 401, "and its refresh token");
    assert_eq!(org_row(&mut db, &t.org_id), None, "the org row is gone");
    for (table, sql) in [
        (
            "memberships",
            "SELECT count(*) FROM memberships WHERE org_id = $1::text::uuid",
        ),
        (
            "sessions",
            "SELECT count(*) FROM sessions WHERE org_id = $1::text::uuid",
        ),
    ] {
        assert_eq!(count(&mut db, sql, &t.org_id), 0, "{table}");
    }
    let row = db
        .query_one(
            "SELECT default_org_id::text FROM users WHERE id = $1::text::uuid",
            &[&t.user_id],
        )
        .unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(0),
        None,
        "the user stays, without a default org"
    );
    assert_eq!(
        app.get_as("/v1/orgs/current", &other.access).status,
        200,
        "the other member's own org is untouched"
    );
}

/// Everything the database holds for a tenant, as JSON text.
fn tenant_rows(db: &mut postgres::Client, t: &Tenant) -> Vec<String> {
    let queries = [
        "SELECT row_to_json(o)::text FROM org o WHERE o.id = $1::text::uuid",
        "SELECT coalesce(json_agg(m ORDER BY m.user_id)::text, '[]') FROM memberships m \
         WHERE m.org_id = $1::text::uuid",
        "SELECT coalesce(json_agg(s ORDER BY s.id)::text, '[]') FROM sessions s \
         WHERE s.org_id = $1::text::uuid",
        "SELECT coalesce(json_agg(r ORDER BY r.digest)::text, '[]') FROM refresh_tokens r \
         JOIN sessions s ON s.id = r.session_id WHERE s.org_id = $1::text::uuid",
    ];
    let mut rows: Vec<String> = queries
        .iter()
        .map(|sql| db.query_one(*sql, &[&t.org_id]).unwrap().get(0))
        .collect();
    rows.push(
        db.query_one(
            "SELECT row_to_json(u)::text FROM users u WHERE u.id = $1::text::uuid",
            &[&t.user_id],
        )
        .unwrap()
        .get(0),
    );
    rows
}

/// A request of the cross-org table: method, path, extra headers, body, and
/// the statuses org B may get.
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    Option<Value>,
    &'a [u16],
);

#[test]
fn another_orgs_token_never_reaches_this_org() {
    let app = app();
    let a = app.new_tenant();
    let a_etag = app.current_etag(&a.access);
    let secret_of_a = unique("a-settings");
    let set_up = app.patch_current(
        &a.access,
        Some(&a_etag),
        &json!({ "settings": { "ai": { "model": secret_of_a } } }),
    );
    assert_eq!(set_up.status, 200, "{}", set_up.text());
    let a_name = set_up.json()["name"].as_str().unwrap().to_owned();
    let b = app.new_tenant();
    let b_etag = app.current_etag(&b.access);
    let mut db = app_db();
    let before = tenant_rows(&mut db, &a);

    let org_a = format!("/v1/orgs/{}", a.org_id);
    let slug_a = format!("/v1/orgs/{}", a.org_slug);
    let current_a = format!("/v1/orgs/current?org_id={}", a.org_id);
    let me_a = format!("/v1/auth/me?org={}", a.org_id);
    let org_header = [("x-org-id", a.org_id.as_str())];
    let if_match = [("if-match", b_etag.as_str())];
    let any_match = [("if-match", "*")];
    let none: [(&str, &str); 0] = [];
    let cases: Vec<Case> = vec![
        ("GET", "/v1/orgs/current", &none, None, &[200]),
        ("GET", &current_a, &none, None, &[200]),
        ("GET", "/v1/orgs/current", &org_header, None, &[200]),
        ("GET", "/v1/orgs", &none, None, &[200]),
        ("GET", "/v1/auth/me", &none, None, &[200]),
        ("GET", &me_a, &org_header, None, &[200]),
        (
            "PATCH",
            "/v1/orgs/current",
            &if_match,
            Some(json!({ "name": "B Renamed" })),
            &[200],
        ),
        (
            "PATCH",
            "/v1/orgs/current",
            &any_match,
            Some(json!({ "id": a.org_id, "name": "Not A" })),
            &[400],
        ),
        (
            "PATCH",
            "/v1/orgs/current",
            &any_match,
            Some(json!({ "org_id": a.org_id })),
            &[400],
        ),
        (
            "PATCH",
            "/v1/orgs/current",
            &any_match,
            Some(json!({ "slug": a.org_slug })),
            &[409],
        ),
        (
            "POST",
            "/v1/orgs",
            &none,
            Some(json!({ "name": unique("B Second"), "org_id": a.org_id })),
            &[400],
        ),
        ("GET", &org_a, &none, None, &[404, 405, 501]),
        (
            "PATCH",
            &org_a,
            &any_match,
            Some(json!({ "name": "Hijacked" })),
            &[404, 405, 501],
        ),
        ("DELETE", &org_a, &none, None, &[404, 405, 501]),
        ("GET", &slug_a, &none, None, &[404, 405, 501]),
        ("DELETE", "/v1/orgs/current", &org_header, None, &[204]),
    ];
    let leaks = [
        a.org_id.as_str(),
        a.org_slug.as_str(),
        a.user_id.as_str(),
        a.email.as_str(),
        a_name.as_str(),
        secret_of_a.as_str(),
    ];
    for (method, path, headers, body, statuses) in cases {
        let resp = app.send_as(method, path, &b.access, headers, body.as_ref());
        let what = format!("{method} {path} {body:?} as B");
        assert!(
            statuses.contains(&resp.status),
            "{what}: {} {}",
            resp.status,
            resp.text()
        );
        assert_ne!(resp.status, 500, "{what}: {}", resp.text());
        let text = resp.text();
        for leak in leaks {
            // As a JSON string: A's name must not match as a prefix of B's.
            let quoted = format!("\"{leak}\"");
            assert!(!text.contains(&quoted), "{what} shows A's {leak:?}: {text}");
        }
        if resp.status == 200 && path.starts_with("/v1/orgs/current") {
            assert_eq!(resp.json()["id"], b.org_id.as_str(), "{what}");
        }
        assert_eq!(tenant_rows(&mut db, &a), before, "{what}: A unchanged");
    }
    assert_eq!(org_row(&mut db, &b.org_id), None, "B deleted its own org");
    let a_now = app.get_as("/v1/orgs/current", &a.access);
    assert_eq!(a_now.status, 200, "A lives on: {}", a_now.text());
    assert_eq!(a_now.json()["id"], a.org_id.as_str());
}
