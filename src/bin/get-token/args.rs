//! The command line.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::exit_table;

/// Service names, completed from connections.json.
fn service_names() -> clap_complete::ArgValueCandidates {
    clap_complete::ArgValueCandidates::new(crate::complete::services)
}

/// Print fresh OAuth access tokens for connected accounts (Gmail, Slack, GitHub, ...) from Scalekit.
///
/// stdout holds only the tokens (one per line, in argument order); everything else goes to stderr.
/// Several services are fetched concurrently (at most 8 requests at a time). A service named like a
/// subcommand (status, config, ...) must be fetched as `get-token -- status`.
#[derive(Debug, Parser)]
#[command(
    name = "get-token",
    version = env!("TOKENBROKER_VERSION_TEXT"),
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    #[command(flatten)]
    pub(crate) fetch: Fetch,

    #[command(flatten)]
    pub(crate) global: Global,
}

/// The end of `--help`: what get-token reads, the exit codes, and examples.
const AFTER_HELP: &str = concat!(
    "Reads (never from the working directory):\n",
    "  SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID, SCALEKIT_CLIENT_SECRET: all three from the environment,\n",
    "      or all three from ~/.config/tokenbroker/.env (or --env-file PATH); SCALEKIT_ENVIRONMENT_URL\n",
    "      is another name for SCALEKIT_ENV_URL\n",
    "  ~/.config/tokenbroker/connections.json (or --connections PATH, or $TOKENBROKER_CONNECTIONS)\n",
    "  SCALEKIT_IDENTIFIER, SCALEKIT_USER_VERIFY_URL, TOKENBROKER_TIMEOUT, TOKENBROKER_VERIFY_PORT\n\n",
    exit_table!(),
    "\n\nExamples:\n",
    "  get-token api https://gmail.googleapis.com/gmail/v1/users/me/profile\n",
    "  get-token --format header github | curl -H @- https://api.github.com/user\n",
    "  get-token exec gmail slack -- python3 sync.py\n",
    "  get-token --json gmail     (then relay \"message\" and run \"next\": get-token wait gmail)\n",
    "  get-token status; get-token doctor",
);

/// What to fetch and how to print it (the command without a subcommand).
#[derive(Debug, Args)]
pub(crate) struct Fetch {
    /// The services, as named in connections.json (for example gmail).
    #[arg(
        value_name = "SERVICE",
        required_unless_present = "for_url",
        conflicts_with = "for_url",
        add = service_names()
    )]
    pub(crate) services: Vec<String>,

    /// Fetch the token for the service whose API this URL belongs to (well-known API hosts, plus each
    /// entry's "hosts" in connections.json).
    #[arg(long, value_name = "URL")]
    pub(crate) for_url: Option<String>,

    #[command(flatten)]
    pub(crate) wait: Wait,

    /// Include the token itself in --json output.
    #[arg(long)]
    pub(crate) show_token: bool,

    /// Output format: plain tokens, `export NAME_TOKEN=...` lines for eval, one `Authorization: Bearer ...`
    /// header line for `curl -H @-`, or JSON (same as --json).
    #[arg(long, value_enum, default_value_t = Format::Plain)]
    pub(crate) format: Format,

    /// Do not print a newline after the token (single service, plain format).
    #[arg(long)]
    pub(crate) no_newline: bool,

    #[command(flatten)]
    pub(crate) who: Who,
}

/// Options shared by the commands, shown under their own heading, each only where it applies (see
/// [`command`]).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Shared options")]
pub(crate) struct Global {
    /// Print exactly one JSON object on stdout for every outcome.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// The connections.json to use instead of the usual one.
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) connections: Option<PathBuf>,

    /// The .env file with the Scalekit credentials, instead of ~/.config/tokenbroker/.env.
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) env_file: Option<PathBuf>,

    /// Time limit of the whole command, waiting included, in seconds [default: none for the command; each
    /// request to Scalekit gets 30 s, or $TOKENBROKER_TIMEOUT].
    #[arg(long, value_name = "SECONDS", global = true, value_parser = seconds)]
    pub(crate) timeout: Option<f64>,

    /// Print nothing on stderr (the exit code still tells what happened).
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,

    /// Print one line on stderr per request to Scalekit: method, URL, status or failure, time, and whether it
    /// is retried (never a token, the secret or a header).
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub(crate) verbose: bool,

    /// The loopback port Scalekit sends the browser to after the user approves (user verification), where
    /// waiting commands listen [default: 53117, or $TOKENBROKER_VERIFY_PORT].
    #[arg(long, value_name = "PORT", global = true)]
    pub(crate) verify_port: Option<u16>,
}

