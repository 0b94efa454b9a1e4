//! A cached value whose concurrent fetches collapse into one.
//!
//! Callers queue on an async mutex. The first one fetches while holding it; callers that were already
//! queued when that fetch finished take its outcome (success or error) instead of fetching again, so a
//! hundred callers for a cold key cause one upstream fetch, and a hundred callers for an account that needs
//! authorization cause one authorization link, not a hundred in turn (the thundering herd gcp_auth#41 fixed).

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};

use tokio::sync::Mutex;

use crate::error::Error;

pub(crate) struct Flight<T> {
    slot: Mutex<Slot<T>>,
    /// Incremented when a fetch finishes: a caller that sees it move while queued knows a fresh outcome exists.
    finished: AtomicU64,
    /// Callers queued on `slot`; the shared outcome is kept only while someone is there to take it.
    queued: AtomicUsize,
}

struct Slot<T> {
    cached: Option<T>,
    shared: Option<Result<T, Error>>,
}

struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

impl<T: Clone> Flight<T> {
    pub(crate) fn new() -> Self {
        Self {
            slot: Mutex::new(Slot {
                cached: None,
                shared: None,
            }),
            finished: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
        }
    }

    /// The cached value if `fresh` accepts it; else the outcome of a fetch that finished while this caller
    /// waited; else the outcome of `fetch`, cached if `keep` accepts it.
    pub(crate) async fn get<F, Fut>(
        &self,
        fresh: impl Fn(&T) -> bool,
        keep: impl Fn(&T) -> bool,
        fetch: F,
    ) -> Result<T, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let seen = self.finished.load(SeqCst);
        self.queued.fetch_add(1, SeqCst);
        let guard = Queued(&self.queued);
        let mut slot = self.slot.lock().await;
        drop(guard);
        let shared = if self.finished.load(SeqCst) != seen {
            slot.shared.clone()
        } else {
            None
        };
        if let Some(outcome) = shared {
            if self.queued.load(SeqCst) == 0 {
                // The last taker drops it, so no copy of a token outlives the callers that asked.
                slot.shared = None;
            }
            return outcome;
        }
        if let Some(value) = slot.cached.as_ref().filter(|v| fresh(v)) {
            return Ok(value.clone());
        }
        let outcome = fetch().await;
        slot.cached = outcome.as_ref().ok().filter(|v| keep(v)).cloned();
        slot.shared = (self.queued.load(SeqCst) > 0).then(|| outcome.clone());
        self.finished.fetch_add(1, SeqCst);
        outcome
    }

    /// Drops the cached value if `matches` accepts it.
    pub(crate) async fn invalidate(&self, matches: impl Fn(&T) -> bool) {
        let mut slot = self.slot.lock().await;
        if slot.cached.as_ref().is_some_and(matches) {
            slot.cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch_and_errors_too() {
        let flight = Arc::new(Flight::<u32>::new());
        let calls = Arc::new(AtomicU32::new(0));
        let run = |ok: bool| {
            let (flight, calls) = (flight.clone(), calls.clone());
            tokio::spawn(async move {
                flight
                    .get(
                        |_| true,
                        |_| ok,
                        || async {
                            calls.fetch_add(1, SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            if ok {
                                Ok(7)
                            } else {
                                Err(Error::Protocol {
                                    endpoint: "t",
                                    detail: "x".into(),
                                })
                            }
                        },
                    )
                    .await
            })
        };
        let failing: Vec<_> = (0..50).map(|_| run(false)).collect();
        for h in failing {
            assert!(h.await.unwrap().is_err());
        }
        assert_eq!(
            calls.load(SeqCst),
            1,
            "fifty queued callers, one failed fetch"
        );
        let ok: Vec<_> = (0..50).map(|_| run(true)).collect();
        for h in ok {
            assert_eq!(h.await.unwrap().unwrap(), 7);
        }
        assert_eq!(calls.load(SeqCst), 2);
        assert!(
            flight.slot.lock().await.shared.is_none(),
            "shared outcome released by the last taker"
        );
        flight.invalidate(|v| *v == 7).await;
        run(true).await.unwrap().unwrap();
        assert_eq!(calls.load(SeqCst), 3);
    }
}
