//! Identity end to end, on the root app: sign-up, sign-in, the caller on
//! every request (`/v1/auth/me`, `/v1/orgs/current`), refresh rotation and
//! reuse, logout, role and membership changes taking effect at once, forged
//! tokens, and the JWKS verifying an access token as a third party would.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::{Response, TestApp, app, app_db, manifest, service, unique};

/// A tenant made for one test: its owner's credentials and org.
pub struct Tenant {
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
    pub org_id: String,
    pub org_slug: String,
    pub user_id: String,
}

impl TestApp {
    pub fn signup(&self, body: &Value) -> Response {
        self.post_json("/v1/auth/signup", body)
    }

    pub fn login(&self, body: &Value) -> Response {
        self.post_json("/v1/auth/login", body)
    }

    pub fn refresh(&self, token: &str) -> Response {
        self.post_json("/v1/auth/refresh", &json!({ "refresh_token": token }))
    }

    pub fn logout(&self, access: &str, scope: &str) -> Response {
        let auth = format!("Bearer {access}");
        self.post_json_with(
            "/v1/auth/logout",
            &[("authorization", &auth)],
            &json!({ "scope": scope }),
        )
    }

    pub fn get_as(&self, path: &str, access: &str) -> Response {
        let auth = format!("Bearer {access}");
        self.get_with(path, &[("authorization", &auth)])
    }

    /// A fresh org with its owner, through the real sign-up.
    pub fn new_tenant(&self) -> Tenant {
        let name = unique("tenant");
        let email = format!("{name}@example.com");
        let password = "correct horse battery".to_owned();
        let resp = self.signup(&json!({
            "email": email, "password": password, "name": "Owner", "org_name": name,
        }));
        assert_eq!(resp.status, 201, "signup: {}\n{}", resp.text(), self.logs());
        let body = resp.json();
        Tenant {
            email,
            password,
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
            org_id: body["org"]["id"].as_str().unwrap().to_owned(),
            org_slug: body["org"]["slug"].as_str().unwrap().to_owned(),
            user_id: body["user"]["id"].as_str().unwrap().to_owned(),
        }
    }
}

#[test]
fn signup_gives_tokens_that_every_component_accepts() {
    let app = app();
    let t = app.new_tenant();
    let me = app.get_as("/v1/auth/me", &t.access);
    assert_eq!(me.status, 200, "{}", me.text());
    let me = me.json();
    assert_eq!(me["user"]["email"], t.email.as_str());
    assert_eq!(me["role"], "owner");
    assert_eq!(me["org"]["id"], t.org_id.as_str());

    let current = app.get_as("/v1/orgs/current", &t.access);
    assert_eq!(current.status, 200, "{}", current.text());
    assert!(current.header("etag").is_some_and(|e| e.starts_with('"')));
    let org = current.json();
    assert_eq!(org["slug"], t.org_slug.as_str());
    assert_eq!(org["role"], "owner");
    assert_eq!(org["settings"], json!({}));

    let mine = app.get_as("/v1/orgs", &t.access).json();
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1), "{mine}");
    assert_eq!(mine["items"][0]["role"], "owner");

    // What the database keeps: a digest of each token, never the token.
    let mut db = app_db();
    let row = db
        .query_one(
            "SELECT u.password_hash, s.access_digest, \
             (SELECT count(*) FROM refresh_tokens r WHERE r.session_id = s.id) \
             FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = $1::text::uuid",
            &[&t.user_id],
        )
        .expect("stored user");
    let hash: String = row.get(0);
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let digest: String = row.get(1);
    assert_eq!(digest.len(), 64);
    assert!(!digest.contains(&t.access) && !t.access.contains(&digest));
    assert_eq!(row.get::<_, i64>(2), 1);
}

