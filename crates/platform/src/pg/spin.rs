//! The Spin `pg4` backend (wasm only).

use spin_sdk::pg4::{self, DbValue, ParameterValue};

use super::{Backend, DbFailure, Param, PgFailure, map_failure};
use crate::error::Error;

pub(crate) struct SpinBackend(pub(super) pg4::Connection);

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

pub(crate) fn failure(err: pg4::PgError) -> PgFailure {
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

/// Opens Spin's `pg4` connection at `url` as a [`Backend`].
pub(super) fn open_backend(url: &crate::config::Secret) -> Result<impl Backend + 'static, Error> {
    spin_sdk::pg4::Connection::open(url.expose())
        .map(SpinBackend)
        .map_err(|err| map_failure(failure(err)))
}
