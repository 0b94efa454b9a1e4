//! `get-token init`: the first set-up, with flags and stdin in a script and with prompts at a terminal.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{Cli, emulator};
use tokenbroker::emulator::{Emulator, Fault, Route};

fn env_file(cli: &Cli) -> std::path::PathBuf {
    cli.config_dir().join(".env")
}

fn init(cli: &Cli, emu: &Emulator, extra: &[&str], secret: &str) -> common::Run {
    let url = emu.url();
    let id = emu.client_id();
    let mut args = vec![
        "init",
        "--env-url",
        url.as_str(),
        "--client-id",
        id.as_str(),
    ];
    args.extend_from_slice(extra);
    cli.run_with_input(&args, &format!("{secret}\n"))
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_script_sets_up_with_flags_and_the_secret_on_stdin() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::new();
    let run = init(&cli, &emu, &[], &emu.client_secret());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("saved to"), "{run:?}");
    // The environment's connections, each with the command that adds it.
    assert!(
        run.stderr.contains("config add gmail 'gmail_u3134a'"),
        "{run:?}"
    );
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains(&emu.client_secret()), "{run:?}");
    }
    #[cfg(unix)]
    {
        assert_eq!(mode(&env_file(&cli)), 0o600);
        assert_eq!(mode(&cli.config_dir()), 0o700);
    }
    // That file alone is enough from now on.
    assert_eq!(cli.run(&["config", "add", "gmail", "gmail_u3134a"]).code, 0);
    let run = cli.run(&["gmail"]);
    assert_eq!(run.code, 3, "a link, so the credentials work: {run:?}");

    // Without the flags in a script: what to pass, and nothing read or written.
    let run = Cli::new().run_with_input(&["init"], "x\n");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("--env-url URL and --client-id ID"),
        "{run:?}"
    );
    // The secret is never an option.
    let run = Cli::new().run(&["init", "--client-secret", "x"]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn credentials_are_checked_before_anything_is_written() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::new();
    let run = init(&cli, &emu, &[], "not-the-secret");
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("rejected"), "{run:?}");
    assert!(!env_file(&cli).exists());
    let run = cli.run_with_input(
        &[
            "init",
            "--env-url",
            "http://example.com",
            "--client-id",
            "x",
        ],
        "s\n",
    );
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("use https://"), "{run:?}");
    assert!(!env_file(&cli).exists());
}

#[test]
fn another_set_up_is_replaced_only_with_force() {
    let (first, second) = (emulator().spawn().unwrap(), emulator().spawn().unwrap());
    let cli = Cli::new();
    assert_eq!(init(&cli, &first, &[], &first.client_secret()).code, 0);
    let saved = std::fs::read_to_string(env_file(&cli)).unwrap();
    let run = init(&cli, &first, &[], &first.client_secret());
    assert!(
        run.code == 0 && run.stderr.contains("already set up"),
        "{run:?}"
    );
    let run = init(&cli, &second, &[], &second.client_secret());
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("init --force"), "{run:?}");
    assert_eq!(std::fs::read_to_string(env_file(&cli)).unwrap(), saved);
    let run = init(&cli, &second, &["--force"], &second.client_secret());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        std::fs::read_to_string(env_file(&cli))
            .unwrap()
            .contains(&second.url())
    );
}

#[test]
fn connections_are_added_when_asked_and_a_missing_list_is_tolerated() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::new();
    let run = init(
        &cli,
        &emu,
        &["--add-connections", "--json"],
        &emu.client_secret(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["status"], "ok");
    assert!(
        v["added"].as_array().unwrap().iter().any(|s| s == "gmail"),
        "{v}"
    );
    assert!(run.stderr.is_empty(), "--json: nothing on stderr: {run:?}");
    let list = cli.run(&["config", "list", "--json"]);
    assert!(list.stdout.contains("gmail_u3134a"), "{list:?}");
    // API-key connections are not offered: tokenbroker hands out OAuth tokens only.
    assert!(!list.stdout.contains("fathom"), "{list:?}");

    let emu = emulator().spawn().unwrap();
    emu.inject(Fault::status(Route::AppConnections, 404));
    let run = init(&Cli::new(), &emu, &[], &emu.client_secret());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("Agent Auth > Connections"), "{run:?}");
}

/// At a terminal: prompts, the secret not echoed (the transcript is what a person sees), then a question
/// per connection.
#[test]
fn a_person_is_asked_and_the_secret_is_not_shown() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::new();
    let bin = env!("CARGO_BIN_EXE_get-token");
    let mut child =
        cli.spawn_interactive("script", &["-qfec", &format!("{bin} init"), "/dev/null"]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut answer = |prompt: &str, line: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !seen.lock().unwrap().contains(prompt) {
            assert!(
                Instant::now() < deadline,
                "no {prompt:?} in {}",
                seen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    };
    answer("Environment URL", &emu.url());
    answer("Client ID", &emu.client_id());
    answer("Client secret", &emu.client_secret());
    answer("Add the connection gmail_u3134a", "y");
    answer("Add the connection slack_x7y9z", "n");
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let transcript = seen.lock().unwrap().clone();
    assert!(status.success(), "{transcript}");
    assert!(!transcript.contains(&emu.client_secret()), "{transcript}");
    assert!(transcript.contains("not shown as you type"), "{transcript}");
    let list = cli.run(&["config", "list", "--json"]);
    assert!(list.stdout.contains("gmail_u3134a"), "{list:?}");
    assert!(!list.stdout.contains("slack_x7y9z"), "{list:?}");
}
