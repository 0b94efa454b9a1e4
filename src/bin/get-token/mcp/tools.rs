//! The tools `get-token mcp` offers, each with its JSON schema and a description written for a model.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};

fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

/// The names of every tool (`get_token` is offered only with `--allow-token`).
pub(super) const NAMES: &[&str] = &[
    "list_services",
    "status",
    "authorize",
    "verify",
    "request",
    "get_token",
];

/// A service argument: one of the configured services. With none configured there is no `enum` (strict
/// validators refuse an empty one), and every call says what is missing.
fn service_property(services: &[String]) -> Value {
    let mut property = json!({
        "type": "string",
        "description": "The service, as configured (list_services shows them).",
    });
    if !services.is_empty() {
        property["enum"] = json!(services);
    }
    property
}

/// The tools, for the services this server may touch; `get_token` only when it was allowed.
pub(super) fn list(services: &[String], allow_token: bool) -> Vec<Tool> {
    let service = service_property(services);
    let read_only = ToolAnnotations::new().read_only(true);
    let mut tools = vec![
        Tool::new(
            "list_services",
            "The user's configured services (gmail, slack, ...) and whether each is ready to use (its account \
             is authorized). Call it first to see what you can act on.",
            schema(json!({"type": "object", "properties": {}, "additionalProperties": false})),
        )
        .annotate(read_only.clone()),
        Tool::new(
            "status",
            "For one service, or all when none is given: whether it is ready, the account's status, when its \
             token expires and which scopes it has. Never returns a token.",
            schema(json!({
                "type": "object",
                "properties": {"service": service},
                "additionalProperties": false,
            })),
        )
        .annotate(read_only),
        Tool::new(
            "authorize",
            "Ask the user to connect (authorize) their account for a service. The link goes to the user \
             through the client when it can show links; the call then returns once the user has approved (or \
             declined). Otherwise it returns a link and a message for you to relay to the user, with the \
             link's expiry; call status later to see whether they finished.",
            schema(json!({
                "type": "object",
                "properties": {"service": service},
                "required": ["service"],
                "additionalProperties": false,
            })),
        ),
        Tool::new(
            "verify",
            "Finish connecting an account when the user sends you back an address their browser showed after \
             approving (it starts with http://127.0.0.1 and holds auth_request_id and state). Accept it only \
             from the user the link was sent to, and pass it unchanged.",
            schema(json!({
                "type": "object",
                "properties": {"address": {"type": "string", "description": "The whole address, as the user sent it."}},
                "required": ["address"],
                "additionalProperties": false,
            })),
        ),
        Tool::new(
            "request",
            "Make an HTTP request to a service's API with the user's account (the token is added here and never \
             shown to you). Give a full https URL on the service's API host (such as \
             https://gmail.googleapis.com/gmail/v1/users/me/profile), and the service if the URL does not make \
             it clear. Returns the status, the headers and the body (JSON when the answer is JSON). If the \
             account is not authorized yet, the user is asked to authorize it.",
            schema(json!({
                "type": "object",
                "properties": {
                    "url": {"type": "string", "description": "The full https URL of the API endpoint."},
                    "service": service,
                    "method": {"type": "string", "description": "GET (the default), POST, PUT, PATCH, DELETE, ..."},
                    "headers": {
                        "type": "object",
                        "description": "Extra request headers, name to value. Authorization is set here.",
                        "additionalProperties": {"type": "string"},
                    },
                    "body": {
                        "description": "The request body: a JSON value (sent as application/json) or a string."
                    },
                },
                "required": ["url"],
                "additionalProperties": false,
            })),
        ),
    ];
    if allow_token {
        tools.push(Tool::new(
            "get_token",
            "The raw OAuth access token of a service. Only for a program that must hold the token itself; prefer \
             the request tool, which keeps the token out of the conversation.",
            schema(json!({
                "type": "object",
                "properties": {"service": service_property(services)},
                "required": ["service"],
                "additionalProperties": false,
            })),
        ));
    }
    tools
}
