//! Completions in real shells: each test sources the script `get-token completions SHELL` prints and asks
//! the shell's completion function, as a user pressing Tab would, at the top level, after a subcommand, for
//! options after a subcommand, and for service names from connections.json. bash is always there; fish and
//! zsh are installed by .ci/run, and in CI (`CI` set) their absence is a failure, not a pass.

mod common;

use std::path::Path;

use common::{CONNECTIONS_JSON, Cli};

/// The shell, or `None` where it is not installed outside CI.
fn shell(name: &str) -> Option<&'static str> {
    let path = ["/usr/bin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| Path::new(p).exists());
    match path {
        Some(p) => Some(Box::leak(p.into_boxed_str())),
        None if std::env::var_os("CI").is_some() => {
            panic!("{name} is not installed; .ci/run installs it")
        }
        None => {
            eprintln!(
                "{name} is not installed here: its completion test did not run (CI installs it)"
            );
            None
        }
    }
}

/// A CLI whose PATH finds this build's get-token first (the scripts call it back by name).
fn cli() -> Cli {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_get-token")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cli = Cli::new().var("PATH", &path);
    cli.write_config("connections.json", CONNECTIONS_JSON);
    cli
}

/// What the shell prints, one candidate per line (descriptions after a tab or a colon dropped).
fn offered(cli: &Cli, shell: &str, script: &str) -> Vec<String> {
    let run = cli.run_program(shell, &["-c", script, "completion-test"]);
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout
        .lines()
        .map(|l| l.split(['\t', ':']).next().unwrap_or_default().to_owned())
        .collect()
}

const CASES: &[(&[&str], &[&str])] = &[
    (&["get-token", "st"], &["status"]),
    (
        &["get-token", "config", ""],
        &["add", "remove", "list", "path"],
    ),
    (&["get-token", "status", "--j"], &["--json"]),
    (&["get-token", "doctor", "--"], &["--json", "--env-file"]),
    (&["get-token", "gm"], &["gmail"]),
    (
        &["get-token", "authorize", ""],
        &["gmail", "slack", "ghost"],
    ),
    (&["get-token", "completions", ""], &["bash", "zsh", "fish"]),
];

fn check(shell: &str, script_for: impl Fn(&[&str]) -> String) {
    let cli = cli();
    for (words, expected) in CASES {
        let got = offered(&cli, shell, &script_for(words));
        for e in *expected {
            assert!(
                got.iter().any(|g| g == e),
                "{shell}: {words:?} should offer {e}: {got:?}"
            );
        }
    }
}

fn quoted(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn bash_completes_everywhere() {
    let bash = shell("bash").unwrap();
    check(bash, |words| {
        format!(
            "source <(get-token completions bash) && complete -p get-token >/dev/null && \
             COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
             COMP_POINT=${{#COMP_LINE}}; _clap_complete_get_token get-token \"${{COMP_WORDS[COMP_CWORD]}}\" \
             \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words = quoted(words),
            cword = words.len() - 1,
        )
    });
}

#[test]
fn fish_completes_everywhere() {
    let Some(fish) = shell("fish") else { return };
    check(fish, |words| {
        format!(
            "get-token completions fish | source; complete -C {}",
            format_args!("'{}'", words.join(" "))
        )
    });
}

/// zsh's completion system needs a terminal; the script's own function is called with zsh's `words` and
/// `CURRENT`, and `_describe` (the compsys function it hands the candidates to) prints them instead.
#[test]
fn zsh_completes_everywhere() {
    let Some(zsh) = shell("zsh") else { return };
    let cli = cli();
    for (words, expected) in CASES {
        let script = format!(
            "compdef() {{ : }}; _describe() {{ local a; for a in \"$@\"; do [[ $a == other || $a == dirs ]] && \
             print -l -- \"${{(@P)a}}\"; done }}; source <(get-token completions zsh); words=({}); CURRENT={}; \
             _clap_dynamic_completer_get_token",
            quoted(words),
            words.len()
        );
        let got = offered(&cli, zsh, &script);
        for e in *expected {
            assert!(
                got.iter().any(|g| g == e),
                "zsh: {words:?} should offer {e}: {got:?}"
            );
        }
    }
}
