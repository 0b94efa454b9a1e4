//! The loopback listener for user verification: when the browser runs on this machine, Scalekit sends it
//! here after the user approves (`http://127.0.0.1:PORT/tokenbroker/verify?auth_request_id=...&state=...`),
//! and the listener completes the verification at once. `get-token`'s waits and its MCP server use it; a
//! Rust program can too:
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tokenbroker::listener::{Listener, verify_url};
//! use tokenbroker::{Broker, Connection, Connections, Error};
//! use tokenbroker_emulator::{Approval, Emulator, UserVerification};
//!
//! let emulator = Emulator::builder()
//!     .connection("gmail_u3134a")
//!     .user_verification(UserVerification::Custom)
//!     .start()
//!     .await?;
//! let listener = Listener::bind(0).await?;
//! let broker = Broker::builder()
//!     .credentials(emulator.credentials())
//!     .connections(Connections::new().with("gmail", Connection::new("gmail_u3134a").with_identifier("mess"))?)
//!     .user_verify_url(verify_url(listener.port()))
//!     .build()?;
//! let Err(Error::AuthorizationRequired(auth)) = broker.get_token("gmail").await else { panic!() };
//! // The user approves; their browser follows Scalekit's redirect to the listener.
//! let Approval::Redirect(to) = emulator.click_approve(auth.url.as_str(), true) else { panic!() };
//! let browser = tokio::spawn(async move { reqwest::get(to).await });
//! listener.serve(&broker, &[("gmail".into(), "mess".into())], |e| eprintln!("{e}")).await;
//! browser.await??;
//! assert!(broker.get_token("gmail").await.is_ok());
//! # Ok(()) }
//! ```
//!
//! Every request is untrusted (any local program or web page can send one): the request head is read with a
//! size cap and a time limit; only `GET` of the one path with both parameters, with `Host` exactly this
//! listener's `127.0.0.1:PORT` (a DNS-rebinding page names its own host), is considered; the `state` is
//! checked (by the library, in constant time, and used once) before anything is sent to Scalekit. Pages are
//! fixed texts that name no file, path or service. A request that fails is answered and the listener goes
//! on waiting for the real one (a failure is said on stderr, never ends the wait). It completes any valid
//! state of this installation, not only the accounts it waits for: another wait on this machine (another
//! agent, an MCP server) may be waiting for it and cannot listen on the same port. It listens on 127.0.0.1
//! only, closes once the verifications it waits for are done, and never outlives the wait that started it.

use std::time::Duration;

use crate::{Broker, Error, VerificationError, Verified, printable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// The port links name unless told otherwise (`--verify-port`, `TOKENBROKER_VERIFY_PORT`).
pub const DEFAULT_PORT: u16 = 53117;
const PATH: &str = "/tokenbroker/verify";
/// A browser's request head is well under this; more is not a browser.
const MAX_HEAD: usize = 8 * 1024;
const READ_TIME: Duration = Duration::from_secs(2);
/// Connections handled at once: idle ones from another local process cannot queue the browser's behind
/// them, and cannot grow without bound either.
const MAX_OPEN: usize = 64;

/// An account a wait is for: (service, identifier).
pub type Account = (String, String);

/// The `user_verify_url` for links, given the port.
pub fn verify_url(port: u16) -> Url {
    Url::parse(&format!("http://127.0.0.1:{port}{PATH}")).expect("a valid URL")
}

/// The loopback listener, bound and not yet serving.
pub struct Listener {
    socket: TcpListener,
}

/// What one request came to.
enum Handled {
    Verified(Account),
    /// A verification of ours that failed at Scalekit (or the account did not become active).
    Failed(Error),
    /// Not a verification of ours: answered, and the listener goes on.
    Ignored,
}

impl Listener {
    /// The port it listens on (the one asked for, or the one the system chose for 0).
    pub fn port(&self) -> u16 {
        self.socket.local_addr().map_or(0, |a| a.port())
    }

    /// Listens on 127.0.0.1:`port`.
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        Ok(Self {
            socket: TcpListener::bind(("127.0.0.1", port)).await?,
        })
    }

    /// Serves until every account in `waiting_for` is verified. Connections are handled concurrently, up to
    /// 64. A verification that fails (wrong user, flow expired, another flow's request id) is
    /// handed to `failed` and the listener goes on: a page that replays an old address must not end the
    /// wait. Runs until then; the caller drops it at its deadline.
    pub async fn serve(self, broker: &Broker, waiting_for: &[Account], failed: impl Fn(&Error)) {
        let port = self.socket.local_addr().map_or(0, |a| a.port());
        let host = std::sync::Arc::new(format!("127.0.0.1:{port}"));
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_OPEN));
        let (tx, mut rx) = tokio::sync::mpsc::channel(MAX_OPEN);
        let mut verified = std::collections::HashSet::new();
        loop {
            tokio::select! {
                accepted = self.socket.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    // All slots busy: this waits at most the head timeout for one (results queue meanwhile).
                    let Ok(slot) = slots.clone().acquire_owned().await else { continue };
                    let (broker, tx, host) = (broker.clone(), tx.clone(), host.clone());
                    tokio::spawn(async move {
                        let handled = handle(stream, &broker, &host).await;
                        drop(slot);
                        let _ = tx.send(handled).await;
                    });
                }
                Some(handled) = rx.recv() => match handled {
                    Handled::Verified(account) => {
                        verified.insert(account);
                        if waiting_for.iter().all(|a| verified.contains(a)) {
                            return;
                        }
                    }
                    Handled::Failed(e) => failed(&e),
                    Handled::Ignored => {}
                },
            }
        }
    }
}

