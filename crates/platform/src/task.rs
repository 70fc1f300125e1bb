//! Tiny async helpers without an async runtime dependency.
//!
//! The Spin executor drives a component's futures; these helpers only let a
//! handler start an outbound request, do synchronous work (Postgres, Redis)
//! while it is in flight, and then await it:
//!
//! ```text
//! let s3 = Started::start(s3_check(&settings));   // request is sent now
//! let pg = pg_check();                             // sync, meanwhile
//! let s3 = s3.finish().await;
//! ```
//!
//! and bound the wait for an outbound request with [`timeout`] (the SDK's
//! `send` sets no timeout of its own).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A future that has been polled once, so its first step (sending an
/// outbound request, for instance) has already happened.
pub enum Started<F: Future> {
    Pending(Pin<Box<F>>),
    Done(F::Output),
}

impl<F: Future> Started<F> {
    /// Polls `future` once with a no-op waker. The real waker is registered
    /// when [`finish`](Self::finish) is awaited.
    pub fn start(future: F) -> Self {
        let mut future = Box::pin(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => Self::Done(output),
            Poll::Pending => Self::Pending(future),
        }
    }

    /// Waits for the result.
    pub async fn finish(self) -> F::Output {
        match self {
            Self::Pending(future) => future.await,
            Self::Done(output) => output,
        }
    }
}

/// The time limit of [`timeout`] passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// Runs `future` for at most `limit` (WASI monotonic clock); `Err(Elapsed)`
/// after that, dropping (cancelling) the future.
#[cfg(target_arch = "wasm32")]
pub async fn timeout<F: Future>(
    limit: std::time::Duration,
    future: F,
) -> Result<F::Output, Elapsed> {
    use wasi::clocks::monotonic_clock;
    let nanos = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
    let deadline = monotonic_clock::now().saturating_add(nanos);
    let mut future = std::pin::pin!(future);
    let mut timer: Option<spin_executor::CancelOnDropToken> = None;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        if monotonic_clock::now() >= deadline {
            return Poll::Ready(Err(Elapsed));
        }
        // Dropping the previous token cancels its registration.
        let pollable = monotonic_clock::subscribe_instant(deadline);
        let token = spin_executor::push_waker_and_get_token(pollable, cx.waker().clone());
        drop(timer.replace(token.into()));
        Poll::Pending
    })
    .await
}

/// Runs a future that completes without waiting (e.g. a dispatch whose
/// handlers are all synchronous). Panics if it would wait: for tests and
/// native tools only.
pub fn block_on_ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("block_on_ready: the future is not ready"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Pending on the first poll, ready on the second.
    struct TwoPolls<'a>(&'a Cell<u32>);

    impl Future for TwoPolls<'_> {
        type Output = u32;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
            self.0.set(self.0.get() + 1);
            if self.0.get() >= 2 {
                Poll::Ready(7)
            } else {
                Poll::Pending
            }
        }
    }

    #[test]
    fn start_polls_once_and_finish_completes() {
        let polls = Cell::new(0);
        let started = Started::start(TwoPolls(&polls));
        assert_eq!(polls.get(), 1, "start polls exactly once");
        assert!(matches!(started, Started::Pending(_)));
        assert_eq!(block_on_ready(started.finish()), 7);
        assert_eq!(polls.get(), 2);
    }

    #[test]
    fn start_keeps_an_immediate_result() {
        let started = Started::start(async { 3 });
        assert!(matches!(started, Started::Done(3)));
        assert_eq!(block_on_ready(started.finish()), 3);
    }
}
