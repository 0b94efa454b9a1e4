//! When and how long to wait before trying a request to Scalekit again.
//!
//! Retried: connection failures (refused, reset, closed before an answer) and 502, 503, 504 and 429: the
//! answers of a proxy or server that is restarting or shedding load. Never retried: a timeout (the deadline
//! is spent), any other 4xx (asking again gets the same answer; the one 401 refetch of the API token is the
//! caller's), and 500 (a bug at Scalekit, not a passing state).
//!
//! Every request is safe to repeat: reads are idempotent; a second `POST /oauth/token` issues another API
//! token; a repeated create after a lost answer gets 409, which the broker answers by reading the account
//! that exists; a repeated magic link supersedes the first; a repeated delete finds nothing and says so.

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

pub(super) fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Whether a transport failure is worth another attempt.
pub(super) fn is_transient_error(e: &reqwest::Error) -> bool {
    !e.is_timeout() && (e.is_connect() || e.is_request() || e.is_body())
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
    fn only_gateway_errors_and_429_are_transient() {
        for s in [429, 502, 503, 504] {
            assert!(is_transient(StatusCode::from_u16(s).unwrap()));
        }
        for s in [200, 400, 401, 403, 404, 409, 500, 501] {
            assert!(!is_transient(StatusCode::from_u16(s).unwrap()));
        }
    }
}
