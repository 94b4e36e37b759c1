//! The head of an HTTP message: where it ends, its lines and their line ends, its start
//! line and its header fields, parsed leniently (RFC 1945 §4.1, §4.2).
//!
//! Parsing here only describes the bytes; it judges nothing. The checks read the
//! [`Head`] afterwards (`headers`, `request`, `response`), so framing can parse a head
//! without producing findings.

/// How a line of the head ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// CR LF, as RFC 1945 §2.2 asks.
    CrLf,
    /// A bare LF, which lenient peers accept (RFC 1945 §19.3).
    BareLf,
    /// No line end: the bytes ran out (only in literals and incomplete heads).
    Missing,
}

/// One line of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line without its line end.
    pub text: &'a [u8],
    /// The line with its line end, as sent.
    pub raw: &'a [u8],
    /// How it ended.
    pub end: LineEnd,
}

/// Where the head ends in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadEnd {
    /// The empty line that ends the head has not arrived yet.
    Partial,
    /// The head, including its final empty line, is the first `n` bytes.
    Complete(usize),
}

/// Where the head that starts `buf` ends. Empty lines before the start line are skipped
/// and counted as part of the head (RFC 2616 §4.1 asks servers to ignore them).
pub fn find_end(buf: &[u8]) -> HeadEnd {
    find_end_from(buf, &mut HeadScan::default())
}

/// How far [`find_end_from`] has read a head: the empty lines before `start` are skipped,
/// the lines from `start` to `line` are whole and none ends the head, and
/// `buf[line..searched]` holds no LF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeadScan {
    /// Where the start line begins (after the empty lines skipped).
    start: usize,
    /// Where the line in progress begins.
    line: usize,
    /// No LF between `line` and this offset.
    searched: usize,
}

impl HeadScan {
    /// Where the start line begins, after the empty lines before it (as
    /// [`skip_blank_lines`] counts them) in the bytes read so far.
    pub fn start(&self) -> usize {
        self.start
    }
}

/// [`find_end`], resuming where `scan` stopped on a shorter prefix of `buf`: only the line
/// in progress is read further, so a head delivered in many pieces is read once.
pub fn find_end_from(buf: &[u8], scan: &mut HeadScan) -> HeadEnd {
    let from = scan.start.min(buf.len());
    let start = from + skip_blank_lines(&buf[from..]);
    if start != scan.start {
        // Only while no line after the empty ones has ended: nothing read is lost.
        *scan = HeadScan {
            start,
            line: start,
            searched: start,
        };
    }
    loop {
        let from = scan.searched.max(scan.line).min(buf.len());
        let Some(lf) = memchr::memchr(b'\n', &buf[from..]).map(|i| from + i) else {
            scan.searched = buf.len();
            return HeadEnd::Partial;
        };
        let text = &buf[scan.line..lf];
        if scan.line > start && (text.is_empty() || text == b"\r") {
            // Found again at once by the next look.
            scan.searched = lf;
            return HeadEnd::Complete(lf + 1);
        }
        scan.line = lf + 1;
        scan.searched = lf + 1;
    }
}

/// How many bytes of empty lines (CRLF or LF) `buf` starts with.
pub fn skip_blank_lines(buf: &[u8]) -> usize {
    let mut at = 0;
    loop {
        if buf[at..].starts_with(b"\r\n") {
            at += 2;
        } else if buf[at..].starts_with(b"\n") {
            at += 1;
        } else {
            return at;
        }
    }
}

/// Splits `bytes` into lines at each LF; a last line without LF is [`LineEnd::Missing`].
pub fn lines(bytes: &[u8]) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for lf in memchr::memchr_iter(b'\n', bytes) {
        let raw = &bytes[start..=lf];
        let (text, end) = match raw.strip_suffix(b"\r\n") {
            Some(text) => (text, LineEnd::CrLf),
            None => (&raw[..raw.len() - 1], LineEnd::BareLf),
        };
        out.push(Line { text, raw, end });
        start = lf + 1;
    }
    if start < bytes.len() {
        let raw = &bytes[start..];
        out.push(Line {
            text: raw,
            raw,
            end: LineEnd::Missing,
        });
    }
    out
}

/// The first line of a message, when it has ended (after any leading empty lines).
pub fn first_line(buf: &[u8]) -> Option<Line<'_>> {
    let start = skip_blank_lines(buf);
    let rest = &buf[start..];
    let lf = memchr::memchr(b'\n', rest)?;
    lines(&rest[..=lf]).into_iter().next()
}

