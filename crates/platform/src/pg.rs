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
//! [`Db::tenant`] opens a transaction, sets `app.org_id` for it (read by the
//! row-level security policies) and hands out a [`TenantTx`] whose methods
//! bind the org id as `$1` ahead of the caller's parameters: tenant SQL
//! filters with `org_id = $1` and numbers its own parameters from `$2`.
//! Postgres refuses a statement that leaves `$1` unused, so a tenant query
//! cannot forget the filter.

use std::cell::Cell;

use serde::de::DeserializeOwned;

use crate::domain::{OrgId, Slug};
use crate::error::{Cause, ConstraintKind, Error};
use crate::log;

/// One query parameter. Each kind binds only to its own Postgres type.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// `text`, `varchar`, `citext` only.
    Text(String),
    /// `uuid` (canonical string form).
    Uuid(String),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float64(f64),
    Bool(bool),
    /// `jsonb` / `json`: the serialized JSON bytes.
    Jsonb(Vec<u8>),
    /// `bytea`.
    Bytes(Vec<u8>),
    /// `timestamptz` as seconds since the Unix epoch.
    Timestamp(i64),
    /// `text[]`.
    TextArray(Vec<Option<String>>),
    /// SQL NULL; binds to every type.
    Null,
}

impl Param {
    /// A `jsonb` parameter from any serializable value.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        serde_json::to_vec(value)
            .map(Self::Jsonb)
            .map_err(|err| Error::internal_from("serialize a jsonb parameter", &err))
    }
}

macro_rules! param_from {
    ($($ty:ty => |$v:ident| $e:expr;)*) => {
        $(impl From<$ty> for Param {
            fn from($v: $ty) -> Self { $e }
        })*
    };
}

param_from! {
    &str => |v| Param::Text(v.to_owned());
    String => |v| Param::Text(v);
    &String => |v| Param::Text(v.clone());
    i16 => |v| Param::Int16(v);
    i32 => |v| Param::Int32(v);
    i64 => |v| Param::Int64(v);
    f64 => |v| Param::Float64(v);
    bool => |v| Param::Bool(v);
    OrgId => |v| Param::Uuid(v.to_string());
    &OrgId => |v| Param::Uuid(v.to_string());
    &Slug => |v| Param::Text(v.as_str().to_owned());
    serde_json::Value => |v| Param::Jsonb(v.to_string().into_bytes());
    Vec<String> => |v| Param::TextArray(v.into_iter().map(Some).collect());
}

impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(value: Option<T>) -> Self {
        value.map_or(Param::Null, Into::into)
    }
}

/// A failure reported by the Postgres host interface, in plain data (so the
/// mapping to [`Error`] is testable natively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgFailure {
    /// Could not connect (unreachable, refused, not allowed, bad credentials).
    ConnectionFailed(String),
    /// A parameter value was malformed (e.g. a bad uuid string).
    BadParameter(String),
    /// Postgres answered with an error (SQLSTATE in `code`).
    Db(DbFailure),
    /// The query failed without structured info.
    Text(String),
    /// A value could not be converted.
    ValueConversion(String),
    Other(String),
}

/// A structured Postgres error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbFailure {
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    /// Further fields (`constraint`, `table`, `column`, …) when the host gives them.
    pub extras: Vec<(String, String)>,
}

impl DbFailure {
    fn extra(&self, key: &str) -> Option<&str> {
        self.extras
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The constraint that fired, as the host reports it.
    pub fn constraint(&self) -> Option<String> {
        self.extra("constraint").map(str::to_owned)
    }
}

/// Whether `sql` mentions the parameter `$1` (and not only `$10`, `$11`, …).
pub fn uses_param_one(sql: &str) -> bool {
    sql.match_indices("$1")
        .any(|(at, _)| !sql[at + 2..].starts_with(|c: char| c.is_ascii_digit()))
}

/// Builds the one-row JSON query around `sql` (see the module docs).
pub fn wrap_read(sql: &str) -> String {
    let sql = statement_body(sql);
    // The newline ends a trailing `-- comment` in `sql` before the wrapper goes on.
    format!("WITH t AS ({sql}\n) SELECT coalesce(json_agg(t), '[]')::text FROM t")
}

/// Builds the `execute` half of a write's fetch: it runs `sql` and keeps
/// its rows, as JSON, in a session setting that [`WRITE_RESULT_SQL`] reads.
pub fn wrap_write(sql: &str) -> String {
    let sql = statement_body(sql);
    format!(
        "WITH t AS ({sql}\n) SELECT set_config('plinth.write_result', \
         (SELECT coalesce(json_agg(t), '[]')::text FROM t), false)"
    )
}

/// The `query` half of a write's fetch: always exactly one row.
pub const WRITE_RESULT_SQL: &str = "SELECT current_setting('plinth.write_result')";

fn statement_body(sql: &str) -> &str {
    sql.trim().trim_end_matches(';').trim_end()
}

/// Whether `sql` is a data-modifying statement (its first keyword, after
/// comments and opening parentheses, is `INSERT`, `UPDATE`, `DELETE` or
/// `MERGE`): a fetch of it goes through `execute` (see the module docs).
pub fn is_write(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_uppercase();
    matches!(word.as_str(), "INSERT" | "UPDATE" | "DELETE" | "MERGE")
}

/// Decodes the JSON array text of a wrapped read into rows.
pub fn decode_rows<T: DeserializeOwned>(json: &str) -> Result<Vec<T>, Error> {
    serde_json::from_str(json).map_err(|err| {
        Error::Internal(
            Cause::new(format!(
                "decode query rows into {}",
                std::any::type_name::<T>()
            ))
            .with(err.to_string()),
        )
    })
}

/// Maps a host failure to the one [`Error`]. Logs what the client must not see.
pub fn map_failure(failure: PgFailure) -> Error {
    match failure {
        PgFailure::ConnectionFailed(message) => {
            log::warn(format_args!(
                "postgres connection failed: {}",
                log::redact(&message)
            ));
            Error::ServiceUnavailable("database unavailable".into())
        }
        PgFailure::BadParameter(message) => {
            Error::Internal(Cause::new("bind a query parameter").with(message))
        }
        PgFailure::Db(db) => map_db_failure(db),
        PgFailure::Text(message) => {
            let lower = message.to_ascii_lowercase();
            if lower.contains("connection closed")
                || lower.contains("connection reset")
                || lower.contains("timed out")
            {
                log::warn(format_args!(
                    "postgres query failed: {}",
                    log::redact(&message)
                ));
                Error::ServiceUnavailable("database unavailable".into())
            } else {
                Error::Internal(Cause::new("run a query").with(log::redact(&message)))
            }
        }
        PgFailure::ValueConversion(message) => {
            Error::Internal(Cause::new("convert a query value").with(message))
        }
        PgFailure::Other(message) => {
            Error::Internal(Cause::new("postgres").with(log::redact(&message)))
        }
    }
}

fn map_db_failure(db: DbFailure) -> Error {
    let code = db.code.as_str();
    let constraint = |kind| Error::Constraint {
        kind,
        constraint: db.constraint(),
    };
    match code {
        "23505" | "23P01" => constraint(ConstraintKind::Unique),
        "23503" => constraint(ConstraintKind::ForeignKey),
        "23514" => constraint(ConstraintKind::Check),
        // Every required column is the code's to fill: a NULL there is a bug.
        "23502" => {
            Error::Internal(Cause::new("a not-null constraint refused a write").with(db.message))
        }
        "22001" => Error::BadRequest("a value is too long".into()),
        "22003" => Error::BadRequest("a number is out of range".into()),
        "22P02" => Error::BadRequest("a value has an invalid format".into()),
        _ if code.starts_with("22") => Error::BadRequest("a value is invalid".into()),
        "40001" | "40P01" => {
            Error::ServiceUnavailable("the database is busy; retry the request".into())
        }
        "57014" => Error::ServiceUnavailable("the database took too long".into()),
        _ if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") => {
            log::warn(format_args!("postgres unavailable: SQLSTATE {code}"));
            Error::ServiceUnavailable("database unavailable".into())
        }
        _ => Error::Internal(
            Cause::new(format!("query failed with SQLSTATE {code}")).with(db.message),
        ),
    }
}

