//! Partners: the customers and suppliers of an org's companies (docs/partners.md).
//!
//! - `POST /v1/partners` (partners.write) → 201 the partner, with `ETag`;
//!   `company_id` in the body.
//! - `POST /v1/companies/{company_id}/partners` (partners.write): the same, for
//!   the company of the path (404 when the org has no such company).
//! - `GET /v1/partners` (partners.read): paged,
//!   `?kind=&status=&company_id=&tag=&sort=&limit=&cursor=`, or one page of
//!   fuzzy matches best first with `?q=`.
//! - `GET /v1/companies/{company_id}/partners` (partners.read): the same list for
//!   the company of the path (404 when the org has no such company).
//! - `GET /v1/partners/{id}` (partners.read): the partner, with `ETag`.
//! - `PATCH /v1/partners/{id}` (partners.write, `If-Match` required).
//! - `DELETE /v1/partners/{id}` (partners.delete, `If-Match` optional): 204.
//!
//! Variables: `db_url`, `redis_url` (org request budgets), `jwt_issuer`,
//! `jwt_audience`.

// The pure modules also build natively, for their unit tests
// (`cargo test -p plinth-partners`).
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod create;
mod delete;
mod input;
mod list;
mod partner;
mod read;
mod update;

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = plinth_platform::Router::new()
        .post("/v1/partners", create::create)
        .get("/v1/partners", list::list)
        .get("/v1/partners/:id", read::get)
        .patch("/v1/partners/:id", update::update)
        .delete("/v1/partners/:id", delete::delete)
        .post(
            "/v1/companies/:company_id/partners",
            create::create_for_company,
        )
        .get("/v1/companies/:company_id/partners", list::list_for_company);
    plinth_platform::handle(&router, req).await
}
