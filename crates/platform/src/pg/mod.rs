//! The one Postgres wrapper. Components never call `pg4` `query`/`execute`
//! themselves: they use [`Db`] and, for tenant data, [`TenantTx`].
//!
//! # Why every read is wrapped
//!
//! Spin 4.0.0–4.0.2 never returns from a `query` whose result has no rows
//! (see `SPIN-BEHAVIOUR.md` §1), and reading a `timestamptz` column fails
//! (§2). So every read ([`Db::fetch_all`], [`Db::fetch_optional`],
//! [`Db::fetch_one`]) is sent as **one** query that always returns exactly
//! one row with one text value:
//!
//! ```sql
//! WITH t AS (<your sql>) SELECT coalesce(json_agg(t), '[]')::text FROM t
//! ```
//!
//! and that JSON array is decoded with serde into `Vec<T>`. Statements without
//! a result (`BEGIN`, `SET`, DDL, plain `INSERT`) go through [`Db::execute`].
//!
//! # Why writes go through `execute`
//!
//! A constraint violation raised while rows stream back through `query`
//! reaches the guest without its SQLSTATE on every Spin (`QueryFailed(Text)`:
//! the driver's Debug text on 4.0.x, only Postgres's localised message on
//! 3.6.x; `SPIN-BEHAVIOUR.md` §4). Only `execute` reports a structured
//! `code`. So a fetch whose SQL is a write (`INSERT`, `UPDATE`, `DELETE`,
//! `MERGE` … `RETURNING`) runs as two statements on the same connection:
//!
//! ```sql
//! WITH t AS (<your sql>) SELECT set_config('plinth.write_result',
//!     (SELECT coalesce(json_agg(t), '[]')::text FROM t), false)   -- execute
//! SELECT current_setting('plinth.write_result')                  -- query: one row
//! ```
//!
//! A duplicate then answers 409 naming the field under every Spin; a read
//! stays one round trip.
//!
//! Because the rows travel as JSON, columns arrive as JSON renders them:
//! `timestamptz` as text (`2026-11-27T07:08:24.630285+00:00`), `uuid` as a
//! string, `jsonb`/`json` as nested JSON, arrays as arrays, `numeric` as a
//! JSON number — **cast numeric to text in SQL** (`amount::text`) when every
//! digit matters, since serde reads JSON numbers as `f64`/`i64`. Give every
//! column a unique name (`AS`): a duplicate name yields a JSON object with a
//! repeated key. Your SQL must not itself start with a data-modifying `WITH`
//! (Postgres only allows those at the top level) and must be one statement
//! (a trailing `;` is removed).
//!
//! # Parameters
//!
//! Binding is strict per type (§3): [`Param::Text`] binds only to
//! `text`/`varchar`/`citext`. Bind a uuid with [`Param::Uuid`] (or `&OrgId`)
//! or cast in SQL (`$1::text::uuid`); `jsonb` with [`Param::Jsonb`]; a
//! `timestamptz` as text with a cast (`$1::text::timestamptz`) or as
//! [`Param::Timestamp`] seconds.
//!
//! # Errors
//!
//! [`map_failure`] maps the host's error to [`Error`] by SQLSTATE alone,
//! never by Postgres's message text (its wording follows `lc_messages`): a
//! unique, foreign-key or check violation (23505/23P01, 23503, 23514) is
//! [`Error::Constraint`] carrying the constraint's name, which names no
//! field until the handler does with [`ResultExt::on_constraint`]; a
//! not-null violation (23502) is a bug, 500; data exceptions (22xxx, e.g.
//! 22P02 invalid text representation) → 400; connection failure,
//! serialization failure, timeout → 503; anything else → 500. No SQL, host,
//! schema name or connection string reaches a response.
//!
//! [`ResultExt::on_constraint`]: crate::error::ResultExt::on_constraint
//!
//! # Tenancy
//!
//! Tenant work is opened only for confirmed credentials:
//! [`Db::tenant_as`](crate::auth) (a transaction whose first statement checks
//! the token and sets `app.org_id`, read by the row-level security
//! policies) and [`Db::tenant_read`](crate::auth) (the same in one
//! statement). Both hand the SQL the org id as `$1` ahead of the caller's
//! parameters: tenant SQL filters with `org_id = $1` and numbers its own
//! parameters from `$2`, and a [`TenantTx`] refuses a statement that does not
//! use `$1`, so a tenant query cannot forget the filter.

mod db;
mod failure;
pub mod fake;
mod params;
#[cfg(target_arch = "wasm32")]
mod spin;
mod sql;
#[cfg(test)]
mod tests;

pub(crate) use db::Start;
pub use db::{Backend, Db, FRESH_TRANSACTION_SQL, SET_TENANT_SQL, TenantTx, Tx};
pub use failure::{DbFailure, PgFailure, map_failure};
pub use params::Param;
pub use sql::{WRITE_RESULT_SQL, decode_rows, is_write, uses_param_one, wrap_read, wrap_write};
