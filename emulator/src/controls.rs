//! Test controls for the browser side of the flow, so a test can act as the user without a browser.

use super::{Approval, Emulator};

/// The code at the end of a magic link (`…/magic/<code>`), query and fragment ignored.
fn code_of(link: &str) -> &str {
    let path = link.split(['?', '#']).next().unwrap_or_default();
    path.rsplit('/').next().unwrap_or_default()
}

impl Emulator {
    /// Clicks Approve on a magic link's page, as a user's browser would, and returns `true` if the account
    /// is now `ACTIVE`; `false` for an unknown, expired or already used link.
    ///
    /// The click uses the link up, as the page's button does. In [`UserVerification::ScalekitUsers`] mode it
    /// clicks as a signed-in dashboard user; in [`UserVerification::Custom`] mode it returns `false`, since
    /// the account then waits for `/user/verify` (use [`click_approve`](Self::click_approve) to get the
    /// redirect).
    ///
    /// [`UserVerification::ScalekitUsers`]: super::UserVerification::ScalekitUsers
    /// [`UserVerification::Custom`]: super::UserVerification::Custom
    pub fn approve_link(&self, url: &str) -> bool {
        self.click_approve(url, true) == Approval::Active
    }

    /// Clicks Approve on a magic link's page; `signed_in` says whether the browser is signed in to the
    /// (emulated) Scalekit dashboard, which matters only in
    /// [`UserVerification::ScalekitUsers`](super::UserVerification::ScalekitUsers) mode. Uses the link up.
    pub fn click_approve(&self, link: &str, signed_in: bool) -> Approval {
        self.lock().click(code_of(link), true, signed_in).approval()
    }

    /// Clicks Deny on a magic link's page: the account is left as it was and the link is used up. Returns
    /// `false` for an unknown, expired or already used link.
    pub fn click_deny(&self, link: &str) -> bool {
        matches!(
            self.lock().click(code_of(link), false, false),
            super::flow::Click::Denied
        )
    }

    /// The newest auth request still waiting for (or accepted by) `/user/verify` for this account, as the
    /// `auth_request_id` in the Custom-verification redirect.
    pub fn auth_request_id(&self, connection_name: &str, identifier: &str) -> Option<String> {
        let state = self.lock();
        let now = std::time::SystemTime::now();
        state
            .auth_requests
            .iter()
            .filter(|(_, r)| {
                r.connector == connection_name && r.identifier == identifier && r.expires_at > now
            })
            .max_by_key(|(_, r)| r.expires_at)
            .map(|(id, _)| id.clone())
    }

    /// Ends every pending auth request, as if `verify_ttl` had passed: `/user/verify` then answers 404.
    pub fn expire_auth_requests(&self) {
        self.lock().auth_requests.clear();
    }
}
