//! Faults a test queues to make the emulator misbehave on purpose.

use std::time::Duration;

use super::Route;

/// A fault to inject into the next matching requests.
///
/// ```
/// use std::time::Duration;
/// use tokenbroker_emulator::{Fault, Route};
/// let f = Fault::status(Route::Auth, 503).times(2);
/// let slow = Fault::delay(Route::Token, Duration::from_secs(5));
/// let junk = Fault::body(Route::Auth, 200, "{\"connected_account\": ");
/// ```
#[derive(Debug, Clone)]
pub struct Fault {
    pub(crate) route: Option<Route>,
    pub(crate) status: Option<u16>,
    pub(crate) body: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) delay: Option<Duration>,
    pub(crate) remaining: usize,
}

impl Fault {
    /// Answer requests to `route` (all routes if `None`... use [`Fault::any`]) with `status` and a
    /// Scalekit-style error body.
    pub fn status(route: Route, status: u16) -> Self {
        Self {
            route: Some(route),
            status: Some(status),
            body: None,
            headers: Vec::new(),
            delay: None,
            remaining: 1,
        }
    }

    /// Answer with `status` and exactly `body` (malformed JSON, HTML, nothing at all...).
    pub fn body(route: Route, status: u16, body: impl Into<String>) -> Self {
        Self {
            body: Some(body.into()),
            ..Self::status(route, status)
        }
    }

    /// Answer 429 `RESOURCE_EXHAUSTED`, as Scalekit rate-limits, with `Retry-After` when `retry_after` is
    /// given (whether Scalekit sends one is UNCONFIRMED).
    pub fn rate_limited(route: Route, retry_after: Option<u64>) -> Self {
        let body = r#"{"code":8,"message":"rate limit exceeded","details":[{"@type":"type.googleapis.com/scalekit.v1.errdetails.ErrorInfo","error_code":"RESOURCE_EXHAUSTED"}]}"#;
        let fault = Self::body(route, 429, body);
        match retry_after {
            Some(secs) => fault.header("Retry-After", secs.to_string()),
            None => fault,
        }
    }

    /// Wait `delay` before handling the request normally.
    pub fn delay(route: Route, delay: Duration) -> Self {
        Self {
            status: None,
            delay: Some(delay),
            ..Self::status(route, 200)
        }
    }

    /// Make the fault apply to every route.
    pub fn any(mut self) -> Self {
        self.route = None;
        self
    }

    /// Apply it to the next `n` matching requests (default 1).
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = n;
        self
    }

    /// Also wait `delay` before answering.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Add a response header (for example `Retry-After` or `Location`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}
