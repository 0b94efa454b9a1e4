//! Concealing secrets in a byte stream: what `get-token exec` puts between a command's output and its own,
//! and `get-token api` between an API's answer and stdout.
//!
//! Every occurrence of a secret is replaced by [`MASK`], wherever the reads happen to split it. Only bytes
//! that could still turn out to be the start of a secret are held back (fewer than the longest secret),
//! everything else is passed on at once, so memory stays bounded and output is not delayed for nothing.
//! Held-back bytes are released by the next byte that rules the secret out, or by the end of the stream,
//! never by a timer: a command that prints most of a token, pauses, then prints the rest would otherwise
//! show everything but its tail.

use zeroize::Zeroizing;

/// What the command's output shows in place of a token (the wording of 1Password's `op run`, our name).
pub const MASK: &[u8] = b"<concealed by get-token>";

/// A streaming masker for one output stream.
pub struct Masker {
    /// Longest first: where two secrets start at the same byte, the longer one is concealed whole.
    secrets: Vec<Zeroizing<Vec<u8>>>,
    /// The bytes that can start a secret, so runs of other bytes are copied without a closer look.
    starts: [bool; 256],
    /// Input not yet decided on: at most the longest secret's length minus one once a feed returns.
    pending: Zeroizing<Vec<u8>>,
}

