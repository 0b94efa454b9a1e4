//! `get-token`: the token broker for shell scripts and agents.

mod args;
mod exit;
mod output;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tokenbroker::{AccessToken, Broker, Error};

use args::{Cli, Format};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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

async fn run(cli: Cli) -> u8 {
    if cli.no_newline && (cli.services.len() > 1 || cli.format() != Format::Plain) {
        eprintln!("get-token: error: --no-newline only applies to one service in plain format");
        return exit::USAGE;
    }
    let outcomes: Vec<(String, Result<AccessToken, Error>)> = match build(&cli) {
        // Every service shares the broker's one HTTP client, API token and connection.
        Ok(broker) => {
            let tasks: Vec<_> = cli
                .services
                .iter()
                .map(|s| {
                    let (broker, service, identifier) =
                        (broker.clone(), s.clone(), cli.identifier.clone());
                    tokio::spawn(async move {
                        match identifier {
                            Some(id) => broker.get_token_for(&service, &id).await,
                            None => broker.get_token(&service).await,
                        }
                    })
                })
                .collect();
            let mut outcomes = Vec::with_capacity(tasks.len());
            for (service, task) in cli.services.iter().zip(tasks) {
                let outcome = task.await.unwrap_or_else(|e| {
                    Err(Error::Protocol {
                        endpoint: "get-token",
                        detail: format!("the request task failed: {e}"),
                    })
                });
                outcomes.push((service.clone(), outcome));
            }
            outcomes
        }
        Err(e) => cli
            .services
            .iter()
            .map(|s| (s.clone(), Err(e.clone())))
            .collect(),
    };
    // The first failure in argument order decides the exit code.
    let code = outcomes
        .iter()
        .find_map(|(_, o)| o.as_ref().err())
        .map_or(exit::OK, exit::code_for);
    if !cli.quiet && cli.format() != Format::Json {
        for (service, outcome) in &outcomes {
            if let Err(e) = outcome {
                eprintln!("{}", output::describe(service, e));
            }
        }
    }
    let text = match cli.format() {
        Format::Json => {
            let results: Vec<_> = outcomes
                .iter()
                .map(|(s, o)| output::json_result(s, o, cli.show_token))
                .collect();
            let value = match <[_; 1]>::try_from(results) {
                Ok([one]) => one,
                Err(results) => serde_json::json!({
                    "status": if code == exit::OK { "ok" } else { "partial" },
                    "results": results,
                }),
            };
            format!("{value}\n")
        }
        // On any failure stdout stays empty: a script must never read half a set of tokens.
        _ if code != exit::OK => String::new(),
        Format::Env => outcomes
            .iter()
            .filter_map(|(s, o)| o.as_ref().ok().map(|t| (s, t)))
            .map(|(s, t)| {
                format!(
                    "export {}={}\n",
                    output::env_name(s),
                    output::shell_quote(t.expose_secret())
                )
            })
            .collect(),
        Format::Plain => {
            let end = if cli.no_newline { "" } else { "\n" };
            outcomes
                .iter()
                .filter_map(|(_, o)| o.as_ref().ok())
                .map(|t| format!("{}{end}", t.expose_secret()))
                .collect()
        }
    };
    let text = zeroize::Zeroizing::new(text);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(_) => exit::UNEXPECTED,
    }
}

fn build(cli: &Cli) -> Result<Broker, Error> {
    let mut builder = Broker::builder();
    if let Some(path) = &cli.connections {
        builder = builder.connections_path(path);
    }
    if let Some(path) = &cli.env_file {
        builder = builder.env_file(path);
    }
    builder.build()
}
