//! Bench component: one route per host operation whose cost `cargo xtask bench` measures.
//!
//! - `GET /bench/noop`  answers without calling any import (not even a variable)
//! - `GET /bench/pg`    opens a pooled Postgres connection and runs `SELECT 1` (one row),
//!   through `plinth_platform::Db` like every component
//! - `GET /bench/redis` opens Redis and GETs one key (`plinth_platform::redis::Cache`)
//! - `GET /bench/jwt`   verifies the EdDSA JWT of `Authorization: Bearer …` (401 if invalid)
//! - `GET /bench/all`   JWT verify + Redis GET + one Postgres row
//!
//! Variables: `db_url`, `redis_url`, `jwt_public_key` (hex of the raw 32-byte Ed25519
//! key), `jwt_issuer`, `jwt_audience`.

use std::collections::HashSet;

use jwt_simple::prelude::{
    Ed25519PublicKey, EdDSAPublicKeyLike, NoCustomClaims, VerificationOptions,
};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

/// Redis key read by the redis and all scenarios; it need not exist.
const REDIS_KEY: &str = "bench:key";

#[http_component]
fn handle(req: Request) -> Response {
    let result = match req.path() {
        "/bench/noop" => Ok(Response::new(200, "ok")),
        "/bench/pg" => pg_one_row().map(|v| Response::new(200, v.to_string())),
        "/bench/redis" => redis_get().map(|v| Response::new(200, v)),
        "/bench/jwt" => verify_bearer(&req).map(|sub| Response::new(200, sub)),
        "/bench/all" => all(&req),
        _ => Ok(Response::new(404, "not found")),
    };
    result.unwrap_or_else(|e| e)
}

fn var(name: &str) -> Result<String, Response> {
    spin_sdk::variables::get(name).map_err(|e| internal(&format!("variable {name}: {e}")))
}

fn internal(message: &str) -> Response {
    eprintln!("bench: {message}");
    Response::new(500, "internal error")
}

fn unauthorized() -> Response {
    Response::new(401, "unauthorized")
}

#[derive(serde::Deserialize)]
struct One {
    one: i32,
}

/// Opens a connection (pooled by the host) through the platform's `Db`, the path
/// every component takes, and reads one row (`SELECT 1`, wrapped into one JSON row).
fn pg_one_row() -> Result<i32, Response> {
    let url = plinth_platform::config::secret("db_url").map_err(|e| internal(&e.to_string()))?;
    let db = plinth_platform::Db::connect(&url).map_err(|e| internal(&format!("pg open: {e}")))?;
    db.fetch_one::<One>("SELECT 1 AS one", &[])
        .map(|row| row.one)
        .map_err(|e| internal(&format!("pg query: {e}")))
}

/// Opens Redis through the platform's `Cache` and GETs one key.
fn redis_get() -> Result<String, Response> {
    let url = plinth_platform::config::secret("redis_url").map_err(|e| internal(&e.to_string()))?;
    let cache = plinth_platform::redis::Cache::connect(&url)
        .map_err(|e| internal(&format!("redis open: {e}")))?;
    let value = cache
        .get(REDIS_KEY)
        .map_err(|e| internal(&format!("redis get: {e}")))?;
    Ok(value
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default())
}

/// Verifies the bearer token; returns its subject.
fn verify_bearer(req: &Request) -> Result<String, Response> {
    let token = req
        .header("authorization")
        .and_then(|v| v.as_str())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let raw = hex::decode(var("jwt_public_key")?)
        .map_err(|e| internal(&format!("jwt_public_key is not hex: {e}")))?;
    let key = Ed25519PublicKey::from_bytes(&raw)
        .map_err(|e| internal(&format!("jwt_public_key: {e}")))?;
    let options = VerificationOptions {
        allowed_issuers: Some(HashSet::from([var("jwt_issuer")?])),
        allowed_audiences: Some(HashSet::from([var("jwt_audience")?])),
        ..Default::default()
    };
    let claims = key
        .verify_token::<NoCustomClaims>(token, Some(options))
        .map_err(|_| unauthorized())?;
    Ok(claims.subject.unwrap_or_default())
}

fn all(req: &Request) -> Result<Response, Response> {
    let subject = verify_bearer(req)?;
    let cached = redis_get()?;
    let one = pg_one_row()?;
    Ok(Response::new(200, format!("{subject} {cached:?} {one}")))
}
