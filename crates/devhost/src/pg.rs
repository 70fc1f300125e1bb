//! `spin:postgres/postgres@4.0.0` on tokio-postgres with a pool per address.
//!
//! Mirrors Spin 4.0.2 (or, with `--spin 3.6`, Spin 3.6.3): the address must
//! be allowed by the component's `allowed_outbound_hosts`; a `Connection`
//! holds one pooled client for its whole life (so BEGIN … COMMIT is a real
//! transaction); the pool hands connections out first-in first-out and
//! cleans a session when it is taken again (deadpool's
//! `RecyclingMethod::Clean`: settings reset, temp tables dropped, but no
//! rollback, so a transaction a trapped request left open is still open for
//! the next one); every statement is prepared afresh, untyped, with no
//! statement cache, so Postgres types each parameter from its context; an
//! error raised while rows stream back is `QueryFailed(Text)` without a
//! SQLSTATE, as in Spin.
//!
//! The one deliberate difference is a zero-row `query`: Spin 4.0.0–4.0.2
//! hangs forever there (spinframework/spin#3671); devhost answers with an
//! error (default) or the empty row set (`--pg-zero-row-query allow`, and
//! the default under `--spin 3.6`).

pub mod types;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::StreamExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Statement};
use wasmtime::component::{Resource, ResourceTable};

use crate::bindings::spin::postgres::postgres::{
    self as v4, Column, DbError, Error, ParameterValue, QueryError, RowSet,
};
use crate::state::HostState;

/// Spin refuses query results larger than this (Spin ≥ 3.6.2).
const MAX_RESULT_BYTES: usize = 128 * 1024 * 1024;
/// Connections per address, as in Spin.
const POOL_SIZE: usize = 64;

/// The message a guest gets for a zero-row `query` in `error` mode.
pub const ZERO_ROW_MESSAGE: &str = "zero-row result: this query returned no rows; Spin 4.0.0-4.0.2 never returns from such a query (spinframework/spin#3671) — return exactly one row, e.g. aggregate with json_agg";

/// What to do with a `query` whose result has no rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroRowMode {
    /// Fail it loudly so every such code path is found in tests.
    Error,
    /// Return the empty row set, like a fixed Spin.
    Allow,
}

impl ZeroRowMode {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "error" => Ok(Self::Error),
            "allow" => Ok(Self::Allow),
            other => Err(format!(
                "invalid zero-row mode {other:?}: expected `error` or `allow`"
            )),
        }
    }
}

/// Which Spin devhost answers like where Spin versions differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpinVersion {
    /// Spin 4.0.2: zero-row queries never return (devhost: see
    /// [`ZeroRowMode`]); an error from the row stream is `QueryFailed(Text)`
    /// holding the Debug form of the driver error (`SqlState(E23505)`,
    /// `constraint: Some("…")`).
    V4_0,
    /// Spin 3.6.3 (SpinKube's shim): zero-row queries return; an error from
    /// the row stream is `QueryFailed(Text)` holding only Postgres's message
    /// (`db error: ERROR: …`), with no SQLSTATE at all.
    V3_6,
}

impl SpinVersion {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "4.0" | "4.0.2" => Ok(Self::V4_0),
            "3.6" | "3.6.3" => Ok(Self::V3_6),
            other => Err(format!(
                "invalid Spin version {other:?}: expected `4.0` or `3.6`"
            )),
        }
    }

    /// What a zero-row `query` does unless `--pg-zero-row-query` says.
    pub fn zero_row_default(self) -> ZeroRowMode {
        match self {
            Self::V4_0 => ZeroRowMode::Error,
            Self::V3_6 => ZeroRowMode::Allow,
        }
    }

    /// The text of an error raised while rows stream back through `query`.
    fn stream_error_text(self, e: &tokio_postgres::Error) -> String {
        match self {
            Self::V4_0 => format!("{e:?}"),
            // `db error: ERROR: <message>` and `DETAIL: …`: the error and its
            // causes, as `{:#}` of an anyhow error prints them.
            Self::V3_6 => {
                let mut text = e.to_string();
                let mut source = std::error::Error::source(e);
                while let Some(cause) = source {
                    text.push_str(": ");
                    text.push_str(&cause.to_string());
                    source = cause.source();
                }
                text
            }
        }
    }
}

