//! What an MCP tool says when it cannot do its job: the error and the next step in MCP's terms (which tool
//! to call, or what the user must do), never a get-token command line, which a model behind an MCP host
//! cannot run.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Value, json};
use tokenbroker::{ConfigError, Error, ErrorKind};

/// A failure the model should read and act on: `code`, `message` and `next`.
pub(super) fn tool_error(service: Option<&str>, e: &Error) -> CallToolResult {
    error_result(json!({
        "status": "error",
        "service": service,
        "code": e.kind().code(),
        "message": e.to_string(),
        "next": next(service, e),
    }))
}

/// Arguments the tool cannot take: an error result the model can correct (MCP 2025-11-25: input errors
/// are tool results with `isError`, not protocol errors).
pub(super) fn argument_error(message: &str) -> CallToolResult {
    error_result(json!({
        "status": "error",
        "code": "invalid_arguments",
        "message": tokenbroker::printable(message),
        "next": "call the tool again with the arguments its input schema describes (list_services names the \
                 services)",
    }))
}

/// A `status --json` row with its `fix` (a get-token command) replaced by `next` in the tools' terms.
pub(super) fn status_row(mut row: Value) -> Value {
    let Some(map) = row.as_object_mut() else {
        return row;
    };
    let fix = map.remove("fix");
    let service = map
        .get("service")
        .and_then(Value::as_str)
        .unwrap_or("the service")
        .to_owned();
    let ready = map.get("ready").and_then(Value::as_bool).unwrap_or(false);
    let pending = map.get("account_status").and_then(Value::as_str) == Some("PENDING_VERIFICATION");
    let next = match (ready, pending, fix) {
        (true, _, _) => return row,
        (false, true, _) => format!(
            "ask the user for the address their browser showed after approving and call verify with it, or \
             call authorize with service {service} for a new link"
        ),
        (false, false, _) => format!("call authorize with service {service}"),
    };
    map.insert("next".into(), Value::String(next));
    row
}

fn error_result(value: Value) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(value.to_string())]);
    result.structured_content = Some(value);
    result
}

/// The next step, in the tools' terms.
fn next(service: Option<&str>, e: &Error) -> String {
    let service = service.unwrap_or("the service");
    if let Error::Config(ConfigError::NoServiceForUrl { .. } | ConfigError::AmbiguousUrl { .. }) = e
    {
        return format!(
            "call request again with a URL on {service}'s own API host (an https URL such as the ones in its \
             API documentation); the token goes nowhere else"
        );
    }
    match e.kind() {
        ErrorKind::AuthorizationRequired | ErrorKind::TokenExpired | ErrorKind::TokenRejected => {
            format!("call authorize with service {service}")
        }
        ErrorKind::VerificationPending => format!(
            "ask the user to send back the address their browser showed after approving (it starts with \
             http://127.0.0.1) and call verify with it; or call status with service {service} later"
        ),
        ErrorKind::VerificationFailed => format!(
            "call authorize with service {service} for a new link; the link must be approved by the user it \
             was made for"
        ),
        ErrorKind::NotConfigured | ErrorKind::InvalidConfig | ErrorKind::UnknownConnection => {
            "tell the user that tokenbroker on this machine needs setting up for this service: they run \
             `get-token init` (or `get-token config add SERVICE CONNECTION_NAME`) in a terminal, then restart \
             this MCP server"
                .into()
        }
        ErrorKind::CredentialsMissing | ErrorKind::CredentialsRejected => {
            "tell the user that tokenbroker has no working Scalekit credentials on this machine: they run \
             `get-token init` in a terminal (or set SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and \
             SCALEKIT_CLIENT_SECRET in this server's env), then restart this MCP server"
                .into()
        }
        ErrorKind::Unavailable | ErrorKind::RateLimited => {
            "try again in a minute; if it persists, tell the user Scalekit cannot be reached".into()
        }
        ErrorKind::UnsupportedCredential | ErrorKind::ProxyNotEnabled => {
            "tell the user; this service cannot be used through tokenbroker as it is set up".into()
        }
        _ => "tell the user what the message says".into(),
    }
}
