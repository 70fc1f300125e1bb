//! The shared guest library of the Plinth components.
//!
//! Every component is a thin `lib.rs` that fills a [`Router`] and calls
//! [`handle`]; everything else lives here:
//!
//! - [`error`]: the one [`Error`], the only renderer of problem+json.
//! - [`router`]: routes, 404/405, the entry fn [`handle`].
//! - [`request`]: [`RequestCtx`], request ids, JSON bodies; [`response`]: [`Response`], [`json`].
//! - [`config`]: Spin variables and [`config::Secret`].
//! - [`pg`]: the one Postgres wrapper ([`Db`], [`TenantTx`], [`Param`]).
//! - [`redis`]: the cache wrapper; [`s3`]: SigV4 signing and bucket checks.
//! - [`mail`]: the outbox, one-time tokens and delivery; [`smtp`]: the SMTP client.
//! - [`domain`]: newtypes parsed at the edge ([`domain::OrgId`], [`domain::Slug`],
//!   [`domain::Id`]).
//! - [`page`]: bounded keyset pagination ([`PageRequest`], [`Page`], `TenantTx::fetch_page`);
//!   [`etag`]: `ETag` and the `If-Match` check; [`patch`]: the one `PATCH` flow under `If-Match`.
//! - [`migrate`]: the migration engine; [`health`]: the readiness report.
//! - [`log`], [`task`]: request-tagged log lines; small async helpers.
//!
//! **Architecture Invariant**: only this crate talks to the Spin host APIs;
//! pure logic compiles and is unit-tested natively, and everything that
//! touches `spin_sdk` sits behind `cfg(target_arch = "wasm32")`.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod etag;
pub mod health;
pub mod log;
pub mod mail;
pub mod migrate;
pub mod orgs;
pub mod page;
pub mod password;
pub mod patch;
pub mod permission;
pub mod pg;
pub mod redis;
pub mod request;
pub mod response;
pub mod router;
pub mod s3;
pub mod services;
pub mod settings;
pub mod smtp;
pub mod task;
pub mod token;

pub use error::{Context, Error, FieldError, ResultExt};
pub use etag::{ETag, Precondition, check_if_match};
pub use page::{Keyed, Page, PageRequest};
pub use pg::{Db, Param, TenantTx, Tx};
pub use request::{Given, RequestCtx};
pub use response::{Response, json};
#[cfg(target_arch = "wasm32")]
pub use router::handle;
pub use router::{BoxFuture, HandlerResult, Router};
