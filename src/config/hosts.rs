//! Which service an API URL belongs to: a built-in table of well-known API hosts, plus each entry's `hosts`.

use url::{Host, Url};

use super::Connections;
use crate::error::ConfigError;

/// A well-known API: the service names it usually goes by, and where its requests go.
struct Api {
    /// Service names (compared without case or punctuation); a connection name starting with the first
    /// one also matches (`gmail_u3134a` is Gmail).
    names: &'static [&'static str],
    /// `(host, path prefix)`, the host compared exactly.
    routes: &'static [(&'static str, &'static str)],
}

const APIS: &[Api] = &[
    Api {
        names: &["gmail", "googlemail"],
        routes: &[
            ("gmail.googleapis.com", ""),
            ("www.googleapis.com", "/gmail/"),
        ],
    },
    Api {
        names: &["googlecalendar", "calendar", "gcal"],
        routes: &[("www.googleapis.com", "/calendar/")],
    },
    Api {
        names: &["googledrive", "drive", "gdrive"],
        routes: &[
            ("www.googleapis.com", "/drive/"),
            ("www.googleapis.com", "/upload/drive/"),
        ],
    },
    Api {
        names: &["googlesheets", "sheets"],
        routes: &[("sheets.googleapis.com", "")],
    },
    Api {
        names: &["googledocs", "docs"],
        routes: &[("docs.googleapis.com", "")],
    },
    Api {
        names: &["slack"],
        routes: &[("slack.com", "/api/")],
    },
    Api {
        names: &["github"],
        // github.com itself: git over https (`get-token git-credential`) takes the same token.
        routes: &[
            ("api.github.com", ""),
            ("uploads.github.com", ""),
            ("github.com", ""),
        ],
    },
    Api {
        names: &["gitlab"],
        // The API under /api/, and git over https on the rest of the host.
        routes: &[("gitlab.com", "")],
    },
    Api {
        names: &["notion"],
        routes: &[("api.notion.com", "")],
    },
    Api {
        names: &["linear"],
        routes: &[("api.linear.app", "")],
    },
    Api {
        names: &["jira", "confluence", "atlassian"],
        routes: &[("api.atlassian.com", "")],
    },
    Api {
        names: &["hubspot"],
        routes: &[("api.hubapi.com", "")],
    },
    // No Salesforce: every org has its own `*.my.salesforce.com` host, and a pattern for all of them would
    // send one org's token to any other org's; an entry lists its org's host under "hosts".
    Api {
        names: &["asana"],
        routes: &[("app.asana.com", "/api/")],
    },
    Api {
        names: &["dropbox"],
        routes: &[("api.dropboxapi.com", ""), ("content.dropboxapi.com", "")],
    },
    Api {
        names: &[
            "microsoft",
            "outlook",
            "onedrive",
            "teams",
            "microsoftgraph",
        ],
        routes: &[("graph.microsoft.com", "")],
    },
    Api {
        names: &["zoom"],
        routes: &[("api.zoom.us", "")],
    },
    Api {
        names: &["airtable"],
        routes: &[("api.airtable.com", "")],
    },
    Api {
        names: &["discord"],
        routes: &[("discord.com", "/api/")],
    },
    Api {
        names: &["figma"],
        routes: &[("api.figma.com", "")],
    },
];

