//! Options for waiting until the user has authorized.

use std::time::Duration;

/// The deadline used when neither a timeout nor a link expiry is known.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How [`Broker::wait_for_token`](crate::Broker::wait_for_token) polls.
///
/// ```
/// use std::time::Duration;
/// let options = tokenbroker::WaitOptions::default().timeout(Duration::from_secs(120));
/// assert_eq!(options.poll_interval, Duration::from_millis(1500));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitOptions {
    /// Time between two status checks (default 1.5 s, gentle on Scalekit's rate limit).
    pub poll_interval: Duration,
    /// Give up after this long; `None` (the default) waits until the link expires.
    pub timeout: Option<Duration>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(1500),
            timeout: None,
        }
    }
}

impl WaitOptions {
    /// Sets [`WaitOptions::poll_interval`].
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets [`WaitOptions::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}
