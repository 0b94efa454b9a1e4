//! The newcomer review's smaller friction points (../shared/reference/newcomer-review.md, by number), each
//! as the user met it: the command, and what they now get.

mod common;

use common::{Cli, IDENTIFIER, activate, emulator};

const GMAIL: &str = "gmail_u3134a";
const SLACK: &str = "slack_x7y9z";

/// #17: `--format json` is the same as `--json`, also for `--show-token`; without JSON the error says what
/// to add.
#[test]
fn show_token_goes_with_either_json_spelling() {
    let emu = emulator().spawn().unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);
    let run = cli.run(&["--format", "json", "--show-token", "gmail"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["token"], emu.access_token(GMAIL, IDENTIFIER).unwrap());
    let run = cli.run(&["--show-token", "gmail"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("add --json (or --format json)"),
        "{run:?}"
    );
    assert!(run.stdout.is_empty(), "no token printed: {run:?}");
}

/// #18, #19: `-u` works for `config add` too; `version` typed as a word says which flag was meant.
#[test]
fn short_identifier_everywhere_and_version_is_not_a_service() {
    let cli = Cli::new();
    let run = cli.run(&["config", "add", "github", "github_1", "-u", "octocat"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = cli.run(&["config", "list", "--json"]);
    assert!(run.stdout.contains("octocat"), "{run:?}");
    let run = cli.run(&["version"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("did you mean `get-token --version`"),
        "{run:?}"
    );
}

/// #29: with `--json`, even a usage error is one JSON object on stdout.
#[test]
fn usage_errors_are_json_under_json() {
    let run = Cli::new().run(&["--json", "--bogus", "gmail"]);
    assert_eq!(run.code, 2, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["code"].as_str()),
        (Some("error"), Some("usage"))
    );
    assert!(v["message"].as_str().unwrap().contains("--bogus"), "{v}");
    assert!(run.stderr.is_empty(), "{run:?}");
}

/// #21: `NAME=SERVICE` puts a token in the variable a tool expects; a forgotten `--` gets a tip.
#[test]
fn exec_names_the_variables_and_explains_the_separator() {
    let emu = emulator().spawn().unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    activate(&emu, SLACK, IDENTIFIER);
    let cli = Cli::on(&emu);
    let run = cli.run(&[
        "exec",
        "SLACK_BOT_TOKEN=slack",
        "gmail",
        "--",
        "sh",
        "-c",
        "test -n \"$SLACK_BOT_TOKEN\" && test -z \"$SLACK_TOKEN\" && test -n \"$GMAIL_TOKEN\" && \
         test \"$SLACK_BOT_TOKEN\" != \"$GMAIL_TOKEN\"",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    for (bad, says) in [
        ("9X=gmail", "is not a variable name"),
        ("SCALEKIT_X=gmail", "removed from the command's environment"),
    ] {
        let run = cli.run(&["exec", bad, "--", "true"]);
        assert!(run.code == 2 && run.stderr.contains(says), "{bad}: {run:?}");
    }
    let run = cli.run(&["exec", "A=gmail", "A=slack", "--", "true"]);
    assert!(
        run.code == 2 && run.stderr.contains("would both be A"),
        "{run:?}"
    );
    let run = cli.run(&["exec", "gmail", "env"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("get-token exec gmail -- env"),
        "{run:?}"
    );
}

/// #20, #27: sentences read right; a bare host works for `--for-url`, and the URL is said once.
#[test]
fn wording_and_bare_hosts() {
    let emu = emulator().spawn().unwrap();
    activate(&emu, GMAIL, IDENTIFIER);
    let cli = Cli::on(&emu);
    let run = cli.run(&["disconnect", "slack", "--yes"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("Scalekit has no slack's connected account"),
        "{run:?}"
    );
    let run = cli.run(&["-u", "dave", "authorize", "gmail", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = cli.run(&["--wait=1", "-u", IDENTIFIER, "authorize", "gmail"]);
    assert!(
        run.stderr.contains("gmail is being authorized again") && run.stderr.contains(", as given"),
        "an active account is not said to need authorization: {run:?}"
    );

    let run = cli.run(&[
        "--for-url",
        "gmail.googleapis.com/gmail/v1/users/me/profile",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        emu.access_token(GMAIL, IDENTIFIER).unwrap()
    );
    let url = "https://www.googleapis.com/calendar/v3/calendars";
    let run = cli.run(&["--for-url", url]);
    assert_eq!(run.code, 4, "{run:?}");
    assert_eq!(run.stderr.matches(url).count(), 1, "{run:?}");
    assert!(run.stderr.contains("(case, '-' and '_' aside)"), "{run:?}");
}

/// #15, #26: a wait that succeeds says so; nothing to show prints no table header on stdout, and an empty
/// configuration says how to add a service.
#[test]
fn no_lone_headers_and_a_tick_after_waiting() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    let run = cli.run(&["status", "gmial"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    let run = Cli::new().run(&["config", "list"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.is_empty() && run.stderr.contains("config add SERVICE"),
        "{run:?}"
    );

    let mut running = cli.spawn(&["--wait=30", "gmail"]);
    let line = running.stderr_line_with("/magic/");
    let link = line.trim();
    assert!(emu.approve_link(link), "{link}");
    let run = running.finish();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("✓ gmail is authorized."), "{run:?}");
}

/// #4: a wrong connection name is a wrong connection name in `get-token`, `status` and `doctor` (exit 4,
/// the environment's names, a did-you-mean), not NOT_CONNECTED with advice to authorize; when Scalekit does
/// not list its connections, `doctor` still tells it by asking for a link.
#[test]
fn a_wrong_connection_name_is_said_as_such_everywhere() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    cli.write_config(
        "connections.json",
        r#"{"gmail": {"connection_name": "gmail_u3134b"}, "slack": {"connection_name": "slack_x7y9z"}}"#,
    );
    for args in [
        &["gmail"][..],
        &["status"],
        &["doctor"],
        &["doctor", "gmail"],
    ] {
        let run = cli.run(args);
        assert_eq!(run.code, 4, "{args:?}: {run:?}");
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            all.contains("connection \"gmail_u3134b\" (service gmail) does not exist")
                && all.contains("did you mean \"gmail_u3134a\"")
                && all.contains("config add gmail gmail_u3134a")
                && !all.contains("authorize gmail"),
            "{args:?}: {all}"
        );
    }
    let run = cli.run(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["services"][0]["code"], "unknown_connection", "{v}");
    assert_eq!(v["services"][1]["account_status"], "NOT_CONNECTED", "{v}");

    // An environment without the list: doctor asks for a link, which Scalekit refuses for an unknown name.
    emu.inject(
        tokenbroker_emulator::Fault::status(tokenbroker_emulator::Route::AppConnections, 404)
            .times(10),
    );
    let run = cli.run(&["doctor", "gmail"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stdout.contains("does not exist"), "{run:?}");
}

/// #12: each subcommand's help shows only the shared options that apply to it, under their own heading;
/// a bad $TOKENBROKER_VERIFY_PORT is a usage error that says so.
#[test]
fn each_subcommand_shows_its_own_options() {
    let cli = Cli::new();
    let help = |args: &[&str]| cli.run(args).stdout;
    let completions = help(&["completions", "--help"]);
    for absent in ["--timeout", "--env-file", "--json", "--verify-port"] {
        assert!(
            !completions.contains(absent),
            "completions: {absent}\n{completions}"
        );
    }
    let status = help(&["status", "--help"]);
    assert!(
        status.contains("Shared options:") && status.contains("--json"),
        "{status}"
    );
    assert!(!status.contains("--verify-port"), "{status}");
    let config = help(&["config", "add", "--help"]);
    assert!(
        !config.contains("--timeout") && config.contains("--connections"),
        "{config}"
    );
    let top = help(&["--help"]);
    assert!(
        top.contains("--verify-port") && top.contains("init") && top.contains("mcp"),
        "{top}"
    );

    let run = Cli::new()
        .var("TOKENBROKER_VERIFY_PORT", "http")
        .run(&["status"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("TOKENBROKER_VERIFY_PORT"), "{run:?}");
}

/// #12, #13, #20: `help --help` helps; an invalid name's hint fits a value from the command line; config
/// says where it wrote.
#[test]
fn help_help_and_hints_for_values_from_flags() {
    let cli = Cli::new();
    let run = cli.run(&["help", "--help"]);
    assert!(run.code == 0 && run.stdout.contains("Usage:"), "{run:?}");
    let run = cli.run(&["config", "add", "Gmail Work", "gmail_1"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr.contains("give a valid service name") && !run.stderr.contains("fix the file"),
        "{run:?}"
    );
    let run = cli.run(&["config", "add", "gmail", "gmail_1"]);
    assert!(run.stderr.contains("added gmail to "), "{run:?}");
    let run = cli.run(&["config", "remove", "gmail"]);
    assert!(run.stderr.contains("removed gmail from "), "{run:?}");
}
