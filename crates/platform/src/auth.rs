//! Who is calling, and what they may do.
//!
//! A request's bearer token becomes [`Credentials`] after every check a
//! token can pass on its own ([`token::inspect`]: structure, header, claims,
//! times). Credentials are not yet a [`Caller`]: only the database makes
//! one, in the first statement of the request's tenant work, by finding
//!
//! - the token's session, not revoked, not expired, whose stored access
//!   digest is this token's SHA-256 (so the token is one this service
//!   issued, byte for byte: no signature check is needed on the hot path,
//!   and a revoked session is refused on the next request), and
//! - the user's membership in the token's org, whose role (read now, not
//!   taken from the token) must allow the route's [`Permission`].
//!
//! That check rides along with the tenant statement itself, so an
//! authenticated read is one round trip: [`Db::tenant_read`]. A write opens a
//! transaction whose first statement is the check: [`Db::tenant_as`].
//! Third parties verify the same tokens' Ed25519 signatures with the JWKS.
//!
//! **Architecture Invariant**: a [`Caller`] is built only here, from a row
//! the database returned for the token's digest; the org of tenant work is
//! the token's, never the request's.
//!
//! **Relies on** PostgreSQL scanning a subquery of `FROM` before it computes
//! the select list: `plinth_confirm` (which sets `app.org_id`) runs before
//! the subquery that reads tenant rows under row-level security, which the
//! select list reaches only once it returned a role. `tests/e2e` proves it
//! on every path that uses it.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::config::Source;
use crate::domain::{OrgId, SessionId, UserId};
use crate::error::Error;
use crate::log;
use crate::pg::{Db, Param, Start, TenantTx, uses_param_one};
use crate::request::RequestCtx;
use crate::token::{self, AnyKid, Validation};

pub use crate::permission::{Grant, Permission, PermissionSet, Role};

/// Settings token checks need: `jwt_issuer`, `jwt_audience`.
pub fn validation(config: &dyn Source, now: i64) -> Result<Validation, Error> {
    Ok(Validation::new(
        config.get("jwt_issuer")?,
        config.get("jwt_audience")?,
        now,
    ))
}

/// What a bearer token claims, after every check but the database's.
#[derive(Debug, Clone)]
pub struct Credentials {
    user: UserId,
    org: OrgId,
    session: SessionId,
    digest: String,
}

impl Credentials {
    /// The `Authorization: Bearer` token of the request; 401 when it is
    /// missing or fails any check a token can fail on its own.
    pub fn from_request(ctx: &RequestCtx) -> Result<Self, Error> {
        let token = bearer(ctx.header("authorization")).ok_or(Error::Unauthorized)?;
        let validation = validation(ctx.config(), ctx.now())?;
        Self::from_token(token, &validation)
    }

    pub fn from_token(token: &str, validation: &Validation) -> Result<Self, Error> {
        let claims = token::inspect(token, &AnyKid, validation).map_err(|reason| {
            log::warn(format_args!("token refused: {reason}"));
            Error::Unauthorized
        })?;
        let unauthorized = |_| Error::Unauthorized;
        Ok(Self {
            user: UserId::parse(&claims.sub).map_err(unauthorized)?,
            org: OrgId::parse(&claims.org).map_err(unauthorized)?,
            session: SessionId::parse(&claims.sid).map_err(unauthorized)?,
            digest: token::token_digest(token),
        })
    }

    /// The org the token is for (not yet confirmed).
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The user the token is for (not yet confirmed: bind it only into the
    /// statement that confirms it, as [`Db::tenant_read`] does).
    pub fn user(&self) -> UserId {
        self.user
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any case).
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A confirmed caller: the database found the token's live session and the
/// user's membership, with this role, in this org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    user: UserId,
    org: OrgId,
    session: SessionId,
    role: Role,
    permissions: PermissionSet,
    budget: Option<u32>,
}

impl Caller {
    pub fn user(&self) -> UserId {
        self.user
    }
    pub fn org(&self) -> OrgId {
        self.org
    }
    pub fn session(&self) -> SessionId {
        self.session
    }
    pub fn role(&self) -> Role {
        self.role
    }
    /// What the caller's role holds in this org (its configuration there).
    pub fn permissions(&self) -> PermissionSet {
        self.permissions
    }
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(permission)
    }
    /// The org's request budget per minute, when it set one.
    pub fn budget(&self) -> Option<u32> {
        self.budget
    }
}

