//! Where a `regex:` frame ends, found without reading the buffer again on every look.
//!
//! A raw message framed by a regular expression ends where the leftmost-first match in the
//! bytes that have arrived ends (`Regex::find`). Searching the whole buffer on every read
//! costs time quadratic in the message's size when it arrives in small pieces, because a
//! match may start anywhere. Instead the bytes are walked once through the regex's lazy
//! DFA (regex-automata's hybrid NFA/DFA, the engine under `regex`), and its state is kept
//! in the [`Scan`]: a look feeds only the new bytes and asks whether the input would match
//! if it ended there. Once it would, `Regex::find` runs once over the buffer to find where
//! that match ends, so the answer is the one a fresh search gives.
//!
//! Two cases fall back to searching the buffer from its start on every look, as before: a
//! pattern the lazy DFA cannot run (a Unicode word boundary `\b` meeting a non-ASCII
//! byte) and a DFA whose cache gave up. Neither changes the answer, only its cost.
//!
//! One answer is new: when the DFA is dead (the bytes so far rule out any match however
//! the message goes on, as `^220 ` does for `500 `), the frame ends where the bytes end,
//! as a literal that already differs does, instead of waiting for the deadline.

use std::sync::Arc;

use regex::bytes::Regex;
use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::util::start;
use regex_automata::{nfa::thompson, util::syntax};

use super::Scan;

/// The lazy DFA's walk over the bytes of one message, kept between looks.
#[derive(Clone, Debug)]
pub struct RegexScan {
    /// The pattern this walk is for (a scan of another step's pattern starts afresh).
    pattern: Arc<str>,
    /// The walk, or `None` when this pattern is searched from the start on every look.
    walk: Option<Walk>,
}

/// A lazy DFA, its cache and where the walk stands.
#[derive(Clone, Debug)]
struct Walk {
    dfa: DFA,
    cache: Cache,
    /// The state after the first `fed` bytes (without the end of input).
    state: LazyStateID,
    /// How many bytes were fed.
    fed: usize,
}

impl PartialEq for RegexScan {
    /// Two scans are the same when they are for the same pattern and have read as far.
    fn eq(&self, other: &RegexScan) -> bool {
        self.pattern == other.pattern
            && self.walk.as_ref().map(|w| w.fed) == other.walk.as_ref().map(|w| w.fed)
    }
}

impl Eq for RegexScan {}

/// What a look at a buffer found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegexFrame {
    /// The leftmost-first match in the buffer ends here.
    Match(usize),
    /// No match yet; more bytes may bring one.
    Partial,
    /// No match, and no bytes that follow can bring one.
    Never,
}

/// Looks for `re` in `buf`, resuming the walk `scan` holds when it is one over a shorter
/// prefix of `buf` for the same pattern (and starting one otherwise).
pub fn find_resuming(re: &Regex, buf: &[u8], scan: &mut Scan) -> RegexFrame {
    let resumable = matches!(scan, Scan::Regex(rs) if *rs.pattern == *re.as_str()
        && rs.walk.as_ref().is_none_or(|w| w.fed <= buf.len()));
    if !resumable {
        *scan = Scan::Regex(Box::new(RegexScan::new(re)));
    }
    let Scan::Regex(rs) = scan else {
        unreachable!("set just above")
    };
    let Some(walk) = rs.walk.as_mut() else {
        return rescan(re, buf);
    };
    match walk.advance(buf) {
        Ok(Seen::Match) => match re.find(buf) {
            Some(m) => RegexFrame::Match(m.end()),
            // The DFA and `regex` read the pattern the same way; were they ever to
            // disagree, `regex` decides and the walk is given up.
            None => {
                rs.walk = None;
                RegexFrame::Partial
            }
        },
        Ok(Seen::Dead) => RegexFrame::Never,
        Ok(Seen::Nothing) => RegexFrame::Partial,
        Err(GiveUp) => {
            rs.walk = None;
            rescan(re, buf)
        }
    }
}

/// The answer of a search of the whole buffer.
fn rescan(re: &Regex, buf: &[u8]) -> RegexFrame {
    match re.find(buf) {
        Some(m) => RegexFrame::Match(m.end()),
        None => RegexFrame::Partial,
    }
}

