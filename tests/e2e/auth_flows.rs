//! The OAuth 2.0 token endpoint (`POST /v1/auth/token`, form bodies, RFC 6749
//! errors), switching orgs (`POST /v1/auth/switch-org`), and the rate limits
//! of the sign-in routes: 429 with `Retry-After` and the RateLimit headers
//! on an app of its own at 3 a minute, and 503 when Redis is down.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Response, TestApp, app, app_db, manifest, unique};

/// `application/x-www-form-urlencoded`: unreserved bytes as they are, a
/// space as `+`, everything else `%XX`.
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

const FORM: &str = "application/x-www-form-urlencoded";

impl TestApp {
    /// `POST /v1/auth/token` with a form of these pairs.
    pub fn token_grant(&self, pairs: &[(&str, &str)]) -> Response {
        self.request(
            "POST",
            "/v1/auth/token",
            &[("content-type", FORM)],
            form(pairs).as_bytes(),
        )
    }

    /// `POST /v1/auth/switch-org` as `access`.
    pub fn switch_org(&self, access: &str, body: &Value) -> Response {
        let auth = format!("Bearer {access}");
        self.post_json_with("/v1/auth/switch-org", &[("authorization", &auth)], body)
    }
}

fn assert_no_store(resp: &Response, what: &str) {
    assert_eq!(resp.header("cache-control"), Some("no-store"), "{what}");
    assert_eq!(resp.header("pragma"), Some("no-cache"), "{what}");
}

fn sessions_of(user_id: &str) -> i64 {
    app_db()
        .query_one(
            "SELECT count(*) FROM sessions WHERE user_id = $1::text::uuid",
            &[&user_id],
        )
        .unwrap()
        .get(0)
}

#[test]
fn the_token_endpoint_grants_passwords_and_rotates_refresh_tokens() {
    let app = app();
    let t = app.new_tenant();
    // The password has spaces (sent as `+`), the email upper case; scope and
    // client_id are ignored.
    let upper = t.email.to_uppercase();
    let granted = app.token_grant(&[
        ("grant_type", "password"),
        ("username", &upper),
        ("password", &t.password),
        ("scope", "openid profile"),
        ("client_id", "some-cli"),
    ]);
    assert_eq!(granted.status, 200, "{}\n{}", granted.text(), app.logs());
    assert_no_store(&granted, "password grant");
    assert_eq!(granted.header("content-type"), Some("application/json"));
    let body = granted.json();
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"],
        "the RFC 6749 §5.1 fields: {body}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let policy = granted.header("ratelimit-policy").unwrap_or_default();
    assert!(
        policy.starts_with("\"token\";q=") && policy.contains("\"account\";q=5;w=60"),
        "{policy}"
    );
    let access = body["access_token"].as_str().unwrap();
    let current = app.get_as("/v1/orgs/current", access);
    assert_eq!(current.status, 200, "{}", current.text());
    assert_eq!(current.json()["id"], t.org_id.as_str());

    let refresh = body["refresh_token"].as_str().unwrap();
    let rotated = app.token_grant(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]);
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    assert_no_store(&rotated, "refresh grant");
    let next = rotated.json();
    assert_ne!(next["refresh_token"], body["refresh_token"], "rotated");
    assert_eq!(next["token_type"], "Bearer");
    let current = app.get_as("/v1/orgs/current", next["access_token"].as_str().unwrap());
    assert_eq!(current.status, 200, "{}", current.text());
    assert_eq!(current.json()["id"], t.org_id.as_str());
    // The JSON route rotates the successor in its turn: one rotation, two doors.
    let again = app.refresh(next["refresh_token"].as_str().unwrap());
    assert_eq!(again.status, 200, "{}", again.text());
}

