//! Orgs, the tenants.
//!
//! - `GET /v1/orgs/current` (bearer): the org of the token, with the caller's role and `ETag`.
//! - `PATCH /v1/orgs/current` `{name?, slug?, settings?}` (admin+, `If-Match`): 200 the changed org.
//! - `DELETE /v1/orgs/current` (owner): 204, or 409 listing what blocks it.
//! - `GET /v1/orgs` (bearer): the orgs the caller belongs to.
//! - `POST /v1/orgs` `{name, slug?}` (bearer): 201 a new org, the caller its owner.
//! - any other `/v1/orgs/...`: 501 until built.
//!
//! Variables: `db_url`, `jwt_issuer`, `jwt_audience`.

mod create;
mod current;
mod delete;
mod input;
mod org;
mod update;

use plinth_platform::{Error, HandlerResult, RequestCtx, Router};

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::new()
        .get("/v1/orgs/current", current::get)
        .patch("/v1/orgs/current", update::update)
        .delete("/v1/orgs/current", delete::delete)
        .get("/v1/orgs", current::mine)
        .post("/v1/orgs", create::create)
        .any("/v1/orgs/...", not_implemented);
    plinth_platform::handle(&router, req).await
}

fn not_implemented(_: &RequestCtx) -> HandlerResult {
    Err(Error::NotImplemented(
        "this orgs route is not built yet".into(),
    ))
}
