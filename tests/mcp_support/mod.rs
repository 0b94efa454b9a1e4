//! The MCP test client: rmcp's client (the official SDK's, not ours) over the real `get-token mcp`'s
//! stdin/stdout, with a tee of everything the server sends. Shared by tests/mcp.rs and tests/mcp_wait.rs.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use crate::common::{Cli, IDENTIFIER, activate, emulator};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, CustomNotification,
    ElicitRequestParams, ElicitResult, ElicitationAction, Implementation,
    ProgressNotificationParam,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokenbroker_emulator::{Approval, Emulator};
use tokio::io::{AsyncRead, ReadBuf};

pub const GMAIL: &str = "gmail_u3134a";
pub const SLACK: &str = "slack_x7y9z";

/// What the test client does with a URL elicitation.
#[derive(Clone, Copy, PartialEq)]
pub enum Answer {
    /// Declares no URL elicitation at all.
    NoUrlMode,
    /// Opens the link and approves (in the emulator), then accepts.
    Approve,
    /// Approves where the environment verifies users: the browser is sent on to get-token's listener.
    ApproveAndVerify,
    Decline,
    /// Accepts (the user opened the link) but never approves: the server waits.
    Hold,
}

#[derive(Clone)]
pub struct Client {
    pub answer: Answer,
    pub emu: Arc<Emulator>,
    pub elicited: Arc<Mutex<Vec<(String, String)>>>,
    pub completed: Arc<Mutex<Vec<String>>>,
    pub progress: Arc<Mutex<Vec<f64>>>,
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
            Answer::Hold => ElicitationAction::Accept,
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

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params.progress);
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

pub struct Session {
    pub client: RunningService<RoleClient, Client>,
    pub handler: Client,
    pub transcript: Arc<Mutex<Vec<u8>>>,
    pub _cli: Cli,
}

impl Session {
    pub async fn start(emu: Arc<Emulator>, cli: Cli, answer: Answer, extra: &[&str]) -> Self {
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
            progress: Arc::default(),
        };
        let client = handler.clone().serve((read, write)).await.unwrap();
        Self {
            client,
            handler,
            transcript,
            _cli: cli,
        }
    }

    pub async fn call(&self, tool: &str, args: Value) -> Result<Value, ErrorData> {
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

    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.transcript.lock().unwrap()).into_owned()
    }
}

/// A provider API on 127.0.0.1 that echoes the Authorization header it got: the token must still never
/// reach the model.
pub fn echoing_provider() -> u16 {
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

pub async fn setup(port: u16) -> (Arc<Emulator>, Cli) {
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

pub fn assert_no_token(session: &Session, emu: &Emulator) {
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
