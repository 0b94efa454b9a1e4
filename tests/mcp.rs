//! `get-token mcp` driven by rmcp's client (the official MCP SDK's, not ours), over the real binary's
//! stdin/stdout: initialize, tools/list, every tool, URL elicitation accepted and declined, the
//! URL-elicitation-required error, a request through the emulator-backed broker, hostile messages, and no
//! token anywhere in what the server sends.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use common::{Cli, IDENTIFIER, activate, emulator};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, CustomNotification,
    ElicitRequestParams, ElicitResult, ElicitationAction, Implementation,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokenbroker::emulator::{Approval, Emulator, UserVerification};
use tokio::io::{AsyncRead, ReadBuf};

const GMAIL: &str = "gmail_u3134a";
const SLACK: &str = "slack_x7y9z";

/// What the test client does with a URL elicitation.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    /// Declares no URL elicitation at all.
    NoUrlMode,
    /// Opens the link and approves (in the emulator), then accepts.
    Approve,
    /// Approves where the environment verifies users: the browser is sent on to get-token's listener.
    ApproveAndVerify,
    Decline,
}

#[derive(Clone)]
struct Client {
    answer: Answer,
    emu: Arc<Emulator>,
    elicited: Arc<Mutex<Vec<(String, String)>>>,
    completed: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        let capabilities = match self.answer {
            Answer::NoUrlMode => ClientCapabilities::default(),
            _ => ClientCapabilities::builder().enable_elicitation().build(),
        };
        let mut config =
            ClientConfig::new(capabilities, Implementation::new("tokenbroker-tests", "1"));
        if self.answer != Answer::NoUrlMode
            && let Some(e) = config.capabilities.elicitation.as_mut()
        {
            *e = serde_json::from_value(json!({"form": {}, "url": {}})).unwrap();
        }
        config
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::UrlElicitationParams {
            url,
            elicitation_id,
            ..
        } = request
        else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        self.elicited
            .lock()
            .unwrap()
            .push((elicitation_id, url.clone()));
        Ok(ElicitResult::new(match self.answer {
            Answer::Approve => {
                assert!(self.emu.approve_link(&url), "a live link: {url}");
                ElicitationAction::Accept
            }
            Answer::ApproveAndVerify => {
                let Approval::Redirect(to) = self.emu.click_approve(&url, false) else {
                    panic!("a redirect to the user_verify_url");
                };
                // The browser follows it once the server listens (after this answer).
                tokio::spawn(async move {
                    for _ in 0..200 {
                        if reqwest::get(&to)
                            .await
                            .is_ok_and(|r| r.status().is_success())
                        {
                            return;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                });
                ElicitationAction::Accept
            }
            _ => ElicitationAction::Decline,
        }))
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        _context: NotificationContext<RoleClient>,
    ) {
        if notification.method == "notifications/elicitation/complete" {
            let id = notification.params.unwrap_or_default()["elicitationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            self.completed.lock().unwrap().push(id);
        }
    }
}

/// The server's stdout, copied into `seen` as the client reads it: the whole transcript of what it sent.
struct Tee<R> {
    inner: R,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tee<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let new = buf.filled()[before..].to_vec();
        self.seen.lock().unwrap().extend_from_slice(&new);
        poll
    }
}

struct Session {
    client: RunningService<RoleClient, Client>,
    handler: Client,
    transcript: Arc<Mutex<Vec<u8>>>,
    _cli: Cli,
}

impl Session {
    async fn start(emu: Arc<Emulator>, cli: Cli, answer: Answer, extra: &[&str]) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_get-token"));
        command
            .arg("mcp")
            .args(extra)
            .env_clear()
            .env("HOME", cli.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(cli.env.iter().map(|(k, v)| (k, v)))
            .current_dir(cli.cwd())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap();
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let read = Tee {
            inner: child.stdout.take().unwrap(),
            seen: transcript.clone(),
        };
        let write = child.stdin.take().unwrap();
        // The child lives as long as the test: kill_on_drop ends it with the runtime.
        std::mem::forget(child);
        let handler = Client {
            answer,
            emu,
            elicited: Arc::default(),
            completed: Arc::default(),
        };
        let client = handler.clone().serve((read, write)).await.unwrap();
        Self {
            client,
            handler,
            transcript,
            _cli: cli,
        }
    }

    async fn call(&self, tool: &str, args: Value) -> Result<Value, ErrorData> {
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = args.as_object().cloned();
        let result = self.client.call_tool(params).await.map_err(|e| match e {
            rmcp::ServiceError::McpError(e) => e,
            other => panic!("{other}"),
        })?;
        Ok(json!({
            "is_error": result.is_error.unwrap_or(false),
            "value": result.structured_content.unwrap_or(Value::Null),
        }))
    }

    fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.transcript.lock().unwrap()).into_owned()
    }
}

