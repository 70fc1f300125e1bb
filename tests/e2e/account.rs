//! Account flows end to end, on the root app: accepting an invitation (new
//! and existing users, the email-match refusal, spent tokens, concurrent
//! accepts), verifying an address, forgot/reset/change password and the
//! sessions they end, the per-address mail cooldown, and delivery to a
//! local SMTP sink.
//!
//! Tokens are read where a user would find them: in the mail, through the
//! admin listing of the outbox. Invitations are made and revoked through the
//! orgs component's routes; the states no route makes (expired, for an
//! existing member) are written in SQL as those routes write rows.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Response, TestApp, admin_token, app, app_db, manifest, unique};
use crate::identity::Tenant;

const PASSWORD: &str = "a new long passphrase";

impl TestApp {
    fn post_as(&self, path: &str, access: &str, body: &Value) -> Response {
        let auth = format!("Bearer {access}");
        self.post_json_with(path, &[("authorization", &auth)], body)
    }

    /// The outbox messages to `to`, newest first.
    fn outbox(&self, to: &str) -> Vec<Value> {
        let auth = format!("Bearer {}", admin_token());
        let resp = self.get_with(
            &format!("/v1/auth/admin/outbox?to={to}"),
            &[("authorization", &auth)],
        );
        assert_eq!(resp.status, 200, "outbox: {}", resp.text());
        resp.json()["items"].as_array().cloned().unwrap_or_default()
    }

    /// The one-time token (`prefix_…`) in the newest message of `kind` to `to`.
    fn mailed_token(&self, to: &str, kind: &str, prefix: &str) -> String {
        let messages = self.outbox(to);
        let message = messages
            .iter()
            .find(|m| m["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} message to {to}: {messages:?}"));
        token_in(message["body"].as_str().unwrap(), prefix)
            .unwrap_or_else(|| panic!("no {prefix} token in {message}"))
    }

    fn accept(&self, body: &Value) -> Response {
        self.post_json("/v1/auth/accept-invite", body)
    }

    fn accept_as(&self, access: &str, body: &Value) -> Response {
        self.post_as("/v1/auth/accept-invite", access, body)
    }

    fn forgot(&self, email: &str) -> Response {
        self.post_json("/v1/auth/password/forgot", &json!({ "email": email }))
    }
}

