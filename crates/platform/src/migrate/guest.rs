//! The Spin `pg4` connection behind the runner (wasm32 only).
//!
//! The same conversions as the platform's own backend in `pg.rs`, kept here
//! because the runner needs the backend itself (to record raw failures), and
//! that one is private to `pg`.

use spin_sdk::pg4::{self, DbValue, ParameterValue};

use crate::config::Secret;
use crate::error::Error;
use crate::pg::{Backend, DbFailure, Param, PgFailure, map_failure};

pub(super) struct Pg(pg4::Connection);

/// Opens a connection; failure → 503 (via the platform's mapping).
pub(super) fn connect(url: &Secret) -> Result<Pg, Error> {
    pg4::Connection::open(url.expose())
        .map(Pg)
        .map_err(|err| map_failure(failure(err)))
}

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

fn failure(err: pg4::PgError) -> PgFailure {
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

impl Backend for Pg {
    fn query_cell(&self, sql: &str, params: &[Param]) -> Result<Option<String>, PgFailure> {
        let values: Vec<ParameterValue> = params.iter().map(value).collect();
        let rows = self.0.query(sql, &values).map_err(failure)?;
        match rows
            .rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
        {
            Some(DbValue::Str(text)) => Ok(Some(text)),
            Some(DbValue::DbNull) => Ok(None),
            _ => Err(PgFailure::ValueConversion(
                "expected one row with one text value".into(),
            )),
        }
    }

    fn execute(&self, sql: &str, params: &[Param]) -> Result<u64, PgFailure> {
        let values: Vec<ParameterValue> = params.iter().map(value).collect();
        self.0.execute(sql, &values).map_err(failure)
    }
}
