//! What happens when a user approves or denies a magic link, under each user-verification mode, and the
//! `POST /user/verify` that finishes Custom verification (audit §3, §2.7).

use std::time::SystemTime;

use super::state::{AuthRequest, State};

/// An environment's user-verification mode (Scalekit dashboard: *AgentKit > User Verification*). It decides
/// what Approve on a magic link does.
///
/// Which mode a real environment has is UNCONFIRMED: Scalekit's sources say new production environments use
/// [`Custom`](Self::Custom) and new development environments [`ScalekitUsers`](Self::ScalekitUsers), and that
/// [`Disabled`](Self::Disabled) exists only for environments older than the feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UserVerification {
    /// (`NONE`) Approve makes the account `ACTIVE` at once. The emulator's default, so tests of the plain
    /// flow need no set-up.
    #[default]
    Disabled,
    /// (`SCALEKIT_PLATFORM`) The person approving must be signed in to the Scalekit dashboard as a member of
    /// the workspace. The emulator models the sign-in with a session cookie set by a button on the link's
    /// page; without it, Approve leaves the account `PENDING_VERIFICATION` and shows an error page.
    ScalekitUsers,
    /// (`B2B`) The link must carry `user_verify_url`. Approve leaves the account `PENDING_VERIFICATION` and
    /// sends the browser to `user_verify_url?auth_request_id=…&state=…`; the app's server then calls
    /// `POST /api/v1/connected_accounts/user/verify`. A link without `user_verify_url` fails with
    /// `failed_to_exchange`.
    Custom,
}

/// The outcome of clicking Approve on a magic link, as the user's browser would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Approval {
    /// The account is now `ACTIVE` with a fresh token.
    Active,
    /// Custom verification: the browser is redirected (303) to this URL, the link's `user_verify_url` with
    /// `auth_request_id` and `state` appended to its query. The account is `PENDING_VERIFICATION`.
    Redirect(String),
    /// No account was activated; the text is what the page tells the user (unknown, expired or used
    /// link, `failed_to_exchange`, sign-in required...).
    Failed(String),
}

/// What a click on a link's page led to; the page and the test controls render it their own way.
#[derive(Debug)]
pub(crate) enum Click {
    Active {
        connector: String,
        identifier: String,
    },
    Redirect(String),
    Denied,
    Unknown,
    Expired,
    Used,
    NotConfigured,
    SignInRequired,
    BadVerifyUrl,
}

impl Click {
    /// What the user is told.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::Active { connector, identifier } => {
                format!("{connector} is now connected for {identifier}. You can close this tab.")
            }
            Self::Redirect(url) => format!("Continue to {url} to finish verification."),
            Self::Denied => "Access was denied. Nothing was connected; you can close this tab.".into(),
            Self::Unknown => "This authorization link does not exist.".into(),
            Self::Expired => "This authorization link has expired. Ask for a new one.".into(),
            Self::Used => {
                "This link was already used. Each link works once: ask for a new one if you need to \
                 authorize again."
                    .into()
            }
            Self::NotConfigured => {
                "failed_to_exchange: user_verify_url not configured for verification redirect".into()
            }
            Self::SignInRequired => {
                "Verification failed: sign in to the Scalekit dashboard as a member of this workspace, \
                 then open a new authorization link."
                    .into()
            }
            Self::BadVerifyUrl => {
                "failed_to_exchange: user_verify_url is not a valid URL for the verification redirect".into()
            }
        }
    }

    pub(crate) fn approval(self) -> Approval {
        match self {
            Self::Active { .. } => Approval::Active,
            Self::Redirect(url) => Approval::Redirect(url),
            other => Approval::Failed(other.message()),
        }
    }
}

/// Why `POST /user/verify` was refused: HTTP status, gRPC code, `error_code`, message.
pub(crate) type Refusal = (u16, i64, &'static str, &'static str);

