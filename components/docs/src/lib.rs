//! The API's own description.
//!
//! - `GET /openapi.json`: the OpenAPI 3.1 document (`docs/openapi.json`, embedded at
//!   build time) with a strong `ETag`; `If-None-Match` with it answers 304.
//! - `GET /docs`: a self-contained HTML page whose inline script renders the
//!   operations of `/openapi.json` (nothing is loaded from elsewhere).
//!
//! No variables, no outbound hosts.

// The handlers also build natively, for their unit tests (`cargo test -p plinth-docs`).
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod serve;

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = plinth_platform::Router::named("docs")
        .get("/openapi.json", serve::openapi)
        .get("/docs", serve::page);
    plinth_platform::handle(&router, req).await
}
