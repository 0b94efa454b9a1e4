//! What get-token prints: plain tokens, `export` lines, or one JSON object; and the stderr messages.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokenbroker::{AccessToken, AuthorizationRequired, Error, rfc3339};

use crate::args::Global;

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
            Some(auth) => json_authorization(auth),
            None => json_error(Some(service), e),
        },
    }
}

/// The `authorization_required` object: the link, its deadline, and a sentence for the user.
pub(crate) fn json_authorization(auth: &AuthorizationRequired) -> Value {
    json!({
        "status": "authorization_required",
        "service": auth.service,
        "connection_name": auth.connection_name,
        "identifier": auth.identifier,
        "account_status": auth.status.as_str(),
        "authorization_url": auth.url.as_str(),
        "expires_at": auth.expires_at.map(rfc3339),
        "expires_in_seconds": auth.expires_in().map(|d| d.as_secs()),
        "message": auth.message(),
    })
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
pub(crate) fn describe(service: Option<&str>, error: &Error) -> String {
    match error.authorization() {
        Some(auth) => format!("{}\nThen run the command again.", authorization(auth)),
        None => {
            let prefix = service.map(|s| format!("{s}: ")).unwrap_or_default();
            format!("get-token: {prefix}error: {error}\nhint: {}", error.hint())
        }
    }
}

/// The link and what to do with it, while get-token waits for the user.
pub(crate) fn waiting(auth: &AuthorizationRequired, left: Duration) -> String {
    format!(
        "{}\nWaiting up to {} s for the authorization (Ctrl-C to stop).",
        authorization(auth),
        left.as_secs_f64().round()
    )
}

/// Prints `describe` on stderr unless quiet.
pub(crate) fn report(quiet: bool, service: &str, error: &Error) {
    if !quiet {
        eprintln!("{}", describe(Some(service), error));
    }
}

fn authorization(auth: &AuthorizationRequired) -> String {
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
         Open this link to authorize{expiry}:\n  {}",
        auth.service,
        auth.connection_name,
        auth.identifier,
        auth.identifier_source,
        auth.status,
        auth.url
    )
}

/// Prints `text` on stdout, zeroing the buffer afterwards (it may hold tokens). `false` if stdout is gone.
pub(crate) fn print(text: String) -> bool {
    use std::io::Write;
    let text = zeroize::Zeroizing::new(text);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

/// An error as the `--json` error object.
pub(crate) fn json_error(service: Option<&str>, e: &Error) -> Value {
    json!({
        "status": "error",
        "service": service,
        "code": e.kind().code(),
        "message": e.to_string(),
        "hint": e.hint(),
    })
}

/// A failure that ends the command: one JSON error object on stdout, or the message on stderr.
pub(crate) fn fail(global: &Global, label: Option<&str>, e: &Error) -> u8 {
    if global.json {
        print(format!("{}\n", json_error(label, e)));
    } else if !global.quiet {
        eprintln!("{}", describe(label, e));
    }
    crate::exit::code_for(e)
}

/// A time for tables: RFC 3339, or `-`.
pub(crate) fn time_or_dash(t: Option<SystemTime>) -> String {
    t.map_or_else(|| "-".into(), rfc3339)
}

/// Rows as a table with aligned columns (the last column is not padded).
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
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
