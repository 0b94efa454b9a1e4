//! The loopback listener for user verification: when the browser runs on this machine, Scalekit sends it
//! here after the user approves (`http://127.0.0.1:PORT/tokenbroker/verify?auth_request_id=...&state=...`),
//! and get-token completes the verification at once.
//!
//! Every request is untrusted (any local program or web page can send one): the request head is read with a
//! size cap and a time limit; only `GET` of the one path with both parameters is considered; the `state` is
//! checked (by the library, in constant time) before anything is sent to Scalekit; a request with a bad
//! state is refused and the listener goes on waiting for the real one. It listens on 127.0.0.1 only, closes
//! once the verifications it waits for are done, and never outlives the wait that started it.

use std::time::Duration;

use tokenbroker::{Broker, Error, VerificationError, Verified, printable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// The port links name unless told otherwise (`--verify-port`, `TOKENBROKER_VERIFY_PORT`).
pub(crate) const DEFAULT_PORT: u16 = 53117;
const PATH: &str = "/tokenbroker/verify";
/// A browser's request head is well under this; more is not a browser.
const MAX_HEAD: usize = 8 * 1024;
const READ_TIME: Duration = Duration::from_secs(2);
/// Connections handled at once: idle ones from another local process cannot queue the browser's behind
/// them, and cannot grow without bound either.
const MAX_OPEN: usize = 64;

/// An account a wait is for: (service, identifier).
pub(crate) type Account = (String, String);

/// The `user_verify_url` for links, given the port.
pub(crate) fn verify_url(port: u16) -> Url {
    Url::parse(&format!("http://127.0.0.1:{port}{PATH}")).expect("a valid URL")
}

pub(crate) struct Listener {
    socket: TcpListener,
}

/// What one request came to.
enum Handled {
    Verified(Account),
    Failed(Error),
    /// Not a verification of ours: answered, and the listener goes on.
    Ignored,
}

impl Listener {
    /// Listens on 127.0.0.1:`port`.
    pub(crate) async fn bind(port: u16) -> std::io::Result<Self> {
        Ok(Self {
            socket: TcpListener::bind(("127.0.0.1", port)).await?,
        })
    }

    /// Serves until every account in `waiting_for` is verified (`Ok`), or a verification of one of them
    /// failed at Scalekit (wrong user, flow expired: `Err`). Connections are handled concurrently, up to
    /// [`MAX_OPEN`]; a request for any other account is refused without anything sent. Runs until then;
    /// the caller drops it at its deadline.
    pub(crate) async fn serve(self, broker: &Broker, waiting_for: &[Account]) -> Result<(), Error> {
        let waiting_for = std::sync::Arc::new(waiting_for.to_vec());
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_OPEN));
        let (tx, mut rx) = tokio::sync::mpsc::channel(MAX_OPEN);
        let mut verified = std::collections::HashSet::new();
        loop {
            tokio::select! {
                accepted = self.socket.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    // All slots busy: this waits at most the head timeout for one (results queue meanwhile).
                    let Ok(slot) = slots.clone().acquire_owned().await else { continue };
                    let (broker, tx, waiting_for) = (broker.clone(), tx.clone(), waiting_for.clone());
                    tokio::spawn(async move {
                        let handled = handle(stream, &broker, &waiting_for).await;
                        drop(slot);
                        let _ = tx.send(handled).await;
                    });
                }
                Some(handled) = rx.recv() => match handled {
                    Handled::Verified(account) => {
                        verified.insert(account);
                        if waiting_for.iter().all(|a| verified.contains(a)) {
                            return Ok(());
                        }
                    }
                    Handled::Failed(e) => return Err(e),
                    Handled::Ignored => {}
                },
            }
        }
    }
}

async fn handle(mut stream: TcpStream, broker: &Broker, waiting_for: &[Account]) -> Handled {
    let Some(target) = read_target(&mut stream).await else {
        respond(
            &mut stream,
            "400 Bad Request",
            "Not understood",
            "This address only takes the redirect from Scalekit.",
            None,
        )
        .await;
        return Handled::Ignored;
    };
    let Ok(url) = Url::parse(&format!("http://127.0.0.1{target}")) else {
        respond(
            &mut stream,
            "400 Bad Request",
            "Not understood",
            "The address is malformed.",
            None,
        )
        .await;
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
    // Checked before anything is sent: a state of this installation, for an account this wait is for.
    match broker.verification_target(url.as_str()) {
        Ok(target)
            if !waiting_for
                .iter()
                .any(|(s, i)| *s == target.service && *i == target.identifier) =>
        {
            let text = "This address is for an account this get-token is not waiting for.";
            respond(&mut stream, "400 Bad Request", "Not verified", text, None).await;
            return Handled::Ignored;
        }
        Ok(_) => {}
        Err(e) => {
            let text = format!("This address was not made by this get-token, or it expired: {e}");
            respond(&mut stream, "400 Bad Request", "Not verified", &text, None).await;
            return Handled::Ignored;
        }
    }
    match broker.complete_verification(url.as_str()).await {
        Ok(Verified {
            service,
            identifier,
            redirect,
            ..
        }) => {
            let text = format!("Your {service} account is connected. You can close this page.");
            respond(&mut stream, "200 OK", "Connected", &text, redirect.as_ref()).await;
            Handled::Verified((service, identifier))
        }
        Err(Error::Verification(VerificationError::InvalidState { reason })) => {
            let text =
                format!("This address was not made by this get-token, or it expired: {reason}");
            respond(&mut stream, "400 Bad Request", "Not verified", &text, None).await;
            Handled::Ignored
        }
        Err(e) => {
            let text = format!("Not connected: {e}. {}", crate::hint::hint(&e));
            respond(&mut stream, "200 OK", "Not connected", &text, None).await;
            Handled::Failed(e)
        }
    }
}

/// The request target of a `GET`, from a head read with a size cap and a time limit.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
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
    let line = head.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split(' ');
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("GET"), Some(target), Some(version), None)
            if target.starts_with('/') && version.starts_with("HTTP/1.") =>
        {
            Some(target.to_owned())
        }
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
