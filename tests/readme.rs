//! The README's quick start and emulator walkthrough, run as written, in a fresh HOME: the commands are read
//! from README.md itself, so a change there that breaks them breaks this test. `cargo` lines run what cargo
//! would run (the built example or binary); the test plays the user who opens the link and presses Approve.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Cli;

const README: &str = include_str!("../README.md");

/// The shell block that follows `marker` in README.md, one command per line, comments dropped.
fn block_after(marker: &str) -> Vec<String> {
    let start = README
        .find(marker)
        .unwrap_or_else(|| panic!("README.md no longer says {marker:?}"));
    let rest = &README[start..];
    let open = rest.find("```sh\n").expect("a ```sh block") + "```sh\n".len();
    let close = rest[open..].find("```").expect("the block's end");
    rest[open..open + close]
        .lines()
        .map(|line| line.split(" #").next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// `cargo run -p tokenbroker-emulator`: the emulator's binary, built as cargo would (it is another package of
/// the workspace, so it is not among this test's `CARGO_BIN_EXE_*`), beside this test's own target directory.
fn emulator_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "tokenbroker-emulator"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "cargo build -p tokenbroker-emulator");
    // This test runs from target/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("tokenbroker-emulator")
}

/// `cargo run --example NAME`: the example, built as cargo would (already built by `cargo test`; built now
/// when this test runs alone).
fn example(name: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "cargo build --example {name}");
    let deps = std::env::current_exe().unwrap();
    deps.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(name)
}

/// The words of a command line, `~/` made the test's HOME (as the shell would).
fn words(line: &str, home: &Path) -> Vec<String> {
    line.split_whitespace()
        .map(|w| match w.strip_prefix("~/") {
            Some(rest) => home.join(rest).display().to_string(),
            None => w.to_owned(),
        })
        .collect()
}

struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn quick_start_runs_as_written() {
    let lines = block_after("## Quick start");
    assert_eq!(lines.len(), 2, "{lines:?}");
    let cli = Cli::new();
    for line in lines {
        match line.as_str() {
            "cargo run --example demo" => {
                let run = cli.run_program(example("demo"), &[]);
                assert_eq!(run.code, 0, "{run:?}");
                assert!(run.stdout.contains("token"), "{run:?}");
            }
            // This suite is what that line runs; CI runs it through .ci/run.
            "cargo test" => {}
            other => panic!("README's quick start has a line this test cannot run: {other}"),
        }
    }
}

/// Terminal 1 starts the emulator, terminal 2 configures gmail, waits while the "user" approves in a
/// "browser", then gets the token again at once.
#[test]
fn emulator_walkthrough_runs_as_written() {
    let lines = block_after("Run it on its own, in a second terminal");
    let cli = Cli::new();
    let home = cli.home.path().to_owned();
    let mut emulator = None;
    let mut tokens = Vec::new();
    for line in &lines {
        if let Some(args) = line.strip_prefix("cargo run -p tokenbroker-emulator --") {
            let args = self::words(args, &home);
            let child = Command::new(emulator_binary())
                .args(&args)
                .env_clear()
                .env("HOME", &home)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            emulator = Some(Background(child));
            wait_for_file(&home.join(".config/tokenbroker/.env"));
        } else if let Some(rest) = line
            .strip_prefix("cargo run -q --bin get-token --")
            .or_else(|| line.strip_prefix("get-token"))
        {
            let words = self::words(rest, &home);
            let args: Vec<&str> = words.iter().map(String::as_str).collect();
            let run = if args.iter().any(|a| a.starts_with("--wait")) {
                let mut running = cli.spawn(&args);
                let line = running.stderr_line_with("http://");
                approve(line.trim());
                running.finish()
            } else {
                cli.run(&args)
            };
            assert_eq!(run.code, 0, "{line}: {run:?}");
            if !run.stdout.trim().is_empty() {
                tokens.push(run.stdout.trim().to_owned());
            }
        } else {
            panic!("README's walkthrough has a line this test cannot run: {line}");
        }
    }
    assert!(emulator.is_some(), "the walkthrough starts the emulator");
    assert_eq!(
        tokens.len(),
        2,
        "a token after approving, then again: {tokens:?}"
    );
    assert_eq!(tokens[0], tokens[1], "the same token, served at once");
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < deadline, "no {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the user's browser does: open the link, press Approve, follow the redirects (to get-token's
/// listener, which completes the verification).
fn approve(link: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let browser = reqwest::Client::new();
        let page = browser.get(link).send().await.unwrap();
        assert!(page.status().is_success(), "{page:?}");
        let done = browser
            .post(format!("{link}/approve"))
            .send()
            .await
            .unwrap();
        let url = done.url().to_string();
        let text = done.text().await.unwrap();
        assert!(
            text.contains("connected") || text.contains("Connected"),
            "ended at {url}: {text}"
        );
    });
}

/// Every path README's Layout table names exists (files and directories alike).
#[test]
fn the_layout_table_names_only_paths_that_exist() {
    let start = README.find("## Layout\n").expect("a Layout section");
    let section = &README[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut named = 0;
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let first = row.split(" | ").next().unwrap_or_default();
        for path in first.split('`').skip(1).step_by(2) {
            assert!(
                root.join(path).exists(),
                "README's Layout names {path}, which does not exist"
            );
            named += 1;
        }
        // The files a row names in its description (`name.rs`) exist under its directory.
        let dir = first.split('`').nth(1).unwrap_or_default();
        if dir.ends_with('/') {
            let description = row.split(" | ").nth(1).unwrap_or_default();
            for file in description
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|f| f.ends_with(".rs") || f.ends_with('/'))
            {
                assert!(
                    root.join(dir).join(file).exists(),
                    "README's Layout names {dir}{file}, which does not exist"
                );
                named += 1;
            }
        }
    }
    assert!(named >= 30, "only {named} paths found in the Layout table");
}
