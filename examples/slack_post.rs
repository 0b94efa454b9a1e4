//! Posts a message to a Slack channel, with the access token from `tokenbroker::get_token("slack")`.
//!
//! ```sh
//! cargo run --example slack_post -- '#general' 'Deploy finished'
//! ```
//! `SLACK_API_URL` points it at another server (the tests use a stand-in on 127.0.0.1).

use serde_json::{Value, json};
use tokenbroker::{AccessToken, Error};

const SLACK_API: &str = "https://slack.com";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(channel), Some(text)) = (args.next(), args.next()) else {
        eprintln!("usage: slack_post CHANNEL TEXT");
        std::process::exit(2);
    };
    let token = match tokenbroker::get_token("slack").await {
        Ok(token) => token,
        Err(Error::AuthorizationRequired(auth)) => {
            eprintln!("{}", auth.message());
            std::process::exit(3);
        }
        Err(e) => return Err(e.into()),
    };
    let api = std::env::var("SLACK_API_URL").unwrap_or_else(|_| SLACK_API.into());
    let ts = post(&api, &token, &channel, &text).await?;
    println!("posted to {channel} (ts {ts})");
    Ok(())
}

/// Posts `text` to `channel`; returns the message's timestamp id.
async fn post(
    api: &str,
    token: &AccessToken,
    channel: &str,
    text: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let answer: Value = reqwest::Client::new()
        .post(format!("{api}/api/chat.postMessage"))
        .bearer_auth(token.expose_secret())
        .json(&json!({"channel": channel, "text": text}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    // Slack reports failures in the body of a 200.
    if answer["ok"] != true {
        return Err(format!(
            "Slack said: {}",
            answer["error"].as_str().unwrap_or("unknown error")
        )
        .into());
    }
    Ok(answer["ts"].as_str().unwrap_or_default().to_owned())
}

#[cfg(test)]
#[path = "support/standin.rs"]
mod standin;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn posts_json_with_the_bearer_token() {
        let (emulator, token) = standin::approved_token("slack", "slack_1").await;
        let slack = standin::StandIn::serve(vec![
            r#"{"ok": true, "channel": "C1", "ts": "1700000000.000100"}"#.into(),
        ]);

        let ts = post(&slack.url, &token, "#general", "Deploy finished")
            .await
            .unwrap();

        assert_eq!(ts, "1700000000.000100");
        let [request] = <[_; 1]>::try_from(slack.requests()).unwrap();
        assert_eq!(
            (request.method.as_str(), request.target.as_str()),
            ("POST", "/api/chat.postMessage")
        );
        let bearer = format!("Bearer {}", emulator.access_token("slack_1", "me").unwrap());
        assert_eq!(request.header("authorization"), Some(bearer.as_str()));
        assert_eq!(request.header("content-type"), Some("application/json"));
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(
            body,
            json!({"channel": "#general", "text": "Deploy finished"})
        );
    }

    #[tokio::test]
    async fn a_slack_error_in_a_200_is_an_error() {
        let (_emulator, token) = standin::approved_token("slack", "slack_1").await;
        let slack = standin::StandIn::serve(vec![
            r#"{"ok": false, "error": "channel_not_found"}"#.into(),
        ]);
        let e = post(&slack.url, &token, "#nope", "hi").await.unwrap_err();
        assert!(e.to_string().contains("channel_not_found"), "{e}");
    }
}