/// Pools shared by all components, keyed by the full address string.
#[derive(Default)]
pub struct PgPools {
    pools: Mutex<HashMap<String, Pool>>,
}

impl PgPools {
    fn pool(&self, address: &str) -> anyhow::Result<Pool> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pools.get(address) {
            return Ok(p.clone());
        }
        let mut config: tokio_postgres::Config = address
            .parse()
            .map_err(|e| anyhow::anyhow!("parsing Postgres connection string: {e}"))?;
        if config.get_connect_timeout().is_none() {
            // Unreachable hosts fail instead of hanging the request.
            config.connect_timeout(Duration::from_secs(10));
        }
        let mgr = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // As Spin: clean a session when it is taken again, without a
                // rollback; first-in first-out is the pool's default order.
                recycling_method: RecyclingMethod::Clean,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| anyhow::anyhow!("building Postgres connection pool: {e}"))?;
        pools.insert(address.to_string(), pool.clone());
        Ok(pool)
    }
}

/// The host side of a guest `connection` resource: one pooled client,
/// given back to the pool as it is when the guest drops it (or traps).
pub struct PgConnection {
    client: deadpool_postgres::Object,
}

fn pg_extras(dbe: &tokio_postgres::error::DbError) -> Vec<(String, String)> {
    let mut extras = Vec::new();
    let mut push = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            extras.push((k.to_string(), v));
        }
    };
    push("column", dbe.column().map(str::to_string));
    push("constraint", dbe.constraint().map(str::to_string));
    push("routine", dbe.routine().map(str::to_string));
    push("hint", dbe.hint().map(str::to_string));
    push("table", dbe.table().map(str::to_string));
    push("datatype", dbe.datatype().map(str::to_string));
    push("schema", dbe.schema().map(str::to_string));
    push("file", dbe.file().map(str::to_string));
    push("line", dbe.line().map(|l| l.to_string()));
    push("where_", dbe.where_().map(str::to_string));
    extras
}

fn query_failed(e: tokio_postgres::Error) -> Error {
    let as_text = format!("{e:?}");
    Error::QueryFailed(match e.as_db_error() {
        None => QueryError::Text(as_text),
        Some(dbe) => QueryError::DbError(DbError {
            as_text,
            severity: dbe.severity().to_owned(),
            code: dbe.code().code().to_owned(),
            message: dbe.message().to_owned(),
            detail: dbe.detail().map(str::to_owned),
            extras: pg_extras(dbe),
        }),
    })
}

/// `anyhow`'s `{:?}` text (message and causes, as Spin reports them)
/// without a backtrace, whatever `RUST_BACKTRACE` says.
fn error_text(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    let mut causes = e.chain().skip(1).peekable();
    if causes.peek().is_some() {
        out.push_str("\n\nCaused by:");
        for (i, c) in causes.enumerate() {
            if e.chain().count() > 2 {
                out.push_str(&format!("\n    {i}: {c}"));
            } else {
                out.push_str(&format!("\n    {c}"));
            }
        }
    }
    out
}