#[test]
fn token_endpoint_refusals_are_rfc6749_errors() {
    let app = app();
    let t = app.new_tenant();
    let nobody = format!("{}@example.com", unique("nobody"));
    let password = |username: &str, password: &str| {
        form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ])
    };
    // (what, content type, body, error)
    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            "wrong password",
            FORM,
            password(&t.email, "not the password"),
            "invalid_grant",
        ),
        (
            "unknown user",
            FORM,
            password(&nobody, "not the password"),
            "invalid_grant",
        ),
        (
            "a password too short to be one",
            FORM,
            password(&t.email, "x"),
            "invalid_grant",
        ),
        (
            "unknown refresh token",
            FORM,
            form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "plr_not-a-token"),
            ]),
            "invalid_grant",
        ),
        (
            "an access token as a refresh token",
            FORM,
            form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &t.access),
            ]),
            "invalid_grant",
        ),
        (
            "client credentials",
            FORM,
            form(&[("grant_type", "client_credentials")]),
            "unsupported_grant_type",
        ),
        (
            "authorization code",
            FORM,
            form(&[("grant_type", "authorization_code"), ("code", "abc")]),
            "unsupported_grant_type",
        ),
        (
            "no grant_type",
            FORM,
            form(&[("username", &t.email), ("password", &t.password)]),
            "invalid_request",
        ),
        (
            "no username",
            FORM,
            form(&[("grant_type", "password"), ("password", &t.password)]),
            "invalid_request",
        ),
        (
            "no password",
            FORM,
            form(&[("grant_type", "password"), ("username", &t.email)]),
            "invalid_request",
        ),
        (
            "an empty username counts as none",
            FORM,
            password("", &t.password),
            "invalid_request",
        ),
        (
            "no refresh_token",
            FORM,
            form(&[("grant_type", "refresh_token")]),
            "invalid_request",
        ),
        (
            "grant_type twice",
            FORM,
            format!("grant_type=password&{}", password(&t.email, &t.password)),
            "invalid_request",
        ),
        (
            "a bad percent escape",
            FORM,
            "grant_type=password&username=%ZZ&password=x".to_owned(),
            "invalid_request",
        ),
        (
            "a JSON body",
            "application/json",
            json!({"grant_type": "password", "username": t.email, "password": t.password})
                .to_string(),
            "invalid_request",
        ),
        (
            "no content type",
            "",
            password(&t.email, &t.password),
            "invalid_request",
        ),
    ];
    for (what, content_type, body, error) in cases {
        let headers: Vec<(&str, &str)> = if content_type.is_empty() {
            vec![]
        } else {
            vec![("content-type", content_type)]
        };
        let resp = app.request("POST", "/v1/auth/token", &headers, body.as_bytes());
        assert_eq!(resp.status, 400, "{what}: {}", resp.text());
        assert_eq!(
            resp.header("content-type"),
            Some("application/json"),
            "{what}: not problem+json"
        );
        assert_no_store(&resp, what);
        let answer = resp.json();
        assert_eq!(answer["error"], error, "{what}: {answer}");
        assert!(
            answer["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}: {answer}"
        );
        assert!(resp.header("ratelimit").is_some(), "{what}");
    }
    // None of that opened a session.
    assert_eq!(sessions_of(&t.user_id), 1);
}

#[test]
fn a_refresh_token_reused_after_the_grace_is_invalid_grant_and_ends_the_session() {
    let app = app();
    let t = app.new_tenant();
    let grant =
        |token: &str| app.token_grant(&[("grant_type", "refresh_token"), ("refresh_token", token)]);
    let rotated = grant(&t.refresh);
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let successor = rotated.json()["refresh_token"].as_str().unwrap().to_owned();
    let within = grant(&t.refresh);
    assert_eq!(within.status, 200, "within the grace: {}", within.text());
    assert_eq!(
        within.json()["refresh_token"].as_str(),
        Some(successor.as_str()),
        "the same successor within the grace"
    );
    // As if the rotation were a minute old.
    app_db()
        .execute(
            "UPDATE refresh_tokens SET rotated_at = now() - interval '1 minute' \
             WHERE rotated_at IS NOT NULL AND session_id IN \
             (SELECT id FROM sessions WHERE user_id = $1::text::uuid)",
            &[&t.user_id],
        )
        .unwrap();
    let replay = grant(&t.refresh);
    assert_eq!(replay.status, 400, "{}", replay.text());
    assert_eq!(replay.json()["error"], "invalid_grant");
    let dead = grant(&successor);
    assert_eq!(dead.status, 400, "the successor dies with the session");
    assert_eq!(dead.json()["error"], "invalid_grant");
    assert_eq!(
        app.get_as("/v1/orgs/current", &t.access).status,
        401,
        "and every access token of the session"
    );
}

