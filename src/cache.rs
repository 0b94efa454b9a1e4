//! How long a token is reused from memory.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::token::AccessToken;

/// How the broker caches tokens in memory (never on disk).
///
/// A token is reused until the earlier of its provider expiry minus [`CachePolicy::expiry_margin`] and
/// [`CachePolicy::max_age`] after it was fetched. The short default age follows Scalekit's advice to
/// re-fetch before use, since Scalekit refreshes provider tokens on its side.
///
/// ```
/// use std::time::Duration;
/// use tokenbroker::CachePolicy;
/// let policy = CachePolicy::default().max_age(Duration::from_secs(60)).expiry_margin(Duration::from_secs(30));
/// let off = CachePolicy::disabled();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CachePolicy {
    /// Whether tokens are cached at all.
    pub enabled: bool,
    /// The longest a token is reused (default 5 minutes).
    pub max_age: Duration,
    /// How long before the provider's expiry a token stops being reused (default 60 s).
    pub expiry_margin: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            max_age: Duration::from_secs(300),
            expiry_margin: Duration::from_secs(60),
        }
    }
}

impl CachePolicy {
    /// No caching: every call asks Scalekit (concurrent calls still share one request).
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets [`CachePolicy::max_age`].
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Sets [`CachePolicy::expiry_margin`].
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }
}

/// A token and the instant it stops being reused.
#[derive(Clone)]
pub(crate) struct Cached {
    pub(crate) token: AccessToken,
    fresh_until: Instant,
}

impl Cached {
    pub(crate) fn new(token: AccessToken, policy: &CachePolicy) -> Self {
        let now = Instant::now();
        let by_age = now + policy.max_age;
        let fresh_until = match token.expires_at {
            // Past or too-close expiries give a zero lifetime: such a token is returned but never reused.
            Some(at) => {
                let left = at
                    .duration_since(SystemTime::now())
                    .unwrap_or_default()
                    .saturating_sub(policy.expiry_margin);
                by_age.min(now + left)
            }
            None => by_age,
        };
        Self { token, fresh_until }
    }

    pub(crate) fn is_fresh(&self) -> bool {
        Instant::now() < self.fresh_until
    }
}