/// The first `prefix_<64 hex>` in `text`.
fn token_in(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(&format!("{prefix}_"))?;
    let token: String = text[start..].chars().take(prefix.len() + 1 + 64).collect();
    let hex = &token[prefix.len() + 1..];
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(token)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn count(sql: &str, param: &str) -> i64 {
    app_db().query_one(sql, &[&param]).unwrap().get(0)
}

fn problem_type(resp: &Response) -> String {
    resp.json()["type"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn fields(resp: &Response) -> Vec<String> {
    resp.json()["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}

/// An invitation to `t`'s org for `email` through `POST
/// /v1/orgs/current/invitations`: its id, and the token of its mail.
fn invited(app: &TestApp, t: &Tenant, email: &str, role: &str) -> (String, String) {
    let resp = app.post_as(
        "/v1/orgs/current/invitations",
        &t.access,
        &json!({ "email": email, "role": role }),
    );
    assert_eq!(resp.status, 201, "invite {email}: {}", resp.text());
    let id = resp.json()["id"].as_str().unwrap().to_owned();
    (id, app.mailed_token(email, "invitation", "inv"))
}

/// [`invited`], the token only.
fn invite_via(app: &TestApp, t: &Tenant, email: &str, role: &str) -> String {
    invited(app, t, email, role).1
}

/// An invitation row written directly, as the invitation routes write one,
/// for what they do not make (an expired one, one for a member); its token.
/// `expires` is an SQL interval from now.
fn invite(t: &Tenant, email: &str, role: &str, expires: &str) -> String {
    let token = format!("inv_{}", digest(&unique("invitation")));
    app_db()
        .execute(
            &format!(
                "INSERT INTO invitations (org_id, email, role, token_digest, invited_by, expires_at) \
                 VALUES ($1::text::uuid, $2, $3, $4, $5::text::uuid, now() + interval '{expires}')"
            ),
            &[&t.org_id, &email, &role, &digest(&token), &t.user_id],
        )
        .expect("insert invitation");
    token
}

/// How long the stored `purpose` token `token` works, in seconds.
fn lifetime_secs(token: &str, purpose: &str) -> f64 {
    app_db()
        .query_one(
            "SELECT extract(epoch from expires_at - created_at)::float8 \
             FROM email_tokens WHERE digest = $1 AND purpose = $2",
            &[&digest(token), &purpose],
        )
        .unwrap()
        .get(0)
}

fn accepted_by(token: &str) -> Option<String> {
    app_db()
        .query_one(
            "SELECT accepted_by::text FROM invitations WHERE token_digest = $1",
            &[&digest(token)],
        )
        .unwrap()
        .get(0)
}

fn members(org_id: &str) -> i64 {
    count(
        "SELECT count(*) FROM memberships WHERE org_id = $1::text::uuid",
        org_id,
    )
}

fn users_with(email: &str) -> i64 {
    count(
        "SELECT count(*) FROM users WHERE lower(email) = lower($1)",
        email,
    )
}

fn new_address() -> String {
    format!("{}@example.com", unique("invitee"))
}

#[test]
fn a_new_address_accepts_an_invitation_once_and_is_verified() {
    let app = app();
    let t = app.new_tenant();
    let email = new_address();
    let token = invite_via(app, &t, &email, "member");

    let missing = app.accept(&json!({ "token": token }));
    assert_eq!(missing.status, 422, "{}", missing.text());
    assert_eq!(fields(&missing), ["name", "password"]);
    let short = app.accept(&json!({ "token": token, "name": "Ann", "password": "short" }));
    assert_eq!(short.status, 422, "{}", short.text());
    assert_eq!(fields(&short), ["password"]);
    assert_eq!(users_with(&email), 0, "a refusal creates nothing");
    assert_eq!(accepted_by(&token), None);

    let joined = app.accept(&json!({ "token": token, "name": "Ann", "password": PASSWORD }));
    assert_eq!(joined.status, 201, "{}", joined.text());
    assert_eq!(joined.header("cache-control"), Some("no-store"));
    let body = joined.json();
    assert_eq!(body["created"], true);
    assert_eq!(body["role"], "member");
    assert_eq!(body["org"]["id"], t.org_id.as_str());
    assert_eq!(body["user"]["email"], email.as_str());
    assert_eq!(body["token_type"], "Bearer");
    let access = body["access_token"].as_str().unwrap();
    let current = app.get_as("/v1/orgs/current", access);
    assert_eq!(current.status, 200, "{}", current.text());
    assert_eq!(current.json()["role"], "member");
    let me = app.get_as("/v1/auth/me", access).json();
    assert_eq!(me["user"]["email_verified"], true, "{me}");
    assert_eq!(accepted_by(&token).as_deref(), body["user"]["id"].as_str());
    // The new account signs in with its password.
    let login = app.login(&json!({ "email": email, "password": PASSWORD }));
    assert_eq!(login.status, 200, "{}", login.text());

    // The org's audit log records who joined, in the accepting transaction.
    let audit = app
        .get_as("/v1/audit-events?entity_type=invitation", &t.access)
        .json();
    let accepted = &audit["items"][0];
    assert_eq!(accepted["action"], "invitation.accepted", "{audit}");
    assert_eq!(accepted["actor_user_id"], body["user"]["id"]);
    assert_eq!(accepted["after"]["new_account"], true);

    let again = app.accept(&json!({ "token": token, "name": "Eve", "password": PASSWORD }));
    assert_eq!(again.status, 410, "{}", again.text());
    assert_eq!(problem_type(&again), "gone");
    assert_eq!(members(&t.org_id), 2);

    let unknown = app.accept(&json!({ "token": format!("inv_{}", "0".repeat(64)) }));
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    let malformed = app.accept(&json!({ "token": 7 }));
    assert_eq!(malformed.status, 400, "{}", malformed.text());
}

#[test]
fn an_existing_account_joins_with_its_token_or_its_password_only() {
    let app = app();
    let t = app.new_tenant();
    let u = app.new_tenant();
    let token = invite_via(app, &t, &u.email.to_uppercase(), "admin");

    let bare = app.accept(&json!({ "token": token }));
    assert_eq!(bare.status, 422, "{}", bare.text());
    assert_eq!(fields(&bare), ["password"]);
    let wrong = app.accept(&json!({ "token": token, "password": "not the password" }));
    assert_eq!(wrong.status, 401, "{}", wrong.text());
    assert_eq!(accepted_by(&token), None);
    assert_eq!(members(&t.org_id), 1);

    // Signed in as the invited user: no password needed.
    let joined = app.accept_as(&u.access, &json!({ "token": token }));
    assert_eq!(joined.status, 200, "{}", joined.text());
    let body = joined.json();
    assert_eq!(body["created"], false);
    assert_eq!(body["user"]["id"], u.user_id.as_str());
    assert_eq!(body["role"], "admin");
    let current = app.get_as("/v1/orgs/current", body["access_token"].as_str().unwrap());
    assert_eq!(current.json()["id"], t.org_id.as_str());
    assert_eq!(current.json()["role"], "admin");
    assert_eq!(users_with(&u.email), 1, "no second account");
    // The caller's own org is untouched.
    assert_eq!(
        app.get_as("/v1/orgs/current", &u.access).json()["id"],
        u.org_id.as_str()
    );

    // With the password instead of a token.
    let v = app.new_tenant();
    let token = invite_via(app, &t, &v.email, "viewer");
    let joined = app.accept(&json!({ "token": token, "password": v.password }));
    assert_eq!(joined.status, 200, "{}", joined.text());
    assert_eq!(joined.json()["role"], "viewer");

    // A member already: 409, and the invitation stays open.
    let token = invite(&t, &t.email, "viewer", "7 days");
    let member = app.accept_as(&t.access, &json!({ "token": token }));
    assert_eq!(member.status, 409, "{}", member.text());
    assert_eq!(accepted_by(&token), None);
}

#[test]
fn signed_in_as_another_address_is_409_and_changes_nothing() {
    let app = app();
    let t = app.new_tenant();
    let u = app.new_tenant();
    let other = app.new_tenant();
    let before = members(&t.org_id);
    // For a new address, and for another account's address.
    for email in [new_address(), other.email.clone()] {
        let token = invite_via(app, &t, &email, "owner");
        let resp = app.accept_as(
            &u.access,
            &json!({ "token": token, "name": "Mallory", "password": PASSWORD }),
        );
        assert_eq!(resp.status, 409, "{email}: {}", resp.text());
        assert_eq!(problem_type(&resp), "conflict");
        assert_eq!(accepted_by(&token), None, "{email}");
        assert_eq!(members(&t.org_id), before, "{email}");
        assert_eq!(
            users_with(&email),
            i64::from(email == other.email),
            "{email}"
        );
    }
    // A token that is not a live session's is refused before anything.
    let token = invite_via(app, &t, &u.email, "member");
    let forged = app.accept_as("not-a-token", &json!({ "token": token }));
    assert_eq!(forged.status, 401, "{}", forged.text());
    assert_eq!(accepted_by(&token), None);
}

#[test]
fn expired_and_revoked_invitations_are_gone() {
    let app = app();
    let t = app.new_tenant();
    let expired = invite(&t, &new_address(), "member", "-1 second");
    let (id, revoked) = invited(app, &t, &new_address(), "member");
    let auth = format!("Bearer {}", t.access);
    let revoke = app.request(
        "DELETE",
        &format!("/v1/orgs/current/invitations/{id}"),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(revoke.status, 204, "{}", revoke.text());
    for (what, token) in [("expired", expired), ("revoked", revoked)] {
        let resp = app.accept(&json!({ "token": token, "name": "Ann", "password": PASSWORD }));
        assert_eq!(resp.status, 410, "{what}: {}", resp.text());
        assert!(
            resp.json()["detail"].as_str().unwrap().contains(what),
            "{what}"
        );
        assert_eq!(accepted_by(&token), None, "{what}");
    }
    assert_eq!(members(&t.org_id), 1);
}

#[test]
fn concurrent_accepts_of_one_invitation_have_one_winner() {
    let app = app();
    let t = app.new_tenant();
    let email = new_address();
    let token = invite_via(app, &t, &email, "member");
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|n| {
                let token = token.clone();
                s.spawn(move || {
                    app.accept(&json!({
                        "token": token, "name": format!("Racer {n}"), "password": PASSWORD,
                    }))
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [201, 410, 410, 410, 410, 410], "{statuses:?}");
    assert_eq!(users_with(&email), 1);
    assert_eq!(members(&t.org_id), 2);
}

#[test]
fn signup_mails_a_verification_link_that_works_once() {
    let app = app();
    let t = app.new_tenant();
    let me = app.get_as("/v1/auth/me", &t.access).json();
    assert_eq!(me["user"]["email_verified"], false, "{me}");
    let messages = app.outbox(&t.email);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["kind"], "verify_email");
    assert_eq!(messages[0]["sent_at"], Value::Null, "no relay: not sent");
    let token = app.mailed_token(&t.email, "verify_email", "ver");
    // Stored as its digest only, for 48 hours.
    let hours = lifetime_secs(&token, "verify_email") / 3600.0;
    assert!((47.9..=48.1).contains(&hours), "{hours}");
    assert_eq!(
        count(
            "SELECT count(*) FROM email_tokens WHERE digest = $1",
            &token
        ),
        0
    );

    let unknown = app.post_json(
        "/v1/auth/verify-email",
        &json!({ "token": format!("ver_{}", "1".repeat(64)) }),
    );
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    let verified = app.post_json("/v1/auth/verify-email", &json!({ "token": token }));
    assert_eq!(verified.status, 200, "{}", verified.text());
    assert_eq!(verified.json()["email_verified"], true);
    let me = app.get_as("/v1/auth/me", &t.access).json();
    assert_eq!(me["user"]["email_verified"], true, "{me}");
    let again = app.post_json("/v1/auth/verify-email", &json!({ "token": token }));
    assert_eq!(again.status, 410, "{}", again.text());

    // The taken-email sign-up answers alike and queues nothing.
    let decoy = app.signup(&json!({
        "email": t.email, "password": PASSWORD, "name": "Eve", "org_name": unique("decoy"),
    }));
    assert_eq!(decoy.status, 201, "{}", decoy.text());
    assert_eq!(app.outbox(&t.email).len(), 1);
}

#[test]
fn resend_sends_a_new_link_once_a_minute_and_retires_the_old_one() {
    let app = app();
    let t = app.new_tenant();
    let first = app.mailed_token(&t.email, "verify_email", "ver");
    let resend = app.post_as("/v1/auth/verify-email/resend", &t.access, &json!({}));
    assert_eq!(resend.status, 202, "{}", resend.text());
    let second = app.mailed_token(&t.email, "verify_email", "ver");
    assert_ne!(first, second);
    let limited = app.post_as("/v1/auth/verify-email/resend", &t.access, &json!({}));
    assert_eq!(limited.status, 429, "{}", limited.text());
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        app.outbox(&t.email).len(),
        2,
        "the refused resend queued nothing"
    );

    let old = app.post_json("/v1/auth/verify-email", &json!({ "token": first }));
    assert_eq!(
        old.status,
        410,
        "the older link stopped working: {}",
        old.text()
    );
    let ok = app.post_json("/v1/auth/verify-email", &json!({ "token": second }));
    assert_eq!(ok.status, 200, "{}", ok.text());
    let done = app.post_as("/v1/auth/verify-email/resend", &t.access, &json!({}));
    assert_eq!(done.status, 409, "{}", done.text());
    let anonymous = app.post_json("/v1/auth/verify-email/resend", &json!({}));
    assert_eq!(anonymous.status, 401);
}

#[test]
fn a_verification_link_for_a_changed_address_is_gone() {
    let app = app();
    let t = app.new_tenant();
    let token = app.mailed_token(&t.email, "verify_email", "ver");
    app_db()
        .execute(
            "UPDATE users SET email = $2 WHERE id = $1::text::uuid",
            &[&t.user_id, &new_address()],
        )
        .unwrap();
    let resp = app.post_json("/v1/auth/verify-email", &json!({ "token": token }));
    assert_eq!(resp.status, 410, "{}", resp.text());
    let verified: bool = app_db()
        .query_one(
            "SELECT email_verified_at IS NOT NULL FROM users WHERE id = $1::text::uuid",
            &[&t.user_id],
        )
        .unwrap()
        .get(0);
    assert!(!verified);
}

/// A body without its request id, to compare two answers.
fn without_request_id(resp: &Response) -> Value {
    let mut body = resp.json();
    if let Some(object) = body.as_object_mut() {
        object.remove("request_id");
    }
    body
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

#[test]
fn forgot_password_looks_the_same_for_known_and_unknown_addresses() {
    let app = app();
    const N: usize = 10;
    let known: Vec<Tenant> = (0..N).map(|_| app.new_tenant()).collect();
    let unknown: Vec<String> = (0..N).map(|_| new_address()).collect();
    // Warm both paths up (a fresh instance, plans cached per connection).
    app.forgot(&new_address());
    app.forgot(&app.new_tenant().email);

    let (mut known_times, mut unknown_times) = (Vec::new(), Vec::new());
    let mut answers = Vec::new();
    for (t, stranger) in known.iter().zip(&unknown) {
        for (email, times) in [(&t.email, &mut known_times), (stranger, &mut unknown_times)] {
            let start = Instant::now();
            let resp = app.forgot(email);
            times.push(start.elapsed());
            answers.push(resp);
        }
    }
    let first = &answers[0];
    assert_eq!(first.status, 202, "{}", first.text());
    for resp in &answers {
        assert_eq!(resp.status, 202, "{}", resp.text());
        assert_eq!(resp.body, first.body, "one body for every address");
        assert_eq!(resp.header("content-type"), first.header("content-type"));
        assert_eq!(
            resp.header("ratelimit-policy"),
            first.header("ratelimit-policy")
        );
    }
    let (known_median, unknown_median) = (median(known_times), median(unknown_times));
    println!("forgot-password medians: known {known_median:?}, unknown {unknown_median:?}");
    let (slow, fast) = if known_median > unknown_median {
        (known_median, unknown_median)
    } else {
        (unknown_median, known_median)
    };
    assert!(
        slow <= fast * 2 + Duration::from_millis(5),
        "known {known_median:?} vs unknown {unknown_median:?}"
    );

    // What was written: a reset token (1 hour) and a message for each known
    // address, nothing for the others.
    for t in &known {
        let token = app.mailed_token(&t.email, "reset_password", "rst");
        let minutes = lifetime_secs(&token, "reset_password") / 60.0;
        assert!((59.9..=60.1).contains(&minutes), "{minutes}");
    }
    for email in &unknown {
        assert!(app.outbox(email).is_empty(), "{email}");
    }

    // The cooldown answers alike too.
    let again_known = app.forgot(&known[0].email);
    let again_unknown = app.forgot(&unknown[0]);
    for resp in [&again_known, &again_unknown] {
        assert_eq!(resp.status, 429, "{}", resp.text());
        assert!(resp.header("retry-after").is_some());
    }
    // Each address's cooldown started at its own first request, so the
    // seconds left (in `Retry-After` and the detail) may differ by a tick;
    // everything else is the same.
    let shape = |resp: &Response| {
        let mut body = without_request_id(resp);
        body.as_object_mut().unwrap().remove("detail");
        let left: u64 = resp.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&left), "{left}");
        body
    };
    assert_eq!(shape(&again_known), shape(&again_unknown));
    assert_eq!(
        app.outbox(&known[0].email)
            .iter()
            .filter(|m| m["kind"] == "reset_password")
            .count(),
        1
    );

    let bad = app.forgot("not an address");
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert_eq!(fields(&bad), ["email"]);
}

#[test]
fn the_mail_cooldown_is_per_address_whatever_the_case() {
    let app = app();
    let t = app.new_tenant();
    let first = app.forgot(&t.email);
    assert_eq!(first.status, 202, "{}", first.text());
    let policy = first.header("ratelimit-policy").unwrap_or_default();
    assert!(policy.contains("\"mailbox\";q=1;w=60"), "{policy}");
    let shouted = app.forgot(&format!("  {}  ", t.email.to_uppercase()));
    assert_eq!(shouted.status, 429, "{}", shouted.text());
    let retry: u64 = shouted.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (55..=60).contains(&retry),
        "a cooldown counted from the first: {retry}"
    );
    // Another address is not held back.
    assert_eq!(app.forgot(&new_address()).status, 202);
}

#[test]
fn a_reset_ends_every_session_and_works_once() {
    let app = app();
    let t = app.new_tenant();
    let second = app
        .login(&json!({ "email": t.email, "password": t.password }))
        .json();
    let second_access = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.forgot(&t.email).status, 202);
    let token = app.mailed_token(&t.email, "reset_password", "rst");

    let weak = app.post_json(
        "/v1/auth/password/reset",
        &json!({ "token": token, "password": "short" }),
    );
    assert_eq!(weak.status, 422, "{}", weak.text());
    assert_eq!(fields(&weak), ["password"]);
    let unknown = app.post_json(
        "/v1/auth/password/reset",
        &json!({ "token": format!("rst_{}", "2".repeat(64)), "password": PASSWORD }),
    );
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    assert_eq!(
        app.get_as("/v1/auth/me", &t.access).status,
        200,
        "refusals change nothing"
    );

    let reset = app.post_json(
        "/v1/auth/password/reset",
        &json!({ "token": token, "password": PASSWORD }),
    );
    assert_eq!(reset.status, 204, "{}", reset.text());
    for access in [&t.access, &second_access] {
        assert_eq!(app.get_as("/v1/auth/me", access).status, 401);
        assert_eq!(app.get_as("/v1/orgs/current", access).status, 401);
    }
    assert_eq!(app.refresh(&t.refresh).status, 401);
    assert_eq!(
        app.refresh(second["refresh_token"].as_str().unwrap())
            .status,
        401
    );
    let old = app.login(&json!({ "email": t.email, "password": t.password }));
    assert_eq!(old.status, 401);
    let new = app.login(&json!({ "email": t.email, "password": PASSWORD }));
    assert_eq!(new.status, 200, "{}", new.text());
    let me = app
        .get_as("/v1/auth/me", new.json()["access_token"].as_str().unwrap())
        .json();
    assert_eq!(
        me["user"]["email_verified"], true,
        "the reset link proved the address"
    );

    let again = app.post_json(
        "/v1/auth/password/reset",
        &json!({ "token": token, "password": "yet another passphrase" }),
    );
    assert_eq!(again.status, 410, "{}", again.text());
    let notices = app.outbox(&t.email);
    assert_eq!(notices[0]["kind"], "password_changed", "{notices:?}");
}

#[test]
fn an_expired_reset_link_is_gone() {
    let app = app();
    let t = app.new_tenant();
    assert_eq!(app.forgot(&t.email).status, 202);
    let token = app.mailed_token(&t.email, "reset_password", "rst");
    app_db()
        .execute(
            "UPDATE email_tokens SET expires_at = now() - interval '1 second' WHERE digest = $1",
            &[&digest(&token)],
        )
        .unwrap();
    let resp = app.post_json(
        "/v1/auth/password/reset",
        &json!({ "token": token, "password": PASSWORD }),
    );
    assert_eq!(resp.status, 410, "{}", resp.text());
    assert_eq!(app.get_as("/v1/auth/me", &t.access).status, 200);
}

#[test]
fn change_password_ends_the_other_sessions_unless_asked_not_to() {
    let app = app();
    let t = app.new_tenant();
    let other = app
        .login(&json!({ "email": t.email, "password": t.password }))
        .json();
    let other_access = other["access_token"].as_str().unwrap().to_owned();
    // The account takes five password attempts a minute: the two logins and the
    // three changes that get as far as the current password make five.
    let change = |current: &str, new: &str, end: Option<bool>| {
        let mut body = json!({ "current_password": current, "new_password": new });
        if let Some(end) = end {
            body["end_other_sessions"] = json!(end);
        }
        app.post_as("/v1/auth/password/change", &t.access, &body)
    };

    let wrong = change("not the password", PASSWORD, None);
    assert_eq!(wrong.status, 403, "{}", wrong.text());
    let weak = change(&t.password, "short", None);
    assert_eq!(weak.status, 422, "{}", weak.text());
    assert_eq!(fields(&weak), ["new_password"]);
    let anonymous = app.post_json(
        "/v1/auth/password/change",
        &json!({ "current_password": t.password, "new_password": PASSWORD }),
    );
    assert_eq!(anonymous.status, 401);
    let hash = || -> String {
        app_db()
            .query_one(
                "SELECT password_hash FROM users WHERE id = $1::text::uuid",
                &[&t.user_id],
            )
            .unwrap()
            .get(0)
    };
    let before = hash();
    assert_eq!(
        app.get_as("/v1/auth/me", &other_access).status,
        200,
        "refusals change nothing"
    );

    let kept = change(&t.password, PASSWORD, Some(false));
    assert_eq!(kept.status, 204, "{}", kept.text());
    assert_ne!(hash(), before);
    assert_eq!(app.get_as("/v1/auth/me", &other_access).status, 200, "kept");
    assert_eq!(app.get_as("/v1/auth/me", &t.access).status, 200);

    let ended = change(PASSWORD, "the third passphrase", None);
    assert_eq!(ended.status, 204, "{}", ended.text());
    assert_eq!(
        app.get_as("/v1/auth/me", &other_access).status,
        401,
        "ended"
    );
    assert_eq!(app.get_as("/v1/orgs/current", &other_access).status, 401);
    assert_eq!(
        app.refresh(other["refresh_token"].as_str().unwrap()).status,
        401
    );
    assert_eq!(
        app.get_as("/v1/auth/me", &t.access).status,
        200,
        "never the caller's own"
    );
    assert_eq!(app.refresh(&t.refresh).status, 200);
    let login = app.login(&json!({ "email": t.email, "password": "the third passphrase" }));
    assert_eq!(login.status, 200);
    let notices = app
        .outbox(&t.email)
        .iter()
        .filter(|m| m["kind"] == "password_changed")
        .count();
    assert_eq!(notices, 2);
}

#[test]
fn the_outbox_routes_need_the_admin_token() {
    let app = app();
    for (method, path) in [
        ("GET", "/v1/auth/admin/outbox"),
        ("POST", "/v1/auth/admin/outbox/deliver"),
    ] {
        for auth in [None, Some("Bearer wrong")] {
            let headers: Vec<(&str, &str)> =
                auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
            let resp = app.request(method, path, &headers, b"");
            assert_eq!(resp.status, 401, "{method} {path} {auth:?}");
        }
    }
    // The shared app has no relay.
    let auth = format!("Bearer {}", admin_token());
    let deliver = app.request(
        "POST",
        "/v1/auth/admin/outbox/deliver",
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(deliver.status, 503, "{}", deliver.text());
}

/// A local SMTP sink: enough of RFC 5321 for one client at a time; each
/// message's envelope recipient and text land in `messages`.
struct Sink {
    port: u16,
    messages: Arc<Mutex<Vec<(String, String)>>>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the sink");
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&messages);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let _ = serve(stream, &store);
            }
        });
        Sink { port, messages }
    }

    fn messages(&self) -> Vec<(String, String)> {
        self.messages.lock().unwrap().clone()
    }
}

