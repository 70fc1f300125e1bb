//! Running an org, end to end on the root app: members and the rules
//! between roles (the last owner, concurrent demotions), the org's
//! permission table, settings under the one schema (merge patches,
//! `If-Match`, paths of bad keys), the per-org request budget, invitations
//! (never showing their token), the audit log, and org B's token on every
//! one of these routes with org A's ids.

use std::thread;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Response, TestApp, app, app_db, field_of, unique};
use crate::identity::Tenant;

/// A new user who is a `role` of `owner`'s org, with a token for it (signed
/// up in an org of their own, added by SQL, then switched).
pub(crate) fn join(app: &TestApp, owner: &Tenant, role: &str) -> Tenant {
    let mut user = app.new_tenant();
    app_db()
        .execute(
            "INSERT INTO memberships (org_id, user_id, role) \
             VALUES ($1::text::uuid, $2::text::uuid, $3)",
            &[&owner.org_id, &user.user_id, &role],
        )
        .unwrap();
    let switched = app.switch_org(&user.access, &json!({ "org_id": owner.org_id }));
    assert_eq!(switched.status, 200, "{}", switched.text());
    let body = switched.json();
    user.access = body["access_token"].as_str().unwrap().to_owned();
    user.refresh = body["refresh_token"].as_str().unwrap().to_owned();
    user.org_id = owner.org_id.clone();
    user
}

impl TestApp {
    fn patch_json(
        &self,
        path: &str,
        access: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Response {
        self.send_as("PATCH", path, access, headers, Some(body))
    }

    fn set_member_role(&self, access: &str, user_id: &str, role: &str) -> Response {
        self.patch_json(
            &format!("/v1/orgs/current/members/{user_id}"),
            access,
            &[],
            &json!({ "role": role }),
        )
    }

    fn remove_member(&self, access: &str, user_id: &str) -> Response {
        self.send_as(
            "DELETE",
            &format!("/v1/orgs/current/members/{user_id}"),
            access,
            &[],
            None,
        )
    }

    fn invite(&self, access: &str, body: &Value) -> Response {
        self.send_as(
            "POST",
            "/v1/orgs/current/invitations",
            access,
            &[],
            Some(body),
        )
    }

    /// Every item of a paged list, following `next_cursor` with `limit`.
    fn all_pages(&self, path: &str, access: &str, limit: u32) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let sep = if path.contains('?') { '&' } else { '?' };
            let target = match &cursor {
                Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
                None => format!("{path}{sep}limit={limit}"),
            };
            let resp = self.get_as(&target, access);
            assert_eq!(resp.status, 200, "{target}: {}", resp.text());
            let body = resp.json();
            let page = body["items"].as_array().unwrap();
            assert!(page.len() <= limit as usize);
            items.extend(page.iter().cloned());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
        panic!("more than 100 pages of {path}");
    }

    fn audit(&self, access: &str, query: &str) -> Vec<Value> {
        let resp = self.get_as(&format!("/v1/audit-events?{query}"), access);
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.json()["items"].as_array().unwrap().clone()
    }
}

fn owners_of(org_id: &str) -> i64 {
    app_db()
        .query_one(
            "SELECT count(*) FROM memberships WHERE org_id = $1::text::uuid AND role = 'owner'",
            &[&org_id],
        )
        .unwrap()
        .get(0)
}

