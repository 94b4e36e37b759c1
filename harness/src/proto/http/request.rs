//! Requests: the Request-Line (RFC 1945 §5.1) and the checks a request's head and body
//! answer to.
//!
//! Rules: H-RL-1..7 (request line, line ends, Simple-Request), H-HOST-1/2 (Host),
//! H-LEN-1 (Content-Length on a request with a body, always on POST), H-LEN-3 (a body
//! has a Content-Type). H-LEN-4 (JSON bodies) is judged in `mod.rs`, on the octets
//! actually sent.

use super::Judge;
use super::head::{Head, LineEnd};
use super::headers::{ContentLength, is_token};
use crate::rules;
use crate::visible::visible;

/// Methods RFC 1945 §8 and RFC 2616 §9 define (and PATCH, RFC 5789): their case is fixed.
pub const KNOWN_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "LINK", "UNLINK",
];

/// An HTTP version number (RFC 1945 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// The major number.
    pub major: u32,
    /// The minor number.
    pub minor: u32,
}

impl Version {
    /// HTTP/1.0.
    pub const HTTP10: Version = Version { major: 1, minor: 0 };

    /// `HTTP/` 1*DIGIT `.` 1*DIGIT, exactly (RFC 1945 §3.1).
    pub fn parse(text: &[u8]) -> Option<Version> {
        let rest = text.strip_prefix(b"HTTP/")?;
        Version::numbers(rest)
    }

    /// Like [`Version::parse`], but `http/` in any case: what a lenient server reads.
    pub fn parse_lenient(text: &[u8]) -> Option<Version> {
        if text.len() < 5 || !text[..5].eq_ignore_ascii_case(b"HTTP/") {
            return None;
        }
        Version::numbers(&text[5..])
    }

    fn numbers(rest: &[u8]) -> Option<Version> {
        let dot = memchr::memchr(b'.', rest)?;
        let (major, minor) = (&rest[..dot], &rest[dot + 1..]);
        let number = |d: &[u8]| -> Option<u32> {
            if d.is_empty() || d.len() > 9 || !d.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(d).ok()?.parse().ok()
        };
        Some(Version {
            major: number(major)?,
            minor: number(minor)?,
        })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP/{}.{}", self.major, self.minor)
    }
}

/// How the words of a request line are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    /// Exactly one SP between words, none around them.
    Single,
    /// Whitespace before the method.
    Leading,
    /// Whitespace after the version, before the line end.
    Trailing,
    /// More than one SP, or a tab, between two words.
    Irregular,
}

/// A Request-Line, split leniently into its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// The line without its line end.
    pub text: &'a [u8],
    /// The words between runs of SP or HT.
    pub words: Vec<&'a [u8]>,
    /// How they are separated.
    pub spacing: Spacing,
}

impl<'a> RequestLine<'a> {
    /// Splits `text` (a line without its end) into words.
    pub fn parse(text: &'a [u8]) -> RequestLine<'a> {
        let blank = |b: &u8| matches!(b, b' ' | b'\t');
        let words: Vec<&[u8]> = text.split(blank).filter(|w| !w.is_empty()).collect();
        let spacing = if text.first().is_some_and(blank) {
            Spacing::Leading
        } else if text.last().is_some_and(blank) {
            Spacing::Trailing
        } else if text.contains(&b'\t') || text.windows(2).any(|w| w == b"  ") {
            Spacing::Irregular
        } else {
            Spacing::Single
        };
        RequestLine { text, words, spacing }
    }

    /// The method, as sent.
    pub fn method(&self) -> String {
        self.words
            .first()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .unwrap_or_default()
    }

    /// The Request-URI, as sent.
    pub fn target(&self) -> Option<String> {
        self.words
            .get(1)
            .filter(|w| !looks_like_version(w))
            .map(|w| String::from_utf8_lossy(w).into_owned())
    }

    /// The version word, when there is one.
    pub fn version_word(&self) -> Option<&'a [u8]> {
        match self.words.len() {
            0 | 1 => None,
            2 => self.words.get(1).copied().filter(|w| looks_like_version(w)),
            _ => self.words.get(2).copied(),
        }
    }

    /// The version, read leniently; HTTP/1.0 when none can be read.
    pub fn version(&self) -> Version {
        self.version_word()
            .and_then(Version::parse_lenient)
            .unwrap_or(Version::HTTP10)
    }

    /// A Simple-Request (HTTP/0.9): method and target, no version (RFC 1945 §4.1).
    pub fn is_simple(&self) -> bool {
        self.words.len() == 2 && !looks_like_version(self.words[1])
    }
}