impl Connections {
    /// The configured service whose API `url` belongs to.
    ///
    /// The URL must be `https` (`http` only for a loopback host), with no user name, no backslash and no
    /// spaces: the rules that keep this parser and the program that sends the request from disagreeing on the
    /// host. An entry's own `hosts` list wins (host and port compared exactly, names in punycode); otherwise a
    /// built-in table of well-known API hosts on port 443 (Gmail, Google Calendar and Drive, Slack, GitHub,
    /// Notion, Linear, ...) names the API, and the entry whose service name (or connection name prefix) is
    /// that API's is picked. No match, or more than one, is an error.
    ///
    /// ```
    /// let c = tokenbroker::Connections::from_json_str(
    ///     r#"{"mail": {"connection_name": "gmail_u3134a"}, "chat": {"connection_name": "slack_x7y9z"}}"#,
    /// ).unwrap();
    /// assert_eq!(c.service_for_url("https://gmail.googleapis.com/gmail/v1/users/me/messages").unwrap(), "mail");
    /// assert_eq!(c.service_for_url("https://slack.com/api/chat.postMessage").unwrap(), "chat");
    /// assert!(c.service_for_url("https://example.com/").is_err());
    /// assert!(c.service_for_url("http://gmail.googleapis.com/").is_err());
    /// assert!(c.service_for_url("https://gmail.googleapis.com\\@evil.test/").is_err());
    /// ```
    pub fn service_for_url(&self, url: &str) -> Result<&str, ConfigError> {
        let (candidates, no_match) = self.candidates(url)?;
        match candidates.as_slice() {
            [one] => Ok(one),
            [] => Err(self.no_match(url, no_match)),
            _ => Err(ConfigError::AmbiguousUrl {
                url: url.to_owned(),
                file: self.source().map(ToOwned::to_owned),
                services: candidates.iter().map(|s| (*s).to_owned()).collect(),
            }),
        }
    }

    /// Whether a token of `service` may be sent to `url`: the same rules as [`Connections::service_for_url`],
    /// where `service` must be one of the services the URL's host belongs to.
    pub fn check_url_for(&self, url: &str, service: &str) -> Result<(), ConfigError> {
        self.get(service)?;
        let (candidates, no_match) = self.candidates(url)?;
        if candidates.contains(&service) {
            return Ok(());
        }
        Err(self.no_match(
            url,
            match candidates.as_slice() {
                [] => no_match,
                others => format!(
                    "its host belongs to {}, not to {service}; a token of {service} is only sent to its own hosts",
                    others.join(", ")
                ),
            },
        ))
    }

    fn no_match(&self, url: &str, reason: String) -> ConfigError {
        ConfigError::NoServiceForUrl {
            url: url.to_owned(),
            file: self.source().map(ToOwned::to_owned),
            reason,
        }
    }

    /// The services the URL's host belongs to (an entry's `hosts` first, else the built-in table), and why
    /// none would.
    fn candidates(&self, url: &str) -> Result<(Vec<&str>, String), ConfigError> {
        let parsed = api_url(url).map_err(|reason| self.no_match(url, reason))?;
        let host = parsed.host_str().unwrap_or_default().trim_end_matches('.');
        let port = parsed.port_or_known_default();
        let by_entry: Vec<&str> = self
            .iter()
            .filter(|(_, c)| {
                c.hosts
                    .iter()
                    .any(|h| host_entry(h).is_ok_and(|(h, p)| h == host && p.or(Some(443)) == port))
            })
            .map(|(s, _)| s)
            .collect();
        if !by_entry.is_empty() {
            return Ok((by_entry, String::new()));
        }
        let Some(api) = APIS.iter().find(|api| {
            api.routes.iter().any(|(h, prefix)| {
                port == Some(443) && *h == host && parsed.path().starts_with(prefix)
            })
        }) else {
            return Ok((
                Vec::new(),
                format!(
                    "{host} (port {}) is not a known API host; add it to the entry's \"hosts\" list in \
                     connections.json",
                    port.unwrap_or_default()
                ),
            ));
        };
        // The connection's provider decides; the service name only when the connection name names none: a
        // service called `calendar` whose connection is `outlook_cal` is not Google Calendar.
        let by_name = self
            .iter()
            .filter(|(service, c)| match provider_of(&c.connection_name) {
                Some(provider) => provider.names[0] == api.names[0],
                None => api.names.iter().any(|n| squash(service) == *n),
            })
            .map(|(s, _)| s)
            .collect();
        Ok((
            by_name,
            format!(
                "{host} is the API of {}, but no service is named {} (case, '-' and '_' aside) and no \
                 connection name starts with {:?}; add such a service to connections.json, or list the host \
                 under an entry's \"hosts\"",
                api.names[0],
                api.names.join(", "),
                api.names[0]
            ),
        ))
    }
}

