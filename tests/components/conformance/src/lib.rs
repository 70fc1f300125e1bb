//! Conformance probe: a test component that exposes the host's imports as generic
//! HTTP probes, so that the tables of expected behaviour live in the native e2e tests.
//!
//! Routes (all under the routes given to it in `tests/apps/conformance/spin.toml`):
//! - `POST /probe/pg`    run a list of Postgres ops (`pg4`) and report each result as JSON
//! - `POST /probe/redis` run a list of Redis ops and report each result as JSON
//! - `GET  /probe/var/<name>` read a variable, or report the error variant
//! - `POST /probe/http`  send an outbound `GET` to `{"url": ...}` and report status or error code
//! - `GET  /probe/trap`  panic
//! - `GET  /probe/zero`  a deliberately zero-row `query`
//! - `GET  /probe/env/<name>` read a WASI environment variable (set with the host's `-e`)
//! - `GET  /probe/print/<marker>` print `stdout <marker>` and `stderr <marker>`
//! - anything else: echo method, path and every request header as JSON

mod pg;
mod redis;

use serde_json::{Value, json};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request) -> Response {
    let path = req.path().to_owned();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::Post, "/probe/pg") => with_body(req.body(), pg::run),
        (Method::Post, "/probe/redis") => with_body(req.body(), redis::run),
        (Method::Get, p) if p.starts_with("/probe/var/") => {
            json_response(200, &variable(&p["/probe/var/".len()..]))
        }
        (Method::Post, "/probe/http") => match serde_json::from_slice::<Value>(req.body()) {
            Ok(body) => json_response(200, &outbound(&body).await),
            Err(e) => bad_request(&e.to_string()),
        },
        (Method::Get, "/probe/trap") => panic!("deliberate trap requested by /probe/trap"),
        (Method::Get, "/probe/zero") => json_response(200, &pg::zero_rows()),
        (Method::Get, p) if p.starts_with("/probe/env/") => {
            json_response(200, &env_var(&p["/probe/env/".len()..]))
        }
        (Method::Get, p) if p.starts_with("/probe/print/") => {
            let marker = &p["/probe/print/".len()..];
            println!("stdout {marker}");
            eprintln!("stderr {marker}");
            json_response(200, &json!({ "printed": marker }))
        }
        _ => json_response(200, &echo(&req)),
    }
}

fn with_body(body: &[u8], f: fn(&Value) -> Result<Value, String>) -> Response {
    match serde_json::from_slice::<Value>(body)
        .map_err(|e| e.to_string())
        .and_then(|v| f(&v))
    {
        Ok(v) => json_response(200, &v),
        Err(e) => bad_request(&e),
    }
}

fn json_response(status: u16, value: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(value.to_string())
        .build()
}

fn bad_request(message: &str) -> Response {
    json_response(400, &json!({ "probe_error": message }))
}

/// Reads a variable through `spin_sdk::variables`.
fn variable(name: &str) -> Value {
    use spin_sdk::variables::Error;
    match spin_sdk::variables::get(name) {
        Ok(v) => json!({ "ok": v }),
        Err(e) => {
            let (kind, text) = match e {
                Error::InvalidName(t) => ("invalid-name", t),
                Error::Undefined(t) => ("undefined", t),
                Error::Provider(t) => ("provider", t),
                Error::Other(t) => ("other", t),
            };
            json!({ "err": { "kind": kind, "text": text } })
        }
    }
}

/// Reads a WASI environment variable.
fn env_var(name: &str) -> Value {
    match std::env::var(name) {
        Ok(v) => json!({ "ok": v }),
        Err(e) => json!({ "err": { "kind": "env", "text": e.to_string() } }),
    }
}

/// Sends `GET url` and reports the status, or the wasi-http error code's variant name.
async fn outbound(body: &Value) -> Value {
    let Some(url) = body.get("url").and_then(Value::as_str) else {
        return json!({ "err": { "kind": "probe", "text": "missing url" } });
    };
    let request = Request::get(url).build();
    match spin_sdk::http::send::<_, Response>(request).await {
        Ok(resp) => json!({ "ok": {
            "status": *resp.status(),
            "body": String::from_utf8_lossy(resp.body()),
        }}),
        Err(spin_sdk::http::SendError::Http(code)) => {
            let debug = format!("{code:?}");
            json!({ "err": { "kind": variant_name(&debug), "text": debug } })
        }
        Err(e) => json!({ "err": { "kind": "other", "text": e.to_string() } }),
    }
}

/// `ErrorCode::ConnectionRefused` → `ConnectionRefused`; `ErrorCode::Foo(..)` → `Foo`.
fn variant_name(debug: &str) -> String {
    let s = debug.strip_prefix("ErrorCode::").unwrap_or(debug);
    s.split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or(s)
        .to_owned()
}

fn echo(req: &Request) -> Value {
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    json!({
        "method": req.method().to_string(),
        "path": req.path(),
        "query": req.query(),
        "uri": req.uri(),
        "headers": headers,
    })
}
