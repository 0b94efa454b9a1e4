//! `get-token SERVICE...`: print tokens.

use tokenbroker::{AccessToken, Error};

use crate::args::{Cli, Format};
use crate::{exit, fetch, output, report};

pub(crate) async fn run(cli: &Cli) -> u8 {
    let (fetch, global) = (&cli.fetch, &cli.global);
    let format = cli.format();
    if fetch.no_newline && (fetch.services.len() > 1 || format != Format::Plain) {
        return report::usage(
            global,
            "--no-newline only applies to one service in plain format",
        );
    }
    if format == Format::Header && fetch.services.len() > 1 {
        return report::usage(
            global,
            "--format header prints one Authorization header; give one service",
        );
    }
    if let Err(message) = fetch::check_wait_syntax(&fetch.services, &fetch.wait) {
        return report::usage(global, &message);
    }
    if let (Format::Env, Err(message)) = (format, output::distinct_env_names(&fetch.services)) {
        return report::usage(global, &message);
    }
    let broker = crate::broker(global);
    let services: Vec<String> = match (&fetch.for_url, &broker) {
        (Some(url), Ok(b)) => match b.connections().service_for_url(url) {
            Ok(service) => vec![service.to_owned()],
            Err(e) => return report::fail(global, Some(url), &e.into()),
        },
        (Some(url), Err(e)) => return report::fail(global, Some(url), e),
        (None, _) => fetch.services.clone(),
    };
    let outcomes: Vec<Result<AccessToken, Error>> = match &broker {
        Ok(broker) => {
            let identifier = fetch.who.identifier.as_deref();
            fetch::tokens(broker, &services, identifier, fetch.wait.limit(), global).await
        }
        Err(e) => services.iter().map(|_| Err(e.clone())).collect(),
    };
    let code = crate::first_failure(&outcomes);
    if format == Format::Json {
        let results: Vec<_> = services
            .iter()
            .zip(&outcomes)
            .map(|(s, o)| report::json_result(s, o, fetch.show_token))
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
    for (service, outcome) in services.iter().zip(&outcomes) {
        if let Err(e) = outcome {
            report::report(global, service, e);
        }
    }
    let tokens = services
        .iter()
        .zip(&outcomes)
        .filter_map(|(s, o)| Some((s, o.as_ref().ok()?)));
    let text: String = match format {
        // On any failure stdout stays empty: a script must never read half a set of tokens.
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
            let end = if fetch.no_newline { "" } else { "\n" };
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
