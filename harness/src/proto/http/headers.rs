//! Header fields: their grammar (RFC 1945 §4.2), their spelling, and Content-Length.
//!
//! Rules: H-HD-1 (field grammar), H-HD-2 (conventional case), H-HD-4 (whitespace around a
//! value), H-HD-5 (continuation lines), H-HD-6 (control octets in a value, differing
//! Content-Length headers), H-HD-7 (misspelled names a client sends).

use super::Judge;
use super::head::{Head, Malformed};
use crate::proto::Dir;
use crate::rules;
use crate::visible::visible;

/// Header names as registered (RFC 1945 §10, RFC 2616 §14, the IANA registry), in their
/// conventional spelling.
pub const REGISTERED: &[&str] = &[
    "Accept",
    "Accept-Charset",
    "Accept-Encoding",
    "Accept-Language",
    "Accept-Ranges",
    "Age",
    "Allow",
    "Authorization",
    "Cache-Control",
    "Connection",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Location",
    "Content-MD5",
    "Content-Range",
    "Content-Type",
    "Cookie",
    "Date",
    "ETag",
    "Expect",
    "Expires",
    "From",
    "Host",
    "If-Match",
    "If-Modified-Since",
    "If-None-Match",
    "If-Range",
    "If-Unmodified-Since",
    "Keep-Alive",
    "Last-Modified",
    "Link",
    "Location",
    "Max-Forwards",
    "MIME-Version",
    "Origin",
    "Pragma",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Range",
    "Referer",
    "Retry-After",
    "Server",
    "Set-Cookie",
    "TE",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "User-Agent",
    "Vary",
    "Via",
    "Warning",
    "WWW-Authenticate",
];

/// Misspellings common enough to name, with the registered name they stand for.
const ALIASES: &[(&str, &str)] = &[("referrer", "Referer")];

/// The registered name `name` is a misspelling of, when it is one: the same letters
/// with `-` missing, replaced by `_` or space, or a known alias (H-HD-7).
pub fn misspelling_of(name: &str) -> Option<&'static str> {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let lower = name.to_ascii_lowercase();
    if let Some((_, to)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        return Some(to);
    }
    let squashed = squash(name);
    REGISTERED
        .iter()
        .find(|r| squash(r) == squashed && !r.eq_ignore_ascii_case(name))
        .copied()
}

/// The conventional spelling of `name` when it differs only in case (H-HD-2).
pub fn unconventional_case(name: &str) -> Option<&'static str> {
    REGISTERED
        .iter()
        .find(|r| r.eq_ignore_ascii_case(name) && **r != name)
        .copied()
}

/// RFC 2616 §2.2 token characters: any CHAR except CTLs and separators.
pub fn is_token_char(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

/// Whether `s` is a non-empty token.
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|b| is_token_char(*b))
}

/// What the Content-Length fields of a head say (RFC 1945 §10.4, RFC 2616 §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentLength {
    /// No Content-Length field.
    Absent,
    /// One length, possibly repeated.
    Valid(u64),
    /// A value that is not a number of octets.
    Invalid(String),
    /// Numbers that differ; framing goes by the first.
    Conflicting {
        /// The first value.
        first: u64,
        /// Every value, as sent.
        values: Vec<String>,
    },
}

impl ContentLength {
    /// Reads the Content-Length fields of `head`.
    pub fn of(head: &Head<'_>) -> ContentLength {
        let values: Vec<&str> = head
            .all("Content-Length")
            .flat_map(|f| f.value.split(','))
            .map(str::trim)
            .collect();
        if values.is_empty() {
            return ContentLength::Absent;
        }
        let mut numbers = Vec::with_capacity(values.len());
        for v in &values {
            match parse_length(v) {
                Some(n) => numbers.push(n),
                None => return ContentLength::Invalid((*v).to_string()),
            }
        }
        if numbers.iter().all(|n| *n == numbers[0]) {
            ContentLength::Valid(numbers[0])
        } else {
            ContentLength::Conflicting {
                first: numbers[0],
                values: values.iter().map(|v| (*v).to_string()).collect(),
            }
        }
    }

    /// The length framing goes by.
    pub fn length(&self) -> Option<u64> {
        match self {
            ContentLength::Valid(n) | ContentLength::Conflicting { first: n, .. } => Some(*n),
            ContentLength::Absent | ContentLength::Invalid(_) => None,
        }
    }
}

