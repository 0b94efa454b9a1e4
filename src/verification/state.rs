//! The `state` sent with a magic link and handed back, with an `auth_request_id`, on the user-verification
//! redirect. It names the account the link was for and proves that this installation made it, so that a
//! later process (`get-token verify URL`, a listener) can check it without anything written to disk.
//!
//! Format: `tbv1.{service}.{identifier, base64url}.{expires, unix seconds}.{nonce, hex}.{mac, hex}`, where
//! the MAC is HMAC-SHA256 over the environment URL, the service, its connection name, the identifier, the
//! expiry and the nonce, keyed by a key derived from the client secret. Only a holder of the secret can
//! make one; the connection name is in the MAC but not in the text, so a state for one connection is refused
//! for another even under the same service name; the check is constant-time (`ring::hmac::verify`).

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};

/// How long a link's verification may take: the provider's consent screen, then the redirect. Longer than a
/// link lives, because the user may open the link in time and finish after it expired.
pub(crate) const STATE_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Scalekit's limit on `state`.
const MAX_STATE: usize = 512;
const VERSION: &str = "tbv1";

/// The key that signs and checks states: derived from the client secret, never the secret itself.
pub(crate) struct StateKey {
    key: hmac::Key,
    env: String,
}

/// What a state says, before its MAC is checked (when it is not yet to be believed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claims {
    pub(crate) service: String,
    pub(crate) identifier: String,
    expires: u64,
    nonce: String,
    mac: Vec<u8>,
}

impl StateKey {
    pub(crate) fn new(client_secret: &SecretString, env_url: &url::Url) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, client_secret.expose_secret().as_bytes());
        let derived = hmac::sign(&root, b"tokenbroker user-verification state key v1");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            env: env_url.as_str().to_owned(),
        }
    }

    /// A new state for the account, good for [`STATE_LIFETIME`] from `now`.
    pub(crate) fn issue(
        &self,
        service: &str,
        connection: &str,
        identifier: &str,
        now: SystemTime,
    ) -> Result<String, String> {
        let expires = now
            .checked_add(STATE_LIFETIME)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let mut nonce = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .map_err(|_| "the system's random number generator failed".to_owned())?;
        let nonce = hex(&nonce);
        let tag = hmac::sign(
            &self.key,
            &self.message(service, connection, identifier, expires, &nonce),
        );
        let state = format!(
            "{VERSION}.{service}.{}.{expires}.{nonce}.{}",
            URL_SAFE_NO_PAD.encode(identifier),
            hex(tag.as_ref())
        );
        if state.len() > MAX_STATE {
            return Err(format!(
                "the identifier is too long to fit in Scalekit's {MAX_STATE}-character state"
            ));
        }
        Ok(state)
    }

    /// Checks `claims` for `connection` (the service's connection name, looked up by the caller), in
    /// constant time, then their expiry.
    pub(crate) fn check(
        &self,
        claims: &Claims,
        connection: &str,
        now: SystemTime,
    ) -> Result<(), String> {
        let message = self.message(
            &claims.service,
            connection,
            &claims.identifier,
            claims.expires,
            &claims.nonce,
        );
        hmac::verify(&self.key, &message, &claims.mac).map_err(|_| {
            "it was not made by this installation for this account (wrong environment, client secret or \
             connection), or it was altered"
                .to_owned()
        })?;
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if now > claims.expires {
            return Err(format!(
                "it expired {} minutes ago; authorize again for a new link",
                (now - claims.expires) / 60
            ));
        }
        Ok(())
    }

    fn message(
        &self,
        service: &str,
        connection: &str,
        identifier: &str,
        expires: u64,
        nonce: &str,
    ) -> Vec<u8> {
        [
            VERSION,
            &self.env,
            service,
            connection,
            identifier,
            &expires.to_string(),
            nonce,
        ]
        .join("\0")
        .into_bytes()
    }
}

