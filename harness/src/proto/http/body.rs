//! Where a message's body ends (RFC 1945 §7.2.2, RFC 2616 §4.4) and the chunked
//! transfer-coding (RFC 2616 §3.6.1), decoded for the view.
//!
//! The decision depends only on the head, the bytes buffered and whether the sender
//! closed — and, for a response, on the request it answers — so any split of the bytes
//! gives the same frame. A chunked body is read incrementally ([`ChunkScan`]): each look
//! at the grown buffer resumes at the chunk in progress.

use super::head::Head;
use super::headers::ContentLength;
use crate::proto::Frame;

/// Why a message has no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bodiless {
    /// A request without Content-Length (RFC 1945 §7.2.2: a request body needs one).
    NoLength,
    /// A response to HEAD (RFC 1945 §8.2).
    HeadResponse,
    /// A 1xx, 204 or 304 response (RFC 1945 §7.2, RFC 2616 §4.3).
    Status(u16),
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// There is none: the message ends with its head.
    Empty(Bodiless),
    /// Content-Length octets.
    Length(u64),
    /// Chunked transfer-coding.
    Chunked,
    /// Everything until the sender closes (a response without Content-Length).
    UntilClose,
}

/// Whether the head declares the chunked transfer-coding.
pub fn is_chunked(head: &Head<'_>) -> bool {
    head.lists("Transfer-Encoding", "chunked")
}

/// How a request's body is delimited: chunked, by Content-Length, or not at all — a
/// request without Content-Length has no body parley waits for.
pub fn request_framing(head: &Head<'_>) -> BodyFraming {
    if is_chunked(head) {
        return BodyFraming::Chunked;
    }
    match ContentLength::of(head).length() {
        Some(n) => BodyFraming::Length(n),
        None => BodyFraming::Empty(Bodiless::NoLength),
    }
}

/// How a response to a HEAD request is delimited: it has no body, whatever its head says
/// (RFC 1945 §8.2).
pub fn response_framing_for_head() -> BodyFraming {
    BodyFraming::Empty(Bodiless::HeadResponse)
}

/// How a response with `status` to a `method` request is delimited (RFC 2616 §4.4).
pub fn response_framing(head: &Head<'_>, status: Option<u16>, method: &str) -> BodyFraming {
    if method == "HEAD" {
        return response_framing_for_head();
    }
    if let Some(code) = status {
        if (100..200).contains(&code) || code == 204 || code == 304 {
            return BodyFraming::Empty(Bodiless::Status(code));
        }
    }
    if is_chunked(head) {
        return BodyFraming::Chunked;
    }
    match ContentLength::of(head).length() {
        Some(n) => BodyFraming::Length(n),
        None => BodyFraming::UntilClose,
    }
}

/// Whether a whole message is buffered, its head being the first `head_len` bytes.
pub fn frame(buf: &[u8], head_len: usize, framing: BodyFraming, eof: bool) -> Frame {
    frame_from(buf, head_len, framing, eof, &mut ChunkScan::default())
}

/// [`frame`], a chunked body resuming where `chunks` stopped on a shorter prefix of `buf`.
pub fn frame_from(
    buf: &[u8],
    head_len: usize,
    framing: BodyFraming,
    eof: bool,
    chunks: &mut ChunkScan,
) -> Frame {
    let have = buf.len().saturating_sub(head_len);
    match framing {
        BodyFraming::Empty(_) => Frame::Complete(head_len),
        BodyFraming::Length(n) => {
            if have as u64 >= n {
                Frame::Complete(head_len + n as usize)
            } else {
                Frame::Partial
            }
        }
        BodyFraming::Chunked => match chunks.advance(&buf[head_len..], None) {
            Chunks::Complete { len } => Frame::Complete(head_len + len),
            // A malformed chunk cannot be framed: the body runs until the sender closes.
            Chunks::Malformed { .. } if eof => Frame::Complete(buf.len()),
            Chunks::Malformed { .. } | Chunks::Partial => Frame::Partial,
        },
        BodyFraming::UntilClose => {
            if eof {
                Frame::Complete(buf.len())
            } else {
                Frame::Partial
            }
        }
    }
}