fn looks_like_version(word: &[u8]) -> bool {
    word.len() >= 5 && word[..5].eq_ignore_ascii_case(b"HTTP/")
}

/// Checks a request line (with its line end `end` and raw bytes `raw`): H-RL-1..5, H-RL-7.
pub fn check_line(line: &RequestLine<'_>, raw: &[u8], end: LineEnd, judge: &mut Judge<'_>) {
    let shown = visible(line.text);
    if line.text.contains(&b'\r') || line.text.contains(&0) {
        judge.flag(
            rules::H_RL_1,
            format!(
                "the request line `{shown}` holds a CR or NUL octet: it is `METHOD /path HTTP/1.0` then CRLF"
            ),
            raw,
        );
        return;
    }
    match line.spacing {
        Spacing::Single => {}
        Spacing::Trailing => judge.flag(
            rules::H_RL_2,
            "the request line ends in whitespace before its line end, which breaks the version token: remove the space after the version",
            raw,
        ),
        Spacing::Leading => judge.flag(
            rules::H_RL_2,
            "the request line starts with whitespace: start it with the method",
            raw,
        ),
        Spacing::Irregular => judge.flag(
            rules::H_RL_2,
            "the request line separates its parts with more than one space or with a tab: put exactly one space between method, path and version",
            raw,
        ),
    }
    match line.words.len() {
        0 => {
            judge.flag(
                rules::H_RL_1,
                "the request line is empty: send `METHOD /path HTTP/1.0`",
                raw,
            );
            return;
        }
        1 => {
            judge.flag(
                rules::H_RL_1,
                format!("the request line `{shown}` has only one word: send `METHOD /path HTTP/1.0`"),
                raw,
            );
            return;
        }
        2 if line.is_simple() => {
            judge.flag(
                rules::H_RL_7,
                format!(
                    "the request line `{shown}` has no HTTP version: that is an HTTP/0.9 Simple-Request; add ` HTTP/1.0`"
                ),
                raw,
            );
        }
        2 => {
            judge.flag(
                rules::H_RL_1,
                format!("the request line `{shown}` has no Request-URI between the method and the version"),
                raw,
            );
            return;
        }
        3 => {}
        n => {
            judge.flag(
                rules::H_RL_1,
                format!(
                    "the request line `{shown}` has {n} words, not 3: `METHOD /path HTTP/1.0`, with any space inside the path written %20"
                ),
                raw,
            );
            return;
        }
    }
    if end == LineEnd::Missing {
        judge.flag(rules::H_RL_1, "the request line does not end in CRLF", raw);
    }
    let method = line.words[0];
    let text = String::from_utf8_lossy(method);
    if !is_token(method) {
        judge.flag(
            rules::H_RL_3,
            format!(
                "the method `{}` is not a token (letters, digits, no separators)",
                visible(method)
            ),
            raw,
        );
    } else if let Some(known) = KNOWN_METHODS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(&text) && **m != text)
    {
        judge.flag(
            rules::H_RL_3,
            format!("the method is `{text}`: methods are case-sensitive, write `{known}`"),
            raw,
        );
    }
    if let Some(target) = line.words.get(1) {
        check_target(target, raw, judge);
    }
    if let Some(word) = line.version_word() {
        if Version::parse(word).is_none() {
            judge.flag(
                rules::H_RL_4,
                format!(
                    "the version `{}` is not `HTTP/` digits `.` digits: write `HTTP/1.0`",
                    visible(word)
                ),
                raw,
            );
        }
    }
}

/// RFC 1945 §5.1.2: an origin server gets an abs_path (or `*`); an absoluteURI is for
/// proxies.
fn check_target(target: &[u8], raw: &[u8], judge: &mut Judge<'_>) {
    let shown = visible(target);
    if target == b"*" {
        return;
    }
    let lower = target.to_ascii_lowercase();
    if lower.starts_with(b"http://") || lower.starts_with(b"https://") {
        judge.flag(
            rules::H_RL_5,
            format!("the Request-URI `{shown}` is an absoluteURI, which only a proxy takes: send the path alone and the host in Host"),
            raw,
        );
    } else if !target.starts_with(b"/") {
        judge.flag(
            rules::H_RL_5,
            format!("the Request-URI `{shown}` is not an absolute path: start it with `/`"),
            raw,
        );
    } else if let Some(bad) = target
        .iter()
        .find(|b| **b <= b' ' || **b >= 0x7f || b"\"<>".contains(b))
    {
        judge.flag(
            rules::H_RL_5,
            format!(
                "the Request-URI `{shown}` holds the octet {}, which must be percent-encoded (%{bad:02X})",
                visible(&[*bad])
            ),
            raw,
        );
    }
}

