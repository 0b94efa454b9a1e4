//! The command line.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Print fresh OAuth access tokens for connected accounts (Gmail, Slack, GitHub, ...) from Scalekit.
///
/// stdout holds only the tokens (one per line, in argument order); everything else goes to stderr.
/// Several services are fetched concurrently.
#[derive(Debug, Parser)]
#[command(name = "get-token", version, after_help = crate::exit::TABLE)]
pub(crate) struct Cli {
    /// The services, as named in connections.json (for example gmail).
    #[arg(value_name = "SERVICE", required = true)]
    pub(crate) services: Vec<String>,

    /// Print exactly one JSON object on stdout for every outcome (tokens only with --show-token).
    #[arg(long)]
    pub(crate) json: bool,

    /// Include the token itself in --json output.
    #[arg(long, requires = "json")]
    pub(crate) show_token: bool,

    /// Output format: plain tokens, `export NAME_TOKEN=...` lines for eval, or JSON (same as --json).
    #[arg(long, value_enum, default_value_t = Format::Plain)]
    pub(crate) format: Format,

    /// Do not print a newline after the token (single service, plain format).
    #[arg(long)]
    pub(crate) no_newline: bool,

    /// Act for this identifier (another user or account) instead of the configured one.
    #[arg(short = 'u', long, value_name = "ID")]
    pub(crate) identifier: Option<String>,

    /// Read connections.json from this path.
    #[arg(long, value_name = "PATH")]
    pub(crate) connections: Option<PathBuf>,

    /// Read Scalekit credentials from this .env file too (after the environment).
    #[arg(long, value_name = "PATH")]
    pub(crate) env_file: Option<PathBuf>,

    /// Print nothing on stderr (the exit code still tells what happened).
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The token and a newline.
    Plain,
    /// `export GMAIL_TOKEN='...'` lines, for `eval "$(get-token --format env gmail slack)"`.
    Env,
    /// One JSON object.
    Json,
}

impl Cli {
    pub(crate) fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}