#[test]
fn a_taken_email_answers_like_a_new_one_and_creates_nothing() {
    let app = app();
    let t = app.new_tenant();
    let again = app.signup(&json!({
        "email": t.email.to_uppercase(), "password": "another password", "name": "Someone",
        "org_name": unique("other"),
    }));
    assert_eq!(again.status, 201, "{}", again.text());
    let body = again.json();
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let fresh = app
        .signup(&json!({
            "email": format!("{}@example.com", unique("fresh")), "password": "another password",
            "name": "Someone", "org_name": unique("fresh"),
        }))
        .json();
    assert_eq!(keys(&body), keys(&fresh), "same shape");
    assert_eq!(keys(&body["user"]), keys(&fresh["user"]));
    let mut db = app_db();
    let users: i64 = db
        .query_one(
            "SELECT count(*) FROM users WHERE lower(email) = lower($1)",
            &[&t.email],
        )
        .unwrap()
        .get(0);
    assert_eq!(users, 1, "no second account");
    let orgs: i64 = db
        .query_one(
            "SELECT count(*) FROM org WHERE id = $1::text::uuid",
            &[&body["org"]["id"].as_str().unwrap()],
        )
        .unwrap()
        .get(0);
    assert_eq!(orgs, 0, "no org either");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_as("/v1/auth/me", token).status,
        401,
        "the decoy token works nowhere"
    );
}

#[test]
fn bad_signups_are_4xx_naming_the_field_and_create_nothing() {
    let app = app();
    let taken = app.new_tenant();
    let good = || {
        json!({
            "email": format!("{}@example.com", unique("bad")), "password": "long enough pw",
            "name": "N", "org_name": "Some Org",
        })
    };
    let with = |key: &str, value: Value| {
        let mut body = good();
        body[key] = value;
        body
    };
    let cases = [
        ("bad email", with("email", json!("nope")), 422, "email"),
        (
            "short password",
            with("password", json!("short")),
            422,
            "password",
        ),
        ("empty name", with("name", json!("  ")), 422, "name"),
        (
            "reserved slug",
            with("org_slug", json!("admin")),
            422,
            "org_slug",
        ),
        (
            "slug too short",
            with("org_slug", json!("ab")),
            422,
            "org_slug",
        ),
        (
            "slug upper case",
            with("org_slug", json!("Acme")),
            422,
            "org_slug",
        ),
        (
            "wrong type",
            with("password", json!(12345678)),
            400,
            "password",
        ),
        ("unknown field", with("role", json!("owner")), 400, "role"),
        (
            "taken slug",
            with("org_slug", json!(taken.org_slug)),
            409,
            "org_slug",
        ),
    ];
    let mut db = app_db();
    for (what, body, status, field) in cases {
        let resp = app.signup(&body);
        assert_eq!(resp.status, status, "{what}: {}", resp.text());
        let problem = resp.json();
        let named = problem["field"]
            .as_str()
            .or(problem["errors"][0]["field"].as_str());
        assert_eq!(named, Some(field), "{what}: {problem}");
        let email = body["email"].as_str().unwrap();
        let n: i64 = db
            .query_one("SELECT count(*) FROM users WHERE email = $1", &[&email])
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{what}: nothing created");
    }
    let missing = app.signup(&json!({"email": "a@b.co", "password": "long enough pw"}));
    assert_eq!(missing.status, 400, "{}", missing.text());
}

#[test]
fn login_and_its_refusals_look_alike() {
    let app = app();
    let t = app.new_tenant();
    let ok = app.login(&json!({"email": t.email.to_uppercase(), "password": t.password}));
    assert_eq!(ok.status, 200, "{}", ok.text());
    let body = ok.json();
    assert_eq!(body["org"]["id"], t.org_id.as_str());
    assert_eq!(body["orgs"].as_array().map(Vec::len), Some(1));
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(app.get_as("/v1/orgs/current", access).status, 200);

    let wrong = app.login(&json!({"email": t.email, "password": "not the password"}));
    let unknown = app.login(&json!({"email": format!("{}@example.com", unique("nobody")), "password": "not the password"}));
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    let strip = |r: &Response| {
        let mut v = r.json();
        v.as_object_mut().unwrap().remove("request_id");
        v
    };
    assert_eq!(strip(&wrong), strip(&unknown), "the same answer");
    let elsewhere =
        app.login(&json!({"email": t.email, "password": t.password, "org_slug": "no-such-org"}));
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.text());
}

