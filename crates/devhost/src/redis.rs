//! `fermyon:spin/redis@2.0.0` on the `redis` crate.
//!
//! The address must be allowed by the component's `allowed_outbound_hosts`
//! (`redis://host:port`, default port 6379), else `InvalidAddress`, as in
//! Spin. For speed, devhost keeps one multiplexed connection per address
//! for the whole process and hands every guest `connection` a clone of it
//! (a cheap handle onto the same pipelined socket) instead of opening a
//! socket per request as Spin does; commands of concurrent requests are
//! pipelined on it. A connection that fails is forgotten and reopened on
//! the next `open`.

use std::collections::HashMap;
use std::sync::Mutex;

use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, FromRedisValue, Value};
use wasmtime::component::Resource;

use crate::bindings::fermyon::spin::redis::{self as v2, Error, RedisParameter, RedisResult};
use crate::state::HostState;

/// Process-wide multiplexed connections, by address.
#[derive(Default)]
pub struct RedisClients {
    conns: Mutex<HashMap<String, MultiplexedConnection>>,
}

impl RedisClients {
    async fn connect(&self, address: &str) -> Result<MultiplexedConnection, Error> {
        if let Some(c) = self.lock().get(address) {
            return Ok(c.clone());
        }
        let client = redis::Client::open(address).map_err(|_| Error::InvalidAddress)?;
        // An unreachable host fails the open instead of hanging the request.
        let conn = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| Error::Other("timed out connecting to Redis".to_string()))?
        .map_err(other)?;
        Ok(self
            .lock()
            .entry(address.to_string())
            .or_insert(conn)
            .clone())
    }

    fn forget(&self, address: &str) {
        self.lock().remove(address);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MultiplexedConnection>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The host side of a guest `connection` resource.
pub struct RedisConnection {
    address: String,
    conn: MultiplexedConnection,
}

fn other(e: redis::RedisError) -> Error {
    Error::Other(e.to_string())
}

/// The results of `execute`, flattened like Spin does.
struct RedisResults(Vec<RedisResult>);

impl FromRedisValue for RedisResults {
    fn from_redis_value(value: &Value) -> redis::RedisResult<Self> {
        fn append(out: &mut Vec<RedisResult>, v: &Value) -> redis::RedisResult<()> {
            match v {
                Value::Nil => out.push(RedisResult::Nil),
                Value::Int(i) => out.push(RedisResult::Int64(*i)),
                Value::BulkString(b) => out.push(RedisResult::Binary(b.clone())),
                Value::SimpleString(s) => out.push(RedisResult::Status(s.clone())),
                Value::Okay => out.push(RedisResult::Status("OK".to_string())),
                Value::Array(items) | Value::Set(items) => {
                    for item in items {
                        append(out, item)?;
                    }
                }
                Value::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
                Value::Boolean(b) => out.push(RedisResult::Int64(i64::from(*b))),
                Value::ServerError(e) => {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::ResponseError,
                        "server error",
                        format!("{e:?}"),
                    )));
                }
                other => {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::TypeError,
                        "Could not convert Redis response",
                        format!("unsupported value {other:?}"),
                    )));
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        append(&mut out, value)?;
        Ok(Self(out))
    }
}

impl HostState {
    fn redis(&mut self, conn: &Resource<RedisConnection>) -> Result<&mut RedisConnection, Error> {
        self.table
            .get_mut(conn)
            .map_err(|_| Error::Other("could not find connection for resource".into()))
    }

    /// Runs `op` on the shared connection behind `c`. After a
    /// connection-level failure the shared connection is dropped, so the next
    /// `open` reconnects.
    async fn run<T, Fut>(
        &mut self,
        c: &Resource<RedisConnection>,
        op: impl FnOnce(MultiplexedConnection) -> Fut,
        map_err: fn(redis::RedisError) -> Error,
    ) -> Result<T, Error>
    where
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let result = op(self.redis(c)?.conn.clone()).await;
        if let Err(e) = &result
            && (e.is_connection_dropped() || e.is_io_error() || e.is_connection_refusal())
        {
            let address = self.redis(c)?.address.clone();
            self.shared.redis.forget(&address);
        }
        result.map_err(map_err)
    }
}

impl v2::Host for HostState {}

impl v2::HostConnection for HostState {
    async fn open(&mut self, address: String) -> Result<Resource<RedisConnection>, Error> {
        if self
            .component
            .allowed_hosts
            .check_address(&address, "redis")
            .is_err()
        {
            return Err(Error::InvalidAddress);
        }
        let conn = self.shared.redis.connect(&address).await?;
        self.table
            .push(RedisConnection { address, conn })
            .map_err(|_| Error::TooManyConnections)
    }

    async fn publish(
        &mut self,
        c: Resource<RedisConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<(), Error> {
        self.run(
            &c,
            |mut conn| async move { conn.publish(&channel, &payload).await },
            other,
        )
        .await
    }

    async fn get(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> Result<Option<Vec<u8>>, Error> {
        self.run(&c, |mut conn| async move { conn.get(&key).await }, other)
            .await
    }

    async fn set(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), Error> {
        self.run(
            &c,
            |mut conn| async move { conn.set(&key, &value).await },
            other,
        )
        .await
    }

    async fn incr(&mut self, c: Resource<RedisConnection>, key: String) -> Result<i64, Error> {
        self.run(
            &c,
            |mut conn| async move { conn.incr(&key, 1).await },
            other,
        )
        .await
    }

    async fn del(&mut self, c: Resource<RedisConnection>, keys: Vec<String>) -> Result<u32, Error> {
        self.run(&c, |mut conn| async move { conn.del(&keys).await }, other)
            .await
    }

    async fn sadd(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, Error> {
        self.run(
            &c,
            |mut conn| async move { conn.sadd(&key, &values).await },
            |e| {
                if e.kind() == redis::ErrorKind::TypeError {
                    Error::TypeError
                } else {
                    other(e)
                }
            },
        )
        .await
    }

    async fn smembers(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
    ) -> Result<Vec<String>, Error> {
        self.run(
            &c,
            |mut conn| async move { conn.smembers(&key).await },
            other,
        )
        .await
    }

    async fn srem(
        &mut self,
        c: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Result<u32, Error> {
        self.run(
            &c,
            |mut conn| async move { conn.srem(&key, &values).await },
            other,
        )
        .await
    }

    async fn execute(
        &mut self,
        c: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> Result<Vec<RedisResult>, Error> {
        let mut cmd = redis::cmd(&command);
        for a in arguments {
            match a {
                RedisParameter::Int64(v) => cmd.arg(v),
                RedisParameter::Binary(v) => cmd.arg(v),
            };
        }
        let results: RedisResults = self
            .run(
                &c,
                |mut conn| async move { cmd.query_async(&mut conn).await },
                other,
            )
            .await?;
        Ok(results.0)
    }

    async fn drop(&mut self, rep: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}
