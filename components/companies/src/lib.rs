//! Companies: the legal entities an org runs (docs/companies.md).
//!
//! - `POST /v1/companies` (companies.write) → 201 the company, with `ETag`.
//! - `GET /v1/companies` (companies.read): paged, `?status=&sort=&limit=&cursor=`,
//!   or one page of fuzzy matches best first with `?q=`.
//! - `GET /v1/companies/{id}` (companies.read): the company, with `ETag`.
//! - `PATCH /v1/companies/{id}` (companies.write, `If-Match` required).
//! - `DELETE /v1/companies/{id}` (companies.delete, `If-Match` optional): 204,
//!   or 409 listing what still refers to it.
//!
//! Variables: `db_url`, `redis_url` (org request budgets), `jwt_issuer`,
//! `jwt_audience`.

// The pure modules also build natively, for their unit tests
// (`cargo test -p plinth-companies`).
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod company;
mod create;
mod delete;
mod input;
mod list;
mod read;
mod update;

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = plinth_platform::Router::named("companies")
        .post("/v1/companies", create::create)
        .get("/v1/companies", list::list)
        .get("/v1/companies/:id", read::get)
        .patch("/v1/companies/:id", update::update)
        .delete("/v1/companies/:id", delete::delete);
    plinth_platform::handle(&router, req).await
}
