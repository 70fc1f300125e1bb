//! A thin wrapper over Spin's Redis connection: [`Cache`] with
//! get/set/incr/del/expire/ping. Every host failure is a 503 whose cause is
//! logged (without credentials); a value of the wrong type is a 500.
//!
//! Keys of tenant data carry the org in a hash tag (`{org_id}:…`, see
//! [`tenant_key`]) so that Redis Cluster keeps one org on one slot.

#[cfg(target_arch = "wasm32")]
use crate::error::Error;
use crate::log;

/// `{<org>}:<rest>`: a key in the org's hash slot.
pub fn tenant_key(org: &crate::domain::OrgId, rest: &str) -> String {
    format!("{{{org}}}:{rest}")
}

/// What went wrong talking to Redis, in plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisFailure {
    InvalidAddress,
    TooManyConnections,
    TypeError,
    Other(String),
}

/// Maps a Redis failure: wrong type → 500 (a bug), anything else → 503.
pub fn map_failure(failure: RedisFailure) -> crate::error::Error {
    use crate::error::{Cause, Error};
    match failure {
        RedisFailure::TypeError => Error::Internal(Cause::new("redis: a value has the wrong type")),
        RedisFailure::InvalidAddress => {
            log::warn(format_args!("redis: invalid address"));
            Error::ServiceUnavailable("cache unavailable".into())
        }
        RedisFailure::TooManyConnections => {
            log::warn(format_args!("redis: too many connections"));
            Error::ServiceUnavailable("cache unavailable".into())
        }
        RedisFailure::Other(message) => {
            log::warn(format_args!("redis: {}", log::redact(&message)));
            Error::ServiceUnavailable("cache unavailable".into())
        }
    }
}

/// One Redis connection.
#[cfg(target_arch = "wasm32")]
pub struct Cache {
    conn: spin_sdk::redis::Connection,
}

#[cfg(target_arch = "wasm32")]
fn failure(err: spin_sdk::redis::Error) -> Error {
    use spin_sdk::redis::Error as E;
    map_failure(match err {
        E::InvalidAddress => RedisFailure::InvalidAddress,
        E::TooManyConnections => RedisFailure::TooManyConnections,
        E::TypeError => RedisFailure::TypeError,
        E::Other(message) => RedisFailure::Other(message),
    })
}

#[cfg(target_arch = "wasm32")]
impl Cache {
    /// Opens a connection to `url` (`redis://host:port`).
    pub fn connect(url: &crate::config::Secret) -> Result<Cache, Error> {
        let conn = spin_sdk::redis::Connection::open(url.expose()).map_err(failure)?;
        Ok(Cache { conn })
    }

    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.conn.get(key).map_err(failure)
    }

    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        self.conn.set(key, value).map_err(failure)
    }

    /// `SET key value EX seconds`.
    pub fn set_ex(&self, key: &str, value: &[u8], seconds: u64) -> Result<(), Error> {
        use spin_sdk::redis::RedisParameter as P;
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        self.conn
            .execute(
                "SET",
                &[
                    P::Binary(key.as_bytes().to_vec()),
                    P::Binary(value.to_vec()),
                    P::Binary(b"EX".to_vec()),
                    P::Int64(seconds),
                ],
            )
            .map(|_| ())
            .map_err(failure)
    }

    /// Adds one to the integer at `key` (0 when missing) and returns it.
    pub fn incr(&self, key: &str) -> Result<i64, Error> {
        self.conn.incr(key).map_err(failure)
    }

    /// Adds one to the counter `key` and returns it; the window's first
    /// increment also makes the key expire after `seconds`. One atomic
    /// round trip (a script), so a counter never lives on without its expiry.
    pub fn incr_expiring(&self, key: &str, seconds: u64) -> Result<i64, Error> {
        use spin_sdk::redis::RedisResult as R;
        const SCRIPT: &[u8] = b"local n = redis.call('INCR', KEYS[1]) \
            if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n";
        match self.eval_on_key(SCRIPT, key, seconds)?.first() {
            Some(R::Int64(n)) => Ok(*n),
            _ => Err(map_failure(RedisFailure::TypeError)),
        }
    }

    /// [`Cache::incr_expiring`] that also returns the seconds the key has
    /// left (`TTL`), in the same atomic round trip: for a cooldown, whose
    /// window starts at its first request rather than on the clock.
    pub fn incr_expiring_ttl(&self, key: &str, seconds: u64) -> Result<(i64, i64), Error> {
        use spin_sdk::redis::RedisResult as R;
        const SCRIPT: &[u8] = b"local n = redis.call('INCR', KEYS[1]) \
            if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
            return {n, redis.call('TTL', KEYS[1])}";
        match self.eval_on_key(SCRIPT, key, seconds)?.as_slice() {
            [R::Int64(n), R::Int64(ttl)] => Ok((*n, *ttl)),
            _ => Err(map_failure(RedisFailure::TypeError)),
        }
    }

    /// `EVAL script 1 key seconds`: the reply's values.
    fn eval_on_key(
        &self,
        script: &[u8],
        key: &str,
        seconds: u64,
    ) -> Result<Vec<spin_sdk::redis::RedisResult>, Error> {
        use spin_sdk::redis::RedisParameter as P;
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        self.conn
            .execute(
                "EVAL",
                &[
                    P::Binary(script.to_vec()),
                    P::Int64(1),
                    P::Binary(key.as_bytes().to_vec()),
                    P::Int64(seconds),
                ],
            )
            .map_err(failure)
    }

    /// `EXPIRE key seconds`.
    pub fn expire(&self, key: &str, seconds: u64) -> Result<(), Error> {
        use spin_sdk::redis::RedisParameter as P;
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        self.conn
            .execute(
                "EXPIRE",
                &[P::Binary(key.as_bytes().to_vec()), P::Int64(seconds)],
            )
            .map(|_| ())
            .map_err(failure)
    }

    /// Deletes `keys`; returns how many existed.
    pub fn del(&self, keys: &[&str]) -> Result<u32, Error> {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        self.conn.del(&keys).map_err(failure)
    }

    /// `PING`: checks the server answers.
    pub fn ping(&self) -> Result<(), Error> {
        use spin_sdk::redis::RedisResult as R;
        match self.conn.execute("PING", &[]).map_err(failure)?.first() {
            Some(R::Status(_)) | Some(R::Binary(_)) => Ok(()),
            _ => Err(Error::ServiceUnavailable("cache unavailable".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrgId;

    #[test]
    fn failures_map_to_503_except_type_errors() {
        let cases = [
            (RedisFailure::InvalidAddress, 503, "bad address"),
            (
                RedisFailure::TooManyConnections,
                503,
                "too many connections",
            ),
            (
                RedisFailure::Other("connection refused redis://:pw@h".into()),
                503,
                "other",
            ),
            (RedisFailure::TypeError, 500, "wrong type is a bug"),
        ];
        for (failure, status, case) in cases {
            let err = map_failure(failure);
            assert_eq!(err.status(), status, "{case}");
            let body = String::from_utf8(err.to_response("r").body().to_vec()).unwrap();
            assert!(!body.contains("pw"), "{case}: leaks: {body}");
        }
    }

    #[test]
    fn tenant_keys_use_a_hash_tag() {
        let org = OrgId::parse("3f2504e0-4f89-11d3-9a0c-0305e82c3301").unwrap();
        assert_eq!(
            tenant_key(&org, "rate:login"),
            "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}:rate:login"
        );
    }
}