impl RegexScan {
    /// A walk for `re` that has read nothing; no walk when the lazy DFA cannot run it.
    fn new(re: &Regex) -> RegexScan {
        RegexScan {
            pattern: Arc::from(re.as_str()),
            walk: Walk::new(re.as_str()),
        }
    }
}

/// What the walk saw.
enum Seen {
    /// A match ends within the buffer, or at its end.
    Match,
    /// Dead: no match in any continuation.
    Dead,
    /// Neither yet.
    Nothing,
}

/// The walk cannot go on (a quit byte, a cache that gave up): search afresh instead.
struct GiveUp;

impl Walk {
    /// The DFA is built the way `regex::bytes::Regex::new` builds its engines: Unicode
    /// classes on, any byte allowed (not only UTF-8), an unanchored search.
    fn new(pattern: &str) -> Option<Walk> {
        let dfa = DFA::builder()
            .configure(DFA::config().unicode_word_boundary(true))
            .syntax(syntax::Config::new().utf8(false))
            .thompson(thompson::Config::new().utf8(false))
            .build(pattern)
            .ok()?;
        let mut cache = dfa.create_cache();
        let state = dfa.start_state(&mut cache, &start::Config::new()).ok()?;
        Some(Walk {
            dfa,
            cache,
            state,
            fed: 0,
        })
    }

