//! `get-token SERVICE...` and `get-token wait SERVICE...`: print tokens.

use std::time::Duration;

use tokenbroker::{AccessToken, Error};

use crate::args::{Cli, Format, Global, Show};
use crate::{exit, fetch, output, present, report};

/// How tokens are printed.
pub(crate) struct Delivery<'a> {
    pub(crate) global: &'a Global,
    pub(crate) format: Format,
    pub(crate) show_token: bool,
    pub(crate) no_newline: bool,
    pub(crate) show: Show,
}

pub(crate) async fn run(cli: &Cli) -> u8 {
    let fetch = &cli.fetch;
    let delivery = Delivery {
        global: &cli.global,
        format: cli.format(),
        show_token: fetch.show_token,
        no_newline: fetch.no_newline,
        show: fetch.wait.show,
    };
    let global = delivery.global;
    if let Err(message) = delivery
        .check(&fetch.services)
        .and_then(|()| fetch::check_wait_syntax(&fetch.services, &fetch.wait))
    {
        return report::usage(global, &message);
    }
    let broker = crate::broker(global);
    if let Some(message) = mistyped_command(broker.as_ref().ok(), &fetch.services) {
        return report::usage(global, &message);
    }
    let services: Vec<String> = match (&fetch.for_url, &broker) {
        // The message names the URL: no label in front of it.
        (Some(url), Ok(b)) => match b.connections().service_for_url(&with_scheme(url)) {
            Ok(service) => vec![service.to_owned()],
            Err(e) => return report::fail(global, None, &e.into()),
        },
        (Some(_), Err(e)) => return report::fail(global, None, e),
        (None, _) => fetch.services.clone(),
    };
    let outcomes: Vec<Result<AccessToken, Error>> = match &broker {
        Ok(broker) => {
            let identifier = fetch.who.identifier.as_deref();
            fetch::tokens(broker, &services, identifier, &fetch.wait, global).await
        }
        Err(e) => services.iter().map(|_| Err(e.clone())).collect(),
    };
    delivery.deliver(&services, &outcomes)
}

/// `get-token stauts`: not a configured service, and close to a command's name: most likely a typo of the
/// command, not a service to fetch.
fn mistyped_command(broker: Option<&tokenbroker::Broker>, services: &[String]) -> Option<String> {
    let cli = crate::args::command();
    services
        .iter()
        .filter(|s| broker.is_none_or(|b| b.connections().get(s).is_err()))
        .find_map(|s| {
            if let Some(habit) = habit(s, services) {
                return Some(habit);
            }
            if s == "version" {
                return Some(
                    "\"version\" is not a configured service; did you mean `get-token --version`?"
                        .into(),
                );
            }
            let close = cli
                .get_subcommands()
                .map(|c| c.get_name())
                .filter(|name| strsim::jaro_winkler(name, s) > 0.85)
                .max_by(|a, b| strsim::jaro_winkler(a, s).total_cmp(&strsim::jaro_winkler(b, s)))?;
            Some(format!(
                "\"{s}\" is neither a configured service nor a command; did you mean `get-token {close}`?"
            ))
        })
}

/// Commands other tools have that get-token names differently (gh, gcloud, aws habits): told before any
/// request, since `get-token logout gmail` would otherwise ask Scalekit for a link for "logout" and gmail.
fn habit(word: &str, services: &[String]) -> Option<String> {
    let rest = services
        .iter()
        .skip(1)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let service = if rest.is_empty() {
        "SERVICE"
    } else {
        rest.as_str()
    };
    Some(match word {
        "login" | "signin" | "setup" | "configure" => format!(
            "get-token has no `{word}` command: set up with `get-token init`; then authorize a service with \
             `get-token authorize {service}`"
        ),
        "auth" => format!(
            "get-token has no `auth` command: `get-token init` sets up the Scalekit credentials (as `gh auth \
             login` does); `get-token authorize {service}` connects an account; `get-token status` shows them"
        ),
        "logout" | "signout" | "revoke" => format!(
            "get-token has no `{word}` command: `get-token disconnect {service}` removes the account's \
             authorization at Scalekit; `get-token config remove {service}` forgets the service here"
        ),
        "list" | "ls" => {
            "get-token has no `list` command: `get-token config list` shows the configured \
                          services, `get-token status` whether each is ready"
                .into()
        }
        _ => return None,
    })
}

