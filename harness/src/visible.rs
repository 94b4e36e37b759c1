//! Bytes made readable for reports: CR, LF, TAB and NUL as escapes, other control and
//! non-UTF-8 octets as `\xNN`, and a space right before a line end as `␠` so a trailing
//! space in `GET /status/418 HTTP/1.0␠\r\n` can be seen.

use std::fmt::Write as _;

/// Renders `bytes` on one line, every CR and LF escaped.
pub fn visible(bytes: &[u8]) -> String {
    render(bytes, false)
}

/// Renders `bytes` with escapes, and a real line break after each `\n`, for diffs.
pub fn visible_lines(bytes: &[u8]) -> String {
    render(bytes, true)
}

/// Like [`visible`], but at most `max` input bytes, with the total length after an ellipsis.
pub fn visible_truncated(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return visible(bytes);
    }
    // Cut on a char boundary when the data is text.
    let mut cut = max;
    while cut > 0 && std::str::from_utf8(&bytes[..cut]).is_err() && max - cut < 4 {
        cut -= 1;
    }
    if std::str::from_utf8(&bytes[..cut]).is_err() {
        cut = max;
    }
    format!("{}… ({} bytes in all)", visible(&bytes[..cut]), bytes.len())
}

fn render(bytes: &[u8], breaks: bool) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                push_text(&mut out, text, &[], breaks);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // SAFETY-free: `good` is valid UTF-8 by construction.
                let text = std::str::from_utf8(good).unwrap_or_default();
                push_text(&mut out, text, bad, breaks);
                let skip = e.error_len().unwrap_or(bad.len()).max(1);
                for b in &bad[..skip.min(bad.len())] {
                    let _ = write!(out, "\\x{b:02X}");
                }
                rest = &bad[skip.min(bad.len())..];
            }
        }
    }
    out
}

fn push_text(out: &mut String, text: &str, after: &[u8], breaks: bool) {
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => {
                out.push_str("\\n");
                if breaks {
                    out.push('\n');
                }
            }
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\\' => out.push_str("\\\\"),
            ' ' => {
                let next = chars.get(i + 1).copied();
                let at_end = match next {
                    Some(n) => n == '\r' || n == '\n',
                    None => after.is_empty() && i + 1 == chars.len(),
                };
                out.push(if at_end { '␠' } else { ' ' });
            }
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{b:02X}");
                }
            }
            c => out.push(c),
        }
    }
}

/// The bytes behind a [`visible`] string, for reports read back (`parley merge`):
/// escapes and `␠` undone; a [`visible_truncated`] tail (`… (N bytes in all)`) is dropped,
/// so a cut payload comes back cut. A `␠` or `…` that was in the data itself reads back
/// as a space or is kept, respectively: the round trip is exact for protocol text.
pub fn unvisible(text: &str) -> Vec<u8> {
    let body = match text.rfind("… (") {
        Some(at) if text.ends_with(" bytes in all)") => &text[..at],
        _ => text,
    };
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('r') => out.push(b'\r'),
                Some('n') => out.push(b'\n'),
                Some('t') => out.push(b'\t'),
                Some('0') => out.push(0),
                Some('\\') => out.push(b'\\'),
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    match u8::from_str_radix(&hex, 16) {
                        Ok(b) => out.push(b),
                        Err(_) => {
                            out.extend_from_slice(b"\\x");
                            out.extend_from_slice(hex.as_bytes());
                        }
                    }
                }
                Some(other) => {
                    out.push(b'\\');
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                }
                None => out.push(b'\\'),
            },
            '\u{2420}' => out.push(b' '),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(b"hello\r\n", "hello\\r\\n")]
    #[case(b"GET /status/418 HTTP/1.0 \r\n", "GET /status/418 HTTP/1.0\u{2420}\\r\\n")]
    #[case(b"a b", "a b")]
    #[case(b"trailing ", "trailing\u{2420}")]
    #[case(b"\x00\x01\xff", "\\0\\x01\\xFF")]
    #[case(b"tab\there", "tab\\there")]
    #[case("café".as_bytes(), "café")]
    #[case(b"back\\slash", "back\\\\slash")]
    fn visible_escapes_control_octets(#[case] input: &[u8], #[case] expected: &str) {
        assert_eq!(visible(input), expected);
    }

    #[rstest]
    #[case(b"hello\r\n")]
    #[case(b"GET /status/418 HTTP/1.0 \r\n")]
    #[case(b"\x00\x01\xff\x7f tab\there back\\slash caf\xc3\xa9")]
    fn unvisible_undoes_visible(#[case] input: &[u8]) {
        assert_eq!(unvisible(&visible(input)), input);
    }

    #[test]
    fn unvisible_drops_the_truncation_tail() {
        assert_eq!(unvisible(&visible_truncated(b"0123456789", 4)), b"0123");
    }

    #[test]
    fn visible_lines_breaks_after_lf() {
        assert_eq!(visible_lines(b"a\r\nb\n"), "a\\r\\n\nb\\n\n");
    }

    #[test]
    fn truncated_says_how_long_the_whole_was() {
        assert_eq!(visible_truncated(b"0123456789", 4), "0123… (10 bytes in all)");
        assert_eq!(visible_truncated(b"0123", 4), "0123");
    }
}
