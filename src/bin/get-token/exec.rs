//! `get-token exec SERVICE... -- COMMAND`: hand tokens to a command through its environment.

use std::ffi::OsString;
use std::process::Command;

use crate::args::{Global, Wait};
use crate::{exit, fetch, harden, output, report};

/// The variable each token goes in: `NAME=SERVICE` names it as the command expects (`SLACK_BOT_TOKEN=slack`);
/// a bare service gets `SERVICE_TOKEN` (`GMAIL_TOKEN`). Two tokens never share a name.
fn bindings(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut bound: Vec<(String, String)> = Vec::new();
    for arg in args {
        let (name, service) = match arg.split_once('=') {
            Some((name, service)) => {
                check_name(name)?;
                (name.to_owned(), service.to_owned())
            }
            None => (output::env_name(arg), arg.clone()),
        };
        if let Some((_, other)) = bound.iter().find(|(n, s)| *n == name && *s != service) {
            return Err(format!(
                "{other} and {service} would both be {name}; name one another way: NAME={service}"
            ));
        }
        bound.push((name, service));
    }
    Ok(bound)
}

fn check_name(name: &str) -> Result<(), String> {
    let valid = name.len() <= 100
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "{:?} is not a variable name: use letters, digits and _, not starting with a digit (for example \
             SLACK_BOT_TOKEN=slack)",
            name.chars().take(40).collect::<String>()
        ));
    }
    if name.starts_with("SCALEKIT_") || name.starts_with("TOKENBROKER_") {
        return Err(format!(
            "{name}: SCALEKIT_* and TOKENBROKER_* are removed from the command's environment; choose another name"
        ));
    }
    Ok(())
}

/// A shell's codes for a command that cannot be found or run.
const NOT_FOUND: u8 = 127;
const CANNOT_RUN: u8 = 126;

pub(crate) async fn run(
    global: &Global,
    args: &[String],
    identifier: Option<&str>,
    wait: &Wait,
    command: &[OsString],
    no_masking: bool,
) -> u8 {
    let bound = match bindings(args) {
        Ok(bound) => bound,
        Err(message) => return report::usage(global, &message),
    };
    let services: Vec<String> = bound.iter().map(|(_, s)| s.clone()).collect();
    let services = &services[..];
    if let Err(message) = fetch::check_wait_syntax(services, wait) {
        return report::usage(global, &message);
    }
    let broker = match crate::broker(global) {
        Ok(b) => b,
        Err(e) => return report::fail(global, None, &e),
    };
    let tokens = fetch::tokens(&broker, services, identifier, wait, global).await;
    let code = crate::first_failure(&tokens);
    if code != exit::OK {
        for (service, outcome) in services.iter().zip(&tokens) {
            if let Err(e) = outcome {
                report::report(global, service, e);
            }
        }
        return code;
    }
    let Some((program, args)) = command.split_first() else {
        return report::usage(global, "exec needs a command after --");
    };
    let mut child = Command::new(program);
    child.args(args);
    // The command gets tokens, not the means to make more: no client secret, no way to reach Scalekit as
    // this user, no tokenbroker settings.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("SCALEKIT_") || name.starts_with("TOKENBROKER_") {
            child.env_remove(name.as_ref());
        }
    }
    for ((name, _), token) in bound
        .iter()
        .zip(&tokens)
        .filter_map(|(b, t)| Some((b, t.as_ref().ok()?)))
    {
        child.env(name, token.expose_secret());
    }
    let failed = |e: std::io::Error| {
        if !global.quiet {
            output::say(&format!(
                "get-token: exec: cannot run {}: {e}",
                program.to_string_lossy()
            ));
        }
        if e.kind() == std::io::ErrorKind::NotFound {
            NOT_FOUND
        } else {
            CANNOT_RUN
        }
    };
    // Masking needs get-token to stay the parent; with nothing to mask the command replaces this process:
    // signals, stdin and the exit status are its own, and no copy of the tokens outlives the call in a
    // waiting parent.
    #[cfg(unix)]
    {
        let plan = crate::supervise::Plan::for_this_process();
        if !no_masking {
            let unmasked = match (plan.stdout, plan.stderr) {
                (true, true) => None,
                (true, false) => Some("stderr is a terminal: it is"),
                (false, true) => Some("stdout is a terminal: it is"),
                (false, false) => Some("output goes to a terminal: it is"),
            };
            if let Some(which) = unmasked {
                global.tell(&format!(
                    "get-token: exec: {which} not masked (a token the command prints there shows)"
                ));
            }
            if plan.stdout || plan.stderr {
                let secrets: Vec<&[u8]> = tokens
                    .iter()
                    .filter_map(|t| Some(t.as_ref().ok()?.expose_secret().as_bytes()))
                    .collect();
                // Blocking on purpose: the command runs past --timeout, which bounds getting the tokens
                // (the timeout future polls this one first, so it never fires while the command runs).
                return crate::supervise::run(child, plan, &secrets).unwrap_or_else(failed);
            }
        }
        harden::restore_for_exec();
        let e = std::os::unix::process::CommandExt::exec(&mut child);
        failed(e)
    }
    #[cfg(not(unix))]
    {
        let _ = no_masking;
        match child.status() {
            Ok(status) => status.code().map_or(exit::UNEXPECTED, |c| c as u8),
            Err(e) => failed(e),
        }
    }
}
