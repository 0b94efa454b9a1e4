//! Scalekit's JSON shapes, read leniently: every field optional, `null` accepted, unknown fields ignored.
//! Secrets are read straight into `SecretString`; credentials tokenbroker does not hand out (refresh tokens,
//! API keys) are never kept at all.

use secrecy::SecretString;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(SecretString::from))
}

/// A string that will be shown to people, kept as one printable line (see [`crate::text`]).
fn line<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| crate::text::one_line(&s).into_owned()))
}

fn lines<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.map(|v| {
        v.iter()
            .map(|s| crate::text::one_line(s).into_owned())
            .collect()
    }))
}

/// A timestamp of an account: `None` when absent, malformed, or the zero timestamp `0001-01-01T00:00:00Z`
/// (anything before 2000) that a Go server writes for an unset time (wire audit 2, C5). Read this way at
/// the one place answers are decoded, so no printer or cache sees year 1.
fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<std::time::SystemTime>, D::Error> {
    Ok(Option::<String>::deserialize(d)?
        .as_deref()
        .and_then(crate::timefmt::parse_rfc3339)
        .filter(|t| *t > crate::timefmt::not_before()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ApiTokenBody {
    #[serde(deserialize_with = "secret")]
    pub(crate) access_token: Option<SecretString>,
    pub(crate) expires_in: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct AccountEnvelope {
    pub(crate) connected_account: Option<ConnectedAccount>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ConnectedAccount {
    #[serde(deserialize_with = "line")]
    pub(crate) id: Option<String>,
    #[serde(deserialize_with = "line")]
    pub(crate) identifier: Option<String>,
    #[serde(deserialize_with = "line")]
    pub(crate) connector: Option<String>,
    #[serde(deserialize_with = "line")]
    pub(crate) provider: Option<String>,
    #[serde(deserialize_with = "line")]
    pub(crate) status: Option<String>,
    #[serde(deserialize_with = "line")]
    pub(crate) authorization_type: Option<String>,
    pub(crate) authorization_details: Option<AuthorizationDetails>,
    #[serde(deserialize_with = "time")]
    pub(crate) token_expires_at: Option<std::time::SystemTime>,
    #[serde(deserialize_with = "time")]
    pub(crate) updated_at: Option<std::time::SystemTime>,
    #[serde(deserialize_with = "time")]
    pub(crate) last_used_at: Option<std::time::SystemTime>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct AuthorizationDetails {
    pub(crate) oauth_token: Option<OauthToken>,
    pub(crate) static_auth: Option<IgnoredAny>,
    /// Google domain-wide delegation: an OAuth access token from the jwt-bearer grant, in the same shape.
    pub(crate) google_dwd: Option<OauthToken>,
    pub(crate) trusted_idp: Option<IgnoredAny>,
}

impl AuthorizationDetails {
    /// The name of the credential held when it is not an OAuth token.
    pub(crate) fn other_kind(&self) -> Option<&'static str> {
        [
            (self.static_auth.is_some(), "static_auth"),
            (self.google_dwd.is_some(), "google_dwd"),
            (self.trusted_idp.is_some(), "trusted_idp"),
        ]
        .into_iter()
        .find_map(|(present, kind)| present.then_some(kind))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct OauthToken {
    #[serde(deserialize_with = "secret")]
    pub(crate) access_token: Option<SecretString>,
    #[serde(deserialize_with = "lines")]
    pub(crate) scopes: Option<Vec<String>>,
    /// Only in `google_dwd`; an `oauth_token`'s expiry is the account's `token_expires_at`.
    #[serde(deserialize_with = "time")]
    pub(crate) token_expires_at: Option<std::time::SystemTime>,
}

impl OauthToken {
    pub(crate) fn has_token(&self) -> bool {
        self.access_token
            .as_ref()
            .is_some_and(|t| !secrecy::ExposeSecret::expose_secret(t).is_empty())
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct VerifyBody {
    pub(crate) post_user_verify_redirect_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct MagicLinkBody {
    pub(crate) link: Option<String>,
    pub(crate) expiry: Option<String>,
}

/// `google.rpc.Status` as grpc-gateway renders it, or an OAuth-style error from the token endpoint.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ErrorBody {
    pub(crate) code: Option<serde_json::Value>,
    pub(crate) message: Option<String>,
    pub(crate) details: Option<Vec<ErrorDetail>>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ErrorDetail {
    pub(crate) error_code: Option<String>,
}

/// One page of `GET /api/v1/connections/app` (wire audit §6.6).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct AppConnectionsPage {
    pub(crate) connections: Option<Vec<AppConnectionBody>>,
    #[serde(deserialize_with = "line")]
    pub(crate) next_page_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct AppConnectionBody {
    /// The connection name (what connections.json calls `connection_name`).
    #[serde(deserialize_with = "line")]
    pub(crate) key_id: Option<String>,
    /// The agent provider, such as `gmail` (`ListConnection.provider_key`). Not `provider`: that is the
    /// SSO identity-provider enum (OKTA, GOOGLE, ...; connections PY 2.21.0, `ConnectionProvider`).
    #[serde(deserialize_with = "line")]
    pub(crate) provider_key: Option<String>,
    /// USER or ORG_WIDE (`ListConnection.auth_mode`).
    #[serde(deserialize_with = "line")]
    pub(crate) auth_mode: Option<String>,
    #[serde(rename = "type", deserialize_with = "line")]
    pub(crate) kind: Option<String>,
    #[serde(deserialize_with = "line")]
    pub(crate) status: Option<String>,
    pub(crate) enabled: Option<bool>,
}
