//! Messages checked as their bytes arrive: a raw message (echo) or a data connection's
//! contents (FTP) compared with its expectation incrementally — exact bytes (generated
//! lazily from a [`ByteStream`], so a repeat of any size costs its unit), a length, a
//! needle found with a rolling window, a needle that must not appear — keeping only what
//! a report needs: the first difference with a window around it, the head, the tail and
//! the counts. A step may then be as large as the language allows while parley holds a
//! few kilobytes of it.

use crate::proto::Mismatch;
use crate::scenario::payload::{ByteStream, StreamCursor};
use crate::visible::visible_truncated;

/// Bytes kept of a message's start, for the protocol's checks and for reports.
pub const HEAD: usize = 1024 * 1024;
/// Bytes kept of a message's end, past its head, for reports.
pub const SAMPLE: usize = 64 * 1024;
/// Bytes shown on each side of the first difference.
pub const WINDOW: usize = 32;
/// The most bytes judged in one go (see [`StreamMatch::feed`]).
const PIECE: usize = 64 * 1024;

/// What a streamed message is checked against.
#[derive(Debug, Clone, Default)]
pub struct StreamWanted {
    /// Exactly these bytes.
    pub exact: Option<ByteStream>,
    /// This many bytes.
    pub len: Option<u64>,
    /// Contains these bytes.
    pub contains: Option<Vec<u8>>,
    /// Does not contain these bytes.
    pub not_contains: Option<Vec<u8>>,
}

/// Where a streamed message ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Where the expectation says (exact length, `len`, through the `contains` needle).
    Expected,
    /// When the sender closes.
    Eof,
}

/// A message being received and checked piece by piece.
#[derive(Debug)]
pub struct StreamMatch {
    wanted: StreamWanted,
    end: StreamEnd,
    /// The message is this many bytes, whatever the expectation says (its framing, e.g.
    /// an HTTP body's Content-Length, said so): it is read to its end even after a
    /// difference, so that the next message starts where it should.
    framed: Option<u64>,
    /// What the findings call the message ("message", "body").
    noun: &'static str,
    cursor: StreamCursor,
    scratch: Vec<u8>,
    /// Bytes taken so far.
    pub consumed: u64,
    /// The first byte that differs from `exact`: its offset, and the windows around it
    /// (expected, actual).
    first_difference: Option<(u64, Vec<u8>, Vec<u8>)>,
    /// The bytes before the difference, for its window.
    recent: Vec<u8>,
    contains_at: Option<u64>,
    not_contains_at: Option<u64>,
    /// The last bytes, to find needles across pieces.
    carry: Vec<u8>,
    /// The first [`HEAD`] bytes.
    pub head: Vec<u8>,
    /// The last [`SAMPLE`] bytes (past the head).
    tail: Vec<u8>,
    done: bool,
}

impl StreamMatch {
    /// A match of `wanted`, ending as `end` says.
    pub fn new(wanted: StreamWanted, end: StreamEnd) -> StreamMatch {
        StreamMatch {
            wanted,
            end,
            framed: None,
            noun: "message",
            cursor: StreamCursor::default(),
            scratch: Vec::new(),
            consumed: 0,
            first_difference: None,
            recent: Vec::new(),
            contains_at: None,
            not_contains_at: None,
            carry: Vec::new(),
            head: Vec::new(),
            tail: Vec::new(),
            done: false,
        }
    }

    /// A match of `wanted` on a message of exactly `len` bytes, as its framing says;
    /// findings call it `noun`.
    pub fn framed(wanted: StreamWanted, len: u64, noun: &'static str) -> StreamMatch {
        let mut m = StreamMatch::new(wanted, StreamEnd::Expected);
        m.framed = Some(len);
        m.noun = noun;
        m.done = len == 0;
        m
    }

    /// Where the message ends, when that is known: its framing's length, else the
    /// expected bytes' or the expected length.
    fn limit(&self) -> Option<u64> {
        self.framed
            .or_else(|| self.wanted.exact.as_ref().map(ByteStream::len))
            .or(self.wanted.len)
    }

    /// Whether the message is complete (for [`StreamEnd::Expected`]).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// How many of the next `available` bytes belong to this message.
    pub fn wants(&self, available: usize) -> usize {
        if self.done {
            return 0;
        }
        if self.end == StreamEnd::Eof {
            return available;
        }
        match self.limit() {
            Some(n) => (n.saturating_sub(self.consumed)).min(available as u64) as usize,
            None => available,
        }
    }

    /// Takes `data` (no more than [`Self::wants`] said). For [`StreamEnd::Expected`],
    /// returns how many bytes it used (a `contains` needle ends the message where it ends).
    /// However much arrives at once, it is judged in pieces of [`PIECE`] bytes, so the
    /// working memory of a match does not grow with the peer's bursts.
    pub fn feed(&mut self, data: &[u8]) -> usize {
        let mut at = 0;
        while at < data.len() && !self.done {
            let piece = &data[at..(at + PIECE).min(data.len())];
            let used = self.feed_piece(piece);
            at += used;
            if used < piece.len() {
                break;
            }
        }
        at
    }