#[test]
fn members_are_listed_in_pages_and_roles_change_by_the_rules() {
    let app = app();
    let owner = app.new_tenant();
    let admin = join(app, &owner, "admin");
    let member = join(app, &owner, "member");
    let viewer = join(app, &owner, "viewer");

    let listed = app.all_pages("/v1/orgs/current/members", &viewer.access, 1);
    let ids: Vec<&str> = listed
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            &owner.user_id,
            &admin.user_id,
            &member.user_id,
            &viewer.user_id
        ],
        "oldest first, each once"
    );
    assert_eq!(listed[1]["role"], "admin");
    assert_eq!(listed[0]["email"], owner.email.as_str());

    // Who may change whom.
    let cases = [
        (
            &member,
            &viewer.user_id,
            "member",
            403,
            "a member manages no one",
        ),
        (
            &admin,
            &viewer.user_id,
            "owner",
            403,
            "an admin grants no owner",
        ),
        (
            &admin,
            &owner.user_id,
            "admin",
            403,
            "an admin demotes no owner",
        ),
        (&admin, &viewer.user_id, "boss", 422, "no such role"),
        (&admin, &unique_uuid(), "member", 404, "not a member"),
        (&admin, &"not-a-uuid".to_owned(), "member", 404, "not an id"),
    ];
    for (who, target, role, status, why) in cases {
        let resp = app.set_member_role(&who.access, target, role);
        assert_eq!(resp.status, status, "{why}: {}", resp.text());
    }
    let promoted = app.set_member_role(&admin.access, &member.user_id, "admin");
    assert_eq!(promoted.status, 200, "{}", promoted.text());
    assert_eq!(promoted.json()["role"], "admin");

    // The new role counts on the member's next request, in every component.
    let etag = app.current_etag(&member.access);
    let renamed = app.patch_current(&member.access, Some(&etag), &json!({ "name": "Renamed" }));
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(
        app.get_as("/v1/auth/me", &member.access).json()["role"],
        "admin"
    );

    // An owner makes an owner; that one may then demote the first.
    let made = app.set_member_role(&owner.access, &admin.user_id, "owner");
    assert_eq!(made.status, 200, "{}", made.text());
    let demoted = app.set_member_role(&admin.access, &owner.user_id, "member");
    assert_eq!(demoted.status, 200, "{}", demoted.text());
    assert_eq!(owners_of(&owner.org_id), 1);

    let audit = app.audit(&admin.access, "entity_type=member");
    let changes: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| {
            (
                e["entity_id"].as_str().unwrap(),
                e["after"]["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (owner.user_id.as_str(), "member"),
            (admin.user_id.as_str(), "owner"),
            (member.user_id.as_str(), "admin"),
        ],
        "newest first: {audit:?}"
    );
    let last = &audit[0];
    assert_eq!(last["action"], "member.role_changed");
    assert_eq!(last["actor_user_id"], admin.user_id.as_str());
    assert_eq!(last["before"], json!({ "role": "owner" }));
    assert!(last["request_id"].is_string());
}

fn unique_uuid() -> String {
    let digest = Sha256::digest(unique("uuid").as_bytes());
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

#[test]
fn the_last_owner_can_be_neither_demoted_nor_removed_nor_leave() {
    let app = app();
    let owner = app.new_tenant();
    let admin = join(app, &owner, "admin");
    for resp in [
        app.set_member_role(&owner.access, &owner.user_id, "admin"),
        app.remove_member(&owner.access, &owner.user_id),
    ] {
        assert_eq!(resp.status, 409, "{}", resp.text());
        assert_eq!(field_of(&resp.json()), Some("role"));
    }
    assert_eq!(app.remove_member(&admin.access, &owner.user_id).status, 403);
    assert_eq!(owners_of(&owner.org_id), 1);
    assert_eq!(app.get_as("/v1/orgs/current", &owner.access).status, 200);
}

#[test]
fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let app = app();
    for round in 0..4 {
        let a = app.new_tenant();
        let b = join(app, &a, "owner");
        let (ra, rb) = thread::scope(|s| {
            let one = s.spawn(|| app.set_member_role(&a.access, &b.user_id, "member").status);
            let two = s.spawn(|| app.set_member_role(&b.access, &a.user_id, "member").status);
            (one.join().unwrap(), two.join().unwrap())
        });
        let mut statuses = [ra, rb];
        statuses.sort_unstable();
        // The first demotion wins; the second finds its caller no longer an
        // owner (403) or the target the last one (409).
        assert_eq!(statuses[0], 200, "round {round}: {statuses:?}");
        assert!(
            matches!(statuses[1], 403 | 409),
            "round {round}: {statuses:?}"
        );
        assert_eq!(owners_of(&a.org_id), 1, "round {round}");
    }
}

