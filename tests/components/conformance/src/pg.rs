//! `POST /probe/pg`: JSON ops in, `pg4` results out.
//!
//! Request: `{"address": "postgres://…" (default: variable db_url),
//!            "ops": [{"conn": 0, "kind": "query"|"execute", "sql": "…", "params": [P…]}]}`
//! where `P` is `{"kind": "<parameter-value variant>", "value": …}` (see [`param`]).
//! Response: `{"results": [R…]}`, one per op: `{"ok": {"columns": […], "rows": […]}}` for a
//! query, `{"ok": n}` for an execute, `{"err": {"kind": "<error variant>", …}}` on failure.
//! Connections are opened on first use of their index and kept for the request.
//! An op `{"kind": "trap"}` panics there, leaving the connections as they are
//! (a transaction stays open) for the host to take back.

use std::collections::HashMap;

use serde_json::{Value, json};
use spin_sdk::pg4::{
    Column, Connection, DbDataType, DbValue, Interval, ParameterValue, PgError, QueryError,
    RangeBoundKind, RowSet,
};

pub fn run(body: &Value) -> Result<Value, String> {
    let default_address = match body.get("address").and_then(Value::as_str) {
        Some(a) => a.to_owned(),
        None => spin_sdk::variables::get("db_url").map_err(|e| format!("db_url: {e}"))?,
    };
    let ops = body
        .get("ops")
        .and_then(Value::as_array)
        .ok_or("missing ops")?;
    let mut conns: HashMap<u64, Connection> = HashMap::new();
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        if op.get("kind").and_then(Value::as_str) == Some("trap") {
            panic!("deliberate trap requested by a pg op");
        }
        let index = op.get("conn").and_then(Value::as_u64).unwrap_or(0);
        let address = op
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or(&default_address);
        let sql = op
            .get("sql")
            .and_then(Value::as_str)
            .ok_or("op without sql")?;
        let params = op
            .get("params")
            .and_then(Value::as_array)
            .map(|ps| ps.iter().map(param).collect::<Result<Vec<_>, _>>())
            .transpose()?
            .unwrap_or_default();
        if let std::collections::hash_map::Entry::Vacant(slot) = conns.entry(index) {
            match Connection::open(address) {
                Ok(c) => {
                    slot.insert(c);
                }
                Err(e) => {
                    results.push(json!({ "err": error(&e) }));
                    continue;
                }
            }
        }
        let conn = &conns[&index];
        let result = match op.get("kind").and_then(Value::as_str) {
            Some("query") => conn.query(sql, &params).map(|rs| row_set(&rs)),
            Some("execute") => conn.execute(sql, &params).map(|n| json!(n)),
            other => return Err(format!("unknown op kind {other:?}")),
        };
        results.push(match result {
            Ok(v) => json!({ "ok": v }),
            Err(e) => json!({ "err": error(&e) }),
        });
    }
    Ok(json!({ "results": results }))
}

/// `GET /probe/zero`: a query whose result has no rows.
pub fn zero_rows() -> Value {
    let result = spin_sdk::variables::get("db_url")
        .map_err(|e| json!({ "kind": "probe", "text": e.to_string() }))
        .and_then(|address| Connection::open(&address).map_err(|e| error(&e)))
        .and_then(|conn| {
            conn.query("SELECT 1 AS one WHERE false", &[])
                .map_err(|e| error(&e))
        });
    match result {
        Ok(rs) => json!({ "ok": row_set(&rs) }),
        Err(e) => json!({ "err": e }),
    }
}

fn error(e: &PgError) -> Value {
    match e {
        PgError::ConnectionFailed(t) => json!({ "kind": "connection-failed", "text": t }),
        PgError::BadParameter(t) => json!({ "kind": "bad-parameter", "text": t }),
        PgError::QueryFailed(QueryError::Text(t)) => json!({ "kind": "query-failed", "text": t }),
        PgError::QueryFailed(QueryError::DbError(d)) => json!({
            "kind": "query-failed",
            "code": d.code,
            "severity": d.severity,
            "message": d.message,
            "detail": d.detail,
            "text": d.as_text,
        }),
        PgError::ValueConversionFailed(t) => {
            json!({ "kind": "value-conversion-failed", "text": t })
        }
        PgError::Other(t) => json!({ "kind": "other", "text": t }),
    }
}

fn row_set(rs: &RowSet) -> Value {
    let columns: Vec<Value> = rs.columns.iter().map(column).collect();
    let rows: Vec<Value> = rs
        .rows
        .iter()
        .map(|r| Value::Array(r.iter().map(db_value).collect()))
        .collect();
    json!({ "columns": columns, "rows": rows })
}

