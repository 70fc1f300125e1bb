//! Schema migrations over HTTP, for operators (owner database role).
//!
//! Every route requires `Authorization: Bearer <admin_token>`.
//!
//! - `GET  /admin/migrations` → `{current, head, applied, pending, drift}`
//! - `POST /admin/migrations/upgrade` `{"target": "head" | "NNNN"}` → `{from, to, ran}`
//! - `POST /admin/migrations/downgrade` `{"steps": N}` or `{"target": "base" | "NNNN"}`
//!   → `{from, to, ran}`
//!
//! The migrations are `migrations/*.sql`, embedded at build time. Shapes and
//! errors: `plinth_platform::migrate::http`.

use plinth_platform::migrate::Migration;
use plinth_platform::migrate::http::{self, SpinEnv};
use plinth_platform::{HandlerResult, RequestCtx, Router};

static MIGRATIONS: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

fn status(ctx: &RequestCtx) -> HandlerResult {
    http::status(ctx, &SpinEnv, MIGRATIONS)
}

fn upgrade(ctx: &RequestCtx) -> HandlerResult {
    http::upgrade(ctx, &SpinEnv, MIGRATIONS)
}

fn downgrade(ctx: &RequestCtx) -> HandlerResult {
    http::downgrade(ctx, &SpinEnv, MIGRATIONS)
}

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::new()
        .get("/admin/migrations", status)
        .post("/admin/migrations/upgrade", upgrade)
        .post("/admin/migrations/downgrade", downgrade);
    plinth_platform::handle(&router, req).await
}
