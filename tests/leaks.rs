//! Secrets never leak: every CLI path and library error is run, and the access token, the API token and the
//! client secret are looked for in stdout (except where the token is the asked-for output), stderr, every
//! `Debug` and `Display`, and every file under HOME, the working directory and the temp dir afterwards.

mod common;

use std::path::Path;

use common::{Cli, IDENTIFIER, activate, emulator};
use tokenbroker_emulator::{Emulator, Fault, Route};

const SECRET: &str = "cs_leakcheck_7f3a9b2e41d0";
const GMAIL: &str = "gmail_u3134a";
const SLACK: &str = "slack_x7y9z";

/// Every file under `dir` whose bytes contain one of `needles`.
fn files_containing(dir: &Path, needles: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                for n in needles {
                    if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                        found.push(format!("{} holds {n}", path.display()));
                    }
                }
            }
        }
    }
    found
}

/// A provider that answers every request with the request itself (as some debugging endpoints do).
fn echo_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                head.push_str(&line);
                line.clear();
            }
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
                head.len()
            );
        }
    });
    addr
}

struct Checked {
    cli: Cli,
    tmp: tempfile::TempDir,
    runs: usize,
}

impl Checked {
    fn new(emu: &Emulator) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let cli = Cli::new()
            .var("SCALEKIT_ENV_URL", &emu.url())
            .var("SCALEKIT_CLIENT_ID", &emu.client_id())
            .var("SCALEKIT_CLIENT_SECRET", SECRET)
            .var("TMPDIR", &tmp.path().display().to_string());
        cli.write_config("connections.json", common::CONNECTIONS_JSON);
        Self { cli, tmp, runs: 0 }
    }

    /// Runs get-token; `token_out` says whether the token is the asked-for output on stdout.
    fn run(&mut self, args: &[&str], token_out: bool, secrets: &[String]) {
        let run = self.cli.run(args);
        self.runs += 1;
        for s in secrets {
            assert!(
                !run.stderr.contains(s.as_str()),
                "{args:?}: stderr holds {s}: {}",
                run.stderr
            );
            let allowed = token_out && !s.starts_with("cs_") && !s.starts_with("emu_api");
            if !allowed {
                assert!(
                    !run.stdout.contains(s.as_str()),
                    "{args:?}: stdout holds {s}: {}",
                    run.stdout
                );
            }
        }
    }
}

