//! Request-head parsing for the HTTP mock, apart from any I/O.
//!
//! The connection code hands over the bytes received so far; these functions say whether
//! a request line or a whole head has arrived, and refuse what real servers refuse with
//! the status to answer ([`Rejection`]). They are lenient where real servers are: bare LF
//! line ends, empty lines before the request line (RFC 2616 §4.1), runs of spaces between
//! the request-line parts, whitespace around field values (RFC 1945 §2.2).
//!
//! Positions are kept as offsets into the caller's buffer, so a parsed head costs one
//! small `Vec` and no copies. This parser is the mock's own: it shares nothing with the
//! `parley` checker.

use std::ops::Range;

/// Most header fields in one request; more earn 431.
pub const MAX_HEADERS: usize = 100;

/// The protocol version of a request, as far as this server distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0` (RFC 1945).
    Http10,
    /// `HTTP/1.1` or a later 1.x minor version (RFC 2616 §3.1: answer with the highest
    /// minor version the server supports).
    Http11,
}

impl Version {
    /// The version as written in a status line.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// Why a request is refused: the status to answer and a sentence for the error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// The status code of the error response.
    pub status: u16,
    /// What was wrong, for the client's developer.
    pub detail: &'static str,
}

const fn bad(detail: &'static str) -> Rejection {
    Rejection { status: 400, detail }
}

/// A request line, as offsets into the buffer it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    /// The method token.
    pub method: Range<usize>,
    /// The request target (Request-URI).
    pub target: Range<usize>,
    /// The version.
    pub version: Version,
    /// Offset just past the line's LF.
    pub end: usize,
}

/// One header field, as offsets: the name, and the value without surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name (a token, case as sent).
    pub name: Range<usize>,
    /// The field value, trimmed.
    pub value: Range<usize>,
}

/// A complete request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The request line.
    pub line: RequestLine,
    /// The header fields in order.
    pub fields: Vec<Field>,
    /// Offset just past the empty line that ends the head: where the body starts.
    pub len: usize,
}

/// How the message is framed and whether the connection stays open, from the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// Body length from Content-Length (0 without one).
    pub content_length: u64,
    /// The client asked to keep the connection open (1.0 `Connection: keep-alive`, or a
    /// 1.1 request without `Connection: close`).
    pub keep_alive: bool,
    /// A 1.1 client sent `Expect: 100-continue` and waits for a 100 before the body.
    pub expect_continue: bool,
}

/// How many bytes at the start of `buf` are empty lines to skip (RFC 2616 §4.1: a server
/// ignores empty lines received where a request line is expected).
pub fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match buf.get(i..) {
            Some([b'\n', ..]) => i += 1,
            Some([b'\r', b'\n', ..]) => i += 2,
            _ => return i,
        }
    }
}

/// Parses the request line at the start of `buf`: `Ok(None)` while its LF has not arrived.
pub fn parse_request_line(buf: &[u8]) -> Result<Option<RequestLine>, Rejection> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let line = strip_cr(&buf[..nl]);
    let mut parts: [Range<usize>; 3] = [0..0, 0..0, 0..0];
    let mut count = 0;
    let mut i = 0;
    while i < line.len() {
        if line[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < line.len() && line[i] != b' ' {
            i += 1;
        }
        if count == parts.len() {
            return Err(bad("the request line has more than three parts"));
        }
        parts[count] = start..i;
        count += 1;
    }
    match count {
        3 => {}
        2 => {
            return Err(bad(
                "HTTP/0.9 simple requests are not served: end the request line with HTTP/1.0",
            ));
        }
        _ => {
            return Err(bad(
                "the request line is not Method SP Request-URI SP HTTP-Version",
            ));
        }
    }
    let [method, target, version] = parts;
    let version = parse_version(&line[version])?;
    if !line[method.clone()].iter().all(|&b| is_tchar(b)) {
        return Err(bad("the method is not a token"));
    }
    let target_bytes = &line[target.clone()];
    if target_bytes.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(bad("the request target contains control characters"));
    }
    if std::str::from_utf8(target_bytes).is_err() {
        return Err(bad("the request target is not valid UTF-8"));
    }
    let form_ok = target_bytes.starts_with(b"/")
        || target_bytes == b"*"
        || starts_with_ignore_case(target_bytes, b"http://")
        || starts_with_ignore_case(target_bytes, b"https://");
    if !form_ok {
        return Err(bad(
            "the request target is neither an absolute path nor an absolute URI",
        ));
    }
    Ok(Some(RequestLine {
        method,
        target,
        version,
        end: nl + 1,
    }))
}

