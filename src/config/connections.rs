//! `connections.json`: service name -> Scalekit connection name (and optionally identifier).

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::names::{check_connection_name, check_identifier, check_service};
use crate::error::ConfigError;

/// Files larger than this are refused rather than read: a real one is a few hundred bytes.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// More services than this are refused: every command that looks at all of them (`status`, `doctor`) makes
/// a request for each, and a file should not be able to make one command send thousands.
pub(crate) const MAX_SERVICES: usize = 100;

/// One service's entry in `connections.json`.
///
/// ```
/// let gmail = tokenbroker::Connection::new("gmail_u3134a").with_identifier("mess");
/// assert_eq!(gmail.connection_name, "gmail_u3134a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Connection {
    /// The Scalekit connection name (the dashboard's "Connection Name"), sent as `connector`.
    pub connection_name: String,
    /// The connected account's identifier for this service; overrides the default identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Extra API hosts that belong to this service, for `get-token --for-url`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

impl Connection {
    /// An entry with just a connection name.
    pub fn new(connection_name: impl Into<String>) -> Self {
        Self {
            connection_name: connection_name.into(),
            identifier: None,
            hosts: Vec::new(),
        }
    }

    /// Sets the entry's identifier.
    pub fn with_identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    /// Sets the extra API hosts that belong to this service (for [`Connections::service_for_url`]).
    pub fn with_hosts<S: Into<String>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        self.hosts = hosts.into_iter().map(Into::into).collect();
        self
    }
}

/// The services configured, in file order, and where they came from.
///
/// ```
/// let c = tokenbroker::Connections::from_json_str(
///     r#"{"gmail": {"connection_name": "gmail_u3134a", "identifier": "mess"}}"#,
/// ).unwrap();
/// assert_eq!(c.get("gmail").unwrap().connection_name, "gmail_u3134a");
/// assert!(c.get("gmial").unwrap_err().to_string().contains("did you mean \"gmail\""));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connections {
    pub(super) entries: Vec<(String, Connection)>,
    pub(super) source: Option<PathBuf>,
}

impl Connections {
    /// No services.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a service (builder style), checking the names.
    pub fn with(
        mut self,
        service: impl Into<String>,
        connection: Connection,
    ) -> Result<Self, ConfigError> {
        let service = service.into();
        check_entry(&service, &connection)?;
        match self.entries.iter_mut().find(|(s, _)| *s == service) {
            Some((_, c)) => *c = connection,
            None => self.entries.push((service, connection)),
        }
        Ok(self)
    }

    /// Parses the JSON text of a `connections.json`.
    pub fn from_json_str(text: &str) -> Result<Self, ConfigError> {
        parse(text, None)
    }

    /// Reads and parses a `connections.json` file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let unreadable = |source: std::io::Error| ConfigError::Unreadable {
            path: path.to_owned(),
            source: Arc::new(source),
        };
        let bytes = super::read::read_guarded(path, MAX_FILE_BYTES).map_err(|r| {
            if r.missing {
                unreadable(std::io::Error::from(std::io::ErrorKind::NotFound))
            } else {
                invalid(Some(path), None, None, r.sentence())
            }
        })?;
        let bytes = bytes.to_vec();
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let column = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            ConfigError::Invalid {
                path: Some(path.to_owned()),
                service: None,
                line: Some(line),
                column: Some(column),
                message: "the file is not UTF-8 text; save it as UTF-8".into(),
            }
        })?;
        parse(&text, Some(path))
    }

    /// The entry for `service`, or an error listing the configured services with a did-you-mean.
    pub fn get(&self, service: &str) -> Result<&Connection, ConfigError> {
        check_service(service)?;
        if let Some((_, c)) = self.entries.iter().find(|(s, _)| s == service) {
            return Ok(c);
        }
        let suggestion = self
            .entries
            .iter()
            .map(|(s, _)| (strsim::jaro_winkler(s, service), s))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, s)| s.clone());
        Err(ConfigError::UnknownService {
            service: service.to_owned(),
            file: self.source.clone(),
            known: self.services().map(str::to_owned).collect(),
            suggestion,
        })
    }

    /// The service names, in file order.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(s, _)| s.as_str())
    }

    /// Every entry, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Connection)> {
        self.entries.iter().map(|(s, c)| (s.as_str(), c))
    }

    /// The file they were read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }
}