/// How far a chunked body goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunks {
    /// The last chunk and the trailer have not all arrived.
    Partial,
    /// The chunked body, trailer included, is the first `len` bytes.
    Complete {
        /// Its length in bytes.
        len: usize,
    },
    /// It breaks the chunked grammar at byte `at`.
    Malformed {
        /// Offset of the offending line.
        at: usize,
        /// What is wrong, in words.
        why: String,
    },
}

/// Reads the chunked body at the start of `data` (RFC 2616 §3.6.1), appending the
/// decoded octets to `out` when given. Line ends may be bare LF (lenient).
pub fn decode_chunked(data: &[u8], out: Option<&mut Vec<u8>>) -> Chunks {
    ChunkScan::default().advance(data, out)
}

/// How far a chunked body has been read: the element in progress starts at `pos` (a
/// chunk-size line, a chunk's octets, the line end after them, a trailer line), and
/// `data[pos..searched]` holds no LF. Keep one per body, fresh for each message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkScan {
    /// Where the element in progress starts.
    pos: usize,
    /// No LF between `pos` and this offset.
    searched: usize,
    /// What starts at `pos`.
    at: ChunkAt,
}

/// The element of a chunked body a [`ChunkScan`] is in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum ChunkAt {
    /// A chunk-size line.
    #[default]
    SizeLine,
    /// The octets of a chunk of `size`, through offset `end`.
    Data { size: u64, end: usize },
    /// The line end after a chunk of `size`.
    AfterData { size: u64 },
    /// A line of the trailer.
    Trailer,
    /// The body is read: the verdict.
    Done(Chunks),
}

impl ChunkScan {
    /// Reads on from where the last call stopped, `data` being the same bytes with more
    /// appended; decoded octets of the chunks completed now are appended to `out`. Gives
    /// what [`decode_chunked`] gives for the whole of `data`.
    pub fn advance(&mut self, data: &[u8], mut out: Option<&mut Vec<u8>>) -> Chunks {
        loop {
            match self.at {
                ChunkAt::Done(ref verdict) => return verdict.clone(),
                ChunkAt::SizeLine => {
                    let Some(lf) = self.find_lf(data) else {
                        return Chunks::Partial;
                    };
                    let start = self.pos;
                    let line = data[start..lf].strip_suffix(b"\r").unwrap_or(&data[start..lf]);
                    let size_text = line.split(|b| *b == b';').next().unwrap_or_default().trim_ascii();
                    let Some(size) = parse_hex(size_text) else {
                        self.at = ChunkAt::Done(Chunks::Malformed {
                            at: start,
                            why: format!(
                                "the chunk-size line `{}` is not a hexadecimal number",
                                crate::visible::visible(line)
                            ),
                        });
                        continue;
                    };
                    self.pos = lf + 1;
                    self.searched = self.pos;
                    if size == 0 {
                        // The trailer: header lines until an empty line.
                        self.at = ChunkAt::Trailer;
                        continue;
                    }
                    self.at = match usize::try_from(size).ok().and_then(|s| self.pos.checked_add(s)) {
                        Some(end) => ChunkAt::Data { size, end },
                        None => ChunkAt::Done(Chunks::Malformed {
                            at: start,
                            why: format!("the chunk size {size:#x} is too large"),
                        }),
                    };
                }
                ChunkAt::Data { size, end } => {
                    if data.len() < end {
                        return Chunks::Partial;
                    }
                    if let Some(out) = out.as_deref_mut() {
                        out.extend_from_slice(&data[self.pos..end]);
                    }
                    self.pos = end;
                    self.at = ChunkAt::AfterData { size };
                }
                ChunkAt::AfterData { size } => {
                    let step = match data.get(self.pos..) {
                        Some([]) | Some([b'\r']) => return Chunks::Partial,
                        Some([b'\r', b'\n', ..]) => 2,
                        Some([b'\n', ..]) => 1,
                        _ => {
                            self.at = ChunkAt::Done(Chunks::Malformed {
                                at: self.pos,
                                why: format!("the chunk of {size} octets is not followed by CRLF"),
                            });
                            continue;
                        }
                    };
                    self.pos += step;
                    self.searched = self.pos;
                    self.at = ChunkAt::SizeLine;
                }
                ChunkAt::Trailer => {
                    let Some(lf) = self.find_lf(data) else {
                        return Chunks::Partial;
                    };
                    let line = &data[self.pos..lf];
                    self.pos = lf + 1;
                    self.searched = self.pos;
                    if line.is_empty() || line == b"\r" {
                        self.at = ChunkAt::Done(Chunks::Complete { len: self.pos });
                    }
                }
            }
        }
    }

