//! Concealing a token in an API answer that is shown whole (the MCP `request` tool, `get-token api --json`,
//! the head of `api -i`): not only the token as sent, but any run of [`GRAM`] or more of its bytes, in the
//! raw text and in the text as JSON escapes (`\u0065`, `\/`) or percent escapes (`%65`) decode it, and its
//! base64 forms. A model can steer an echoing endpoint (TRACE, httpbin's `/anything`) so that a cut, a field
//! limit or an encoding shows it part of the token; each of those leaves such a run or one of those forms.
//!
//! [`Masker`](super::Masker) is the streaming counterpart for output that cannot be held whole; it
//! takes [`Concealer::forms`], the exact forms only.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use super::MASK;

/// The shortest run of a token's bytes concealed: eight of a token's characters are not worth hiding
/// from each other's neighbours, and a random run that long is not found in ordinary text.
const GRAM: usize = 8;

/// The token, its exact encoded forms, and every 8-byte window of its plain forms.
pub struct Concealer {
    token: Zeroizing<Vec<u8>>,
    /// The token and its base64 forms, whose windows are looked for.
    plain: Vec<Zeroizing<Vec<u8>>>,
    grams: HashSet<Vec<u8>>,
    gram: usize,
}

impl Concealer {
    /// A concealer for `token`; with none (or an empty one), text passes unchanged.
    pub fn new(token: Option<&str>) -> Self {
        let token = Zeroizing::new(token.unwrap_or_default().as_bytes().to_vec());
        let mut plain = vec![token.clone()];
        if !token.is_empty() {
            plain.extend(base64_forms(&token));
        }
        let gram = GRAM.min(token.len()).max(1);
        let grams = plain
            .iter()
            .flat_map(|f| f.windows(gram).map(<[u8]>::to_vec))
            .collect();
        Self {
            token,
            plain,
            grams,
            gram,
        }
    }

    /// The token's exact forms for the streaming masker: as sent, base64 (any alignment), every byte as a
    /// JSON `\u` escape, and every byte percent-escaped (upper and lower case).
    pub fn forms(&self) -> Vec<Zeroizing<Vec<u8>>> {
        if self.token.is_empty() {
            return Vec::new();
        }
        let mut forms = self.plain.clone();
        let each = |f: &dyn Fn(u8) -> String| {
            Zeroizing::new(
                self.token
                    .iter()
                    .map(|b| f(*b))
                    .collect::<String>()
                    .into_bytes(),
            )
        };
        forms.push(each(&|b| format!("\\u{b:04x}")));
        forms.push(each(&|b| format!("\\u{b:04X}")));
        forms.push(each(&|b| format!("%{b:02x}")));
        forms.push(each(&|b| format!("%{b:02X}")));
        forms
    }

    /// How far past a cut the text must be read so that a token straddling it is seen whole, in its
    /// longest form (six bytes a byte as `\u` escapes).
    pub fn reach(&self) -> usize {
        self.token.len().saturating_mul(6).saturating_add(GRAM)
    }

    /// `text` with every run of the token's bytes, raw or escaped, replaced by the mask.
    pub fn conceal(&self, text: &str) -> String {
        if self.token.is_empty() {
            return text.to_owned();
        }
        let raw = text.as_bytes();
        let mut marked = vec![false; raw.len()];
        self.mark(raw, |i| i, &mut marked);
        // A decoded view only where there is something to decode: most answers have neither.
        for (escape, decode) in [
            (b'\\', json_unescaped as fn(&[u8]) -> View),
            (b'%', percent_decoded),
        ] {
            if raw.contains(&escape) {
                let view = decode(raw);
                self.mark(&view.bytes, |i| view.start(i, raw.len()), &mut marked);
            }
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            if marked[i] {
                out.extend_from_slice(MASK);
                while i < raw.len() && marked[i] {
                    i += 1;
                }
            } else {
                out.push(raw[i]);
                i += 1;
            }
        }
        // Marks cover whole escapes of ASCII bytes, so what is left is still UTF-8; lossy for certainty.
        String::from_utf8_lossy(&out).into_owned()
    }

    /// [`Concealer::conceal`], then cut to at most `cap` bytes (on a character boundary), with a tail that
    /// begins the token masked too. Returns the text and whether it was cut.
    pub fn conceal_cut(&self, text: &str, cap: usize) -> (String, bool) {
        let mut text = self.conceal(text);
        if text.len() <= cap {
            return (text, false);
        }
        let mut end = cap;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        let tail = (2..self.gram.min(self.token.len() + 1))
            .rev()
            .find(|k| text.as_bytes().ends_with(&self.token[..*k]));
        if let Some(k) = tail {
            text.truncate(text.len() - k);
            text.push_str(&String::from_utf8_lossy(MASK));
        }
        (text, true)
    }

    /// Marks the raw bytes behind every window of `decoded` that is a window of a plain form; `start(i)`
    /// is where decoded byte `i` begins in the raw text (`start(len)` is the raw length).
    fn mark(&self, decoded: &[u8], start: impl Fn(usize) -> usize, marked: &mut [bool]) {
        let g = self.gram;
        if decoded.len() < g {
            return;
        }
        for i in 0..=decoded.len() - g {
            if self.grams.contains(&decoded[i..i + g]) {
                marked[start(i)..start(i + g)]
                    .iter_mut()
                    .for_each(|m| *m = true);
            }
        }
    }
}

