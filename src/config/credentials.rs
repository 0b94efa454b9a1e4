//! The Scalekit client credentials and environment URL.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use url::{Host, Url};

use super::sources::{Place, Sources};
use crate::error::CredentialsError;

/// The credentials of a Scalekit environment's API client.
///
/// ```
/// use tokenbroker::Credentials;
/// let creds = Credentials::new("https://acme.scalekit.dev/", "skc_123", "secret".into()).unwrap();
/// assert_eq!(creds.env_url().as_str(), "https://acme.scalekit.dev/");
/// assert!(!format!("{creds:?}").contains("secret\""));
/// assert!(Credentials::new("http://acme.scalekit.dev", "skc_123", "s".into()).is_err());
/// ```
#[derive(Clone)]
pub struct Credentials {
    env_url: Url,
    client_id: String,
    client_secret: SecretString,
    sources: [String; 3],
}

impl Credentials {
    /// Checks and holds the given credentials. The URL must be `https://`, or `http://` on a loopback host.
    pub fn new(
        env_url: &str,
        client_id: &str,
        client_secret: SecretString,
    ) -> Result<Self, CredentialsError> {
        let given = || "the caller".to_owned();
        Self::checked(
            env_url,
            client_id,
            client_secret,
            [given(), given(), given()],
        )
    }

    fn checked(
        env_url: &str,
        client_id: &str,
        client_secret: SecretString,
        sources: [String; 3],
    ) -> Result<Self, CredentialsError> {
        let env_url = parse_env_url(env_url, &sources[0])?;
        let client_id = client_id.trim();
        let mut missing = Vec::new();
        if client_id.is_empty() {
            missing.push("SCALEKIT_CLIENT_ID");
        }
        if client_secret.expose_secret().trim().is_empty() {
            missing.push("SCALEKIT_CLIENT_SECRET");
        }
        if !missing.is_empty() {
            return Err(CredentialsError::Missing {
                missing,
                looked: vec!["the values given".into()],
            });
        }
        let client_secret =
            if client_secret.expose_secret().trim().len() == client_secret.expose_secret().len() {
                client_secret
            } else {
                SecretString::from(client_secret.expose_secret().trim())
            };
        Ok(Self {
            env_url,
            client_id: client_id.to_owned(),
            client_secret,
            sources,
        })
    }

    /// Reads `SCALEKIT_ENV_URL` (or `SCALEKIT_ENVIRONMENT_URL`), `SCALEKIT_CLIENT_ID` and
    /// `SCALEKIT_CLIENT_SECRET` as one set from one place: the process environment when it holds all three,
    /// else the `.env` file. A place that holds part of the set is an error naming what is missing: a URL
    /// from one place and the secret from another would let whoever wrote the first place receive the secret.
    pub(crate) fn from_sources(sources: &Sources) -> Result<Self, CredentialsError> {
        let mut sets = Vec::new();
        for place in sources.credential_places() {
            let (url_name, url) = url_in(&place)?;
            let values = [
                (url_name, url),
                ("SCALEKIT_CLIENT_ID", place.get("SCALEKIT_CLIENT_ID")),
                (
                    "SCALEKIT_CLIENT_SECRET",
                    place.get("SCALEKIT_CLIENT_SECRET"),
                ),
            ];
            let (present, missing): (Vec<_>, Vec<_>) =
                values.iter().partition(|(_, v)| v.is_some());
            if present.is_empty() {
                continue;
            }
            if !missing.is_empty() {
                return Err(CredentialsError::Incomplete {
                    place: place.name.clone(),
                    present: present.iter().map(|(n, _)| *n).collect(),
                    missing: missing.iter().map(|(n, _)| *n).collect(),
                });
            }
            let [(_, Some(url)), (_, Some(id)), (_, Some(secret))] = values else {
                unreachable!("all three are present")
            };
            let sources = [
                place.describe(url_name),
                place.describe("SCALEKIT_CLIENT_ID"),
                place.describe("SCALEKIT_CLIENT_SECRET"),
            ];
            sets.push((place.name.clone(), [url, id, secret], sources));
        }
        // A complete set in the process environment (the first place) wins over the file's, as the
        // environment wins for aws, gh and gcloud; the set is taken whole, so no value mixes with another
        // place's.
        let Some((_, [url, id, secret], first_sources)) = sets.into_iter().next() else {
            return Err(CredentialsError::Missing {
                missing: vec![
                    "SCALEKIT_ENV_URL",
                    "SCALEKIT_CLIENT_ID",
                    "SCALEKIT_CLIENT_SECRET",
                ],
                looked: sources.places(),
            });
        };
        Self::checked(
            url.expose_secret(),
            id.expose_secret(),
            secret,
            first_sources,
        )
    }

    /// The environment URL, with a trailing `/`.
    pub fn env_url(&self) -> &Url {
        &self.env_url
    }

