//! `get-token`: the token broker for shell scripts and agents.

mod args;
mod exit;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tokenbroker::{Broker, Error};

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return exit::exit(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("get-token: cannot start: {e}");
            return exit::exit(exit::UNEXPECTED);
        }
    };
    exit::exit(runtime.block_on(run(cli)))
}

async fn run(cli: args::Cli) -> u8 {
    let broker = match build(&cli) {
        Ok(b) => b,
        Err(e) => return report(&e),
    };
    let result = match &cli.identifier {
        Some(id) => broker.get_token_for(&cli.service, id).await,
        None => broker.get_token(&cli.service).await,
    };
    match result {
        Ok(token) => {
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{}", token.expose_secret()).and_then(|()| out.flush()) {
                Ok(()) => exit::OK,
                Err(_) => exit::UNEXPECTED,
            }
        }
        Err(e) => report(&e),
    }
}

fn build(cli: &args::Cli) -> Result<Broker, Error> {
    let mut builder = Broker::builder();
    if let Some(path) = &cli.connections {
        builder = builder.connections_path(path);
    }
    if let Some(path) = &cli.env_file {
        builder = builder.env_file(path);
    }
    builder.build()
}

/// Says on stderr what happened and what to do; returns the exit code.
fn report(error: &Error) -> u8 {
    if let Some(auth) = error.authorization() {
        let expiry = match (auth.expires_at, auth.expires_in()) {
            (Some(at), Some(left)) => format!(
                " (the link expires at {}, in {} s)",
                tokenbroker::rfc3339(at),
                left.as_secs()
            ),
            _ => String::new(),
        };
        eprintln!(
            "get-token: {} needs authorization (connection {}, identifier {} from {}, account status {}).\n\
             Open this link to authorize{expiry}:\n  {}\nThen run the command again.",
            auth.service,
            auth.connection_name,
            auth.identifier,
            auth.identifier_source,
            auth.status,
            auth.url
        );
    } else {
        eprintln!("get-token: error: {error}\nhint: {}", error.hint());
    }
    exit::code_for(error)
}
