//! Orgs, the tenants, and running one.
//!
//! - `GET /v1/orgs/current` (org.read): the org of the token, with the caller's role and `ETag`.
//! - `PATCH /v1/orgs/current` `{name?, slug?, settings?}` (org.update, `If-Match`).
//! - `DELETE /v1/orgs/current` (org.delete: owners): 204, or 409 listing what blocks it.
//! - `GET /v1/orgs` (bearer): the orgs the caller belongs to.
//! - `POST /v1/orgs` `{name, slug?}` (bearer): 201 a new org, the caller its owner.
//! - `GET /v1/orgs/current/members` (members.read); `PATCH|DELETE …/members/{user_id}`;
//!   `GET|PUT …/members/{user_id}/companies` (which companies the member sees).
//! - `GET|PUT /v1/orgs/current/permissions`.
//! - `GET|PATCH /v1/orgs/current/settings` (merge patch, `If-Match`).
//! - `POST|GET /v1/orgs/current/invitations`, `DELETE …/{id}`, `POST …/{id}/resend`.
//! - `GET /v1/audit-events` (audit.read).
//!
//! Variables: `db_url`, `redis_url` (org request budgets), `jwt_issuer`,
//! `jwt_audience`, `public_url` (links in invitations).

mod audit_events;
mod company_access;
mod create;
mod current;
mod delete;
mod input;
mod invitations;
mod members;
mod org;
mod permissions;
mod settings;
mod update;

use plinth_platform::Router;

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::named("orgs")
        .get("/v1/orgs/current", current::get)
        .patch("/v1/orgs/current", update::update)
        .delete("/v1/orgs/current", delete::delete)
        .get("/v1/orgs", current::mine)
        .post("/v1/orgs", create::create)
        .get("/v1/orgs/current/members", members::list)
        .patch("/v1/orgs/current/members/:user_id", members::change_role)
        .delete("/v1/orgs/current/members/:user_id", members::remove)
        .get(
            "/v1/orgs/current/members/:user_id/companies",
            company_access::get,
        )
        .put(
            "/v1/orgs/current/members/:user_id/companies",
            company_access::put,
        )
        .get("/v1/orgs/current/permissions", permissions::get)
        .put("/v1/orgs/current/permissions", permissions::put)
        .get("/v1/orgs/current/settings", settings::get)
        .patch("/v1/orgs/current/settings", settings::patch)
        .post("/v1/orgs/current/invitations", invitations::create)
        .get("/v1/orgs/current/invitations", invitations::list)
        .delete("/v1/orgs/current/invitations/:id", invitations::revoke)
        .post(
            "/v1/orgs/current/invitations/:id/resend",
            invitations::resend,
        )
        .get("/v1/audit-events", audit_events::list);
    plinth_platform::handle(&router, req).await
}
