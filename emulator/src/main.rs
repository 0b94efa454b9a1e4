//! The local Scalekit emulator on its own: point `SCALEKIT_ENV_URL` at it and open its links in a browser.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tokenbroker_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CONNECTIONS, Emulator, UserVerification};

/// The environment variable the client secret is taken from; never a flag, since `ps` shows every
/// process's arguments to every user.
const SECRET_VAR: &str = "TOKENBROKER_EMULATOR_CLIENT_SECRET";

/// Run the local Scalekit emulator on 127.0.0.1.
///
/// It prints the variables to point tokenbroker at it (or writes them to --env-out), then serves until
/// interrupted. The client secret is taken from TOKENBROKER_EMULATOR_CLIENT_SECRET, else made up at random.
#[derive(Parser)]
#[command(name = "tokenbroker-emulator", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Accept only this connection name (repeatable). Without it, any valid name is accepted.
    #[arg(long = "connection", value_name = "NAME")]
    connections: Vec<String>,
    /// Client ID to accept.
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Lifetime of authorization links, in seconds.
    #[arg(long, default_value_t = 60)]
    link_ttl: u64,
    /// The environment's user-verification mode; `custom` is what Scalekit's production environments use.
    #[arg(long, value_enum, default_value_t = Mode::Custom)]
    user_verification: Mode,
    /// Render unset timestamps as 0001-01-01T00:00:00Z, as a Go server writes an unset time, instead of null.
    #[arg(long)]
    zero_timestamps: bool,
    /// Treat this connection as ORG_WIDE (repeatable): approval records consent and holds no token.
    #[arg(long = "org-wide", value_name = "NAME")]
    org_wide: Vec<String>,
    /// Treat this connection as Google domain-wide delegation (repeatable): its token is in `google_dwd`.
    #[arg(long = "dwd", value_name = "NAME")]
    dwd: Vec<String>,
    /// Write the SCALEKIT_* lines to this file (mode 0600, replaced atomically) instead of stdout. A file
    /// the emulator did not write (a real set-up) is not replaced without --force.
    #[arg(long, value_name = "PATH")]
    env_out: Option<PathBuf>,
    /// Replace the --env-out file even when it holds another set-up.
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Custom,
    ScalekitUsers,
    Disabled,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tokenbroker-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    if let Some(path) = &args.env_out {
        check_env_out(path, args.force)?;
    }
    let secret = match std::env::var(SECRET_VAR) {
        Ok(s) if !s.is_empty() => s,
        _ => random_secret().map_err(|e| format!("cannot make a client secret: {e}"))?,
    };
    let mode = match args.user_verification {
        Mode::Custom => UserVerification::Custom,
        Mode::ScalekitUsers => UserVerification::ScalekitUsers,
        Mode::Disabled => UserVerification::Disabled,
    };
    let mut builder = Emulator::builder()
        .port(args.port)
        .client(&args.client_id, &secret)
        .link_ttl(Duration::from_secs(args.link_ttl))
        .user_verification(mode)
        .accept_any_connection(args.connections.is_empty())
        .zero_timestamps(args.zero_timestamps);
    let names: Vec<&str> = if args.connections.is_empty() {
        DEFAULT_CONNECTIONS.to_vec()
    } else {
        args.connections.iter().map(String::as_str).collect()
    };
    for name in names {
        builder = builder.connection(name);
    }
    for name in &args.org_wide {
        builder = builder.org_wide_connection(name);
    }
    for name in &args.dwd {
        builder = builder.dwd_connection(name);
    }
    let emulator = builder.start().await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "port {} is already in use; choose another with --port (0 picks a free one)",
            args.port
        ),
        _ => format!("cannot listen on 127.0.0.1:{}: {e}", args.port),
    })?;
    let values = [
        ("SCALEKIT_ENV_URL", emulator.url()),
        ("SCALEKIT_CLIENT_ID", emulator.client_id()),
        ("SCALEKIT_CLIENT_SECRET", emulator.client_secret()),
    ];
    match &args.env_out {
        Some(path) => {
            let mut lines = format!("{MARKER}\n");
            for (name, value) in &values {
                lines.push_str(&format!("{name}={value}\n"));
            }
            write_atomically(path, lines.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprintln!(
                "tokenbroker-emulator: serving on {} (Ctrl-C to stop); its settings are in {}",
                emulator.url(),
                path.display()
            );
            let env_file = if is_default_env(path) {
                String::new()
            } else {
                format!(" --env-file {}", shell_quote(&path.display().to_string()))
            };
            eprintln!("next, in another terminal:");
            eprintln!("  get-token{env_file} config add gmail gmail");
            eprintln!("  get-token{env_file} --wait gmail");
        }
        None => {
            // `export` lines: pasted, or saved and sourced, they reach get-token.
            for (name, value) in &values {
                println!("export {name}={}", shell_quote(value));
            }
            eprintln!(
                "tokenbroker-emulator: serving on {} (Ctrl-C to stop); run the export lines above in the shell \
                 where you use get-token, or start it with --env-out FILE",
                emulator.url()
            );
        }
    }
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))
}