/// An RFC 3339 time, as `next` writes a link's expiry.
fn link_expiry(value: &str) -> Result<std::time::SystemTime, String> {
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map_err(|_| "give the time as `next` wrote it, such as 2026-12-06T10:00:00Z".to_owned())?;
    let seconds = u64::try_from(at.unix_timestamp()).map_err(|_| "a time after 1970".to_owned())?;
    Ok(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}

/// When this get-token started: `--timeout` counts from here.
pub(crate) static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

impl Global {
    /// A wait of `limit`, ended a second before `--timeout` ends the whole command, so that what happened
    /// (the user has not approved yet: exit 3 and how to go on) is told instead of a cut-off "timed out".
    pub(crate) fn within_timeout(&self, limit: std::time::Duration) -> std::time::Duration {
        let Some(secs) = self.timeout else {
            return limit;
        };
        let started = *STARTED.get_or_init(std::time::Instant::now);
        let left = std::time::Duration::from_secs_f64(secs).saturating_sub(started.elapsed());
        let margin = std::time::Duration::from_secs(1).min(left / 2);
        limit.min(left - margin)
    }

    /// The listener's port: --verify-port, else $TOKENBROKER_VERIFY_PORT, else the default. (Read here, not
    /// by clap: an option clap reads from the environment cannot be hidden per subcommand.)
    pub(crate) fn port(&self) -> Result<u16, String> {
        match (self.verify_port, std::env::var("TOKENBROKER_VERIFY_PORT")) {
            (Some(port), _) => Ok(port),
            (None, Ok(value)) => value.trim().parse().map_err(|_| {
                format!(
                    "TOKENBROKER_VERIFY_PORT={:?} is not a port number (1 to 65535); fix or unset it",
                    tokenbroker::printable(&value)
                )
            }),
            (None, Err(_)) => Ok(tokenbroker::listener::DEFAULT_PORT),
        }
    }
}

/// Showing a link to a person at this terminal.
#[derive(Debug, Clone, Copy, Default, Args)]
pub(crate) struct Show {
    /// Open the authorization link in this machine's browser.
    #[arg(long)]
    pub(crate) open: bool,
    /// Draw the authorization link as a QR code on stderr, to open it on a phone.
    #[arg(long)]
    pub(crate) qr: bool,
}

/// Waiting for the user to authorize.
#[derive(Debug, Args)]
pub(crate) struct Wait {
    /// When authorization is needed, print the link on stderr and wait up to SECONDS (default 120, at most
    /// 86400) for the user, printing a new link whenever one expires. Write it with `=`: --wait=60.
    #[arg(
        long = "wait",
        value_name = "SECONDS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "120",
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub(crate) seconds: Option<u64>,

    #[command(flatten)]
    pub(crate) show: Show,
}

impl Wait {
    pub(crate) fn limit(&self) -> Option<std::time::Duration> {
        self.seconds.map(std::time::Duration::from_secs)
    }
}

/// Whose account to act on.
#[derive(Debug, Args)]
pub(crate) struct Who {
    /// Act for this identifier (another user or account) instead of the configured one.
    #[arg(short = 'u', long, value_name = "ID")]
    pub(crate) identifier: Option<String>,
}

/// `get-token init`'s own options.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The environment URL, such as https://acme.scalekit.dev (asked on a terminal when not given).
    #[arg(long, value_name = "URL")]
    pub(crate) env_url: Option<String>,
    /// The client ID (asked on a terminal when not given). The secret is never an option: it is typed
    /// without echo, or read from the first line of stdin.
    #[arg(long, value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// Replace a different set-up already saved.
    #[arg(long)]
    pub(crate) force: bool,
    /// Add every OAuth connection of the environment to connections.json without asking.
    #[arg(long)]
    pub(crate) add_connections: bool,
}