impl State {
    /// Approve (`approve`) or Deny on the page of link `code`; `signed_in` is whether the browser carries an
    /// emulated Scalekit-dashboard session.
    pub(crate) fn click(&mut self, code: &str, approve: bool, signed_in: bool) -> Click {
        let mode = self.user_verification;
        let Some(link) = self.links.get_mut(code) else {
            return Click::Unknown;
        };
        // A used link says so even once expired: that is the more useful thing to tell a user.
        if link.used {
            return Click::Used;
        }
        if link.expires_at <= SystemTime::now() {
            return Click::Expired;
        }
        // Scalekit runs the OAuth flow behind a link once, whatever its outcome: a retry needs a new link.
        link.used = true;
        let (connector, identifier) = (link.connector.clone(), link.identifier.clone());
        let (state, verify_url) = (link.state.clone(), link.user_verify_url.clone());
        if !approve {
            return Click::Denied;
        }
        match mode {
            UserVerification::Disabled => {}
            UserVerification::ScalekitUsers if signed_in => {}
            UserVerification::ScalekitUsers => {
                self.pend(&connector, &identifier);
                return Click::SignInRequired;
            }
            UserVerification::Custom if verify_url.is_empty() => return Click::NotConfigured,
            UserVerification::Custom => {
                let Ok(mut url) = url::Url::parse(&verify_url) else {
                    return Click::BadVerifyUrl;
                };
                let id = self.random("ar_");
                self.auth_requests.insert(
                    id.clone(),
                    AuthRequest {
                        connector: connector.clone(),
                        identifier: identifier.clone(),
                        expires_at: SystemTime::now() + self.verify_ttl,
                        verified: false,
                    },
                );
                self.pend(&connector, &identifier);
                // `state` is always appended, empty when the link had none, so a caller reads one shape.
                url.query_pairs_mut()
                    .append_pair("auth_request_id", &id)
                    .append_pair("state", &state);
                return Click::Redirect(url.into());
            }
        }
        if !self.approve(&connector, &identifier) {
            return Click::Unknown;
        }
        Click::Active {
            connector,
            identifier,
        }
    }

    /// OAuth succeeded but the user is not verified yet: Scalekit holds the tokens back.
    fn pend(&mut self, connector: &str, identifier: &str) {
        let account = self.create(connector, identifier);
        account.status = "PENDING_VERIFICATION".into();
        account.updated_at = SystemTime::now();
    }

    /// `POST /user/verify`: activates the account of a pending auth request and returns where to send the
    /// user next.
    pub(crate) fn verify(
        &mut self,
        auth_request_id: &str,
        identifier: &str,
    ) -> Result<String, Refusal> {
        if auth_request_id.is_empty() || identifier.is_empty() {
            return Err((
                400,
                3,
                "INVALID_ARGUMENT",
                "auth_request_id and identifier are required",
            ));
        }
        let now = SystemTime::now();
        self.auth_requests.retain(|_, r| r.expires_at > now);
        let Some(request) = self.auth_requests.get(auth_request_id) else {
            return Err((
                404,
                5,
                "NOT_FOUND",
                "no pending verification for this auth_request_id",
            ));
        };
        if request.identifier != identifier {
            return Err((
                403,
                7,
                "PERMISSION_DENIED",
                "identifier does not match the auth request",
            ));
        }
        let (connector, verified) = (request.connector.clone(), request.verified);
        let key = (connector.clone(), identifier.to_owned());
        let pending = self
            .accounts
            .get(&key)
            .is_some_and(|a| a.status == "PENDING_VERIFICATION");
        if !verified {
            if !pending {
                return Err((
                    400,
                    9,
                    "FAILED_PRECONDITION",
                    "no pending verification for this account",
                ));
            }
            self.approve(&connector, identifier);
            if let Some(r) = self.auth_requests.get_mut(auth_request_id) {
                r.verified = true;
            }
        }
        Ok(self
            .post_verify_url
            .clone()
            .unwrap_or_else(|| format!("{}/verified", self.base)))
    }
}