/// One header field as sent: its name, its value with folded lines joined, and its
/// raw lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// Everything before the colon, as sent (it may hold spaces: H-HD-1 judges it).
    pub name: &'a [u8],
    /// The value: leading and trailing whitespace trimmed, continuation lines joined
    /// with one SP (RFC 1945 §4.2).
    pub value: String,
    /// The value's bytes before trimming, first line only.
    pub raw_value: &'a [u8],
    /// The line(s) of the field, the first one and any continuation lines.
    pub lines: Vec<Line<'a>>,
}

impl Field<'_> {
    /// The name as text (lossy for non-UTF-8 bytes).
    pub fn name_text(&self) -> String {
        String::from_utf8_lossy(self.name).into_owned()
    }

    /// Whether the name is `name`, compared case-insensitively.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The field's bytes as sent, all its lines.
    pub fn raw(&self) -> Vec<u8> {
        self.lines.iter().flat_map(|l| l.raw.iter().copied()).collect()
    }
}

/// A header line that could not be read as a field at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed<'a> {
    /// A line with no colon.
    NoColon(Line<'a>),
    /// A continuation line (starting with SP or HT) with no field before it.
    OrphanContinuation(Line<'a>),
}

/// A message head: the start line, the header fields, and every line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head<'a> {
    /// The request line or status line.
    pub start: Line<'a>,
    /// The header fields, in order.
    pub fields: Vec<Field<'a>>,
    /// Header lines that are not fields.
    pub malformed: Vec<Malformed<'a>>,
    /// Every line of the head, the final empty line included when there is one.
    pub lines: Vec<Line<'a>>,
    /// Whether the head ended with its empty line.
    pub ended: bool,
    /// The head's length in bytes, leading empty lines included.
    pub len: usize,
}

impl<'a> Head<'a> {
    /// Parses the head at the start of `buf`. When the head has not ended, everything in
    /// `buf` is taken as the head (for literals and incomplete messages).
    pub fn parse(buf: &'a [u8]) -> Head<'a> {
        let (len, ended) = match find_end(buf) {
            HeadEnd::Complete(n) => (n, true),
            HeadEnd::Partial => (buf.len(), false),
        };
        let skip = skip_blank_lines(&buf[..len]);
        let all = lines(&buf[skip..len]);
        let mut iter = all.iter().copied();
        let start = iter.next().unwrap_or(Line {
            text: b"",
            raw: b"",
            end: LineEnd::Missing,
        });
        let mut fields: Vec<Field<'a>> = Vec::new();
        let mut malformed = Vec::new();
        for line in iter {
            if line.text.is_empty() {
                // The empty line that ends the head.
                break;
            }
            if matches!(line.text[0], b' ' | b'\t') {
                match fields.last_mut() {
                    Some(field) => {
                        let more = String::from_utf8_lossy(line.text.trim_ascii());
                        if !more.is_empty() {
                            if !field.value.is_empty() {
                                field.value.push(' ');
                            }
                            field.value.push_str(&more);
                        }
                        field.lines.push(line);
                    }
                    None => malformed.push(Malformed::OrphanContinuation(line)),
                }
                continue;
            }
            match memchr::memchr(b':', line.text) {
                Some(colon) => {
                    let raw_value = &line.text[colon + 1..];
                    fields.push(Field {
                        name: &line.text[..colon],
                        value: String::from_utf8_lossy(raw_value.trim_ascii()).into_owned(),
                        raw_value,
                        lines: vec![line],
                    });
                }
                None => malformed.push(Malformed::NoColon(line)),
            }
        }
        Head {
            start,
            fields,
            malformed,
            lines: all,
            ended,
            len,
        }
    }

    /// The value of the first field called `name` (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.is(name)).map(|f| f.value.as_str())
    }

