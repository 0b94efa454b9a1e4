//! The state of a connected account at Scalekit.

use std::fmt;

/// A connected account's status, as Scalekit reports it.
///
/// Only [`AccountStatus::Active`] yields a token; every other value, including ones Scalekit adds later,
/// means the user must authorize.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccountStatus {
    /// Connected; the credentials are valid.
    Active,
    /// Waiting for the user to authorize (a new account, or re-authorization was started).
    PendingAuth,
    /// The provider token expired and Scalekit could not refresh it.
    Expired,
    /// Authorized, waiting for the user's identity to be verified.
    PendingVerification,
    /// Disconnected by hand, or access revoked at the provider.
    Disconnected,
    /// Scalekit sent no status (or the zero value).
    Unspecified,
    /// A status this version does not know.
    Other(String),
}

impl AccountStatus {
    /// Reads Scalekit's wire value (`"ACTIVE"`, ...); `None` and the zero value give
    /// [`AccountStatus::Unspecified`].
    pub fn from_wire(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            None | Some("") | Some("CONNECTION_STATUS_UNSPECIFIED") => Self::Unspecified,
            Some("ACTIVE") => Self::Active,
            Some("PENDING_AUTH") => Self::PendingAuth,
            Some("EXPIRED") => Self::Expired,
            Some("PENDING_VERIFICATION") => Self::PendingVerification,
            Some("DISCONNECTED") => Self::Disconnected,
            Some(other) => Self::Other(other.to_owned()),
        }
    }

    /// Scalekit's wire name for this status.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => "ACTIVE",
            Self::PendingAuth => "PENDING_AUTH",
            Self::Expired => "EXPIRED",
            Self::PendingVerification => "PENDING_VERIFICATION",
            Self::Disconnected => "DISCONNECTED",
            Self::Unspecified => "CONNECTION_STATUS_UNSPECIFIED",
            Self::Other(s) => s,
        }
    }

    /// Whether the account can hand out a token.
    pub fn is_active(&self) -> bool {
        *self == Self::Active
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AccountStatus;

    #[test]
    fn round_trips_known_values_and_keeps_unknown_ones() {
        for s in [
            "ACTIVE",
            "PENDING_AUTH",
            "EXPIRED",
            "PENDING_VERIFICATION",
            "DISCONNECTED",
        ] {
            assert_eq!(AccountStatus::from_wire(Some(s)).as_str(), s);
        }
        assert_eq!(AccountStatus::from_wire(None), AccountStatus::Unspecified);
        assert_eq!(
            AccountStatus::from_wire(Some("REVOKED")),
            AccountStatus::Other("REVOKED".into())
        );
        assert!(!AccountStatus::from_wire(Some("REVOKED")).is_active());
    }
}
