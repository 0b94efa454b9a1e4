//! What get-token prints: plain tokens, `export` lines, or one JSON object; and the stderr messages.

use serde_json::{Value, json};
use tokenbroker::{AccessToken, Error, rfc3339};

/// The JSON object for one service's outcome. The token is in it only when asked for.
pub(crate) fn json_result(
    service: &str,
    outcome: &Result<AccessToken, Error>,
    show_token: bool,
) -> Value {
    match outcome {
        Ok(token) => {
            let mut v = json!({
                "status": "ok",
                "service": service,
                "connection_name": token.connection_name(),
                "identifier": token.identifier(),
                "expires_at": token.expires_at().map(rfc3339),
                "scopes": token.scopes(),
            });
            if show_token {
                v["token"] = Value::String(token.expose_secret().to_owned());
            }
            v
        }
        Err(e) => match e.authorization() {
            Some(auth) => json!({
                "status": "authorization_required",
                "service": service,
                "connection_name": auth.connection_name,
                "identifier": auth.identifier,
                "account_status": auth.status.as_str(),
                "authorization_url": auth.url.as_str(),
                "expires_at": auth.expires_at.map(rfc3339),
                "expires_in_seconds": auth.expires_in().map(|d| d.as_secs()),
                "message": auth.message(),
            }),
            None => json!({
                "status": "error",
                "service": service,
                "code": e.kind().code(),
                "message": e.to_string(),
                "hint": e.hint(),
            }),
        },
    }
}

/// `GMAIL_TOKEN` for `gmail`: upper-cased, non-alphanumerics as `_`, plus `_TOKEN`.
pub(crate) fn env_name(service: &str) -> String {
    let mut name: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name + "_TOKEN"
}

/// A value quoted for POSIX shells.
pub(crate) fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// What happened and what to do, for people, on stderr.
pub(crate) fn describe(service: &str, error: &Error) -> String {
    match error.authorization() {
        Some(auth) => {
            let expiry = match (auth.expires_at, auth.expires_in()) {
                (Some(at), Some(left)) => format!(
                    " (the link expires at {}, in {} s)",
                    rfc3339(at),
                    left.as_secs()
                ),
                _ => String::new(),
            };
            format!(
                "get-token: {} needs authorization (connection {}, identifier {} from {}, account status {}).\n\
                 Open this link to authorize{expiry}:\n  {}\nThen run the command again.",
                auth.service,
                auth.connection_name,
                auth.identifier,
                auth.identifier_source,
                auth.status,
                auth.url
            )
        }
        None => format!(
            "get-token: {service}: error: {error}\nhint: {}",
            error.hint()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_and_quoting() {
        assert_eq!(env_name("gmail"), "GMAIL_TOKEN");
        assert_eq!(env_name("google-calendar"), "GOOGLE_CALENDAR_TOKEN");
        assert_eq!(env_name("x.y"), "X_Y_TOKEN");
        assert_eq!(env_name("9lives"), "_9LIVES_TOKEN");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
