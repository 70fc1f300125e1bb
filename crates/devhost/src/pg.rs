//! `spin:postgres/postgres@4.0.0` on tokio-postgres with a pool per address.
//!
//! Mirrors Spin 4.0.2: the address must be allowed by the component's
//! `allowed_outbound_hosts`; a `Connection` holds one pooled client for its
//! whole life (so BEGIN … COMMIT is a real transaction); a session is cleaned
//! (what `RecyclingMethod::Clean` runs: settings reset, temp tables dropped)
//! before anyone gets it again; every statement is prepared afresh, with no
//! statement cache, as in Spin, so DDL never invalidates a cached plan.
//!
//! The one deliberate difference is a zero-row `query`: Spin 4.0.0–4.0.2
//! hangs forever there (spinframework/spin#3671); devhost answers with an
//! error (default) or the empty row set (`--pg-zero-row-query allow`).

pub mod types;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
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
                // Sessions are cleaned when given back (see `Drop for
                // PgConnection`), so taking one only checks it is open.
                recycling_method: RecyclingMethod::Fast,
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

/// The host side of a guest `connection` resource.
pub struct PgConnection {
    /// Always `Some` until dropped.
    client: Option<deadpool_postgres::Object>,
    /// Set when the guest may have left a transaction open; the client is
    /// then rolled back before it goes back to the pool.
    maybe_in_transaction: bool,
}

impl PgConnection {
    fn client(&self) -> &deadpool_postgres::Object {
        self.client.as_ref().expect("client present until drop")
    }
}

/// What makes a used session look new again (what deadpool's
/// `RecyclingMethod::Clean` runs): settings reset (a custom setting then
/// reads back as ''), temp tables and sequences dropped, locks released.
const CLEAN_SQL: &str = "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; \
     SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES;";

impl Drop for PgConnection {
    /// Cleans the session and only then returns it to the pool. Spin cleans
    /// when a connection is taken from the pool, on the request path; doing
    /// it here, in the background, gives the same guarantee without the
    /// extra round trip per request. A transaction the guest left open (a
    /// trap mid-transaction, a missing COMMIT) is rolled back first; a
    /// session that cannot be cleaned is closed instead of reused.
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let sql = if self.maybe_in_transaction {
            format!("ROLLBACK; {CLEAN_SQL}")
        } else {
            CLEAN_SQL.to_string()
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = client.batch_execute(&sql).await {
                        tracing::debug!("discarding a Postgres session that failed to clean: {e}");
                        drop(deadpool_postgres::Object::take(client));
                    }
                });
            }
            Err(_) => drop(deadpool_postgres::Object::take(client)),
        }
    }
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

/// Whether a statement may change the transaction state of the session.
fn touches_transaction(sql: &str) -> bool {
    let head: String = sql
        .trim_start()
        .chars()
        .take(5)
        .collect::<String>()
        .to_ascii_uppercase();
    head.starts_with("BEGIN") || head.starts_with("START")
}

/// Prepares `sql` untyped, as Spin does, so Postgres decides each
/// parameter's type and a value of another kind fails to bind. A parameter
/// Postgres cannot type at all (`SELECT $1`: indeterminate, or text by
/// default) takes the kind of the value instead.
async fn prepare(
    client: &deadpool_postgres::Object,
    sql: &str,
    params: &[ParameterValue],
) -> Result<Statement, tokio_postgres::Error> {
    let stmt = match client.prepare(sql).await {
        Err(e) if e.code() == Some(&SqlState::INDETERMINATE_DATATYPE) => {
            let types: Vec<_> = params.iter().map(types::natural_type).collect();
            return client.prepare_typed(sql, &types).await;
        }
        other => other?,
    };
    let mut retype = false;
    let declared: Vec<Type> = stmt
        .params()
        .iter()
        .enumerate()
        .map(|(i, t)| match params.get(i) {
            Some(p)
                if (*t == Type::TEXT || *t == Type::UNKNOWN)
                    && !matches!(p, ParameterValue::Str(_) | ParameterValue::DbNull)
                    && is_bare_parameter(sql, i + 1) =>
            {
                retype = true;
                types::natural_type(p)
            }
            _ => t.clone(),
        })
        .collect();
    if retype {
        client.prepare_typed(sql, &declared).await
    } else {
        Ok(stmt)
    }
}