/// A provider API on 127.0.0.1 that echoes the Authorization header it got: the token must still never
/// reach the model.
fn echoing_provider() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut auth = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line
                    .strip_prefix("authorization: ")
                    .or(line.strip_prefix("Authorization: "))
                {
                    auth = v.trim().to_owned();
                }
            }
            let body = json!({"emailAddress": "user@example.com", "echo": auth}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

async fn setup(port: u16) -> (Arc<Emulator>, Cli) {
    let emu = Arc::new(emulator().start().await.unwrap());
    activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);
    cli.write_config(
        "connections.json",
        &format!(
            r#"{{"gmail": {{"connection_name": "{GMAIL}", "identifier": "{IDENTIFIER}", "hosts": ["127.0.0.1:{port}"]}},
                "slack": {{"connection_name": "{SLACK}", "identifier": "{IDENTIFIER}"}}}}"#
        ),
    );
    (emu, cli)
}

fn assert_no_token(session: &Session, emu: &Emulator) {
    let transcript = session.transcript();
    for (connection, id) in [(GMAIL, IDENTIFIER), (SLACK, IDENTIFIER)] {
        if let Some(token) = emu.access_token(connection, id) {
            assert!(
                !transcript.contains(&token),
                "a token in the transcript: {transcript}"
            );
        }
    }
    assert!(!transcript.contains(&emu.client_secret()));
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_list_status_and_a_request_without_a_token_in_sight() {
    let port = echoing_provider();
    let (emu, cli) = setup(port).await;
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    let info = session.client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "tokenbroker");
    let tools = session.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["list_services", "status", "authorize", "request"]);
    assert!(
        tools
            .iter()
            .all(|t| t.description.as_ref().is_some_and(|d| d.len() > 40))
    );

    let listed = session.call("list_services", json!({})).await.unwrap();
    let services = &listed["value"]["services"];
    assert_eq!(
        (
            services[0]["service"].as_str(),
            services[0]["ready"].as_bool()
        ),
        (Some("gmail"), Some(true))
    );
    assert_eq!(
        (
            services[1]["service"].as_str(),
            services[1]["ready"].as_bool()
        ),
        (Some("slack"), Some(false))
    );
    let status = session
        .call("status", json!({"service": "gmail"}))
        .await
        .unwrap();
    assert_eq!(
        status["value"]["services"][0]["account_status"], "ACTIVE",
        "{status}"
    );
    assert!(status["value"]["services"][0]["token_expires_at"].is_string());

    let url = format!("http://127.0.0.1:{port}/gmail/v1/users/me/profile");
    let answer = session.call("request", json!({"url": url})).await.unwrap();
    assert_eq!(answer["value"]["status"], 200, "{answer}");
    assert_eq!(answer["value"]["body"]["emailAddress"], "user@example.com");
    assert!(
        answer["value"]["body"]["echo"]
            .as_str()
            .unwrap()
            .contains("concealed"),
        "the echoed token is masked: {answer}"
    );

    // Failures: an unknown service, wrong types, an unknown tool, a host that is not the service's.
    for (tool, args) in [
        ("status", json!({"service": "nope"})),
        ("status", json!({"service": 7})),
        ("steal", json!({})),
        ("get_token", json!({"service": "gmail"})),
        (
            "request",
            json!({"url": "https://evil.example/x", "service": "gmail"}),
        ),
    ] {
        match session.call(tool, args.clone()).await {
            Err(e) => assert!(!e.message.is_empty()),
            Ok(v) => assert_eq!(v["is_error"], true, "{tool} {args}: {v}"),
        }
    }
    assert_no_token(&session, &emu);
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_by_url_elicitation_accepted_then_completed() {
    let (emu, cli) = setup(echoing_provider()).await;
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    let done = session
        .call("authorize", json!({"service": "slack"}))
        .await
        .unwrap();
    assert_eq!(done["value"]["status"], "ok", "{done}");
    assert_eq!(emu.status(SLACK, IDENTIFIER).as_deref(), Some("ACTIVE"));
    let elicited = session.handler.elicited.lock().unwrap().clone();
    assert_eq!(elicited.len(), 1);
    assert!(elicited[0].1.contains("/magic/"), "{elicited:?}");
    // The completion notification names the same elicitation.
    for _ in 0..100 {
        if !session.handler.completed.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        *session.handler.completed.lock().unwrap(),
        [elicited[0].0.clone()]
    );
    // The link went to the client, not into the tool result the model reads.
    assert!(!done.to_string().contains("/magic/"), "{done}");
    assert_no_token(&session, &emu);
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_declined_and_a_client_without_url_mode() {
    let (emu, cli) = setup(echoing_provider()).await;
    let session = Session::start(emu.clone(), cli, Answer::Decline, &[]).await;
    let declined = session
        .call("authorize", json!({"service": "slack"}))
        .await
        .unwrap();
    assert_eq!(declined["value"]["status"], "declined", "{declined}");
    assert_ne!(emu.status(SLACK, IDENTIFIER).as_deref(), Some("ACTIVE"));

    let (emu, cli) = setup(echoing_provider()).await;
    let session = Session::start(emu.clone(), cli, Answer::NoUrlMode, &[]).await;
    let relayed = session
        .call("authorize", json!({"service": "slack"}))
        .await
        .unwrap();
    let value = &relayed["value"];
    assert!(
        value["authorization_url"]
            .as_str()
            .unwrap()
            .contains("/magic/"),
        "{relayed}"
    );
    assert!(
        value["expires_at"].is_string() && value["message"].is_string(),
        "{relayed}"
    );
    assert!(
        value.get("next").is_none(),
        "no CLI command for a model on MCP: {relayed}"
    );
    assert!(session.handler.elicited.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_for_an_unauthorized_account_asks_for_authorization() {
    let port = echoing_provider();
    let (emu, cli) = setup(port).await;
    cli.write_config(
        "connections.json",
        &format!(r#"{{"gmail": {{"connection_name": "{SLACK}", "identifier": "{IDENTIFIER}", "hosts": ["127.0.0.1:{port}"]}}}}"#),
    );
    let url = format!("http://127.0.0.1:{port}/x");
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    let err = session
        .call("request", json!({"url": url}))
        .await
        .unwrap_err();
    assert_eq!(err.code.0, -32042, "{err:?}");
    let elicitation = &err.data.as_ref().unwrap()["elicitations"][0];
    assert_eq!(elicitation["mode"], "url");
    let link = elicitation["url"].as_str().unwrap();
    assert!(link.contains("/magic/"), "{err:?}");
    // A retry meanwhile gets the same elicitation, not a second wait.
    let again = session
        .call("request", json!({"url": url}))
        .await
        .unwrap_err();
    assert_eq!(
        again.data.as_ref().unwrap()["elicitations"][0]["elicitationId"],
        elicitation["elicitationId"]
    );
    // The user opens it; the server, waiting in the background, says when it is done.
    assert!(emu.approve_link(link));
    for _ in 0..300 {
        if !session.handler.completed.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        session
            .handler
            .completed
            .lock()
            .unwrap()
            .first()
            .map(String::as_str),
        elicitation["elicitationId"].as_str()
    );
    let answer = session.call("request", json!({"url": url})).await.unwrap();
    assert_eq!(answer["value"]["status"], 200, "{answer}");
    assert_no_token(&session, &emu);
}

#[tokio::test(flavor = "multi_thread")]
async fn services_restriction_allow_token_and_hostile_input() {
    let (emu, cli) = setup(echoing_provider()).await;
    let session = Session::start(
        emu.clone(),
        cli,
        Answer::Approve,
        &["--services", "slack", "--allow-token"],
    )
    .await;
    let tools = session.client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "get_token"));
    let listed = session.call("list_services", json!({})).await.unwrap();
    assert_eq!(
        listed["value"]["services"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    assert!(
        session
            .call("status", json!({"service": "gmail"}))
            .await
            .is_err(),
        "gmail is not this server's"
    );
    assert!(
        session
            .call("get_token", json!({"service": "gmail"}))
            .await
            .is_err()
    );
    activate(&emu, SLACK, IDENTIFIER);
    let token = session
        .call("get_token", json!({"service": "slack"}))
        .await
        .unwrap();
    assert!(
        session
            .transcript()
            .contains(&emu.access_token(SLACK, IDENTIFIER).unwrap()),
        "{token}"
    );

    // Raw hostile lines on a fresh server: too long, not JSON, a wrong shape. It answers or drops them, and
    // still works after.
    let (emu, cli) = setup(echoing_provider()).await;
    let session = Session::start(emu.clone(), cli, Answer::Approve, &[]).await;
    // Written raw to a second server of the same set-up: the client library would never send these.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_get-token"))
        .arg("mcp")
        .env_clear()
        .env("HOME", session._cli.home.path())
        .envs(session._cli.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":\"{}\"}}\n",
        "a".repeat(2 << 20)
    );
    let _ = stdin.write_all(huge.as_bytes());
    let _ = stdin.write_all(b"not json at all\n{\"jsonrpc\":\"2.0\",\"id\":[],\"method\":7}\n");
    let init = json!({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
    let _ = writeln!(stdin, "{init}");
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("\"id\":2") && text.contains("tokenbroker"),
        "it still answered: {text}"
    );
    assert!(text.len() < 100_000, "nothing echoed back at length");
}

/// Where the environment verifies users (Custom mode, the production default): the approval ends at
/// get-token's loopback listener, which completes the verification while `authorize` waits.
#[tokio::test(flavor = "multi_thread")]
async fn authorize_completes_user_verification() {
    let emu = Arc::new(
        emulator()
            .user_verification(UserVerification::Custom)
            .start()
            .await
            .unwrap(),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cli = Cli::on(&emu).var("TOKENBROKER_VERIFY_PORT", &port.to_string());
    let session = Session::start(emu.clone(), cli, Answer::ApproveAndVerify, &[]).await;
    let done = session
        .call("authorize", json!({"service": "gmail"}))
        .await
        .unwrap();
    assert_eq!(done["value"]["status"], "ok", "{done}");
    assert_eq!(emu.status(GMAIL, IDENTIFIER).as_deref(), Some("ACTIVE"));
    assert_no_token(&session, &emu);
}