#[test]
fn refresh_rotates_once_and_parallel_refreshes_share_the_successor() {
    let app = app();
    let t = app.new_tenant();
    let results: Vec<Response> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..10)
            .map(|_| s.spawn(|| app.refresh(&t.refresh)))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for r in &results {
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let first = results[0].json();
    for r in &results[1..] {
        let body = r.json();
        assert_eq!(
            body["refresh_token"], first["refresh_token"],
            "one successor"
        );
        assert_eq!(
            body["access_token"], first["access_token"],
            "one access token"
        );
    }
    let mut db = app_db();
    let row = db
        .query_one(
            "SELECT count(*) FILTER (WHERE r.rotated_at IS NOT NULL), count(*) \
             FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id \
             WHERE s.user_id = $1::text::uuid",
            &[&t.user_id],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1, "one rotation");
    assert_eq!(row.get::<_, i64>(1), 2, "the token and its successor");

    let new_access = first["access_token"].as_str().unwrap();
    assert_eq!(app.get_as("/v1/orgs/current", new_access).status, 200);
    assert_eq!(
        app.get_as("/v1/orgs/current", &t.access).status,
        200,
        "the previous access token stays valid until it expires"
    );
    let next = app.refresh(first["refresh_token"].as_str().unwrap());
    assert_eq!(
        next.status,
        200,
        "the successor rotates in its turn: {}",
        next.text()
    );
    assert_eq!(app.refresh("plr_not-a-token").status, 401);
}

#[test]
fn a_rotated_refresh_token_shown_after_the_grace_revokes_its_session() {
    let app = app();
    let t = app.new_tenant();
    let rotated = app.refresh(&t.refresh);
    assert_eq!(rotated.status, 200);
    let successor = rotated.json()["refresh_token"].as_str().unwrap().to_owned();
    // As if the rotation were a minute old.
    app_db()
        .execute(
            "UPDATE refresh_tokens SET rotated_at = now() - interval '1 minute' \
             WHERE rotated_at IS NOT NULL AND session_id IN \
             (SELECT id FROM sessions WHERE user_id = $1::text::uuid)",
            &[&t.user_id],
        )
        .unwrap();
    let replay = app.refresh(&t.refresh);
    assert_eq!(replay.status, 401, "{}", replay.text());
    assert_eq!(
        app.refresh(&successor).status,
        401,
        "the successor dies with the session"
    );
    assert_eq!(
        app.get_as("/v1/orgs/current", &t.access).status,
        401,
        "and every access token of the session"
    );
}

#[test]
fn logout_ends_sessions_at_once_in_every_component() {
    let app = app();
    let t = app.new_tenant();
    let second = app
        .login(&json!({"email": t.email, "password": t.password}))
        .json();
    let second_access = second["access_token"].as_str().unwrap().to_owned();

    assert_eq!(app.logout(&t.access, "others").status, 204);
    assert_eq!(
        app.get_as("/v1/orgs/current", &t.access).status,
        200,
        "this one lives"
    );
    assert_eq!(
        app.get_as("/v1/auth/me", &second_access).status,
        401,
        "the other is gone"
    );
    assert_eq!(
        app.refresh(second["refresh_token"].as_str().unwrap())
            .status,
        401
    );

    assert_eq!(app.logout(&t.access, "session").status, 204);
    for path in ["/v1/orgs/current", "/v1/auth/me", "/v1/orgs"] {
        assert_eq!(app.get_as(path, &t.access).status, 401, "{path}");
    }
    assert_eq!(app.refresh(&t.refresh).status, 401);
    assert_eq!(
        app.logout(&t.access, "all").status,
        401,
        "already logged out"
    );
    let bad = app.logout(&app.new_tenant().access, "everything");
    assert_eq!(bad.status, 422, "{}", bad.text());
}

