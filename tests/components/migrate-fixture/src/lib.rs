//! The migrate component over `tests/fixtures/migrations-failing` (0002 fails), for e2e tests.
//!
//! Every route requires `Authorization: Bearer <admin_token>`.
//!
//! - `GET  /admin/migrations` → `{current, head, applied, pending, drift}`
//! - `POST /admin/migrations/upgrade` `{"target": "head" | "NNNN"}` → `{from, to, ran}`
//! - `POST /admin/migrations/downgrade` `{"steps": N}` or `{"target": "base" | "NNNN"}`
//!   → `{from, to, ran}`
//!
//! The migrations are `tests/fixtures/migrations-failing/*.sql`, embedded at build time. Shapes and
//! errors: `plinth_platform::migrate::http`.

plinth_platform::migrate_component!(include!(concat!(env!("OUT_DIR"), "/migrations.rs")));