/// `get-token mcp`'s own options.
#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    /// Only these services (comma-separated, such as gmail,slack) [default: every configured service].
    #[arg(long, value_name = "LIST")]
    pub(crate) services: Option<String>,
    /// UNSAFE: add a get_token tool that hands raw tokens to the model (and into its context, logs and
    /// transcripts). Off by default: the request tool uses tokens without showing them.
    #[arg(long)]
    pub(crate) allow_token: bool,
    #[command(flatten)]
    pub(crate) who: Who,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Set up get-token: the Scalekit environment URL, client ID and secret (checked with one token
    /// request, saved to ~/.config/tokenbroker/.env with mode 0600), then the environment's connections,
    /// offered for connections.json.
    Init(InitArgs),
    /// Show each service's account status, token expiry, scopes and last use (never a token). Exit 0 when
    /// every service is ready, 3 when any needs authorization.
    Status {
        /// The services to show [default: every configured service].
        #[arg(value_name = "SERVICE", add = service_names())]
        services: Vec<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Print a fresh authorization link (URL on stdout, instructions on stderr), also for an active account
    /// (to authorize again, for example to grant more scopes).
    Authorize {
        /// The service to authorize.
        #[arg(add = service_names())]
        service: String,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        who: Who,
    },
    /// Delete the connected account at Scalekit (asks first on a terminal; needs --yes otherwise).
    Disconnect {
        /// The service whose account to delete.
        #[arg(add = service_names())]
        service: String,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
        #[command(flatten)]
        who: Who,
    },
    /// Wait for the user to finish authorizing, never asking for a new link meanwhile; print the token(s) as
    /// `get-token SERVICE` does. When the time is up, ask for exactly one fresh link and exit 3 with it, to
    /// relay before running `wait` again. Made for agents, whose tool calls are cut at about two minutes.
    Wait {
        /// The services to wait for.
        #[arg(value_name = "SERVICE", required = true, add = service_names())]
        services: Vec<String>,
        /// How long to wait, in seconds.
        #[arg(long = "for", value_name = "SECONDS", default_value_t = 110, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        seconds: u64,
        /// When the link relayed to the user expires (RFC 3339, as `next` gives it): the wait ends a few
        /// seconds after it, with one fresh link, rather than sitting on a dead one.
        #[arg(long, value_name = "TIME", value_parser = link_expiry)]
        link_expires: Option<std::time::SystemTime>,
        /// Include the token itself in --json output.
        #[arg(long)]
        show_token: bool,
        /// Output format, as for `get-token SERVICE`.
        #[arg(long, value_enum, default_value_t = Format::Plain)]
        format: Format,
        #[command(flatten)]
        who: Who,
    },
    /// Finish user verification with the address the browser showed after the user approved
    /// (http://127.0.0.1:.../tokenbroker/verify?auth_request_id=...&state=...), when it could not reach this
    /// machine (the user approved on a phone, say) and they copied it back.
    Verify {
        /// The whole address, or `-` to read it from the first line of stdin (the safe form for an agent:
        /// `printf '%s\n' "$ADDRESS" | get-token verify -`, or a here-document).
        #[arg(value_name = "ADDRESS")]
        address: String,
    },
    /// Make a request to a service's API with its token, as curl or `gh api` would, without the token ever
    /// being printed: it goes only to the service's own hosts, over https. The answer's body goes to stdout.
    /// Exit 0 for 2xx, 9 for another HTTP status (on stderr).
    Api {
        /// The URL, such as https://gmail.googleapis.com/gmail/v1/users/me/profile; with --via-scalekit and
        /// --service, a path such as /gmail/v1/users/me/profile is enough.
        #[arg(value_name = "URL")]
        url: String,
        /// The service whose token to use [default: the one whose API the URL belongs to].
        #[arg(long, value_name = "NAME", add = service_names())]
        service: Option<String>,
        /// The HTTP method [default: GET, or POST with a body].
        #[arg(short = 'X', long = "method", value_name = "METHOD")]
        method: Option<String>,
        /// A request header, `Name: value` (repeatable). Authorization is get-token's to set.
        #[arg(short = 'H', long = "header", value_name = "HEADER")]
        headers: Vec<String>,
        /// The request body (JSON is sent as application/json, anything else as a form).
        #[arg(
            short = 'd',
            long = "data",
            value_name = "DATA",
            conflicts_with = "input"
        )]
        data: Option<String>,
        /// Read the request body from a file, or from stdin with `-`.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Print the status line and the headers before the body.
        #[arg(short = 'i', long)]
        include: bool,
        /// Send it through Scalekit's proxy, so the token never leaves Scalekit.
        #[arg(long)]
        via_scalekit: bool,
        #[command(flatten)]
        who: Who,
    },
    /// Show or edit connections.json (written atomically; other entries and their order are kept).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Check every step of the set-up and say how to fix what is wrong; exit non-zero if anything is.
    Doctor {
        /// The services whose accounts to check [default: every configured service].
        #[arg(value_name = "SERVICE", add = service_names())]
        services: Vec<String>,
    },
    /// Run a command with GMAIL_TOKEN (and so on) in its environment; the token is never printed. The
    /// command gets no Scalekit credentials (SCALEKIT_* and TOKENBROKER_* are removed from its environment).
    /// Its exit code is passed through (127: not found, 126: cannot run).
    Exec {
        /// The services whose tokens to pass, each as SERVICE (in SERVICE_TOKEN, such as GMAIL_TOKEN) or
        /// NAME=SERVICE (in the variable the command expects, such as SLACK_BOT_TOKEN=slack).
        #[arg(value_name = "SERVICE", required = true, add = service_names())]
        services: Vec<String>,
        #[command(flatten)]
        wait: Wait,
        #[command(flatten)]
        who: Who,
        /// Do not conceal the tokens in the command's output: run it in place of get-token, as before
        /// masking. Without it, a token the command prints to a piped or redirected stdout or stderr shows
        /// as <concealed by get-token>; a terminal is never masked.
        #[arg(long)]
        no_masking: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// git's credential helper: `get` answers with the token of the service the host belongs to (as the
    /// password, with the user name the host expects and its expiry); `store` and `erase` do nothing
    /// lasting. Set it up with `get-token setup-git`.
    GitCredential {
        /// What git asks: get, store or erase.
        #[arg(value_enum)]
        operation: GitOperation,
        #[command(flatten)]
        who: Who,
    },
    /// Make git use get-token for a host's credentials (like `gh auth setup-git`): writes
    /// credential.https://HOST.helper to the global git configuration.
    SetupGit {
        /// The git host [default: github.com and gitlab.com, for the services configured for them].
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Serve MCP on stdin/stdout for an agent host (claude mcp add tokenbroker -- get-token mcp): tools to
    /// list services, check them, authorize (the link goes to the user through the client) and call APIs,
    /// none of which returns a token.
    Mcp(McpArgs),
    /// Print the manual page (roff), for `get-token man | man -l -` or to install as get-token.1.
    Man,
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigAction {
    /// Add a service, or change its entry.
    Add {
        /// The service name to use with get-token, such as gmail.
        service: String,
        /// Its Scalekit connection name (Scalekit dashboard > Agent Auth > Connections).
        connection_name: String,
        /// The connected account's identifier for this service (overrides the default).
        #[arg(short = 'u', long, value_name = "ID")]
        identifier: Option<String>,
        /// An API host that belongs to this service, for --for-url (repeatable).
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Remove a service.
    Remove {
        /// The service to remove.
        #[arg(add = service_names())]
        service: String,
    },
    /// List the configured services.
    List,
    /// Print the path of connections.json (the one found, or where a new one would go).
    Path,
}

/// git's credential operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GitOperation {
    Get,
    Store,
    Erase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The token and a newline.
    Plain,
    /// `export GMAIL_TOKEN='...'` lines, for `eval "$(get-token --format env gmail slack)"`.
    Env,
    /// One `Authorization: Bearer ...` line, for `get-token --format header gmail | curl -H @- URL` (the
    /// token never appears in a command line, where other users could read it).
    Header,
    /// One JSON object.
    Json,
}

impl Cli {
    pub(crate) fn format(&self) -> Format {
        if self.global.json {
            Format::Json
        } else {
            self.fetch.format
        }
    }
}

/// The shared options each subcommand takes; the others are hidden from its help and its completions (clap
/// accepts them anywhere, as global options, and they do nothing there).
const APPLIES: &[(&str, &[&str])] = &[
    (
        "status",
        &[
            "json",
            "connections",
            "env_file",
            "timeout",
            "quiet",
            "verbose",
        ],
    ),
    (
        "disconnect",
        &[
            "json",
            "connections",
            "env_file",
            "timeout",
            "quiet",
            "verbose",
        ],
    ),
    (
        "verify",
        &[
            "json",
            "connections",
            "env_file",
            "timeout",
            "quiet",
            "verbose",
        ],
    ),
    (
        "api",
        &[
            "json",
            "connections",
            "env_file",
            "timeout",
            "quiet",
            "verbose",
        ],
    ),
    (
        "init",
        &[
            "json",
            "connections",
            "env_file",
            "timeout",
            "quiet",
            "verbose",
        ],
    ),
    (
        "git-credential",
        &["connections", "env_file", "timeout", "quiet", "verbose"],
    ),
    (
        "exec",
        &[
            "connections",
            "env_file",
            "timeout",
            "quiet",
            "verbose",
            "verify_port",
        ],
    ),
    (
        "mcp",
        &[
            "connections",
            "env_file",
            "timeout",
            "verbose",
            "verify_port",
        ],
    ),
    ("config", &["json", "connections", "quiet"]),
    ("setup-git", &["connections", "quiet"]),
    ("man", &[]),
    ("completions", &[]),
];

/// The command line: clap's definition from the derive, with each subcommand showing only the shared
/// options that apply to it, in words that fit it.
pub(crate) fn command() -> clap::Command {
    let mut cmd = Cli::command();
    let shared: Vec<clap::Arg> = Global::augment_args(clap::Command::new("shared"))
        .get_arguments()
        .cloned()
        .collect();
    for (name, applies) in APPLIES {
        for arg in shared
            .iter()
            .filter(|a| !applies.contains(&a.get_id().as_str()))
        {
            // A hidden local copy: clap then does not propagate the global one into this subcommand.
            let hidden = arg.clone().global(false).hide(true);
            cmd = cmd.mut_subcommand(name, |sc| sc.arg(hidden));
        }
    }
    if crate::brief::wanted() {
        crate::brief::apply(cmd)
    } else {
        cmd
    }
}

/// `get-token -q status` is `get-token status -q`: options given before a subcommand are moved after it, so
/// that a subcommand is never taken for a service name (clap would, since services are positional).
pub(crate) fn subcommand_first(mut args: Vec<OsString>) -> Vec<OsString> {
    let cli = command();
    let takes_value =
        |arg: &clap::Arg| arg.get_action().takes_values() && !arg.is_require_equals_set();
    let mut i = 1;
    while let Some(word) = args.get(i).and_then(|a| a.to_str()) {
        if word == "--" {
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let valued = !long.contains('=')
                && cli
                    .get_arguments()
                    .any(|a| a.get_long() == Some(long) && takes_value(a));
            i += 1 + usize::from(valued);
            continue;
        }
        if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            // In a cluster such as -qu, a short option that takes a value takes the rest, or the next word.
            let valued = shorts.char_indices().find(|(_, c)| {
                cli.get_arguments()
                    .any(|a| a.get_short() == Some(*c) && takes_value(a))
            });
            let next_is_value = valued.is_some_and(|(at, c)| at + c.len_utf8() == shorts.len());
            i += 1 + usize::from(next_is_value);
            continue;
        }
        let is_subcommand = cli
            .get_subcommands()
            .any(|c| c.get_name() == word || c.get_all_aliases().any(|a| a == word));
        if is_subcommand && i > 1 {
            let options: Vec<OsString> = args.drain(1..i).collect();
            args.splice(2..2, options);
        }
        break;
    }
    args
}

fn seconds(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(
            "give a number of seconds, more than 0 and at most 86400 (for example 10 or 2.5)"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::subcommand_first;
    use std::ffi::OsString;

    fn order(args: &[&str]) -> Vec<String> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        subcommand_first(args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn options_before_a_subcommand_move_after_it() {
        for (given, expected) in [
            (&["g", "-q", "status"][..], &["g", "status", "-q"][..]),
            (
                &["g", "--json", "status", "gmail"],
                &["g", "status", "--json", "gmail"],
            ),
            (
                &["g", "--timeout", "10", "doctor"],
                &["g", "doctor", "--timeout", "10"],
            ),
            (
                &["g", "--timeout=10", "doctor"],
                &["g", "doctor", "--timeout=10"],
            ),
            (
                &["g", "-u", "status", "gmail"],
                &["g", "-u", "status", "gmail"],
            ),
            (
                &["g", "-qu", "status", "gmail"],
                &["g", "-qu", "status", "gmail"],
            ),
            (&["g", "--wait", "status"], &["g", "status", "--wait"]),
            (
                &["g", "-q", "gmail", "status"],
                &["g", "-q", "gmail", "status"],
            ),
            (&["g", "-q", "--", "status"], &["g", "-q", "--", "status"]),
            (&["g", "status", "-q"], &["g", "status", "-q"]),
        ] {
            assert_eq!(order(given), expected, "{given:?}");
        }
    }
}