impl Masker {
    /// A masker for `secrets` (empty ones are ignored: there is nothing to conceal).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut secrets: Vec<Zeroizing<Vec<u8>>> = secrets
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|s| Zeroizing::new(s.to_vec()))
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        let mut starts = [false; 256];
        for s in &secrets {
            starts[usize::from(s[0])] = true;
        }
        Self {
            secrets,
            starts,
            pending: Zeroizing::new(Vec::new()),
        }
    }

    /// Masks `chunk`, the next bytes of the stream, appending what can be shown now to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.secrets.is_empty() {
            out.extend_from_slice(chunk);
            return;
        }
        self.pending.extend_from_slice(chunk);
        let decided = self.scan(false, out);
        // Moves fewer than the longest secret's bytes; the buffer keeps its capacity, so no copy of the
        // input is left behind in freed memory (the Zeroizing buffer wipes all of it when dropped).
        self.pending.drain(..decided);
    }

    /// The end of the stream: whatever was held back is decided, with nothing more to come.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let decided = self.scan(true, out);
        self.pending.drain(..decided);
    }

    /// How many bytes are held back (for tests and the bound on memory).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.pending.len()
    }

    /// Decides on `pending` from its start, leftmost-longest; returns where it stopped: the first byte that
    /// starts what could still become a secret, unless this is the end of the stream.
    fn scan(&self, at_end: bool, out: &mut Vec<u8>) -> usize {
        let data = &self.pending[..];
        let mut i = 0;
        while i < data.len() {
            if !self.starts[usize::from(data[i])] {
                let run = data[i..]
                    .iter()
                    .position(|&b| self.starts[usize::from(b)])
                    .map_or(data.len(), |p| i + p);
                out.extend_from_slice(&data[i..run]);
                i = run;
                continue;
            }
            let rest = &data[i..];
            if !at_end
                && self
                    .secrets
                    .iter()
                    .any(|s| s.len() > rest.len() && s.starts_with(rest))
            {
                return i;
            }
            match self.secrets.iter().find(|s| rest.starts_with(s)) {
                Some(s) => {
                    out.extend_from_slice(MASK);
                    i += s.len();
                }
                None => {
                    out.push(data[i]);
                    i += 1;
                }
            }
        }
        data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The specification, on the whole stream at once: at each position the longest secret that starts
    /// there is replaced, otherwise the byte is kept.
    fn reference(secrets: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
        let mut sorted: Vec<&Vec<u8>> = secrets.iter().filter(|s| !s.is_empty()).collect();
        sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let (mut out, mut i) = (Vec::new(), 0);
        while i < input.len() {
            match sorted.iter().find(|s| input[i..].starts_with(s)) {
                Some(s) => {
                    out.extend_from_slice(MASK);
                    i += s.len();
                }
                None => {
                    out.push(input[i]);
                    i += 1;
                }
            }
        }
        out
    }

    /// Feeds `input` cut at `cuts` (positions, any order, out of range ones folded in).
    fn streamed(secrets: &[Vec<u8>], input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut masker = Masker::new(secrets.iter().map(Vec::as_slice));
        let longest = secrets.iter().map(Vec::len).max().unwrap_or(0);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.push(input.len());
        cuts.sort_unstable();
        let (mut out, mut from) = (Vec::new(), 0);
        for cut in cuts {
            masker.feed(&input[from..cut], &mut out);
            assert!(masker.held() < longest.max(1), "held back too much");
            from = cut;
        }
        masker.finish(&mut out);
        assert_eq!(masker.held(), 0);
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// Secrets over a few bytes none of which is in the mask, so overlaps and near misses are frequent and
    /// a secret in the output can only come from the input.
    fn secret() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(vec![b'x', b'z', 0, 0xff]), 1..8)
    }

    fn input() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(vec![b'x', b'z', 0, 0xff]),
                1 => any::<u8>(),
            ],
            0..200,
        )
    }

    proptest! {
        #[test]
        fn any_chunking_masks_like_the_whole_stream(
            secrets in prop::collection::vec(secret(), 1..4),
            input in input(),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        ) {
            prop_assert_eq!(streamed(&secrets, &input, &cuts), reference(&secrets, &input));
        }

        #[test]
        fn no_secret_ever_reaches_the_output(
            secrets in prop::collection::vec(secret(), 1..4),
            input in input(),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        ) {
            let out = streamed(&secrets, &input, &cuts);
            for s in &secrets {
                prop_assert!(!contains(&out, s), "{:?} in {:?}", s, out);
            }
        }

        #[test]
        fn output_without_secrets_passes_byte_for_byte(
            input in prop::collection::vec(any::<u8>(), 0..500),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        ) {
            let secret = b"fake-token_byC-not-in-the-input".to_vec();
            prop_assume!(!contains(&input, &secret));
            prop_assert_eq!(streamed(&[secret], &input, &cuts), input);
        }
    }

    #[test]
    fn a_secret_split_at_every_position_is_masked() {
        let secret = b"fake-token_value_0123456789abcd".to_vec();
        let input = [&b"Authorization: Bearer "[..], &secret, b"\n"].concat();
        let expected = [&b"Authorization: Bearer "[..], MASK, b"\n"].concat();
        for cut in 0..=input.len() {
            for second in cut..=input.len() {
                assert_eq!(
                    streamed(std::slice::from_ref(&secret), &input, &[cut, second]),
                    expected,
                    "cut at {cut} and {second}"
                );
            }
        }
    }

    #[test]
    fn only_a_possible_start_of_a_secret_is_held_back() {
        let mut masker = Masker::new([&b"xoxq-123"[..]]);
        let mut out = Vec::new();
        masker.feed(b"prompt> ", &mut out);
        assert_eq!(out, b"prompt> ", "nothing that could start a secret waits");
        masker.feed(b"say xox", &mut out);
        assert_eq!(out, b"prompt> say ");
        assert_eq!(masker.held(), 3);
        masker.feed(b"o", &mut out);
        assert_eq!(
            out, b"prompt> say xo",
            "released once ruled out, up to a new start"
        );
        masker.feed(b"xoxq-1", &mut out);
        masker.finish(&mut out);
        assert_eq!(
            out, b"prompt> say xoxoxoxq-1",
            "the end of the stream releases it"
        );
    }

    #[test]
    fn the_longer_of_two_overlapping_secrets_is_masked_whole() {
        let mut masker = Masker::new([&b"abc"[..], b"abcdef", b""]);
        let mut out = Vec::new();
        masker.feed(b"abcd", &mut out);
        masker.feed(b"ef abc", &mut out);
        masker.finish(&mut out);
        assert_eq!(out, [MASK, b" ", MASK].concat());
    }
}
