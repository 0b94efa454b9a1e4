//! The one-screen `-h`: a line per command and option, and a short end. `--help` keeps every word (clap
//! shows `long_about`, `long_help` and `after_long_help` there), and so does the man page.

use clap::Command;

/// One line per subcommand, for the list in `get-token -h`.
const COMMANDS: &[(&str, &str)] = &[
    (
        "init",
        "Set up get-token: Scalekit credentials, then the environment's connections",
    ),
    (
        "status",
        "Each service's account status, expiry and scopes (never a token)",
    ),
    ("authorize", "Print a fresh authorization link for the user"),
    ("disconnect", "Delete the connected account at Scalekit"),
    (
        "wait",
        "Wait for the user to authorize; one fresh link when the relayed one expires",
    ),
    (
        "verify",
        "Finish user verification with the address the user copied back",
    ),
    (
        "api",
        "Call a service's API with its token, never printing it",
    ),
    ("config", "Show or edit connections.json"),
    (
        "doctor",
        "Check every step of the set-up and say how to fix it",
    ),
    (
        "exec",
        "Run a command with GMAIL_TOKEN (and so on) in its environment",
    ),
    (
        "git-credential",
        "git's credential helper (set up with get-token setup-git)",
    ),
    (
        "setup-git",
        "Make git use get-token for a host's credentials",
    ),
    ("mcp", "Serve MCP on stdin/stdout for an agent host"),
    ("man", "Print the manual page"),
    ("completions", "Print a shell completion script"),
];

/// One line per option of the top level, for `get-token -h`.
const OPTIONS: &[(&str, &str)] = &[
    (
        "for_url",
        "Fetch the token of the service this API URL belongs to",
    ),
    (
        "seconds",
        "Wait up to SECONDS (default 120) for the user when authorization is needed",
    ),
    (
        "open",
        "Open the authorization link in this machine's browser",
    ),
    ("qr", "Draw the authorization link as a QR code on stderr"),
    ("show_token", "Include the token itself in --json output"),
    ("format", "Output format: plain, env, header or json"),
    ("no_newline", "No newline after the token"),
    (
        "identifier",
        "Act for this identifier instead of the configured one",
    ),
    ("json", "One JSON object on stdout for every outcome"),
    ("connections", "The connections.json to use"),
    ("env_file", "The .env file with the Scalekit credentials"),
    ("timeout", "Time limit of the whole command, in seconds"),
    ("quiet", "Print nothing on stderr"),
    ("verbose", "One line on stderr per request to Scalekit"),
    (
        "verify_port",
        "The loopback port for user verification (default 53117)",
    ),
];

/// The end of `get-token -h`.
const AFTER: &str = "Exit codes: 0 ok, 2 usage, 3 the user must act, 4 not configured, 5 credentials, \
                     6 refused, 7 network, 8 verification, 9 API status.\nEverything, with examples: \
                     get-token --help";

/// Whether this run asks for the short help: `-h` (before any `--`), and not `--help`. Only then are the
/// brief texts put in: `--help`, the man page and completions keep every word, since clap lists commands
/// by their short `about` even in the long help.
pub(crate) fn wanted() -> bool {
    let args: Vec<std::ffi::OsString> = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .collect();
    args.iter().any(|a| a == "-h") && !args.iter().any(|a| a == "--help")
}

/// `cmd` with the brief texts for `-h`, the full ones kept as the long texts.
pub(crate) fn apply(mut cmd: Command) -> Command {
    for (name, line) in COMMANDS {
        cmd = cmd.mut_subcommand(*name, |sc| {
            let full = sc.get_long_about().or(sc.get_about()).cloned();
            let sc = sc.about(*line);
            match full {
                Some(full) => sc.long_about(full),
                None => sc,
            }
        });
    }
    for (id, line) in OPTIONS {
        if cmd.get_arguments().any(|a| a.get_id() == id) {
            cmd = cmd.mut_arg(*id, |arg| {
                let full = arg.get_long_help().or(arg.get_help()).cloned();
                let valued = arg.get_action().takes_values();
                // The long help names the values in words.
                let arg = arg.help(*line).hide_possible_values(valued);
                match full {
                    Some(full) => arg.long_help(full),
                    None => arg,
                }
            });
        }
    }
    let full = cmd.get_after_help().cloned();
    let cmd = cmd.after_help(AFTER);
    match full {
        Some(full) => cmd.after_long_help(full),
        None => cmd,
    }
}
