//! What get-token says about an outcome: the JSON objects, and the sentences for people.

use std::time::Duration;

use serde_json::{Value, json};
use std::sync::OnceLock;

use tokenbroker::{
    AccessToken, AuthorizationRequired, Error, IdentifierSource, PendingVerification, rfc3339,
};

use crate::args::Global;
use crate::output;

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
        Err(Error::VerificationPending(p)) => json_pending(p),
        Err(e) => match e.authorization() {
            Some(auth) => json_authorization(auth),
            None => json_error(Some(service), e),
        },
    }
}

/// `get-token` with the options that say where its configuration is, as this run was given them: the start
/// of every command suggested to run next.
static INVOCATION: OnceLock<String> = OnceLock::new();

pub(crate) fn remember_invocation(global: &Global) {
    let mut words = vec!["get-token".to_owned()];
    words.extend(global.config_options());
    // A port given by flag or by $TOKENBROKER_VERIFY_PORT: named, so the next command listens there from
    // any shell.
    let given =
        global.verify_port.is_some() || std::env::var_os("TOKENBROKER_VERIFY_PORT").is_some();
    if let (true, Ok(port)) = (given, global.port()) {
        words.push(format!("--verify-port {port}"));
    }
    let _ = INVOCATION.set(words.join(" "));
}

/// `get-token` with this run's configuration options: the start of a command to suggest.
pub(crate) fn invocation() -> &'static str {
    INVOCATION.get().map_or("get-token", String::as_str)
}

/// [`invocation`] without its `--verify-port`: for a hint that names a new port.
pub(crate) fn invocation_without_port() -> String {
    let words: Vec<&str> = invocation().split(' ').collect();
    let mut kept = Vec::new();
    let mut skip = false;
    for word in words {
        if std::mem::take(&mut skip) {
            continue;
        }
        if word == "--verify-port" {
            skip = true;
            continue;
        }
        kept.push(word);
    }
    kept.join(" ")
}

/// The command to run after relaying a link: wait for this account.
pub(crate) fn next_wait(service: &str, identifier: &str, source: &IdentifierSource) -> String {
    let base = invocation();
    match source {
        IdentifierSource::Explicit => format!(
            "{base} wait {service} --identifier {}",
            output::shell_quote(identifier)
        ),
        _ => format!("{base} wait {service}"),
    }
}

/// `next` after a link: the wait, told when the link expires so it returns soon after with a fresh one
/// instead of sitting on a dead link.
pub(crate) fn next_after_link(auth: &AuthorizationRequired) -> String {
    let wait = next_wait(&auth.service, &auth.identifier, &auth.identifier_source);
    // Only a future expiry: one already past (a skewed clock) would make every wait end at once.
    match auth
        .expires_at
        .filter(|at| *at > std::time::SystemTime::now())
    {
        Some(at) => format!("{wait} --link-expires {}", rfc3339(at)),
        None => wait,
    }
}

/// The `verification_pending` object: what completes it, and what to run next.
pub(crate) fn json_pending(p: &PendingVerification) -> Value {
    json!({
        "status": "verification_pending",
        "service": p.service,
        "connection_name": p.connection_name,
        "identifier": p.identifier,
        "account_status": "PENDING_VERIFICATION",
        "message": p.message(),
        "next": next_wait(&p.service, &p.identifier, &p.identifier_source),
        "verify": format!("{} verify - (the address on stdin)", invocation()),
    })
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
        "replaces_expired_link": auth.replaces_expired_link,
        "next": next_after_link(auth),
    })
}

/// What happened and what to do, for people, on stderr.
pub(crate) fn describe(service: Option<&str>, error: &Error) -> String {
    if let Error::VerificationPending(p) = error {
        return format!(
            "get-token: {p}.\n{}\nIf the user the link was sent to sends you that address, pass it on stdin: \
             get-token verify - (never inside a command line). To wait here instead: {}",
            p.message(),
            next_wait(&p.service, &p.identifier, &p.identifier_source)
        );
    }
    match error.authorization() {
        Some(auth) => format!(
            "{}\nThen run: {}",
            authorization(auth),
            next_after_link(auth)
        ),
        None => {
            let prefix = service.map(|s| format!("{s}: ")).unwrap_or_default();
            format!(
                "get-token: {prefix}error: {error}\nhint: {}",
                crate::hint::hint(error)
            )
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

/// Says `describe` on stderr (unless quiet or --json).
pub(crate) fn report(global: &Global, service: &str, error: &Error) {
    global.tell(&describe(Some(service), error));
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
    // Authorizing an active account again (more scopes, another account) is asked for, not needed.
    let need = if auth.status.is_active() {
        "is being authorized again"
    } else {
        "needs authorization"
    };
    format!(
        "get-token: {} {need} (connection {}, identifier {}, {}, account status {}).\n\
         Open this link to authorize{expiry}:\n  {}",
        auth.service,
        auth.connection_name,
        auth.identifier,
        auth.identifier_source,
        auth.status,
        auth.url
    )
}

/// An error as the `--json` error object.
pub(crate) fn json_error(service: Option<&str>, e: &Error) -> Value {
    json!({
        "status": "error",
        "service": service,
        "code": e.kind().code(),
        "message": e.to_string(),
        "hint": crate::hint::hint(e),
    })
}

/// A failure that ends the command: one JSON error object on stdout, or the message on stderr.
pub(crate) fn fail(global: &Global, label: Option<&str>, e: &Error) -> u8 {
    if global.json {
        output::print_json(json_error(label, e));
    } else {
        global.tell(&describe(label, e));
    }
    crate::exit::code_for(e)
}

/// A usage error of ours (clap reports its own): exit 2, said the way every other error is.
pub(crate) fn usage(global: &Global, message: &str) -> u8 {
    if global.json {
        output::print_json(json!({"status": "error", "code": "usage", "message": message}));
    } else if !global.quiet {
        output::say(&format!("get-token: error: {message}"));
    }
    crate::exit::USAGE
}
