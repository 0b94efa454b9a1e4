//! Review 2, L-E: plain http is allowed only to a loopback host because it stays on the machine; a proxy
//! from the environment (`ALL_PROXY`, `HTTP_PROXY`) must not carry a token or the client secret off it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};

use common::{Cli, IDENTIFIER, activate, emulator};

/// A listener that records the first line of every request and answers 200 with `body`.
fn recorder(body: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            log.lock().unwrap().push(first.trim().to_owned());
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

#[test]
fn no_proxy_carries_a_token_or_the_secret_to_a_loopback_host() {
    let emu = emulator().spawn().unwrap();
    activate(&emu, "gmail_u3134a", IDENTIFIER);
    let (api, api_seen) = recorder("{\"ok\": true}");
    let (proxy, proxy_seen) = recorder("{}");
    let proxy_url = format!("http://127.0.0.1:{proxy}");
    for host in ["localhost", "127.0.0.1"] {
        let cli = Cli::on(&emu)
            .var("ALL_PROXY", &proxy_url)
            .var("HTTP_PROXY", &proxy_url)
            .var("http_proxy", &proxy_url);
        cli.write_config(
            "connections.json",
            &format!(
                r#"{{"gmail": {{"connection_name": "gmail_u3134a", "identifier": "{IDENTIFIER}", "hosts": ["{host}:{api}"]}}}}"#
            ),
        );
        let run = cli.run(&["api", &format!("http://{host}:{api}/x")]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.contains("\"ok\""), "{run:?}");
    }
    assert_eq!(api_seen.lock().unwrap().len(), 2);
    assert!(
        proxy_seen.lock().unwrap().is_empty(),
        "the proxy saw: {:?}",
        proxy_seen.lock().unwrap()
    );

    // Any other host still goes through the proxy the environment names (here a tunnel that leads
    // nowhere: the TLS handshake fails, and the token was never sent in clear).
    let cli = Cli::on(&emu).var("HTTPS_PROXY", &proxy_url);
    let run = cli.run(&[
        "api",
        "https://gmail.googleapis.com/gmail/v1/users/me/profile",
    ]);
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(
        proxy_seen.lock().unwrap().first().map(String::as_str),
        Some("CONNECT gmail.googleapis.com:443 HTTP/1.1"),
        "{run:?}"
    );
}
