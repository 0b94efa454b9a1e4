//! Reading Scalekit's answers: JSON bodies, error answers as errors, and magic links that are safe to relay.

use serde::de::DeserializeOwned;
use url::{Host, Url};

use super::model::{ErrorBody, MagicLinkBody};
use super::{Answer, Endpoint};
use crate::error::{ApiError, Error};
use crate::text::{one_line, tidy};
use crate::timefmt::parse_rfc3339;

/// The longest authorization link relayed; a real one is about a hundred characters.
const MAX_LINK_CHARS: usize = 2048;
/// Domains Scalekit serves its own pages from, besides the environment's host.
/// `*.scalekit.cloud` hosts environments too (the dashboard's Postman collection names one, and links of a
/// shared host such as `auth.scalekit.dev` appear in Scalekit's cookbooks: wire audit 2, C4).
const SCALEKIT_DOMAINS: &[&str] = &["scalekit.com", "scalekit.dev", "scalekit.cloud"];

/// A magic link for the user.
pub(crate) struct MagicLink {
    pub(crate) url: Url,
    pub(crate) expires_at: Option<std::time::SystemTime>,
}

/// An error answer as the right error: 429 is a rate limit, 5xx unavailable, anything else a refusal.
pub(super) fn refusal(url: &Url, endpoint: Endpoint, answer: &Answer) -> Error {
    let api = api_error(endpoint, answer);
    if answer.status.as_u16() == 429 {
        return Error::RateLimited {
            url: url.to_string(),
            retry_after: answer.retry_after,
            detail: api.to_string(),
        };
    }
    if answer.status.is_server_error() {
        Error::Unavailable {
            url: url.to_string(),
            detail: api.to_string(),
            source: None,
        }
    } else {
        Error::Api(api)
    }
}

/// The error in an answer. Its body was scrubbed of secrets when it arrived ([`super::scrub`]); here every
/// string kept is made one printable line.
pub(crate) fn api_error(endpoint: Endpoint, answer: &Answer) -> ApiError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(&answer.body).ok();
    let (code, error_code, message) = match parsed {
        Some(b) => (
            b.code.as_ref().and_then(serde_json::Value::as_i64),
            b.details
                .unwrap_or_default()
                .into_iter()
                .find_map(|d| d.error_code)
                .or(b.error.clone()),
            b.message
                .or(b.error_description)
                .or(b.error)
                .unwrap_or_default(),
        ),
        None => (
            None,
            None,
            String::from_utf8_lossy(&answer.body).into_owned(),
        ),
    };
    ApiError {
        endpoint: endpoint.label(),
        status: answer.status.as_u16(),
        code,
        error_code: error_code.map(|c| tidy(&c)),
        message: tidy(&message),
    }
}

/// A magic-link answer: the link and its expiry. The link is relayed to a person as "open this", so it must
/// be a link to the environment itself or to Scalekit, over https (http only for a loopback environment),
/// with no user name in it; anything else is refused rather than shown.
pub(crate) fn magic_link_from(body: &[u8], env: &Url) -> Result<MagicLink, Error> {
    let parsed: MagicLinkBody = parse(Endpoint::MagicLink, body)?;
    let protocol = |detail: String| Error::Protocol {
        endpoint: Endpoint::MagicLink.label(),
        detail,
    };
    let link = parsed
        .link
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| protocol("no link in the answer".into()))?;
    let url = trusted_link(link.trim(), env).map_err(|reason| Error::UntrustedLink {
        endpoint: Endpoint::MagicLink.label(),
        reason,
    })?;
    let expires_at = match parsed
        .expiry
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        None => None,
        // Go's zero time (year 1: an unset expiry, wire audit 2 C5) says nothing about when the link ends; any
        // other past time is a link already expired, and is kept as such.
        Some(e) => Some(parse_rfc3339(e).ok_or_else(|| {
            protocol(format!("expiry {:?} is not an RFC 3339 time", one_line(e)))
        })?)
        .filter(|t| *t >= std::time::UNIX_EPOCH),
    };
    Ok(MagicLink { url, expires_at })
}

