//! Sign-up, sign-in and tokens.
//!
//! - `POST /v1/auth/signup` `{email, password, name, org_name, org_slug?}`: 201 user, org, tokens.
//! - `POST /v1/auth/login` `{email, password, org_slug?}`: 200 tokens and the user's orgs.
//! - `POST /v1/auth/token` (form: `grant_type=password|refresh_token`): the OAuth 2.0
//!   token endpoint over the same sign-in and rotation (RFC 6749 errors).
//! - `POST /v1/auth/refresh` `{refresh_token}`: 200 rotated tokens.
//! - `POST /v1/auth/switch-org` `{org_id}` (bearer): 200 tokens of a new session in
//!   another of the caller's orgs, 404 if they are not a member there.
//! - `POST /v1/auth/logout` `{scope?: "session"|"all"|"others"}` (bearer): 204.
//! - `GET /v1/auth/me` (bearer): the user (with `email_verified`), the org and the role.
//! - `POST /v1/auth/accept-invite` `{token, name?, password?}`: joins an invitation's org;
//!   201 (new account) or 200, with tokens.
//! - `POST /v1/auth/verify-email` `{token}`: 200, the address verified.
//! - `POST /v1/auth/verify-email/resend` (bearer): 202, a new verification link.
//! - `POST /v1/auth/password/forgot` `{email}`: 202 whoever the address is.
//! - `POST /v1/auth/password/reset` `{token, password}`: 204, every session ended.
//! - `POST /v1/auth/password/change` (bearer) `{current_password, new_password,
//!   end_other_sessions?}`: 204.
//! - `GET /v1/auth/admin/outbox?to=` and `POST /v1/auth/admin/outbox/deliver` (admin
//!   token): the mail outbox, and sending it now.
//! - `GET /.well-known/jwks.json`: the public signing keys.
//!
//! Signup, login, token, refresh and the account routes are rate-limited in Redis
//! (`rate_limit`): 429 over a limit, 503 when Redis is down, RateLimit headers on every
//! answer; the routes that mail a link also keep one message per address per minute.
//!
//! Variables: `db_url`, `redis_url`, `jwt_keys` (secret), `token_secret` (secret),
//! `jwt_issuer`, `jwt_audience`, `auth_rate_per_minute` (per client address and
//! route; empty: 300), `auth_account_attempts_per_minute`, `admin_token` (secret);
//! optional (empty or undefined: off): `smtp_url` (`smtp://ip:port`), `mail_from`,
//! `public_url` (the base of mailed links).

mod invite;
mod login;
mod mailbox;
mod oauth;
mod outbox;
mod password_change;
mod password_reset;
mod rate_limit;
mod refresh;
mod session;
mod signup;
mod switch_org;
mod tokens;
mod verify;

use plinth_platform::Router;

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::named("auth")
        .post("/v1/auth/signup", signup::signup)
        .post("/v1/auth/login", login::login)
        .post("/v1/auth/token", oauth::token)
        .post("/v1/auth/refresh", refresh::refresh)
        .post("/v1/auth/switch-org", switch_org::switch_org)
        .post("/v1/auth/logout", session::logout)
        .get("/v1/auth/me", session::me)
        .post("/v1/auth/accept-invite", invite::accept)
        .post("/v1/auth/verify-email", verify::verify)
        .post("/v1/auth/verify-email/resend", verify::resend)
        .post("/v1/auth/password/forgot", password_reset::forgot)
        .post("/v1/auth/password/reset", password_reset::reset)
        .post("/v1/auth/password/change", password_change::change)
        .get("/v1/auth/admin/outbox", outbox::list)
        .post("/v1/auth/admin/outbox/deliver", outbox::deliver)
        .get("/.well-known/jwks.json", tokens::jwks);
    plinth_platform::handle(&router, req).await
}
