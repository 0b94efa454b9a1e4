//! A person at a terminal: `--qr` draws the link, `--open` hands it to the browser, and waiting shows a live
//! countdown on a terminal (and nothing of the sort when stderr is a pipe).

mod common;

use common::{Cli, emulator};

#[test]
fn qr_draws_the_link_on_stderr() {
    let emu = emulator().spawn().unwrap();
    let run = Cli::on(&emu).run(&["--qr", "gmail"]);
    assert_eq!(run.code, 3, "{run:?}");
    let art: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.chars().any(|c| matches!(c, '█' | '▀' | '▄')))
        .collect();
    assert!(art.len() >= 10, "{}", run.stderr);
    let width = art[0].chars().count();
    assert!(
        art.iter().all(|l| l.chars().count() == width),
        "a square code"
    );
    assert!(run.stdout.is_empty());
    // Not with --json or --quiet: stderr stays clean there.
    assert!(
        Cli::on(&emu)
            .run(&["--qr", "--json", "gmail"])
            .stderr
            .is_empty()
    );
}

#[test]
fn open_gives_the_browser_the_link_as_one_argument() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    let log = cli.cwd().join("opened");
    let opener = cli.write(
        "bin/xdg-open",
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$#\" \"$1\" > '{}'\n",
            log.display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        opener.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cli = cli.var("PATH", &path);
    let run = cli.run(&["authorize", "gmail", "--open"]);
    assert_eq!(run.code, 0, "{run:?}");
    let opened = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert_eq!(opened, format!("1\n{}", run.stdout), "{run:?}");
}

#[test]
fn waiting_counts_down_on_a_terminal_only() {
    let emu = emulator().spawn().unwrap();
    let cli = Cli::on(&emu);
    // `script` gives the child a terminal; its transcript is what a person would see.
    let bin = env!("CARGO_BIN_EXE_get-token");
    let run = cli.run_program(
        "script",
        &["-qec", &format!("{bin} --wait=3 gmail"), "/dev/null"],
    );
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("s left"), "{:?}", run.stdout);
    let piped = cli.run(&["--wait=2", "gmail"]);
    assert!(!piped.stderr.contains("s left"), "{}", piped.stderr);
}

#[test]
fn get_token_alone_is_an_overview_on_a_terminal_and_a_usage_error_in_a_script() {
    let cli = Cli::new();
    let bin = env!("CARGO_BIN_EXE_get-token");
    let run = cli.run_program("script", &["-qec", bin, "/dev/null"]);
    assert_eq!(run.code, 0, "{run:?}");
    for needle in [
        "get-token api URL",
        "get-token status",
        "connections.json",
        "get-token --help",
    ] {
        assert!(run.stdout.contains(needle), "{needle}: {}", run.stdout);
    }
    let run = cli.run(&[]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    assert!(run.stderr.contains("get-token api URL"), "{}", run.stderr);
}

#[test]
fn a_mistyped_command_gets_a_did_you_mean() {
    let emu = emulator().spawn().unwrap();
    let run = Cli::on(&emu).run(&["stauts"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("did you mean `get-token status`"),
        "{}",
        run.stderr
    );
    // A configured service of that name is fetched, as before.
    let run = Cli::on(&emu).run(&["gmial"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr.contains("did you mean \"gmail\""),
        "{}",
        run.stderr
    );
}

#[test]
fn version_names_the_commit_when_built_from_git() {
    let run = Cli::new().run(&["--version"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .starts_with(&format!("get-token {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        run.stdout
    );
    if std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.git")).exists() {
        assert!(run.stdout.contains("(commit "), "{}", run.stdout);
    }
}

/// Colour on a terminal only, and never with NO_COLOR: doctor's marks and the error label.
#[test]
fn colour_on_a_terminal_only_and_never_with_no_color() {
    let cli = Cli::new();
    let bin = env!("CARGO_BIN_EXE_get-token");
    let run = cli.run_program("script", &["-qec", &format!("{bin} doctor"), "/dev/null"]);
    assert!(
        run.stdout.contains("\u{1b}[31m✗\u{1b}[0m"),
        "{:?}",
        run.stdout
    );
    let plain = Cli::new()
        .var("NO_COLOR", "1")
        .run_program("script", &["-qec", &format!("{bin} doctor"), "/dev/null"]);
    assert!(
        plain.stdout.contains('✗') && !plain.stdout.contains('\u{1b}'),
        "{:?}",
        plain.stdout
    );
    let piped = cli.run(&["doctor"]);
    assert!(!piped.stdout.contains('\u{1b}') && !piped.stderr.contains('\u{1b}'));
}
