//! `get-token --version` names the commit it was built from, when it was built from a git checkout.
//! Only `.git/HEAD` and the branch it points at are watched, so the crate is not rebuilt on every `git add`.

use std::path::Path;
use std::process::Command;

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let git = Path::new(".git");
    let text = match commit(git) {
        Some(commit) => format!("{version} (commit {commit})"),
        None => version.to_owned(),
    };
    println!("cargo:rustc-env=TOKENBROKER_VERSION_TEXT={text}");
    if git.is_dir() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
            && let Some(branch) = head.trim().strip_prefix("ref: ")
        {
            println!("cargo:rerun-if-changed=.git/{branch}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn commit(git: &Path) -> Option<String> {
    if !git.exists() {
        return None;
    }
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty() && text.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| text.to_owned())
}
