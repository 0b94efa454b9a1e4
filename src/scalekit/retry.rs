//! When and how long to wait before trying a request to Scalekit again: as Scalekit's own SDKs do.
//!
//! - 429 is never retried (`Error::RateLimited`, with the wait Scalekit asks for): "retrying triples the
//!   damage" (Python SDK 2.21.0 `core.py:499-501`; Node SDK `core.ts:187-190`).
//! - 503 (`UNAVAILABLE`: the server did not act) is retried on every endpoint with jittered exponential
//!   backoff, or after its `Retry-After` when that is short (`core.py:514`).
//! - 502, 504 and a connection lost after the request went out leave the request's effect unknown. They are
//!   retried only where repeating is harmless: reads, the token (another API token), create (a repeat that
//!   finds the first one's account gets 409, and the broker reads that account) and magic link (a second
//!   link replaces one never shown). Delete and user/verify are not repeated: a second delete would answer
//!   404 for an account the first one deleted ("there was none"), a second verify could find the flow
//!   used. The Python SDK never retries 504 (`DEADLINE_EXCEEDED`, `core.py:502-513`); tokenbroker does on
//!   the harmless ones, within the call's deadline, as a gateway's 504 is most often a passing stall.
//! - A failure to connect (nothing was sent) is retried everywhere; a timeout never (the deadline is spent);
//!   500 and other 4xx never (asking again gets the same answer; the one 401 refetch of the API token is the
//!   caller's).

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Attempts after the first.
pub(super) const MAX_RETRIES: u32 = 3;
/// The first backoff; it doubles each time, up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A `Retry-After` longer than this is not waited for: the error is returned at once instead.
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Whether an answer is worth another attempt of a request that is (`repeatable`) or is not harmless to
/// repeat when its effect is unknown.
pub(super) fn is_transient(status: StatusCode, repeatable: bool) -> bool {
    match status.as_u16() {
        503 => true,
        502 | 504 => repeatable,
        _ => false,
    }
}

/// Whether a transport failure is worth another attempt.
pub(super) fn is_transient_error(e: &reqwest::Error, repeatable: bool) -> bool {
    !e.is_timeout() && (e.is_connect() || (repeatable && (e.is_request() || e.is_body())))
}

/// Exponential backoff with jitter: between half and all of `BASE * 2^retry`, capped, so that many clients
/// failing together do not come back together.
pub(super) fn backoff(retry: u32) -> Duration {
    let full = BASE_BACKOFF
        .saturating_mul(1 << retry.min(16))
        .min(MAX_BACKOFF);
    let jitter = RandomState::new().hash_one(retry) % 1000;
    full / 2 + full / 2 * u32::try_from(jitter).unwrap_or(0) / 1000
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    Some(
        SystemTime::from(at)
            .duration_since(SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        for retry in 0..8 {
            let full = BASE_BACKOFF.saturating_mul(1 << retry).min(MAX_BACKOFF);
            let b = backoff(retry);
            assert!(b >= full / 2 && b <= full, "{retry}: {b:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past");
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn gateway_errors_are_transient_but_429_never() {
        let status = |s| StatusCode::from_u16(s).unwrap();
        for s in [502, 503, 504] {
            assert!(is_transient(status(s), true), "{s}");
        }
        assert!(is_transient(status(503), false));
        for s in [502, 504] {
            assert!(!is_transient(status(s), false), "{s}: effect unknown");
        }
        for s in [200, 400, 401, 403, 404, 409, 429, 500, 501] {
            assert!(!is_transient(status(s), true), "{s}");
        }
    }
}
