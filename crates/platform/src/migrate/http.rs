//! The admin routes of a migrate component, shared by `components/migrate` and
//! the test fixture (each passes its own embedded migration list).
//!
//! | route | body | 200 response |
//! |---|---|---|
//! | `GET /admin/migrations` | — | [`Status`]: `{current, head, applied, pending, drift}` |
//! | `POST /admin/migrations/upgrade` | `{"target": "head" \| "0001"}` | [`Outcome`]: `{from, to, ran}` |
//! | `POST /admin/migrations/downgrade` | `{"steps": 1}` or `{"target": "base" \| "0001"}` | [`Outcome`] |
//!
//! Errors (problem+json): no/wrong `Authorization: Bearer <admin_token>` →
//! 401 with `WWW-Authenticate: Bearer`; bad body or target → 400 (415/413 from
//! the platform's JSON parsing); drift → 409 naming each revision and what
//! differs (nothing runs); database unreachable → 503; a failing step → **500
//! with type `…/migration-failed`** and the members `revision`, `name`,
//! `direction`, `statement`, `sqlstate`, `message` (Postgres's), `from`, `to`
//! (the revision after the rollback) and `ran` (the steps that committed
//! before it).
//!
//! [`Status`]: super::plan::Status

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::plan::{DowngradeTarget, Migration, UpgradeTarget};
use super::runner::{Outcome, Runner};
use crate::error::Error;
use crate::request::RequestCtx;
use crate::response::json;
use crate::router::HandlerResult;

/// A runner over the component's database connection (`db_url`, the owner role).
fn runner(ctx: &RequestCtx, migrations: &'static [Migration]) -> Result<Runner, Error> {
    Ok(Runner::new(ctx.db()?, migrations))
}

/// Checks `Authorization: Bearer <token>` against the admin token, in constant time.
pub fn authorize(ctx: &RequestCtx) -> Result<(), Error> {
    let expected = ctx.config().secret("admin_token")?;
    if expected.expose().trim().is_empty() {
        // Never accept an empty token, whatever was sent.
        return Err(crate::config::invalid("admin_token", "it is empty"));
    }
    let given = crate::auth::bearer(ctx.header("authorization")).ok_or(Error::Unauthorized)?;
    if same_secret(given, expected.expose()) {
        Ok(())
    } else {
        Err(Error::Unauthorized)
    }
}