#[test]
fn a_changed_role_or_a_removed_membership_counts_on_the_next_request() {
    let app = app();
    let t = app.new_tenant();
    let mut db = app_db();
    db.execute(
        "UPDATE memberships SET role = 'viewer' WHERE user_id = $1::text::uuid",
        &[&t.user_id],
    )
    .unwrap();
    assert_eq!(
        app.get_as("/v1/auth/me", &t.access).json()["role"],
        "viewer"
    );
    assert_eq!(
        app.get_as("/v1/orgs/current", &t.access).json()["role"],
        "viewer"
    );
    db.execute(
        "DELETE FROM memberships WHERE user_id = $1::text::uuid",
        &[&t.user_id],
    )
    .unwrap();
    let removed = app.get_as("/v1/orgs/current", &t.access);
    assert_eq!(
        removed.status,
        403,
        "a removed member is forbidden: {}",
        removed.text()
    );
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn segments(token: &str) -> (Value, Value, String) {
    let parts: Vec<&str> = token.split('.').collect();
    let decode =
        |s: &str| -> Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap() };
    (decode(parts[0]), decode(parts[1]), parts[2].to_owned())
}

#[test]
fn forged_and_broken_tokens_are_401_never_5xx() {
    let app = app();
    let t = app.new_tenant();
    let other = app.new_tenant();
    let (header, claims, signature) = segments(&t.access);
    let mut tampered = claims.clone();
    tampered["org"] = json!(other.org_id);
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    let mut expired = claims.clone();
    expired["exp"] = json!(1_000_000_000);
    let mut none = header.clone();
    none["alg"] = json!("none");
    let mut hs = header.clone();
    hs["alg"] = json!("HS256");
    let mut refresh_typ = header.clone();
    refresh_typ["typ"] = json!("refresh+jwt");
    let with_header = |key: &str, value: Value| {
        let mut h = header.clone();
        h[key] = value;
        format!("{}.{}.{signature}", b64(&h), b64(&claims))
    };
    let with_claim = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        format!("{}.{}.{signature}", b64(&header), b64(&c))
    };
    let now = claims["iat"].as_i64().unwrap();
    let cases: Vec<(&str, String)> = vec![
        (
            "tampered org",
            format!("{}.{}.{signature}", b64(&header), b64(&tampered)),
        ),
        (
            "wrong aud",
            format!("{}.{}.{signature}", b64(&header), b64(&wrong_aud)),
        ),
        (
            "expired",
            format!("{}.{}.{signature}", b64(&header), b64(&expired)),
        ),
        ("alg none", format!("{}.{}.", b64(&none), b64(&claims))),
        (
            "HS256",
            format!("{}.{}.{signature}", b64(&hs), b64(&claims)),
        ),
        (
            "refresh typ",
            format!("{}.{}.{signature}", b64(&refresh_typ), b64(&claims)),
        ),
        ("no signature", format!("{}.{}", b64(&header), b64(&claims))),
        ("four segments", format!("{}.x", t.access)),
        ("bad base64", "a$b.c%d.e^f".to_owned()),
        ("not a token", "hello".to_owned()),
        ("the refresh token", t.refresh.clone()),
        ("alg NONE", with_header("alg", json!("NONE"))),
        ("alg RS256", with_header("alg", json!("RS256"))),
        ("alg ES256", with_header("alg", json!("ES256"))),
        ("typ JWT", with_header("typ", json!("JWT"))),
        ("unknown kid", with_header("kid", json!("no-such-key"))),
        ("hostile kid", with_header("kid", json!("../../etc/passwd"))),
        ("kid not a string", with_header("kid", json!(7))),
        (
            "a jwk header of its own",
            with_header("jwk", json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"})),
        ),
        ("wrong iss", with_claim("iss", json!("evil"))),
        ("future nbf", with_claim("nbf", json!(now + 3600))),
        (
            "empty signature",
            format!("{}.{}.", b64(&header), b64(&claims)),
        ),
        (
            "stripped to two segments",
            format!("{}.{}", b64(&header), b64(&claims)),
        ),
        ("another tenant's token with this one's signature", {
            let (h, c, _) = segments(&other.access);
            format!("{}.{}.{signature}", b64(&h), b64(&c))
        }),
    ];
    for (what, token) in cases {
        for path in ["/v1/orgs/current", "/v1/auth/me"] {
            let resp = app.get_as(path, &token);
            assert_eq!(resp.status, 401, "{what} on {path}: {}", resp.text());
            assert_eq!(resp.header("www-authenticate"), Some("Bearer"), "{what}");
        }
    }
    assert_eq!(app.get("/v1/orgs/current").status, 401, "no token");
}