/// The first line of every file `--env-out` writes: a file without it is someone's real set-up.
const MARKER: &str =
    "# written by tokenbroker-emulator: settings of a local emulator, replaced at each start";

/// Refuses to replace a file at `path` that the emulator did not write, unless `force`. Files of earlier
/// versions (no marker) are recognised by their loopback `SCALEKIT_ENV_URL`.
fn check_env_out(path: &Path, force: bool) -> Result<(), String> {
    if force {
        return Ok(());
    }
    let refused = || {
        Err(format!(
            "{} holds another set-up (not written by the emulator), or cannot be read; nothing was changed. \
             Write the emulator's settings elsewhere (--env-out /tmp/emulator.env, then get-token --env-file \
             /tmp/emulator.env ...), or pass --force to replace it",
            path.display()
        ))
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // A FIFO planted there must not hang the start.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc_nonblock());
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        // It exists but cannot be read: not known to be ours.
        Err(_) => return refused(),
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return refused();
    }
    let mut head = Vec::new();
    // Enough for the three lines; bytes, so text that is not UTF-8 is still read (and is not ours).
    if std::io::Read::read_to_end(&mut std::io::Read::take(file, 4096), &mut head).is_err() {
        return refused();
    }
    let head = String::from_utf8_lossy(&head);
    let ours = head.starts_with(MARKER)
        || head
            .lines()
            .any(|l| l.starts_with("SCALEKIT_ENV_URL=http://127.0.0.1:"))
        || head.trim().is_empty();
    if ours { Ok(()) } else { refused() }
}

/// `O_NONBLOCK`, for opening a path that may be a FIFO.
#[cfg(unix)]
fn libc_nonblock() -> i32 {
    libc::O_NONBLOCK
}

/// Whether `path` is the `.env` get-token reads without `--env-file`.
fn is_default_env(path: &Path) -> bool {
    let default =
        directories::ProjectDirs::from("", "", "tokenbroker").map(|d| d.config_dir().join(".env"));
    default.is_some_and(|d| d == path)
}

/// `value` in single quotes for a POSIX shell.
fn shell_quote(value: &str) -> String {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c))
    {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// 32 random bytes from the OS as hex.
fn random_secret() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| std::io::Error::other("the system's random number generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `contents` to a new file beside `path`, readable by its owner only, then renames it over `path`,
/// so a reader never sees half a file and the secret is never in a file others can read.
fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    // `--env-out ~/.config/tokenbroker/.env` on a fresh machine: the directory is not there yet.
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    // It will hold a client secret, as ~/.config/tokenbroker does.
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(temp_name);
    let mut options = std::fs::OpenOptions::new();
    // create_new fails on any existing entry, a symbolic link included, so the secret never goes through a
    // link someone planted at the temporary name.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temp)?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::write_atomically;

    #[test]
    fn replaces_the_file_whole_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "old\n").unwrap();
        write_atomically(&path, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn never_writes_through_a_symlink_at_the_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, "keep\n").unwrap();
        let temp = dir
            .path()
            .join(format!(".env.env.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&target, &temp).unwrap();
        assert!(write_atomically(&dir.path().join("env.env"), b"secret\n").is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
        assert!(!dir.path().join("env.env").exists());
    }
}
