//! The whole flow on the local Scalekit emulator, in Custom user verification (the production default): not
//! configured, link, approve, the verification redirect, token, served from cache.
//!
//! Run it with `cargo run --example demo`. Nothing leaves this machine: the emulator listens on 127.0.0.1.

use std::time::Instant;

use tokenbroker::{Broker, Connection, Connections, Error};
use tokenbroker_emulator::{Emulator, Route, UserVerification};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder()
        .connection("gmail_u3134a")
        .user_verification(UserVerification::Custom)
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
    // Where Scalekit sends the browser after the user approves: get-token's listener address.
    let broker = Broker::builder()
        .credentials(emulator.credentials())
        .connections(connections)
        .user_verify_url("http://127.0.0.1:53117/tokenbroker/verify".parse()?)
        .build()?;
    let auth = match broker.get_token("gmail").await {
        Err(Error::AuthorizationRequired(auth)) => auth,
        other => return Err(format!("expected an authorization link, got {other:?}").into()),
    };
    println!(
        "3. Configured; the user must authorize. Message for the chat:\n   {}",
        auth.message()
    );

    // What the user's browser does: open the link, press Approve, and follow the redirect.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = http.get(auth.url.clone()).send().await?.text().await?;
    assert!(page.contains("Approve"));
    let approved = http.post(format!("{}/approve", auth.url)).send().await?;
    let redirect = approved
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .ok_or("no redirect after Approve")?
        .to_owned();
    println!("4. The user pressed Approve; Scalekit sent the browser to\n   {redirect}");
    match broker.get_token("gmail").await {
        Err(Error::VerificationPending(pending)) => println!("   Meanwhile: {pending}."),
        other => return Err(format!("expected a pending verification, got {other:?}").into()),
    }
    let verified = broker.complete_verification(&redirect).await?;
    println!(
        "5. The listener (or `get-token verify`) checked the state and verified {}.",
        verified.service
    );

    let token = broker.get_token("gmail").await?;
    println!(
        "6. Token for {} ({} characters, redacted in Debug: {:?})",
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
        "7. 1000 more calls served from the in-memory cache in {:?}, with {} requests to Scalekit.",
        start.elapsed(),
        emulator.requests(Route::Auth) - before
    );
    Ok(())
}
