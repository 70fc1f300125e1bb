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

plinth_platform::migrate_component!(include!(concat!(env!("OUT_DIR"), "/migrations.rs")));
