//! `get-token init`: the first set-up, with flags and stdin in a script and with prompts at a terminal.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{Cli, emulator};
use tokenbroker_emulator::{Emulator, Fault, Route};

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

/// A get-token run on a terminal (through `script`): what it shows, and a way to answer its prompts.
struct Terminal {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    seen: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    fn start(cli: &Cli, shell_line: &str) -> Self {
        let mut child = cli.spawn_interactive("script", &["-qfec", shell_line, "/dev/null"]);
        let stdin = child.stdin.take();
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
        Self {
            child,
            stdin,
            seen,
            reader: Some(reader),
        }
    }

    /// Waits for `prompt` (when given) on the terminal, then types `line`.
    fn answer(&mut self, prompt: Option<&str>, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(prompt) = prompt
            && !self.seen.lock().unwrap().contains(prompt)
        {
            assert!(
                Instant::now() < deadline,
                "no {prompt:?} in {}",
                self.seen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Ends the input; the exit status and everything the terminal showed.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        self.reader.take().unwrap().join().unwrap();
        let transcript = self.seen.lock().unwrap().clone();
        (status, transcript)
    }
}

/// At a terminal: prompts, the secret not echoed (the transcript is what a person sees), then a question
/// per connection.
#[test]
fn a_person_is_asked_and_the_secret_is_not_shown() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::new();
    let bin = env!("CARGO_BIN_EXE_get-token");
    let mut term = Terminal::start(&cli, &format!("{bin} init"));
    // Newcomer review 2, F7: a wrong URL is said at once and asked again, before the rest.
    term.answer(Some("Environment URL"), "127.0.0.1:8787");
    term.answer(Some("That is not an environment URL"), &emu.url());
    term.answer(Some("Client ID"), &emu.client_id());
    term.answer(Some("Client secret"), &emu.client_secret());
    term.answer(Some("Add the connection gmail_u3134a"), "y");
    term.answer(Some("Add the connection slack_x7y9z"), "n");
    let (status, transcript) = term.finish();
    assert!(status.success(), "{transcript}");
    assert!(!transcript.contains(&emu.client_secret()), "{transcript}");
    assert!(transcript.contains("not shown as you type"), "{transcript}");
    let url_again = transcript.find("That is not an environment URL").unwrap();
    assert!(
        url_again < transcript.find("Client ID").unwrap(),
        "before the client ID: {transcript}"
    );
    let list = cli.run(&["config", "list", "--json"]);
    assert!(list.stdout.contains("gmail_u3134a"), "{list:?}");
    assert!(!list.stdout.contains("slack_x7y9z"), "{list:?}");
}

/// Review 2, M-C: Enter at the secret prompt kept the saved secret for a newly typed URL, and it was sent
/// there before the --force check. Now it is offered only for the saved URL and client ID.
#[test]
fn the_saved_secret_is_never_sent_to_another_environment() {
    let (saved, other) = (emulator().spawn().unwrap(), emulator().spawn().unwrap());
    let cli = Cli::new();
    assert_eq!(init(&cli, &saved, &[], &saved.client_secret()).code, 0);
    let bin = env!("CARGO_BIN_EXE_get-token");
    let line = format!(
        "{bin} init --env-url {} --client-id {}",
        other.url(),
        saved.client_id()
    );
    let mut term = Terminal::start(&cli, &line);
    term.answer(Some("Client secret"), "");
    let (status, transcript) = term.finish();
    assert!(!status.success(), "{transcript}");
    assert!(
        !transcript.contains("Enter keeps the saved one"),
        "{transcript}"
    );
    assert!(transcript.contains("type the secret of"), "{transcript}");
    assert_eq!(
        other.requests(Route::Token),
        0,
        "nothing sent: {transcript}"
    );

    // The saved URL and client ID: Enter keeps the saved secret, which is checked where it was saved.
    let line = format!(
        "{bin} init --add-connections --env-url {} --client-id {}",
        saved.url(),
        saved.client_id()
    );
    let mut term = Terminal::start(&cli, &line);
    term.answer(Some("Enter keeps the saved one"), "");
    let (status, transcript) = term.finish();
    assert!(status.success(), "{transcript}");
    assert!(transcript.contains("already set up"), "{transcript}");

    // The library refuses it too.
    let kept = tokenbroker::Credentials::from_env_file(&env_file(&cli)).unwrap();
    assert!(
        kept.with_secret_for(&other.url(), &saved.client_id())
            .is_err()
    );
    assert!(kept.with_secret_for(&saved.url(), "another-id").is_err());
    assert!(
        kept.with_secret_for(&saved.url(), &saved.client_id())
            .is_ok()
    );
}

/// Review 2, M-C: without --force, credentials for another set-up are not even checked (nothing is sent).
#[test]
fn nothing_is_sent_before_the_force_decision() {
    let (saved, other) = (emulator().spawn().unwrap(), emulator().spawn().unwrap());
    let cli = Cli::new();
    assert_eq!(init(&cli, &saved, &[], &saved.client_secret()).code, 0);
    let run = init(&cli, &other, &[], &other.client_secret());
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("nothing was changed or sent"),
        "{run:?}"
    );
    assert_eq!(other.requests(Route::Token), 0, "{run:?}");
}

/// Review 2, L-I: stdin a terminal but stderr redirected (`2>log`): what is typed is still not echoed.
#[test]
fn a_typed_secret_is_not_echoed_when_stderr_is_redirected() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::new();
    let bin = env!("CARGO_BIN_EXE_get-token");
    let line = format!(
        "{bin} init --env-url {} --client-id {} 2>/dev/null",
        emu.url(),
        emu.client_id()
    );
    let mut term = Terminal::start(&cli, &line);
    // No prompt is shown (stderr is not the terminal): the secret is typed once the program waits for it
    // (it starts in milliseconds; a line typed before its echo goes off would be flushed, not echoed).
    std::thread::sleep(Duration::from_millis(1500));
    term.answer(None, &emu.client_secret());
    let (status, transcript) = term.finish();
    assert!(status.success(), "{transcript}");
    assert!(!transcript.contains(&emu.client_secret()), "{transcript}");
    assert!(env_file(&cli).exists());
}

/// Review 2, L-H: connection names come from the environment (untrusted): the suggested `config add` line
/// quotes them, and a name a shell would read as commands runs nothing when the line is run.
#[test]
fn hostile_connection_names_are_quoted_in_the_suggested_commands() {
    let cli = Cli::new();
    let marker = cli.cwd().join("pwned-by-init");
    let hostile = format!("crm;{{touch,{}}};#", marker.display());
    let emu = emulator().connection(&hostile).spawn().unwrap();
    let run = init(&cli, &emu, &[], &emu.client_secret());
    assert_eq!(run.code, 0, "{run:?}");
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("config add") && l.contains("crm"))
        .unwrap_or_else(|| panic!("{run:?}"));
    let command = &line[line.find("config add").unwrap()..];
    let shell = Cli::new();
    let ran = shell.run_program("bash", &["-c", &format!("true {command}")]);
    assert_eq!(ran.code, 0, "{line}: {ran:?}");
    assert!(
        !marker.exists(),
        "the suggested line ran part of the name: {line}"
    );
}