/// `--for-url gmail.googleapis.com/...`: a bare host means https, the only scheme a token goes to.
fn with_scheme(url: &str) -> String {
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    }
}

/// `get-token wait`: the same output as `get-token SERVICE`, after waiting without asking for links.
pub(crate) async fn wait(
    delivery: &Delivery<'_>,
    services: &[String],
    identifier: Option<&str>,
    limit: Duration,
    link_expires: Option<std::time::SystemTime>,
) -> u8 {
    let global = delivery.global;
    if let Err(message) = delivery.check(services) {
        return report::usage(global, &message);
    }
    let outcomes = match crate::broker(global) {
        Ok(broker) => {
            fetch::wait_only(
                &broker,
                services,
                identifier,
                global.within_timeout(limit),
                link_expires,
                global,
            )
            .await
        }
        Err(e) => services.iter().map(|_| Err(e.clone())).collect(),
    };
    delivery.deliver(services, &outcomes)
}

impl Delivery<'_> {
    /// Combinations that cannot be printed.
    fn check(&self, services: &[String]) -> Result<(), String> {
        if self.show_token && self.format != Format::Json {
            return Err(
                "--show-token puts the token in the JSON object: add --json (or --format json)"
                    .into(),
            );
        }
        if self.no_newline && (services.len() > 1 || self.format != Format::Plain) {
            return Err("--no-newline only applies to one service in plain format".into());
        }
        if self.format == Format::Header && services.len() > 1 {
            return Err("--format header prints one Authorization header; give one service".into());
        }
        if self.format == Format::Env {
            output::distinct_env_names(services)?;
        }
        Ok(())
    }

    /// Prints the outcomes: the tokens (or one JSON object) on stdout, failures on stderr. The first failure
    /// in argument order sets the exit code, and leaves stdout empty outside JSON: a script must never read
    /// half a set of tokens.
    fn deliver(&self, services: &[String], outcomes: &[Result<AccessToken, Error>]) -> u8 {
        let (global, format) = (self.global, self.format);
        let code = crate::first_failure(outcomes);
        if format == Format::Json {
            let results: Vec<_> = services
                .iter()
                .zip(outcomes)
                .map(|(s, o)| report::json_result(s, o, self.show_token))
                .collect();
            let value = match <[_; 1]>::try_from(results) {
                Ok([one]) => one,
                Err(results) => serde_json::json!({
                    "status": if code == exit::OK { "ok" } else { "partial" },
                    "results": results,
                }),
            };
            return if output::print_json(value) {
                code
            } else {
                exit::UNEXPECTED
            };
        }
        for (service, outcome) in services.iter().zip(outcomes) {
            if let Err(e) = outcome {
                report::report(global, service, e);
                if let Some(auth) = e.authorization() {
                    present::link(global, self.show, &auth.url);
                }
            }
        }
        let tokens = services
            .iter()
            .zip(outcomes)
            .filter_map(|(s, o)| Some((s, o.as_ref().ok()?)));
        let text: String = match format {
            _ if code != exit::OK => String::new(),
            Format::Env => tokens
                .map(|(s, t)| {
                    format!(
                        "export {}={}\n",
                        output::env_name(s),
                        output::shell_quote(t.expose_secret())
                    )
                })
                .collect(),
            Format::Header => tokens
                .map(|(_, t)| format!("Authorization: Bearer {}\n", t.expose_secret()))
                .collect(),
            Format::Plain | Format::Json => {
                let end = if self.no_newline { "" } else { "\n" };
                tokens
                    .map(|(_, t)| format!("{}{end}", t.expose_secret()))
                    .collect()
            }
        };
        if output::print(text) {
            code
        } else {
            exit::UNEXPECTED
        }
    }
}
