//! Health checks.
//!
//! - `GET /health/live`: 200 `{"status":"ok"}`. Touches no dependency and no
//!   variable (benchmarked: keep it allocation-light).
//! - `GET /health/ready`: Postgres (one query: reachable, migrations at the
//!   newest embedded revision, pg_trgm installed; pgvector reported), Redis
//!   (`PING`) and S3 (signed `HEAD` of the bucket). 200 when all pass, 503
//!   naming the failed ones; body described in `plinth_platform::health`.

mod ready;

use plinth_platform::response::json_static;
use plinth_platform::{HandlerResult, RequestCtx, Router};

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::named("health")
        .get("/health/live", live)
        .get_async("/health/ready", ready::ready);
    plinth_platform::handle(&router, req).await
}

fn live(_: &RequestCtx) -> HandlerResult {
    Ok(json_static(200, r#"{"status":"ok"}"#).with_header("cache-control", "no-store"))
}
