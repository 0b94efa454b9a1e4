//! Lists unread Gmail messages, with the access token from `tokenbroker::get_token("gmail")`.
//!
//! ```sh
//! cargo run --example gmail_unread          # needs credentials and a "gmail" entry in connections.json
//! ```
//! `GMAIL_API_URL` points it at another server (the tests use a stand-in on 127.0.0.1).

use serde_json::Value;
use tokenbroker::{AccessToken, Error};

const GMAIL_API: &str = "https://gmail.googleapis.com";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let token = match tokenbroker::get_token("gmail").await {
        Ok(token) => token,
        Err(Error::AuthorizationRequired(auth)) => {
            // Relay the link; run again once the user has approved.
            eprintln!("{}", auth.message());
            std::process::exit(3);
        }
        Err(e) => return Err(e.into()),
    };
    let api = std::env::var("GMAIL_API_URL").unwrap_or_else(|_| GMAIL_API.into());
    for (id, subject) in unread(&api, &token, 10).await? {
        println!("{id}  {subject}");
    }
    Ok(())
}

/// The ids and subjects of up to `max` unread messages in the inbox.
async fn unread(
    api: &str,
    token: &AccessToken,
    max: u32,
) -> Result<Vec<(String, String)>, reqwest::Error> {
    let http = reqwest::Client::new();
    let get = |url: String| http.get(url).bearer_auth(token.expose_secret());
    let list: Value = get(format!("{api}/gmail/v1/users/me/messages"))
        .query(&[
            ("q", "is:unread in:inbox"),
            ("maxResults", &max.to_string()),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let ids = list["messages"].as_array().cloned().unwrap_or_default();
    let mut messages = Vec::new();
    for id in ids.iter().filter_map(|m| m["id"].as_str()) {
        let message: Value = get(format!("{api}/gmail/v1/users/me/messages/{id}"))
            .query(&[("format", "metadata"), ("metadataHeaders", "Subject")])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let subject = message["payload"]["headers"]
            .as_array()
            .and_then(|h| h.iter().find(|h| h["name"] == "Subject"))
            .and_then(|h| h["value"].as_str())
            .unwrap_or("(no subject)");
        messages.push((id.to_owned(), subject.to_owned()));
    }
    Ok(messages)
}

#[cfg(test)]
#[path = "support/standin.rs"]
mod standin;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lists_unread_messages_with_the_bearer_token() {
        let (emulator, token) = standin::approved_token("gmail", "gmail_1").await;
        let gmail = standin::StandIn::serve(vec![
            r#"{"messages": [{"id": "m1", "threadId": "t1"}], "resultSizeEstimate": 1}"#.into(),
            r#"{"id": "m1", "payload": {"headers": [{"name": "Subject", "value": "Hello"}]}}"#
                .into(),
        ]);

        let messages = unread(&gmail.url, &token, 5).await.unwrap();

        assert_eq!(messages, [("m1".to_owned(), "Hello".to_owned())]);
        let requests = gmail.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(
            requests[0].target,
            "/gmail/v1/users/me/messages?q=is%3Aunread+in%3Ainbox&maxResults=5"
        );
        assert_eq!(
            requests[1].target,
            "/gmail/v1/users/me/messages/m1?format=metadata&metadataHeaders=Subject"
        );
        let bearer = format!("Bearer {}", emulator.access_token("gmail_1", "me").unwrap());
        for r in &requests {
            assert_eq!((r.method.as_str(), r.body.as_str()), ("GET", ""));
            assert_eq!(r.header("authorization"), Some(bearer.as_str()));
        }
    }
}