    /// The LF that ends the line at `pos`, searching only bytes not searched before.
    fn find_lf(&mut self, data: &[u8]) -> Option<usize> {
        let from = self.searched.max(self.pos).min(data.len());
        let found = memchr::memchr(b'\n', &data[from..]).map(|i| from + i);
        self.searched = found.unwrap_or(data.len());
        found
    }
}

fn parse_hex(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 15 || !text.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(text).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn chunked_bodies_are_decoded() {
        let mut out = Vec::new();
        let data = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        assert_eq!(
            decode_chunked(data, Some(&mut out)),
            Chunks::Complete { len: data.len() - 4 }
        );
        assert_eq!(out, b"Wikipedia");
    }

    #[rstest]
    #[case(b"4\r\nWi")]
    #[case(b"4\r\nWiki")]
    #[case(b"4\r\nWiki\r")]
    #[case(b"4\r\nWiki\r\n0\r\n")]
    #[case(b"")]
    fn an_unfinished_chunked_body_is_partial(#[case] data: &[u8]) {
        assert_eq!(decode_chunked(data, None), Chunks::Partial);
    }

    #[rstest]
    #[case(b"zz\r\nhello\r\n0\r\n\r\n")]
    #[case(b"4\r\nWikiXX0\r\n\r\n")]
    #[case(b"fffffffffffffffffff\r\n")]
    fn a_broken_chunked_body_is_malformed(#[case] data: &[u8]) {
        assert!(matches!(decode_chunked(data, None), Chunks::Malformed { .. }));
    }

    /// The decoder as it was before it could resume: from the start of `data` every time.
    /// Kept as the reference the incremental decoder must agree with.
    fn reference_decode(data: &[u8], mut out: Option<&mut Vec<u8>>) -> Chunks {
        let mut pos = 0;
        loop {
            let Some(lf) = memchr::memchr(b'\n', &data[pos..]).map(|i| pos + i) else {
                return Chunks::Partial;
            };
            let line = data[pos..lf].strip_suffix(b"\r").unwrap_or(&data[pos..lf]);
            let size_text = line.split(|b| *b == b';').next().unwrap_or_default().trim_ascii();
            let Some(size) = parse_hex(size_text) else {
                return Chunks::Malformed {
                    at: pos,
                    why: format!(
                        "the chunk-size line `{}` is not a hexadecimal number",
                        crate::visible::visible(line)
                    ),
                };
            };
            let start = pos;
            pos = lf + 1;
            if size == 0 {
                loop {
                    let Some(lf) = memchr::memchr(b'\n', &data[pos..]).map(|i| pos + i) else {
                        return Chunks::Partial;
                    };
                    let line = &data[pos..lf];
                    pos = lf + 1;
                    if line.is_empty() || line == b"\r" {
                        return Chunks::Complete { len: pos };
                    }
                }
            }
            let Some(end) = usize::try_from(size).ok().and_then(|s| pos.checked_add(s)) else {
                return Chunks::Malformed {
                    at: start,
                    why: format!("the chunk size {size:#x} is too large"),
                };
            };
            if data.len() < end {
                return Chunks::Partial;
            }
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&data[pos..end]);
            }
            pos = end;
            match data.get(pos..) {
                Some([]) | Some([b'\r']) => return Chunks::Partial,
                Some([b'\r', b'\n', ..]) => pos += 2,
                Some([b'\n', ..]) => pos += 1,
                _ => {
                    return Chunks::Malformed {
                        at: pos,
                        why: format!("the chunk of {size} octets is not followed by CRLF"),
                    };
                }
            }
        }
    }

    /// Reads `data` as it would arrive cut at `cuts` (modulo its length, sorted) with one
    /// [`ChunkScan`], checking each answer and the octets decoded so far against the
    /// reference reading that prefix whole.
    fn check_in_pieces(data: &[u8], cuts: &[usize]) {
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        ends.push(data.len());
        ends.sort_unstable();
        let mut scan = ChunkScan::default();
        let mut decoded = Vec::new();
        for end in ends {
            let got = scan.advance(&data[..end], Some(&mut decoded));
            let mut want_decoded = Vec::new();
            let want = reference_decode(&data[..end], Some(&mut want_decoded));
            let shown = String::from_utf8_lossy(data);
            assert_eq!(got, want, "{shown:?} in pieces, at {end} bytes");
            assert_eq!(
                decoded, want_decoded,
                "{shown:?} decoded in pieces, at {end} bytes"
            );
            assert_eq!(
                scan.advance(&data[..end], None),
                got,
                "a second look at {end} bytes"
            );
        }
    }

    #[rstest]
    #[case(b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT")]
    #[case(b"4\nWiki\n0\n\n")]
    #[case(b"zz\r\nhello\r\n0\r\n\r\n")]
    #[case(b"4\r\nWikiXX0\r\n\r\n")]
    #[case(b"4\r\nWiki\rX")]
    #[case(b"fffffffffffffff\r\nab")]
    #[case(b"fffffffffffffffffff\r\n")]
    #[case(b"")]
    fn a_chunked_body_read_byte_by_byte_with_one_scan_reads_as_each_prefix_does_whole(#[case] data: &[u8]) {
        let every_byte: Vec<usize> = (0..data.len()).collect();
        check_in_pieces(data, &every_byte);
        check_in_pieces(data, &[]);
    }

    proptest::proptest! {
        #[test]
        fn a_chunked_body_read_in_random_pieces_reads_as_each_prefix_does_whole(
            parts in proptest::collection::vec(
                proptest::sample::select(&[
                    "0", "1", "3", "a", "f", ";x=y", "\r\n", "\n", "\r", "abc", "X: 1", " ", "z",
                ][..]),
                0..40,
            ),
            cuts in proptest::collection::vec(0usize..4096, 0..12),
        ) {
            check_in_pieces(parts.concat().as_bytes(), &cuts);
        }
    }

    #[test]
    fn a_body_by_content_length_waits_for_all_its_octets() {
        assert_eq!(
            frame(b"HEADbod", 4, BodyFraming::Length(5), false),
            Frame::Partial
        );
        assert_eq!(
            frame(b"HEADbody!+", 4, BodyFraming::Length(5), false),
            Frame::Complete(9)
        );
        assert_eq!(
            frame(b"HEADbod", 4, BodyFraming::UntilClose, false),
            Frame::Partial
        );
        assert_eq!(
            frame(b"HEADbod", 4, BodyFraming::UntilClose, true),
            Frame::Complete(7)
        );
        assert_eq!(
            frame(b"HEADbod", 4, BodyFraming::Empty(Bodiless::NoLength), false),
            Frame::Complete(4)
        );
    }
}