/// A second org with `user_id` as a member of it (as the API cannot yet).
fn second_org(user_id: &str, role: &str) -> (String, String) {
    let slug = unique("second");
    let row = app_db()
        .query_one(
            "WITH o AS (INSERT INTO org (name, slug) VALUES ('Second', $1) RETURNING id) \
             INSERT INTO memberships (org_id, user_id, role) \
             SELECT o.id, $2::text::uuid, $3 FROM o RETURNING org_id::text",
            &[&slug, &user_id, &role],
        )
        .expect("insert a second org and membership");
    (row.get(0), slug)
}

#[test]
fn switch_org_gives_a_new_session_in_another_org_of_the_caller() {
    let app = app();
    let t = app.new_tenant();
    let (second, slug) = second_org(&t.user_id, "member");
    let before = sessions_of(&t.user_id);
    let switched = app.switch_org(&t.access, &json!({ "org_id": second.to_uppercase() }));
    assert_eq!(switched.status, 200, "{}\n{}", switched.text(), app.logs());
    assert_no_store(&switched, "switch-org");
    let body = switched.json();
    assert_eq!(body["org"]["id"], second.as_str(), "{body}");
    assert_eq!(body["org"]["slug"], slug.as_str());
    assert_eq!(body["org"]["role"], "member");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(sessions_of(&t.user_id), before + 1, "a new session");

    let access = body["access_token"].as_str().unwrap();
    let current = app.get_as("/v1/orgs/current", access);
    assert_eq!(current.status, 200, "{}", current.text());
    assert_eq!(current.json()["id"], second.as_str());
    assert_eq!(current.json()["role"], "member");
    let me = app.get_as("/v1/auth/me", access).json();
    assert_eq!(me["org"]["id"], second.as_str());
    assert_eq!(me["user"]["id"], t.user_id.as_str());
    // The first session goes on in the first org.
    let first = app.get_as("/v1/orgs/current", &t.access);
    assert_eq!(first.json()["id"], t.org_id.as_str());
    // The new session's refresh token stays in the second org.
    let rotated = app.refresh(body["refresh_token"].as_str().unwrap());
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let access = rotated.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get_as("/v1/orgs/current", &access).json()["id"],
        second.as_str()
    );
}

#[test]
fn switch_org_refuses_other_orgs_and_bad_ids_and_writes_nothing() {
    let app = app();
    let t = app.new_tenant();
    let other = app.new_tenant();
    let before = sessions_of(&t.user_id);
    let cases = [
        (
            "another tenant's org",
            json!({ "org_id": other.org_id }),
            404,
            None,
        ),
        (
            "no such org",
            json!({ "org_id": "00000000-0000-4000-8000-000000000000" }),
            404,
            None,
        ),
        (
            "not a uuid",
            json!({ "org_id": "acme" }),
            422,
            Some("org_id"),
        ),
        (
            "a uuid without dashes",
            json!({ "org_id": other.org_id.replace('-', "") }),
            422,
            Some("org_id"),
        ),
        ("a number", json!({ "org_id": 7 }), 400, Some("org_id")),
        ("no org_id", json!({}), 400, Some("org_id")),
    ];
    for (what, body, status, field) in cases {
        let resp = app.switch_org(&t.access, &body);
        assert_eq!(resp.status, status, "{what}: {}", resp.text());
        let problem = resp.json();
        assert!(problem.get("access_token").is_none(), "{what}: {problem}");
        if let Some(field) = field {
            assert_eq!(problem["errors"][0]["field"], field, "{what}: {problem}");
        }
    }
    let anonymous = app.post_json("/v1/auth/switch-org", &json!({ "org_id": t.org_id }));
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    assert_eq!(sessions_of(&t.user_id), before, "no session added");
    assert_eq!(sessions_of(&other.user_id), 1, "nor for the other tenant");
}

/// `(r, t)` of `policy` in a `RateLimit` header value.
fn standing(header: Option<&str>, policy: &str) -> Option<(u64, u64)> {
    let item = header?
        .split(',')
        .map(str::trim)
        .find(|item| item.starts_with(&format!("\"{policy}\";")))?;
    let param = |name: &str| -> Option<u64> {
        item.split(';')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))?
            .parse()
            .ok()
    };
    Some((param("r")?, param("t")?))
}