    fn feed_piece(&mut self, data: &[u8]) -> usize {
        if self.done || data.is_empty() {
            return 0;
        }
        let mut used = data.len();
        if let Some(needle) = self.wanted.contains.clone() {
            if self.contains_at.is_none() {
                if let Some(at) = self.search(&needle, data) {
                    self.contains_at = Some(at);
                    let only_needle = self.end == StreamEnd::Expected
                        && self.framed.is_none()
                        && self.wanted.exact.is_none()
                        && self.wanted.len.is_none();
                    if only_needle {
                        // The message ends with the needle: the rest is the next one's.
                        used = ((at + needle.len() as u64) - self.consumed) as usize;
                        self.done = true;
                    }
                }
            }
        }
        let data = &data[..used];
        if let Some(needle) = self.wanted.not_contains.clone() {
            if self.not_contains_at.is_none() {
                self.not_contains_at = self.search(&needle, data);
            }
        }
        if let Some(exact) = &self.wanted.exact {
            if self.first_difference.is_none() {
                if let Some(i) = self.cursor.compare(exact, data, &mut self.scratch, WINDOW) {
                    // The window: what came just before the difference (alike on both
                    // sides), then each side's next bytes.
                    let mut before = self.recent.clone();
                    before.extend_from_slice(&data[..i]);
                    let before = before[before.len().saturating_sub(WINDOW)..].to_vec();
                    let mut expected = before.clone();
                    expected.extend_from_slice(&self.scratch);
                    let mut actual = before;
                    actual.extend_from_slice(&data[i..(i + WINDOW).min(data.len())]);
                    self.first_difference = Some((self.consumed + i as u64, expected, actual));
                    if self.end == StreamEnd::Expected && self.framed.is_none() {
                        self.done = true;
                    }
                }
            }
        }
        self.remember(data);
        self.consumed += data.len() as u64;
        if self.end == StreamEnd::Expected && !self.done && self.limit().is_some_and(|n| self.consumed >= n) {
            self.done = true;
        }
        data.len()
    }

    /// Finds `needle` in what came so far and `data`; its offset in the message.
    fn search(&mut self, needle: &[u8], data: &[u8]) -> Option<u64> {
        if needle.is_empty() {
            return Some(self.consumed);
        }
        let mut hay = self.carry.clone();
        hay.extend_from_slice(data);
        memchr::memmem::find(&hay, needle).map(|p| self.consumed + p as u64 - self.carry.len() as u64)
    }