/// `HTTP/` DIGIT+ `.` DIGIT+ (RFC 1945 §3.1); `HTTP/2.0` or `HTTP/3` are well formed but
/// not served (505).
fn parse_version(v: &[u8]) -> Result<Version, Rejection> {
    const MALFORMED: Rejection = bad("the HTTP version is not HTTP/DIGIT.DIGIT");
    let rest = v.strip_prefix(b"HTTP/").ok_or(MALFORMED)?;
    let (major, minor) = match rest.iter().position(|&b| b == b'.') {
        Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
        None => (rest, None),
    };
    let number = |digits: &[u8]| -> Result<u32, Rejection> {
        if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(MALFORMED);
        }
        Ok(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let major = number(major)?;
    let minor = minor.map(number).transpose()?;
    match (major, minor) {
        (1, Some(0)) => Ok(Version::Http10),
        (1, Some(_)) => Ok(Version::Http11),
        (1, None) => Err(MALFORMED),
        _ => Err(Rejection {
            status: 505,
            detail: "only HTTP/1.0 and HTTP/1.1 are served",
        }),
    }
}

/// Looks for the empty line that ends the head, scanning lines from `from` (the start of
/// a line). `Ok(len)` is the head's length; `Err(resume)` is where to scan from once more
/// bytes have arrived.
pub fn find_head_end(buf: &[u8], from: usize) -> Result<usize, usize> {
    let mut start = from;
    while let Some(offset) = buf[start..].iter().position(|&b| b == b'\n') {
        let nl = start + offset;
        if strip_cr(&buf[start..nl]).is_empty() {
            return Ok(nl + 1);
        }
        start = nl + 1;
    }
    Err(start)
}

/// Parses the header fields between the request line and the end of the head.
pub fn parse_head(buf: &[u8], line: RequestLine, len: usize) -> Result<Head, Rejection> {
    let mut fields = Vec::with_capacity(16);
    let mut start = line.end;
    while start < len {
        let nl = start
            + buf[start..len]
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(len - start);
        let text = strip_cr(&buf[start..nl]);
        if text.is_empty() {
            break;
        }
        if fields.len() == MAX_HEADERS {
            return Err(Rejection {
                status: 431,
                detail: "too many header fields",
            });
        }
        fields.push(parse_field(text, start)?);
        start = nl + 1;
    }
    Ok(Head { line, fields, len })
}

/// One `field-name ":" OWS field-value OWS` line (RFC 7230 §3.2), at offset `at`.
fn parse_field(text: &[u8], at: usize) -> Result<Field, Rejection> {
    if text[0] == b' ' || text[0] == b'\t' {
        return Err(bad(
            "obsolete line folding (a header line starting with whitespace) is refused",
        ));
    }
    let colon = text
        .iter()
        .position(|&b| b == b':')
        .ok_or(bad("a header line has no colon"))?;
    let name = &text[..colon];
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        // Also catches whitespace before the colon, which RFC 7230 §3.2.4 says to refuse.
        return Err(bad("a header name is not a token (whitespace before the colon?)"));
    }
    let mut value = colon + 1..text.len();
    while value.start < value.end && matches!(text[value.start], b' ' | b'\t') {
        value.start += 1;
    }
    while value.end > value.start && matches!(text[value.end - 1], b' ' | b'\t') {
        value.end -= 1;
    }
    if text[value.clone()]
        .iter()
        .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(bad("a header value contains a control character (CR, NUL, ...)"));
    }
    Ok(Field {
        name: at..at + colon,
        value: at + value.start..at + value.end,
    })
}

