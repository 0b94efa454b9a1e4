//! Text from outside (Scalekit's answers, files, arguments) made safe to show, and secrets taken out of it.
//!
//! Everything a person or a program reads from tokenbroker passes through [`printable`]: `get-token` calls it
//! on every line it writes, and the library calls it (through [`one_line`]) on every string it keeps from an
//! answer. Redaction happens earlier, where an answer becomes an error ([`redact`]), because only there are
//! the secrets known.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` as it is safe to show on a terminal or in a log: control characters (but the line feed), escape
/// sequences, and the invisible characters that reorder or hide text (bidi controls, zero-width characters)
/// are written as `\u{..}` escapes, so they can be seen but do nothing.
///
/// ```
/// assert_eq!(tokenbroker::printable("ok\u{1b}]0;title\u{7}"), "ok\\u{1b}]0;title\\u{7}");
/// assert_eq!(tokenbroker::printable("gmail\u{202e}gpj.exe"), "gmail\\u{202e}gpj.exe");
/// assert_eq!(tokenbroker::printable("two\nlines"), "two\nlines");
/// ```
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, |c| c != '\n' && is_unsafe(c))
}

/// Like [`printable`], and the line feed escaped too: for a value inside a sentence, where a line break could
/// forge a line of its own (`hint: run ...`).
pub(crate) fn one_line(text: &str) -> Cow<'_, str> {
    escape(text, is_unsafe)
}

fn escape(text: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Controls, and the format characters (Unicode category Cf) and separators that change how text looks
/// without being seen.
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}')
}

/// A message from an answer as one printable line of at most 300 characters. An HTML error page (from a
/// proxy) is reduced to its text: its markup says nothing.
pub(crate) fn tidy(message: &str) -> String {
    let text = if message.trim_start().starts_with('<') {
        strip_tags(message)
    } else {
        message.to_owned()
    };
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = one_line(&words);
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.into_owned(),
    }
}

/// `text` with every occurrence of each secret replaced by `[redacted]`: as it is, and as it looks
/// percent-encoded or form-encoded (an echoed request body). Secrets shorter than 4 bytes are left alone:
/// they would match ordinary words.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let percent = form.replace('+', "%20");
        for needle in [secret, form.as_str(), percent.as_str()] {
            if out.contains(needle) {
                out = out.replace(needle, "[redacted]");
            }
            let lower = needle.to_ascii_lowercase();
            if lower != *needle && out.contains(&lower) {
                out = out.replace(&lower, "[redacted]");
            }
        }
    }
    out
}

/// The text of HTML, without tags, `<script>` and `<style>` contents.
fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let tag = &rest[open..];
        let lower = tag.get(..7).unwrap_or(tag).to_ascii_lowercase();
        let closing = if lower.starts_with("<script") {
            Some("</script>")
        } else if lower.starts_with("<style") {
            Some("</style>")
        } else {
            None
        };
        let skip_to = match closing {
            Some(closing) => tag
                .to_ascii_lowercase()
                .find(closing)
                .map(|i| i + closing.len()),
            None => tag.find('>').map(|i| i + 1),
        };
        match skip_to {
            Some(n) => rest = &tag[n..],
            None => {
                rest = "";
                break;
            }
        }
    }
    text.push_str(rest);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        for (raw, shown) in [
            ("\u{1b}[2J", "\\u{1b}[2J"),
            ("a\u{9b}b", "a\\u{9b}b"),
            ("a\u{7f}", "a\\u{7f}"),
            ("\r", "\\u{d}"),
            ("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
            ("zero\u{200b}width", "zero\\u{200b}width"),
            ("plain ünïcode ✓", "plain ünïcode ✓"),
        ] {
            assert_eq!(printable(raw), shown);
        }
        assert_eq!(one_line("a\nb"), "a\\u{a}b");
        // Escaping is idempotent: the escapes themselves are printable.
        assert_eq!(printable(&printable("\u{1b}")), "\\u{1b}");
    }

    #[test]
    fn tidy_makes_one_short_printable_line() {
        assert_eq!(tidy("<html><b>Bad</b>\n gateway</html>"), "Bad gateway");
        assert_eq!(tidy("x\u{1b}[31m"), "x\\u{1b}[31m");
        let long = tidy(&"é".repeat(400));
        assert_eq!(long.chars().count(), 301);
    }

    #[test]
    fn redaction_finds_encoded_echoes() {
        let secret = "s3cr+t/=xyz";
        let text = format!("a {secret} b client_secret=s3cr%2Bt%2F%3Dxyz c s3cr%2bt%2f%3dxyz");
        assert_eq!(
            redact(&text, &[secret]),
            "a [redacted] b client_secret=[redacted] c [redacted]"
        );
        assert_eq!(redact("abc", &["abc"]), "abc");
    }
}