/// The pages' texts: fixed, so that no request learns a file, a path or a configured service.
const NOT_OURS: &str = "This address was not made by this get-token, was already used, or expired.";
const CONNECTED: &str = "The account is connected. You can close this page.";
const NOT_CONNECTED: &str =
    "The account was not connected; the terminal or the agent that waits says why.";

async fn handle(mut stream: TcpStream, broker: &Broker, host: &str) -> Handled {
    let Some((target, sent_host)) = read_head(&mut stream).await else {
        let text = "This address only takes the redirect from Scalekit.";
        respond(&mut stream, "400 Bad Request", "Not understood", text, None).await;
        return Handled::Ignored;
    };
    // A browser leaves out the port only when it is HTTP's default.
    if sent_host != host && !(host == "127.0.0.1:80" && sent_host == "127.0.0.1") {
        respond(
            &mut stream,
            "400 Bad Request",
            "Not understood",
            "Wrong host.",
            None,
        )
        .await;
        return Handled::Ignored;
    }
    let Ok(url) = Url::parse(&format!("http://{host}{target}")) else {
        let text = "The address is malformed.";
        respond(&mut stream, "400 Bad Request", "Not understood", text, None).await;
        return Handled::Ignored;
    };
    if url.path() != PATH {
        respond(
            &mut stream,
            "404 Not Found",
            "Not found",
            "Nothing here.",
            None,
        )
        .await;
        return Handled::Ignored;
    }
    // Checked before anything is sent: a state of this installation, for a configured account.
    if broker.verification_target(url.as_str()).is_err() {
        respond(
            &mut stream,
            "400 Bad Request",
            "Not verified",
            NOT_OURS,
            None,
        )
        .await;
        return Handled::Ignored;
    }
    match broker.complete_verification(url.as_str()).await {
        Ok(Verified {
            service,
            identifier,
            redirect,
            ..
        }) => {
            respond(
                &mut stream,
                "200 OK",
                "Connected",
                CONNECTED,
                redirect.as_ref(),
            )
            .await;
            Handled::Verified((service, identifier))
        }
        Err(Error::Verification(
            VerificationError::InvalidState { .. } | VerificationError::AlreadyUsed,
        )) => {
            respond(
                &mut stream,
                "400 Bad Request",
                "Not verified",
                NOT_OURS,
                None,
            )
            .await;
            Handled::Ignored
        }
        Err(e) => {
            respond(&mut stream, "200 OK", "Not connected", NOT_CONNECTED, None).await;
            Handled::Failed(e)
        }
    }
}

/// The request target of a `GET` and its one `Host` header, from a head read with a size cap and a time
/// limit.
async fn read_head(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 || head.len() + n > MAX_HEAD {
                return None;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(READ_TIME, read).await.ok()??;
    let head = std::str::from_utf8(&head).ok()?;
    let mut lines = head.split("\r\n");
    let mut words = lines.next()?.split(' ');
    let target = match (words.next(), words.next(), words.next(), words.next()) {
        (Some("GET"), Some(target), Some(version), None)
            if target.starts_with('/') && version.starts_with("HTTP/1.") =>
        {
            target.to_owned()
        }
        _ => return None,
    };
    let mut hosts = lines.filter_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("host")
            .then(|| value.trim().to_owned())
    });
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => Some((target, host)),
        _ => None,
    }
}

/// A short page (mobile-friendly), or a redirect to `next` when Scalekit named one.
async fn respond(
    stream: &mut TcpStream,
    status: &str,
    title: &str,
    text: &str,
    next: Option<&Url>,
) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>body{{font:16px \
         system-ui,sans-serif;margin:2em auto;max-width:32em;padding:0 1em}}</style></head><body><h1>{title}\
         </h1><p>{}</p></body></html>",
        html(&printable(text))
    );
    let (status, location) = match next {
        Some(url) => ("303 See Other", format!("Location: {url}\r\n")),
        None => (status, String::new()),
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\n{location}Content-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(READ_TIME, stream.write_all(reply.as_bytes())).await;
    let _ = stream.shutdown().await;
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