fn column(c: &Column) -> Value {
    let ty = match &c.data_type {
        DbDataType::Boolean => "boolean".to_owned(),
        DbDataType::Int8 => "int8".to_owned(),
        DbDataType::Int16 => "int16".to_owned(),
        DbDataType::Int32 => "int32".to_owned(),
        DbDataType::Int64 => "int64".to_owned(),
        DbDataType::Floating32 => "floating32".to_owned(),
        DbDataType::Floating64 => "floating64".to_owned(),
        DbDataType::Str => "str".to_owned(),
        DbDataType::Binary => "binary".to_owned(),
        DbDataType::Date => "date".to_owned(),
        DbDataType::Time => "time".to_owned(),
        DbDataType::Datetime => "datetime".to_owned(),
        DbDataType::Timestamp => "timestamp".to_owned(),
        DbDataType::Uuid => "uuid".to_owned(),
        DbDataType::Jsonb => "jsonb".to_owned(),
        DbDataType::Decimal => "decimal".to_owned(),
        DbDataType::RangeInt32 => "range-int32".to_owned(),
        DbDataType::RangeInt64 => "range-int64".to_owned(),
        DbDataType::RangeDecimal => "range-decimal".to_owned(),
        DbDataType::ArrayInt32 => "array-int32".to_owned(),
        DbDataType::ArrayInt64 => "array-int64".to_owned(),
        DbDataType::ArrayDecimal => "array-decimal".to_owned(),
        DbDataType::ArrayStr => "array-str".to_owned(),
        DbDataType::Interval => "interval".to_owned(),
        DbDataType::Other(name) => format!("other({name})"),
    };
    json!({ "name": c.name, "type": ty })
}

fn bound<T: Into<Value> + Clone>(b: &Option<(T, RangeBoundKind)>) -> Value {
    match b {
        None => Value::Null,
        Some((v, k)) => json!([v.clone().into(), bound_kind(*k)]),
    }
}

fn bound_kind(k: RangeBoundKind) -> &'static str {
    match k {
        RangeBoundKind::Inclusive => "inclusive",
        RangeBoundKind::Exclusive => "exclusive",
    }
}

fn db_value(v: &DbValue) -> Value {
    let (kind, value) = match v {
        DbValue::Boolean(b) => ("boolean", json!(b)),
        DbValue::Int8(n) => ("int8", json!(n)),
        DbValue::Int16(n) => ("int16", json!(n)),
        DbValue::Int32(n) => ("int32", json!(n)),
        DbValue::Int64(n) => ("int64", json!(n)),
        DbValue::Floating32(n) => ("floating32", json!(n)),
        DbValue::Floating64(n) => ("floating64", json!(n)),
        DbValue::Str(s) => ("str", json!(s)),
        DbValue::Binary(b) => ("binary", json!(b)),
        DbValue::Date((y, m, d)) => ("date", json!([y, m, d])),
        DbValue::Time((h, m, s, ns)) => ("time", json!([h, m, s, ns])),
        DbValue::Datetime((y, mo, d, h, mi, s, ns)) => {
            ("datetime", json!([y, mo, d, h, mi, s, ns]))
        }
        DbValue::Timestamp(t) => ("timestamp", json!(t)),
        DbValue::Uuid(u) => ("uuid", json!(u)),
        DbValue::Jsonb(b) => ("jsonb", json!(String::from_utf8_lossy(b))),
        DbValue::Decimal(d) => ("decimal", json!(d)),
        DbValue::RangeInt32((lo, hi)) => ("range-int32", json!([bound(lo), bound(hi)])),
        DbValue::RangeInt64((lo, hi)) => ("range-int64", json!([bound(lo), bound(hi)])),
        DbValue::RangeDecimal((lo, hi)) => ("range-decimal", json!([bound(lo), bound(hi)])),
        DbValue::ArrayInt32(a) => ("array-int32", json!(a)),
        DbValue::ArrayInt64(a) => ("array-int64", json!(a)),
        DbValue::ArrayDecimal(a) => ("array-decimal", json!(a)),
        DbValue::ArrayStr(a) => ("array-str", json!(a)),
        DbValue::Interval(i) => (
            "interval",
            json!({ "micros": i.micros, "days": i.days, "months": i.months }),
        ),
        DbValue::DbNull => return json!({ "kind": "db-null" }),
        DbValue::Unsupported(raw) => {
            return json!({
                "kind": "unsupported",
                "value": raw,
                "text": String::from_utf8_lossy(raw),
            });
        }
    };
    json!({ "kind": kind, "value": value })
}

fn int<T: TryFrom<i64>>(v: &Value) -> Result<T, String> {
    v.as_i64()
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("expected an integer in range, got {v}"))
}

