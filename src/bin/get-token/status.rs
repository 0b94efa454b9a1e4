//! `get-token status`: each account's state at Scalekit, never a token.

use serde_json::{Value, json};
use tokenbroker::{AccountInfo, AccountStatus, Error, Target, rfc3339};

use crate::args::Global;
use crate::{exit, fetch, output, report};

type Row = (Target, Option<AccountInfo>);

pub(crate) async fn run(global: &Global, services: &[String], identifier: Option<&str>) -> u8 {
    let broker = match crate::broker(global) {
        Ok(b) => b,
        Err(e) => return report::fail(global, None, &e),
    };
    let services: Vec<String> = if services.is_empty() {
        broker.connections().services().map(str::to_owned).collect()
    } else {
        services.to_vec()
    };
    let rows = fetch::each(&services, |service| {
        let (broker, identifier) = (broker.clone(), identifier.map(str::to_owned));
        async move {
            let row = broker.account_info(&service, identifier.as_deref()).await?;
            // No account: a wrong connection name looks the same, and authorizing cannot fix that.
            if row.1.is_none() {
                broker.check_connection(&service).await?;
            }
            Ok(row)
        }
    })
    .await;
    let ready =
        |r: &Result<Row, Error>| matches!(r, Ok((_, Some(info))) if info.status.is_active());
    let code = match crate::first_failure(&rows) {
        exit::OK if !rows.iter().all(ready) => exit::AUTHORIZATION_REQUIRED,
        code => code,
    };
    let text = if global.json {
        let results: Vec<Value> = services
            .iter()
            .zip(&rows)
            .map(|(service, row)| match row {
                Ok((target, info)) => json_row(target, info.as_ref()),
                Err(e) => report::json_error(Some(service), e),
            })
            .collect();
        let status = match code {
            exit::OK => "ready",
            exit::AUTHORIZATION_REQUIRED => "not_ready",
            _ => "error",
        };
        return if output::print_json(json!({"status": status, "services": results})) {
            code
        } else {
            exit::UNEXPECTED
        };
    } else {
        for (service, row) in services.iter().zip(&rows) {
            if let Err(e) = row {
                report::report(global, service, e);
            }
        }
        for (target, info) in rows.iter().flatten() {
            if !info.as_ref().is_some_and(|i| i.status.is_active()) {
                global.tell(&format!(
                    "get-token: {}: {}",
                    target.service,
                    fix_for(&target.service, info.as_ref())
                ));
            }
        }
        if services.is_empty() {
            global.tell(
                "get-token: no services configured; add one with `get-token config add SERVICE CONNECTION_NAME`",
            );
        }
        let table: Vec<Vec<String>> = rows.iter().flatten().map(table_row).collect();
        if table.is_empty() {
            // Nothing to show: a header alone on stdout would read as "no accounts".
            return code;
        }
        output::table(
            &[
                "SERVICE",
                "CONNECTION",
                "IDENTIFIER",
                "STATUS",
                "TOKEN EXPIRES",
                "LAST USED",
                "SCOPES",
            ],
            &table,
        )
    };
    if output::print(text) {
        code
    } else {
        exit::UNEXPECTED
    }
}

/// What makes a service that is not ready ready.
pub(crate) fn fix_for(service: &str, info: Option<&AccountInfo>) -> String {
    match info.map(|i| &i.status) {
        Some(AccountStatus::PendingVerification) => format!(
            "finish the verification: if the browser showed an address starting with http://127.0.0.1 after \
             approving, pass it on stdin to get-token verify -; or run get-token wait {service} on the machine where the \
             browser runs and approve again; in a \"Scalekit users only\" environment, approve again while \
             signed in to the Scalekit dashboard (get-token authorize {service})"
        ),
        Some(_) => format!("authorize it: get-token authorize {service} --wait"),
        None => format!(
            "authorize it: get-token authorize {service} --wait (it says so if the connection name is wrong)"
        ),
    }
}

fn status_of(info: Option<&AccountInfo>) -> &str {
    info.map_or("NOT_CONNECTED", |i| i.status.as_str())
}

fn table_row((target, info): &Row) -> Vec<String> {
    let info = info.as_ref();
    vec![
        target.service.clone(),
        target.connection_name.clone(),
        target.identifier.clone(),
        status_of(info).to_owned(),
        output::time_or_dash(info.and_then(|i| i.token_expires_at)),
        output::time_or_dash(info.and_then(|i| i.last_used_at)),
        match info.map(|i| i.scopes.join(" ")) {
            Some(s) if !s.is_empty() => s,
            _ => "-".into(),
        },
    ]
}

pub(crate) fn json_row(target: &Target, info: Option<&AccountInfo>) -> Value {
    json!({
        "service": target.service,
        "connection_name": target.connection_name,
        "identifier": target.identifier,
        "identifier_source": target.identifier_source.to_string(),
        "ready": info.is_some_and(|i| i.status.is_active()),
        "account_status": status_of(info),
        "token_expires_at": info.and_then(|i| i.token_expires_at).map(rfc3339),
        "scopes": info.map(|i| i.scopes.clone()).unwrap_or_default(),
        "last_used_at": info.and_then(|i| i.last_used_at).map(rfc3339),
        "updated_at": info.and_then(|i| i.updated_at).map(rfc3339),
        "fix": (!info.is_some_and(|i| i.status.is_active())).then(|| fix_for(&target.service, info)),
    })
}
