//! The emulator refuses what Scalekit's protos refuse, derived from its rule table rather than written by
//! hand: for every rule of every request message, a request that breaks exactly that rule gets 400
//! `INVALID_ARGUMENT` naming the field and the rule (`google.rpc.Status` with `validation_error_info`), and
//! the same request without the fault is accepted. `tests/proto_rules.rs` ties the table to the protos.

mod common;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Map, Value, json};
use tokenbroker_emulator::Emulator;
use tokenbroker_emulator::rules::{Field, MESSAGES, Rule, Type};

/// How each request message reaches the emulator, and a request that passes its rules.
fn endpoint(message: &str) -> Option<(Method, &'static str, Value)> {
    let key = json!({"connector": "gmail", "identifier": "bob"});
    Some(match message {
        "GetConnectedAccountByIdentifierRequest" => {
            (Method::GET, "/api/v1/connected_accounts/auth", key)
        }
        "CreateConnectedAccountRequest" => (
            Method::POST,
            "/api/v1/connected_accounts",
            json!({"connector": "gmail", "identifier": "carol", "connected_account": {}}),
        ),
        "GetMagicLinkForConnectedAccountRequest" => {
            (Method::POST, "/api/v1/connected_accounts/magic_link", key)
        }
        "DeleteConnectedAccountRequest" => (Method::POST, "/api/v1/connected_accounts:delete", key),
        "VerifyConnectedAccountUserRequest" => (
            Method::POST,
            "/api/v1/connected_accounts/user/verify",
            json!({"auth_request_id": "ar_1", "identifier": "bob"}),
        ),
        "ListConnectedAccountsRequest" => (Method::GET, "/api/v1/connected_accounts", json!({})),
        "ListAppConnectionsRequest" => (Method::GET, "/api/v1/connections/app", json!({})),
        // Reached inside CreateConnectedAccountRequest.connected_account.
        "CreateConnectedAccount" => return None,
        other => panic!("{other}: say how it is reached"),
    })
}

/// A value that breaks `pattern`; a pattern added to the table needs one here.
fn breaking(pattern: &str) -> &'static str {
    match pattern {
        "^[a-zA-Z0-9_: -]*$" => "gm/ail",
        "^$|^https?://" => "ftp://127.0.0.1/verify",
        other => panic!("give a value that breaks {other:?}"),
    }
}

/// Requests that each break one rule of `field`: (the rule's id, the value to send, or `None` to omit it).
fn faults(field: &Field) -> Vec<(&'static str, Option<Value>)> {
    let mut out = Vec::new();
    for rule in field.rules {
        match (*rule, field.ty) {
            (Rule::Required, _) => out.push(("required", None)),
            (Rule::MinLen(n), _) if n >= 2 => {
                out.push(("string.min_len", Some(json!("a".repeat(n as usize - 1)))))
            }
            (Rule::MaxLen(n), _) => {
                out.push(("string.max_len", Some(json!("a".repeat(n as usize + 1)))))
            }
            (Rule::Pattern(p), _) => out.push(("string.pattern", Some(json!(breaking(p))))),
            (Rule::Prefix(p), _) => out.push(("string.prefix", Some(json!(format!("x{p}1"))))),
            (Rule::Lt(n), Type::Uint32) => {
                let id = if field.rules.iter().any(|r| matches!(r, Rule::Gte(_))) {
                    "uint32.gte_lt"
                } else {
                    "uint32.lt"
                };
                out.push((id, Some(json!(n))));
            }
            (Rule::Lte(n), Type::Uint32) => out.push(("uint32.lte", Some(json!(n + 1)))),
            (Rule::MaxItems(n), _) => {
                out.push(("repeated.max_items", Some(json!(vec!["a"; n as usize + 1]))))
            }
            (Rule::Items(inner), _) => {
                for r in inner {
                    if let Rule::Pattern(p) = r {
                        out.push(("string.pattern", Some(json!([breaking(p)]))));
                    }
                }
            }
            // min_len 0 or 1 and gte 0 cannot be broken by a populated value: rules apply to populated fields.
            _ => {}
        }
    }
    out
}

