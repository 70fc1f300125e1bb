//! Sign-up, sign-in and tokens.
//!
//! - `POST /v1/auth/signup` `{email, password, name, org_name, org_slug?}`: 201 user, org, tokens.
//! - `POST /v1/auth/login` `{email, password, org_slug?}`: 200 tokens and the user's orgs.
//! - `POST /v1/auth/refresh` `{refresh_token}`: 200 rotated tokens.
//! - `POST /v1/auth/logout` `{scope?: "session"|"all"|"others"}` (bearer): 204.
//! - `GET /v1/auth/me` (bearer): the user, the org and the role.
//! - `GET /.well-known/jwks.json`: the public signing keys.
//!
//! Variables: `db_url`, `jwt_keys` (secret), `token_secret` (secret),
//! `jwt_issuer`, `jwt_audience`.

mod login;
mod refresh;
mod session;
mod signup;
mod tokens;

use plinth_platform::Router;

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::new()
        .post("/v1/auth/signup", signup::signup)
        .post("/v1/auth/login", login::login)
        .post("/v1/auth/refresh", refresh::refresh)
        .post("/v1/auth/logout", session::logout)
        .get("/v1/auth/me", session::me)
        .get("/.well-known/jwks.json", tokens::jwks);
    plinth_platform::handle(&router, req).await
}
