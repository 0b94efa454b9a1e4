//! Colour for people at a terminal: the marks of doctor and status (✓ green, ✗ red, ! yellow) and the
//! `error:` and `warning:` labels. Only on a terminal, never with `NO_COLOR` or `TERM=dumb` (`CLICOLOR_FORCE`
//! turns it on anyway), and only added to text already neutralised, so text from outside never brings its
//! own escape sequences.

use std::borrow::Cow;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// Whether a stream that is (or is not) a terminal gets colour.
pub(crate) fn wanted(terminal: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    set("CLICOLOR_FORCE") || (terminal && std::env::var_os("TERM").is_none_or(|t| t != "dumb"))
}

/// `text` with its marks and labels coloured, line by line.
pub(crate) fn paint(text: &str) -> Cow<'_, str> {
    if !text.contains(['✓', '✗', '!']) && !text.contains("error:") && !text.contains("warning:")
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 32);
    for line in text.split_inclusive('\n') {
        let painted = if let Some(rest) = line.strip_prefix('✓') {
            format!("{GREEN}✓{RESET}{rest}")
        } else if let Some(rest) = line.strip_prefix('✗') {
            format!("{RED}✗{RESET}{rest}")
        } else if let Some(rest) = line.strip_prefix("! ") {
            format!("{YELLOW}!{RESET} {rest}")
        } else if let Some(at) = line
            .find("error:")
            .filter(|at| line[..*at].starts_with("get-token") || *at == 0)
        {
            format!("{}{RED}error:{RESET}{}", &line[..at], &line[at + 6..])
        } else if let Some(at) = line
            .find("warning:")
            .filter(|at| line[..*at].starts_with("get-token"))
        {
            format!("{}{YELLOW}warning:{RESET}{}", &line[..at], &line[at + 8..])
        } else {
            line.replacen("get-token: ✓", &format!("get-token: {GREEN}✓{RESET}"), 1)
        };
        out.push_str(&painted);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::paint;

    #[test]
    fn marks_and_labels_only() {
        assert_eq!(paint("plain text\n"), "plain text\n");
        assert_eq!(
            paint("✓ ok\n✗ bad\n"),
            "\x1b[32m✓\x1b[0m ok\n\x1b[31m✗\x1b[0m bad\n"
        );
        assert_eq!(
            paint("get-token: gmail: error: x"),
            "get-token: gmail: \x1b[31merror:\x1b[0m x"
        );
        // A message that merely contains the word is left alone.
        assert_eq!(
            paint("the service said error: x"),
            "the service said error: x"
        );
    }
}
