//! Hiding a token in what an API answers, for a program that shows an answer to someone who must not see
//! the token (a model, a log, a terminal): [`Concealer`] for an answer held whole, [`Masker`] for a stream.
//! Both replace the token with [`MASK`]. `get-token api`, `get-token exec` and the MCP `request` tool use
//! them; the token to hide is the one the request was sent with ([`crate::sent_token`]).
//!
//! ```
//! use tokenbroker::conceal::{Concealer, Masker, MASK};
//!
//! let token = "fake.a0AfB_example-token-value";
//! let concealer = Concealer::new(Some(token));
//! let shown = concealer.conceal(r#"{"you_sent": "Bearer fake.a0AfB_example-token-value"}"#);
//! assert!(!shown.contains("a0AfB_example") && shown.contains("concealed"));
//!
//! // A stream, cut anywhere: the token is still hidden.
//! let mut masker = Masker::new([token.as_bytes()]);
//! let mut out = Vec::new();
//! masker.feed(b"token: fake.a0AfB_exa", &mut out);
//! masker.feed(b"mple-token-value!", &mut out);
//! masker.finish(&mut out);
//! assert_eq!(out, [&b"token: "[..], MASK, b"!"].concat());
//! ```

mod stream;
mod whole;

pub use stream::{MASK, Masker};
pub use whole::Concealer;
