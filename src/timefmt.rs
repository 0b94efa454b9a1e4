//! RFC 3339 timestamps, as Scalekit sends them and as tokenbroker prints them.
//!
//! Times come from answers nobody vouches for, so both directions are total: a timestamp outside the years
//! 1 to 9999 (in UTC) is treated as absent, and formatting never fails or panics.

use std::time::{Duration, SystemTime};

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Expiries before this are taken as "not reported": Scalekit may send the zero timestamp
/// (`0001-01-01T00:00:00Z`) for a token that does not expire (wire audit, row 19).
pub(crate) fn not_before() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800)
}

/// Parses an RFC 3339 timestamp (any offset, 0 to 9 fractional digits); `None` if it is malformed or its UTC
/// value falls outside the years 1 to 9999.
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    let utc = t.checked_to_offset(UtcOffset::UTC)?;
    if !(1..=9999).contains(&utc.year()) {
        return None;
    }
    // Checked both ways: not every platform's SystemTime reaches year 1.
    let whole = Duration::from_secs(utc.unix_timestamp().unsigned_abs());
    let start = if utc.unix_timestamp() >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(whole)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(whole)
    };
    start?.checked_add(Duration::from_nanos(u64::from(utc.nanosecond())))
}

/// Formats a time as RFC 3339 in UTC, to the second.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// assert_eq!(tokenbroker::rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400)), "1970-01-02T00:00:00Z");
/// ```
pub fn rfc3339(at: SystemTime) -> String {
    let seconds = match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok(),
        Err(before) => i64::try_from(before.duration().as_secs())
            .ok()
            .map(|s| -s - i64::from(before.duration().subsec_nanos() > 0)),
    };
    seconds
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "(a time out of range)".into())
}

/// `now + span`, or the farthest instant that can be represented: for deadlines built from durations that
/// come from arguments or answers.
pub(crate) fn saturating_after(now: tokio::time::Instant, span: Duration) -> tokio::time::Instant {
    // About thirty years: later than any deadline anyone means, well inside every platform's range.
    const FAR: Duration = Duration::from_secs(1_000_000_000);
    now.checked_add(span.min(FAR))
        .unwrap_or(now + Duration::from_secs(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_precision_and_offset() {
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_742_536_503);
        assert_eq!(parse_rfc3339("2025-03-21T05:55:03Z"), Some(base));
        assert_eq!(
            parse_rfc3339("2025-03-21T05:55:03.416Z"),
            Some(base + Duration::from_millis(416))
        );
        assert_eq!(
            parse_rfc3339("2025-03-21T05:55:03.416772Z"),
            Some(base + Duration::from_micros(416_772))
        );
        assert_eq!(
            parse_rfc3339("2025-03-21T05:55:03.416772123Z"),
            Some(base + Duration::from_nanos(416_772_123))
        );
        assert_eq!(parse_rfc3339("2025-03-21T07:55:03+02:00"), Some(base));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            rfc3339(base + Duration::from_millis(5)),
            "2025-03-21T05:55:03Z"
        );
    }

    #[test]
    fn the_edges_of_time_are_absent_not_a_panic() {
        // Year 10000 in UTC: the review's M3 panic.
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59-00:01"), None);
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00Z"), None);
        assert!(parse_rfc3339("9999-12-31T23:59:59Z").is_some());
        assert!(parse_rfc3339("0001-01-01T00:00:00Z").is_some());
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(rfc3339(far), "(a time out of range)");
        let before = SystemTime::UNIX_EPOCH - Duration::from_millis(1500);
        assert_eq!(rfc3339(before), "1969-12-31T23:59:58Z");
    }
}