#[test]
fn no_cli_path_leaks_a_secret_to_output_or_files() {
    let emu = emulator()
        .client("emulator-client", SECRET)
        .spawn()
        .unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    activate(&emu, SLACK, IDENTIFIER);
    let mut checked = Checked::new(&emu);
    let secrets = || {
        let mut s = vec![
            SECRET.to_owned(),
            emu.access_token(GMAIL, IDENTIFIER).unwrap(),
            emu.access_token(SLACK, IDENTIFIER).unwrap(),
        ];
        s.extend(emu.api_tokens());
        s
    };
    let all = secrets();

    // Success paths: the token is allowed on stdout only where it is the output.
    for (args, token_out) in [
        (&["gmail"][..], true),
        (&["gmail", "slack"], true),
        (&["--format", "env", "gmail", "slack"], true),
        (&["--json", "gmail"], false),
        (&["--json", "--show-token", "gmail"], true),
        (&["--json", "gmail", "slack"], false),
        (
            &["--for-url", "https://slack.com/api/chat.postMessage"],
            true,
        ),
        (&["--wait=5", "gmail"], true),
        (&["status"], false),
        (&["status", "--json"], false),
        (&["doctor"], false),
        (&["doctor", "--json"], false),
        (
            &[
                "exec",
                "gmail",
                "slack",
                "--",
                "sh",
                "-c",
                "test -n \"$GMAIL_TOKEN\"",
            ],
            false,
        ),
        // A command that prints its tokens: exec masks them in its piped output.
        (
            &[
                "exec",
                "gmail",
                "slack",
                "--",
                "sh",
                "-c",
                "echo \"$GMAIL_TOKEN\"; echo \"$SLACK_TOKEN\" >&2",
            ],
            false,
        ),
        (&["config", "list"], false),
        (&["config", "list", "--json"], false),
        (&["authorize", "gmail", "--json"], false),
        (&["--format", "header", "gmail"], true),
        // A command that prints its tokens: masked on both streams.
        (
            &[
                "exec",
                "gmail",
                "slack",
                "--",
                "sh",
                "-c",
                "echo $GMAIL_TOKEN; echo $SLACK_TOKEN >&2",
            ],
            false,
        ),
        (&["wait", "gmail"], true),
        (&["wait", "--json", "gmail"], false),
        (
            &[
                "verify",
                "http://127.0.0.1:9/tokenbroker/verify?auth_request_id=a&state=b",
            ],
            false,
        ),
    ] {
        checked.run(args, token_out, &secrets());
        // -v tells each request to Scalekit on stderr: never a token, the secret or a header.
        let verbose: Vec<&str> = std::iter::once("-v").chain(args.iter().copied()).collect();
        checked.run(&verbose, token_out, &secrets());
    }
    // `api` against a provider that echoes every request it gets, Authorization header included.
    let echo = echo_server();
    let hosts = checked.cli.write(
        "api-connections.json",
        &format!(
            r#"{{"gmail": {{"connection_name": "{GMAIL}", "identifier": "{IDENTIFIER}", "hosts": ["{echo}"]}}}}"#
        ),
    );
    let hosts = hosts.display().to_string();
    for args in [
        &["api"][..],
        &["api", "-i"],
        &["api", "--json"],
        &["api", "-X", "POST", "-d", "{}"],
    ] {
        let url = format!("http://{echo}/echo");
        let mut args = args.to_vec();
        args.extend(["--connections", &hosts, &url]);
        checked.run(&args, false, &secrets());
    }

    // Every failure path.
    emu.set_status(SLACK, IDENTIFIER, "EXPIRED");
    for args in [
        &["slack"][..],
        &["--json", "slack"],
        &["gmail", "slack"],
        &["--json", "gmail", "slack"],
        &["--wait=2", "slack"],
        &["--wait=2", "--json", "slack"],
        &["ghost"],
        &["--json", "ghost"],
        &["nope"],
        &["--for-url", "https://example.com"],
        &["status"],
        &["doctor"],
        &["exec", "slack", "--", "true"],
        &["disconnect", "ghost", "--yes"],
    ] {
        checked.run(args, false, &all);
    }
    // Scalekit echoing what it was sent (the client secret, the API token) back in error bodies.
    emu.inject(Fault::body(
        Route::Auth,
        400,
        format!("{{\"message\": \"bad request from {SECRET}\"}}"),
    ));
    checked.run(&["--json", "gmail"], false, &all);
    for token in emu.api_tokens() {
        emu.inject(Fault::body(
            Route::Auth,
            403,
            format!("{{\"message\": \"token {token} is not allowed\"}}"),
        ));
        checked.run(&["gmail"], false, &all);
        checked.run(&["--json", "gmail"], false, &all);
    }
    emu.inject(Fault::body(
        Route::Token,
        401,
        format!("{{\"error\": \"invalid_client\", \"error_description\": \"{SECRET} is wrong\"}}"),
    ));
    checked.run(&["gmail"], false, &all);
    emu.inject(Fault::status(Route::Auth, 503).times(20));
    checked.run(&["gmail"], false, &all);
    // Wrong credentials: the wrong secret is a secret too.
    let wrong = checked
        .cli
        .clone_without_credentials()
        .var("SCALEKIT_ENV_URL", &emu.url())
        .var("SCALEKIT_CLIENT_ID", &emu.client_id())
        .var("SCALEKIT_CLIENT_SECRET", "cs_wrong_secret_5521");
    for args in [
        &["gmail"][..],
        &["--json", "gmail"],
        &["doctor"],
        &["doctor", "--json"],
    ] {
        let run = wrong.run(args);
        checked.runs += 1;
        assert_eq!(run.code, 5, "{run:?}");
        for text in [&run.stdout, &run.stderr] {
            assert!(
                !text.contains("cs_wrong_secret_5521") && !text.contains(SECRET),
                "{args:?}: {text}"
            );
        }
    }

    // Nothing written anywhere.
    let mut needles = all.clone();
    needles.extend(secrets());
    needles.sort();
    needles.dedup();
    for dir in [
        checked.cli.home.path(),
        checked.cli.cwd(),
        checked.tmp.path(),
    ] {
        let found = files_containing(dir, &needles);
        assert!(found.is_empty(), "{found:?}");
    }
    assert!(checked.runs >= 40, "{} paths checked", checked.runs);
}

#[tokio::test]
async fn library_errors_never_carry_the_api_token_a_server_echoes() {
    let emu = emulator().start().await.unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let broker = common::uncached(&emu);
    broker.get_token("gmail").await.unwrap();
    let [api_token] = <[String; 1]>::try_from(emu.api_tokens()).unwrap();
    for status in [400, 403, 500] {
        emu.inject(Fault::body(
            Route::Auth,
            status,
            format!("{{\"message\": \"rejected {api_token}\"}}"),
        ));
        let e = broker.get_token("gmail").await.unwrap_err();
        for text in [e.to_string(), format!("{e:?}"), e.hint()] {
            assert!(!text.contains(&api_token), "{status}: {text}");
        }
    }
}