/// What [`Db`] needs from a Postgres connection: the one cell of a one-row
/// query, and `execute`. Spin's `pg4` connection in a component; a scripted
/// fake in native tests.
pub trait Backend {
    /// Runs a query that returns exactly one row of one text column and
    /// returns that cell (`None` for SQL NULL).
    fn query_cell(&self, sql: &str, params: &[Param]) -> Result<Option<String>, PgFailure>;
    /// Runs a statement and returns the affected row count.
    fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, PgFailure>;
}

/// One Postgres connection (one pooled backend for its whole life).
pub struct Db {
    backend: Box<dyn Backend>,
    /// A statement failed since the last `BEGIN`: Postgres has aborted the
    /// transaction, and its `COMMIT` would quietly roll back.
    failed: Cell<bool>,
    /// A transaction is open: another `BEGIN` here would only warn, and its
    /// `COMMIT` would end the outer transaction early.
    in_transaction: Cell<bool>,
}

/// The org of this transaction, for row-level security. Like
/// [`FRESH_TRANSACTION_SQL`] it affects no row inside a transaction that has
/// already written something.
pub const SET_TENANT_SQL: &str =
    "SELECT set_config('app.org_id', $1, true) WHERE txid_current_if_assigned() IS NULL";

/// One row right after our `BEGIN`, none when the connection was already
/// inside a transaction that wrote: Spin's pool hands a connection back
/// without rolling back what a trapped request left open, and a `BEGIN` there
/// only warns, so our `COMMIT` would commit the other request's writes.
pub const FRESH_TRANSACTION_SQL: &str = "SELECT 1 WHERE txid_current_if_assigned() IS NULL";

impl Db {
    /// Opens a connection to the database at `url` (a secret: it holds the
    /// password). Failure → 503, the cause logged without credentials.
    #[cfg(target_arch = "wasm32")]
    pub fn connect(url: &crate::config::Secret) -> Result<Db, Error> {
        Ok(Self::with_backend(open_backend(url)?))
    }

    /// A `Db` over any backend (native tests and tools).
    pub fn with_backend(backend: impl Backend + 'static) -> Db {
        Db {
            backend: Box::new(backend),
            failed: Cell::new(false),
            in_transaction: Cell::new(false),
        }
    }

    /// All rows of `sql` (see the module docs for the wrapping and types).
    /// A write (`INSERT … RETURNING` and the like) goes through `execute`,
    /// so that its constraint violations keep their SQLSTATE on every Spin.
    pub fn fetch_all<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<T>, Error> {
        let cell = if is_write(sql) {
            self.execute(&wrap_write(sql), params)?;
            self.backend.query_cell(WRITE_RESULT_SQL, &[])
        } else {
            self.backend.query_cell(&wrap_read(sql), params)
        }
        .map_err(|failure| self.failure(failure))?;
        match cell {
            Some(json) => decode_rows(&json),
            None => Err(Error::internal("wrapped read returned NULL")),
        }
    }

    /// The row of `sql` if there is one; more than one row is a bug (500).
    pub fn fetch_optional<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<T>, Error> {
        let mut rows = self.fetch_all(sql, params)?;
        if rows.len() > 1 {
            return Err(Error::internal(format!(
                "fetch_optional got {} rows, expected at most one",
                rows.len()
            )));
        }
        Ok(rows.pop())
    }

