//! Plinth's migration tooling, native only.
//!
//! - [`files`]: what a migration directory is (`NNNN_name.up.sql` / `.down.sql` pairs)
//!   and the checksum recorded for each migration.
//! - [`split`]: cutting a file into single statements (Spin's `execute` takes one).
//! - [`build`]: used by component build scripts to embed a directory
//!   (`build::embed_migrations("../../migrations")`).
//! - [`lint`] (feature `lint`, on by default): the sqlparser check of the tenant
//!   conventions; `cargo xtask lint-migrations` calls [`lint_dir`].

pub mod build;
pub mod files;
#[cfg(feature = "lint")]
pub mod lint;
pub mod split;

#[cfg(feature = "lint")]
pub use lint::{Finding, GLOBAL_TABLES, INDEX_TABLES, lint_dir, rules};