/// The server a request should name in Host: host, and port when it is not 80.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Authority {
    /// How a Host header names it (RFC 2616 §14.23): the port only when it is not 80.
    pub fn header_value(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Whether a Host value names this server (case-insensitive host; a missing port
    /// means 80).
    pub fn is_named_by(&self, value: &str) -> bool {
        let value = value.trim();
        let (host, port) = if let Some(rest) = value.strip_prefix('[') {
            match rest.split_once(']') {
                Some((h, after)) => (h, after.strip_prefix(':')),
                None => return false,
            }
        } else {
            match value.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h, Some(p)),
                _ => (value, None),
            }
        };
        let port = match port {
            None => Some(80),
            Some(p) => p.parse::<u16>().ok(),
        };
        host.eq_ignore_ascii_case(&self.host) && port == Some(self.port)
    }
}

/// H-HOST-1 and H-HOST-2.
pub fn check_host(head: &Head<'_>, target: Option<&Authority>, judge: &mut Judge<'_>) {
    let Some(field) = head.all("Host").next() else {
        let want = target
            .map(|t| format!("`Host: {}`", t.header_value()))
            .unwrap_or_else(|| "`Host: <server>`".to_string());
        judge.flag(
            rules::H_HOST_1,
            format!("the request has no Host header: add {want}"),
            head.start.raw,
        );
        return;
    };
    if let Some(t) = target {
        if !t.is_named_by(&field.value) {
            let port_note = if t.port == 80 {
                ""
            } else {
                " (with the port, since it is not 80)"
            };
            judge.flag(
                rules::H_HOST_2,
                format!(
                    "Host is `{}` but the server contacted is `{}`: send `Host: {}`{port_note}",
                    field.value,
                    t.header_value(),
                    t.header_value()
                ),
                &field.raw(),
            );
        }
    }
}

/// H-LEN-1 on the head of a request: POST always carries a valid Content-Length, and an
/// HTTP/1.0 body is never chunked (RFC 1945 §7.2.2, §8.3).
pub fn check_length(head: &Head<'_>, line: &RequestLine<'_>, judge: &mut Judge<'_>) {
    let chunked = super::body::is_chunked(head);
    match ContentLength::of(head) {
        // H-LEN-8 (headers::check) says what is wrong with the value.
        ContentLength::Invalid(_) => {}
        ContentLength::Absent if chunked && line.version() <= Version::HTTP10 => {
            judge.flag(
                rules::H_LEN_1,
                "the HTTP/1.0 request sends its body chunked, which HTTP/1.0 servers cannot read: send Content-Length instead",
                &head.all("Transfer-Encoding").flat_map(|f| f.raw()).collect::<Vec<_>>(),
            );
        }
        ContentLength::Absent if chunked => {}
        ContentLength::Absent if line.method() == "POST" => judge.flag(
            rules::H_LEN_1,
            "the POST request has no Content-Length: a POST always carries one (0 for an empty body), or the server cannot tell where the body ends",
            head.start.raw,
        ),
        _ => {}
    }
}

/// H-LEN-3: a body comes with Content-Type (RFC 1945 §7.2.1).
pub fn check_content_type(head: &Head<'_>, body: &[u8], judge: &mut Judge<'_>) {
    if !body.is_empty() && head.field("Content-Type").is_none() {
        judge.flag(
            rules::H_LEN_3,
            format!(
                "the request has a {}-octet body but no Content-Type: say what it is, e.g. `Content-Type: application/json`",
                body.len()
            ),
            head.start.raw,
        );
    }
}