    /// The row of `sql`; none → 404, more than one → 500.
    pub fn fetch_one<T: DeserializeOwned>(&self, sql: &str, params: &[Param]) -> Result<T, Error> {
        self.fetch_optional(sql, params)?.ok_or(Error::NotFound)
    }

    /// Runs a statement without a result set; returns the affected row count.
    pub fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, Error> {
        self.backend
            .execute(sql, params)
            .map_err(|failure| self.failure(failure))
    }

    /// The one text cell of `sql`, which must return exactly one row (a
    /// statement the platform builds itself, e.g. the credential check).
    pub(crate) fn fetch_start(&self, sql: &str, params: &[Param]) -> Result<String, Error> {
        self.backend
            .query_cell(sql, params)
            .map_err(|failure| self.failure(failure))?
            .ok_or_else(|| Error::internal("a one-row statement returned NULL"))
    }

    fn failure(&self, failure: PgFailure) -> Error {
        self.failed.set(true);
        map_failure(failure)
    }

    /// Runs `f` in a transaction: `BEGIN`, `f`, `COMMIT`; `ROLLBACK` when `f`
    /// fails or a statement in it failed. `f` gets a [`Tx`], which cannot
    /// begin another transaction; a `Db` captured from outside that tries
    /// to is refused, and the outer transaction rolls back.
    pub fn transaction<R>(&self, f: impl FnOnce(&Tx<'_>) -> Result<R, Error>) -> Result<R, Error> {
        self.in_transaction(
            |db| {
                Ok(Start::fresh_if(
                    db.execute(FRESH_TRANSACTION_SQL, &[])? > 0,
                    (),
                ))
            },
            |tx, ()| f(tx),
        )
    }

    /// `BEGIN`, then `start` (the first statement, which must tell whether
    /// the transaction is our own: see [`FRESH_TRANSACTION_SQL`]), then `f`
    /// with what `start` found.
    pub(crate) fn in_transaction<S, R>(
        &self,
        start: impl Fn(&Db) -> Result<Start<S>, Error>,
        f: impl FnOnce(&Tx<'_>, S) -> Result<R, Error>,
    ) -> Result<R, Error> {
        if self.in_transaction.replace(true) {
            // Leave the outer transaction unable to commit, whatever `f` does.
            self.failed.set(true);
            return Err(Error::internal(
                "a transaction cannot be opened inside another one",
            ));
        }
        let result = self.run_transaction(start, f);
        self.in_transaction.set(false);
        result
    }

    fn run_transaction<S, R>(
        &self,
        start: impl Fn(&Db) -> Result<Start<S>, Error>,
        f: impl FnOnce(&Tx<'_>, S) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.execute("BEGIN", &[])?;
        let started = match start(self) {
            Ok(Start::Fresh(found)) => found,
            Ok(Start::Dirty) => {
                log::warn(format_args!(
                    "pooled connection was inside a transaction left open by another request; rolled it back"
                ));
                self.execute("ROLLBACK", &[])?;
                self.execute("BEGIN", &[])?;
                match start(self) {
                    Ok(Start::Fresh(found)) => found,
                    Ok(Start::Dirty) => {
                        self.rollback();
                        return Err(Error::internal("cannot start a fresh transaction"));
                    }
                    Err(err) => {
                        self.rollback();
                        return Err(err);
                    }
                }
            }
            Err(err) => {
                self.rollback();
                return Err(err);
            }
        };
        self.failed.set(false);
        match f(&Tx { db: self }, started) {
            Ok(_) if self.failed.get() => {
                // `f` handled a failed statement and went on; the transaction
                // is aborted all the same, so nothing of it may be reported done.
                self.rollback();
                Err(Error::internal(
                    "a statement failed inside the transaction; it was rolled back",
                ))
            }
            Ok(value) => {
                self.execute("COMMIT", &[])?;
                Ok(value)
            }
            Err(err) => {
                self.rollback();
                Err(err)
            }
        }
    }

    fn rollback(&self) {
        if let Err(rollback) = self.execute("ROLLBACK", &[]) {
            log::warn(format_args!("rollback failed: {rollback}"));
        }
    }

    /// Runs `f` in a transaction scoped to `org` (see the module docs).
    pub fn tenant<R>(
        &self,
        org: OrgId,
        f: impl FnOnce(&TenantTx<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let org_param = [Param::Text(org.to_string())];
        self.in_transaction(
            |db| {
                Ok(Start::fresh_if(
                    db.execute(SET_TENANT_SQL, &org_param)? > 0,
                    (),
                ))
            },
            |tx, ()| {
                f(&TenantTx {
                    db: tx.db,
                    org,
                    caller: None,
                })
            },
        )
    }
}

/// What the first statement of a transaction found.
pub(crate) enum Start<S> {
    /// The transaction is our own; `S` is what the statement read.
    Fresh(S),
    /// The pooled connection was inside another request's transaction.
    Dirty,
}

impl<S> Start<S> {
    fn fresh_if(fresh: bool, found: S) -> Self {
        if fresh {
            Self::Fresh(found)
        } else {
            Self::Dirty
        }
    }
}

/// A transaction in progress (the argument of [`Db::transaction`]): reads and
/// statements on its connection, and no way to begin another transaction.
pub struct Tx<'a> {
    pub(crate) db: &'a Db,
}

impl Tx<'_> {
    pub fn fetch_all<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<T>, Error> {
        self.db.fetch_all(sql, params)
    }

    pub fn fetch_optional<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<T>, Error> {
        self.db.fetch_optional(sql, params)
    }

    pub fn fetch_one<T: DeserializeOwned>(&self, sql: &str, params: &[Param]) -> Result<T, Error> {
        self.db.fetch_one(sql, params)
    }

    pub fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, Error> {
        self.db.execute(sql, params)
    }
}

/// A transaction scoped to one org. Every statement gets the org id bound as
/// `$1`; the caller's parameters follow as `$2`, `$3`, ….
pub struct TenantTx<'a> {
    pub(crate) db: &'a Db,
    pub(crate) org: OrgId,
    pub(crate) caller: Option<crate::auth::Caller>,
}

impl TenantTx<'_> {
    /// The org this transaction is scoped to.
    pub fn org_id(&self) -> OrgId {
        self.org
    }

