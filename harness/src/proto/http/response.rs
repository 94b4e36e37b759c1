//! Responses: the Status-Line (RFC 1945 §6.1) and the checks a response's head answers
//! to, given the request it answers.
//!
//! Rules: H-SL-1..5 (status line, status code, version, reason phrase, 1xx to a 1.0
//! client), H-DATE-1 (an origin server sends Date), H-LEN-7 (no chunked body to a 1.0
//! client). Body lengths (H-LEN-2, H-LEN-6) are judged where the body is framed.

use super::Judge;
use super::head::Head;
use super::request::Version;
use crate::rules;
use crate::visible::visible;

/// The shape of a Status-Line: `HTTP-Version SP Status-Code SP Reason-Phrase`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusLine<'a> {
    /// It does not start with `HTTP/`: no status line at all (an HTTP/0.9 answer, or
    /// not HTTP).
    Missing,
    /// It starts like one.
    Present {
        /// The version word.
        version: &'a [u8],
        /// Whether the version is followed by exactly one SP.
        one_space: bool,
        /// The status code word.
        code: &'a [u8],
        /// The reason phrase, `None` when no SP follows the code.
        reason: Option<&'a [u8]>,
    },
}

impl<'a> StatusLine<'a> {
    /// Splits `text` (a line without its end).
    pub fn parse(text: &'a [u8]) -> StatusLine<'a> {
        if !text.starts_with(b"HTTP/") {
            return StatusLine::Missing;
        }
        let (version, rest) = match memchr::memchr(b' ', text) {
            Some(sp) => (&text[..sp], &text[sp + 1..]),
            None => (text, &b""[..]),
        };
        let one_space = !rest.is_empty() && rest[0] != b' ';
        let rest = rest.trim_ascii_start();
        let (code, reason) = match memchr::memchr(b' ', rest) {
            Some(sp) => (&rest[..sp], Some(&rest[sp + 1..])),
            None => (rest, None),
        };
        StatusLine::Present {
            version,
            one_space,
            code,
            reason,
        }
    }

    /// The status code, when it is three digits.
    pub fn code(&self) -> Option<u16> {
        match self {
            StatusLine::Present { code, .. } if code.len() == 3 && code.iter().all(u8::is_ascii_digit) => {
                std::str::from_utf8(code).ok()?.parse().ok()
            }
            _ => None,
        }
    }
}

/// Whether a server could read the request line of the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestShape {
    /// `Method SP Request-URI SP HTTP-Version`: the server knows the client's version.
    Full,
    /// Anything else: the server cannot tell which version the client speaks.
    Unreadable,
}

/// What parley knows of the request a response answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// Its method.
    pub method: String,
    /// Its version.
    pub version: Version,
    /// Whether its request line could be read.
    pub shape: RequestShape,
}

