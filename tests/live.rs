//! Against a real Scalekit environment; ignored unless run on purpose with credentials:
//!
//! ```sh
//! SCALEKIT_ENV_URL=... SCALEKIT_CLIENT_ID=... SCALEKIT_CLIENT_SECRET=... \
//! TOKENBROKER_LIVE_SERVICE=gmail cargo test --test live -- --ignored
//! ```
//! It uses the normal configuration lookup (connections.json included) and accepts either outcome a real
//! account can have: a token, or an authorization link.

#[tokio::test]
#[ignore = "needs a real Scalekit environment and credentials"]
async fn live_get_token() {
    let service = std::env::var("TOKENBROKER_LIVE_SERVICE").unwrap_or_else(|_| "gmail".into());
    let broker = tokenbroker::Broker::from_env().expect("configuration");
    match broker.get_token(&service).await {
        Ok(token) => assert!(!token.expose_secret().is_empty()),
        Err(tokenbroker::Error::AuthorizationRequired(auth)) => {
            assert!(auth.url.scheme() == "https");
            eprintln!("{}", auth.message());
        }
        Err(e) => panic!("{e}"),
    }
}

/// The verification flow against a real environment in Custom mode: a link for a fresh identifier is made
/// with get-token's loopback `user_verify_url`; a person opens it (printed on stderr) and approves within
/// `TOKENBROKER_LIVE_WAIT` seconds (default 180) on this machine, and the test's listener completes it.
///
/// ```sh
/// TOKENBROKER_LIVE_SERVICE=gmail cargo test --test live live_verification -- --ignored --nocapture
/// ```
/// In "Scalekit users only" mode, approve while signed in to the dashboard; in Disabled mode the account
/// becomes active without the redirect, which the test accepts too.
#[tokio::test]
#[ignore = "needs a real Scalekit environment, credentials and a person to approve"]
async fn live_verification() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let service = std::env::var("TOKENBROKER_LIVE_SERVICE").unwrap_or_else(|_| "gmail".into());
    let wait: u64 = std::env::var("TOKENBROKER_LIVE_WAIT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let broker = tokenbroker::Broker::builder()
        .user_verify_url(
            format!("http://127.0.0.1:{port}/tokenbroker/verify")
                .parse()
                .unwrap(),
        )
        .build()
        .expect("configuration");
    let identifier = format!("tokenbroker-live-{}", std::process::id());
    let auth = broker
        .authorization_link(&service, Some(&identifier))
        .await
        .expect("a link");
    eprintln!("Open and approve within {wait} s: {}", auth.url);
    let redirect = async {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = vec![0u8; 8192];
        let n = stream.read(&mut head).await.unwrap();
        let line = String::from_utf8_lossy(&head[..n])
            .lines()
            .next()
            .unwrap()
            .to_owned();
        let target = line.split(' ').nth(1).unwrap().to_owned();
        let done = broker
            .complete_verification(&format!("http://127.0.0.1:{port}{target}"))
            .await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await;
        done
    };
    let options = tokenbroker::WaitOptions::default().timeout(std::time::Duration::from_secs(wait));
    tokio::select! {
        done = redirect => {
            let done = done.expect("verification");
            assert_eq!(done.identifier, identifier);
            assert!(broker.get_token_for(&service, &identifier).await.is_ok());
        }
        token = broker.wait_for_authorization(&auth, &options) => {
            // Disabled mode: active without a redirect.
            token.expect("authorized");
        }
    }
    let _ = broker.disconnect(&service, Some(&identifier)).await;
}
