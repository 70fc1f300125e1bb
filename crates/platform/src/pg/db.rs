//! [`Db`], its transactions ([`Tx`], [`TenantTx`]) and the [`Backend`] they
//! run on.

use std::cell::Cell;

use serde::de::DeserializeOwned;

use super::failure::{PgFailure, map_failure};
use super::params::Param;
use super::sql::{WRITE_RESULT_SQL, decode_rows, is_write, uses_param_one, wrap_read, wrap_write};
use crate::domain::OrgId;
use crate::error::Error;
use crate::log;

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
    /// The last failure as the host reported it, before mapping (for the
    /// migration runner, which must tell the admin what Postgres said).
    last_failure: std::cell::RefCell<Option<PgFailure>>,
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
        Ok(Self::with_backend(super::spin::open_backend(url)?))
    }

    /// A `Db` over any backend (native tests and tools).
    pub fn with_backend(backend: impl Backend + 'static) -> Db {
        Db {
            backend: Box::new(backend),
            failed: Cell::new(false),
            in_transaction: Cell::new(false),
            last_failure: std::cell::RefCell::new(None),
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
        let error = map_failure(failure.clone());
        *self.last_failure.borrow_mut() = Some(failure);
        error
    }

    /// Takes the last failure as the host reported it (unmapped: it may hold
    /// database messages, so it is never sent to a client).
    pub(crate) fn take_last_failure(&self) -> Option<PgFailure> {
        self.last_failure.borrow_mut().take()
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

    /// Runs `f` in a transaction scoped to a bare `org`: for the admin
    /// witness (`admin::Admin::tenant`, an org from the database's own rows)
    /// and the platform's unit tests. Components open tenant work only for confirmed
    /// credentials ([`Db::tenant_as`], [`Db::tenant_read`]), so no org id a
    /// request carries can ever scope it.
    ///
    /// [`Db::tenant_as`]: crate::pg::Db::tenant_as
    /// [`Db::tenant_read`]: crate::pg::Db::tenant_read
    pub(crate) fn tenant<R>(
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
