//! `POST /probe/redis`: JSON ops in, `redis` results out.
//!
//! Request: `{"address": "redis://…" (default: variable redis_url), "ops": [O…]}` with
//! `O` one of `{"op":"get","key"}`, `{"op":"set","key","value"}`, `{"op":"incr","key"}`,
//! `{"op":"del","keys":[…]}`, `{"op":"sadd"|"srem","key","values":[…]}`,
//! `{"op":"smembers","key"}`, `{"op":"publish","channel","payload"}`,
//! `{"op":"execute","command","args":[{"kind":"int64"|"binary","value"}…]}`.
//! Response: `{"results": [{"ok": …} | {"err": {"kind", "text"}}]}`. A failed open is
//! reported as the result of the op that needed it.

use serde_json::{Value, json};
use spin_sdk::redis::{Connection, Error, RedisParameter, RedisResult};

pub fn run(body: &Value) -> Result<Value, String> {
    let address = match body.get("address").and_then(Value::as_str) {
        Some(a) => a.to_owned(),
        None => spin_sdk::variables::get("redis_url").map_err(|e| format!("redis_url: {e}"))?,
    };
    let ops = body
        .get("ops")
        .and_then(Value::as_array)
        .ok_or("missing ops")?;
    let mut conn: Option<Connection> = None;
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        if conn.is_none() {
            match Connection::open(&address) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    results.push(json!({ "err": error(&e) }));
                    continue;
                }
            }
        }
        let c = conn.as_ref().ok_or("no connection")?;
        let result = one(c, op)?;
        results.push(match result {
            Ok(v) => json!({ "ok": v }),
            Err(e) => json!({ "err": error(&e) }),
        });
    }
    Ok(json!({ "results": results }))
}

fn text(op: &Value, field: &str) -> Result<String, String> {
    op.get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("op {op} needs string field {field}"))
}

fn texts(op: &Value, field: &str) -> Result<Vec<String>, String> {
    op.get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("op {op} needs array field {field}"))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{field} items must be strings"))
        })
        .collect()
}

fn lossy(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

fn one(c: &Connection, op: &Value) -> Result<Result<Value, Error>, String> {
    let name = op.get("op").and_then(Value::as_str).unwrap_or("");
    Ok(match name {
        "get" => c
            .get(&text(op, "key")?)
            .map(|v| v.map(|b| lossy(&b)).unwrap_or(Value::Null)),
        "set" => c
            .set(&text(op, "key")?, text(op, "value")?.as_bytes())
            .map(|()| Value::Null),
        "incr" => c.incr(&text(op, "key")?).map(|n| json!(n)),
        "del" => c.del(&texts(op, "keys")?).map(|n| json!(n)),
        "sadd" => c
            .sadd(&text(op, "key")?, &texts(op, "values")?)
            .map(|n| json!(n)),
        "srem" => c
            .srem(&text(op, "key")?, &texts(op, "values")?)
            .map(|n| json!(n)),
        "smembers" => c.smembers(&text(op, "key")?).map(|m| json!(m)),
        "publish" => c
            .publish(&text(op, "channel")?, text(op, "payload")?.as_bytes())
            .map(|()| Value::Null),
        "execute" => {
            let args = op
                .get("args")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(redis_param).collect::<Result<Vec<_>, _>>())
                .transpose()?
                .unwrap_or_default();
            c.execute(&text(op, "command")?, &args)
                .map(|rs| Value::Array(rs.iter().map(redis_result).collect()))
        }
        other => return Err(format!("unknown redis op {other:?}")),
    })
}

fn redis_param(p: &Value) -> Result<RedisParameter, String> {
    let v = p.get("value").unwrap_or(&Value::Null);
    match p.get("kind").and_then(Value::as_str) {
        Some("int64") => v
            .as_i64()
            .map(RedisParameter::Int64)
            .ok_or_else(|| format!("int64 parameter needs a number: {p}")),
        Some("binary") => v
            .as_str()
            .map(|s| RedisParameter::Binary(s.as_bytes().to_vec()))
            .ok_or_else(|| format!("binary parameter needs a string: {p}")),
        other => Err(format!("unknown redis parameter kind {other:?}")),
    }
}

fn redis_result(r: &RedisResult) -> Value {
    match r {
        RedisResult::Nil => json!({ "kind": "nil" }),
        RedisResult::Status(s) => json!({ "kind": "status", "value": s }),
        RedisResult::Int64(n) => json!({ "kind": "int64", "value": n }),
        RedisResult::Binary(b) => json!({ "kind": "binary", "value": lossy(b) }),
    }
}

fn error(e: &Error) -> Value {
    match e {
        Error::InvalidAddress => json!({ "kind": "invalid-address", "text": "" }),
        Error::TooManyConnections => json!({ "kind": "too-many-connections", "text": "" }),
        Error::TypeError => json!({ "kind": "type-error", "text": "" }),
        Error::Other(t) => json!({ "kind": "other", "text": t }),
    }
}