fn check_entry(service: &str, c: &Connection) -> Result<(), ConfigError> {
    check_service(service)?;
    check_connection_name(&c.connection_name, Some(service))?;
    if let Some(id) = &c.identifier {
        check_identifier(id, Some(service))?;
    }
    for host in &c.hosts {
        super::hosts::host_entry(host).map_err(|reason| ConfigError::InvalidName {
            what: "host",
            value: crate::text::one_line(host).chars().take(80).collect(),
            service: Some(service.to_owned()),
            reason,
        })?;
    }
    Ok(())
}

fn invalid(
    path: Option<&Path>,
    service: Option<String>,
    pos: Option<(usize, usize)>,
    message: String,
) -> ConfigError {
    ConfigError::Invalid {
        path: path.map(Path::to_owned),
        service,
        line: pos.map(|p| p.0),
        column: pos.map(|p| p.1),
        message,
    }
}

fn parse(text: &str, path: Option<&Path>) -> Result<Connections, ConfigError> {
    // Editors on Windows like to start files with a byte-order mark; it is not an error worth a user's time.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(invalid(
            path,
            None,
            None,
            "the file is empty; it should be a JSON object such as {\"gmail\": {\"connection_name\": \"gmail_u3134a\"}}"
                .into(),
        ));
    }
    // The visitor records which entry it is in, so that serde's positioned errors can name the service.
    let current = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = de::Deserializer::deserialize_map(&mut de, EntriesVisitor { current: &current })
        .and_then(|entries| de.end().map(|()| entries));
    match parsed {
        Ok(entries) => Ok(Connections {
            entries,
            source: path.map(Path::to_owned),
        }),
        Err(e) => {
            let service = current.into_inner();
            let full = without_values(&e.to_string());
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let bare = full.strip_suffix(&suffix).unwrap_or(&full);
            let message = match &service {
                Some(s) => format!("in the entry for service \"{s}\": {bare}"),
                None => bare.to_owned(),
            };
            let pos = (e.line() > 0).then(|| (e.line(), e.column()));
            Err(invalid(path, service, pos, message))
        }
    }
}

/// serde's message without the values it quotes (`invalid type: string "...", expected ...`): the file may
/// not be a connections.json at all but some other JSON file, with secrets in it.
fn without_values(message: &str) -> String {
    for kind in ["invalid type: string ", "invalid value: string "] {
        if let Some(end) = message
            .strip_prefix(kind)
            .and_then(|rest| rest.rfind("\", expected"))
        {
            return format!(
                "{kind}(a value not shown){}",
                &message[kind.len() + end + 1..]
            );
        }
    }
    message.to_owned()
}

struct EntriesVisitor<'a> {
    current: &'a RefCell<Option<String>>,
}

