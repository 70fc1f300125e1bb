//! Orgs, the tenants.
//!
//! - `GET /v1/orgs/current` (bearer): the org of the token, with the caller's role.
//! - `GET /v1/orgs` (bearer): the orgs the caller belongs to.
//! - any other `/v1/orgs/...`: 501 until built.
//!
//! Variables: `db_url`, `jwt_issuer`, `jwt_audience`.

mod current;

use plinth_platform::{Error, HandlerResult, RequestCtx, Router};

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::new()
        .get("/v1/orgs/current", current::get)
        .get("/v1/orgs", current::mine)
        .any("/v1/orgs/...", not_implemented);
    plinth_platform::handle(&router, req).await
}

fn not_implemented(_: &RequestCtx) -> HandlerResult {
    Err(Error::NotImplemented(
        "this orgs route is not built yet".into(),
    ))
}