    /// Keeps the head, the tail, the recent bytes (for a difference's window) and the
    /// carry (for needles across pieces).
    fn remember(&mut self, data: &[u8]) {
        let room = HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&data[..data.len().min(room)]);
        let rest = &data[data.len().min(room)..];
        if !rest.is_empty() {
            // Only the last SAMPLE bytes of a long piece can end up in the tail (and
            // then nothing older can).
            if rest.len() > SAMPLE {
                self.tail.clear();
            }
            let rest = &rest[rest.len().saturating_sub(SAMPLE)..];
            if self.tail.len() + rest.len() > 2 * SAMPLE {
                let drop = (self.tail.len() + rest.len() - SAMPLE).min(self.tail.len());
                self.tail.drain(..drop);
            }
            self.tail.extend_from_slice(rest);
        }
        let keep = |v: &mut Vec<u8>, n: usize| {
            v.extend_from_slice(&data[data.len().saturating_sub(n)..]);
            if v.len() > n {
                v.drain(..v.len() - n);
            }
        };
        keep(&mut self.recent, WINDOW);
        let needle = self
            .wanted
            .contains
            .as_ref()
            .map_or(0, Vec::len)
            .max(self.wanted.not_contains.as_ref().map_or(0, Vec::len));
        keep(&mut self.carry, needle.saturating_sub(1));
    }

    /// The last bytes taken (at most [`WINDOW`]).
    pub fn last(&self) -> &[u8] {
        &self.recent
    }

    /// The message's bytes as far as a report keeps them: the head, and the tail when
    /// the message was longer.
    pub fn sample(&self) -> Vec<u8> {
        let mut out = self.head.clone();
        out.extend_from_slice(&self.tail[self.tail.len().saturating_sub(SAMPLE)..]);
        out
    }

    /// Every way the message fell short, once it ended.
    pub fn mismatches(&self) -> Vec<Mismatch> {
        let mut out = Vec::new();
        let shown = |b: &[u8]| visible_truncated(b, 2 * WINDOW + 16);
        if let Some(expected) = &self.wanted.exact {
            let want = expected.len();
            match &self.first_difference {
                Some((at, e, a)) => out.push(Mismatch {
                    expected: shown(e),
                    actual: shown(a),
                    message: format!("the bytes differ from byte {at} on"),
                }),
                None if self.consumed < want => out.push(Mismatch {
                    expected: format!("{want} bytes"),
                    actual: format!("{} bytes", self.consumed),
                    message: format!("{} of {want} expected bytes arrived", self.consumed),
                }),
                None if self.consumed > want => out.push(Mismatch {
                    expected: format!("{want} bytes"),
                    actual: format!("{} bytes", self.consumed),
                    message: format!(
                        "{} bytes arrived, {} more than the {want} expected",
                        self.consumed,
                        self.consumed - want
                    ),
                }),
                None => {}
            }
        }
        if let Some(n) = self.wanted.len {
            if self.consumed != n {
                out.push(Mismatch {
                    expected: format!("{n} bytes"),
                    actual: format!("{} bytes", self.consumed),
                    message: format!("the {} is {} bytes long, not {n}", self.noun, self.consumed),
                });
            }
        }
        if let Some(needle) = &self.wanted.contains {
            if self.contains_at.is_none() {
                out.push(Mismatch {
                    expected: shown(needle),
                    actual: shown(&self.sample()),
                    message: format!(
                        "the {} does not contain \"{}\" ({} bytes came)",
                        self.noun,
                        shown(needle),
                        self.consumed
                    ),
                });
            }
        }
        if let (Some(needle), Some(at)) = (&self.wanted.not_contains, self.not_contains_at) {
            out.push(Mismatch {
                expected: format!("no \"{}\"", shown(needle)),
                actual: format!("\"{}\" at byte {at}", shown(needle)),
                message: format!(
                    "the {} contains \"{}\", which it must not",
                    self.noun,
                    shown(needle)
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeat(unit: &[u8], times: usize) -> ByteStream {
        ByteStream {
            parts: vec![(unit.to_vec().into(), times)],
        }
    }

    /// Feeds `data` in pieces of `piece` bytes as far as the match wants them.
    fn feed_all(m: &mut StreamMatch, data: &[u8], piece: usize) -> usize {
        let mut at = 0;
        while at < data.len() {
            let take = m.wants((data.len() - at).min(piece));
            if take == 0 {
                break;
            }
            at += m.feed(&data[at..at + take]);
        }
        at
    }

    #[test]
    fn a_repeat_is_compared_without_being_built_whatever_the_pieces() {
        let wanted = StreamWanted {
            exact: Some(repeat(b"0123456789abcdef", 1 << 16)),
            ..Default::default()
        };
        let data = b"0123456789abcdef".repeat(1 << 16);
        for piece in [1usize, 7, 4096, 1 << 20] {
            let mut m = StreamMatch::new(wanted.clone(), StreamEnd::Expected);
            assert_eq!(feed_all(&mut m, &data, piece), data.len());
            assert!(m.is_done());
            assert!(m.mismatches().is_empty(), "{piece}: {:?}", m.mismatches());
            assert!(m.sample().len() <= HEAD + SAMPLE);
        }
    }

    #[test]
    fn the_first_difference_is_shown_with_its_offset_and_a_window() {
        let wanted = StreamWanted {
            exact: Some(repeat(b"ab", 1000)),
            ..Default::default()
        };
        let mut data = b"ab".repeat(1000);
        data[1234] = b'X';
        let mut m = StreamMatch::new(wanted.clone(), StreamEnd::Expected);
        feed_all(&mut m, &data, 100);
        let mm = m.mismatches();
        assert_eq!(mm.len(), 1);
        assert_eq!(mm[0].message, "the bytes differ from byte 1234 on");
        assert!(mm[0].actual.contains('X'), "{}", mm[0].actual);
        assert!(!mm[0].expected.contains('X'));
        assert!(mm[0].expected.len() < 200 && mm[0].actual.len() < 200);
    }

    #[test]
    fn a_short_message_says_how_much_came() {
        let wanted = StreamWanted {
            exact: Some(ByteStream::from(b"hello".to_vec())),
            ..Default::default()
        };
        let mut m = StreamMatch::new(wanted.clone(), StreamEnd::Eof);
        feed_all(&mut m, b"he", 1);
        assert_eq!(m.mismatches()[0].message, "2 of 5 expected bytes arrived");
    }

    #[test]
    fn needles_are_found_across_pieces_and_end_the_message() {
        let wanted = StreamWanted {
            contains: Some(b"readme.txt".to_vec()),
            not_contains: Some(b"secret".to_vec()),
            ..Default::default()
        };
        let data = b"pub\r\nreadme.txt\r\nrest";
        let mut m = StreamMatch::new(wanted.clone(), StreamEnd::Expected);
        assert_eq!(feed_all(&mut m, data, 3), 15, "through the needle");
        assert!(m.is_done() && m.mismatches().is_empty());
        let mut m = StreamMatch::new(wanted.clone(), StreamEnd::Eof);
        feed_all(&mut m, b"a secret readme", 2);
        let messages: Vec<String> = m.mismatches().into_iter().map(|x| x.message).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[1].contains("which it must not"));
    }

    #[test]
    fn a_length_is_counted() {
        let wanted = StreamWanted {
            len: Some(10),
            ..Default::default()
        };
        let mut m = StreamMatch::new(wanted.clone(), StreamEnd::Eof);
        feed_all(&mut m, b"0123456789ab", 5);
        assert_eq!(m.mismatches()[0].message, "the message is 12 bytes long, not 10");
    }
}
