//! RFC 3339 timestamps, as Scalekit sends them and as tokenbroker prints them.

use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses an RFC 3339 timestamp (any offset, 0 to 9 fractional digits).
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .map(SystemTime::from)
}

/// Formats a time as RFC 3339 in UTC, to the second.
pub fn rfc3339(at: SystemTime) -> String {
    let t = OffsetDateTime::from(at)
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| "(unrepresentable time)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
