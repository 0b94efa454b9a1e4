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

/// Every endpoint the client calls, against a real environment, one `PASS`/`FAIL` line each (the wire
/// contract's live check: what the emulator cannot prove). A fresh identifier is created and deleted again;
/// nobody needs to approve anything. The proxy is tried when `TOKENBROKER_LIVE_PROXY_URL` names a provider
/// URL of the service (the proxy must be enabled for it).
///
/// ```sh
/// TOKENBROKER_LIVE_SERVICE=gmail cargo test --test live live_every_endpoint -- --ignored --nocapture
/// ```
#[tokio::test]
#[ignore = "needs a real Scalekit environment and credentials"]
async fn live_every_endpoint() {
    use tokenbroker::Error;
    let service = std::env::var("TOKENBROKER_LIVE_SERVICE").unwrap_or_else(|_| "gmail".into());
    let identifier = format!("tokenbroker-live-{}-{}", std::process::id(), rand_suffix());
    let plain = tokenbroker::Broker::from_env().expect("configuration");
    let verifying = tokenbroker::Broker::builder()
        .user_verify_url("http://127.0.0.1:53117/tokenbroker/verify".parse().unwrap())
        .build()
        .expect("configuration");
    let mut failed = Vec::new();
    let mut report = |endpoint: &str, outcome: Result<String, String>| match outcome {
        Ok(what) => eprintln!("PASS {endpoint}: {what}"),
        Err(why) => {
            eprintln!("FAIL {endpoint}: {why}");
            failed.push(endpoint.to_owned());
        }
    };
    report(
        "POST /oauth/token",
        plain
            .verify_credentials()
            .await
            .map(|()| "an API token".into())
            .map_err(|e| e.to_string()),
    );
    report(
        "GET /api/v1/connections/app",
        match plain.environment_connections().await {
            Ok(Some(list)) => Ok(format!("{} connections", list.len())),
            Ok(None) => Ok("not offered (404/405/501)".into()),
            Err(e) => Err(e.to_string()),
        },
    );
    // GET /auth (404), POST create (with connected_account {}), POST magic_link: one get_token.
    report(
        "GET /auth + POST /connected_accounts + POST /magic_link",
        match plain.get_token_for(&service, &identifier).await {
            Err(Error::AuthorizationRequired(auth)) => {
                Ok(format!("a link on {}", auth.url.host_str().unwrap_or("?")))
            }
            Ok(_) => Err("a fresh identifier already had a token".into()),
            Err(e) => Err(e.to_string()),
        },
    );
    report(
        "POST /magic_link with user_verify_url and state",
        verifying
            .authorization_link(&service, Some(&identifier))
            .await
            .map(|auth| {
                format!(
                    "a link until {:?}",
                    auth.expires_at.map(tokenbroker::rfc3339)
                )
            })
            .map_err(|e| e.to_string()),
    );
    report(
        "GET /details",
        match plain.account_info(&service, Some(&identifier)).await {
            Ok((_, Some(info))) => Ok(format!("status {:?}", info.status)),
            Ok((_, None)) => Err("the account just created was not found".into()),
            Err(e) => Err(e.to_string()),
        },
    );
    if let Ok(url) = std::env::var("TOKENBROKER_LIVE_PROXY_URL") {
        let request = reqwest::Client::new()
            .get(url)
            .build()
            .expect("TOKENBROKER_LIVE_PROXY_URL");
        report(
            "ANY /proxy{path}",
            match plain
                .send_via_scalekit(&service, Some(&identifier), request)
                .await
            {
                Ok(answer) => Ok(format!("the provider answered {}", answer.status())),
                Err(e @ Error::ProxyNotEnabled { .. }) => Ok(format!("recognised refusal: {e}")),
                Err(e) => Err(e.to_string()),
            },
        );
    }
    report(
        "POST /connected_accounts:delete",
        match plain.disconnect(&service, Some(&identifier)).await {
            Ok(true) => Ok("deleted".into()),
            Ok(false) => Err("the account just created was not found".into()),
            Err(e) => Err(e.to_string()),
        },
    );
    assert!(failed.is_empty(), "failed: {failed:?}");
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}