#[test]
fn the_jwks_verifies_an_access_token_as_a_third_party_would() {
    let app = app();
    let t = app.new_tenant();
    let jwks = app.get("/.well-known/jwks.json");
    assert_eq!(jwks.status, 200);
    let jwks = jwks.json();
    let (header, claims, signature) = segments(&t.access);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's kid is published");
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert!(key.get("d").is_none(), "no private part: {key}");
    let public = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
    let public = ed25519_compact::PublicKey::from_slice(&public).unwrap();
    let signed = &t.access[..t.access.rfind('.').unwrap()];
    let signature =
        ed25519_compact::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap())
            .unwrap();
    public
        .verify(signed, &signature)
        .expect("the signature verifies");
    for claim in [
        "iss", "aud", "sub", "org", "role", "sid", "jti", "iat", "exp",
    ] {
        assert!(claims.get(claim).is_some(), "claim {claim}: {claims}");
    }
    assert_eq!(claims["org"], t.org_id.as_str());
    let life = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(life, 900, "short-lived");
}

fn kids(app: &TestApp) -> Vec<String> {
    app.get("/.well-known/jwks.json").json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_of(token: &str) -> String {
    segments(token).0["kid"].as_str().unwrap().to_owned()
}

#[test]
fn signing_keys_rotate_without_logging_anyone_out() {
    let shared = app();
    let before = shared.new_tenant();
    let old = service("SPIN_VARIABLE_JWT_KEYS").to_owned();
    let old_kid = kid_of(&before.access);
    let new = format!("rotated:{}", URL_SAFE_NO_PAD.encode([42u8; 32]));
    let with_keys = |keys: String| {
        TestApp::spawn_with(
            &manifest("spin.toml"),
            &[("SPIN_VARIABLE_JWT_KEYS", keys)],
            &[],
        )
    };

    // 1. The new key is added at the end: published, not yet signing.
    let added = with_keys(format!("{old},{new}"));
    assert_eq!(kids(&added), [old_kid.clone(), "rotated".to_owned()]);
    assert_eq!(kid_of(&added.new_tenant().access), old_kid);

    // 2. Moved to the front: it signs; the old key is still published.
    let switched = with_keys(format!("{new},{old}"));
    assert_eq!(kids(&switched), ["rotated".to_owned(), old_kid.clone()]);
    let after = switched.new_tenant();
    assert_eq!(kid_of(&after.access), "rotated");
    for token in [&before.access, &after.access] {
        assert_eq!(switched.get_as("/v1/orgs/current", token).status, 200);
        assert_eq!(shared.get_as("/v1/orgs/current", token).status, 200);
    }

    // 3. The old key dropped: no longer published, and the components still
    // serve its tokens' sessions (they check the digest, not the signature).
    let dropped = with_keys(new);
    assert_eq!(kids(&dropped), ["rotated".to_owned()]);
    assert_eq!(
        dropped.get_as("/v1/orgs/current", &before.access).status,
        200
    );
}
