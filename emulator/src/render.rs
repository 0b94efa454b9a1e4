//! Connected accounts and connections as Scalekit's REST gateway renders them (protojson with unpopulated
//! fields emitted): the shapes of `ConnectedAccount`, `ConnectedAccountForList` and `ListConnection` in the
//! 2.21.0 protos.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::state::{Kind, State};

/// The zero `google.protobuf.Timestamp` as a Go server renders an unset `time.Time`.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A time as protojson writes a `Timestamp`: UTC, with 0, 3, 6 or 9 fractional digits.
pub(crate) fn wire_time(at: SystemTime) -> String {
    let whole = tokenbroker::rfc3339(at);
    let nanos = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let fraction = match nanos {
        0 => String::new(),
        n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
        n => format!(".{n:09}"),
    };
    match whole.strip_suffix('Z') {
        Some(seconds) => format!("{seconds}{fraction}Z"),
        None => whole,
    }
}

impl State {
    /// The provider key a connection's accounts carry: its name up to the first `_` or `-`, lowercased
    /// (`gmail_u3134a` → `gmail`), as Scalekit's generated connection names are made.
    pub(crate) fn provider(&self, connector: &str) -> String {
        connector
            .split(['_', '-'])
            .next()
            .unwrap_or_default()
            .to_lowercase()
    }

    /// The connection's `conn_…` id.
    pub(crate) fn connection_id(&self, connector: &str) -> String {
        let number = self.connections.get(connector).map_or(0, |c| c.number);
        format!("conn_{}", 24_834_495_392_086_000 + number)
    }

    fn time(&self, at: Option<SystemTime>) -> Value {
        match at {
            Some(t) => Value::String(wire_time(t)),
            None if self.zero_timestamps => Value::String(ZERO_TIME.into()),
            None => Value::Null,
        }
    }

    /// `ConnectedAccountForList`: no credentials, no configuration.
    pub(crate) fn render_for_list(&self, key: &(String, String)) -> Value {
        let account = &self.accounts[key];
        let kind = self.kind(&key.0);
        json!({
            "identifier": key.1,
            "provider": self.provider(&key.0),
            "status": account.status,
            "authorization_type": authorization_type(kind),
            "token_expires_at": self.time(if kind == Kind::GoogleDwd { None } else { account.token_expires_at }),
            "updated_at": self.time(Some(account.updated_at)),
            "connector": key.0,
            "last_used_at": self.time(account.last_used_at),
            "id": account.id,
            "connection_id": self.connection_id(&key.0),
            "is_org_wide_credential": false,
        })
    }

    /// `ConnectedAccount`; `with_credentials` for `/auth`, not `/details`.
    pub(crate) fn render(&self, key: &(String, String), with_credentials: bool) -> Value {
        let account = &self.accounts[key];
        let kind = self.kind(&key.0);
        let mut v = self.render_for_list(key);
        v["api_config"] = json!({});
        let token = account.access_token.clone().unwrap_or_default();
        // /details leaves the credentials out but (UNCONFIRMED) keeps the scopes.
        v["authorization_details"] = match (kind, with_credentials) {
            (Kind::OAuth | Kind::OrgWide, true) => json!({"oauth_token": {
                "access_token": token, "refresh_token": "", "scopes": account.scopes, "domain": ""}}),
            (Kind::OAuth | Kind::OrgWide, false) => {
                json!({"oauth_token": {"scopes": account.scopes}})
            }
            (Kind::GoogleDwd, true) => json!({"google_dwd": {
                "access_token": token, "scopes": account.scopes,
                "token_expires_at": self.time(account.token_expires_at)}}),
            (Kind::GoogleDwd, false) => json!({"google_dwd": {"scopes": account.scopes}}),
            (Kind::ApiKey, true) => json!({"static_auth": {"details": {"api_key": token}}}),
            (Kind::ApiKey, false) => json!({"static_auth": {}}),
        };
        v
    }

    /// A `ListConnection` row of `GET /api/v1/connections/app`.
    pub(crate) fn render_connection(&self, name: &str) -> Value {
        let kind = self.kind(name);
        json!({
            "id": self.connection_id(name),
            // The SSO identity-provider enum, not the agent provider (audit C2); `provider_key` names that.
            "provider": "CONNECTION_PROVIDER_UNSPECIFIED",
            "type": match kind { Kind::ApiKey => "API_KEY", Kind::GoogleDwd => "GOOGLE_DWD", _ => "OAUTH" },
            "status": "COMPLETED",
            "enabled": true,
            "organization_id": "",
            "domains": [],
            "organization_name": "",
            "provider_key": self.provider(name),
            "key_id": name,
            "mcp_server_url": "",
            "auth_mode": if kind == Kind::OrgWide { "ORG_WIDE" } else { "USER" },
        })
    }
}

fn authorization_type(kind: Kind) -> &'static str {
    match kind {
        Kind::OAuth | Kind::OrgWide => "OAUTH",
        Kind::ApiKey => "API_KEY",
        Kind::GoogleDwd => "GOOGLE_DWD",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_have_0_3_6_or_9_fractional_digits() {
        let t = |nanos| wire_time(UNIX_EPOCH + Duration::new(86_400, nanos));
        assert_eq!(t(0), "1970-01-02T00:00:00Z");
        assert_eq!(t(120_000_000), "1970-01-02T00:00:00.120Z");
        assert_eq!(t(120_500_000), "1970-01-02T00:00:00.120500Z");
        assert_eq!(t(120_500_001), "1970-01-02T00:00:00.120500001Z");
    }
}
