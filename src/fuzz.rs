//! Entry points for the fuzz target and the property tests: every parser tokenbroker runs on input from
//! outside (files, environment, Scalekit's answers). Each must return, never panic, whatever it is given.
//! Not a stable API: it exists for `fuzz/` (feature `fuzzing`).

use crate::account::AccountStatus;
use crate::config::Connections;
use crate::scalekit::model::{AccountEnvelope, ApiTokenBody, ErrorBody};
use crate::scalekit::{self, Endpoint};
use crate::timefmt::parse_rfc3339;

/// `connections.json` text, and `--for-url` lookups against whatever it parsed to.
pub fn connections(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Connections::from_json_str(text) {
        for service in c.services() {
            let _ = c.get(service);
        }
        let _ = c.service_for_url(text);
        let _ = c.service_for_url("https://www.googleapis.com/gmail/v1");
    }
}

/// `.env` text, a `hosts` entry and a URL for `--for-url`: the other text a user's files and arguments hold.
pub fn config_text(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::dotenv_parse(text);
        let _ = crate::config::host_entry(text);
        let _ = crate::config::api_url(text);
        let _ = crate::text::printable(text);
    }
}

/// Every computation on a time or a duration that comes from outside: timestamps in answers, `--wait`,
/// link lifetimes. None may panic, whatever the values.
pub fn times(timestamp: &str, secs: u64, nanos: u32, before_epoch: bool) {
    use std::time::{Duration, SystemTime};
    if let Some(at) = parse_rfc3339(timestamp) {
        let _ = crate::timefmt::rfc3339(at);
    }
    let span = Duration::new(secs, nanos % 1_000_000_000);
    let at = if before_epoch {
        SystemTime::UNIX_EPOCH.checked_sub(span)
    } else {
        SystemTime::UNIX_EPOCH.checked_add(span)
    };
    if let Some(at) = at {
        let _ = crate::timefmt::rfc3339(at);
        let _ = at.duration_since(SystemTime::now());
    }
    let _ = crate::timefmt::saturating_after(tokio::time::Instant::now(), span);
}

/// A body Scalekit might send, read as every kind of answer.
pub fn responses(data: &[u8]) {
    let _ = scalekit::parse::<AccountEnvelope>(Endpoint::Auth, data);
    let _ = scalekit::parse::<ApiTokenBody>(Endpoint::Token, data);
    let _ = scalekit::parse::<ErrorBody>(Endpoint::Auth, data);
    let _ = scalekit::magic_link_from(
        data,
        &url::Url::parse("https://x.scalekit.dev/").expect("a URL"),
    );
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::text::tidy(text);
        let _ = parse_rfc3339(text);
        let _ = AccountStatus::from_wire(Some(text));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// JSON-ish text: mostly the characters and words these files and answers are made of.
    fn jsonish() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just("null".to_owned()),
            Just("\"connection_name\"".to_owned()),
            Just("\"identifier\"".to_owned()),
            Just("\"hosts\"".to_owned()),
            Just("\"connected_account\"".to_owned()),
            Just("\"status\"".to_owned()),
            Just("\"ACTIVE\"".to_owned()),
            Just("\"authorization_details\"".to_owned()),
            Just("\"oauth_token\"".to_owned()),
            Just("\"access_token\"".to_owned()),
            Just("\"link\"".to_owned()),
            Just("\"expiry\"".to_owned()),
            Just("\"2026-11-23T10:00:00.123Z\"".to_owned()),
            Just("\"https://x.test/m\"".to_owned()),
            Just("1e999".to_owned()),
            Just("-0".to_owned()),
            "\"[a-z_ .:/\\\\\u{0}-\u{1f}\u{feff}]{0,12}\"",
            "[ \n\t]{0,2}",
        ];
        prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn connections_parser_never_panics(text in jsonish()) {
            super::connections(text.as_bytes());
        }

        #[test]
        fn response_parsers_never_panic(text in jsonish()) {
            super::responses(text.as_bytes());
        }

        #[test]
        fn parsers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            super::connections(&bytes);
            super::responses(&bytes);
        }

        #[test]
        fn config_text_never_panics(text in "(\\PC|[\u{0}-\u{1f}\\\\@:/#?$={}'\"])*") {
            super::config_text(text.as_bytes());
        }

        #[test]
        fn time_and_duration_paths_never_panic(
            year in 0u32..=9999,
            month in 0u32..=13,
            day in 0u32..=32,
            hour in 0u32..=24,
            offset in -1439i32..=1439,
            fraction in "(\\.[0-9]{1,12})?",
            secs in any::<u64>(),
            nanos in any::<u32>(),
            before in any::<bool>(),
        ) {
            let sign = if offset < 0 { '-' } else { '+' };
            let stamp = format!(
                "{year:04}-{month:02}-{day:02}T{hour:02}:59:59{fraction}{sign}{:02}:{:02}",
                offset.unsigned_abs() / 60,
                offset.unsigned_abs() % 60
            );
            super::times(&stamp, secs, nanos, before);
            super::times("9999-12-31T23:59:59-00:01", secs, nanos, before);
        }

        #[test]
        fn a_valid_entry_always_parses(service in "[a-z][a-z0-9_.-]{0,20}", name in "[a-z][a-z0-9_: -]{0,30}[a-z0-9]") {
            let text = serde_json::json!({ &service: {"connection_name": name} }).to_string();
            let c = crate::Connections::from_json_str(&text).unwrap();
            prop_assert_eq!(&c.get(&service).unwrap().connection_name, &name);
        }
    }
}
