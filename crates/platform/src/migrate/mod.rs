//! Schema migrations: the embedded SQL files, planning and the runner.
//!
//! - [`plan`] (pure): [`Migration`] (generated at build time by
//!   `plinth_migration_lint::build::embed_migrations`), status with drift
//!   detection, upgrade/downgrade plans.
//! - [`runner`]: runs a plan through [`Db`](crate::pg::Db) under an advisory
//!   lock, one transaction per step.
//! - [`http`]: the `/admin/migrations` routes shared by the migrate component
//!   and its test fixture.
//!
//! **Architecture Invariant**: migrations run only through the migrate
//! component, with the owner role; the app role can read `schema_migrations`
//! but owns nothing.

pub mod http;
pub mod plan;
pub mod runner;

pub use plan::{Direction, DowngradeTarget, Migration, Status, UpgradeTarget};
pub use runner::{Outcome, Runner};