/// A URL a token may be sent to: `https` (`http` only for a loopback host), with a host and no user name,
/// and written so that every URL parser reads the same host (no backslash, space or control character).
pub(crate) fn api_url(raw: &str) -> Result<Url, String> {
    if raw.contains(|c: char| c == '\\' || c.is_whitespace() || c.is_control()) {
        return Err(
            "it contains a backslash, a space or a control character, which parsers read differently".into(),
        );
    }
    let url = Url::parse(raw).map_err(|e| format!("it is not a valid absolute URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "it carries a user name or password (user@host), a trick that hides the real host"
                .into(),
        );
    }
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err("it has no host".into()),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => {
            Err("a token is only sent over https (plain http only to a loopback host)".into())
        }
        other => Err(format!(
            "its scheme is {other:?}; a token is only sent over https"
        )),
    }
}

/// A `hosts` entry, `host` or `host:port`, as (lower-case punycode host without a trailing dot, port). The
/// same rules apply when the entry is written (`config add --host`) and when it is read.
pub(crate) fn host_entry(entry: &str) -> Result<(String, Option<u16>), String> {
    if entry.is_empty()
        || entry.contains(|c: char| {
            c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '@' | '?' | '#' | '*')
        })
    {
        return Err(format!(
            "{entry:?} is not a host name; give just the host (and optionally :port), such as api.example.com"
        ));
    }
    let url = Url::parse(&format!("https://{entry}/"))
        .map_err(|e| format!("{entry:?} is not a host name ({e})"))?;
    let host = url.host_str().unwrap_or_default().trim_end_matches('.');
    if host.is_empty() {
        return Err(format!("{entry:?} has no host name"));
    }
    Ok((host.to_owned(), url.port()))
}

/// The API a connection name says it is for: the one with the longest of its names (five letters or more,
/// so that `docs` or `gcal` are not read into `docsend_1`) starting the name. `gmail_u3134a` is Gmail,
/// `outlook_cal` Microsoft's.
fn provider_of(connection: &str) -> Option<&'static Api> {
    let connection = squash(connection);
    APIS.iter()
        .flat_map(|api| api.names.iter().map(move |n| (api, n)))
        .filter(|(_, n)| n.len() >= 5 && connection.starts_with(*n))
        .max_by_key(|(_, n)| n.len())
        .map(|(api, _)| api)
}