/// `1*DIGIT` (RFC 1945 §10.4), no sign, no spaces.
fn parse_length(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Checks every header field of `head`, a message going `dir`.
pub fn check(head: &Head<'_>, dir: Dir, judge: &mut Judge<'_>) {
    for m in &head.malformed {
        match m {
            Malformed::NoColon(line) => judge.flag(
                rules::H_HD_1,
                format!(
                    "the header line `{}` has no colon: a header is `Name: value`",
                    visible(line.text)
                ),
                line.raw,
            ),
            Malformed::OrphanContinuation(line) => judge.flag(
                rules::H_HD_1,
                "the first header line starts with whitespace: a header is `Name: value` starting at the line's first character",
                line.raw,
            ),
        }
    }
    for field in &head.fields {
        let raw = field.raw();
        let name = field.name;
        if name.is_empty() {
            judge.flag(
                rules::H_HD_1,
                "a header line starts with a colon: the field name is missing",
                &raw,
            );
            continue;
        }
        let name_ok = is_token(name);
        if name.last().is_some_and(|b| matches!(b, b' ' | b'\t')) {
            judge.flag(
                rules::H_HD_1,
                format!(
                    "the header `{}` has whitespace before its colon: write `{}:` with the colon right after the name",
                    visible(name),
                    visible(name.trim_ascii())
                ),
                &raw,
            );
        } else if !name_ok {
            judge.flag(
                rules::H_HD_1,
                format!(
                    "the header name `{}` is not a token: names hold letters, digits and `-`, no spaces or separators",
                    visible(name)
                ),
                &raw,
            );
        }
        if field.lines.len() > 1 {
            judge.flag(
                rules::H_HD_5,
                format!(
                    "the header `{}` continues on a line starting with whitespace (obsolete folding): put it on one line",
                    field.name_text().trim()
                ),
                &raw,
            );
        }
        if field
            .lines
            .iter()
            .any(|l| l.text.contains(&b'\r') || l.text.contains(&0))
        {
            judge.flag(
                rules::H_HD_6,
                format!(
                    "the value of `{}` holds a CR or NUL octet: header values hold no control characters",
                    field.name_text().trim()
                ),
                &raw,
            );
        }
        let v = field.raw_value;
        let leading = v.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
        let trailing = v.iter().rev().take_while(|b| matches!(b, b' ' | b'\t')).count();
        if leading < v.len() && (trailing > 0 || leading > 1 || v.first() == Some(&b'\t')) {
            judge.flag(
                rules::H_HD_4,
                format!(
                    "the value of `{}` has extra whitespace around it; it is not part of the value (`{}`)",
                    field.name_text().trim(),
                    field.value
                ),
                &raw,
            );
        }
        if !name_ok {
            continue;
        }
        let text = field.name_text();
        if dir == Dir::ToServer {
            if let Some(registered) = misspelling_of(&text) {
                judge.flag(
                    rules::H_HD_7,
                    format!("the header `{text}` is not a registered name: write `{registered}`"),
                    &raw,
                );
                continue;
            }
        }
        if let Some(conventional) = unconventional_case(&text) {
            judge.flag(
                rules::H_HD_2,
                format!("`{text}` works (names are case-insensitive), but `{conventional}` is the conventional spelling"),
                &raw,
            );
        }
    }
    let length = ContentLength::of(head);
    if let ContentLength::Invalid(v) = &length {
        let raw: Vec<u8> = head.all("Content-Length").flat_map(|f| f.raw()).collect();
        let why = if v.starts_with('-') {
            "a length is never negative"
        } else if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            "it is too large to be a length"
        } else {
            "it is not a decimal number"
        };
        judge.flag(
            rules::H_LEN_8,
            format!("Content-Length `{v}` is not a number of octets ({why}): send the body's length in decimal digits"),
            &raw,
        );
    }
    if let ContentLength::Conflicting { values, .. } = length {
        let raw: Vec<u8> = head.all("Content-Length").flat_map(|f| f.raw()).collect();
        judge.flag(
            rules::H_HD_6,
            format!(
                "the message has Content-Length values that differ ({}): send exactly one Content-Length",
                values.join(", ")
            ),
            &raw,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::rules::Profile;
    use rstest::rstest;

    fn rules_of(head: &[u8], dir: Dir) -> Vec<&'static str> {
        let mut out: Vec<Finding> = Vec::new();
        let head = Head::parse(head);
        check(&head, dir, &mut Judge::new(Profile::Http10, &mut out));
        out.iter().map(|f| f.rule.as_str()).collect()
    }

    #[rstest]
    #[case::no_colon(b"GET / HTTP/1.0\r\nHost example\r\n\r\n", "H-HD-1")]
    #[case::space_before_colon(b"GET / HTTP/1.0\r\nHost : a\r\n\r\n", "H-HD-1")]
    #[case::space_in_name(b"GET / HTTP/1.0\r\nUser Agent: a\r\n\r\n", "H-HD-1")]
    #[case::orphan_continuation(b"GET / HTTP/1.0\r\n Host: a\r\n\r\n", "H-HD-1")]
    #[case::upper_case_name(b"GET / HTTP/1.0\r\nHOST: a\r\n\r\n", "H-HD-2")]
    #[case::padded_value(b"GET / HTTP/1.0\r\nHost:   a  \r\n\r\n", "H-HD-4")]
    #[case::folded(b"GET / HTTP/1.0\r\nX-A: one\r\n two\r\n\r\n", "H-HD-5")]
    #[case::cr_in_value(b"GET / HTTP/1.0\r\nX-A: o\rne\r\n\r\n", "H-HD-6")]
    #[case::nul_in_value(b"GET / HTTP/1.0\r\nX-A: o\0ne\r\n\r\n", "H-HD-6")]
    #[case::differing_lengths(
        b"POST / HTTP/1.0\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "H-HD-6"
    )]
    #[case::misspelled(b"POST / HTTP/1.0\r\nContentType: text/plain\r\n\r\n", "H-HD-7")]
    #[case::underscore(b"POST / HTTP/1.0\r\nContent_Type: text/plain\r\n\r\n", "H-HD-7")]
    #[case::referrer(b"GET / HTTP/1.0\r\nReferrer: /x\r\n\r\n", "H-HD-7")]
    fn a_header_breaking_a_rule_is_flagged_with_its_id(#[case] head: &[u8], #[case] rule: &str) {
        assert_eq!(rules_of(head, Dir::ToServer), [rule]);
    }

    #[rstest]
    #[case(b"GET / HTTP/1.0\r\nHost: a\r\nUser-Agent: x\r\n\r\n")]
    #[case(b"GET / HTTP/1.0\r\nHost:a\r\nX-Custom-Thing: yes\r\n\r\n")]
    #[case(b"GET / HTTP/1.0\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")]
    #[case(b"HTTP/1.0 200 OK\r\nETag: \"x\"\r\nWWW-Authenticate: Basic\r\n\r\n")]
    fn conforming_headers_raise_nothing(#[case] head: &[u8]) {
        assert_eq!(rules_of(head, Dir::ToServer), Vec::<&str>::new());
    }

    #[test]
    fn a_server_misspelling_is_not_h_hd_7() {
        // H-HD-7 is about names the client sends.
        assert_eq!(
            rules_of(b"HTTP/1.0 200 OK\r\nContentType: x\r\n\r\n", Dir::ToClient),
            Vec::<&str>::new()
        );
    }

    #[rstest]
    #[case(b"GET / HTTP/1.0\r\n\r\n", ContentLength::Absent)]
    #[case(b"GET / HTTP/1.0\r\nContent-Length: 12\r\n\r\n", ContentLength::Valid(12))]
    #[case(b"GET / HTTP/1.0\r\ncontent-length:  7 \r\n\r\n", ContentLength::Valid(7))]
    #[case(b"GET / HTTP/1.0\r\nContent-Length: -1\r\n\r\n", ContentLength::Invalid("-1".into()))]
    #[case(b"GET / HTTP/1.0\r\nContent-Length: 3, 3\r\n\r\n", ContentLength::Valid(3))]
    fn content_length_is_read_strictly(#[case] head: &[u8], #[case] want: ContentLength) {
        assert_eq!(ContentLength::of(&Head::parse(head)), want);
    }
}
