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
//! - `GET /v1/auth/me` (bearer): the user, the org and the role.
//! - `GET /.well-known/jwks.json`: the public signing keys.
//!
//! Signup, login, token and refresh are rate-limited in Redis (`rate_limit`):
//! 429 over a limit, 503 when Redis is down, RateLimit headers on every answer.
//!
//! Variables: `db_url`, `redis_url`, `jwt_keys` (secret), `token_secret` (secret),
//! `jwt_issuer`, `jwt_audience`, `auth_rate_per_minute` (per client address and
//! route; empty: 300).

mod login;
mod oauth;
mod rate_limit;
mod refresh;
mod session;
mod signup;
mod switch_org;
mod tokens;

use plinth_platform::Router;

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::new()
        .post("/v1/auth/signup", signup::signup)
        .post("/v1/auth/login", login::login)
        .post("/v1/auth/token", oauth::token)
        .post("/v1/auth/refresh", refresh::refresh)
        .post("/v1/auth/switch-org", switch_org::switch_org)
        .post("/v1/auth/logout", session::logout)
        .get("/v1/auth/me", session::me)
        .get("/.well-known/jwks.json", tokens::jwks);
    plinth_platform::handle(&router, req).await
}
