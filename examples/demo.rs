//! The whole flow on the local Scalekit emulator: not configured, link, approve, token, served from cache.
//!
//! Run it with `cargo run --example demo`. Nothing leaves this machine: the emulator listens on 127.0.0.1.

use std::time::Instant;

use tokenbroker::emulator::{Emulator, Route};
use tokenbroker::{Broker, Connection, Connections, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder()
        .connection("gmail_u3134a")
        .start()
        .await?;
    println!("1. Scalekit emulator listening on {}", emulator.url());

    let unconfigured = Broker::builder()
        .credentials(emulator.credentials())
        .connections(Connections::new())
        .identifier("mess")
        .build()?;
    let err = unconfigured.get_token("gmail").await.unwrap_err();
    println!(
        "2. Not configured yet ({}):\n   {err}\n   hint: {}",
        err.kind().code(),
        err.hint()
    );

    let connections = Connections::new().with(
        "gmail",
        Connection::new("gmail_u3134a").with_identifier("mess"),
    )?;
    let broker = Broker::builder()
        .credentials(emulator.credentials())
        .connections(connections)
        .build()?;
    let auth = match broker.get_token("gmail").await {
        Err(Error::AuthorizationRequired(auth)) => auth,
        other => return Err(format!("expected an authorization link, got {other:?}").into()),
    };
    println!(
        "3. Configured; the user must authorize. Message for the chat:\n   {}",
        auth.message()
    );

    // What the user's browser does: open the link, press Approve.
    let http = reqwest::Client::new();
    let page = http.get(auth.url.clone()).send().await?.text().await?;
    assert!(page.contains("Approve"));
    http.post(format!("{}/approve", auth.url))
        .send()
        .await?
        .error_for_status()?;
    println!("4. The user opened the link and pressed Approve.");

    let token = broker.get_token("gmail").await?;
    println!(
        "5. Token for {} ({} characters, redacted in Debug: {:?})",
        token.service(),
        token.expose_secret().len(),
        token
    );

    let before = emulator.requests(Route::Auth);
    let start = Instant::now();
    for _ in 0..1000 {
        broker.get_token("gmail").await?;
    }
    println!(
        "6. 1000 more calls served from the in-memory cache in {:?}, with {} requests to Scalekit.",
        start.elapsed(),
        emulator.requests(Route::Auth) - before
    );
    Ok(())
}