fn serve(stream: std::net::TcpStream, store: &Mutex<Vec<(String, String)>>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 sink ready\r\n")?;
    let mut rcpt = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") || command.starts_with("HELO") {
            out.write_all(b"250-sink\r\n250 8BITMIME\r\n")?;
        } else if command.starts_with("MAIL FROM:") || command == "RSET" {
            out.write_all(b"250 ok\r\n")?;
        } else if command.starts_with("RCPT TO:") {
            rcpt = line.trim_end()["RCPT TO:".len()..]
                .trim_matches(['<', '>'])
                .to_owned();
            out.write_all(b"250 ok\r\n")?;
        } else if command == "DATA" {
            out.write_all(b"354 end with .\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                lines.read_line(&mut line)?;
                if line == ".\r\n" || line.is_empty() {
                    break;
                }
                data.push_str(&line);
            }
            store.lock().unwrap().push((rcpt.clone(), data));
            out.write_all(b"250 queued\r\n")?;
        } else if command == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"500 what\r\n")?;
        }
    }
}

#[test]
fn the_mailer_delivers_to_an_smtp_sink() {
    let sink = Sink::start();
    let relay = format!("127.0.0.1:{}", sink.port);
    let mailing = TestApp::spawn_with(
        &manifest("spin.toml"),
        &[
            ("SPIN_VARIABLE_SMTP_URL", format!("smtp://{relay}")),
            ("SPIN_VARIABLE_SMTP_HOST", relay.clone()),
            ("SPIN_VARIABLE_MAIL_FROM", "no-reply@plinth.test".into()),
            (
                "SPIN_VARIABLE_PUBLIC_URL",
                "https://app.plinth.test/".into(),
            ),
        ],
        &[],
    );
    let t = mailing.new_tenant();
    // Sign-up does not deliver during the request; the deliver route does.
    assert!(sink.messages().is_empty());
    let auth = format!("Bearer {}", admin_token());
    let deliver = mailing.request(
        "POST",
        &format!("/v1/auth/admin/outbox/deliver?to={}", t.email),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(
        deliver.status,
        200,
        "{}\n{}",
        deliver.text(),
        mailing.logs()
    );
    assert_eq!(deliver.json(), json!({ "sent": 1, "failed": 0 }));
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let (to, text) = &messages[0];
    assert_eq!(to, &t.email);
    assert!(text.contains("From: <no-reply@plinth.test>\r\n"), "{text}");
    assert!(
        text.contains("Subject: Confirm your email address\r\n"),
        "{text}"
    );
    let token = mailing.mailed_token(&t.email, "verify_email", "ver");
    assert!(
        text.contains(&format!(
            "https://app.plinth.test/verify-email?token={token}"
        )),
        "{text}"
    );
    let sent = &mailing.outbox(&t.email)[0];
    assert!(sent["sent_at"].is_string(), "{sent}");
    assert_eq!(sent["attempts"], 1);

    // The account's own notices go out right after the change.
    let change = mailing.post_as(
        "/v1/auth/password/change",
        &t.access,
        &json!({ "current_password": t.password, "new_password": PASSWORD }),
    );
    assert_eq!(change.status, 204, "{}", change.text());
    let messages = sink.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[1].1.contains("Subject: Your password was changed"));
    // Nothing is sent twice.
    let again = mailing.request(
        "POST",
        &format!("/v1/auth/admin/outbox/deliver?to={}", t.email),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(again.json(), json!({ "sent": 0, "failed": 0 }));
    assert_eq!(sink.messages().len(), 2);
}

#[test]
fn an_unreachable_relay_keeps_the_message_queued() {
    // Nothing listens on port 1.
    let mailing = TestApp::spawn_with(
        &manifest("spin.toml"),
        &[
            ("SPIN_VARIABLE_SMTP_URL", "smtp://127.0.0.1:1".into()),
            ("SPIN_VARIABLE_SMTP_HOST", "127.0.0.1:1".into()),
        ],
        &[],
    );
    let t = mailing.new_tenant();
    let auth = format!("Bearer {}", admin_token());
    let deliver = mailing.request(
        "POST",
        &format!("/v1/auth/admin/outbox/deliver?to={}", t.email),
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(deliver.status, 200, "{}", deliver.text());
    assert_eq!(deliver.json(), json!({ "sent": 0, "failed": 1 }));
    let queued = &mailing.outbox(&t.email)[0];
    assert_eq!(queued["sent_at"], Value::Null);
    assert_eq!(queued["attempts"], 1);
    assert!(
        queued["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("connection")),
        "{queued}"
    );
}