/// Whether `bytes` start like a request line (`TOKEN SP ...`).
pub fn looks_like_request(bytes: &[u8]) -> bool {
    let word_end = bytes.iter().position(|b| *b == b' ');
    match word_end {
        Some(n) if n > 0 => is_token(&bytes[..n]) && bytes[..n].iter().all(u8::is_ascii_alphabetic),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::rules::Profile;
    use rstest::rstest;

    fn line_rules(raw: &[u8]) -> Vec<&'static str> {
        let mut out: Vec<Finding> = Vec::new();
        let lines = super::super::head::lines(raw);
        let line = lines[0];
        check_line(
            &RequestLine::parse(line.text),
            line.raw,
            line.end,
            &mut Judge::new(Profile::Http10, &mut out),
        );
        out.iter().map(|f| f.rule.as_str()).collect()
    }

    #[rstest]
    #[case::four_words_is_h_rl_1(b"GET /hello.txt HTTP/1.0 extra\r\n", &["H-RL-1"])]
    #[case::one_word_is_h_rl_1(b"GET\r\n", &["H-RL-1"])]
    #[case::no_target_is_h_rl_1(b"GET HTTP/1.0\r\n", &["H-RL-1"])]
    #[case::cr_inside_is_h_rl_1(b"GET /\rx HTTP/1.0\r\n", &["H-RL-1"])]
    #[case::trailing_space_in_request_line_is_h_rl_2(b"GET /status/418 HTTP/1.0 \r\n", &["H-RL-2"])]
    #[case::double_space_is_h_rl_2(b"GET  /status/418 HTTP/1.0\r\n", &["H-RL-2"])]
    #[case::leading_space_is_h_rl_2(b" GET / HTTP/1.0\r\n", &["H-RL-2"])]
    #[case::tab_is_h_rl_2(b"GET\t/ HTTP/1.0\r\n", &["H-RL-2"])]
    #[case::lowercase_method_is_h_rl_3(b"get /status/418 HTTP/1.0\r\n", &["H-RL-3"])]
    #[case::method_with_separator_is_h_rl_3(b"GE:T / HTTP/1.0\r\n", &["H-RL-3"])]
    #[case::lowercase_version_is_h_rl_4(b"GET / http/1.0\r\n", &["H-RL-4"])]
    #[case::short_version_is_h_rl_4(b"GET / HTTP/1\r\n", &["H-RL-4"])]
    #[case::absolute_uri_is_h_rl_5(b"GET http://example.com/ HTTP/1.0\r\n", &["H-RL-5"])]
    #[case::relative_path_is_h_rl_5(b"GET status/418 HTTP/1.0\r\n", &["H-RL-5"])]
    #[case::non_ascii_path_is_h_rl_5("GET /zürich HTTP/1.0\r\n".as_bytes(), &["H-RL-5"])]
    #[case::simple_request_is_h_rl_7(b"GET /status/418\r\n", &["H-RL-7"])]
    fn a_broken_request_line_fires_its_rule(#[case] raw: &[u8], #[case] want: &[&str]) {
        assert_eq!(line_rules(raw), want);
    }

    #[rstest]
    #[case(b"GET /status/418 HTTP/1.0\r\n")]
    #[case(b"POST /post?x=1&y=%20 HTTP/1.1\r\n")]
    #[case(b"OPTIONS * HTTP/1.0\r\n")]
    #[case(b"PURGE /cache HTTP/1.0\r\n")]
    #[case(b"GET / HTTP/12.34\r\n")]
    fn a_conforming_request_line_raises_nothing(#[case] raw: &[u8]) {
        assert_eq!(line_rules(raw), Vec::<&str>::new());
    }

    #[rstest]
    #[case("127.0.0.1:8080", true)]
    #[case("LOCALHOST:8080", false)]
    #[case("127.0.0.1", false)]
    #[case("127.0.0.1:80", false)]
    #[case("127.0.0.1:8080 ", true)]
    fn host_names_the_server_and_its_port_h_host_2(#[case] value: &str, #[case] ok: bool) {
        let a = Authority {
            host: "127.0.0.1".into(),
            port: 8080,
        };
        assert_eq!(a.is_named_by(value), ok);
    }

    #[test]
    fn port_80_may_be_omitted_from_host() {
        let a = Authority {
            host: "httpbin.org".into(),
            port: 80,
        };
        assert_eq!(a.header_value(), "httpbin.org");
        assert!(a.is_named_by("httpbin.org"));
        assert!(a.is_named_by("HTTPBIN.org:80"));
        let v6 = Authority {
            host: "::1".into(),
            port: 8080,
        };
        assert_eq!(v6.header_value(), "[::1]:8080");
        assert!(v6.is_named_by("[::1]:8080"));
    }

    #[rstest]
    #[case(b"HTTP/1.0", Some(Version { major: 1, minor: 0 }))]
    #[case(b"HTTP/1.1", Some(Version { major: 1, minor: 1 }))]
    #[case(b"HTTP/1.", None)]
    #[case(b"HTTP/1.0 ", None)]
    #[case(b"http/1.0", None)]
    #[case(b"HTTP/x.0", None)]
    fn versions_are_http_digits_dot_digits_h_rl_4(#[case] text: &[u8], #[case] want: Option<Version>) {
        assert_eq!(Version::parse(text), want);
    }
}