/// The database's answer for credentials: `plinth_confirm` (migration
/// 0002) returns the role in the org, `''` for a live session without a
/// membership there, NULL for no live session; only with a role does it set
/// `app.org_id`. Its plan is cached per connection, so the check costs one
/// index lookup, not a planned join, per request.
fn confirm_call(first: usize, org: &str) -> String {
    format!(
        "plinth_confirm(${first}::text::uuid, ${}::text::uuid, {org}, ${}::text)",
        first + 1,
        first + 2
    )
}

impl Credentials {
    fn params(&self) -> [Param; 3] {
        [
            Param::Text(self.session.as_str().to_owned()),
            Param::Text(self.user.as_str().to_owned()),
            Param::Text(self.digest.clone()),
        ]
    }

    /// The caller, if the database found a role for it; else 401 (no live
    /// session for this token) or 403 (no membership, or a role that does
    /// not hold `permission` in this org). `None` asks only for a membership.
    fn confirm(
        &self,
        answer: Option<&str>,
        permission: Option<Permission>,
    ) -> Result<Caller, Error> {
        let grant = match answer {
            None => return Err(Error::Unauthorized),
            Some("") => return Err(Error::Forbidden),
            Some(answer) => Grant::parse(answer)?,
        };
        log::set_caller(self.org.as_str(), self.user.as_str());
        if permission.is_some_and(|p| !grant.permissions.contains(p)) {
            return Err(Error::Forbidden);
        }
        Ok(Caller {
            user: self.user,
            org: self.org,
            session: self.session,
            role: grant.role,
            permissions: grant.permissions,
            budget: grant.budget,
        })
    }
}

/// The first statement of [`Db::tenant_as`]: the credential check (which
/// sets the org for row-level security), and whether the transaction is our
/// own.
fn tenant_start_sql() -> String {
    format!(
        "SELECT json_build_array({}, txid_current_if_assigned() IS NULL)::text",
        confirm_call(2, "$1::text::uuid"),
    )
}

/// One statement: the credential check, then (only when it found a role,
/// and so after it set `app.org_id`) the tenant rows of `sql` as JSON. The
/// check runs in a subquery of `FROM`, which is scanned before the select
/// list is computed.
fn tenant_read_sql(sql: &str, params: usize) -> String {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    format!(
        "SELECT json_build_array(auth.role, CASE WHEN auth.role <> '' THEN \
         (SELECT coalesce(json_agg(t), '[]') FROM ({sql}\n) t) END)::text \
         FROM (SELECT {} AS role) auth",
        confirm_call(params + 2, "$1"),
    )
}

/// `[role, fresh]`.
#[derive(Deserialize)]
struct TenantStart(Option<String>, bool);

/// `[role, rows]`.
#[derive(Deserialize)]
struct TenantRead<T>(Option<String>, Option<Vec<T>>);