impl Head {
    /// The fields named `name` (case-insensitive), as `(name, value)` byte slices of `buf`.
    pub fn values<'b>(&self, buf: &'b [u8], name: &'b str) -> impl Iterator<Item = &'b [u8]> + use<'_, 'b> {
        self.fields
            .iter()
            .filter(move |f| buf[f.name.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(move |f| &buf[f.value.clone()])
    }

    /// Reads the framing headers and refuses what cannot be framed or served: differing
    /// or invalid Content-Length, Transfer-Encoding (1.0 has none; chunked 1.1 bodies are
    /// refused with 411, RFC 2616 §4.4), duplicate Host, a 1.1 request without Host
    /// (RFC 2616 §14.23), an unknown expectation (RFC 2616 §14.20).
    pub fn framing(&self, buf: &[u8]) -> Result<Framing, Rejection> {
        let version = self.line.version;
        let mut content_length = None;
        for value in self.values(buf, "content-length") {
            let n = parse_length(value).ok_or(bad("Content-Length is not a number"))?;
            if content_length.is_some_and(|m| m != n) {
                return Err(bad("two Content-Length headers differ"));
            }
            content_length = Some(n);
        }
        if self.values(buf, "transfer-encoding").next().is_some() {
            return Err(match version {
                Version::Http10 => bad("HTTP/1.0 has no Transfer-Encoding"),
                Version::Http11 if content_length.is_some() => {
                    bad("both Content-Length and Transfer-Encoding are present")
                }
                Version::Http11 => Rejection {
                    status: 411,
                    detail: "send the body with a Content-Length instead of a transfer-coding",
                },
            });
        }
        match self.values(buf, "host").count() {
            0 if version == Version::Http11 => return Err(bad("an HTTP/1.1 request must carry Host")),
            0 | 1 => {}
            _ => return Err(bad("more than one Host header")),
        }
        let mut close = false;
        let mut keep_alive = false;
        for value in self.values(buf, "connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        let mut expect_continue = false;
        if version == Version::Http11 {
            for value in self.values(buf, "expect") {
                if !value.eq_ignore_ascii_case(b"100-continue") {
                    return Err(Rejection {
                        status: 417,
                        detail: "the only expectation served is 100-continue",
                    });
                }
                expect_continue = true;
            }
        }
        Ok(Framing {
            content_length: content_length.unwrap_or(0),
            keep_alive: !close && (keep_alive || version == Version::Http11),
            expect_continue,
        })
    }
}

/// `1*DIGIT`, refusing what overflows (RFC 7230 §3.3.2).
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `tchar` of RFC 7230 §3.2.6 (the `token` characters of RFC 1945 §2.2).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Result<Option<RequestLine>, Rejection> {
        parse_request_line(text.as_bytes())
    }

    fn status(text: &str) -> u16 {
        line(text).unwrap_err().status
    }

    fn head(text: &str) -> Result<(Head, Framing), Rejection> {
        let buf = text.as_bytes();
        let rl = parse_request_line(buf)?.expect("complete line");
        let len = find_head_end(buf, rl.end).expect("complete head");
        let head = parse_head(buf, rl, len)?;
        let framing = head.framing(buf)?;
        Ok((head, framing))
    }

    #[test]
    fn request_line_accepts_crlf_bare_lf_and_space_runs() {
        let rl = line("GET /get?a=1 HTTP/1.0\r\n").unwrap().unwrap();
        assert_eq!(
            (rl.method, rl.target, rl.version, rl.end),
            (0..3, 4..12, Version::Http10, 23)
        );
        assert_eq!(
            line("GET / HTTP/1.1\n").unwrap().unwrap().version,
            Version::Http11
        );
        assert!(line("GET  /  HTTP/1.0 \r\n").unwrap().is_some());
        assert_eq!(line("GET / HTTP/1.0").unwrap(), None);
    }

    #[test]
    fn request_line_refuses_malformed_lines_with_400() {
        for text in [
            "GET /\r\n",
            "GET\r\n",
            "GET / HTTP/1.0 extra\r\n",
            "GET / http/1.0\r\n",
            "GET / HTTP/1\r\n",
            "GET / HTTP/1.x\r\n",
            "G(T / HTTP/1.0\r\n",
            "GET relative HTTP/1.0\r\n",
            "GET /a\tb HTTP/1.0\r\n",
            "GET /\0 HTTP/1.0\r\n",
            "GET / HTTP/1.0\r\r\n",
        ] {
            assert_eq!(status(text), 400, "{text:?}");
        }
    }

    #[test]
    fn request_line_answers_unsupported_versions_with_505() {
        assert_eq!(status("GET / HTTP/2.0\r\n"), 505);
        assert_eq!(status("GET / HTTP/3\r\n"), 505);
        assert_eq!(status("PRI * HTTP/2.0\r\n"), 505);
    }

    #[test]
    fn request_line_accepts_absolute_uris_and_minor_versions() {
        assert!(line("GET http://example.com/get HTTP/1.0\r\n").unwrap().is_some());
        assert_eq!(
            line("GET / HTTP/1.9\r\n").unwrap().unwrap().version,
            Version::Http11
        );
    }

    #[test]
    fn leading_empty_lines_are_skipped_but_a_lone_cr_waits() {
        assert_eq!(leading_empty_lines(b"\r\n\nGET"), 3);
        assert_eq!(leading_empty_lines(b"\r"), 0);
        assert_eq!(leading_empty_lines(b"GET"), 0);
    }

    #[test]
    fn head_end_is_found_across_reads_and_with_bare_lf() {
        let text = b"GET / HTTP/1.0\r\nHost: a\r\n\r\nbody";
        assert_eq!(find_head_end(text, 16), Ok(27));
        assert_eq!(find_head_end(&text[..20], 16), Err(16));
        assert_eq!(find_head_end(&text[..26], 16), Err(25));
        assert_eq!(find_head_end(b"GET / HTTP/1.0\nA: b\n\n", 15), Ok(21));
    }

    #[test]
    fn fields_are_trimmed_and_looked_up_case_insensitively() {
        let text = "POST /post HTTP/1.0\r\nhost:  example \r\nCONTENT-LENGTH: 4\r\n\r\n";
        let (head, framing) = head(text).unwrap();
        let host: Vec<_> = head.values(text.as_bytes(), "Host").collect();
        assert_eq!(host, [b"example".as_slice()]);
        assert_eq!(framing.content_length, 4);
        assert!(!framing.keep_alive);
    }

    #[test]
    fn bad_fields_are_refused_with_400() {
        for text in [
            "GET / HTTP/1.0\r\nHost : a\r\n\r\n",
            "GET / HTTP/1.0\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.0\r\nA: b\r\n folded\r\n\r\n",
            "GET / HTTP/1.0\r\n: empty-name\r\n\r\n",
            "GET / HTTP/1.0\r\nA: b\0c\r\n\r\n",
            "GET / HTTP/1.0\r\nA: b\rc\r\n\r\n",
            "GET / HTTP/1.0\r\nContent-Length: -1\r\n\r\n",
            "GET / HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET / HTTP/1.0\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(head(text).unwrap_err().status, 400, "{text:?}");
        }
    }

    #[test]
    fn chunked_11_bodies_get_411_and_odd_expectations_417() {
        let chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(head(chunked).unwrap_err().status, 411);
        let expect = "POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n";
        assert_eq!(head(expect).unwrap_err().status, 417);
    }

    #[test]
    fn too_many_fields_get_431() {
        let mut text = String::from("GET / HTTP/1.0\r\n");
        for i in 0..=MAX_HEADERS {
            text.push_str(&format!("X-{i}: v\r\n"));
        }
        text.push_str("\r\n");
        assert_eq!(head(&text).unwrap_err().status, 431);
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_tokens() {
        let ka = |text: &str| head(text).unwrap().1.keep_alive;
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(ka("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n"));
        let expect = "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
        assert!(head(expect).unwrap().1.expect_continue);
        let expect10 = "POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n";
        assert!(!head(expect10).unwrap().1.expect_continue);
    }
}