async fn send(
    emu: &Emulator,
    token: &str,
    method: &Method,
    path: &str,
    args: &Map<String, Value>,
) -> (StatusCode, Value) {
    let url = format!("{}{path}", emu.url());
    let request = if *method == Method::GET {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in args {
            match v {
                Value::Array(items) => pairs.extend(
                    items
                        .iter()
                        .map(|i| (k.clone(), i.as_str().unwrap().to_owned())),
                ),
                Value::String(s) => pairs.push((k.clone(), s.clone())),
                other => pairs.push((k.clone(), other.to_string())),
            }
        }
        Client::new().get(url).query(&pairs)
    } else {
        Client::new().post(url).json(args)
    };
    let answer = request.bearer_auth(token).send().await.unwrap();
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_rule_of_the_table_is_enforced_and_named() {
    let emu = Emulator::builder()
        .connection("gmail")
        .start()
        .await
        .unwrap();
    let token = common::emulator_api_token(&emu).await;
    emu.set_status("gmail", "bob", "PENDING_AUTH");
    let mut enforced = 0;
    for message in MESSAGES {
        let Some((method, path, base)) = endpoint(message.name) else {
            continue;
        };
        let base = base.as_object().unwrap().clone();
        let (status, body) = send(&emu, &token, &method, path, &base).await;
        assert_ne!(
            status,
            StatusCode::BAD_REQUEST,
            "{}: the valid request was refused: {body}",
            message.name
        );
        for field in message.fields {
            for (constraint, value) in faults(field) {
                let mut args = base.clone();
                match value {
                    Some(v) => drop(args.insert(field.name.to_owned(), v)),
                    None => drop(args.remove(field.name)),
                }
                let (status, body) = send(&emu, &token, &method, path, &args).await;
                let case = format!("{}.{} breaking {constraint}", message.name, field.name);
                assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
                assert_eq!(body["code"], 3, "{case}: {body}");
                assert_eq!(
                    body["details"][0]["error_code"], "INVALID_ARGUMENT",
                    "{case}: {body}"
                );
                let violation = &body["details"][0]["validation_error_info"]["field_violations"][0];
                assert!(
                    violation["field"].as_str().unwrap().starts_with(field.name),
                    "{case}: {body}"
                );
                assert_eq!(violation["constraint"], constraint, "{case}: {body}");
                assert!(
                    body["message"].as_str().unwrap().starts_with(field.name),
                    "{case}: {body}"
                );
                enforced += 1;
            }
        }
    }
    assert!(enforced >= 40, "only {enforced} rules tried");
    // Nothing refused was acted on.
    assert_eq!(
        emu.status("gmail", "carol"),
        Some("PENDING_AUTH".into()),
        "only the valid create made carol"
    );
}

#[tokio::test]
async fn protojson_names_types_and_the_cel_rule_are_enforced() {
    let emu = Emulator::builder()
        .connection("gmail")
        .start()
        .await
        .unwrap();
    let token = common::emulator_api_token(&emu).await;
    let post = |body: Value, path: &'static str| {
        let (emu, token) = (&emu, token.clone());
        async move { send(emu, &token, &Method::POST, path, body.as_object().unwrap()).await }
    };
    let link = "/api/v1/connected_accounts/magic_link";
    // A JSON name is read like the proto name, rules and all (audit EM5).
    let (status, body) = post(
        json!({"connector": "gmail", "identifier": "bob", "userVerifyUrl": "ftp://x"}),
        link,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["details"][0]["validation_error_info"]["field_violations"][0]["field"],
        "user_verify_url"
    );
    // Both names of one field: refused.
    let (status, _) = post(
        json!({"connector": "gmail", "identifier": "bob", "state": "a", "state": "b"}),
        link,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a repeated JSON key is one field (serde keeps the last)"
    );
    let (status, _) = post(json!({"connector": "gmail", "identifier": "bob", "user_verify_url": "", "userVerifyUrl": ""}), link).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A number for a string, a string for a message: refused; unknown fields: ignored (grpc-gateway v2).
    let (status, _) = post(
        json!({"connector": "gmail", "identifier": "bob", "state": 12}),
        link,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let create = "/api/v1/connected_accounts";
    let (status, _) = post(
        json!({"connector": "gmail", "identifier": "dan", "connected_account": "x"}),
        create,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post(
        json!({"connector": "gmail", "identifier": "dan", "connected_account": {}, "colour": 1}),
        create,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // The create the client sent until this version, without connected_account (audit EM0): refused.
    let (status, body) = post(json!({"connector": "gmail", "identifier": "erin"}), create).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["message"], "connected_account: value is required");
    // ListConnectedAccountsRequest's CEL rule.
    let both: Map<String, Value> = json!({"connector": "gmail", "connection_names": ["gmail"]})
        .as_object()
        .unwrap()
        .clone();
    let (status, body) = send(
        &emu,
        &token,
        &Method::GET,
        "/api/v1/connected_accounts",
        &both,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["details"][0]["validation_error_info"]["field_violations"][0]["constraint"],
        "connector_or_connection_names_not_both"
    );
    // A page size that is not a number.
    let bad: Map<String, Value> = json!({"page_size": "ten"}).as_object().unwrap().clone();
    let (status, _) = send(&emu, &token, &Method::GET, "/api/v1/connections/app", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
