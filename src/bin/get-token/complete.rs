//! Shell completion. The scripts shells source call get-token back (`COMPLETE=bash get-token -- ...`), so
//! subcommands and options complete at every position from the same clap definition, and service names from
//! the connections.json get-token would read. (clap_complete's static scripts break on a binary name with a
//! hyphen: clap#6421.)

use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
use clap_complete::{CompleteEnv, CompletionCandidate, Shell};

/// Answers a shell asking for completions (`COMPLETE` set), then exits; otherwise returns at once.
pub(crate) fn answer_if_asked() {
    CompleteEnv::with_factory(crate::args::command).complete();
}

/// The script a shell sources, for `get-token completions SHELL`.
pub(crate) fn script(shell: Shell) -> Vec<u8> {
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::Elvish => &Elvish,
        Shell::PowerShell => &Powershell,
        _ => &Bash,
    };
    let mut out = Vec::new();
    // The completer is found on PATH when the shell completes: a reinstalled get-token keeps working.
    let _ =
        completer.write_registration("COMPLETE", "get-token", "get-token", "get-token", &mut out);
    out
}

/// The configured services, for the SERVICE arguments (none when there is no readable connections.json).
pub(crate) fn services() -> Vec<CompletionCandidate> {
    let Ok(file) = tokenbroker::Broker::builder().connections_file() else {
        return Vec::new();
    };
    let Ok(connections) = file.load() else {
        return Vec::new();
    };
    connections
        .iter()
        .map(|(service, c)| {
            CompletionCandidate::new(service).help(Some(c.connection_name.clone().into()))
        })
        .collect()
}