#[test]
fn a_removed_member_is_refused_at_once_and_a_member_may_leave() {
    let app = app();
    let owner = app.new_tenant();
    let admin = join(app, &owner, "admin");
    let member = join(app, &owner, "member");
    let leaver = join(app, &owner, "viewer");

    assert_eq!(
        app.remove_member(&member.access, &leaver.user_id).status,
        403
    );
    let removed = app.remove_member(&admin.access, &member.user_id);
    assert_eq!(removed.status, 204, "{}", removed.text());
    for path in ["/v1/orgs/current", "/v1/auth/me"] {
        assert_eq!(app.get_as(path, &member.access).status, 401, "{path}");
    }
    assert_eq!(app.refresh(&member.refresh).status, 401);

    let left = app.remove_member(&leaver.access, &leaver.user_id);
    assert_eq!(left.status, 204, "{}", left.text());
    assert_eq!(app.get_as("/v1/orgs/current", &leaver.access).status, 401);

    let audit = app.audit(&owner.access, "entity_type=member");
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["member.left", "member.removed"]);
    assert_eq!(audit[1]["before"]["email"], member.email.as_str());
    assert_eq!(audit[1]["after"], Value::Null);
    let members = app.all_pages("/v1/orgs/current/members", &owner.access, 50);
    assert_eq!(members.len(), 2);
}

