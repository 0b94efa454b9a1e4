//! Authorizing through the client: with URL-mode elicitation the link goes to the user through the client,
//! never through the model; without it, the model gets the link and the sentence to relay.

use std::hash::BuildHasher;
use std::time::Duration;

use rmcp::model::{CallToolResult, CustomNotification, ElicitationAction, ServerNotification};
use rmcp::service::{ElicitationError, ElicitationMode, RequestContext};
use rmcp::{ErrorData, Peer, RoleServer};
use serde_json::{Value, json};
use tokenbroker::{AuthorizationRequired, Error, WaitOptions};
use tokio::time::Instant;

use super::speak::tool_error;
use super::{Server, URL_ELICITATION_REQUIRED, cancelled, progress, structured};
use crate::{fetch, report};

/// How long `authorize` waits for the user once they accepted to open the link.
const WAIT: Duration = Duration::from_secs(300);

pub(super) async fn run(
    server: &Server,
    service: &str,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, ErrorData> {
    let broker = match server.broker(Some(service)) {
        Ok(b) => b,
        Err(missing) => return Ok(missing),
    };
    let auth = match broker
        .authorization_link(service, server.identifier.as_deref())
        .await
    {
        Ok(auth) => auth,
        Err(e) => return Ok(tool_error(Some(service), &e)),
    };
    if let Some(e) = fetch::port_taken(broker, &server.global) {
        return Ok(tool_error(Some(service), &e));
    }
    if !url_mode(context) {
        return Ok(structured(relay(&auth)));
    }
    let deadline = Instant::now() + WAIT;
    let mut auth = auth;
    loop {
        let id = elicitation_id();
        let left = deadline.saturating_duration_since(Instant::now());
        let asking = context.peer.elicit_url_with_timeout(
            message(&auth),
            auth.url.clone(),
            id.clone(),
            Some(left),
        );
        let waiting_for = format!("waiting for the user to open the {service} link");
        let Some(action) = progress::watched(context, &waiting_for, WAIT, asking).await else {
            return Ok(cancelled());
        };
        match action {
            Ok(ElicitationAction::Accept) => {}
            Ok(ElicitationAction::Decline) | Err(ElicitationError::UserDeclined) => {
                return Ok(structured(outcome(&auth, "declined")));
            }
            Ok(_) | Err(ElicitationError::UserCancelled) => {
                return Ok(structured(outcome(&auth, "cancelled")));
            }
            Err(e) => {
                return Err(ErrorData::internal_error(
                    format!("the client did not take the link: {e}"),
                    None,
                ));
            }
        }
        let approving = format!("waiting for the user to approve {service}");
        let Some(waited) =
            progress::watched(context, &approving, WAIT, wait(server, &auth, deadline)).await
        else {
            // Dropping the wait closed its listener; nothing more is sent for this call.
            return Ok(cancelled());
        };
        match waited {
            Ok(()) => {
                complete(&context.peer, &id).await;
                return Ok(structured(outcome(&auth, "ok")));
            }
            // Expired before the user got to it: a new link, shown the same way.
            Err(Error::LinkExpired(_)) if Instant::now() < deadline => {
                auth = match broker
                    .authorization_link(&auth.service, Some(&auth.identifier))
                    .await
                {
                    Ok(next) => next,
                    Err(e) => return Ok(tool_error(Some(service), &e)),
                };
            }
            Err(e) => return Ok(tool_error(Some(service), &e)),
        }
    }
}

/// A tool call that failed for want of authorization: with URL mode, MCP's URL-elicitation-required error
/// carrying the link (and the server waits in the background to say when it is done); otherwise a tool
/// error with the link and the sentence to relay. Any other failure is a tool error.
pub(super) async fn or_tool_error(
    server: &Server,
    service: &str,
    error: Error,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, ErrorData> {
    let Error::AuthorizationRequired(auth) = error else {
        return Ok(tool_error(Some(service), &error));
    };
    let broker = match server.broker(Some(service)) {
        Ok(b) => b,
        Err(missing) => return Ok(missing),
    };
    if let Some(e) = fetch::port_taken(broker, &server.global) {
        return Ok(tool_error(Some(service), &e));
    }
    if !url_mode(context) {
        let mut result = tool_error(Some(service), &Error::AuthorizationRequired(auth.clone()));
        result.structured_content = Some(relay(&auth));
        return Ok(result);
    }
    // One background wait per service: a model that retries in a loop gets the same elicitation again
    // instead of piling up waits.
    let elicitation = {
        let mut waiting = server.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(same) = waiting.get(service) {
            same.clone()
        } else {
            let id = elicitation_id();
            let fresh = json!({
                "mode": "url",
                "elicitationId": id,
                "url": auth.url.as_str(),
                "message": message(&auth),
            });
            waiting.insert(service.to_owned(), fresh.clone());
            let (server, peer) = (server.clone(), context.peer.clone());
            let waiting = *auth.clone();
            tokio::spawn(async move {
                if wait(&server, &waiting, Instant::now() + WAIT).await.is_ok() {
                    complete(&peer, &id).await;
                }
                server
                    .waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&waiting.service);
            });
            fresh
        }
    };
    Err(ErrorData::new(
        URL_ELICITATION_REQUIRED,
        format!("{service} must be authorized by the user first"),
        Some(json!({"elicitations": [elicitation]})),
    ))
}

fn url_mode(context: &RequestContext<RoleServer>) -> bool {
    context
        .peer
        .supported_elicitation_modes()
        .contains(&ElicitationMode::Url)
}

/// Waits for the account of `auth`, with get-token's loopback listener completing user verification.
async fn wait(
    server: &Server,
    auth: &AuthorizationRequired,
    deadline: Instant,
) -> Result<(), Error> {
    let options =
        WaitOptions::default().timeout(deadline.saturating_duration_since(Instant::now()));
    let account = (auth.service.clone(), auth.identifier.clone());
    let broker = server.broker.as_ref().ok_or_else(|| Error::Protocol {
        endpoint: "get-token mcp",
        detail: "not set up".into(),
    })?;
    let work = async { vec![broker.wait_for_authorization(auth, &options).await] };
    match fetch::with_listener(broker, &server.global, &[account], work)
        .await
        .pop()
    {
        Some(Ok(_token)) => Ok(()),
        Some(Err(e)) => Err(e),
        None => Err(Error::Protocol {
            endpoint: "get-token mcp",
            detail: "the wait ended without an outcome".into(),
        }),
    }
}

/// `notifications/elicitation/complete`: the client may close what it showed and retry.
async fn complete(peer: &Peer<RoleServer>, id: &str) {
    let note = CustomNotification::new(
        "notifications/elicitation/complete",
        Some(json!({"elicitationId": id})),
    );
    if let Err(e) = peer
        .send_notification(ServerNotification::CustomNotification(note))
        .await
    {
        crate::output::say(&format!(
            "get-token mcp: could not say the authorization is done: {e}"
        ));
    }
}

/// What the user reads in the client, next to the link: which account, for whom, until when.
fn message(auth: &AuthorizationRequired) -> String {
    let until = auth
        .expires_at
        .map(|t| format!(" The link is valid until {}.", tokenbroker::rfc3339(t)))
        .unwrap_or_default();
    format!(
        "Connect your {} account (connection {}) for {}: open the link and approve access.{until}",
        auth.service, auth.connection_name, auth.identifier
    )
}

/// The link and the sentence for a model to relay, with the next step in the tools' terms (not a CLI here).
fn relay(auth: &AuthorizationRequired) -> Value {
    let mut value = report::json_authorization(auth);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "next".into(),
            json!(format!(
                "send the user the message as it is. If they send back an address starting with \
                 http://127.0.0.1, call verify with it. When they say they are done, call status with service \
                 {}; if the link expired first, call authorize again for a new one",
                auth.service
            )),
        );
    }
    value
}

fn outcome(auth: &AuthorizationRequired, status: &str) -> Value {
    json!({
        "status": status,
        "service": auth.service,
        "connection_name": auth.connection_name,
        "identifier": auth.identifier,
    })
}

/// An elicitation id nobody can guess or reuse across sessions.
fn elicitation_id() -> String {
    let state = std::hash::RandomState::new();
    format!(
        "tb-{:016x}{:016x}",
        state.hash_one(std::process::id()),
        state.hash_one(std::time::SystemTime::now())
    )
}
