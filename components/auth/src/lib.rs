//! Authentication: not implemented yet.
//!
//! - `ANY /v1/auth/...`: 501 problem+json.
//! - `ANY /.well-known/jwks.json`: 501 problem+json.

use plinth_platform::{Error, HandlerResult, RequestCtx, Router};

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::new()
        .any("/v1/auth/...", not_implemented)
        .any("/.well-known/jwks.json", not_implemented);
    plinth_platform::handle(&router, req).await
}

fn not_implemented(_: &RequestCtx) -> HandlerResult {
    Err(Error::NotImplemented("auth is not implemented yet".into()))
}