#[test]
fn owners_configure_what_each_role_holds() {
    let app = app();
    let owner = app.new_tenant();
    let admin = join(app, &owner, "admin");
    let viewer = join(app, &owner, "viewer");

    let table = app.get_as("/v1/orgs/current/permissions", &viewer.access);
    assert_eq!(table.status, 200, "{}", table.text());
    let table = table.json();
    let admin_holds: Vec<&str> = table["roles"]["admin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(admin_holds.contains(&"members.manage"));
    assert!(!admin_holds.contains(&"org.delete"));
    assert_eq!(table["configured"], json!([]));
    let delete = table["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "org.delete")
        .unwrap();
    assert_eq!(delete["owner_only"], true);

    let put = |access: &str, body: Value| {
        app.send_as(
            "PUT",
            "/v1/orgs/current/permissions",
            access,
            &[],
            Some(&body),
        )
    };
    assert_eq!(
        put(&admin.access, json!({ "roles": { "viewer": [] } })).status,
        403
    );
    let bad = [
        (
            json!({ "roles": { "viewer": ["org.read", "nope"] } }),
            "roles.viewer[1]",
        ),
        (
            json!({ "roles": { "admin": ["org.delete"] } }),
            "roles.admin[0]",
        ),
        (json!({ "roles": { "owner": [] } }), "roles.owner"),
        (json!({ "roles": { "member": "all" } }), "roles.member"),
    ];
    for (body, field) in bad {
        let resp = put(&owner.access, body.clone());
        assert_eq!(resp.status, 422, "{body}: {}", resp.text());
        assert_eq!(field_of(&resp.json()), Some(field), "{body}");
    }

    // Viewers lose org.read; admins lose members.manage. The change applies
    // on the next request; what is the member's own (`/me`, leaving) stays.
    let changed = put(
        &owner.access,
        json!({ "roles": { "viewer": ["members.read"], "admin": ["org.read"] } }),
    );
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(changed.json()["configured"], json!(["admin", "viewer"]));
    assert_eq!(app.get_as("/v1/orgs/current", &viewer.access).status, 403);
    assert_eq!(
        app.get_as("/v1/orgs/current/members", &viewer.access)
            .status,
        200
    );
    assert_eq!(app.get_as("/v1/auth/me", &viewer.access).status, 200);
    assert_eq!(
        app.set_member_role(&admin.access, &viewer.user_id, "member")
            .status,
        403
    );
    // Owners keep everything.
    assert_eq!(
        app.set_member_role(&owner.access, &viewer.user_id, "member")
            .status,
        200
    );

    let reset = put(
        &owner.access,
        json!({ "roles": { "viewer": null, "admin": null } }),
    );
    assert_eq!(reset.status, 200, "{}", reset.text());
    assert_eq!(reset.json()["configured"], json!([]));
    assert_eq!(
        app.set_member_role(&admin.access, &viewer.user_id, "viewer")
            .status,
        200
    );
    let audit = app.audit(&owner.access, "entity_type=org");
    assert!(
        audit.iter().any(|e| e["action"] == "permissions.changed"),
        "{audit:?}"
    );
}

#[test]
fn settings_follow_one_schema_and_merge_under_if_match() {
    let app = app();
    let owner = app.new_tenant();
    let member = join(app, &owner, "member");

    let got = app.get_as("/v1/orgs/current/settings", &member.access);
    assert_eq!(got.status, 200, "{}", got.text());
    let etag = got.header("etag").unwrap().to_owned();
    let settings = got.json();
    assert_eq!(settings["default_currency"], "EUR");
    assert_eq!(settings["matching"]["enabled"], true);
    assert_eq!(settings["rate_limit"]["requests_per_minute"], Value::Null);

    let patch = |access: &str, tag: Option<&str>, body: Value| {
        let headers: Vec<(&str, &str)> = tag.map(|t| ("if-match", t)).into_iter().collect();
        app.patch_json("/v1/orgs/current/settings", access, &headers, &body)
    };
    assert_eq!(
        patch(&owner.access, None, json!({ "default_currency": "CHF" })).status,
        428
    );
    assert_eq!(
        patch(
            &member.access,
            Some(&etag),
            json!({ "default_currency": "CHF" })
        )
        .status,
        403
    );
    let bad = [
        (
            json!({ "matching": { "min_score": 1.5 } }),
            "settings.matching.min_score",
        ),
        (
            json!({ "matching": { "shoe_size": 42 } }),
            "settings.matching.shoe_size",
        ),
        (json!({ "ai": { "enabled": "yes" } }), "settings.ai.enabled"),
        (
            json!({ "default_currency": "EURO" }),
            "settings.default_currency",
        ),
        (
            json!({ "price_tolerance_percent": 101 }),
            "settings.price_tolerance_percent",
        ),
        (
            json!({ "extraction": { "languages": ["xx"] } }),
            "settings.extraction.languages[0]",
        ),
        (json!({ "colour": "red" }), "settings.colour"),
    ];
    for (body, field) in bad {
        let resp = patch(&owner.access, Some(&etag), body.clone());
        assert_eq!(resp.status, 422, "{body}: {}", resp.text());
        assert_eq!(field_of(&resp.json()), Some(field), "{body}");
    }
    let ok = patch(
        &owner.access,
        Some(&etag),
        json!({ "default_currency": "CHF", "matching": { "min_score": 0.9 } }),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let new_etag = ok.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let body = ok.json();
    assert_eq!(body["default_currency"], "CHF");
    assert_eq!(body["matching"]["min_score"], 0.9);
    assert_eq!(body["matching"]["enabled"], true, "defaults stay filled in");

    assert_eq!(
        patch(
            &owner.access,
            Some(&etag),
            json!({ "ai": { "enabled": true } })
        )
        .status,
        412
    );
    let removed = patch(
        &owner.access,
        Some(&new_etag),
        json!({ "matching": { "min_score": null } }),
    );
    assert_eq!(removed.status, 200, "{}", removed.text());
    assert_eq!(
        removed.json()["matching"]["min_score"],
        0.8,
        "back to its default"
    );
    let stored: String = app_db()
        .query_one(
            "SELECT settings_json::text FROM org WHERE id = $1::text::uuid",
            &[&owner.org_id],
        )
        .unwrap()
        .get(0);
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored, json!({ "default_currency": "CHF", "matching": {} }));

    // PATCH /v1/orgs/current checks settings with the same schema.
    let etag = app.current_etag(&owner.access);
    let resp = app.patch_current(
        &owner.access,
        Some(&etag),
        &json!({ "settings": { "matching": { "min_score": -1 } } }),
    );
    assert_eq!(resp.status, 422, "{}", resp.text());
    assert_eq!(field_of(&resp.json()), Some("settings.matching.min_score"));
}

#[test]
fn an_org_request_budget_is_enforced_on_tenant_routes() {
    let app = app();
    let limited = app.new_tenant();
    let other = app.new_tenant();
    let etag = app
        .get_as("/v1/orgs/current/settings", &limited.access)
        .header("etag")
        .unwrap()
        .to_owned();
    let set = app.patch_json(
        "/v1/orgs/current/settings",
        &limited.access,
        &[("if-match", &etag)],
        &json!({ "rate_limit": { "requests_per_minute": 5 } }),
    );
    assert_eq!(set.status, 200, "{}", set.text());

    // 12 requests: whatever minute boundary falls between them, at most 10
    // fit in two windows of 5.
    let statuses: Vec<Response> = (0..12)
        .map(|_| app.get_as("/v1/orgs/current", &limited.access))
        .collect();
    let refused: Vec<&Response> = statuses.iter().filter(|r| r.status == 429).collect();
    assert!(
        refused.len() >= 2,
        "{:?}",
        statuses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(statuses.iter().all(|r| matches!(r.status, 200 | 429)));
    let one = refused[0];
    assert_eq!(one.header("content-type"), Some("application/problem+json"));
    assert!(one.header("retry-after").is_some());
    assert_eq!(one.header("ratelimit-policy"), Some("\"org\";q=5;w=60"));
    assert!(
        one.header("ratelimit")
            .unwrap()
            .starts_with("\"org\";r=0;t=")
    );
    // Writes count too; other orgs do not share the budget.
    assert_eq!(app.get_as("/v1/orgs/current", &other.access).status, 200);
    let members = app.get_as("/v1/orgs/current/members", &limited.access);
    assert_eq!(members.status, 429, "{}", members.text());
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[test]
fn invitations_are_made_listed_revoked_and_resent_without_showing_a_token() {
    let app = app();
    let owner = app.new_tenant();
    let admin = join(app, &owner, "admin");
    let member = join(app, &owner, "member");
    let email = format!("{}@example.com", unique("invitee"));

    assert_eq!(
        app.invite(&member.access, &json!({ "email": email, "role": "viewer" }))
            .status,
        403,
        "members invite no one"
    );
    assert_eq!(
        app.invite(&admin.access, &json!({ "email": email, "role": "owner" }))
            .status,
        403,
        "nobody invites above their own role"
    );
    let bad = [
        (json!({ "email": "nope", "role": "viewer" }), "email"),
        (json!({ "email": email, "role": "boss" }), "role"),
        (
            json!({ "email": email, "role": "viewer", "expires_in_days": 31 }),
            "expires_in_days",
        ),
        (
            json!({ "email": email, "role": "viewer", "expires_in_days": 0 }),
            "expires_in_days",
        ),
    ];
    for (body, field) in bad {
        let resp = app.invite(&admin.access, &body);
        assert_eq!(resp.status, 422, "{body}: {}", resp.text());
        assert_eq!(field_of(&resp.json()), Some(field));
    }

    let made = app.invite(&admin.access, &json!({ "email": email, "role": "member" }));
    assert_eq!(made.status, 201, "{}", made.text());
    let invitation = made.json();
    assert_eq!(invitation["state"], "pending");
    assert_eq!(invitation["role"], "member");
    assert_eq!(invitation["invited_by"], admin.user_id.as_str());
    assert!(!made.text().contains("inv_"), "no token in the answer");
    let id = invitation["id"].as_str().unwrap().to_owned();

    // The token went to the outbox, in the same transaction; only its
    // digest is stored.
    let mut db = app_db();
    let body: String = db
        .query_one(
            "SELECT body FROM email_outbox WHERE to_address = $1 AND kind = 'invitation'",
            &[&email],
        )
        .unwrap()
        .get(0);
    let token = body
        .split_whitespace()
        .find(|w| w.starts_with("inv_"))
        .expect("a token in the message")
        .to_owned();
    assert_eq!(token.len(), 4 + 64, "256 bits");
    let stored: String = db
        .query_one(
            "SELECT token_digest FROM invitations WHERE id = $1::text::uuid",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, digest(&token));

    let again = app.invite(
        &owner.access,
        &json!({ "email": email.to_uppercase(), "role": "viewer" }),
    );
    assert_eq!(again.status, 409, "{}", again.text());
    assert_eq!(field_of(&again.json()), Some("email"));
    let existing = app.invite(
        &owner.access,
        &json!({ "email": member.email, "role": "viewer" }),
    );
    assert_eq!(
        existing.status,
        409,
        "already a member: {}",
        existing.text()
    );

    let listed = app.all_pages("/v1/orgs/current/invitations", &admin.access, 1);
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("token").is_none() && listed[0].get("token_digest").is_none());
    assert_eq!(
        app.get_as("/v1/orgs/current/invitations", &member.access)
            .status,
        403
    );

    let resend = |access: &str| {
        app.send_as(
            "POST",
            &format!("/v1/orgs/current/invitations/{id}/resend"),
            access,
            &[],
            None,
        )
    };
    let soon = resend(&admin.access);
    assert_eq!(soon.status, 429, "once a minute: {}", soon.text());
    assert!(soon.header("retry-after").is_some());
    db.execute(
        "UPDATE invitations SET sent_at = sent_at - interval '2 minutes', \
         expires_at = expires_at - interval '2 minutes' WHERE id = $1::text::uuid",
        &[&id],
    )
    .unwrap();
    let resent = resend(&admin.access);
    assert_eq!(resent.status, 200, "{}", resent.text());
    let renewed: String = db
        .query_one(
            "SELECT token_digest FROM invitations WHERE id = $1::text::uuid",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_ne!(renewed, stored, "a resend makes a new token");
    let messages: i64 = db
        .query_one(
            "SELECT count(*) FROM email_outbox WHERE to_address = $1",
            &[&email],
        )
        .unwrap()
        .get(0);
    assert_eq!(messages, 2);

    let revoke = || {
        app.send_as(
            "DELETE",
            &format!("/v1/orgs/current/invitations/{id}"),
            &admin.access,
            &[],
            None,
        )
    };
    assert_eq!(revoke().status, 204);
    assert_eq!(revoke().status, 204, "idempotent");
    let revoked = app
        .get_as("/v1/orgs/current/invitations?state=revoked", &admin.access)
        .json();
    assert_eq!(revoked["items"][0]["id"], id.as_str());
    assert_eq!(resend(&admin.access).status, 409);
    assert_eq!(
        app.get_as("/v1/orgs/current/invitations?state=pending", &admin.access)
            .json()["items"],
        json!([])
    );
    assert_eq!(
        app.get_as("/v1/orgs/current/invitations?state=odd", &admin.access)
            .status,
        422
    );

    let audit = app.audit(&owner.access, "entity_type=invitation");
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "invitation.revoked",
            "invitation.resent",
            "invitation.created"
        ]
    );
    assert!(!serde_json::to_string(&audit).unwrap().contains("inv_"));
}

#[test]
fn the_audit_log_is_for_admins_and_records_org_changes() {
    let app = app();
    let owner = app.new_tenant();
    let member = join(app, &owner, "member");
    let etag = app.current_etag(&owner.access);
    let renamed = app.patch_current(&owner.access, Some(&etag), &json!({ "name": "New name" }));
    assert_eq!(renamed.status, 200);
    assert_eq!(app.get_as("/v1/audit-events", &member.access).status, 403);
    let events = app.audit(&owner.access, "entity_type=org");
    assert_eq!(events[0]["action"], "org.updated");
    assert_eq!(events[0]["after"]["name"], "New name");
    assert!(events[0]["before"]["name"].is_string());
    assert_eq!(events[0]["entity_id"], owner.org_id.as_str());
    let none = app.audit(&owner.access, "entity_type=org&entity_id=nothing");
    assert!(none.is_empty());
    assert_eq!(
        app.get_as("/v1/audit-events?entity_id=x", &owner.access)
            .status,
        422
    );
}

/// Org B's owner on every route of this module, given org A's ids: 404 or
/// B's own data, never A's, and A unchanged.
#[test]
fn another_orgs_members_invitations_and_audit_are_invisible() {
    let app = app();
    let a = app.new_tenant();
    let a_member = join(app, &a, "member");
    let invited = app.invite(
        &a.access,
        &json!({ "email": format!("{}@example.com", unique("x")), "role": "viewer" }),
    );
    assert_eq!(invited.status, 201);
    let a_invitation = invited.json()["id"].as_str().unwrap().to_owned();
    let b = app.new_tenant();
    let before = snapshot(&a.org_id);

    let writes = [
        app.set_member_role(&b.access, &a_member.user_id, "viewer"),
        app.remove_member(&b.access, &a_member.user_id),
        app.send_as(
            "DELETE",
            &format!("/v1/orgs/current/invitations/{a_invitation}"),
            &b.access,
            &[],
            None,
        ),
        app.send_as(
            "POST",
            &format!("/v1/orgs/current/invitations/{a_invitation}/resend"),
            &b.access,
            &[],
            None,
        ),
    ];
    for resp in writes {
        assert_eq!(resp.status, 404, "{}", resp.text());
    }
    for path in [
        "/v1/orgs/current/members",
        "/v1/orgs/current/invitations",
        "/v1/audit-events",
        "/v1/orgs/current/settings",
        "/v1/orgs/current/permissions",
    ] {
        let resp = app.get_as(path, &b.access);
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        let text = resp.text();
        for secret in [&a.org_id, &a_member.user_id, &a_invitation, &a.email] {
            assert!(!text.contains(secret.as_str()), "{path} shows {secret}");
        }
    }
    assert_eq!(snapshot(&a.org_id), before, "org A is unchanged");
}

/// An org's memberships, invitations and audit log size as text.
fn snapshot(org_id: &str) -> String {
    app_db()
        .query_one(
            "SELECT concat_ws('|', \
               (SELECT string_agg(user_id::text || role, ',' ORDER BY user_id) FROM memberships WHERE org_id = $1::text::uuid), \
               (SELECT string_agg(id::text || coalesce(revoked_at::text, '') || sent_at::text, ',') FROM invitations WHERE org_id = $1::text::uuid), \
               (SELECT count(*)::text FROM audit_events WHERE org_id = $1::text::uuid))",
            &[&org_id],
        )
        .unwrap()
        .get(0)
}

fn create_company(app: &TestApp, access: &str, name: &str) -> String {
    let resp = app.send_as(
        "POST",
        "/v1/companies",
        access,
        &[],
        Some(&json!({ "name": name })),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    resp.json()["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_member_limited_to_some_companies_sees_and_touches_only_those() {
    let app = app();
    let owner = app.new_tenant();
    let member = join(app, &owner, "member");
    let admin = join(app, &owner, "admin");
    let tag = unique("acc");
    let seen = create_company(app, &owner.access, &format!("{tag} Seen Holdings"));
    let hidden = create_company(app, &owner.access, &format!("{tag} Hidden Holdings"));
    let other = app.new_tenant();
    let foreign = create_company(app, &other.access, &format!("{tag} Foreign"));

    let path = format!("/v1/orgs/current/members/{}/companies", member.user_id);
    let put = |access: &str, body: Value| app.send_as("PUT", &path, access, &[], Some(&body));
    assert_eq!(
        put(&member.access, json!({ "company_ids": [seen] })).status,
        403
    );
    let bad = put(&admin.access, json!({ "company_ids": [seen, foreign] }));
    assert_eq!(bad.status, 422, "another org's company: {}", bad.text());
    assert_eq!(field_of(&bad.json()), Some("company_ids"));
    let twice = put(&admin.access, json!({ "company_ids": [seen, seen] }));
    assert_eq!(twice.status, 422, "{}", twice.text());
    let owner_path = format!("/v1/orgs/current/members/{}/companies", owner.user_id);
    let limited_owner = app.send_as(
        "PUT",
        &owner_path,
        &admin.access,
        &[],
        Some(&json!({ "company_ids": [] })),
    );
    assert_eq!(limited_owner.status, 409, "{}", limited_owner.text());

    let limited = put(&admin.access, json!({ "company_ids": [seen] }));
    assert_eq!(limited.status, 200, "{}", limited.text());
    assert_eq!(limited.json()["company_ids"], json!([seen]));
    assert_eq!(
        app.get_as(&path, &admin.access).json()["company_ids"],
        json!([seen])
    );

    // Lists, search, reads and writes all follow the limit.
    let names = |query: &str| -> Vec<String> {
        let resp = app.get_as(&format!("/v1/companies?{query}"), &member.access);
        assert_eq!(resp.status, 200, "{query}: {}", resp.text());
        resp.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("limit=200"), std::slice::from_ref(&seen));
    assert_eq!(
        names(&format!("q={tag}%20Holdings")),
        std::slice::from_ref(&seen)
    );
    assert_eq!(
        app.get_as(&format!("/v1/companies/{hidden}"), &member.access)
            .status,
        404
    );
    assert_eq!(
        app.get_as(&format!("/v1/companies/{seen}"), &member.access)
            .status,
        200
    );
    let patch = app.send_as(
        "PATCH",
        &format!("/v1/companies/{hidden}"),
        &member.access,
        &[("if-match", "\"00000000000000000000000000000000\"")],
        Some(&json!({ "legal_name": "Taken Over" })),
    );
    assert_eq!(patch.status, 404, "{}", patch.text());
    let create = app.send_as(
        "POST",
        "/v1/companies",
        &member.access,
        &[],
        Some(&json!({ "name": format!("{tag} New") })),
    );
    assert_eq!(
        create.status,
        403,
        "a limited member adds no company: {}",
        create.text()
    );

    // Partners follow their company.
    let partner_of = |company: &str, name: &str| {
        let resp = app.send_as(
            "POST",
            "/v1/partners",
            &owner.access,
            &[],
            Some(&json!({ "company_id": company, "name": name, "kind": "customer" })),
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        resp.json()["id"].as_str().unwrap().to_owned()
    };
    let seen_partner = partner_of(&seen, &format!("{tag} Seen Partner"));
    let hidden_partner = partner_of(&hidden, &format!("{tag} Hidden Partner"));
    let partners = app.get_as(&format!("/v1/partners?q={tag}%20Partner"), &member.access);
    assert_eq!(partners.status, 200, "{}", partners.text());
    let ids: Vec<&str> = partners.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|id| if id == seen_partner { "seen" } else { "other" })
        .collect();
    assert_eq!(ids, ["seen"], "{}", partners.text());
    assert_eq!(
        app.get_as(&format!("/v1/partners/{hidden_partner}"), &member.access)
            .status,
        404
    );
    let into_hidden = app.send_as(
        "POST",
        "/v1/partners",
        &member.access,
        &[],
        Some(&json!({ "company_id": hidden, "name": "Sneaky", "kind": "customer" })),
    );
    assert!(
        matches!(into_hidden.status, 403 | 404 | 422),
        "{}",
        into_hidden.text()
    );

    // Back to every company.
    let all = put(&admin.access, json!({ "company_ids": null }));
    assert_eq!(all.status, 200, "{}", all.text());
    assert_eq!(all.json()["company_ids"], Value::Null);
    let mut both = names(&format!("q={tag}%20Holdings"));
    both.sort();
    let mut want = vec![seen, hidden];
    want.sort();
    assert_eq!(both, want);
    let audit = app.audit(&owner.access, "entity_type=member");
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "member.companies_changed")
    );
}
