//! Helpers shared by the integration tests: an emulator with known connections, a broker pointed at it,
//! and the real `get-token` binary run in a clean environment.
#![allow(dead_code, unreachable_pub)]

pub mod browser;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};

use tokenbroker::{Broker, Builder, Connection, Connections};
use tokenbroker_emulator::{Emulator, EmulatorBuilder};

pub const IDENTIFIER: &str = "mess";

/// An API token from the Scalekit at `url` (the emulator), asked for over raw HTTP: for tests that speak
/// to the emulator without tokenbroker's client.
pub async fn api_token(url: &str, id: &str, secret: &str) -> String {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// [`api_token`] from an in-process emulator.
pub async fn emulator_api_token(emu: &Emulator) -> String {
    api_token(&emu.url(), &emu.client_id(), &emu.client_secret()).await
}

/// An emulator that knows gmail_u3134a, slack_x7y9z and an API-key connection.
pub fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .connection("gmail_u3134a")
        .connection("slack_x7y9z")
        .api_key_connection("fathom_k1")
}

/// Makes `identifier`'s account on `connection_name` active with a fresh token, as if the user had approved.
pub fn activate(emulator: &Emulator, connection_name: &str, identifier: &str) {
    emulator.set_status(connection_name, identifier, "PENDING_AUTH");
    emulator.approve(connection_name, identifier);
}

pub fn connections() -> Connections {
    Connections::new()
        .with(
            "gmail",
            Connection::new("gmail_u3134a").with_identifier(IDENTIFIER),
        )
        .and_then(|c| {
            c.with(
                "slack",
                Connection::new("slack_x7y9z").with_identifier(IDENTIFIER),
            )
        })
        .and_then(|c| {
            c.with(
                "fathom",
                Connection::new("fathom_k1").with_identifier(IDENTIFIER),
            )
        })
        .and_then(|c| {
            c.with(
                "ghost",
                Connection::new("no_such_connection").with_identifier(IDENTIFIER),
            )
        })
        .unwrap()
}

/// A builder for a broker on `emulator`, isolated from the machine's own configuration.
pub fn builder(emulator: &Emulator) -> Builder {
    Broker::builder()
        .credentials(emulator.credentials())
        .connections(connections())
        .config_dir("/nonexistent/tokenbroker-test")
        .home_dir("/nonexistent/tokenbroker-test-home")
}

/// A broker that asks Scalekit on every call, for tests that count requests per call.
pub fn uncached(emulator: &Emulator) -> Broker {
    builder(emulator)
        .cache(tokenbroker::CachePolicy::disabled())
        .build()
        .unwrap()
}

pub fn broker(emulator: &Emulator) -> Broker {
    builder(emulator).build().unwrap()
}

/// Runs the real binary in a clean environment: its own HOME, working directory and config dir.
pub struct Cli {
    pub home: tempfile::TempDir,
    pub cwd: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl Cli {
    pub fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            cwd: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    /// A CLI whose environment points at `emulator`, with connections.json in the user config directory.
    pub fn on(emulator: &Emulator) -> Self {
        let cli = Self::new()
            .var("SCALEKIT_ENV_URL", &emulator.url())
            .var("SCALEKIT_CLIENT_ID", &emulator.client_id())
            .var("SCALEKIT_CLIENT_SECRET", &emulator.client_secret());
        cli.write_config("connections.json", CONNECTIONS_JSON);
        cli
    }

    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Writes a file in the working directory (which get-token never reads by itself).
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        write_private(&self.cwd.path().join(relative), text)
    }

    /// Writes a file in the user config directory, where get-token looks for connections.json and .env.
    pub fn write_config(&self, name: &str, text: &str) -> PathBuf {
        write_private(&self.config_dir().join(name), text)
    }

    pub fn config_dir(&self) -> PathBuf {
        self.home.path().join(".config/tokenbroker")
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().unwrap())
    }

    /// Runs get-token with `input` on its stdin (a pipe, not a terminal).
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A program that exits before reading it all closes the pipe: not a failure of the test.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        Run::from(child.wait_with_output().unwrap())
    }

    /// Starts another program in the same environment with its stdin, stdout and stderr piped, for a test
    /// that answers prompts (through `script`, which gives the program a terminal).
    pub fn spawn_interactive(&self, program: &str, args: &[&str]) -> Child {
        self.command_for(program, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Runs another program in the same environment (a shell script using get-token, for example).
    pub fn run_program(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Run {
        Run::from(self.command_for(program, args).output().unwrap())
    }

    /// Starts get-token without waiting for it, its stdout and stderr piped: for `--wait`.
    pub fn spawn(&self, args: &[&str]) -> Running {
        self.spawn_command(self.command(args))
    }

    /// Starts another program the same way (a shell that sets limits, then runs get-token).
    pub fn spawn_program(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Running {
        self.spawn_command(self.command_for(program, args))
    }

    fn spawn_command(&self, mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        Running {
            child,
            stderr,
            read: String::new(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        self.command_for(env!("CARGO_BIN_EXE_get-token"), args)
    }

    fn command_for(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.cwd.path())
            .stdin(Stdio::null());
        command
    }

    /// A fresh HOME with the same connections.json, without the Scalekit variables.
    pub fn clone_without_credentials(&self) -> Self {
        let cli = Self::new();
        cli.write_config(
            "connections.json",
            &std::fs::read_to_string(self.config_dir().join("connections.json")).unwrap(),
        );
        cli
    }

    pub fn cwd(&self) -> &Path {
        self.cwd.path()
    }
}

/// Writes `text` at `path`, private, as a user following the README would make it (others-readable files
/// draw a warning, others-writable ones are refused).
pub fn write_private(path: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path.to_owned()
}

pub const CONNECTIONS_JSON: &str = r#"{
  "gmail": {"connection_name": "gmail_u3134a", "identifier": "mess"},
  "slack": {"connection_name": "slack_x7y9z", "identifier": "mess"},
  "ghost": {"connection_name": "no_such_connection", "identifier": "mess"}
}
"#;

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A get-token process started with [`Cli::spawn`].
pub struct Running {
    child: Child,
    stderr: BufReader<ChildStderr>,
    read: String,
}

impl Running {
    /// Reads stderr until a line contains `needle`; returns that line (panics at the end of stderr).
    pub fn stderr_line_with(&mut self, needle: &str) -> String {
        loop {
            let mut line = String::new();
            let n = self.stderr.read_line(&mut line).unwrap();
            assert!(n > 0, "stderr ended without {needle:?}: {}", self.read);
            self.read.push_str(&line);
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Kills the process (SIGKILL on Unix: no clean-up runs) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to end.
    pub fn finish(mut self) -> Run {
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        let output = self.child.wait_with_output().unwrap();
        let mut run = Run::from(output);
        run.stderr = self.read + &rest;
        run
    }
}
