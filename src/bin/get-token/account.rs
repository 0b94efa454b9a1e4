//! `get-token authorize` and `get-token disconnect`: acting on the connected account itself.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::json;

use crate::args::{Global, Wait};
use crate::{exit, fetch, output, present, report};

pub(crate) async fn authorize(
    global: &Global,
    service: &str,
    identifier: Option<&str>,
    wait: &Wait,
) -> u8 {
    let broker = match crate::broker(global) {
        Ok(b) => b,
        Err(e) => return report::fail(global, Some(service), &e),
    };
    let auth = match broker.authorization_link(service, identifier).await {
        Ok(auth) => auth,
        Err(e) => return report::fail(global, Some(service), &e),
    };
    let Some(limit) = wait.limit().map(|l| global.within_timeout(l)) else {
        if global.json {
            output::print_json(report::json_authorization(&auth));
        } else {
            // A person at a terminal gets a sentence for them; an agent reading stderr gets the one to relay.
            if std::io::stderr().is_terminal() {
                global.tell(&format!(
                    "get-token: open this link to authorize {} (it expires at {}):",
                    auth.service,
                    auth.expires_at
                        .map_or_else(|| "an unknown time".into(), tokenbroker::rfc3339)
                ));
            } else {
                global.tell(&auth.message());
            }
            output::print(format!("{}\n", auth.url));
        }
        present::link(global, wait.show, &auth.url);
        return exit::OK;
    };
    if !global.json {
        // The link on stdout at once, so a script can hand it on while this process waits.
        output::print(format!("{}\n", auth.url));
    }
    match fetch::wait_listening(&broker, auth, limit, global, wait.show).await {
        Ok(token) => {
            if global.json {
                output::print_json(json!({
                    "status": "ok",
                    "service": service,
                    "connection_name": token.connection_name(),
                    "identifier": token.identifier(),
                    "account_status": "ACTIVE",
                }));
            }
            // Otherwise the wait has said "✓ gmail is authorized." already.
            exit::OK
        }
        Err(e) => report::fail(global, Some(service), &e),
    }
}

/// `get-token verify ADDRESS`: finishes a verification from the address the user copied back; `-` reads it
/// from the first line of stdin, so an agent never splices text from a chat into a shell line.
pub(crate) async fn verify(global: &Global, address: &str) -> u8 {
    let read;
    let address = if address == "-" {
        read = match crate::init::read_line(&mut std::io::stdin().lock()) {
            Ok(line) => line,
            Err(e) => {
                return report::usage(global, &format!("cannot read the address from stdin: {e}"));
            }
        };
        read.trim()
    } else {
        address
    };
    let broker = match crate::broker(global) {
        Ok(b) => b,
        Err(e) => return report::fail(global, None, &e),
    };
    match broker.complete_verification(address).await {
        Ok(done) => {
            if global.json {
                output::print_json(json!({
                    "status": "ok",
                    "service": done.service,
                    "connection_name": done.connection_name,
                    "identifier": done.identifier,
                    "account_status": "ACTIVE",
                }));
            } else {
                global.tell(&format!(
                    "get-token: {} is verified and connected; `get-token {}` gives its token.",
                    done.service, done.service
                ));
            }
            exit::OK
        }
        Err(e) => report::fail(global, None, &e),
    }
}

pub(crate) async fn disconnect(
    global: &Global,
    service: &str,
    identifier: Option<&str>,
    yes: bool,
) -> u8 {
    let broker = match crate::broker(global) {
        Ok(b) => b,
        Err(e) => return report::fail(global, Some(service), &e),
    };
    let target = match broker.resolve(service, identifier) {
        Ok(t) => t,
        Err(e) => return report::fail(global, Some(service), &e),
    };
    let what = format!(
        "{}'s connected account (connection {}, identifier {})",
        target.service, target.connection_name, target.identifier
    );
    if !yes {
        if !std::io::stdin().is_terminal() {
            return report::usage(
                global,
                &format!(
                    "disconnect deletes {what} at Scalekit; not on a terminal, so pass --yes to confirm"
                ),
            );
        }
        eprint!(
            "{}",
            tokenbroker::printable(&format!(
                "Delete {what} at Scalekit? The user will have to authorize again. [y/N] "
            ))
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            output::say("get-token: nothing deleted.");
            return exit::USAGE;
        }
    }
    match broker.disconnect(service, identifier).await {
        Ok(deleted) => {
            if global.json {
                output::print_json(json!({
                    "status": "ok",
                    "service": target.service,
                    "connection_name": target.connection_name,
                    "identifier": target.identifier,
                    "deleted": deleted,
                }));
            } else if deleted {
                global.tell(&format!("get-token: deleted {what}."));
            } else {
                global.tell(&format!(
                    "get-token: Scalekit has no {what}; nothing to delete."
                ));
            }
            exit::OK
        }
        Err(e) => report::fail(global, Some(service), &e),
    }
}
