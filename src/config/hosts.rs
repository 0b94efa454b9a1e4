//! Which service an API URL belongs to: a built-in table of well-known API hosts, plus each entry's `hosts`.

use url::Url;

use super::Connections;
use crate::error::ConfigError;

/// A well-known API: the service names it usually goes by, and where its requests go.
struct Api {
    /// Service names (compared without case or punctuation); a connection name starting with the first
    /// one also matches (`gmail_u3134a` is Gmail).
    names: &'static [&'static str],
    /// `(host, path prefix)`; a host starting with `.` matches any subdomain.
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
        routes: &[("api.github.com", ""), ("uploads.github.com", "")],
    },
    Api {
        names: &["gitlab"],
        routes: &[("gitlab.com", "/api/")],
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
    Api {
        names: &["salesforce"],
        routes: &[(".my.salesforce.com", "")],
    },
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
    /// An entry's own `hosts` list wins; otherwise a built-in table of well-known API hosts (Gmail, Google
    /// Calendar and Drive, Slack, GitHub, Notion, Linear, ...) names the API, and the entry whose service name
    /// (or connection name prefix) is that API's is picked. No match, or more than one, is an error.
    ///
    /// ```
    /// let c = tokenbroker::Connections::from_json_str(
    ///     r#"{"mail": {"connection_name": "gmail_u3134a"}, "chat": {"connection_name": "slack_x7y9z"}}"#,
    /// ).unwrap();
    /// assert_eq!(c.service_for_url("https://gmail.googleapis.com/gmail/v1/users/me/messages").unwrap(), "mail");
    /// assert_eq!(c.service_for_url("https://slack.com/api/chat.postMessage").unwrap(), "chat");
    /// assert!(c.service_for_url("https://example.com/").is_err());
    /// ```
    pub fn service_for_url(&self, url: &str) -> Result<&str, ConfigError> {
        let no_match = |reason: String| ConfigError::NoServiceForUrl {
            url: url.to_owned(),
            file: self.source().map(ToOwned::to_owned),
            reason,
        };
        let parsed = Url::parse(url)
            .map_err(|e| no_match(format!("it is not a valid absolute URL ({e})")))?;
        let host = match parsed.host_str() {
            Some(h) => h.trim_end_matches('.').to_ascii_lowercase(),
            None => return Err(no_match("it has no host".into())),
        };
        let by_entry = self
            .iter()
            .filter(|(_, c)| c.hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)))
            .map(|(s, _)| s)
            .collect();
        if let Some(service) = self.only(url, by_entry)? {
            return Ok(service);
        }
        let Some(api) = APIS.iter().find(|api| {
            api.routes
                .iter()
                .any(|(h, prefix)| host_matches(h, &host) && parsed.path().starts_with(prefix))
        }) else {
            return Err(no_match(format!(
                "{host} is not a known API host; add it to the entry's \"hosts\" list in connections.json"
            )));
        };
        let by_name = self
            .iter()
            .filter(|(service, c)| {
                let (service, connection) = (squash(service), squash(&c.connection_name));
                api.names.iter().any(|n| service == *n) || connection.starts_with(api.names[0])
            })
            .map(|(s, _)| s)
            .collect();
        self.only(url, by_name)?.ok_or_else(|| {
            no_match(format!(
                "{host} is {}'s API, but no service is named {} and no connection name starts with {:?}; \
                 add one with `get-token config add`, or list the host under an entry's \"hosts\"",
                api.names[0],
                api.names.join(" or "),
                api.names[0]
            ))
        })
    }

    fn only<'a>(&self, url: &str, matches: Vec<&'a str>) -> Result<Option<&'a str>, ConfigError> {
        match matches.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(ConfigError::AmbiguousUrl {
                url: url.to_owned(),
                file: self.source().map(ToOwned::to_owned),
                services: matches.iter().map(|s| (*s).to_owned()).collect(),
            }),
        }
    }
}

fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('.') {
        Some(suffix) => host.ends_with(pattern) && host.len() > suffix.len() + 1,
        None => host == pattern,
    }
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
    use crate::{Connection, Connections};

    fn connections() -> Connections {
        let mut extra = Connection::new("internal_api");
        extra.hosts = vec!["api.example.internal".into()];
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
            ("https://acme.my.salesforce.com/services/data", "crm"),
            ("https://API.example.internal./v1", "internal"),
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
            ("gmail", "not a valid absolute URL"),
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
}