    /// The values of every field called `name`.
    pub fn all(&self, name: &str) -> impl Iterator<Item = &Field<'a>> {
        self.fields.iter().filter(move |f| f.is(name))
    }

    /// Whether a comma-separated field `name` lists `token` (case-insensitive), as
    /// `Connection: close` or `Transfer-Encoding: gzip, chunked`.
    pub fn lists(&self, name: &str, token: &str) -> bool {
        self.all(name)
            .any(|f| f.value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    /// The first line of the head that ends in a bare LF.
    pub fn bare_lf(&self) -> Option<Line<'a>> {
        self.lines.iter().copied().find(|l| l.end == LineEnd::BareLf)
    }

    /// The header fields as the view shows them: names as sent, values trimmed.
    pub fn view_headers(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .map(|f| (f.name_text(), f.value.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The search as it was before it could resume: every line from the start of `buf`.
    /// Kept as the reference the incremental search must agree with.
    fn reference_find_end(buf: &[u8]) -> HeadEnd {
        let start = skip_blank_lines(buf);
        let mut line_start = start;
        for lf in memchr::memchr_iter(b'\n', &buf[start..]) {
            let lf = start + lf;
            let text = &buf[line_start..lf];
            if line_start > start && (text.is_empty() || text == b"\r") {
                return HeadEnd::Complete(lf + 1);
            }
            line_start = lf + 1;
        }
        HeadEnd::Partial
    }

    /// Searches `buf` as it would arrive cut at `cuts` (modulo its length, sorted) with one
    /// [`HeadScan`], checking each answer against the reference searching that prefix whole.
    fn check_in_pieces(buf: &[u8], cuts: &[usize]) {
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (buf.len() + 1)).collect();
        ends.push(buf.len());
        ends.sort_unstable();
        let mut scan = HeadScan::default();
        for end in ends {
            let got = find_end_from(&buf[..end], &mut scan);
            let shown = String::from_utf8_lossy(buf);
            assert_eq!(
                got,
                reference_find_end(&buf[..end]),
                "{shown:?} in pieces, at {end} bytes"
            );
            assert_eq!(
                scan.start(),
                skip_blank_lines(&buf[..end]),
                "{shown:?} at {end} bytes"
            );
            assert_eq!(
                find_end_from(&buf[..end], &mut scan),
                got,
                "a second look at {end} bytes"
            );
        }
    }

    #[rstest]
    #[case(b"GET / HTTP/1.0\r\nA: b\r\n\r\nbody")]
    #[case(b"\r\n\r\n\nGET / HTTP/1.0\n\n")]
    #[case(b"\r\r\nX\r\n\r\n")]
    #[case(b"\n\r\n\r")]
    #[case(b"GET / HTTP/1.0\r\nA: b\r\n\r")]
    #[case(b"")]
    fn a_head_searched_byte_by_byte_with_one_scan_ends_as_each_prefix_does_whole(#[case] buf: &[u8]) {
        let every_byte: Vec<usize> = (0..buf.len()).collect();
        check_in_pieces(buf, &every_byte);
        check_in_pieces(buf, &[]);
    }

    proptest::proptest! {
        #[test]
        fn a_head_searched_in_random_pieces_ends_as_each_prefix_does_whole(
            parts in proptest::collection::vec(
                proptest::sample::select(&["GET / HTTP/1.0", "A: b", "\r\n", "\n", "\r", " ", "x"][..]),
                0..30,
            ),
            cuts in proptest::collection::vec(0usize..4096, 0..12),
        ) {
            check_in_pieces(parts.concat().as_bytes(), &cuts);
        }
    }

    #[rstest]
    #[case(b"GET / HTTP/1.0\r\n\r\n", HeadEnd::Complete(18))]
    #[case(b"GET / HTTP/1.0\n\n", HeadEnd::Complete(16))]
    #[case(b"GET / HTTP/1.0\r\nHost: a\r\n\r\nbody", HeadEnd::Complete(27))]
    #[case(b"\r\nGET / HTTP/1.0\r\n\r\n", HeadEnd::Complete(20))]
    #[case(b"GET / HTTP/1.0\r\nHost: a\r\n", HeadEnd::Partial)]
    #[case(b"GET / HTTP/1.0\r\n\r", HeadEnd::Partial)]
    #[case(b"\r\n", HeadEnd::Partial)]
    #[case(b"", HeadEnd::Partial)]
    fn the_head_ends_at_the_first_empty_line_h_hd_3(#[case] buf: &[u8], #[case] end: HeadEnd) {
        assert_eq!(find_end(buf), end);
    }

    #[test]
    fn continuation_lines_join_the_previous_field_with_one_space() {
        let head = Head::parse(b"GET / HTTP/1.0\r\nX-Long: one\r\n   two\r\n\r\n");
        assert_eq!(head.field("x-long"), Some("one two"));
        assert_eq!(head.fields[0].lines.len(), 2);
    }

    #[test]
    fn lines_without_a_colon_are_kept_as_malformed() {
        let head = Head::parse(b"GET / HTTP/1.0\r\nno colon here\r\n\r\n");
        assert!(head.fields.is_empty());
        assert!(matches!(head.malformed[0], Malformed::NoColon(l) if l.text == b"no colon here"));
    }

    #[test]
    fn bare_lf_lines_are_found() {
        let head = Head::parse(b"GET / HTTP/1.0\r\nHost: a\n\r\n");
        assert_eq!(head.bare_lf().map(|l| l.raw), Some(&b"Host: a\n"[..]));
        assert!(Head::parse(b"GET / HTTP/1.0\r\n\r\n").bare_lf().is_none());
    }

    #[test]
    fn a_head_without_its_empty_line_is_parsed_whole() {
        let head = Head::parse(b"HTTP/1.0 200 OK\r\nServer: x");
        assert!(!head.ended);
        assert_eq!(head.field("server"), Some("x"));
    }
}