/// Text as some decoding reads it, with where each decoded byte begins in the raw text.
struct View {
    bytes: Vec<u8>,
    starts: Vec<usize>,
}

impl View {
    fn start(&self, i: usize, raw_len: usize) -> usize {
        self.starts.get(i).copied().unwrap_or(raw_len)
    }
}

/// JSON string escapes decoded: `\uXXXX` (an ASCII code; anything else stands as one NUL, which no token
/// has) and the one-letter escapes.
fn json_unescaped(raw: &[u8]) -> View {
    decoded(raw, |rest| match rest {
        [b'\\', b'u', a, b, c, d, ..] => {
            let code = std::str::from_utf8(&[*a, *b, *c, *d])
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok())?;
            Some((u8::try_from(code).ok().filter(u8::is_ascii).unwrap_or(0), 6))
        }
        [b'\\', e, ..] => {
            let byte = match e {
                b'"' | b'\\' | b'/' => *e,
                b'b' => 8,
                b'f' => 12,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                _ => return None,
            };
            Some((byte, 2))
        }
        _ => None,
    })
}

fn percent_decoded(raw: &[u8]) -> View {
    decoded(raw, |rest| match rest {
        [b'%', a, b, ..] => {
            let digits = [*a, *b];
            let h = std::str::from_utf8(&digits).ok()?;
            Some((u8::from_str_radix(h, 16).ok()?, 3))
        }
        _ => None,
    })
}

/// A view made by `step`, which decodes one escape at the start of the rest (its byte and length), or
/// `None` to keep the byte as it is.
fn decoded(raw: &[u8], step: impl Fn(&[u8]) -> Option<(u8, usize)>) -> View {
    let (mut bytes, mut starts, mut i) = (Vec::with_capacity(raw.len()), Vec::new(), 0);
    while i < raw.len() {
        let (byte, len) = step(&raw[i..]).unwrap_or((raw[i], 1));
        bytes.push(byte);
        starts.push(i);
        i += len;
    }
    View { bytes, starts }
}

/// The base64 text that encodes the token wherever it sits in a longer encoded run: for each of the three
/// alignments, the characters that depend on the token's bits alone; standard and URL-safe alphabets.
fn base64_forms(token: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut forms = Vec::new();
    for shift in 0..3usize {
        let padded = Zeroizing::new([vec![0u8; shift], token.to_vec()].concat());
        let (from, to) = ((shift * 8).div_ceil(6), padded.len() * 8 / 6);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let text = Zeroizing::new(engine.encode(&padded[..]));
            if from < to && to <= text.len() {
                forms.push(Zeroizing::new(text.as_bytes()[from..to].to_vec()));
            }
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "emu_at_263eb4498d61e54d24834940544461e5";

    fn leaks(shown: &str) -> bool {
        // Any eight consecutive bytes of the token, in clear.
        TOKEN
            .as_bytes()
            .windows(GRAM)
            .any(|w| shown.as_bytes().windows(GRAM).any(|s| s == w))
    }

    #[test]
    fn the_token_and_its_runs_are_concealed_in_every_listed_form() {
        let c = Concealer::new(Some(TOKEN));
        let escaped: String = TOKEN
            .chars()
            .map(|ch| format!("\\u{:04x}", ch as u32))
            .collect();
        let mixed = format!("emu\\u005Fat\\u005f{}", &TOKEN[7..]);
        let percent: String = TOKEN.bytes().map(|b| format!("%{b:02X}")).collect();
        let half = format!("Bearer {}", &TOKEN[..20]);
        for shift in ["", "x", "xy"] {
            let b64 = STANDARD_NO_PAD.encode(format!("{shift}{TOKEN}!!"));
            let shown = c.conceal(&format!("data: {b64}"));
            assert!(!shown.contains(&b64[6..30]), "{shift:?}: {shown}");
        }
        for text in [TOKEN, &escaped, &mixed, &percent, &half] {
            let shown = c.conceal(&format!("{{\"k\": \"{text}\"}}"));
            assert!(
                shown.contains("<concealed by get-token>"),
                "{text}: {shown}"
            );
            assert!(!leaks(&shown), "{text}: {shown}");
            let decoded: serde_json::Value = serde_json::from_str(&shown).unwrap();
            assert!(!leaks(decoded["k"].as_str().unwrap()), "{shown}");
        }
        let plain = "{\"emailAddress\": \"user@example.com\", \"é\": 1}";
        assert_eq!(c.conceal(plain), plain, "other text is untouched");
        assert_eq!(Concealer::new(None).conceal(TOKEN), TOKEN);
    }

    #[test]
    fn a_cut_never_leaves_a_beginning_of_the_token() {
        let c = Concealer::new(Some(TOKEN));
        let text = format!("{}Bearer {TOKEN}\r\nmore", "A".repeat(100));
        for cap in 0..text.len() {
            let (shown, cut) = c.conceal_cut(&text, cap);
            assert!(cut || shown.len() <= cap);
            assert!(
                !shown.contains(&TOKEN[..2]) || shown.ends_with("get-token>"),
                "{cap}: {shown}"
            );
            assert!(!leaks(&shown), "{cap}: {shown}");
        }
    }
}