fn trusted_link(link: &str, env: &Url) -> Result<Url, String> {
    if link.chars().count() > MAX_LINK_CHARS {
        return Err(format!("it is longer than {MAX_LINK_CHARS} characters"));
    }
    // A browser and this parser could disagree on where such a link goes.
    if link.contains(|c: char| c == '\\' || c.is_whitespace() || c.is_control() || !c.is_ascii()) {
        return Err("it contains a backslash, a space or a character outside ASCII".into());
    }
    let url = Url::parse(link).map_err(|e| format!("it is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it carries a user name, a trick that hides the real host".into());
    }
    let same_origin =
        url.host() == env.host() && url.port_or_known_default() == env.port_or_known_default();
    match url.scheme() {
        "https" => {}
        "http" if env.scheme() == "http" && same_origin => {}
        other => return Err(format!("its scheme is {:?}, not https", one_line(other))),
    }
    let scalekit = match url.host() {
        Some(Host::Domain(host)) => {
            url.port().is_none()
                && SCALEKIT_DOMAINS
                    .iter()
                    .any(|d| host == *d || host.strip_suffix(d).is_some_and(|s| s.ends_with('.')))
        }
        _ => false,
    };
    if !(same_origin || scalekit) {
        return Err(format!(
            "it is neither on the environment's host ({}) nor on a Scalekit domain",
            env.host_str().unwrap_or_default()
        ));
    }
    Ok(url)
}

/// Where to send a browser after verification, if Scalekit's answer names a safe place: `https`, no user
/// name, no tricks, at most [`MAX_LINK_CHARS`]. Anything else is dropped (the browser stays on our page).
pub(super) fn safe_redirect(raw: &str) -> Option<Url> {
    let raw = raw.trim();
    if raw.is_empty()
        || raw.chars().count() > MAX_LINK_CHARS
        || raw.contains(|c: char| c == '\\' || c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    (url.scheme() == "https" && url.username().is_empty() && url.password().is_none())
        .then_some(url)
}

pub(crate) fn parse<T: DeserializeOwned>(endpoint: Endpoint, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Protocol {
        endpoint: endpoint.label(),
        // serde's messages can quote values, which may be secrets: say only what kind of problem and where.
        detail: match e.classify() {
            serde_json::error::Category::Eof if body.iter().all(u8::is_ascii_whitespace) => {
                "the body is empty".into()
            }
            serde_json::error::Category::Eof => "the JSON body is cut short".into(),
            serde_json::error::Category::Syntax => format!(
                "the body is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
            _ => format!(
                "the JSON has an unexpected shape (line {}, column {})",
                e.line(),
                e.column()
            ),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relayed_only_to_the_environment_or_scalekit() {
        let env = Url::parse("https://acme.scalekit.dev/").unwrap();
        let custom = Url::parse("https://auth.acme.com/").unwrap();
        let local = Url::parse("http://127.0.0.1:8787/").unwrap();
        for (link, env) in [
            ("https://acme.scalekit.dev/magic/abc", &env),
            ("https://app.scalekit.com/magic/abc", &env),
            ("https://auth.scalekit.cloud/connect/abc", &env),
            ("https://auth.acme.com/magic/abc", &custom),
            ("http://127.0.0.1:8787/magic/abc", &local),
        ] {
            assert!(trusted_link(link, env).is_ok(), "{link}");
        }
        for (link, env, says) in [
            ("https://phish.evil.test/login", &env, "neither"),
            (
                "https://app.scalekit.com:443@evil.test/magic",
                &env,
                "user name",
            ),
            ("https://ACCOUNTS.GOOGLE.COM.evil.test/", &env, "neither"),
            ("https://scalekit.dev.evil.test/", &env, "neither"),
            ("https://evilscalekit.dev/", &env, "neither"),
            ("https://scalekit.cloud.evil.test/", &env, "neither"),
            (
                "https://notion.com/oauth/authorize?client_id=abc",
                &env,
                "neither",
            ),
            ("http://acme.scalekit.dev/magic", &env, "scheme"),
            ("http://127.0.0.1:9999/magic", &local, "scheme"),
            ("https://acme.scalekit.dev\\@evil.test/", &env, "backslash"),
            ("javascript:alert(1)", &env, "scheme"),
            ("https://app.scalekit.com:8443/x", &env, "neither"),
        ] {
            let e = trusted_link(link, env).unwrap_err();
            assert!(e.contains(says), "{link}: {e}");
        }
        let long = format!("https://acme.scalekit.dev/{}", "a".repeat(3000));
        assert!(trusted_link(&long, &env).unwrap_err().contains("longer"));
    }
}
