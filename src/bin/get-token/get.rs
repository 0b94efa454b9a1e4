//! `get-token SERVICE...`: print tokens.

use tokenbroker::{AccessToken, Error};

use crate::args::{Cli, Format};
use crate::{exit, fetch, output};

pub(crate) async fn run(cli: &Cli) -> u8 {
    let (fetch, quiet) = (&cli.fetch, cli.global.quiet);
    let format = cli.format();
    if fetch.no_newline && (fetch.services.len() > 1 || format != Format::Plain) {
        eprintln!("get-token: error: --no-newline only applies to one service in plain format");
        return exit::USAGE;
    }
    if let Err(message) = fetch::check_wait_syntax(&fetch.services, &fetch.wait) {
        eprintln!("{message}");
        return exit::USAGE;
    }
    let broker = crate::broker(&cli.global);
    let services: Vec<String> = match (&fetch.for_url, &broker) {
        (Some(url), Ok(b)) => match b.connections().service_for_url(url) {
            Ok(service) => vec![service.to_owned()],
            Err(e) => return output::fail(&cli.global, Some(url), &e.into()),
        },
        (Some(url), Err(e)) => return output::fail(&cli.global, Some(url), e),
        (None, _) => fetch.services.clone(),
    };
    let outcomes: Vec<Result<AccessToken, Error>> = match &broker {
        Ok(broker) => {
            let identifier = fetch.who.identifier.as_deref();
            fetch::tokens(broker, &services, identifier, fetch.wait.limit(), quiet).await
        }
        Err(e) => services.iter().map(|_| Err(e.clone())).collect(),
    };
    let code = crate::first_failure(&outcomes);
    if format != Format::Json {
        for (service, outcome) in services.iter().zip(&outcomes) {
            if let Err(e) = outcome {
                output::report(quiet, service, e);
            }
        }
    }
    let text = match format {
        Format::Json => {
            let results: Vec<_> = services
                .iter()
                .zip(&outcomes)
                .map(|(s, o)| output::json_result(s, o, fetch.show_token))
                .collect();
            let value = match <[_; 1]>::try_from(results) {
                Ok([one]) => one,
                Err(results) => serde_json::json!({
                    "status": if code == exit::OK { "ok" } else { "partial" },
                    "results": results,
                }),
            };
            format!("{value}\n")
        }
        // On any failure stdout stays empty: a script must never read half a set of tokens.
        _ if code != exit::OK => String::new(),
        Format::Env => services
            .iter()
            .zip(&outcomes)
            .filter_map(|(s, o)| Some((s, o.as_ref().ok()?)))
            .map(|(s, t)| {
                format!(
                    "export {}={}\n",
                    output::env_name(s),
                    output::shell_quote(t.expose_secret())
                )
            })
            .collect(),
        Format::Plain => {
            let end = if fetch.no_newline { "" } else { "\n" };
            outcomes
                .iter()
                .flatten()
                .map(|t| format!("{}{end}", t.expose_secret()))
                .collect()
        }
    };
    if output::print(text) {
        code
    } else {
        exit::UNEXPECTED
    }
}