fn refs(params: &[types::Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

fn conversion(params: &[ParameterValue]) -> anyhow::Result<Vec<types::Param>> {
    params.iter().map(types::to_sql).collect()
}

impl v4::Host for HostState {}

impl v4::HostConnection for HostState {
    async fn open(&mut self, address: String) -> Result<Resource<PgConnection>, Error> {
        if self
            .component
            .allowed_hosts
            .check_address(&address, "postgres")
            .is_err()
        {
            return Err(Error::ConnectionFailed(format!(
                "address {address} is not permitted"
            )));
        }
        let pool = self
            .shared
            .pg
            .pool(&address)
            .map_err(|e| Error::ConnectionFailed(error_text(&e)))?;
        let client = pool
            .get()
            .await
            .map_err(|e| Error::ConnectionFailed(error_text(&anyhow::Error::from(e))))?;
        self.table
            .push(PgConnection { client })
            .map_err(|e| Error::Other(e.to_string()))
    }

    async fn query(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<RowSet, Error> {
        let converted = conversion(&params).map_err(|e| Error::BadParameter(error_text(&e)))?;
        let shared = self.shared.clone();
        let component = self.component.id.clone();
        let (client, stmt) = prepare_on(&mut self.table, &conn, &statement).await?;
        // Errors before the first row (bind, plan) keep their SQLSTATE; an
        // error raised while rows stream back (a constraint violation in
        // `INSERT … RETURNING`, a runtime error over table rows) is text, as
        // in Spin.
        let mut stream = std::pin::pin!(
            client
                .query_raw(&stmt, refs(&converted))
                .await
                .map_err(query_failed)?
        );
        let columns: Vec<Column> = stmt
            .columns()
            .iter()
            .map(|c| Column {
                name: c.name().to_owned(),
                data_type: types::data_type(c.type_()),
            })
            .collect();
        let mut bytes = std::mem::size_of::<RowSet>();
        let mut out = Vec::new();
        while let Some(row) = stream.next().await {
            let row = row.map_err(|e| {
                Error::QueryFailed(QueryError::Text(shared.spin.stream_error_text(&e)))
            })?;
            let mut values = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                let v = types::convert_entry(&row, i)
                    .map_err(|e| Error::QueryFailed(QueryError::Text(error_text(&e))))?;
                bytes += types::memory_size(&v);
                values.push(v);
            }
            if bytes > MAX_RESULT_BYTES {
                return Err(Error::QueryFailed(QueryError::Text(format!(
                    "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
                ))));
            }
            out.push(values);
        }
        if out.is_empty() && shared.zero_row == ZeroRowMode::Error {
            tracing::warn!(
                component = %component,
                sql = %statement,
                "zero-row Postgres query: Spin 4.0.0-4.0.2 would hang here (spinframework/spin#3671); returning an error to the guest"
            );
            return Err(Error::QueryFailed(QueryError::Text(
                ZERO_ROW_MESSAGE.to_string(),
            )));
        }
        Ok(RowSet { columns, rows: out })
    }

    async fn execute(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<u64, Error> {
        let converted =
            conversion(&params).map_err(|e| Error::ValueConversionFailed(error_text(&e)))?;
        let (client, stmt) = prepare_on(&mut self.table, &conn, &statement).await?;
        client
            .execute(&stmt, &refs(&converted))
            .await
            .map_err(query_failed)
    }

    async fn drop(&mut self, rep: Resource<PgConnection>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

/// The client behind `conn`, with `statement` prepared on it untyped, as
/// Spin does: Postgres decides each parameter's type from its context (text
/// where there is none, `SELECT $1`), and a value of another kind then
/// fails to bind with `WrongType`.
async fn prepare_on<'t>(
    // `&mut`: a shared reference to the table is not `Send` across `.await`.
    table: &'t mut ResourceTable,
    conn: &Resource<PgConnection>,
    statement: &str,
) -> Result<(&'t deadpool_postgres::Object, Statement), Error> {
    let conn = table
        .get_mut(conn)
        .map_err(|e| Error::Other(e.to_string()))?;
    let stmt = conn.client.prepare(statement).await.map_err(query_failed)?;
    Ok((&conn.client, stmt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_row_mode_parses() {
        assert_eq!(ZeroRowMode::parse("error"), Ok(ZeroRowMode::Error));
        assert_eq!(ZeroRowMode::parse("allow"), Ok(ZeroRowMode::Allow));
        assert!(ZeroRowMode::parse("maybe").is_err());
    }

    #[test]
    fn zero_row_message_names_the_cause() {
        for needle in [
            "zero-row result",
            "4.0.0-4.0.2",
            "spinframework/spin#3671",
            "json_agg",
        ] {
            assert!(ZERO_ROW_MESSAGE.contains(needle), "{needle}");
        }
    }

    #[test]
    fn spin_version_parses_and_sets_the_zero_row_default() {
        assert_eq!(SpinVersion::parse("4.0"), Ok(SpinVersion::V4_0));
        assert_eq!(SpinVersion::parse("3.6.3"), Ok(SpinVersion::V3_6));
        assert!(SpinVersion::parse("5").is_err());
        assert_eq!(SpinVersion::V4_0.zero_row_default(), ZeroRowMode::Error);
        assert_eq!(SpinVersion::V3_6.zero_row_default(), ZeroRowMode::Allow);
    }

    #[test]
    fn error_text_has_no_backtrace() {
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_text(&e), "outer\n\nCaused by:\n    inner");
    }
}