    /// The client ID.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub(crate) fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    /// Where the URL, the client ID and the secret were found, in that order.
    pub fn sources(&self) -> &[String; 3] {
        &self.sources
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("env_url", &self.env_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// The environment URL in one place, under either name; both names with different values is an error.
fn url_in(place: &Place<'_>) -> Result<(&'static str, Option<SecretString>), CredentialsError> {
    match (
        place.get("SCALEKIT_ENV_URL"),
        place.get("SCALEKIT_ENVIRONMENT_URL"),
    ) {
        (Some(a), Some(b)) if a.expose_secret().trim() != b.expose_secret().trim() => {
            Err(CredentialsError::Conflict {
                first: format!("SCALEKIT_ENV_URL in {}", place.name),
                second: format!("SCALEKIT_ENVIRONMENT_URL in {}", place.name),
                differing: vec!["SCALEKIT_ENV_URL"],
            })
        }
        (Some(a), _) => Ok(("SCALEKIT_ENV_URL", Some(a))),
        (None, Some(b)) => Ok(("SCALEKIT_ENVIRONMENT_URL", Some(b))),
        (None, None) => Ok(("SCALEKIT_ENV_URL", None)),
    }
}

/// The URL as given, but with any password in it masked: error messages get printed and logged.
fn without_password(value: &str) -> String {
    match Url::parse(value.trim()) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => value.to_owned(),
    }
}

/// The environment's base URL: https (or http on loopback), no credentials, path, query or fragment.
pub(crate) fn parse_env_url(value: &str, source: &str) -> Result<Url, CredentialsError> {
    let fail = |reason: String| CredentialsError::InvalidUrl {
        value: without_password(value),
        source_name: source.to_owned(),
        reason,
    };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(fail(
            "it is empty; set it to your environment's URL, such as https://acme.scalekit.dev"
                .into(),
        ));
    }
    let url = Url::parse(trimmed).map_err(|e| {
        fail(format!(
            "it is not a URL ({e}); it should look like https://acme.scalekit.dev"
        ))
    })?;
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(fail(
                "plain http is only allowed for a loopback host such as the local emulator; use https://".into(),
            ));
        }
        other => return Err(fail(format!("the scheme is {other:?}; use https://"))),
    }
    if url.host().is_none() {
        return Err(fail("it has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(fail("it must not contain a user name or password".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(fail(
            "it must not have a query (?...) or fragment (#...); give just the base URL".into(),
        ));
    }
    if !url.path().trim_end_matches('/').is_empty() {
        return Err(fail(format!(
            "it must be the environment's base URL without a path (remove {:?})",
            url.path().trim_end_matches('/')
        )));
    }
    let mut url = url;
    url.set_path("/");
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_urls() {
        for ok in [
            "https://acme.scalekit.dev",
            "https://acme.scalekit.dev///",
            " https://x.io ",
            "http://127.0.0.1:8080",
            "http://localhost:1/",
            "http://[::1]:9/",
        ] {
            assert_eq!(parse_env_url(ok, "t").unwrap().path(), "/", "{ok}");
        }
        for (bad, says) in [
            ("http://acme.scalekit.dev", "loopback"),
            ("ftp://x.io", "scheme"),
            ("acme.scalekit.dev", "not a URL"),
            ("", "empty"),
            ("https://x.io/api", "path"),
            ("https://x.io/?a=1", "query"),
            ("https://u:p@x.io", "password"),
        ] {
            let e = parse_env_url(bad, "SCALEKIT_ENV_URL")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(says) && e.contains("SCALEKIT_ENV_URL"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn part_of_a_set_is_an_error_not_a_merge() {
        let s = Sources::empty().with_process_env(&[("SCALEKIT_CLIENT_ID", "id")]);
        let e = Credentials::from_sources(&s).unwrap_err().to_string();
        assert!(
            e.contains("SCALEKIT_ENV_URL, SCALEKIT_CLIENT_SECRET"),
            "{e}"
        );
        assert!(e.contains("process environment"), "{e}");
        let e = Credentials::from_sources(&Sources::empty())
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing Scalekit credentials"), "{e}");
    }

    #[test]
    fn the_two_url_names_must_agree() {
        let s = Sources::empty().with_process_env(&[
            ("SCALEKIT_ENV_URL", "https://evil.test"),
            ("SCALEKIT_ENVIRONMENT_URL", "https://x.io/"),
            ("SCALEKIT_CLIENT_ID", "id"),
            ("SCALEKIT_CLIENT_SECRET", "sec"),
        ]);
        let e = Credentials::from_sources(&s).unwrap_err().to_string();
        assert!(
            e.contains("SCALEKIT_ENVIRONMENT_URL") && e.contains("disagree"),
            "{e}"
        );
    }

    #[test]
    fn environment_url_alias_and_trimming() {
        let s = Sources::empty().with_process_env(&[
            ("SCALEKIT_ENVIRONMENT_URL", "https://x.io/"),
            ("SCALEKIT_CLIENT_ID", " id "),
            ("SCALEKIT_CLIENT_SECRET", " sec\n"),
        ]);
        let c = Credentials::from_sources(&s).unwrap();
        assert_eq!(
            (c.env_url().as_str(), c.client_id()),
            ("https://x.io/", "id")
        );
        assert_eq!(c.client_secret().expose_secret(), "sec");
        assert_eq!(c.sources()[0], "$SCALEKIT_ENVIRONMENT_URL");
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = Credentials::new("https://x.io", "id", "hunter2-secret".into()).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
