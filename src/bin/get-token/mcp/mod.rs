//! `get-token mcp`: an MCP server on stdin/stdout that lets an agent use the user's accounts without ever
//! seeing a token: tools to list, check, authorize (through URL-mode elicitation) and call APIs. Logs go to
//! stderr; stdout is the protocol's.

mod authorize;
mod progress;
mod speak;
mod tools;

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorCode,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};
use tokenbroker::{Broker, Error};

use crate::args::{Global, McpArgs};
use crate::{api, exit, fetch, output, report, status};

/// The longest message read from the client: far more than any tool call needs.
const MAX_MESSAGE: usize = 1024 * 1024;
/// The most of an API answer's body a tool result carries.
const MAX_BODY: usize = 256 * 1024;

/// The server: one broker (one cache, one API token) for the whole session.
#[derive(Clone)]
pub(crate) struct Server {
    /// `None` when get-token is not set up here: the server still starts, and every tool says what is
    /// missing.
    broker: Option<Broker>,
    setup: Option<Error>,
    global: Global,
    /// The services this server may touch (`--services`, else every configured one).
    services: Arc<Vec<String>>,
    identifier: Option<String>,
    allow_token: bool,
    /// The elicitation a background wait (after a -32042) runs for, per service: at most one each, handed
    /// out again to a retry meanwhile.
    waiting: Arc<std::sync::Mutex<std::collections::HashMap<String, Value>>>,
}

pub(crate) async fn run(global: &Global, args: &McpArgs) -> u8 {
    let (broker, setup) = match crate::broker(global) {
        Ok(b) => (Some(b), None),
        Err(e) => {
            output::say(&format!(
                "get-token mcp: not set up ({e}); serving anyway, the tools say what is missing"
            ));
            (None, Some(e))
        }
    };
    let configured: Vec<String> = broker
        .iter()
        .flat_map(|b| b.connections().services().map(str::to_owned))
        .collect();
    let services = match &args.services {
        None => configured,
        Some(list) => {
            let wanted: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(unknown) = wanted
                .iter()
                .find(|s| broker.is_some() && !configured.contains(s))
            {
                return report::usage(
                    global,
                    &format!(
                        "--services: {unknown} is not a configured service ({})",
                        configured.join(", ")
                    ),
                );
            }
            wanted
        }
    };
    if args.allow_token {
        output::say(
            "get-token mcp: --allow-token: the get_token tool hands raw tokens to the model",
        );
    }
    let server = Server {
        broker,
        setup,
        global: Global {
            json: false,
            ..global.clone()
        },
        services: Arc::new(services),
        identifier: args.who.identifier.clone(),
        allow_token: args.allow_token,
        waiting: Arc::default(),
    };
    let transport =
        AsyncRwTransport::<RoleServer, _, _>::new(tokio::io::stdin(), tokio::io::stdout())
            .with_max_line_length(MAX_MESSAGE);
    let running = match server.serve(transport).await {
        Ok(r) => r,
        Err(e) => {
            output::say(&format!(
                "get-token mcp: the client did not start a session: {e}"
            ));
            return exit::UNEXPECTED;
        }
    };
    match running.waiting().await {
        Ok(_) => exit::OK,
        Err(e) => {
            output::say(&format!("get-token mcp: the session ended: {e}"));
            exit::UNEXPECTED
        }
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.instructions = Some(
            "Use the user's connected accounts (Gmail, Slack, GitHub, ...) without handling tokens: \
             list_services, then request with a full API URL. When an account is not authorized, the user is \
             asked to authorize it; no tool returns a token."
                .into(),
        );
        info.server_info.name = "tokenbroker".into();
        info.server_info.version = env!("CARGO_PKG_VERSION").into();
        info
    }

    /// Up to 2025-11-25: URL elicitation is a request from server to client, which later versions replace.
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult {
            tools: tools::list(&self.services, self.allow_token),
            ..Default::default()
        })
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        let name = request.name.as_ref();
        let known = tools::NAMES.contains(&name) && (name != "get_token" || self.allow_token);
        if !known {
            return Err(ErrorData::invalid_params(
                format!("no tool named {:?}", tokenbroker::printable(name)),
                None,
            ));
        }
        let outcome = match name {
            "list_services" => self.list_services().await,
            "status" => match optional(&args, "service") {
                Ok(service) => self.status(service).await,
                Err(e) => Err(e),
            },
            "authorize" => match required(&args, "service").and_then(|s| self.allowed(s)) {
                Ok(service) => authorize::run(self, service, &context).await,
                Err(e) => Err(e),
            },
            "verify" => match required(&args, "address") {
                Ok(address) => self.verify(address).await,
                Err(e) => Err(e),
            },
            "request" => self.request(&args, &context).await,
            _ => match required(&args, "service") {
                Ok(service) => self.get_token(service).await,
                Err(e) => Err(e),
            },
        };
        // Bad arguments are the model's to correct: a tool result, not a protocol error. The
        // URL-elicitation-required error stays one, as the protocol defines it.
        match outcome {
            Err(e) if e.code == ErrorCode::INVALID_PARAMS => {
                Ok(CallToolResponse::from(speak::argument_error(&e.message)))
            }
            other => other.map(CallToolResponse::from),
        }
    }
}