/// The parts of a state, without believing them yet.
pub(crate) fn parse(state: &str) -> Result<Claims, String> {
    let malformed = || "it is not a state tokenbroker made".to_owned();
    if state.len() > MAX_STATE {
        return Err(malformed());
    }
    // From the right: a service name may itself contain `.`, the four fields after it never do.
    let mut parts = state.rsplitn(5, '.');
    let (Some(mac), Some(nonce), Some(expires), Some(identifier), Some(head)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed());
    };
    let Some((VERSION, service)) = head.split_once('.') else {
        return Err(malformed());
    };
    crate::config::names::check_service(service).map_err(|_| malformed())?;
    let identifier = URL_SAFE_NO_PAD
        .decode(identifier)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(malformed)?;
    let expires = expires.parse().map_err(|_| malformed())?;
    if nonce.len() != 16 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed());
    }
    let mac = unhex(mac).filter(|m| m.len() == 32).ok_or_else(malformed)?;
    // One spelling per state, the one `issue` writes: an upper-case MAC, a `+` or leading zeros in the expiry
    // would pass the MAC check but not be the text the used-states file remembers (third review, A-2).
    let canonical = format!(
        "{VERSION}.{service}.{}.{expires}.{nonce}.{}",
        URL_SAFE_NO_PAD.encode(&identifier),
        hex(&mac)
    );
    if canonical != state {
        return Err(malformed());
    }
    Ok(Claims {
        service: service.to_owned(),
        identifier,
        expires,
        nonce: nonce.to_owned(),
        mac,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str, env: &str) -> StateKey {
        StateKey::new(&secret.into(), &url::Url::parse(env).unwrap())
    }

    #[test]
    fn a_state_checks_only_for_its_account_and_key_until_it_expires() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let k = key("secret", "https://acme.scalekit.dev/");
        let state = k
            .issue("gmail", "gmail_u3134a", "bob@example.com", now)
            .unwrap();
        let claims = parse(&state).unwrap();
        assert_eq!(
            (claims.service.as_str(), claims.identifier.as_str()),
            ("gmail", "bob@example.com")
        );
        assert!(k.check(&claims, "gmail_u3134a", now).is_ok());
        assert!(
            k.check(&claims, "gmail_other", now).is_err(),
            "another connection"
        );
        assert!(
            key("other", "https://acme.scalekit.dev/")
                .check(&claims, "gmail_u3134a", now)
                .is_err()
        );
        assert!(
            key("secret", "https://other.scalekit.dev/")
                .check(&claims, "gmail_u3134a", now)
                .is_err()
        );
        let late = now + STATE_LIFETIME + Duration::from_secs(120);
        assert!(
            k.check(&claims, "gmail_u3134a", late)
                .unwrap_err()
                .contains("expired 2 minutes")
        );
        // Tampering with any part, the identifier above all, breaks the MAC.
        let mut tampered = parse(&state).unwrap();
        tampered.identifier = "mallory".into();
        assert!(k.check(&tampered, "gmail_u3134a", now).is_err());
        let mut later = parse(&state).unwrap();
        later.expires += 3600;
        assert!(k.check(&later, "gmail_u3134a", now).is_err());
        assert!(state.len() < MAX_STATE);
        // Review 2, part 4: a service name with a `.` in it (allowed) reads back.
        let dotted = k
            .issue("my.mail", "gmail_u3134a", "bob@example.com", now)
            .unwrap();
        let claims = parse(&dotted).unwrap();
        assert_eq!(claims.service, "my.mail");
        assert!(k.check(&claims, "gmail_u3134a", now).is_ok());
    }

    #[test]
    fn malformed_states_are_refused_without_panicking() {
        for bad in [
            "",
            "tbv1",
            "tbv2.gmail.Ym9i.1.0011223344556677.00",
            "tbv1.gmail.!!.1.0011223344556677.00",
            "tbv1.gm/ail.Ym9i.1.0011223344556677.00",
            "tbv1.gmail.Ym9i.x.0011223344556677.00",
            "tbv1.gmail.Ym9i.1.00112233.00",
            "tbv1.gmail.Ym9i.1.0011223344556677.0g",
            &"a".repeat(600),
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