impl<'de> Visitor<'de> for EntriesVisitor<'_> {
    type Value = Vec<(String, Connection)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object mapping service names to {\"connection_name\": ...} entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<(String, Connection)> = Vec::new();
        while let Some(service) = map.next_key::<String>()? {
            *self.current.borrow_mut() = Some(service.clone());
            let connection: Connection = map.next_value()?;
            if entries.iter().any(|(s, _)| *s == service) {
                return Err(de::Error::custom(
                    "this service is listed twice; keep one entry",
                ));
            }
            check_entry(&service, &connection).map_err(de::Error::custom)?;
            if entries.len() == MAX_SERVICES {
                return Err(de::Error::custom(format!(
                    "more than {MAX_SERVICES} services; split them into several files and pass --connections"
                )));
            }
            entries.push((service, connection));
        }
        *self.current.borrow_mut() = None;
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        Connections::from_json_str(text).unwrap_err()
    }

    #[test]
    fn loads_python_skill_files_unchanged() {
        let c = Connections::from_json_str(
            "{\n  \"gmail\": {\n    \"connection_name\": \"gmail_u3134a\",\n    \"identifier\": \"mess\"\n  },\n  \
             \"slack\": {\n    \"connection_name\": \"slack_x7y9z\",\n    \"identifier\": \"mess\"\n  }\n}",
        )
        .unwrap();
        assert_eq!(c.services().collect::<Vec<_>>(), ["gmail", "slack"]);
        assert_eq!(c.get("slack").unwrap().identifier.as_deref(), Some("mess"));
    }

    #[test]
    fn identifier_is_optional_and_null_is_none() {
        let c = Connections::from_json_str(
            r#"{"a": {"connection_name": "x"}, "b": {"connection_name": "y", "identifier": null}}"#,
        )
        .unwrap();
        assert_eq!(c.get("a").unwrap().identifier, None);
        assert_eq!(c.get("b").unwrap().identifier, None);
    }

    #[test]
    fn unknown_field_names_field_service_and_position() {
        let e = err("{\n  \"gmail\": {\"conection_name\": \"gmail_u3134a\"}\n}");
        let ConfigError::Invalid {
            service,
            line,
            message,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(service.as_deref(), Some("gmail"));
        assert_eq!(*line, Some(2));
        assert!(message.contains("conection_name"), "{message}");
        assert!(e.to_string().contains(":2:"), "{e}");
    }

    #[test]
    fn malformed_json_has_line_and_column() {
        let e = err("{\n  \"gmail\": {\"connection_name\": \"x\",}\n}");
        let ConfigError::Invalid { line, column, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!((*line, column.is_some()), (Some(2), true));
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        for text in [
            "",
            "  \n",
            "[]",
            "42",
            "{\"a\": 1}",
            "{\"a\": {}}",
            "{\"a\": {\"connection_name\": 5}}",
            "{} {}",
        ] {
            let e = err(text);
            assert!(matches!(e, ConfigError::Invalid { .. }), "{text:?}: {e:?}");
        }
        assert!(
            err("{\"a\": {}}")
                .to_string()
                .contains("missing field `connection_name`")
        );
    }

    #[test]
    fn values_are_never_quoted_and_size_is_bounded() {
        let e = err(r#"{"api_key": "sk-live-VERY-SECRET"}"#).to_string();
        assert!(!e.contains("VERY-SECRET") && e.contains("expected"), "{e}");
        let many: Vec<String> = (0..=MAX_SERVICES)
            .map(|i| format!("\"s{i}\": {{\"connection_name\": \"c\"}}"))
            .collect();
        let e = err(&format!("{{{}}}", many.join(","))).to_string();
        assert!(e.contains("more than 100 services"), "{e}");
    }

    #[test]
    fn bom_is_accepted() {
        assert!(
            Connections::from_json_str("\u{feff}{\"a\": {\"connection_name\": \"x\"}}").is_ok()
        );
    }

    #[test]
    fn duplicate_services_and_bad_names_are_refused() {
        assert!(
            err(r#"{"a": {"connection_name": "x"}, "a": {"connection_name": "y"}}"#)
                .to_string()
                .contains("twice")
        );
        let e = err(r#"{"a": {"connection_name": "bad/name"}}"#);
        assert!(
            e.to_string().contains("\"a\"") && e.to_string().contains("'/'"),
            "{e}"
        );
    }

    #[test]
    fn unknown_service_suggests_and_lists() {
        let c = Connections::from_json_str(
            r#"{"gmail": {"connection_name": "g"}, "slack": {"connection_name": "s"}}"#,
        )
        .unwrap();
        let e = c.get("slak").unwrap_err().to_string();
        assert!(
            e.contains("gmail, slack") && e.contains("did you mean \"slack\""),
            "{e}"
        );
        let e = c.get("notion").unwrap_err().to_string();
        assert!(!e.contains("did you mean"), "{e}");
    }
}
