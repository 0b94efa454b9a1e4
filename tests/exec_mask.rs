//! `get-token exec` conceals the tokens it hands out in the command's piped output, and otherwise behaves
//! like the command itself: exit code, signals, stdin, order and timing of output, binary data.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Cli, IDENTIFIER, activate, emulator};
use tokenbroker_emulator::Emulator;

const GMAIL: &str = "gmail_u3134a";
const SLACK: &str = "slack_x7y9z";
const MASK: &str = "<concealed by get-token>";

fn setup() -> (Emulator, Cli, String) {
    let emu = emulator().spawn().unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    activate(&emu, SLACK, IDENTIFIER);
    let cli = Cli::on(&emu);
    let token = emu.access_token(GMAIL, IDENTIFIER).unwrap();
    (emu, cli, token)
}

/// get-token in the CLI's environment, for tests that need more than `Cli::run` (stdin, signals, timing).
fn get_token(cli: &Cli, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_get-token"));
    command
        .args(args)
        .env_clear()
        .env("HOME", cli.home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(cli.env.iter().map(|(k, v)| (k, v)))
        .current_dir(cli.cwd())
        .stdin(Stdio::null());
    command
}

fn exec_sh(cli: &Cli, script: &str) -> common::Run {
    cli.run(&["exec", "gmail", "--", "sh", "-c", script])
}

#[test]
fn a_token_printed_whole_on_stdout_is_masked() {
    let (_emu, cli, token) = setup();
    let run = exec_sh(&cli, r#"echo "token: $GMAIL_TOKEN.""#);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, format!("token: {MASK}.\n"));
    assert!(!run.stderr.contains(&token), "{run:?}");
}

#[test]
fn a_token_split_across_two_writes_with_a_pause_is_masked() {
    let (_emu, cli, token) = setup();
    let run = exec_sh(
        &cli,
        r#"printf "%s" "${GMAIL_TOKEN%??????????}"; sleep 0.2; printf "%s\n" "${GMAIL_TOKEN#"${GMAIL_TOKEN%??????????}"}""#,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, format!("{MASK}\n"));
    assert!(!run.stdout.contains(&token[..10]), "no part leaks: {run:?}");
}

#[test]
fn a_token_on_stderr_is_masked() {
    let (_emu, cli, token) = setup();
    let run = exec_sh(&cli, r#"echo "oops $GMAIL_TOKEN" >&2"#);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, format!("oops {MASK}\n"));
    assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));
}

#[test]
fn no_masking_shows_the_token() {
    let (_emu, cli, token) = setup();
    let run = cli.run(&[
        "exec",
        "gmail",
        "--no-masking",
        "--",
        "sh",
        "-c",
        r#"echo "$GMAIL_TOKEN"; echo "$GMAIL_TOKEN" >&2"#,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, format!("{token}\n"));
    assert_eq!(run.stderr, format!("{token}\n"));
}

#[test]
fn two_tokens_are_both_masked() {
    let (emu, cli, gmail) = setup();
    let slack = emu.access_token(SLACK, IDENTIFIER).unwrap();
    let run = cli.run(&[
        "exec",
        "gmail",
        "slack",
        "--",
        "sh",
        "-c",
        r#"echo "$GMAIL_TOKEN $SLACK_TOKEN"; echo "$SLACK_TOKEN" >&2"#,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, format!("{MASK} {MASK}\n"));
    assert_eq!(run.stderr, format!("{MASK}\n"));
    for t in [&gmail, &slack] {
        assert!(!run.stdout.contains(t.as_str()) && !run.stderr.contains(t.as_str()));
    }
}

#[test]
fn the_exit_code_is_passed_through() {
    let (_emu, cli, _) = setup();
    let run = exec_sh(&cli, "echo out; exit 7");
    assert_eq!((run.code, run.stdout.as_str()), (7, "out\n"), "{run:?}");
    let run = cli.run(&["exec", "gmail", "--", "no-such-command-here"]);
    assert_eq!(run.code, 127, "{run:?}");
}

#[test]
fn a_command_killed_by_a_signal_ends_get_token_with_that_signal() {
    let (_emu, cli, _) = setup();
    let out = get_token(
        &cli,
        &["exec", "gmail", "--", "sh", "-c", "echo bye; kill -TERM $$"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{out:?}");
    assert_eq!(out.stdout, b"bye\n");
}

#[test]
fn signals_sent_to_get_token_reach_the_command() {
    let (_emu, cli, _) = setup();
    for (signal, code) in [("TERM", 3), ("INT", 4), ("HUP", 5)] {
        let script = format!(
            "trap 'echo got {signal}; exit {code}' {signal}; echo ready; while :; do sleep 0.05; done"
        );
        let mut child = get_token(&cli, &["exec", "gmail", "--", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, format!("got {signal}\n"));
        assert_eq!(child.wait().unwrap().code(), Some(code), "{signal}");
    }
}

#[test]
fn stdin_is_passed_through() {
    let (_emu, cli, _) = setup();
    let mut child = get_token(&cli, &["exec", "gmail", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"data").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!((out.status.code(), out.stdout), (Some(0), b"data".to_vec()));
}

#[test]
fn large_binary_output_passes_byte_for_byte() {
    let (_emu, cli, _) = setup();
    let out = get_token(
        &cli,
        &[
            "exec",
            "gmail",
            "--",
            "sh",
            "-c",
            "head -c 5000000 /dev/urandom > data.bin && cat data.bin",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let expected = std::fs::read(cli.cwd().join("data.bin")).unwrap();
    assert_eq!(out.stdout.len(), 5_000_000);
    assert!(out.stdout == expected, "the bytes differ");
}

#[test]
fn a_line_reaches_the_reader_before_the_command_ends() {
    let (_emu, cli, _) = setup();
    let mut child = get_token(
        &cli,
        &[
            "exec",
            "gmail",
            "--",
            "sh",
            "-c",
            "echo first; sleep 2; echo second",
        ],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let seen = Instant::now();
    assert_eq!(line, "first\n");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the command still runs"
    );
    stdout.read_line(&mut line).unwrap();
    assert!(
        seen.elapsed() > Duration::from_secs(1),
        "the first line came early"
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn stdout_and_stderr_on_one_pipe_keep_their_order() {
    let (_emu, cli, _) = setup();
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut child = get_token(
        &cli,
        &[
            "exec",
            "gmail",
            "--",
            "sh",
            "-c",
            r#"for i in 1 2 3 4 5; do echo "out $i $GMAIL_TOKEN"; echo "err $i" >&2; done"#,
        ],
    )
    .stdout(writer.try_clone().unwrap())
    .stderr(writer)
    .spawn()
    .unwrap();
    let mut all = String::new();
    reader.read_to_string(&mut all).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let expected: String = (1..=5)
        .map(|i| format!("out {i} {MASK}\nerr {i}\n"))
        .collect();
    assert_eq!(all, expected);
}

#[test]
fn a_timeout_bounds_getting_the_tokens_not_the_command() {
    let (_emu, cli, _) = setup();
    let run = cli.run(&[
        "--timeout=1",
        "exec",
        "gmail",
        "--",
        "sh",
        "-c",
        "sleep 1.5; exit 4",
    ]);
    assert_eq!(run.code, 4, "{run:?}");
}

/// On a terminal nothing is piped: the command sees a terminal, prints as it likes, and get-token says once
/// that the output is not masked. `script` gives the command a pseudo-terminal.
#[test]
fn a_terminal_is_left_to_the_command_unmasked() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no script(1)");
        return;
    }
    let (_emu, cli, token) = setup();
    let inner = format!(
        "{} exec gmail -- sh -c 'test -t 1 && test -t 2 && echo \"tty $GMAIL_TOKEN\"'",
        env!("CARGO_BIN_EXE_get-token")
    );
    let mut script = Command::new("script");
    script.args(["-qec", &inner, "/dev/null"]);
    let cli_env = get_token(&cli, &[]);
    let out = script
        .env_clear()
        .envs(cli_env.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(cli.cwd())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("tty {token}")), "{text}");
    assert_eq!(text.matches("not masked").count(), 1, "{text}");

    // Only stdout piped: it is masked, stderr stays the terminal.
    let inner = format!(
        "{} exec gmail -- sh -c 'test -t 2 && echo \"out $GMAIL_TOKEN\"' | cat",
        env!("CARGO_BIN_EXE_get-token")
    );
    let out = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env_clear()
        .envs(cli_env.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(cli.cwd())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("out {MASK}")), "{text}");
    assert!(!text.contains(&token), "{text}");
    assert!(
        text.contains("stderr is a terminal: it is not masked"),
        "{text}"
    );
}

#[test]
fn a_reader_that_stops_reading_ends_the_command_with_sigpipe() {
    let (_emu, cli, _) = setup();
    let mut child = get_token(&cli, &["exec", "gmail", "--", "yes"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "y\n");
    drop(stdout);
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGPIPE));
}

/// The command starts as it would under `--no-masking` (execve): the same core limit, signal mask and
/// ignored signals, though get-token turned core dumps off and blocks signals for itself.
#[cfg(target_os = "linux")]
#[test]
fn the_command_gets_the_limits_and_signals_get_token_was_given() {
    let (_emu, cli, _) = setup();
    let script = "ulimit -c; exec grep -E '^Sig(Blk|Ign)' /proc/self/status";
    let shell = "ulimit -S -c 1234; trap '' USR1; exec \"$0\" \"$@\"";
    let run = |masking: &[&str]| {
        let mut args = vec![
            "-c",
            shell,
            env!("CARGO_BIN_EXE_get-token"),
            "exec",
            "gmail",
        ];
        args.extend(masking);
        args.extend(["--", "sh", "-c", script]);
        cli.run_program("sh", &args)
    };
    let (masked, plain) = (run(&[]), run(&["--no-masking"]));
    assert_eq!(masked.code, 0, "{masked:?}");
    assert!(masked.stdout.starts_with("1234\n"), "{masked:?}");
    assert_eq!(masked.stdout, plain.stdout);
}