/// True when `$n` appears in `sql` and never with a cast (`$n::t`,
/// `CAST($n AS t)`), i.e. its text type was Postgres's default, not asked for.
fn is_bare_parameter(sql: &str, n: usize) -> bool {
    let needle = format!("${n}");
    let mut found = false;
    let mut from = 0;
    while let Some(pos) = sql[from..].find(&needle) {
        let start = from + pos;
        let end = start + needle.len();
        from = end;
        if sql[end..].starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        found = true;
        let after = sql[end..].trim_start();
        let before = sql[..start].trim_end().to_ascii_lowercase();
        if after.starts_with("::") || before.ends_with("cast(") {
            return false;
        }
    }
    found
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
            .push(PgConnection {
                client: Some(client),
                maybe_in_transaction: false,
            })
            .map_err(|e| Error::Other(e.to_string()))
    }

    async fn query(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<RowSet, Error> {
        let converted = conversion(&params).map_err(|e| Error::BadParameter(error_text(&e)))?;
        let zero_row = self.shared.zero_row;
        let component = self.component.id.clone();
        let (client, stmt) = prepare_on(&mut self.table, &conn, &statement, &params).await?;
        let rows = client
            .query(&stmt, &refs(&converted))
            .await
            .map_err(query_failed)?;
        let columns: Vec<Column> = stmt
            .columns()
            .iter()
            .map(|c| Column {
                name: c.name().to_owned(),
                data_type: types::data_type(c.type_()),
            })
            .collect();
        if rows.is_empty() && zero_row == ZeroRowMode::Error {
            tracing::warn!(
                component = %component,
                sql = %statement,
                "zero-row Postgres query: Spin 4.0.0-4.0.2 would hang here (spinframework/spin#3671); returning an error to the guest"
            );
            return Err(Error::QueryFailed(QueryError::Text(
                ZERO_ROW_MESSAGE.to_string(),
            )));
        }
        let mut bytes = std::mem::size_of::<RowSet>();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                let v = types::convert_entry(row, i)
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
        let (client, stmt) = prepare_on(&mut self.table, &conn, &statement, &params).await?;
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

/// The client behind `conn`, with `statement` prepared on it; notes a
/// statement that may leave a transaction open (see [`PgConnection`]).
async fn prepare_on<'t>(
    table: &'t mut ResourceTable,
    conn: &Resource<PgConnection>,
    statement: &str,
    params: &[ParameterValue],
) -> Result<(&'t deadpool_postgres::Object, Statement), Error> {
    let conn = table
        .get_mut(conn)
        .map_err(|e| Error::Other(e.to_string()))?;
    if touches_transaction(statement) {
        conn.maybe_in_transaction = true;
    }
    let stmt = prepare(conn.client(), statement, params)
        .await
        .map_err(query_failed)?;
    Ok((conn.client(), stmt))
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
    fn bare_parameters_are_told_from_cast_ones() {
        let cases = [
            ("SELECT $1", 1, true),
            ("SELECT $1 AS v, $2", 2, true),
            ("SELECT $1::text", 1, false),
            ("SELECT $1 :: int4", 1, false),
            ("SELECT CAST($1 AS text)", 1, false),
            ("SELECT cast( $1 AS text)", 1, false),
            ("SELECT $10", 1, false),
            ("SELECT $1, $1::text", 1, false),
            ("SELECT 1", 1, false),
        ];
        for (sql, n, expected) in cases {
            assert_eq!(is_bare_parameter(sql, n), expected, "{sql} ${n}");
        }
    }

    #[test]
    fn error_text_has_no_backtrace() {
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_text(&e), "outer\n\nCaused by:\n    inner");
    }

    #[test]
    fn transaction_statements_are_spotted() {
        for sql in [
            "BEGIN",
            "  begin;",
            "START TRANSACTION",
            "begin isolation level serializable",
        ] {
            assert!(touches_transaction(sql), "{sql}");
        }
        for sql in ["SELECT 1", "COMMIT", "insert into t values (1)"] {
            assert!(!touches_transaction(sql), "{sql}");
        }
    }
}
