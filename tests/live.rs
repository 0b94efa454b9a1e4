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