#[test]
fn over_the_limit_is_429_with_retry_after_and_ratelimit_headers() {
    let shared = app();
    let t = shared.new_tenant();
    let credentials = json!({ "email": t.email, "password": t.password });
    // The shared app's (generous) limits show on a 200 too.
    let ok = shared.login(&credentials);
    assert_eq!(ok.status, 200, "{}", ok.text());
    let policy = ok.header("ratelimit-policy").unwrap_or_default();
    assert!(
        policy.starts_with("\"login\";q=") && policy.contains("\"account\";q=5;w=60"),
        "{policy}"
    );
    assert!(standing(ok.header("ratelimit"), "login").is_some());
    assert!(standing(ok.header("ratelimit"), "account").is_some());

    let limited = TestApp::spawn_with(
        &manifest("spin.toml"),
        &[("SPIN_VARIABLE_AUTH_RATE_PER_MINUTE", "3".into())],
        &[],
    );
    // Four requests must fall in one window: start a fresh one if this one
    // ends too soon.
    let mut first = limited.login(&credentials);
    if let Some((_, reset)) = standing(first.header("ratelimit"), "login")
        && reset < 15
    {
        std::thread::sleep(Duration::from_secs(reset + 1));
        first = limited.login(&credentials);
    }
    let mut answers = vec![first];
    answers.extend((0..2).map(|_| limited.login(&credentials)));
    // The host sets spin-client-addr: one a client sends does not count.
    answers.push(limited.request(
        "POST",
        "/v1/auth/login",
        &[
            ("content-type", "application/json"),
            ("spin-client-addr", "203.0.113.7:4000"),
        ],
        credentials.to_string().as_bytes(),
    ));
    for (n, resp) in answers[..3].iter().enumerate() {
        assert_eq!(resp.status, 200, "login {}: {}", n + 1, resp.text());
        assert_eq!(
            resp.header("ratelimit-policy"),
            Some("\"login\";q=3;w=60, \"account\";q=5;w=60"),
            "login {}",
            n + 1
        );
        let (remaining, reset) = standing(resp.header("ratelimit"), "login").unwrap();
        assert_eq!(remaining, 2 - n as u64, "login {}", n + 1);
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let refused = &answers[3];
    assert_eq!(refused.status, 429, "the 4th: {}", refused.text());
    let retry_after: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After: {:?}", refused.headers));
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        refused.json()["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("/too-many-requests"))
    );
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"login\";q=3;w=60"),
        "refused before the account was counted"
    );
    let (remaining, reset) = standing(refused.header("ratelimit"), "login").unwrap();
    assert_eq!(remaining, 0);
    assert_eq!(reset, retry_after);

    // Each route has its own count.
    let signup = limited.signup(&json!({
        "email": format!("{}@example.com", unique("limited")), "password": "long enough pw",
        "name": "N", "org_name": unique("limited"),
    }));
    assert_eq!(signup.status, 201, "{}", signup.text());
    assert_eq!(
        signup.header("ratelimit-policy"),
        Some("\"signup\";q=3;w=60")
    );
}

#[test]
fn the_limited_routes_answer_503_without_redis() {
    let shared = app();
    let t = shared.new_tenant();
    // Port 1: nothing listens there, connections are refused.
    let down = TestApp::spawn_with(
        &manifest("spin.toml"),
        &[("SPIN_VARIABLE_REDIS_HOST", "127.0.0.1:1".into())],
        &[],
    );
    let answers = [
        (
            "login",
            down.login(&json!({ "email": t.email, "password": t.password })),
        ),
        (
            "signup",
            down.signup(&json!({
                "email": format!("{}@example.com", unique("down")), "password": "long enough pw",
                "name": "N", "org_name": unique("down"),
            })),
        ),
        ("refresh", down.refresh(&t.refresh)),
        (
            "token",
            down.token_grant(&[
                ("grant_type", "password"),
                ("username", &t.email),
                ("password", &t.password),
            ]),
        ),
    ];
    for (what, resp) in &answers {
        assert_eq!(resp.status, 503, "{what}: {}\n{}", resp.text(), down.logs());
        assert_eq!(
            resp.json()["type"],
            "https://plinth.dev/problems/service-unavailable",
            "{what}"
        );
    }
    assert_no_store(&answers[3].1, "token");
    assert_eq!(sessions_of(&t.user_id), 1, "no session opened");
    // Routes without limits do not need Redis.
    assert_eq!(down.get_as("/v1/auth/me", &t.access).status, 200);
    // The refresh token was not rotated.
    assert_eq!(shared.refresh(&t.refresh).status, 200);
}