/// Checks a status line: H-SL-1..5. `asked` is the request it answers, when known.
pub fn check_status_line(line: &StatusLine<'_>, raw: &[u8], asked: Option<&Asked>, judge: &mut Judge<'_>) {
    let StatusLine::Present {
        version,
        one_space,
        code,
        reason,
    } = line
    else {
        if asked.is_some_and(|a| a.shape == RequestShape::Unreadable) {
            // A server that cannot read the request's version may answer the HTTP/0.9
            // way, with the entity alone (RFC 1945 §6; python's http.server does).
            return;
        }
        judge.flag(
            rules::H_SL_1,
            "the response does not start with a status line: send `HTTP/1.0 200 OK` then CRLF before the headers",
            raw,
        );
        return;
    };
    let Some(v) = Version::parse(version) else {
        judge.flag(
            rules::H_SL_1,
            format!(
                "the status line's version `{}` is not `HTTP/` digits `.` digits",
                visible(version)
            ),
            raw,
        );
        return;
    };
    if code.is_empty() {
        judge.flag(
            rules::H_SL_1,
            "the status line has no status code: send `HTTP/1.0 200 OK`",
            raw,
        );
        return;
    }
    if !one_space {
        judge.flag(
            rules::H_SL_1,
            "the status line has more than one space after the version: exactly one SP separates its parts",
            raw,
        );
    }
    match line.code() {
        None => judge.flag(
            rules::H_SL_2,
            format!("the status code `{}` is not three digits", visible(code)),
            raw,
        ),
        Some(c) if !(100..600).contains(&c) => judge.flag(
            rules::H_SL_2,
            format!("the status code {c} is outside 100–599: its first digit says its class, 1 to 5"),
            raw,
        ),
        Some(_) => {}
    }
    match reason {
        None => judge.flag(
            rules::H_SL_1,
            format!(
                "the status line `{}` has no SP and Reason-Phrase after the code: send e.g. `HTTP/1.0 200 OK`",
                visible(raw.trim_ascii_end())
            ),
            raw,
        ),
        Some(r) if r.contains(&b'\r') || r.contains(&0) => judge.flag(
            rules::H_SL_4,
            "the reason phrase holds a CR or NUL octet: keep it to text on the status line",
            raw,
        ),
        Some(_) => {}
    }
    let Some(asked) = asked else {
        return;
    };
    if asked.version == Version::HTTP10 {
        if v.major == 1 && v.minor > 0 {
            judge.flag(
                rules::H_SL_3,
                format!("the server answers the HTTP/1.0 request with {v}; HTTP/1.0 clients accept that"),
                raw,
            );
        }
        if let Some(c) = line.code().filter(|c| (100..200).contains(c)) {
            judge.flag(
                rules::H_SL_5,
                format!(
                    "the server sends a {c} interim response to an HTTP/1.0 client, which does not expect one"
                ),
                raw,
            );
        }
    }
}

/// H-DATE-1, and H-DATE-2/3 on the date fields of a message.
pub fn check_dates(head: &Head<'_>, code: Option<u16>, response: bool, judge: &mut Judge<'_>) {
    // RFC 2616 §14.18: every response but 100, 101, and (optionally) 500 and 503.
    let exempt = code.is_some_and(|c| (100..200).contains(&c) || c == 500 || c == 503);
    if response && !exempt && head.field("Date").is_none() {
        judge.flag(
            rules::H_DATE_1,
            "the response has no Date header: an origin server sends `Date:` in the rfc1123 form",
            head.start.raw,
        );
    }
    for field in &head.fields {
        let name = field.name_text();
        let lenient = field.is("Expires");
        let dated = field.is("Date") || field.is("Last-Modified") || field.is("If-Modified-Since");
        // RFC 2616 §14.21: an invalid Expires (such as `0`) means "already expired".
        if dated || (lenient && super::date::parse(&field.value).is_some()) {
            super::date::check(name.trim(), &field.value, &field.raw(), judge);
        }
    }
}

