//! The command line.

use std::path::PathBuf;

use clap::Parser;

/// Print a fresh OAuth access token for a connected account (Gmail, Slack, GitHub, ...) from Scalekit.
///
/// stdout holds only the token and a newline; everything else goes to stderr.
#[derive(Debug, Parser)]
#[command(name = "get-token", version, after_help = crate::exit::TABLE)]
pub(crate) struct Cli {
    /// The service, as named in connections.json (for example gmail).
    #[arg(value_name = "SERVICE")]
    pub(crate) service: String,

    /// Act for this identifier (another user or account) instead of the configured one.
    #[arg(short = 'u', long, value_name = "ID", global = true)]
    pub(crate) identifier: Option<String>,

    /// Read connections.json from this path.
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) connections: Option<PathBuf>,

    /// Read Scalekit credentials from this .env file too (after the environment).
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) env_file: Option<PathBuf>,
}
