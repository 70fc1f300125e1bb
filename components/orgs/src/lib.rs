//! Orgs: not implemented yet.
//!
//! - `ANY /v1/orgs/...`: 501 problem+json.

use plinth_platform::{Error, HandlerResult, RequestCtx, Router};

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::new().any("/v1/orgs/...", not_implemented);
    plinth_platform::handle(&router, req).await
}

fn not_implemented(_: &RequestCtx) -> HandlerResult {
    Err(Error::NotImplemented("orgs is not implemented yet".into()))
}