/// H-LEN-7: chunked transfer-coding to an HTTP/1.0 client (RFC 2616 §3.6).
pub fn check_chunked(head: &Head<'_>, asked: Option<&Asked>, judge: &mut Judge<'_>) {
    if !super::body::is_chunked(head) {
        return;
    }
    if asked.is_some_and(|a| a.version <= Version::HTTP10) {
        judge.flag(
            rules::H_LEN_7,
            "the server sends a chunked body to an HTTP/1.0 client, which cannot decode it: send Content-Length or close after the body",
            &head
                .all("Transfer-Encoding")
                .flat_map(|f| f.raw())
                .collect::<Vec<_>>(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::rules::Profile;
    use rstest::rstest;

    fn rules(raw: &[u8], asked: Option<&Asked>) -> Vec<&'static str> {
        let mut out: Vec<Finding> = Vec::new();
        let text = raw.strip_suffix(b"\r\n").unwrap_or(raw);
        check_status_line(
            &StatusLine::parse(text),
            raw,
            asked,
            &mut Judge::new(Profile::Http10, &mut out),
        );
        out.iter().map(|f| f.rule.as_str()).collect()
    }

    fn http10() -> Asked {
        Asked {
            method: "GET".into(),
            version: Version::HTTP10,
            shape: RequestShape::Full,
        }
    }

    #[rstest]
    #[case::not_a_status_line_is_h_sl_1(b"<html>\r\n", &["H-SL-1"])]
    #[case::no_reason_phrase_is_h_sl_1(b"HTTP/1.0 200\r\n", &["H-SL-1"])]
    #[case::bad_version_is_h_sl_1(b"HTTP/1 200 OK\r\n", &["H-SL-1"])]
    #[case::double_space_is_h_sl_1(b"HTTP/1.0  200 OK\r\n", &["H-SL-1"])]
    #[case::no_code_is_h_sl_1(b"HTTP/1.0\r\n", &["H-SL-1"])]
    #[case::two_digit_code_is_h_sl_2(b"HTTP/1.0 20 OK\r\n", &["H-SL-2"])]
    #[case::code_600_is_h_sl_2(b"HTTP/1.0 600 Odd\r\n", &["H-SL-2"])]
    #[case::cr_in_reason_is_h_sl_4(b"HTTP/1.0 200 O\rK\r\n", &["H-SL-4"])]
    #[case::http11_to_a_10_request_is_a_note_h_sl_3(b"HTTP/1.1 200 OK\r\n", &["H-SL-3"])]
    #[case::interim_to_a_10_client_is_h_sl_5(b"HTTP/1.0 100 Continue\r\n", &["H-SL-5"])]
    fn a_broken_status_line_fires_its_rule(#[case] raw: &[u8], #[case] want: &[&str]) {
        assert_eq!(rules(raw, Some(&http10())), want);
    }

    #[rstest]
    #[case(b"HTTP/1.0 200 OK\r\n")]
    #[case(b"HTTP/1.0 418 I'm a teapot\r\n")]
    #[case(b"HTTP/1.0 299 Whatever\r\n")]
    #[case(b"HTTP/1.0 204 \r\n")]
    fn a_conforming_status_line_raises_nothing(#[case] raw: &[u8]) {
        assert_eq!(rules(raw, Some(&http10())), Vec::<&str>::new());
    }

    #[test]
    fn no_status_line_for_an_unreadable_request_is_not_h_sl_1() {
        let asked = Asked {
            shape: RequestShape::Unreadable,
            ..http10()
        };
        assert_eq!(rules(b"<html>\r\n", Some(&asked)), Vec::<&str>::new());
        assert_eq!(rules(b"HTTP/1.0 200\r\n", Some(&asked)), ["H-SL-1"]);
    }

    #[test]
    fn http11_answers_to_an_http11_request_are_not_noted() {
        let asked = Asked {
            method: "GET".into(),
            version: Version { major: 1, minor: 1 },
            shape: RequestShape::Full,
        };
        assert_eq!(
            rules(b"HTTP/1.1 100 Continue\r\n", Some(&asked)),
            Vec::<&str>::new()
        );
    }

    fn date_rules(head: &[u8], profile: Profile) -> Vec<(&'static str, crate::rules::Severity)> {
        let mut out: Vec<Finding> = Vec::new();
        let head = Head::parse(head);
        check_dates(&head, Some(200), true, &mut Judge::new(profile, &mut out));
        out.iter().map(|f| (f.rule.as_str(), f.severity)).collect()
    }

    #[test]
    fn a_missing_date_is_h_date_1_a_warning_in_http10_and_an_error_in_strict11() {
        use crate::rules::Severity;
        let head = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n";
        assert_eq!(
            date_rules(head, Profile::Http10),
            [("H-DATE-1", Severity::Warning)]
        );
        assert_eq!(
            date_rules(head, Profile::Strict11),
            [("H-DATE-1", Severity::Error)]
        );
        let dated = b"HTTP/1.0 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nExpires: 0\r\n\r\n";
        assert_eq!(date_rules(dated, Profile::Strict11), []);
    }

    #[test]
    fn chunked_to_an_http10_client_is_h_len_7() {
        let mut out: Vec<Finding> = Vec::new();
        let head = Head::parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        check_chunked(&head, Some(&http10()), &mut Judge::new(Profile::Http10, &mut out));
        assert_eq!(out[0].rule, "H-LEN-7");
        out.clear();
        let asked = Asked {
            method: "GET".into(),
            version: Version { major: 1, minor: 1 },
            shape: RequestShape::Full,
        };
        check_chunked(&head, Some(&asked), &mut Judge::new(Profile::Http10, &mut out));
        assert!(out.is_empty());
    }
}
