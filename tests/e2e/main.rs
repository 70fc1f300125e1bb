//! End-to-end tests: one binary that drives the real host over HTTP.
//!
//! Needs what `cargo xtask test` prepares: the wasm components built, devhost built
//! (`PLINTH_DEVHOST_BIN`, default target/release/devhost) and the services running
//! (target/dev/services.env). `APP_RUNTIME=spin` runs the same tests against
//! `$SPIN_BIN up` instead of devhost.

mod account;
mod auth_flows;
mod bench;
mod companies;
mod deploy;
mod files;
mod health;
mod helpers;
mod host_conformance;
mod host_pool;
mod host_routing;
mod identity;
mod manifest_errors;
mod migrations;
mod openapi;
mod org_admin;
mod orgs;
mod partners;
mod platform_writes;
mod reload;
mod resources;
mod schema;
mod walkthrough;
