//! `get-token`: the token broker for shell scripts and agents.
// The doc comments on the command-line types are clap's help text, read in a terminal: `<...>` around a URL
// would be noise there, and `<concealed by get-token>` is the text a user sees, not HTML.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

mod account;
mod api;
mod args;
mod brief;
mod colour;
mod complete;
mod config;
mod doctor;
mod exec;
mod exit;
mod fetch;
mod get;
mod git;
mod harden;
mod hint;
mod init;
#[cfg(unix)]
mod mcp;
mod output;
mod present;
mod report;
mod status;
#[cfg(unix)]
mod supervise;

use std::process::ExitCode;
use std::time::Duration;

use tokenbroker::{Broker, Builder, Error};

use args::{Cli, Command, Global};

fn main() -> ExitCode {
    args::STARTED.get_or_init(std::time::Instant::now);
    // Before anything is read: this process's memory will hold the client secret and tokens.
    harden::no_core_dumps();
    complete::answer_if_asked();
    let mut args = args::subcommand_first(std::env::args_os().collect());
    // `get-token help --help` is a request for help, as `git help --help` is.
    if args.get(1).is_some_and(|a| a == "help")
        && args[2..].iter().any(|a| a == "--help" || a == "-h")
    {
        args.retain(|a| a != "--help" && a != "-h");
    }
    if args.len() == 1 {
        return exit::exit(overview());
    }
    let args_seen = args.clone();
    let json = args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--json");
    let parsed = args::command()
        .try_get_matches_from(args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // clap quotes the arguments it complains about; they pass the same boundary as all output.
            let text = e.render().to_string();
            if e.use_stderr() && json {
                // --json promises one JSON object for every outcome, a usage error included.
                let message = text.lines().next().unwrap_or_default();
                let message = message.strip_prefix("error: ").unwrap_or(message);
                output::print_json(serde_json::json!({
                    "status": "error",
                    "code": "usage",
                    "message": message,
                    "hint": "see get-token --help",
                }));
                return exit::exit(exit::USAGE);
            }
            if e.use_stderr() {
                eprint!("{}", tokenbroker::printable(&text));
                if missing_exec_separator(&args_seen, &e) {
                    eprintln!(
                        "\n  tip: put the command after --, as in: get-token exec gmail -- env"
                    );
                }
                return exit::exit(exit::USAGE);
            }
            return exit::exit(if output::print(text) {
                exit::OK
            } else {
                exit::UNEXPECTED
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::say(&format!("get-token: cannot start: {e}"));
            return exit::exit(exit::UNEXPECTED);
        }
    };
    exit::exit(runtime.block_on(within_timeout(cli)))
}

/// `get-token exec gmail env`: the command was taken for a service; say where it goes.
fn missing_exec_separator(args: &[std::ffi::OsString], e: &clap::Error) -> bool {
    e.kind() == clap::error::ErrorKind::MissingRequiredArgument
        && args.get(1).is_some_and(|a| a == "exec")
        && !args.iter().any(|a| a == "--")
}

/// `get-token` alone: what it does and the commands people use. On a terminal that is what was asked for
/// (exit 0); in a script it is a missing argument (exit 2, on stderr).
fn overview() -> u8 {
    use std::io::IsTerminal;
    let dir = directories::ProjectDirs::from("", "", "tokenbroker").map_or_else(
        || "~/.config/tokenbroker".into(),
        |d| d.config_dir().display().to_string(),
    );
    let text = format!(
        "get-token: fresh OAuth access tokens for the user's connected accounts (Gmail, Slack, GitHub, ...)\n\
         from Scalekit, and API calls made with them without showing them.\n\n\
         \x20 get-token api URL             call an API with the right token (the token is never shown)\n\
         \x20 get-token SERVICE             print a token (get-token --format header SERVICE | curl -H @- URL)\n\
         \x20 get-token status              which accounts are ready\n\
         \x20 get-token authorize SERVICE   a link for the user to connect an account\n\
         \x20 get-token doctor              check the set-up, with the fix for each problem\n\n\
         Configuration: {dir}/.env (SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID, SCALEKIT_CLIENT_SECRET) and\n\
         {dir}/connections.json (get-token config add SERVICE CONNECTION_NAME).\n\
         More: get-token --help\n"
    );
    if std::io::stdout().is_terminal() {
        if output::print(text) {
            exit::OK
        } else {
            exit::UNEXPECTED
        }
    } else {
        output::say(text.trim_end());
        exit::USAGE
    }
}

/// `--timeout` bounds the whole command, waiting and retries included.
async fn within_timeout(cli: Cli) -> u8 {
    report::remember_invocation(&cli.global);
    if let Err(message) = cli.global.port() {
        return report::usage(&cli.global, &message);
    }
    // A server runs for the session: --timeout bounds each of its requests to Scalekit, not its life.
    let serving = matches!(cli.command, Some(Command::Mcp(_)));
    let Some(secs) = cli.global.timeout.filter(|_| !serving) else {
        return run(cli).await;
    };
    let global = Global {
        ..cli.global.clone()
    };
    match tokio::time::timeout(Duration::from_secs_f64(secs), run(cli)).await {
        Ok(code) => code,
        Err(_) => report::fail(
            &global,
            None,
            &Error::Unavailable {
                url: String::new(),
                detail: format!(
                    "timed out: the command did not finish within --timeout={secs} seconds"
                ),
                source: None,
            },
        ),
    }
}

async fn run(cli: Cli) -> u8 {
    let global = &cli.global;
    match cli.command {
        None => get::run(&cli).await,
        Some(Command::Status {
            ref services,
            ref who,
        }) => status::run(global, services, who.identifier.as_deref()).await,
        Some(Command::Authorize {
            ref service,
            ref wait,
            ref who,
        }) => account::authorize(global, service, who.identifier.as_deref(), wait).await,
        Some(Command::Disconnect {
            ref service,
            yes,
            ref who,
        }) => account::disconnect(global, service, who.identifier.as_deref(), yes).await,
        Some(Command::Wait {
            ref services,
            seconds,
            link_expires,
            show_token,
            format,
            ref who,
        }) => {
            let delivery = get::Delivery {
                global,
                format: if global.json {
                    args::Format::Json
                } else {
                    format
                },
                show_token,
                no_newline: false,
                show: args::Show::default(),
            };
            let limit = Duration::from_secs(seconds);
            get::wait(
                &delivery,
                services,
                who.identifier.as_deref(),
                limit,
                link_expires,
            )
            .await
        }
        Some(Command::Verify { ref address }) => account::verify(global, address).await,
        Some(Command::GitCredential { operation, ref who }) => {
            git::credential(global, operation, who.identifier.as_deref()).await
        }
        Some(Command::SetupGit { ref hosts }) => git::setup(global, hosts),
        Some(Command::Api {
            ref url,
            ref service,
            ref method,
            ref headers,
            ref data,
            ref input,
            include,
            via_scalekit,
            ref who,
        }) => {
            let call = api::Call {
                url,
                service: service.as_deref(),
                identifier: who.identifier.as_deref(),
                method: method.as_deref(),
                headers,
                data: data.as_deref(),
                input: input.as_deref(),
                include,
                via_scalekit,
            };
            api::run(global, &call).await
        }
        Some(Command::Config { ref action }) => config::run(global, action),
        Some(Command::Doctor { ref services }) => doctor::run(global, services).await,
        Some(Command::Init(ref args)) => init::run(global, args).await,
        Some(Command::Mcp(ref args)) => mcp::run(global, args).await,
        Some(Command::Exec {
            ref services,
            ref wait,
            ref who,
            ref command,
            no_masking,
        }) => {
            exec::run(
                global,
                services,
                who.identifier.as_deref(),
                wait,
                command,
                no_masking,
            )
            .await
        }
        Some(Command::Man) => {
            // The package version only: the page is committed (doc/get-token.1) and must not change with
            // every commit.
            let page = args::command().version(env!("CARGO_PKG_VERSION"));
            let mut out = Vec::new();
            match clap_mangen::Man::new(page).render(&mut out) {
                Ok(()) if output::print_script(&out) => exit::OK,
                _ => exit::UNEXPECTED,
            }
        }
        Some(Command::Completions { shell }) => {
            // A completion script is code, not text from outside: it is printed as generated.
            if output::print_script(&complete::script(shell)) {
                exit::OK
            } else {
                exit::UNEXPECTED
            }
        }
    }
}

/// The broker's settings from the global options; anything not given comes from the environment. Unless a
/// hosted verify page is configured, links send the browser to get-token's loopback listener.
fn builder(global: &Global) -> Builder {
    let port = global.port().unwrap_or(tokenbroker::listener::DEFAULT_PORT);
    let mut builder =
        Broker::builder().default_user_verify_url(tokenbroker::listener::verify_url(port));
    // Each verification address completes a flow once, whichever get-token process gets it: the used
    // states are remembered (hashed) in the user's configuration directory, whatever --env-file says.
    if let Some(dir) = Broker::builder()
        .env_file_path()
        .as_deref()
        .and_then(std::path::Path::parent)
    {
        builder = builder.used_states_file(dir.join("used-states"));
    }
    if let Some(path) = &global.connections {
        builder = builder.connections_path(path);
    }
    if let Some(path) = &global.env_file {
        builder = builder.env_file(path);
    }
    if let Some(secs) = global.timeout {
        builder = builder.timeout(Some(Duration::from_secs_f64(secs)));
    }
    if global.verbose {
        builder = builder.on_request(|event| output::say(&format!("get-token: {event}")));
    }
    builder
}

/// The broker, with its warnings (a `.env` others can read, ...) said on stderr or kept for the JSON object.
fn broker(global: &Global) -> Result<Broker, Error> {
    let broker = builder(global).build()?;
    for w in broker.warnings() {
        global.warn(w);
    }
    Ok(broker)
}

/// The exit code for a set of outcomes: the first failure in argument order decides.
fn first_failure<'a, T: 'a>(outcomes: impl IntoIterator<Item = &'a Result<T, Error>>) -> u8 {
    outcomes
        .into_iter()
        .find_map(|o| o.as_ref().err())
        .map_or(exit::OK, exit::code_for)
}