    /// Who opened it, when it was opened for a caller ([`Db::tenant_as`]).
    ///
    /// [`Db::tenant_as`]: crate::pg::Db::tenant_as
    pub fn caller(&self) -> Option<&crate::auth::Caller> {
        self.caller.as_ref()
    }

    /// Every tenant statement must filter by the org: refuse one that does not
    /// use `$1`, whatever the host would make of it.
    fn bind(&self, sql: &str, params: &[Param]) -> Result<Vec<Param>, Error> {
        if !uses_param_one(sql) {
            return Err(Error::internal(format!(
                "tenant SQL does not use the org id ($1): {sql}"
            )));
        }
        let mut all = Vec::with_capacity(params.len() + 1);
        all.push(Param::from(self.org));
        all.extend_from_slice(params);
        Ok(all)
    }

    pub fn fetch_all<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<T>, Error> {
        self.db.fetch_all(sql, &self.bind(sql, params)?)
    }

    pub fn fetch_optional<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<T>, Error> {
        self.db.fetch_optional(sql, &self.bind(sql, params)?)
    }

    pub fn fetch_one<T: DeserializeOwned>(&self, sql: &str, params: &[Param]) -> Result<T, Error> {
        self.db.fetch_one(sql, &self.bind(sql, params)?)
    }

    pub fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, Error> {
        self.db.execute(sql, &self.bind(sql, params)?)
    }
}

/// Opens Spin's `pg4` connection at `url` as a [`Backend`], for wrappers that
/// need the backend itself (the migration runner records raw failures).
#[cfg(target_arch = "wasm32")]
pub(crate) fn open_backend(url: &crate::config::Secret) -> Result<impl Backend + 'static, Error> {
    spin_sdk::pg4::Connection::open(url.expose())
        .map(spin::SpinBackend)
        .map_err(|err| map_failure(spin::failure(err)))
}

/// The Spin `pg4` backend.
#[cfg(target_arch = "wasm32")]
mod spin {
    use spin_sdk::pg4::{self, DbValue, ParameterValue};

    use super::{Backend, DbFailure, Param, PgFailure};

    pub(super) struct SpinBackend(pub(super) pg4::Connection);

    fn value(param: &Param) -> ParameterValue {
        match param {
            Param::Text(v) => ParameterValue::Str(v.clone()),
            Param::Uuid(v) => ParameterValue::Uuid(v.clone()),
            Param::Int16(v) => ParameterValue::Int16(*v),
            Param::Int32(v) => ParameterValue::Int32(*v),
            Param::Int64(v) => ParameterValue::Int64(*v),
            Param::Float64(v) => ParameterValue::Floating64(*v),
            Param::Bool(v) => ParameterValue::Boolean(*v),
            Param::Jsonb(v) => ParameterValue::Jsonb(v.clone()),
            Param::Bytes(v) => ParameterValue::Binary(v.clone()),
            Param::Timestamp(v) => ParameterValue::Timestamp(*v),
            Param::TextArray(v) => ParameterValue::ArrayStr(v.clone()),
            Param::Null => ParameterValue::DbNull,
        }
    }

    pub(super) fn failure(err: pg4::PgError) -> PgFailure {
        match err {
            pg4::PgError::ConnectionFailed(m) => PgFailure::ConnectionFailed(m),
            pg4::PgError::BadParameter(m) => PgFailure::BadParameter(m),
            pg4::PgError::QueryFailed(pg4::QueryError::Text(m)) => PgFailure::Text(m),
            pg4::PgError::QueryFailed(pg4::QueryError::DbError(db)) => PgFailure::Db(DbFailure {
                code: db.code,
                message: db.message,
                detail: db.detail,
                extras: db.extras,
            }),
            pg4::PgError::ValueConversionFailed(m) => PgFailure::ValueConversion(m),
            pg4::PgError::Other(m) => PgFailure::Other(m),
        }
    }

    impl Backend for SpinBackend {
        fn query_cell(&self, sql: &str, params: &[Param]) -> Result<Option<String>, PgFailure> {
            let values: Vec<ParameterValue> = params.iter().map(value).collect();
            let rows = self.0.query(sql, &values).map_err(failure)?;
            let cell = rows
                .rows
                .into_iter()
                .next()
                .and_then(|row| row.into_iter().next());
            match cell {
                Some(DbValue::Str(text)) => Ok(Some(text)),
                Some(DbValue::DbNull) => Ok(None),
                Some(_) => Err(PgFailure::ValueConversion(
                    "expected one text value in the wrapped read".into(),
                )),
                None => Err(PgFailure::ValueConversion(
                    "the wrapped read returned no row".into(),
                )),
            }
        }

        fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, PgFailure> {
            let values: Vec<ParameterValue> = params.iter().map(value).collect();
            self.0.execute(sql, &values).map_err(failure)
        }
    }
}

pub mod fake {
    //! A scripted Postgres backend that records statements, for native tests.

    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    use super::{Backend, Param, PgFailure};

    /// One recorded call: `(sql, params)`.
    pub type Call = (String, Vec<Param>);

    type Answer = Result<Option<String>, PgFailure>;

    /// Answers queries from a queue (`Ok(json)` or a failure), executes with
    /// `Ok(1)` unless a failure is queued for the statement starting with a
    /// given prefix. Clones share state, so a test keeps one to inspect.
    #[derive(Clone, Default)]
    pub struct FakeBackend {
        calls: Rc<RefCell<Vec<Call>>>,
        answers: Rc<RefCell<VecDeque<Answer>>>,
        failing: Rc<RefCell<Vec<(String, PgFailure)>>>,
        counts: Rc<RefCell<VecDeque<(String, u64)>>>,
    }

