//! What a handler reaches beyond its request: settings, the database, the
//! clock and randomness, behind one trait so that handler logic unit-tests
//! natively.
//!
//! In a component, [`crate::handle`] gives every request [`SpinServices`];
//! a native test gives it a [`fake::FakeServices`] (a scripted Postgres
//! backend, a map of settings, a fixed clock, counted random bytes, window
//! counters in memory).
//! Handlers reach them through [`RequestCtx`](crate::RequestCtx):
//! `ctx.db()`, `ctx.config()`, `ctx.now()`, `ctx.random::<16>()`.

use crate::config::Source;
use crate::error::Error;
use crate::pg::Db;

/// The outside world of one request.
pub trait Services {
    /// The component's settings (Spin variables).
    fn config(&self) -> &dyn Source;
    /// A new connection to the component's database (`db_url`).
    fn db(&self) -> Result<Db, Error>;
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
    /// Fills `out` from a cryptographically secure source.
    fn fill_random(&self, out: &mut [u8]) -> Result<(), Error>;
    /// Adds one to the counter `key` of a window of `seconds` (created with
    /// that expiry on its first count) and answers the new count: the
    /// component's Redis at `redis_url`.
    fn count_in_window(&self, key: &str, seconds: u64) -> Result<i64, Error>;
}

/// Spin's host: variables, `pg4` at `db_url`, the WASI clock and random.
#[cfg(target_arch = "wasm32")]
pub struct SpinServices;

#[cfg(target_arch = "wasm32")]
impl Services for SpinServices {
    fn config(&self) -> &dyn Source {
        &crate::config::SpinVariables
    }

    fn db(&self) -> Result<Db, Error> {
        Db::connect(&crate::config::SpinVariables.secret("db_url")?)
    }

    fn now(&self) -> i64 {
        unix_now()
    }

    fn fill_random(&self, out: &mut [u8]) -> Result<(), Error> {
        let bytes = wasi::random::random::get_random_bytes(out.len() as u64);
        if bytes.len() != out.len() {
            return Err(Error::internal("WASI random returned too few bytes"));
        }
        out.copy_from_slice(&bytes);
        Ok(())
    }

    fn count_in_window(&self, key: &str, seconds: u64) -> Result<i64, Error> {
        crate::redis::Cache::connect(&crate::config::SpinVariables.secret("redis_url")?)?
            .incr_expiring(key, seconds)
    }
}

/// Seconds since the Unix epoch from the system clock (0 before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Services for a request that has none (built by hand, outside `handle`):
/// every use is a 500 naming the missing setup.
pub(crate) struct NoServices;

impl Services for NoServices {
    fn config(&self) -> &dyn Source {
        self
    }

    fn db(&self) -> Result<Db, Error> {
        Err(Error::internal("the request has no services (no database)"))
    }

    fn now(&self) -> i64 {
        unix_now()
    }

    fn fill_random(&self, _: &mut [u8]) -> Result<(), Error> {
        Err(Error::internal(
            "the request has no services (no randomness)",
        ))
    }

    fn count_in_window(&self, _: &str, _: u64) -> Result<i64, Error> {
        Err(Error::internal("the request has no services (no cache)"))
    }
}

impl Source for NoServices {
    fn get(&self, name: &str) -> Result<String, Error> {
        Err(crate::config::missing(
            name,
            "is not set: the request has no services",
        ))
    }
}

pub mod fake {
    //! Native services for handler unit tests.

    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    use super::Services;
    use crate::config::{MapSource, Source};
    use crate::error::Error;
    use crate::pg::Db;
    use crate::pg::fake::FakeBackend;

    /// Settings from a map, a [`FakeBackend`] for every `db()` (clones share
    /// its script and record), a clock the test sets, and random bytes that
    /// count up (distinct, predictable).
    pub struct FakeServices {
        pub config: MapSource,
        pub backend: FakeBackend,
        pub now: Cell<i64>,
        counter: Cell<u8>,
        /// Window counters; with `cache_down` every count fails as an
        /// unreachable Redis would.
        pub counters: RefCell<HashMap<String, i64>>,
        pub cache_down: Cell<bool>,
    }

    impl FakeServices {
        pub fn new(config: &[(&str, &str)], now: i64) -> Self {
            Self {
                config: MapSource::new(config),
                backend: FakeBackend::new(),
                now: Cell::new(now),
                counter: Cell::new(0),
                counters: RefCell::default(),
                cache_down: Cell::new(false),
            }
        }
    }

    impl Services for FakeServices {
        fn config(&self) -> &dyn Source {
            &self.config
        }

        fn db(&self) -> Result<Db, Error> {
            Ok(Db::with_backend(self.backend.clone()))
        }

        fn now(&self) -> i64 {
            self.now.get()
        }

        fn fill_random(&self, out: &mut [u8]) -> Result<(), Error> {
            for byte in out {
                let next = self.counter.get().wrapping_add(1);
                self.counter.set(next);
                *byte = next;
            }
            Ok(())
        }

        fn count_in_window(&self, key: &str, _: u64) -> Result<i64, Error> {
            if self.cache_down.get() {
                return Err(Error::ServiceUnavailable("cache unavailable".into()));
            }
            let mut counters = self.counters.borrow_mut();
            let count = counters.entry(key.to_owned()).or_default();
            *count += 1;
            Ok(*count)
        }
    }
}