impl Db {
    /// Runs `f` in a transaction scoped to the credentials' org, once the
    /// database has confirmed them and found a role that allows
    /// `permission`: the first statement after `BEGIN` is that check (and
    /// sets `app.org_id`), so it costs no extra round trip. 401/403 otherwise,
    /// with nothing done. `f` finds the [`Caller`] in `tx.caller()`.
    pub fn tenant_as<R>(
        &self,
        credentials: &Credentials,
        permission: Permission,
        f: impl FnOnce(&TenantTx<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.tenant_tx(credentials, Some(permission), f)
    }

    /// [`Db::tenant_as`] for any member, whatever their role holds: for what
    /// is the member's own (leaving an org).
    pub fn member_as<R>(
        &self,
        credentials: &Credentials,
        f: impl FnOnce(&TenantTx<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.tenant_tx(credentials, None, f)
    }

    fn tenant_tx<R>(
        &self,
        credentials: &Credentials,
        permission: Option<Permission>,
        f: impl FnOnce(&TenantTx<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let sql = tenant_start_sql();
        let mut params = vec![Param::Text(credentials.org.as_str().to_owned())];
        params.extend(credentials.params());
        self.in_transaction(
            |db| {
                let cell = db.fetch_start(&sql, &params)?;
                let TenantStart(role, fresh) = serde_json::from_str(&cell)
                    .map_err(|err| Error::internal_from("decode the tenant check", &err))?;
                Ok(if fresh {
                    Start::Fresh(role)
                } else {
                    Start::Dirty
                })
            },
            |tx, role| {
                let caller = credentials.confirm(role.as_deref(), permission)?;
                f(&TenantTx {
                    db: tx.db,
                    org: caller.org,
                    caller: Some(caller),
                })
            },
        )
    }

    /// The confirmed caller of `credentials` (any role, no permission
    /// needed), in one round trip: for work that is the user's own rather
    /// than the org's (sessions).
    pub fn confirm(&self, credentials: &Credentials) -> Result<Caller, Error> {
        self.member_read::<IgnoredAny>(
            credentials,
            "SELECT 1 AS one WHERE $1::uuid IS NOT NULL",
            &[],
        )
        .map(|(caller, _)| caller)
    }

    /// The rows of a tenant read for confirmed credentials, in **one**
    /// statement: the credential check, `app.org_id` for row-level security,
    /// and `sql` (which filters with `org_id = $1` and numbers its own
    /// parameters from `$2`, as in a [`TenantTx`]). 401/403 as for
    /// [`Db::tenant_as`], with no row read.
    pub fn tenant_read<T: serde::de::DeserializeOwned>(
        &self,
        credentials: &Credentials,
        permission: Permission,
        sql: &str,
        params: &[Param],
    ) -> Result<(Caller, Vec<T>), Error> {
        self.read_confirmed(credentials, Some(permission), sql, params)
    }

    /// [`Db::tenant_read`] that needs a membership but no permission: for
    /// what is the member's own (`/v1/auth/me`), which no configuration of
    /// the org's roles may take away.
    pub fn member_read<T: serde::de::DeserializeOwned>(
        &self,
        credentials: &Credentials,
        sql: &str,
        params: &[Param],
    ) -> Result<(Caller, Vec<T>), Error> {
        self.read_confirmed(credentials, None, sql, params)
    }

    fn read_confirmed<T: serde::de::DeserializeOwned>(
        &self,
        credentials: &Credentials,
        permission: Option<Permission>,
        sql: &str,
        params: &[Param],
    ) -> Result<(Caller, Vec<T>), Error> {
        if !uses_param_one(sql) {
            return Err(Error::internal(format!(
                "tenant SQL does not use the org id ($1): {sql}"
            )));
        }
        let mut all = Vec::with_capacity(params.len() + 4);
        all.push(Param::from(credentials.org));
        all.extend_from_slice(params);
        all.extend(credentials.params());
        let cell = self.fetch_start(&tenant_read_sql(sql, params.len()), &all)?;
        let TenantRead(role, rows) =
            crate::domain::org_id::decoding_rows(|| serde_json::from_str::<TenantRead<T>>(&cell))
                .map_err(|err| Error::internal_from("decode the tenant read", &err))?;
        let caller = credentials.confirm(role.as_deref(), permission)?;
        Ok((caller, rows.unwrap_or_default()))
    }
}

/// The tenant entry points of a request: the bearer token's credentials,
/// confirmed by the database, then the org's request budget (when it set
/// one) spent in Redis. Every tenant route starts here.
impl RequestCtx {
    /// [`Db::tenant_read`] for this request's bearer token.
    pub fn tenant_read<T: serde::de::DeserializeOwned>(
        &self,
        permission: Permission,
        sql: &str,
        params: &[Param],
    ) -> Result<(Caller, Vec<T>), Error> {
        let credentials = Credentials::from_request(self)?;
        let (caller, rows) = self
            .db()?
            .tenant_read(&credentials, permission, sql, params)?;
        self.spend_budget(&caller)?;
        Ok((caller, rows))
    }

    /// [`Db::tenant_as`] for this request's bearer token; the budget is
    /// spent before `f` runs.
    pub fn tenant_as<R>(
        &self,
        permission: Permission,
        f: impl FnOnce(&TenantTx<'_>, &Caller) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.tenant_tx(Some(permission), f)
    }

    /// [`Db::member_as`] for this request's bearer token.
    pub fn member_as<R>(
        &self,
        f: impl FnOnce(&TenantTx<'_>, &Caller) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.tenant_tx(None, f)
    }

    fn tenant_tx<R>(
        &self,
        permission: Option<Permission>,
        f: impl FnOnce(&TenantTx<'_>, &Caller) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let credentials = Credentials::from_request(self)?;
        self.db()?.tenant_tx(&credentials, permission, |tx| {
            let caller = tx
                .caller()
                .ok_or_else(|| Error::internal("tenant_as without a caller"))?;
            self.spend_budget(caller)?;
            f(tx, caller)
        })
    }

    /// Counts this request against the org's budget: 429 with the
    /// RateLimit headers once a minute's budget is spent. Redis being
    /// unreachable lets the request through (logged): the budget protects
    /// capacity, and is not worth an outage of every tenant route.
    fn spend_budget(&self, caller: &Caller) -> Result<(), Error> {
        let Some(budget) = caller.budget() else {
            return Ok(());
        };
        let window = BUDGET_WINDOW_SECS;
        let now = self.now().max(0) as u64;
        let start = now - now % window;
        let key = crate::redis::tenant_key(&caller.org(), &format!("budget:{start}"));
        let count = match self.services().count_in_window(&key, window) {
            Ok(count) => count,
            Err(err) => {
                log::warn(format_args!("org request budget not enforced: {err}"));
                return Ok(());
            }
        };
        let reset = start + window - now;
        if count > i64::from(budget) {
            return Err(Error::TooManyRequests {
                retry_after: reset,
                policy: Some(crate::error::RateLimitPolicy {
                    name: "org",
                    quota: u64::from(budget),
                    window,
                    remaining: 0,
                    reset,
                }),
            });
        }
        Ok(())
    }
}

/// The window of an org's request budget (requests per minute).
const BUDGET_WINDOW_SECS: u64 = 60;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::fake::FakeBackend;
    use crate::token::{AccessClaims, KeyRing, mint};

    const ORG: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
    const USER: &str = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    const SESSION: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

    fn credentials() -> (String, Credentials) {
        let ring = KeyRing::parse(&crate::config::Secret::new(KeyRing::generate_entry(
            "k1", [7; 32],
        )))
        .unwrap();
        let token = mint(
            &ring,
            &AccessClaims {
                iss: "iss".into(),
                aud: "aud".into(),
                sub: USER.into(),
                org: ORG.into(),
                role: "owner".into(),
                sid: SESSION.into(),
                jti: "j".into(),
                iat: 1_000,
                exp: 2_000,
                nbf: None,
            },
        );
        let creds = Credentials::from_token(&token, &Validation::new("iss", "aud", 1_500)).unwrap();
        (token, creds)
    }

    #[test]
    fn bearer_header_table() {
        let cases = [
            (Some("Bearer abc"), Some("abc")),
            (Some("bearer  abc "), Some("abc")),
            (Some("Basic abc"), None),
            (Some("Bearer"), None),
            (Some("Bearer "), None),
            (None, None),
        ];
        for (header, want) in cases {
            assert_eq!(bearer(header), want, "{header:?}");
        }
    }

    #[test]
    fn credentials_carry_the_digest_of_the_exact_token() {
        let (token, creds) = credentials();
        assert_eq!(creds.digest, token::token_digest(&token));
        assert_eq!(creds.org.as_str(), ORG);
        assert_eq!(
            Credentials::from_token(&token, &Validation::new("iss", "other", 1_500))
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn tenant_read_is_one_statement_and_confirms_the_caller() {
        let (_, creds) = credentials();
        let fake = FakeBackend::new();
        fake.answer(r#"["admin",[{"n":1}]]"#);
        let db = Db::with_backend(fake.clone());
        let (caller, rows): (Caller, Vec<serde_json::Value>) = db
            .tenant_read(
                &creds,
                Permission::OrgRead,
                "SELECT 1 AS n FROM org WHERE id = $1 AND name = $2",
                &["x".into()],
            )
            .unwrap();
        assert_eq!(caller.role(), Role::Admin);
        assert_eq!(rows, [serde_json::json!({"n": 1})]);
        let calls = fake.calls();
        assert_eq!(calls.len(), 1, "one round trip");
        let (sql, params) = &calls[0];
        assert!(
            sql.contains(
                "FROM (SELECT plinth_confirm($3::text::uuid, $4::text::uuid, $1, $5::text)"
            ),
            "the check is in FROM, scanned before the rows are read: {sql}"
        );
        assert_eq!(params[0], Param::Uuid(ORG.into()));
        assert_eq!(params[1], Param::Text("x".into()));
        assert_eq!(params.len(), 5);
    }

    #[test]
    fn tenant_read_refusals() {
        let (_, creds) = credentials();
        let cases = [
            (r#"[null,null]"#, Permission::OrgRead, 401),
            (r#"["",null]"#, Permission::OrgRead, 403),
            (r#"["viewer",[]]"#, Permission::CompaniesWrite, 403),
        ];
        for (answer, permission, status) in cases {
            let fake = FakeBackend::new();
            fake.answer(answer);
            let db = Db::with_backend(fake);
            let err = db
                .tenant_read::<serde_json::Value>(
                    &creds,
                    permission,
                    "SELECT 1 FROM org WHERE id = $1",
                    &[],
                )
                .unwrap_err();
            assert_eq!(err.status(), status, "{answer}");
        }
    }

    #[test]
    fn tenant_as_checks_first_and_does_nothing_when_refused() {
        let (_, creds) = credentials();
        let fake = FakeBackend::new();
        fake.answer(r#"["member",true]"#);
        let db = Db::with_backend(fake.clone());
        let role = db
            .tenant_as(&creds, Permission::CompaniesWrite, |tx| {
                tx.execute(
                    "UPDATE companies SET name = $2 WHERE org_id = $1",
                    &["n".into()],
                )?;
                Ok(tx.caller().map(Caller::role))
            })
            .unwrap();
        assert_eq!(role, Some(Role::Member));
        let statements: Vec<String> = fake.calls().into_iter().map(|(sql, _)| sql).collect();
        assert_eq!(statements[0], "BEGIN");
        assert!(statements[1].contains("txid_current_if_assigned() IS NULL"));
        assert!(statements[2].starts_with("UPDATE companies"));
        assert_eq!(statements[3], "COMMIT");

        let fake = FakeBackend::new();
        fake.answer(r#"["viewer",true]"#);
        let db = Db::with_backend(fake.clone());
        let err = db
            .tenant_as(&creds, Permission::CompaniesWrite, |tx| {
                tx.execute("DELETE FROM companies WHERE org_id = $1", &[])
            })
            .unwrap_err();
        assert_eq!(err.status(), 403);
        let statements: Vec<String> = fake.calls().into_iter().map(|(sql, _)| sql).collect();
        assert!(
            !statements.iter().any(|s| s.starts_with("DELETE")),
            "{statements:?}"
        );
        assert_eq!(statements.last().map(String::as_str), Some("ROLLBACK"));
    }

    #[test]
    fn tenant_as_starts_again_on_a_connection_left_in_a_transaction() {
        let (_, creds) = credentials();
        let fake = FakeBackend::new();
        fake.answer(r#"["owner",false]"#);
        fake.answer(r#"["owner",true]"#);
        let db = Db::with_backend(fake.clone());
        db.tenant_as(&creds, Permission::OrgDelete, |_| Ok(()))
            .unwrap();
        let statements: Vec<String> = fake.calls().into_iter().map(|(sql, _)| sql).collect();
        assert_eq!(statements[2], "ROLLBACK");
        assert_eq!(statements[3], "BEGIN");
        assert_eq!(statements.last().map(String::as_str), Some("COMMIT"));
    }
}
