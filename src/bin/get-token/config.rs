//! `get-token config`: show and edit connections.json.

use serde_json::{Value, json};
use tokenbroker::{Connection, ConnectionsFile, Error};

use crate::args::{ConfigAction, Global};
use crate::{exit, output, report};

/// What a config command shows: text for people, or the `--json` object.
enum Shown {
    Text(String),
    Json(Value),
}

impl Shown {
    fn print(self) -> bool {
        match self {
            Self::Text(text) => output::print(text),
            Self::Json(value) => output::print_json(value),
        }
    }
}

pub(crate) fn run(global: &Global, action: &ConfigAction) -> u8 {
    let file = match crate::builder(global).connections_file() {
        Ok(f) => f,
        Err(e) => return report::fail(global, None, &e),
    };
    let result = match action {
        ConfigAction::Path => Ok(path(global, &file)),
        ConfigAction::List => list(global, &file),
        ConfigAction::Add {
            service,
            connection_name,
            identifier,
            hosts,
        } => add(global, &file, service, connection_name, identifier, hosts),
        ConfigAction::Remove { service } => remove(global, &file, service),
    };
    match result.map(Shown::print) {
        Ok(true) => exit::OK,
        Ok(false) => exit::UNEXPECTED,
        Err(e) => report::fail(global, None, &e),
    }
}

fn path(global: &Global, file: &ConnectionsFile) -> Shown {
    let path = file.path().display();
    if global.json {
        Shown::Json(json!({"path": path.to_string(), "exists": file.exists()}))
    } else {
        if !file.exists() {
            global.tell(&format!(
                "get-token: {path} does not exist yet; `get-token config add` creates it"
            ));
        }
        Shown::Text(format!("{path}\n"))
    }
}

fn list(global: &Global, file: &ConnectionsFile) -> Result<Shown, Error> {
    let connections = file.load()?;
    if global.json {
        let services: Vec<_> = connections
            .iter()
            .map(|(service, c)| {
                json!({
                    "service": service,
                    "connection_name": c.connection_name,
                    "identifier": c.identifier,
                    "hosts": c.hosts,
                })
            })
            .collect();
        let path = file.path().display().to_string();
        return Ok(Shown::Json(json!({"path": path, "services": services})));
    }
    if connections.services().next().is_none() {
        global.tell(&format!(
            "get-token: no services in {}; add one: {} config add SERVICE CONNECTION_NAME",
            file.path().display(),
            report::invocation()
        ));
        return Ok(Shown::Text(String::new()));
    }
    global.tell(&format!(
        "get-token: services in {}:",
        file.path().display()
    ));
    let rows: Vec<Vec<String>> = connections
        .iter()
        .map(|(service, c)| {
            vec![
                service.to_owned(),
                c.connection_name.clone(),
                c.identifier.clone().unwrap_or_else(|| "(default)".into()),
                if c.hosts.is_empty() {
                    "-".into()
                } else {
                    c.hosts.join(" ")
                },
            ]
        })
        .collect();
    Ok(Shown::Text(output::table(
        &["SERVICE", "CONNECTION", "IDENTIFIER", "HOSTS"],
        &rows,
    )))
}

fn add(
    global: &Global,
    file: &ConnectionsFile,
    service: &str,
    connection_name: &str,
    identifier: &Option<String>,
    hosts: &[String],
) -> Result<Shown, Error> {
    // A changed entry keeps the identifier and hosts it had unless new ones are given.
    let existing = file.load()?.get(service).ok().cloned();
    let mut entry = Connection::new(connection_name);
    entry.identifier = identifier
        .clone()
        .or_else(|| existing.as_ref().and_then(|e| e.identifier.clone()));
    entry.hosts = if hosts.is_empty() {
        existing.map(|e| e.hosts).unwrap_or_default()
    } else {
        hosts.to_vec()
    };
    let previous = file.set(service, entry)?;
    let action = if previous.is_some() {
        "updated"
    } else {
        "added"
    };
    Ok(done(global, file, service, action))
}

fn remove(global: &Global, file: &ConnectionsFile, service: &str) -> Result<Shown, Error> {
    match file.remove(service)? {
        Some(_) => Ok(done(global, file, service, "removed")),
        // Not there: say so the way get-token does, with the configured names and a did-you-mean.
        None => match file.load()?.get(service) {
            Err(e) => Err(e.into()),
            Ok(_) => Ok(done(global, file, service, "kept (it was added meanwhile)")),
        },
    }
}

fn done(global: &Global, file: &ConnectionsFile, service: &str, action: &str) -> Shown {
    let path = file.path().display().to_string();
    if global.json {
        return Shown::Json(
            json!({"status": "ok", "action": action, "service": service, "path": path}),
        );
    }
    let place = match action {
        "added" | "updated" => "to",
        "removed" => "from",
        _ => "in",
    };
    global.tell(&format!("get-token: {action} {service} {place} {path}"));
    Shown::Text(String::new())
}
