//! The states already used to complete a verification, remembered across processes (a listener, `get-token
//! verify`, an MCP server), so that each is used once: an address seen once (a chat, a browser's history)
//! cannot finish a flow again within the state's 30 minutes.
//!
//! The file holds no secret: one line per state, the SHA-256 of the whole state (hex) and when it was
//! claimed. It is written 0600 in a 0700 directory under that directory's lock; entries older than a state
//! can live are dropped, and at most [`MAX_ENTRIES`] are kept, so it stays small.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::state::STATE_LIFETIME;
use crate::error::ConfigError;

/// Far more verifications than anyone completes in half an hour; the oldest go first beyond it.
const MAX_ENTRIES: usize = 4096;
/// A line is 64 hex digits, a space, up to 20 digits and a newline.
const MAX_BYTES: u64 = MAX_ENTRIES as u64 * 86;

/// Where used states are remembered.
#[derive(Debug, Clone)]
pub(crate) struct UsedStates {
    path: PathBuf,
    cap: usize,
}

impl UsedStates {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            cap: MAX_ENTRIES,
        }
    }

    /// Records `state` as used now; `false` when it already was.
    pub(crate) fn claim(&self, state: &str) -> Result<bool, ConfigError> {
        let digest = digest(state);
        let now = seconds(SystemTime::now());
        crate::config::update_private(&self.path, MAX_BYTES, |old| {
            let mut entries = live(old, now);
            if entries.iter().any(|(d, _)| *d == digest) {
                return (None, false);
            }
            entries.push((digest, now));
            let from = entries.len().saturating_sub(self.cap);
            (Some(render(&entries[from..])), true)
        })
    }

    /// Forgets `state` again: its verification failed, so the real one may still come.
    pub(crate) fn release(&self, state: &str) -> Result<(), ConfigError> {
        let digest = digest(state);
        let now = seconds(SystemTime::now());
        crate::config::update_private(&self.path, MAX_BYTES, |old| {
            let entries: Vec<_> = live(old, now)
                .into_iter()
                .filter(|(d, _)| *d != digest)
                .collect();
            (Some(render(&entries)), ())
        })
    }
}

fn digest(state: &str) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, state.as_bytes());
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The well-formed entries of `old` a state could still be valid for (a line that is not one is dropped).
fn live(old: &[u8], now: u64) -> Vec<(String, u64)> {
    let keep = (STATE_LIFETIME + Duration::from_secs(60)).as_secs();
    String::from_utf8_lossy(old)
        .lines()
        .filter_map(|line| {
            let (digest, at) = line.split_once(' ')?;
            let at: u64 = at.parse().ok()?;
            (digest.len() == 64
                && digest.bytes().all(|b| b.is_ascii_hexdigit())
                && now.saturating_sub(at) <= keep)
                .then(|| (digest.to_owned(), at))
        })
        .collect()
}

fn render(entries: &[(String, u64)]) -> Vec<u8> {
    entries
        .iter()
        .map(|(d, at)| format!("{d} {at}\n"))
        .collect::<String>()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_claimed_once_until_released_and_the_file_holds_no_state() {
        let dir = tempfile::tempdir().unwrap();
        let used = UsedStates::new(dir.path().join("rt/used-states"));
        let state = "tbv1.gmail.Ym9i.1.0011223344556677.aa";
        assert!(used.claim(state).unwrap());
        assert!(!used.claim(state).unwrap(), "a second use is refused");
        assert!(used.claim("tbv1.other").unwrap());
        let text = std::fs::read_to_string(dir.path().join("rt/used-states")).unwrap();
        assert!(
            !text.contains("0011223344556677") && text.lines().count() == 2,
            "{text}"
        );
        used.release(state).unwrap();
        assert!(used.claim(state).unwrap(), "released: usable again");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(dir.path().join("rt/used-states")), 0o600);
            assert_eq!(mode(dir.path().join("rt")), 0o700);
        }
    }

    #[test]
    fn old_and_surplus_entries_are_dropped() {
        let now = 10_000_000;
        let old = format!(
            "{} {}\n{} {}\nnot a line\n",
            "a".repeat(64),
            now - 3 * 3600,
            "b".repeat(64),
            now - 60
        );
        let kept = live(old.as_bytes(), now);
        assert_eq!(kept, vec![("b".repeat(64), now - 60)]);
        let dir = tempfile::tempdir().unwrap();
        let used = UsedStates {
            cap: 16,
            ..UsedStates::new(dir.path().join("used-states"))
        };
        for i in 0..20 {
            assert!(used.claim(&format!("state {i}")).unwrap());
        }
        let text = std::fs::read_to_string(dir.path().join("used-states")).unwrap();
        assert_eq!(text.lines().count(), 16);
        assert!(used.claim("state 0").unwrap(), "the oldest went first");
        assert!(!used.claim("state 19").unwrap());
        assert!(MAX_BYTES >= MAX_ENTRIES as u64 * "0 1800000000\n".len() as u64 + 64);
    }
}