    /// Feeds the bytes of `buf` after the first `fed`, then asks whether the input would
    /// match if it ended where `buf` ends.
    fn advance(&mut self, buf: &[u8]) -> Result<Seen, GiveUp> {
        // A walk that stopped on a match or in the dead state stays there.
        if self.state.is_match() {
            return Ok(Seen::Match);
        }
        if self.state.is_dead() {
            return Ok(Seen::Dead);
        }
        for &byte in &buf[self.fed..] {
            // A match state is entered one byte after the match ends.
            self.state = self
                .dfa
                .next_state(&mut self.cache, self.state, byte)
                .map_err(|_| GiveUp)?;
            self.fed += 1;
            if self.state.is_match() {
                return Ok(Seen::Match);
            }
            if self.state.is_dead() {
                return Ok(Seen::Dead);
            }
            if self.state.is_quit() {
                return Err(GiveUp);
            }
        }
        let clears = self.cache.clear_count();
        let end = self
            .dfa
            .next_eoi_state(&mut self.cache, self.state)
            .map_err(|_| GiveUp)?;
        if end.is_match() {
            return Ok(Seen::Match);
        }
        if self.cache.clear_count() != clears {
            // Clearing the cache renumbered the state the walk stands in: start again
            // from the first byte on the next look (rare: the cache holds 2 MiB).
            self.state = self
                .dfa
                .start_state(&mut self.cache, &start::Config::new())
                .map_err(|_| GiveUp)?;
            self.fed = 0;
        }
        Ok(Seen::Nothing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Looks at every prefix of `data` in turn with one scan.
    fn looks(pattern: &str, data: &[u8]) -> Vec<RegexFrame> {
        let re = Regex::new(pattern).unwrap();
        let mut scan = Scan::default();
        (0..=data.len())
            .map(|n| find_resuming(&re, &data[..n], &mut scan))
            .collect()
    }

    #[test]
    fn a_match_is_where_find_ends_it_on_the_bytes_that_arrived() {
        // Greedy: all the digits that arrived with the first one are taken.
        let re = Regex::new(r"\d+").unwrap();
        let mut scan = Scan::default();
        assert_eq!(find_resuming(&re, b"ab", &mut scan), RegexFrame::Partial);
        assert_eq!(find_resuming(&re, b"ab123x", &mut scan), RegexFrame::Match(5));
        assert_eq!(looks(r"\r\n", b"220 ok\r\n").last(), Some(&RegexFrame::Match(8)));
    }

    #[test]
    fn a_match_at_the_very_end_is_seen_without_waiting_for_another_byte() {
        let got = looks(r"ok\r\n", b"220 ok\r\n");
        assert_eq!(got[7], RegexFrame::Partial);
        assert_eq!(got[8], RegexFrame::Match(8));
    }

    #[test]
    fn an_anchored_pattern_that_cannot_match_any_more_says_so_at_once() {
        let got = looks(r"^220 ", b"500 no");
        assert_eq!(got[0], RegexFrame::Partial);
        assert_eq!(got[1], RegexFrame::Never, "the 5 rules out ^220");
        assert_eq!(got[6], RegexFrame::Never);
        let re = Regex::new(r"^220 ").unwrap();
        let mut scan = Scan::default();
        assert_eq!(find_resuming(&re, b"5", &mut scan), RegexFrame::Never);
        assert_eq!(
            find_resuming(&re, b"5", &mut scan),
            RegexFrame::Never,
            "asked again"
        );
    }

    #[test]
    fn end_of_input_assertions_read_the_end_of_what_arrived() {
        let re = Regex::new(r"ok$").unwrap();
        let mut scan = Scan::default();
        assert_eq!(find_resuming(&re, b"ok", &mut scan), RegexFrame::Match(2));
        let mut scan = Scan::default();
        assert_eq!(find_resuming(&re, b"o", &mut scan), RegexFrame::Partial);
        assert_eq!(find_resuming(&re, b"okay", &mut scan), RegexFrame::Partial);
        assert_eq!(find_resuming(&re, b"okay ok", &mut scan), RegexFrame::Match(7));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_matched_as_bytes() {
        let got = looks(r"(?-u:\xff)\r\n", b"\xfe\xff\r\n");
        assert_eq!(got.last(), Some(&RegexFrame::Match(4)));
        assert_eq!(looks(r"x", b"\xff\xfex").last(), Some(&RegexFrame::Match(3)));
    }

    #[test]
    fn a_unicode_word_boundary_on_non_ascii_bytes_falls_back_to_searching_afresh() {
        let got = looks(r"\bwort\b", "grüß wort ".as_bytes());
        assert_eq!(got.last(), Some(&RegexFrame::Match(11)));
        let re = Regex::new(r"\bwort\b").unwrap();
        let mut scan = Scan::default();
        find_resuming(&re, "grü".as_bytes(), &mut scan);
        assert!(matches!(&scan, Scan::Regex(rs) if rs.walk.is_none()), "{scan:?}");
    }

    #[test]
    fn a_scan_of_another_pattern_or_a_longer_buffer_starts_afresh() {
        let a = Regex::new("b").unwrap();
        let mut scan = Scan::default();
        assert_eq!(find_resuming(&a, b"aaa", &mut scan), RegexFrame::Partial);
        let other = Regex::new("a").unwrap();
        assert_eq!(find_resuming(&other, b"aaa", &mut scan), RegexFrame::Match(1));
        let mut scan = Scan::default();
        assert_eq!(find_resuming(&a, b"aaa", &mut scan), RegexFrame::Partial);
        assert_eq!(find_resuming(&a, b"b", &mut scan), RegexFrame::Match(1));
    }

    proptest::proptest! {
        /// Whatever the pattern and however the bytes arrive, a kept scan answers what
        /// `Regex::find` says of the bytes that arrived; `Never` only where no match is.
        #[test]
        fn a_kept_scan_agrees_with_find_on_every_prefix(
            pattern in proptest::sample::select(vec![
                r"a", r"ab+", r"b*a", r"^a", r"^ab", r"a\n", r"(?m)^b$", r"b$", r"\ba",
                r"a|bb", r"(ab)+\n", r"[^a]{3}", r"a.*b", r"^[ab]*\n$", r"\Ab\z", r"",
            ]),
            data in proptest::collection::vec(proptest::sample::select(&b"ab\n"[..]), 0..40),
            cuts in proptest::collection::vec(0usize..64, 0..10),
        ) {
            let re = Regex::new(pattern).unwrap();
            let mut ends: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
            ends.push(data.len());
            ends.sort_unstable();
            let mut scan = Scan::default();
            for end in ends {
                let got = find_resuming(&re, &data[..end], &mut scan);
                match re.find(&data[..end]) {
                    Some(m) => proptest::prop_assert_eq!(got, RegexFrame::Match(m.end())),
                    None => proptest::prop_assert!(!matches!(got, RegexFrame::Match(_)), "{got:?}"),
                }
                if got == RegexFrame::Never {
                    // No continuation matches: try every one-byte and two-byte one.
                    for tail in [&b"a"[..], b"b", b"\n", b"ab", b"ba", b"a\n", b"b\n"] {
                        let mut longer = data[..end].to_vec();
                        longer.extend_from_slice(tail);
                        proptest::prop_assert!(re.find(&longer).is_none(), "{pattern} on {longer:?}");
                    }
                    break;
                }
            }
        }
    }
}