fn float(v: &Value) -> Result<f64, String> {
    v.as_f64()
        .ok_or_else(|| format!("expected a number, got {v}"))
}

fn string(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("expected a string, got {v}"))
}

fn items(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected an array, got {v}"))
}

fn opt_items<T>(
    v: &Value,
    f: impl Fn(&Value) -> Result<T, String>,
) -> Result<Vec<Option<T>>, String> {
    items(v)?
        .iter()
        .map(|x| {
            if x.is_null() {
                Ok(None)
            } else {
                f(x).map(Some)
            }
        })
        .collect()
}

fn bound_in<T>(
    v: &Value,
    f: impl Fn(&Value) -> Result<T, String>,
) -> Result<Option<(T, RangeBoundKind)>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let pair = items(v)?;
    let kind = match pair.get(1).and_then(Value::as_str) {
        Some("inclusive") => RangeBoundKind::Inclusive,
        Some("exclusive") => RangeBoundKind::Exclusive,
        other => return Err(format!("bad range bound kind {other:?}")),
    };
    Ok(Some((f(&pair[0])?, kind)))
}

/// `{"kind": "int32", "value": 5}` → `ParameterValue::Int32(5)`. Shapes of `value`:
/// numbers for the scalar kinds, a string for str/uuid/decimal, a string of JSON text for
/// jsonb (sent as its UTF-8 bytes, malformed allowed), an array of bytes for binary,
/// `[y,m,d]` / `[h,m,s,ns]` / `[y,m,d,h,m,s,ns]` for date/time/datetime, `[lower, upper]`
/// with `null` or `[v, "inclusive"|"exclusive"]` for ranges, arrays with `null` items, and
/// `{"micros","days","months"}` for interval. `db-null` has no value.
fn param(p: &Value) -> Result<ParameterValue, String> {
    let kind = p
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("parameter without kind")?;
    let v = p.get("value").unwrap_or(&Value::Null);
    let at = |i: usize| {
        items(v).and_then(|a| a.get(i).ok_or_else(|| format!("{kind}: missing item {i}")))
    };
    Ok(match kind {
        "boolean" => ParameterValue::Boolean(v.as_bool().ok_or("boolean value")?),
        "int8" => ParameterValue::Int8(int(v)?),
        "int16" => ParameterValue::Int16(int(v)?),
        "int32" => ParameterValue::Int32(int(v)?),
        "int64" => ParameterValue::Int64(int(v)?),
        "floating32" => ParameterValue::Floating32(float(v)? as f32),
        "floating64" => ParameterValue::Floating64(float(v)?),
        "str" => ParameterValue::Str(string(v)?),
        "binary" => ParameterValue::Binary(items(v)?.iter().map(int).collect::<Result<_, _>>()?),
        "date" => ParameterValue::Date((int(at(0)?)?, int(at(1)?)?, int(at(2)?)?)),
        "time" => ParameterValue::Time((int(at(0)?)?, int(at(1)?)?, int(at(2)?)?, int(at(3)?)?)),
        "datetime" => ParameterValue::Datetime((
            int(at(0)?)?,
            int(at(1)?)?,
            int(at(2)?)?,
            int(at(3)?)?,
            int(at(4)?)?,
            int(at(5)?)?,
            int(at(6)?)?,
        )),
        "timestamp" => ParameterValue::Timestamp(int(v)?),
        "uuid" => ParameterValue::Uuid(string(v)?),
        "jsonb" => ParameterValue::Jsonb(string(v)?.into_bytes()),
        "decimal" => ParameterValue::Decimal(string(v)?),
        "range-int32" => {
            ParameterValue::RangeInt32((bound_in(at(0)?, int)?, bound_in(at(1)?, int)?))
        }
        "range-int64" => {
            ParameterValue::RangeInt64((bound_in(at(0)?, int)?, bound_in(at(1)?, int)?))
        }
        "range-decimal" => {
            ParameterValue::RangeDecimal((bound_in(at(0)?, string)?, bound_in(at(1)?, string)?))
        }
        "array-int32" => ParameterValue::ArrayInt32(opt_items(v, int)?),
        "array-int64" => ParameterValue::ArrayInt64(opt_items(v, int)?),
        "array-decimal" => ParameterValue::ArrayDecimal(opt_items(v, string)?),
        "array-str" => ParameterValue::ArrayStr(opt_items(v, string)?),
        "interval" => ParameterValue::Interval(Interval {
            micros: int(v.get("micros").unwrap_or(&Value::Null))?,
            days: int(v.get("days").unwrap_or(&Value::Null))?,
            months: int(v.get("months").unwrap_or(&Value::Null))?,
        }),
        "db-null" => ParameterValue::DbNull,
        other => return Err(format!("unknown parameter kind {other}")),
    })
}
