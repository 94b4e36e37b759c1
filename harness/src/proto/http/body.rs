//! Where a message's body ends (RFC 1945 §7.2.2, RFC 2616 §4.4) and the chunked
//! transfer-coding (RFC 2616 §3.6.1), decoded for the view.
//!
//! The decision depends only on the head, the bytes buffered and whether the sender
//! closed — and, for a response, on the request it answers — so any split of the bytes
//! gives the same frame.

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

/// How a response with `status` to a `method` request is delimited (RFC 2616 §4.4).
pub fn response_framing(head: &Head<'_>, status: Option<u16>, method: &str) -> BodyFraming {
    if method == "HEAD" {
        return BodyFraming::Empty(Bodiless::HeadResponse);
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
        BodyFraming::Chunked => match decode_chunked(&buf[head_len..], None) {
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
pub fn decode_chunked(data: &[u8], mut out: Option<&mut Vec<u8>>) -> Chunks {
    let mut pos = 0;
    loop {
        let Some(lf) = memchr::memchr(b'\n', &data[pos..]).map(|i| pos + i) else {
            return Chunks::Partial;
        };
        let line = data[pos..lf].strip_suffix(b"\r").unwrap_or(&data[pos..lf]);
        let size_text = line.split(|b| *b == b';').next().unwrap_or_default().trim_ascii();
        let size = match parse_hex(size_text) {
            Some(size) => size,
            None => {
                return Chunks::Malformed {
                    at: pos,
                    why: format!(
                        "the chunk-size line `{}` is not a hexadecimal number",
                        crate::visible::visible(line)
                    ),
                };
            }
        };
        let start = pos;
        pos = lf + 1;
        if size == 0 {
            // The trailer: header lines until an empty line.
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