impl Server {
    /// The broker, or the tool result that says what is missing on this machine.
    fn broker(&self, service: Option<&str>) -> Result<&Broker, CallToolResult> {
        match (&self.broker, &self.setup) {
            (Some(broker), _) => Ok(broker),
            (None, Some(e)) => Err(speak::tool_error(service, e)),
            (None, None) => Err(speak::argument_error("tokenbroker is not set up")),
        }
    }

    /// A service this server may touch, or an error naming the ones it may.
    fn allowed<'a>(&self, service: &'a str) -> Result<&'a str, ErrorData> {
        if self.services.iter().any(|s| s == service) {
            Ok(service)
        } else {
            Err(ErrorData::invalid_params(
                format!(
                    "{:?} is not one of this server's services: {}",
                    tokenbroker::printable(service),
                    self.services.join(", ")
                ),
                None,
            ))
        }
    }

    async fn list_services(&self) -> Result<CallToolResult, ErrorData> {
        if let Err(missing) = self.broker(None) {
            return Ok(missing);
        }
        let rows = self.rows(&self.services).await;
        let list: Vec<Value> = rows
            .into_iter()
            .map(|row| {
                json!({
                    "service": row["service"], "ready": row["ready"], "account_status": row["account_status"],
                    "code": row["code"],
                })
            })
            .collect();
        Ok(structured(json!({"services": list})))
    }

    async fn status(&self, service: Option<&str>) -> Result<CallToolResult, ErrorData> {
        if let Err(missing) = self.broker(service) {
            return Ok(missing);
        }
        let services = match service {
            Some(s) => vec![self.allowed(s)?.to_owned()],
            None => self.services.to_vec(),
        };
        Ok(structured(json!({"services": self.rows(&services).await})))
    }

    /// `status --json`'s object per service (the same requests as `status`).
    async fn rows(&self, services: &[String]) -> Vec<Value> {
        let outcomes = fetch::each(services, |service| {
            let (broker, identifier) = (self.broker.clone(), self.identifier.clone());
            async move {
                match broker {
                    Some(broker) => broker.account_info(&service, identifier.as_deref()).await,
                    None => Err(Error::Protocol {
                        endpoint: "get-token mcp",
                        detail: "not set up".into(),
                    }),
                }
            }
        })
        .await;
        services
            .iter()
            .zip(outcomes)
            .map(|(service, outcome)| match outcome {
                Ok((target, info)) => speak::status_row(status::json_row(&target, info.as_ref())),
                Err(e) => speak::tool_error(Some(service), &e)
                    .structured_content
                    .unwrap_or_default(),
            })
            .collect()
    }

    async fn request(
        &self,
        args: &Map<String, Value>,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let url = required(args, "url")?;
        let broker = match self.broker(optional(args, "service")?) {
            Ok(b) => b,
            Err(missing) => return Ok(missing),
        };
        let service = match optional(args, "service")? {
            Some(s) => s.to_owned(),
            None => broker
                .connections()
                .service_for_url(url)
                .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?
                .to_owned(),
        };
        let service = self.allowed(&service)?.to_owned();
        let headers: Vec<String> = match args.get("headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                .collect(),
            Some(_) => {
                return Err(ErrorData::invalid_params(
                    "headers: give an object of strings",
                    None,
                ));
            }
        };
        let body = match args.get("body") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let call = api::Call {
            url,
            service: Some(&service),
            identifier: self.identifier.as_deref(),
            method: optional(args, "method")?,
            headers: &headers,
            data: body.as_deref(),
            input: None,
            include: false,
            via_scalekit: false,
        };
        let request = api::build(&call).map_err(|m| ErrorData::invalid_params(m, None))?;
        // The request and the reading of its answer, together: both end when the client cancels, and at
        // MAX_WAIT (an allowed host that stalls or streams cannot hold the call).
        let exchange = async {
            let answer = broker
                .send(&service, self.identifier.as_deref(), request)
                .await?;
            // Hidden with the token this answer was sent with, never one looked up again.
            let token = api::sent(&answer);
            api::answer_json(answer, token.as_ref().map(|t| t.as_str()), MAX_BODY).await
        };
        let bounded = tokio::time::timeout(MAX_WAIT, exchange);
        let Some(outcome) =
            progress::watched(context, "waiting for the API's answer", MAX_WAIT, bounded).await
        else {
            return Ok(cancelled());
        };
        match outcome {
            Ok(Ok(value)) => Ok(structured(value)),
            Ok(Err(e @ Error::AuthorizationRequired(_))) => {
                authorize::or_tool_error(self, &service, e, context).await
            }
            Ok(Err(e)) => Ok(speak::tool_error(Some(&service), &e)),
            Err(_) => Ok(speak::tool_error(
                Some(&service),
                &Error::Request {
                    url: tokenbroker::printable(url).into_owned(),
                    detail: format!("no whole answer within {} s; stopped", MAX_WAIT.as_secs()),
                },
            )),
        }
    }

    /// Finishes user verification with the address the user's browser showed after approving, which they
    /// copied back (hosts without URL elicitation, or a browser on another device).
    async fn verify(&self, address: &str) -> Result<CallToolResult, ErrorData> {
        let broker = match self.broker(None) {
            Ok(b) => b,
            Err(missing) => return Ok(missing),
        };
        let service = broker
            .verification_target(address)
            .ok()
            .map(|t| t.service.clone());
        if let Some(s) = &service {
            self.allowed(s)?;
        }
        Ok(match broker.complete_verification(address).await {
            Ok(_) => structured(json!({
                "status": "ok",
                "service": service,
                "next": "the account is connected: call request",
            })),
            Err(e) => speak::tool_error(service.as_deref(), &e),
        })
    }

    async fn get_token(&self, service: &str) -> Result<CallToolResult, ErrorData> {
        let service = self.allowed(service)?;
        let broker = match self.broker(Some(service)) {
            Ok(b) => b,
            Err(missing) => return Ok(missing),
        };
        let outcome = match &self.identifier {
            Some(id) => broker.get_token_for(service, id).await,
            None => broker.get_token(service).await,
        };
        Ok(match outcome {
            Ok(token) => CallToolResult::success(vec![ContentBlock::text(token.expose_secret())]),
            Err(e) => speak::tool_error(Some(service), &e),
        })
    }
}

fn required<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, ErrorData> {
    optional(args, name)?
        .ok_or_else(|| ErrorData::invalid_params(format!("{name} is required"), None))
}

fn optional<'a>(args: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ErrorData> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ErrorData::invalid_params(
            format!("{name} must be a string"),
            None,
        )),
    }
}

/// A result as JSON text, for every client, and as structured content, for those that read it.
fn structured(value: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
    result.structured_content = Some(value);
    result
}

/// The result of a call the client cancelled: the client ignores it; nothing else is sent for the call.
fn cancelled() -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text("cancelled by the client")])
}

/// The longest a request tool call waits for the API.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The URL-elicitation-required error of MCP 2025-11-25.
const URL_ELICITATION_REQUIRED: ErrorCode = ErrorCode(-32042);
