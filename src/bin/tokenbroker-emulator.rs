//! The local Scalekit emulator on its own: point `SCALEKIT_ENV_URL` at it and open its links in a browser.

use std::time::Duration;

use clap::Parser;
use tokenbroker::emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CONNECTIONS, Emulator,
};

/// Run the local Scalekit emulator on 127.0.0.1.
///
/// It prints the variables to point tokenbroker at it, then serves until interrupted.
#[derive(Parser)]
#[command(name = "tokenbroker-emulator", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// A connection name it should know (repeatable; default gmail, slack, github, notion, linear).
    #[arg(long = "connection", value_name = "NAME")]
    connections: Vec<String>,
    /// Client ID to accept.
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Client secret to accept.
    #[arg(long, default_value = DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// Lifetime of authorization links, in seconds.
    #[arg(long, default_value_t = 60)]
    link_ttl: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut builder = Emulator::builder()
        .port(args.port)
        .client(&args.client_id, &args.client_secret)
        .link_ttl(Duration::from_secs(args.link_ttl));
    let names: Vec<&str> = if args.connections.is_empty() {
        DEFAULT_CONNECTIONS.to_vec()
    } else {
        args.connections.iter().map(String::as_str).collect()
    };
    for name in names {
        builder = builder.connection(name);
    }
    let emulator = builder.start().await?;
    println!("SCALEKIT_ENV_URL={}", emulator.url());
    println!("SCALEKIT_CLIENT_ID={}", emulator.client_id());
    println!("SCALEKIT_CLIENT_SECRET={}", emulator.client_secret());
    eprintln!(
        "tokenbroker-emulator: serving on {} (Ctrl-C to stop)",
        emulator.url()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