    impl FakeBackend {
        pub fn new() -> Self {
            Self::default()
        }

        /// Queues the JSON text the next query returns.
        pub fn answer(&self, json: &str) -> &Self {
            self.answers
                .borrow_mut()
                .push_back(Ok(Some(json.to_owned())));
            self
        }

        /// Queues a failure for the next query.
        pub fn answer_err(&self, failure: PgFailure) -> &Self {
            self.answers.borrow_mut().push_back(Err(failure));
            self
        }

        /// Makes every `execute` whose SQL starts with `prefix` fail.
        pub fn fail_execute(&self, prefix: &str, failure: PgFailure) -> &Self {
            self.failing.borrow_mut().push((prefix.to_owned(), failure));
            self
        }

        /// Makes the next `execute` whose SQL starts with `prefix` report
        /// `rows` affected rows (instead of 1).
        pub fn execute_rows(&self, prefix: &str, rows: u64) -> &Self {
            self.counts
                .borrow_mut()
                .push_back((prefix.to_owned(), rows));
            self
        }

        /// Every call so far.
        pub fn calls(&self) -> Vec<Call> {
            self.calls.borrow().clone()
        }

        /// The SQL of every call so far.
        pub fn statements(&self) -> Vec<String> {
            self.calls
                .borrow()
                .iter()
                .map(|(sql, _)| sql.clone())
                .collect()
        }
    }

    impl Backend for FakeBackend {
        fn query_cell(&self, sql: &str, params: &[Param]) -> Result<Option<String>, PgFailure> {
            self.calls
                .borrow_mut()
                .push((sql.to_owned(), params.to_vec()));
            self.answers
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| Ok(Some("[]".into())))
        }

        fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, PgFailure> {
            self.calls
                .borrow_mut()
                .push((sql.to_owned(), params.to_vec()));
            match self
                .failing
                .borrow()
                .iter()
                .find(|(p, _)| sql.starts_with(p.as_str()))
            {
                Some((_, failure)) => Err(failure.clone()),
                None => {
                    let mut counts = self.counts.borrow_mut();
                    match counts.iter().position(|(p, _)| sql.starts_with(p.as_str())) {
                        Some(at) => Ok(counts.remove(at).map_or(1, |(_, rows)| rows)),
                        None => Ok(1),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeBackend;
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Org {
        id: String,
        slug: String,
        created_at: String,
        settings: serde_json::Value,
    }

    const ORG: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

    fn db_failure(code: &str, message: &str, detail: Option<&str>) -> PgFailure {
        PgFailure::Db(DbFailure {
            code: code.into(),
            message: message.into(),
            detail: detail.map(str::to_owned),
            extras: vec![],
        })
    }

    #[test]
    fn a_transaction_inside_a_transaction_is_refused_and_the_outer_rolls_back() {
        let fake = FakeBackend::new();
        let db = Db::with_backend(fake.clone());
        let org = OrgId::parse(ORG).unwrap();
        let err = db
            .transaction(|tx| {
                tx.execute("INSERT INTO org (name, slug) VALUES ($1, $2)", &[])?;
                // A careless handler reaches for the outer `Db` and swallows the refusal.
                let _ = db.tenant(org, |t| t.execute("DELETE FROM a WHERE org_id = $1", &[]));
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.status(), 500);
        let statements: Vec<String> = fake.calls().into_iter().map(|(sql, _)| sql).collect();
        assert_eq!(
            statements.iter().filter(|sql| *sql == "BEGIN").count(),
            1,
            "no second BEGIN: {statements:?}"
        );
        assert!(
            !statements.iter().any(|sql| sql.starts_with("DELETE")),
            "{statements:?}"
        );
        assert!(
            !statements.iter().any(|sql| sql == "COMMIT"),
            "{statements:?}"
        );
        assert_eq!(statements.last().map(String::as_str), Some("ROLLBACK"));
        // The refusal is per transaction: the next one works.
        db.transaction(|tx| tx.execute("SELECT 1", &[]).map(drop))
            .unwrap();
        assert_eq!(
            fake.calls().last().map(|(sql, _)| sql.as_str()),
            Some("COMMIT")
        );
    }

    #[test]
    fn is_write_table() {
        let cases = [
            (
                "INSERT INTO org (slug) VALUES ($1) RETURNING id",
                true,
                "insert",
            ),
            (
                "  update org SET name = $2 RETURNING id",
                true,
                "update, lower case",
            ),
            ("DELETE FROM org WHERE id = $1 RETURNING id", true, "delete"),
            (
                "MERGE INTO t USING s ON true WHEN MATCHED THEN DO NOTHING",
                true,
                "merge",
            ),
            (
                "-- make one\nINSERT INTO t DEFAULT VALUES RETURNING id",
                true,
                "after a line comment",
            ),
            (
                "/* x */ (DELETE FROM t RETURNING id)",
                true,
                "after a block comment and a paren",
            ),
            ("SELECT * FROM org", false, "select"),
            ("WITH x AS (SELECT 1) SELECT * FROM x", false, "with"),
            ("SELECT 'INSERT' AS word", false, "keyword inside a string"),
            ("INSERTED", false, "a longer word"),
            ("", false, "empty"),
        ];
        for (sql, expected, case) in cases {
            assert_eq!(is_write(sql), expected, "{case}");
        }
    }

    #[test]
    fn a_write_fetch_runs_through_execute_and_reads_its_rows_back() {
        let fake = FakeBackend::new();
        fake.answer(r#"[{"id":"a"}]"#);
        let db = Db::with_backend(fake.clone());
        let row: serde_json::Value = db
            .fetch_one(
                "INSERT INTO org (slug) VALUES ($1) RETURNING id;",
                &["acme".into()],
            )
            .unwrap();
        assert_eq!(row["id"], "a");
        let calls = fake.calls();
        assert_eq!(
            calls,
            [
                (
                    wrap_write("INSERT INTO org (slug) VALUES ($1) RETURNING id"),
                    vec![Param::Text("acme".into())]
                ),
                (WRITE_RESULT_SQL.to_owned(), vec![]),
            ]
        );
        assert!(calls[0].0.contains("set_config('plinth.write_result'"));
    }

    #[test]
    fn a_duplicate_through_a_write_fetch_is_a_409_naming_the_field() {
        use crate::error::ResultExt;
        let fake = FakeBackend::new();
        fake.fail_execute(
            "WITH t AS (INSERT",
            PgFailure::Db(DbFailure {
                code: "23505".into(),
                message: "duplicate key value violates unique constraint \"org_slug_key\"".into(),
                detail: Some("Key (lower(slug))=(acme) already exists.".into()),
                extras: vec![
                    ("constraint".into(), "org_slug_key".into()),
                    ("table".into(), "org".into()),
                ],
            }),
        );
        let db = Db::with_backend(fake.clone());
        let err = db
            .transaction(|tx| {
                tx.fetch_one::<serde_json::Value>(
                    "INSERT INTO org (slug) VALUES ($1) RETURNING id",
                    &["acme".into()],
                )
                .on_constraint("org_slug_key", "slug")
            })
            .unwrap_err();
        match err {
            Error::Conflict { field, .. } => assert_eq!(field.as_deref(), Some("slug")),
            other => panic!("expected a 409, got {other:?}"),
        }
        let calls = fake.calls();
        assert!(
            !calls.iter().any(|(sql, _)| sql == WRITE_RESULT_SQL),
            "no read-back after a failed write: {calls:?}"
        );
        assert_eq!(calls.last().map(|(sql, _)| sql.as_str()), Some("ROLLBACK"));
    }

    #[test]
    fn wrap_read_table() {
        let cases = [
            (
                "SELECT 1 AS one",
                "WITH t AS (SELECT 1 AS one\n) SELECT coalesce(json_agg(t), '[]')::text FROM t",
                "select",
            ),
            (
                "  SELECT 1 AS one;  ",
                "WITH t AS (SELECT 1 AS one\n) SELECT coalesce(json_agg(t), '[]')::text FROM t",
                "trailing semicolon and spaces",
            ),
            (
                "INSERT INTO org (slug) VALUES ($1) RETURNING id",
                "WITH t AS (INSERT INTO org (slug) VALUES ($1) RETURNING id\n) SELECT coalesce(json_agg(t), '[]')::text FROM t",
                "insert returning",
            ),
            (
                "SELECT 1 AS one -- the answer",
                "WITH t AS (SELECT 1 AS one -- the answer\n) SELECT coalesce(json_agg(t), '[]')::text FROM t",
                "a trailing comment ends before the wrapper goes on",
            ),
        ];
        for (sql, expected, case) in cases {
            assert_eq!(wrap_read(sql), expected, "{case}");
        }
    }

    #[test]
    fn decode_rows_with_json_types() {
        let json = r#"[{"id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","slug":"acme","created_at":"2026-11-27T07:08:24.630285+00:00","settings":{"a":[1,2]}}]"#;
        let rows: Vec<Org> = decode_rows(json).unwrap();
        assert_eq!(rows[0].slug, "acme");
        assert_eq!(rows[0].created_at, "2026-11-27T07:08:24.630285+00:00");
        assert_eq!(rows[0].settings["a"][1], 2);
        assert!(decode_rows::<Org>("[]").unwrap().is_empty());
        let err = decode_rows::<Org>(r#"[{"id":1}]"#).unwrap_err();
        assert_eq!(
            err.status(),
            500,
            "a row that does not fit the type is a bug"
        );
    }

    #[test]
    fn fetch_variants() {
        let fake = FakeBackend::new();
        fake.answer("[]")
            .answer("[]")
            .answer(r#"[{"n":1},{"n":2}]"#)
            .answer(r#"[{"n":1},{"n":2}]"#);
        let db = Db::with_backend(fake.clone());
        #[derive(Deserialize, Debug, PartialEq)]
        struct N {
            n: i32,
        }
        assert_eq!(
            db.fetch_optional::<N>("SELECT 1 AS n WHERE false", &[])
                .unwrap(),
            None
        );
        assert_eq!(
            db.fetch_one::<N>("SELECT 1 AS n WHERE false", &[])
                .unwrap_err(),
            Error::NotFound
        );
        assert_eq!(
            db.fetch_all::<N>("SELECT n", &[]).unwrap(),
            vec![N { n: 1 }, N { n: 2 }]
        );
        assert_eq!(
            db.fetch_optional::<N>("SELECT n", &[])
                .unwrap_err()
                .status(),
            500
        );
        assert!(
            fake.statements()
                .iter()
                .all(|s| s.starts_with("WITH t AS ("))
        );
    }

    #[test]
    fn transaction_commits_or_rolls_back() {
        let fake = FakeBackend::new();
        let db = Db::with_backend(fake.clone());
        db.transaction(|db| db.execute("INSERT INTO a VALUES (1)", &[]))
            .unwrap();
        assert_eq!(
            fake.statements(),
            [
                "BEGIN",
                FRESH_TRANSACTION_SQL,
                "INSERT INTO a VALUES (1)",
                "COMMIT"
            ]
        );

        let fake = FakeBackend::new();
        let db = Db::with_backend(fake.clone());
        let result: Result<(), Error> = db.transaction(|_| Err(Error::Forbidden));
        assert_eq!(result, Err(Error::Forbidden));
        assert_eq!(
            fake.statements(),
            ["BEGIN", FRESH_TRANSACTION_SQL, "ROLLBACK"]
        );
    }

    #[test]
    fn a_transaction_left_open_on_the_connection_is_rolled_back_first() {
        let fake = FakeBackend::new();
        fake.execute_rows(FRESH_TRANSACTION_SQL, 0);
        let db = Db::with_backend(fake.clone());
        db.transaction(|db| db.execute("INSERT INTO a VALUES (1)", &[]))
            .unwrap();
        assert_eq!(
            fake.statements(),
            [
                "BEGIN",
                FRESH_TRANSACTION_SQL,
                "ROLLBACK",
                "BEGIN",
                FRESH_TRANSACTION_SQL,
                "INSERT INTO a VALUES (1)",
                "COMMIT"
            ],
            "the other request's writes are rolled back, never committed"
        );

        let fake = FakeBackend::new();
        let db = Db::with_backend(fake.clone());
        fake.execute_rows("SELECT set_config", 0);
        let org = OrgId::parse(ORG).unwrap();
        db.tenant(org, |tx| tx.execute("DELETE FROM a WHERE org_id = $1", &[]))
            .unwrap();
        let statements = fake.statements();
        assert_eq!(
            &statements[..4],
            ["BEGIN", SET_TENANT_SQL, "ROLLBACK", "BEGIN"]
        );
        assert_eq!(statements[4], SET_TENANT_SQL, "the org is set again");
    }

    #[test]
    fn failed_commit_is_an_error() {
        let fake = FakeBackend::new();
        fake.fail_execute(
            "COMMIT",
            db_failure("40001", "could not serialize access", None),
        );
        let db = Db::with_backend(fake.clone());
        let err = db.transaction(|_| Ok(())).unwrap_err();
        assert_eq!(err.status(), 503);
    }

    #[test]
    fn uses_param_one_table() {
        let cases = [
            ("SELECT 1 FROM t WHERE org_id = $1", true, "plain $1"),
            ("UPDATE t SET a = $2 WHERE org_id = $1", true, "$1 after $2"),
            ("SELECT $1::uuid", true, "$1 with a cast"),
            ("SELECT 1 FROM t WHERE name = $2", false, "no $1"),
            (
                "SELECT 1 FROM t WHERE a = $10 AND b = $11",
                false,
                "$10 and $11 are not $1",
            ),
            ("SELECT 1", false, "no parameter at all"),
        ];
        for (sql, expected, case) in cases {
            assert_eq!(uses_param_one(sql), expected, "{case}");
        }
    }

    #[test]
    fn tenant_sql_without_the_org_filter_is_refused_and_rolled_back() {
        let fake = FakeBackend::new();
        let db = Db::with_backend(fake.clone());
        let org = OrgId::parse(ORG).unwrap();
        let err = db
            .tenant(org, |tx| {
                tx.execute("DELETE FROM companies WHERE name = $2", &["x".into()])
            })
            .unwrap_err();
        assert_eq!(err.status(), 500, "a missing org filter is a bug");
        let statements: Vec<String> = fake.calls().into_iter().map(|(sql, _)| sql).collect();
        assert!(
            !statements.iter().any(|sql| sql.starts_with("DELETE")),
            "the unfiltered statement never reaches the database: {statements:?}"
        );
        assert_eq!(statements.last().map(String::as_str), Some("ROLLBACK"));
    }

    #[test]
    fn a_failure_handled_inside_a_transaction_still_rolls_it_back() {
        let fake = FakeBackend::new();
        fake.fail_execute(
            "INSERT",
            PgFailure::Db(DbFailure {
                code: "23505".into(),
                message: "duplicate key value violates unique constraint \"org_slug_key\"".into(),
                detail: None,
                extras: vec![],
            }),
        );
        let db = Db::with_backend(fake.clone());
        let err = db
            .transaction(|tx| {
                // Swallow the failure and go on, as a careless handler might.
                let _ = tx.execute("INSERT INTO org (name, slug) VALUES ($1, $2)", &[]);
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.status(), 500);
        let statements: Vec<String> = fake.calls().into_iter().map(|(sql, _)| sql).collect();
        assert_eq!(statements.last().map(String::as_str), Some("ROLLBACK"));
        assert!(
            !statements.iter().any(|sql| sql == "COMMIT"),
            "{statements:?}"
        );
        // The flag is per transaction: the next one commits.
        db.transaction(|tx| tx.execute("SELECT 1", &[]).map(drop))
            .unwrap();
        assert_eq!(
            fake.calls().last().map(|(sql, _)| sql.as_str()),
            Some("COMMIT")
        );
    }

    #[test]
    fn tenant_sets_the_org_and_binds_it_first() {
        let fake = FakeBackend::new();
        fake.answer(r#"[{"n":3}]"#);
        let db = Db::with_backend(fake.clone());
        let org = OrgId::parse(ORG).unwrap();
        let n: serde_json::Value = db
            .tenant(org, |tx| {
                assert_eq!(tx.org_id(), org);
                tx.execute(
                    "UPDATE companies SET name = $2 WHERE org_id = $1",
                    &["x".into()],
                )?;
                tx.fetch_one("SELECT count(*) AS n FROM companies WHERE org_id = $1", &[])
            })
            .unwrap();
        assert_eq!(n["n"], 3);
        let calls = fake.calls();
        assert_eq!(calls[0].0, "BEGIN");
        assert_eq!(
            calls[1],
            (SET_TENANT_SQL.to_owned(), vec![Param::Text(ORG.into())])
        );
        assert_eq!(
            calls[2].1,
            vec![Param::Uuid(ORG.into()), Param::Text("x".into())]
        );
        assert_eq!(calls[3].1, vec![Param::Uuid(ORG.into())]);
        assert_eq!(calls[4].0, "COMMIT");
    }

    #[test]
    fn param_conversions() {
        let org = OrgId::parse(ORG).unwrap();
        let cases: Vec<(Param, Param, &str)> = vec![
            ("a".into(), Param::Text("a".into()), "&str"),
            (String::from("b").into(), Param::Text("b".into()), "String"),
            (5i32.into(), Param::Int32(5), "i32"),
            (5i64.into(), Param::Int64(5), "i64"),
            (true.into(), Param::Bool(true), "bool"),
            (
                (&org).into(),
                Param::Uuid(ORG.into()),
                "OrgId binds as uuid",
            ),
            (None::<i32>.into(), Param::Null, "None"),
            (Some("c").into(), Param::Text("c".into()), "Some"),
            (
                serde_json::json!({"k":1}).into(),
                Param::Jsonb(br#"{"k":1}"#.to_vec()),
                "json value",
            ),
            (
                Param::json(&[1, 2]).unwrap(),
                Param::Jsonb(b"[1,2]".to_vec()),
                "Param::json",
            ),
        ];
        for (got, expected, case) in cases {
            assert_eq!(got, expected, "{case}");
        }
    }

    #[test]
    fn failure_mapping_table() {
        let with_constraint = |code: &str, message: &str, constraint: &str| {
            PgFailure::Db(DbFailure {
                code: code.into(),
                message: message.into(),
                detail: Some("Key (org_id, slug)=(3f25…, acme) already exists.".into()),
                extras: vec![
                    ("constraint".into(), constraint.into()),
                    ("table".into(), "companies".into()),
                ],
            })
        };
        let cases: Vec<(PgFailure, u16, Option<&str>, &str)> = vec![
            (
                with_constraint(
                    "23505",
                    "duplicate key value violates unique constraint \"companies_org_id_slug_key\"",
                    "companies_org_id_slug_key",
                ),
                409,
                None,
                "unique: no field until the handler names one",
            ),
            (
                with_constraint(
                    "23P01",
                    "conflicting key value violates exclusion constraint",
                    "x_excl",
                ),
                409,
                None,
                "exclusion",
            ),
            (
                with_constraint(
                    "23503",
                    "insert or update on table \"companies\" violates foreign key constraint \"companies_org_id_fkey\"",
                    "companies_org_id_fkey",
                ),
                409,
                None,
                "foreign key",
            ),
            (
                db_failure(
                    "23502",
                    "null value in column \"name\" of relation \"org\" violates not-null constraint",
                    None,
                ),
                500,
                None,
                "not null is a bug",
            ),
            (
                with_constraint(
                    "23514",
                    "new row for relation \"partners\" violates check constraint \"partners_kind_check\"",
                    "partners_kind_check",
                ),
                422,
                None,
                "check",
            ),
            (
                db_failure("22P02", "invalid input syntax for type uuid: \"x\"", None),
                400,
                None,
                "invalid text representation",
            ),
            (
                db_failure("22001", "value too long", None),
                400,
                None,
                "string too long",
            ),
            (
                db_failure("22012", "division by zero", None),
                400,
                None,
                "other data exception",
            ),
            (
                db_failure("40001", "could not serialize", None),
                503,
                None,
                "serialization failure",
            ),
            (
                db_failure(
                    "57014",
                    "canceling statement due to statement timeout",
                    None,
                ),
                503,
                None,
                "timeout",
            ),
            (
                db_failure("08006", "connection failure", None),
                503,
                None,
                "connection exception",
            ),
            (
                db_failure("53300", "too many connections", None),
                503,
                None,
                "too many connections",
            ),
            (
                db_failure("42601", "syntax error at or near \"SELEC\"", None),
                500,
                None,
                "syntax error is a bug",
            ),
            (
                db_failure("42501", "permission denied for table org", None),
                500,
                None,
                "privilege is a bug",
            ),
            (
                PgFailure::ConnectionFailed(
                    "address postgres://u:pw@db:5432/x is not permitted".into(),
                ),
                503,
                None,
                "connection failed",
            ),
            (
                PgFailure::BadParameter("invalid uuid".into()),
                500,
                None,
                "bad parameter",
            ),
            (PgFailure::Text("zero-row result".into()), 500, None, "text"),
            (
                PgFailure::Text("connection closed".into()),
                503,
                None,
                "closed connection",
            ),
            (PgFailure::Other("x".into()), 500, None, "other"),
        ];
        for (failure, status, field, case) in cases {
            let err = map_failure(failure);
            assert_eq!(err.status(), status, "{case}: {err:?}");
            let named = match &err {
                Error::Conflict { field, .. } => field.clone(),
                Error::Validation(errors) => Some(errors[0].field.clone()),
                _ => None,
            };
            if field.is_some() {
                assert_eq!(named.as_deref(), field, "{case}");
            }
            let body = String::from_utf8(err.to_response("r").body().to_vec()).unwrap();
            for secret in [
                "pw",
                "SELEC",
                "postgres://",
                "db:5432",
                "3f25",
                "acme",
                "companies",
                "_key",
                "_fkey",
            ] {
                assert!(
                    !body.contains(secret),
                    "{case}: response leaks {secret:?}: {body}"
                );
            }
        }
    }

    #[test]
    fn the_handler_names_the_field_of_a_constraint() {
        use crate::error::ResultExt;
        let failure = PgFailure::Db(DbFailure {
            code: "23505".into(),
            message: "duplicate key value violates unique constraint \"users_email_lower_idx\""
                .into(),
            detail: Some("Key (lower(email::text))=(a@b.c) already exists.".into()),
            extras: vec![("constraint".into(), "users_email_lower_idx".into())],
        });
        let result: Result<(), Error> = Err(map_failure(failure));
        match result.on_constraint("users_email_lower_idx", "email") {
            Err(Error::Conflict { field, detail }) => {
                assert_eq!(field.as_deref(), Some("email"));
                assert_eq!(detail, "email is already taken");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
