//! User verification: an account waiting for it, and the ways completing it can fail.

use std::fmt;

use crate::config::IdentifierSource;

/// The user approved at the provider, and Scalekit now waits for the user's identity to be verified before
/// it activates the account (status `PENDING_VERIFICATION`). No new link is made for it: one could cancel
/// the verification under way.
///
/// What completes it depends on the environment's User Verification mode (Scalekit dashboard: AgentKit >
/// User Verification): in **Custom** mode, the address the browser was sent to after approving, handed to
/// [`crate::Broker::complete_verification`] (`get-token verify URL`), or caught by `get-token`'s listener; in
/// **Scalekit users only** mode, approving again from a new link while signed in to the Scalekit dashboard
/// as a member of the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingVerification {
    /// The service asked for, such as `gmail`.
    pub service: String,
    /// Its Scalekit connection name.
    pub connection_name: String,
    /// The identifier of the connected account.
    pub identifier: String,
    /// Where the identifier came from.
    pub identifier_source: IdentifierSource,
}

impl PendingVerification {
    /// A sentence ready to paste into a chat for the user.
    pub fn message(&self) -> String {
        format!(
            "You approved access to your {} account; one step is left. If your browser ended on an address \
             starting with http://127.0.0.1 (a page that may not load), copy that whole address and send it \
             to me. If instead it asked you to sign in to Scalekit, sign in to the Scalekit dashboard and ask \
             me for a new link.",
            self.service
        )
    }
}

impl std::error::Error for PendingVerification {}

impl fmt::Display for PendingVerification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (connection {}, identifier {}, {}) was approved and waits for user verification \
             (account status PENDING_VERIFICATION)",
            self.service, self.connection_name, self.identifier, self.identifier_source
        )
    }
}

/// Completing user verification failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum VerificationError {
    /// Scalekit answered 403: the person who approved is not the user the link was made for.
    #[error(
        "Scalekit refused the verification of {service} for {identifier}: the person who approved is not \
         that user (HTTP 403)"
    )]
    WrongUser {
        /// The service.
        service: String,
        /// The identifier the link was made for.
        identifier: String,
    },

    /// Scalekit answered 404: the verification flow expired, or was already completed and is gone.
    #[error(
        "the verification of {service} for {identifier} expired or was already used (HTTP 404); authorize \
         again for a new link"
    )]
    FlowExpired {
        /// The service.
        service: String,
        /// The identifier.
        identifier: String,
    },

    /// The redirect address or its `state` was refused here, before anything was sent: malformed, altered,
    /// made by another installation or for another account, or expired.
    #[error("refused the verification address: {reason}")]
    InvalidState {
        /// What is wrong with it.
        reason: String,
    },

    /// The address was already used to complete a verification (each state is used once, across processes).
    #[error(
        "this verification address was already used; if the account is not connected yet, authorize again \
         for a new link"
    )]
    AlreadyUsed,

    /// Scalekit accepted the verification, but the account the state names did not become active: the
    /// `auth_request_id` belonged to another link of the same identifier (another connection), so Scalekit
    /// connected that account instead. Someone other than the user may have approved it.
    #[error(
        "the address finished another connection's flow, not {service}'s: Scalekit verified a different \
         pending account of {identifier} (the address mixed a state for {service} with another link's \
         auth_request_id), and {service} is still not connected. Check which accounts are connected and \
         disconnect any you did not approve yourself"
    )]
    OtherFlow {
        /// The service the state was for.
        service: String,
        /// The identifier.
        identifier: String,
    },

    /// The loopback port the browser is sent to after approving is held by a program of another local
    /// user, which would receive the verification (and could show the browser any page): nothing was relayed.
    #[error(
        "127.0.0.1:{port}, where the browser is sent after approving, is held by {}, which would receive the \
         verification",
        match uid {
            Some(uid) => format!("a program of another user (uid {uid})"),
            None => "a socket that does not listen (not a get-token wait of yours; another user may have bound \
                     it)".to_owned(),
        }
    )]
    PortTaken {
        /// The port.
        port: u16,
        /// The uid of the program listening there; `None` when the port is bound but nothing listens, which
        /// no get-token wait does.
        uid: Option<u32>,
    },

    /// Scalekit refused the request for another reason (HTTP 400: no verification pending, ...).
    #[error("Scalekit refused the verification: {0}")]
    Refused(super::ApiError),
}
