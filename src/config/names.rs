//! Scalekit's limits on names, checked before any request is made.

use crate::error::ConfigError;

/// Longest connection name Scalekit accepts.
pub(crate) const MAX_CONNECTION_NAME: usize = 400;
/// Longest identifier Scalekit accepts.
pub(crate) const MAX_IDENTIFIER: usize = 100;
/// Longest service name tokenbroker accepts.
pub(crate) const MAX_SERVICE: usize = 64;

/// A service name: 1 to 64 characters of `A-Z a-z 0-9 _ - .`, starting with a letter or digit.
pub(crate) fn check_service(service: &str) -> Result<(), ConfigError> {
    let fail = |reason: &str| invalid("service name", service, None, reason);
    if service.is_empty() {
        return Err(fail("it is empty; give a name such as gmail"));
    }
    if service.chars().count() > MAX_SERVICE {
        return Err(fail(&format!("it is longer than {MAX_SERVICE} characters")));
    }
    if !service.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(fail("it must start with a letter or digit"));
    }
    if let Some(c) = service
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(fail(&format!(
            "{c:?} is not allowed; use letters, digits, '_', '-' and '.'"
        )));
    }
    Ok(())
}

/// A connection name: 1 to 400 characters of `A-Z a-z 0-9 _ : - space` (Scalekit's rule).
pub(crate) fn check_connection_name(name: &str, service: Option<&str>) -> Result<(), ConfigError> {
    let fail = |reason: &str| invalid("connection name", name, service, reason);
    if name.is_empty() {
        return Err(fail(
            "it is empty; copy it from the Scalekit dashboard (Agent Auth > Connections)",
        ));
    }
    if name.chars().count() > MAX_CONNECTION_NAME {
        return Err(fail(&format!(
            "it is longer than Scalekit's limit of {MAX_CONNECTION_NAME} characters (the proto's rule for \
             connector: max_len {MAX_CONNECTION_NAME})"
        )));
    }
    if name.trim() != name {
        return Err(fail("it has spaces at the start or end"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | ' ')))
    {
        return Err(fail(&format!(
            "{c:?} is not allowed by Scalekit (the proto's rule for connector: pattern \
             ^[a-zA-Z0-9_: -]*$); use letters, digits, '_', ':', '-' and spaces"
        )));
    }
    Ok(())
}

/// An identifier: 1 to 100 characters, no control or invisible characters, no spaces at either end.
pub(crate) fn check_identifier(identifier: &str, service: Option<&str>) -> Result<(), ConfigError> {
    let fail = |reason: &str| invalid("identifier", identifier, service, reason);
    if identifier.is_empty() {
        return Err(fail("it is empty"));
    }
    if identifier.chars().count() > MAX_IDENTIFIER {
        return Err(fail(&format!(
            "it is longer than Scalekit's limit of {MAX_IDENTIFIER} characters (the proto's rule for \
             identifier: max_len {MAX_IDENTIFIER})"
        )));
    }
    if identifier.trim() != identifier {
        return Err(fail("it has spaces at the start or end"));
    }
    if identifier.chars().any(crate::text::is_unsafe) {
        return Err(fail(
            "it contains a control character or an invisible one (such as a bidi control)",
        ));
    }
    Ok(())
}

fn invalid(what: &'static str, value: &str, service: Option<&str>, reason: &str) -> ConfigError {
    let mut shown: String = value.chars().take(80).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    ConfigError::InvalidName {
        what,
        value: shown,
        service: service.map(str::to_owned),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services() {
        for ok in ["gmail", "google-calendar", "x.y_z", "9"] {
            assert!(check_service(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            " gmail",
            "gmail ",
            "../etc",
            "a/b",
            "a\nb",
            ".hidden",
            &"a".repeat(65),
        ] {
            assert!(check_service(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn connection_names() {
        assert!(check_connection_name("gmail_u3134a", None).is_ok());
        assert!(check_connection_name("salesforce-1hpnGzcD", None).is_ok());
        assert!(check_connection_name("team: work mail", None).is_ok());
        assert!(check_connection_name(&"a".repeat(400), None).is_ok());
        let e = check_connection_name(&"a".repeat(401), Some("gmail"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("400") && e.contains("gmail"), "{e}");
        let e = check_connection_name("gmail/x", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'/'"), "{e}");
        assert!(check_connection_name("", None).is_err());
    }

    #[test]
    fn identifiers() {
        assert!(check_identifier("mess", None).is_ok());
        assert!(check_identifier("user@example.com", None).is_ok());
        assert!(check_identifier(&"a".repeat(100), None).is_ok());
        assert!(check_identifier(&"a".repeat(101), None).is_err());
        assert!(check_identifier("a\u{7}b", None).is_err());
        assert!(check_identifier("bob\u{202e}\u{2066}moc.evil@", None).is_err());
        assert!(check_identifier(" a", None).is_err());
        assert!(check_identifier("", None).is_err());
    }
}