/// Lower case without punctuation: `Google-Calendar` and `google_calendar` are both `googlecalendar`.
fn squash(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::host_entry;
    use crate::{Connection, Connections};

    #[test]
    fn host_entries_are_hosts() {
        assert_eq!(
            host_entry("API.Example.com.").unwrap(),
            ("api.example.com".into(), None)
        );
        assert_eq!(
            host_entry("x.io:8443").unwrap(),
            ("x.io".into(), Some(8443))
        );
        assert_eq!(
            host_entry("bücher.example").unwrap().0,
            "xn--bcher-kva.example"
        );
        for bad in [
            "",
            "https://x.io",
            "x.io/path",
            "u@x.io",
            "x .io",
            "*.x.io",
            "x.io:99999",
            "a\u{1b}b",
        ] {
            assert!(host_entry(bad).is_err(), "{bad:?}");
        }
    }

    fn connections() -> Connections {
        let mut extra = Connection::new("internal_api");
        extra.hosts = vec!["API.example.internal.".into(), "127.0.0.1:8443".into()];
        Connections::new()
            .with("gmail", Connection::new("gmail_u3134a"))
            .and_then(|c| c.with("Google-Calendar", Connection::new("cal_1")))
            .and_then(|c| c.with("work-slack", Connection::new("slack_x7y9z")))
            .and_then(|c| c.with("crm", Connection::new("salesforce_1")))
            .and_then(|c| c.with("internal", extra))
            .unwrap()
    }

    #[test]
    fn picks_by_host_path_name_and_connection_prefix() {
        let c = connections();
        let cases = [
            (
                "https://gmail.googleapis.com/gmail/v1/users/me/messages",
                "gmail",
            ),
            ("https://www.googleapis.com/gmail/v1/users/me", "gmail"),
            (
                "https://www.googleapis.com/calendar/v3/calendars",
                "Google-Calendar",
            ),
            ("https://slack.com/api/chat.postMessage", "work-slack"),
            ("https://API.example.internal./v1", "internal"),
            ("https://api.example.internal:443/v1", "internal"),
            ("http://127.0.0.1:8443/v1", "internal"),
            ("https://GMAIL.googleapis.com./x", "gmail"),
        ];
        for (url, service) in cases {
            assert_eq!(c.service_for_url(url).unwrap(), service, "{url}");
        }
    }

    #[test]
    fn unknown_unconfigured_ambiguous_and_malformed_urls_are_errors() {
        let c = connections();
        for (url, needle) in [
            ("https://example.com/x", "not a known API host"),
            (
                "https://api.github.com/user",
                "no connection name starts with \"github\"",
            ),
            (
                "https://www.googleapis.com/youtube/v3",
                "not a known API host",
            ),
            ("https://my.salesforce.com/", "not a known API host"),
            // Review 2, L-J: no org's host is every org's.
            (
                "https://attacker-org.my.salesforce.com/x",
                "not a known API host",
            ),
            ("gmail", "not a valid absolute URL"),
            // The review's H1: curl sends these to evil.test, or in clear text.
            (
                "https://gmail.googleapis.com\\@evil.test/upload",
                "backslash",
            ),
            ("https://gmail.googleapis.com@evil.test/", "user name"),
            ("http://gmail.googleapis.com/x", "only sent over https"),
            ("ftp://gmail.googleapis.com/x", "scheme"),
            ("wss://gmail.googleapis.com/", "scheme"),
            ("https://gmail.googleapis.com:4444/x", "port 4444"),
            (
                "https://gmail.googleapis.com.evil.test/",
                "not a known API host",
            ),
            (
                "https://xn--gmil-6na.googleapis.com/",
                "not a known API host",
            ),
        ] {
            let e = c.service_for_url(url).unwrap_err().to_string();
            assert!(e.contains(needle), "{url}: {e}");
        }
        let two = c
            .clone()
            .with("mail2", Connection::new("gmail_other"))
            .unwrap();
        let e = two
            .service_for_url("https://gmail.googleapis.com/")
            .unwrap_err();
        assert!(e.to_string().contains("gmail, mail2"), "{e}");
    }

    /// Review 2, L-J: a generic service name does not make another provider's connection Google's.
    #[test]
    fn the_connections_provider_decides_over_a_generic_service_name() {
        let c = Connections::new()
            .with("calendar", Connection::new("outlook_cal"))
            .and_then(|c| c.with("docs", Connection::new("notion_docs")))
            .unwrap();
        for url in [
            "https://www.googleapis.com/calendar/v3/calendars",
            "https://docs.googleapis.com/v1/documents/x",
        ] {
            let e = c.service_for_url(url).unwrap_err().to_string();
            assert!(e.contains("no service is named"), "{url}: {e}");
        }
        assert_eq!(
            c.service_for_url("https://graph.microsoft.com/v1.0/me/calendar")
                .unwrap(),
            "calendar"
        );
        assert_eq!(
            c.service_for_url("https://api.notion.com/v1/pages")
                .unwrap(),
            "docs"
        );
        // A connection name that names no provider leaves it to the service name, as before.
        let plain = Connections::new()
            .with("calendar", Connection::new("cal_1"))
            .unwrap();
        assert_eq!(
            plain
                .service_for_url("https://www.googleapis.com/calendar/v3/x")
                .unwrap(),
            "calendar"
        );
    }
}