/// Compares the sha256 digests byte by byte without an early exit, so the
/// time taken does not depend on where the values differ (nor on their length).
fn same_secret(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpgradeBody {
    target: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DowngradeBody {
    steps: Option<u32>,
    target: Option<String>,
}

/// `GET /admin/migrations`.
pub fn status(ctx: &RequestCtx, migrations: &'static [Migration]) -> HandlerResult {
    authorize(ctx)?;
    json(200, &runner(ctx, migrations)?.status()?)
}

/// `POST /admin/migrations/upgrade`.
pub fn upgrade(ctx: &RequestCtx, migrations: &'static [Migration]) -> HandlerResult {
    authorize(ctx)?;
    let body: UpgradeBody = ctx.json()?;
    let target = UpgradeTarget::parse(&body.target)?;
    outcome_response(runner(ctx, migrations)?.upgrade(&target)?)
}

/// `POST /admin/migrations/downgrade`.
pub fn downgrade(ctx: &RequestCtx, migrations: &'static [Migration]) -> HandlerResult {
    authorize(ctx)?;
    let body: DowngradeBody = ctx.json()?;
    let target = DowngradeTarget::parse(body.steps, body.target.as_deref())?;
    outcome_response(runner(ctx, migrations)?.downgrade(&target)?)
}

/// 200 with `{from, to, ran}`, or the 500 `migration-failed` problem.
fn outcome_response(outcome: Outcome) -> HandlerResult {
    let Some(failed) = &outcome.failed else {
        return json(200, &outcome);
    };
    let detail = format!(
        "migration {}_{} ({}) failed{}: {}{}; it was rolled back and the database is at {}",
        failed.revision,
        failed.name,
        match failed.direction {
            super::plan::Direction::Up => "up",
            super::plan::Direction::Down => "down",
        },
        failed
            .statement
            .map(|n| format!(" at statement {n}"))
            .unwrap_or_default(),
        failed
            .sqlstate
            .as_deref()
            .map(|c| format!("SQLSTATE {c} "))
            .unwrap_or_default(),
        failed.message,
        outcome.to.as_deref().unwrap_or("base (nothing applied)"),
    );
    let members = serde_json::json!({
        "revision": failed.revision,
        "name": failed.name,
        "direction": failed.direction,
        "statement": failed.statement,
        "sqlstate": failed.sqlstate,
        "message": failed.message,
        "from": outcome.from,
        "to": outcome.to,
        "ran": outcome.ran,
    });
    let serde_json::Value::Object(members) = members else {
        return Err(Error::internal("migration failure members are an object"));
    };
    Err(Error::MigrationFailed { detail, members })
}

/// Defines the `#[http_component]` entry of a migrate component: the three
/// `/admin/migrations` routes over the given embedded migrations. The migrate
/// component and its test fixture differ only in the migrations they embed.
#[macro_export]
macro_rules! migrate_component {
    ($migrations:expr) => {
        static MIGRATIONS: &[$crate::migrate::Migration] = $migrations;

        fn status(ctx: &$crate::RequestCtx) -> $crate::HandlerResult {
            $crate::migrate::http::status(ctx, MIGRATIONS)
        }

        fn upgrade(ctx: &$crate::RequestCtx) -> $crate::HandlerResult {
            $crate::migrate::http::upgrade(ctx, MIGRATIONS)
        }

        fn downgrade(ctx: &$crate::RequestCtx) -> $crate::HandlerResult {
            $crate::migrate::http::downgrade(ctx, MIGRATIONS)
        }

        #[spin_sdk::http_component]
        async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
            let router = $crate::Router::named("migrate")
                .get("/admin/migrations", status)
                .post("/admin/migrations/upgrade", upgrade)
                .post("/admin/migrations/downgrade", downgrade);
            $crate::handle(&router, req).await
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::fake::FakeBackend;
    use crate::pg::{DbFailure, PgFailure};
    use crate::request::Method;

    static SET: &[Migration] = &[
        Migration {
            revision: "0001",
            name: "ok",
            up: &["CREATE TABLE t ()"],
            down: &["DROP TABLE t"],
            checksum: "c1",
        },
        Migration {
            revision: "0002",
            name: "fails",
            up: &["SELECT 1/0"],
            down: &[],
            checksum: "c2",
        },
    ];

    /// The services a request of these tests gets: the admin token and a
    /// scripted database (`fake`, shared with every `db()`).
    struct TestEnv {
        services: std::rc::Rc<crate::services::fake::FakeServices>,
        fake: FakeBackend,
    }

    impl TestEnv {
        fn req(&self, method: Method, auth: Option<&str>, body: &str) -> RequestCtx {
            let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
            if let Some(a) = auth {
                headers.push(("authorization".to_owned(), a.to_owned()));
            }
            RequestCtx::new(
                method,
                "/admin/migrations",
                "",
                headers,
                body.as_bytes().to_vec(),
            )
            .with_services(self.services.clone())
        }
    }

    fn env() -> TestEnv {
        let services = crate::services::fake::FakeServices::new(&[("admin_token", "s3cret")], 0);
        let fake = services.backend.clone();
        TestEnv {
            services: std::rc::Rc::new(services),
            fake,
        }
    }

    #[test]
    fn bearer_token_is_required() {
        let e = env();
        for auth in [
            None,
            Some("Bearer wrong"),
            Some("Basic s3cret"),
            Some("s3cret"),
            Some("Bearer "),
        ] {
            let err = status(&e.req(Method::Get, auth, ""), SET).unwrap_err();
            assert_eq!(err, Error::Unauthorized, "{auth:?}");
        }
        // 401 comes before body validation
        let err = upgrade(&e.req(Method::Post, None, "{"), SET).unwrap_err();
        assert_eq!(err, Error::Unauthorized);
        e.fake.answer(r#"[{"present":false}]"#);
        let ok = status(&e.req(Method::Get, Some("bearer s3cret"), ""), SET).unwrap();
        assert_eq!(ok.status(), 200);
        let v: serde_json::Value = serde_json::from_slice(ok.body()).unwrap();
        assert_eq!(v["current"], serde_json::Value::Null);
        assert_eq!(v["head"], "0002");
        assert_eq!(v["pending"][0]["revision"], "0001");
        assert!(v["drift"].as_array().unwrap().is_empty());
    }

    #[test]
    fn bad_bodies_are_400_or_422() {
        let e = env();
        let auth = Some("Bearer s3cret");
        // 400: the body has not the request's shape; 422: a value breaks a rule.
        let cases = [
            (true, "{}", 400),
            (true, r#"{"target": "latest"}"#, 422),
            (true, r#"{"target": "head", "x": 1}"#, 400),
            (false, "{}", 400),
            (false, r#"{"steps": 0}"#, 422),
            (false, r#"{"steps": -1}"#, 400),
            (false, r#"{"steps": 1, "target": "base"}"#, 400),
            (false, r#"{"target": "head"}"#, 422),
        ];
        for (is_upgrade, body, status) in cases {
            let ctx = e.req(Method::Post, auth, body);
            let result = if is_upgrade {
                upgrade(&ctx, SET)
            } else {
                downgrade(&ctx, SET)
            };
            assert_eq!(result.unwrap_err().status(), status, "{body}");
        }
        assert!(e.fake.statements().is_empty(), "nothing ran");
    }

    #[test]
    fn a_failed_step_is_a_migration_failed_problem() {
        let e = env();
        e.fake.answer("[]").fail_execute(
            "SELECT 1/0",
            PgFailure::Db(DbFailure {
                code: "22012".into(),
                message: "division by zero".into(),
                ..DbFailure::default()
            }),
        );
        let err = upgrade(
            &e.req(Method::Post, Some("Bearer s3cret"), r#"{"target":"head"}"#),
            SET,
        )
        .unwrap_err();
        // Rendered by error.rs, like every problem.
        let r = err.to_response("rid");
        assert_eq!(r.status(), 500);
        assert_eq!(
            r.header("content-type"),
            Some(crate::error::PROBLEM_CONTENT_TYPE)
        );
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(
            v["type"],
            format!("{}migration-failed", crate::error::PROBLEM_TYPE_BASE)
        );
        assert_eq!(v["request_id"], "rid");
        assert_eq!(v["revision"], "0002");
        assert_eq!(v["sqlstate"], "22012");
        assert_eq!(v["to"], "0001");
        assert_eq!(v["ran"][0]["revision"], "0001");
        let detail = v["detail"].as_str().unwrap();
        assert!(
            detail.contains("22012") && detail.contains("division by zero"),
            "{detail}"
        );
    }

    #[test]
    fn a_successful_upgrade_reports_what_ran() {
        let e = env();
        e.fake.answer("[]");
        let r = upgrade(
            &e.req(Method::Post, Some("Bearer s3cret"), r#"{"target":"0001"}"#),
            SET,
        )
        .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["from"], serde_json::Value::Null);
        assert_eq!(v["to"], "0001");
        assert_eq!(v["ran"][0]["direction"], "up");
        assert!(v["ran"][0]["ms"].is_u64());
        assert!(v.get("failed").is_none());
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
