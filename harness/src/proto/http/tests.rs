//! The inspector as the engine drives it: a table of messages with the exact rule ids
//! each raises, the same verdicts over every split of the bytes, the hooks for messages
//! that never end or are followed by stray bytes, deferred JSON verdicts, literal
//! matching, and arbitrary bytes that must not panic.

use super::*;
use crate::rules::{self, Check, Severity};
use rstest::rstest;

const TARGET: (&str, u16) = ("127.0.0.1", 8080);
const GET: &[u8] = b"GET /status/418 HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n";
const HEAD: &[u8] = b"HEAD /hello.txt HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n";
const HEAD11: &[u8] = b"HEAD /hello.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
const BAD_LINE: &[u8] = b"GET /hello.txt HTTP/1.0 extra\r\nHost: 127.0.0.1:8080\r\n\r\n";
const GET11: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
const DATE: &str = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";

fn inspector(profile: Profile) -> HttpInspector {
    let mut i = HttpInspector::new(profile);
    i.target(TARGET.0, TARGET.1);
    i
}

/// One message of the table: which way it goes, the request it answers (responses), and
/// the rules it must raise, in order.
#[derive(Debug, Clone)]
struct Case {
    dir: Dir,
    asked: Option<&'static [u8]>,
    msg: Vec<u8>,
    /// The body runs until the sender closes.
    until_close: bool,
    rules: Vec<&'static str>,
}

fn req(msg: &str, rules: &[&'static str]) -> Case {
    Case {
        dir: Dir::ToServer,
        asked: None,
        msg: msg.as_bytes().to_vec(),
        until_close: false,
        rules: rules.to_vec(),
    }
}

fn resp(asked: &'static [u8], msg: &str, rules: &[&'static str]) -> Case {
    Case {
        dir: Dir::ToClient,
        asked: Some(asked),
        msg: msg.as_bytes().to_vec(),
        until_close: false,
        rules: rules.to_vec(),
    }
}

fn ok_resp(extra_headers: &str) -> String {
    format!("HTTP/1.0 200 OK\r\n{DATE}{extra_headers}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi")
}

/// Every message of the table, by name.
fn table() -> Vec<(&'static str, Case)> {
    let h = "Host: 127.0.0.1:8080\r\n";
    vec![
        // Requests.
        (
            "conforming_get",
            req(
                &format!("GET /status/418 HTTP/1.0\r\n{h}User-Agent: t\r\n\r\n"),
                &[],
            ),
        ),
        (
            "conforming_post",
            req(
                &format!(
                    "POST /post HTTP/1.0\r\n{h}Content-Type: application/json\r\nContent-Length: 8\r\n\r\n{{\"a\": 1}}"
                ),
                &[],
            ),
        ),
        (
            "chunked_post_in_http11_is_fine",
            req(
                &format!(
                    "POST /post HTTP/1.1\r\n{h}Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
                ),
                &[],
            ),
        ),
        (
            "space_in_target_is_h_rl_1",
            req(&format!("GET /a b HTTP/1.0\r\n{h}\r\n"), &["H-RL-1"]),
        ),
        (
            "trailing_space_in_request_line_is_h_rl_2",
            req(&format!("GET /status/418 HTTP/1.0 \r\n{h}\r\n"), &["H-RL-2"]),
        ),
        (
            "lowercase_method_is_h_rl_3",
            req(&format!("get /status/418 HTTP/1.0\r\n{h}\r\n"), &["H-RL-3"]),
        ),
        (
            "bad_version_is_h_rl_4",
            req(&format!("GET / HTTP/1\r\n{h}\r\n"), &["H-RL-4"]),
        ),
        (
            "absolute_uri_is_h_rl_5",
            req(
                &format!("GET http://127.0.0.1:8080/ HTTP/1.0\r\n{h}\r\n"),
                &["H-RL-5"],
            ),
        ),
        (
            "bare_lf_request_is_h_rl_6",
            req("GET / HTTP/1.0\nHost: 127.0.0.1:8080\n\n", &["H-RL-6"]),
        ),
        (
            "simple_request_is_h_rl_7",
            req(&format!("GET /\r\n{h}\r\n"), &["H-RL-7"]),
        ),
        (
            "space_before_colon_is_h_hd_1",
            req(&format!("GET / HTTP/1.0\r\n{h}X-A : 1\r\n\r\n"), &["H-HD-1"]),
        ),
        (
            "upper_case_host_is_h_hd_2",
            req("GET / HTTP/1.0\r\nHOST: 127.0.0.1:8080\r\n\r\n", &["H-HD-2"]),
        ),
        (
            "padded_value_is_h_hd_4",
            req(&format!("GET / HTTP/1.0\r\n{h}X-A:   1  \r\n\r\n"), &["H-HD-4"]),
        ),
        (
            "folded_header_is_h_hd_5",
            req(&format!("GET / HTTP/1.0\r\n{h}X-A: 1\r\n 2\r\n\r\n"), &["H-HD-5"]),
        ),
        (
            "cr_in_value_is_h_hd_6",
            req(&format!("GET / HTTP/1.0\r\n{h}X-A: 1\r2\r\n\r\n"), &["H-HD-6"]),
        ),
        (
            "misspelled_name_is_h_hd_7",
            req(&format!("GET / HTTP/1.0\r\n{h}UserAgent: t\r\n\r\n"), &["H-HD-7"]),
        ),
        (
            "missing_host_is_h_host_1",
            req("GET / HTTP/1.0\r\n\r\n", &["H-HOST-1"]),
        ),
        (
            "wrong_host_is_h_host_2",
            req("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n", &["H-HOST-2"]),
        ),
        (
            "host_without_port_is_h_host_2",
            req("GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", &["H-HOST-2"]),
        ),
        (
            "post_without_content_length_is_h_len_1",
            req(&format!("POST /post HTTP/1.0\r\n{h}\r\n"), &["H-LEN-1"]),
        ),
        (
            "chunked_http10_request_is_h_len_1",
            req(
                &format!(
                    "POST /post HTTP/1.0\r\n{h}Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
                ),
                &["H-LEN-1"],
            ),
        ),
        (
            "body_without_content_type_is_h_len_3",
            req(
                &format!("POST /post HTTP/1.0\r\n{h}Content-Length: 2\r\n\r\nhi"),
                &["H-LEN-3"],
            ),
        ),
        (
            "differing_content_lengths_are_h_hd_6",
            req(
                &format!(
                    "POST /post HTTP/1.0\r\n{h}Content-Type: text/plain\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi"
                ),
                &["H-HD-6"],
            ),
        ),
        (
            "negative_content_length_is_h_len_8",
            req(
                &format!("POST /post HTTP/1.0\r\n{h}Content-Type: text/plain\r\nContent-Length: -1\r\n\r\n"),
                &["H-LEN-8"],
            ),
        ),
        (
            "overflowing_content_length_is_h_len_8",
            req(
                &format!(
                    "POST /post HTTP/1.0\r\n{h}Content-Type: text/plain\r\nContent-Length: 100000000000000000000000\r\n\r\n"
                ),
                &["H-LEN-8"],
            ),
        ),
        (
            "asctime_date_in_a_request_is_h_date_2",
            req(
                &format!("GET / HTTP/1.0\r\n{h}Date: Sun Nov  6 08:49:37 1994\r\n\r\n"),
                &["H-DATE-2"],
            ),
        ),
        // Responses.
        ("conforming_response", resp(GET, &ok_resp(""), &[])),
        (
            "no_reason_phrase_is_h_sl_1",
            resp(GET, &ok_resp("").replace("200 OK", "200"), &["H-SL-1"]),
        ),
        (
            "four_digit_status_is_h_sl_2",
            resp(GET, &ok_resp("").replace("200", "2000"), &["H-SL-2"]),
        ),
        (
            "http11_answer_to_http10_is_a_note_h_sl_3",
            resp(GET, &ok_resp("").replace("HTTP/1.0", "HTTP/1.1"), &["H-SL-3"]),
        ),
        (
            "http11_answer_to_http11_is_fine",
            resp(GET11, &ok_resp("").replace("HTTP/1.0", "HTTP/1.1"), &[]),
        ),
        (
            "cr_in_reason_is_h_sl_4",
            resp(GET, &ok_resp("").replace("200 OK", "200 O\rK"), &["H-SL-4"]),
        ),
        (
            "interim_response_to_http10_is_h_sl_5",
            resp(GET, "HTTP/1.0 100 Continue\r\n\r\n", &["H-SL-5"]),
        ),
        (
            "bare_lf_response_is_h_rl_6",
            resp(GET, &ok_resp("").replace("\r\n", "\n"), &["H-RL-6"]),
        ),
        (
            "lowercase_type_from_a_server_is_h_hd_2",
            resp(GET, &ok_resp("content-type: x\r\n"), &["H-HD-2"]),
        ),
        (
            "differing_content_lengths_from_a_server_are_h_hd_6",
            resp(
                GET,
                &ok_resp("").replace("\r\n\r\n", "\r\nContent-Length: 3\r\n\r\n"),
                &["H-HD-6"],
            ),
        ),
        (
            "non_numeric_content_length_from_a_server_is_h_len_8",
            Case {
                until_close: true,
                ..resp(
                    GET,
                    &format!(
                        "HTTP/1.0 200 OK\r\n{DATE}Content-Type: text/plain\r\nContent-Length: two\r\n\r\nhi"
                    ),
                    &["H-LEN-8"],
                )
            },
        ),
        (
            "chunked_to_http10_is_h_len_7",
            resp(
                GET,
                &format!(
                    "HTTP/1.0 200 OK\r\n{DATE}Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
                ),
                &["H-LEN-7"],
            ),
        ),
        (
            "chunked_to_http11_is_fine",
            resp(
                GET11,
                &format!(
                    "HTTP/1.1 200 OK\r\n{DATE}Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
                ),
                &[],
            ),
        ),
        (
            "missing_date_is_h_date_1",
            resp(
                GET,
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
                &["H-DATE-1"],
            ),
        ),
        (
            "rfc850_date_is_h_date_2",
            resp(
                GET,
                &ok_resp("").replace(DATE, "Date: Sunday, 06-Nov-94 08:49:37 GMT\r\n"),
                &["H-DATE-2"],
            ),
        ),
        (
            "utc_date_is_h_date_3",
            resp(GET, &ok_resp("").replace("GMT", "UTC"), &["H-DATE-3"]),
        ),
        (
            "head_response_has_no_body",
            resp(
                HEAD,
                &format!("HTTP/1.0 200 OK\r\n{DATE}Content-Type: text/plain\r\nContent-Length: 14\r\n\r\n"),
                &[],
            ),
        ),
        (
            "no_content_response_has_no_body",
            resp(GET, &format!("HTTP/1.0 204 No Content\r\n{DATE}\r\n"), &[]),
        ),
        (
            "close_delimited_response",
            Case {
                until_close: true,
                ..resp(
                    GET,
                    &format!("HTTP/1.0 200 OK\r\n{DATE}Content-Type: text/plain\r\n\r\nuntil the end"),
                    &["H-LEN-9"],
                )
            },
        ),
        (
            "an_http09_answer_to_an_unreadable_request_line_is_fine",
            Case {
                until_close: true,
                ..resp(BAD_LINE, "<html>Error code: 400</html>\n", &[])
            },
        ),
        (
            "garbage_instead_of_a_response_is_h_sl_1",
            Case {
                until_close: true,
                ..resp(GET, "\u{0}\u{ff}garbage!!", &["H-SL-1"])
            },
        ),
    ]
}

/// Frames `case.msg` on a fresh inspector that saw the request it answers, feeding either
/// every prefix (`split`) or all at once; returns the frame and the findings of `inspect`.
fn run(case: &Case, profile: Profile, split: bool) -> (Frame, Vec<Finding>) {
    let mut i = inspector(profile);
    if let Some(asked) = case.asked {
        i.inspect(Dir::ToServer, "main", asked, &mut Vec::new());
    }
    let msg = &case.msg;
    if split {
        for k in 1..msg.len() {
            assert_eq!(
                i.frame(case.dir, "main", &msg[..k], false),
                Frame::Partial,
                "{:?} framed early at {k} bytes",
                String::from_utf8_lossy(msg)
            );
        }
    }
    let frame = i.frame(case.dir, "main", msg, case.until_close);
    let mut found = Vec::new();
    i.inspect(case.dir, "main", msg, &mut found);
    (frame, found)
}

#[test]
fn each_message_of_the_table_raises_exactly_its_rules() {
    for (name, case) in table() {
        let (frame, found) = run(&case, Profile::Http10, false);
        assert_eq!(frame, Frame::Complete(case.msg.len()), "{name}: frame");
        let got: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(got, case.rules, "{name}: {found:#?}");
        for f in &found {
            assert!(f.actual.is_some(), "{name}: {} shows no bytes", f.rule);
        }
    }
}

#[test]
fn every_split_of_a_message_gives_the_same_frame_and_findings() {
    for (name, case) in table() {
        let whole = run(&case, Profile::Http10, false);
        let split = run(&case, Profile::Http10, true);
        assert_eq!(whole, split, "{name}");
    }
}

#[test]
fn every_bytes_rule_of_the_catalogue_is_tested_here() {
    // Rules exercised through the hooks rather than the table.
    let hooks = ["H-HD-3", "H-LEN-2", "H-LEN-4", "H-LEN-6"];
    let table = table();
    for rule in rules::RULES
        .iter()
        .filter(|r| r.family() == "http" && r.check == Check::Bytes)
    {
        let in_table = table.iter().any(|(_, c)| c.rules.contains(&rule.code));
        assert!(
            in_table || hooks.contains(&rule.code),
            "{} has no violating case",
            rule.id
        );
    }
}

#[test]
fn trailing_space_in_request_line_is_h_rl_2_and_shows_the_space() {
    let mut found = Vec::new();
    inspector(Profile::Http10).inspect(
        Dir::ToServer,
        "main",
        b"GET /status/418 HTTP/1.0 \r\nHost: 127.0.0.1:8080\r\n\r\n",
        &mut found,
    );
    assert_eq!(found[0].rule, "H-RL-2");
    assert_eq!(
        found[0].actual.as_deref(),
        Some("GET /status/418 HTTP/1.0\u{2420}\\r\\n")
    );
}

#[rstest]
#[case(Profile::Http10, Severity::Warning)]
#[case(Profile::Strict11, Severity::Error)]
fn missing_host_is_h_host_1_with_the_profile_severity(#[case] profile: Profile, #[case] severity: Severity) {
    let mut found = Vec::new();
    inspector(profile).inspect(Dir::ToServer, "main", b"GET / HTTP/1.0\r\n\r\n", &mut found);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].rule.as_str(), found[0].severity),
        ("H-HOST-1", severity)
    );
    assert!(
        found[0].message.contains("Host: 127.0.0.1:8080"),
        "{}",
        found[0].message
    );
}

#[test]
fn the_view_has_the_method_target_headers_as_sent_and_the_decoded_body() {
    let mut i = inspector(Profile::Http10);
    let view = i.inspect(
        Dir::ToServer,
        "main",
        b"POST /post?x=1 HTTP/1.1\r\nhost:  127.0.0.1:8080 \r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        &mut Vec::new(),
    );
    assert_eq!(view.method.as_deref(), Some("POST"));
    assert_eq!(view.path.as_deref(), Some("/post?x=1"));
    assert_eq!(
        view.headers[0],
        ("host".to_string(), "127.0.0.1:8080".to_string())
    );
    assert_eq!(view.body.as_deref(), Some(&b"abcde"[..]));
    let view = i.inspect(
        Dir::ToClient,
        "main",
        format!("HTTP/1.1 418 I'm a teapot\r\n{DATE}Content-Length: 3\r\n\r\ntea").as_bytes(),
        &mut Vec::new(),
    );
    assert_eq!(view.code, Some(418));
    assert_eq!(view.body.as_deref(), Some(&b"tea"[..]));
}

#[test]
fn a_request_without_content_length_ends_with_its_head() {
    // A POST body without Content-Length must not make parley wait for the close.
    let i = inspector(Profile::Http10);
    let buf = b"POST /post HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n{\"a\": 1}";
    assert_eq!(i.frame(Dir::ToServer, "main", buf, false), Frame::Complete(45));
}

#[test]
fn a_response_to_head_ends_with_its_head_whatever_its_content_length() {
    let mut i = inspector(Profile::Http10);
    i.inspect(Dir::ToServer, "main", HEAD, &mut Vec::new());
    let buf = b"HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\n";
    assert_eq!(
        i.frame(Dir::ToClient, "main", buf, false),
        Frame::Complete(buf.len())
    );
    let mut found = Vec::new();
    i.inspect(Dir::ToClient, "main", buf, &mut found);
    // The next response on the connection answers no HEAD.
    i.inspect(Dir::ToServer, "main", GET, &mut Vec::new());
    assert_eq!(i.frame(Dir::ToClient, "main", buf, false), Frame::Partial);
}

#[test]
fn an_interim_response_keeps_waiting_for_the_final_one() {
    let mut i = inspector(Profile::Http10);
    i.inspect(Dir::ToServer, "main", HEAD11, &mut Vec::new());
    i.inspect(
        Dir::ToClient,
        "main",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        &mut Vec::new(),
    );
    // Still answering the HEAD: no body.
    let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n";
    assert_eq!(
        i.frame(Dir::ToClient, "main", buf, false),
        Frame::Complete(buf.len())
    );
}

#[rstest]
#[case::head_never_ends_is_h_hd_3(
    Dir::ToServer,
    "GET / HTTP/1.0\r\nHost: a\r\n",
    "H-HD-3",
    "never ended with an empty line"
)]
#[case::short_body_is_h_len_2(
    Dir::ToClient,
    "HTTP/1.0 418 I'm a teapot\r\nContent-Length: 31\r\n\r\nI'm a teap",
    "H-LEN-2",
    "got 10 of 31 body bytes"
)]
#[case::short_request_body_is_h_len_2(
    Dir::ToServer,
    "POST /post HTTP/1.0\r\nContent-Length: 5\r\n\r\nab",
    "H-LEN-2",
    "got 2 of 5 body bytes"
)]
#[case::garbage_is_h_sl_1(Dir::ToClient, "\u{0}\u{ff}\u{13}garbage", "H-SL-1", "not an HTTP response")]
#[case::unended_status_line_is_h_sl_1(Dir::ToClient, "HTTP/1.0 200 OK", "H-SL-1", "never ended")]
#[case::simple_request_is_h_rl_7(Dir::ToServer, "GET /status/418\r\n", "H-RL-7", "HTTP/0.9")]
#[case::differing_lengths_are_h_hd_6(
    Dir::ToClient,
    "HTTP/1.0 200 OK\r\nContent-Length: 10\r\nContent-Length: 5\r\n\r\nhello",
    "H-HD-6",
    "10, 5"
)]
#[case::negative_length_never_closed_is_h_len_8_not_h_conn_1(
    Dir::ToClient,
    "HTTP/1.0 200 OK\r\nContent-Length: -1\r\n\r\nbody",
    "H-LEN-8",
    "`-1` is not a decimal number of octets"
)]
#[case::huge_length_never_closed_is_h_len_8(
    Dir::ToClient,
    "HTTP/1.0 200 OK\r\nContent-Length: 100000000000000000000000\r\n\r\nbody",
    "H-LEN-8",
    "not a decimal number of octets"
)]
#[case::close_delimited_body_never_closed_is_h_conn_1(
    Dir::ToClient,
    "HTTP/1.0 200 OK\r\n\r\nbody",
    "H-CONN-1",
    "kept the connection open"
)]
fn a_message_that_never_completes_names_why(
    #[case] dir: Dir,
    #[case] partial: &str,
    #[case] rule: &str,
    #[case] says: &str,
) {
    let mut i = inspector(Profile::Http10);
    i.inspect(Dir::ToServer, "main", GET, &mut Vec::new());
    if dir == Dir::ToServer {
        i.inspect(Dir::ToClient, "main", ok_resp("").as_bytes(), &mut Vec::new());
    }
    assert_eq!(i.frame(dir, "main", partial.as_bytes(), false), Frame::Partial);
    let (got, why) = i.incomplete(dir, "main", partial.as_bytes()).unwrap();
    assert_eq!(got, rule, "{why}");
    assert!(why.contains(says), "{why}");
}

#[test]
fn an_empty_response_with_a_complete_head_is_not_incomplete() {
    let i = inspector(Profile::Http10);
    assert_eq!(i.incomplete(Dir::ToServer, "main", GET), None);
}

/// The rule `trailing` gives for `extra` after `first` (a request, or a response to
/// `asked`).
fn trailing_rule(asked: Option<&[u8]>, first: &[u8], extra: &[u8]) -> Option<&'static str> {
    let mut i = inspector(Profile::Http10);
    let dir = match asked {
        Some(asked) => {
            i.inspect(Dir::ToServer, "main", asked, &mut Vec::new());
            Dir::ToClient
        }
        None => Dir::ToServer,
    };
    i.inspect(dir, "main", first, &mut Vec::new());
    i.trailing(dir, "main", extra).map(|v| v.rule.as_str())
}

#[rstest]
#[case::bytes_after_a_body_mean_content_length_too_small_h_len_2(
    None,
    b"POST /post HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nContent-Length: 2\r\n\r\nhi",
    b"!",
    Some("H-LEN-2")
)]
#[case::a_body_without_content_length_is_h_len_1(
    None,
    b"POST /post HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n",
    b"{}",
    Some("H-LEN-1")
)]
#[case::another_request_after_connection_close_is_h_conn_3(
    None,
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n",
    b"GET /again HTTP/1.1\r\n",
    Some("H-CONN-3")
)]
#[case::more_after_a_keep_alive_request_is_not_h_conn_3(
    None,
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
    b"GET /again HTTP/1.1\r\n",
    Some("H-LEN-1")
)]
#[case::an_extra_crlf_after_a_head_is_h_hd_3(None, GET, b"\r\n", Some("H-HD-3"))]
#[case::an_extra_crlf_after_a_body_is_h_len_2(
    None,
    b"POST /post HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nContent-Length: 2\r\n\r\nhi",
    b"\r\n",
    Some("H-LEN-2")
)]
#[case::a_body_after_a_head_response_is_h_len_6(
    Some(HEAD),
    b"HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\n",
    b"body",
    Some("H-LEN-6")
)]
#[case::a_body_after_204_is_h_len_6(Some(GET), b"HTTP/1.0 204 No Content\r\n\r\n", b"body", Some("H-LEN-6"))]
#[case::more_than_content_length_is_h_len_2(
    Some(GET),
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    b"!!",
    Some("H-LEN-2")
)]
fn bytes_after_the_last_message_name_their_rule(
    #[case] asked: Option<&[u8]>,
    #[case] first: &[u8],
    #[case] extra: &[u8],
    #[case] rule: Option<&str>,
) {
    assert_eq!(trailing_rule(asked, first, extra), rule);
}

const WRONG_LENGTH: &str = "POST /post HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: 58\r\n\r\n{\"name\": \"parley\", \"course\": \"networks\", \"city\": \"Zürich\"}";

#[test]
fn json_cut_short_by_content_length_is_h_len_2_not_h_len_4() {
    let mut i = inspector(Profile::Http10);
    let buf = WRONG_LENGTH.as_bytes();
    let Frame::Complete(n) = i.frame(Dir::ToServer, "main", buf, false) else {
        panic!("not framed")
    };
    assert_eq!(buf.len() - n, 1, "the `}}` is left over");
    let mut found = Vec::new();
    i.inspect(Dir::ToServer, "main", &buf[..n], &mut found);
    assert!(found.is_empty(), "{found:?}");
    let crate::proto::Verdict { rule, why, .. } = i.trailing(Dir::ToServer, "main", &buf[n..]).unwrap();
    assert_eq!(rule, "H-LEN-2");
    assert!(
        why.contains("Content-Length says 58, but 1 more octet of body followed"),
        "{why}"
    );
    assert!(why.contains("59 octets sent are valid JSON"), "{why}");
    let mut late = Vec::new();
    i.finish(Dir::ToServer, &mut late);
    assert!(late.is_empty(), "{late:?}");
}

#[test]
fn json_that_is_cut_short_and_never_completed_is_h_len_4() {
    let mut i = inspector(Profile::Http10);
    let buf = WRONG_LENGTH.as_bytes();
    i.inspect(Dir::ToServer, "main", &buf[..buf.len() - 1], &mut Vec::new());
    let mut late = Vec::new();
    i.finish(Dir::ToServer, &mut late);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].rule, "H-LEN-4");
    assert_eq!(late[0].conn.as_deref(), Some("main"));
}

#[test]
fn a_body_labelled_json_that_is_not_json_is_h_len_4() {
    let mut i = inspector(Profile::Http10);
    let msg = "POST /post HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: 59\r\n\r\n{'name': 'parley', 'course': 'networks', 'city': 'Zürich'}";
    let mut found = Vec::new();
    i.inspect(Dir::ToServer, "main", msg.as_bytes(), &mut found);
    assert!(found.is_empty(), "judged once what follows is known");
    let mut late = Vec::new();
    i.finish(Dir::ToClient, &mut late);
    assert!(late.is_empty(), "only the direction asked for");
    i.finish(Dir::ToServer, &mut late);
    assert_eq!(late[0].rule, "H-LEN-4");
    assert!(late[0].message.contains("not valid JSON"), "{}", late[0].message);
    // Bytes that follow but do not make it JSON leave it H-LEN-4.
    let mut i = inspector(Profile::Http10);
    i.inspect(Dir::ToServer, "main", msg.as_bytes(), &mut Vec::new());
    assert_eq!(
        i.trailing(Dir::ToServer, "main", b"x").map(|v| v.rule.as_str()),
        Some("H-LEN-2")
    );
    let mut late = Vec::new();
    i.finish(Dir::ToServer, &mut late);
    assert_eq!(late[0].rule, "H-LEN-4");
}

#[test]
fn a_chunked_json_body_is_judged_at_once() {
    let mut found = Vec::new();
    inspector(Profile::Http10).inspect(
        Dir::ToServer,
        "main",
        b"POST /post HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n0\r\n\r\n",
        &mut found,
    );
    assert_eq!(
        found.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
        ["H-LEN-4"]
    );
}

#[test]
fn a_client_closing_during_the_response_is_h_len_5() {
    let i = inspector(Profile::Http10);
    assert_eq!(
        i.closed_while_sending(Dir::ToClient, "main").map(|r| r.as_str()),
        Some("H-LEN-5")
    );
    assert_eq!(i.closed_while_sending(Dir::ToServer, "main"), None);
}

fn literal(dir: Dir, expected: &str, msg: &str) -> Result<(), Mismatch> {
    let mut i = inspector(Profile::Http10);
    if dir == Dir::ToClient {
        i.inspect(Dir::ToServer, "main", GET, &mut Vec::new());
    }
    let view = i.inspect(dir, "main", msg.as_bytes(), &mut Vec::new());
    i.literal_matches(dir, expected.as_bytes(), msg.as_bytes(), &view)
}

#[test]
fn a_response_literal_matches_on_status_named_headers_and_body() {
    let got = format!(
        "HTTP/1.1 200 OK\r\ncontent-type:  text/plain \r\n{DATE}Server: nginx/1.2\r\nX-Other: 1\r\nContent-Length: 2\r\n\r\nhi"
    );
    let want = "HTTP/1.0 200 Fine\r\nServer: parley\r\nDate: whenever\r\nContent-Type: text/plain\r\n\r\nhi";
    assert_eq!(literal(Dir::ToClient, want, &got), Ok(()));
    let want_no_body = "HTTP/1.0 200 OK\r\n\r\n";
    assert_eq!(literal(Dir::ToClient, want_no_body, &got), Ok(()));
    let err = literal(
        Dir::ToClient,
        "HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\nX-Missing: 1\r\n\r\nho",
        &got,
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "status 200 arrived where 404 was expected; header Content-Type is `text/plain`, not `text/html`; \
         header X-Missing is missing; the body differs: the bytes differ from byte 1 on"
    );
    let err = literal(
        Dir::ToClient,
        "HTTP/1.0 200 OK\r\nDate: x\r\n\r\n",
        &ok_resp("").replace(DATE, ""),
    )
    .unwrap_err();
    assert_eq!(err.message, "header Date is missing");
}

#[test]
fn a_request_literal_matches_on_method_target_version_and_named_headers() {
    let got = "GET /get?a=1 HTTP/1.0\r\nUser-Agent: x\r\nhost: 127.0.0.1:8080\r\n\r\n";
    assert_eq!(
        literal(
            Dir::ToServer,
            "GET /get?a=1 HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n",
            got
        ),
        Ok(())
    );
    let err = literal(
        Dir::ToServer,
        "POST /post HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
        got,
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "the method is `GET`, not `POST`; the target is `/get?a=1`, not `/post`; the version is `HTTP/1.0`, not `HTTP/1.1`"
    );
}

#[test]
fn a_literal_that_is_not_http_is_compared_byte_for_byte() {
    assert!(literal(Dir::ToClient, "hello", "hello").is_ok());
    assert!(literal(Dir::ToClient, "hello", "help!").is_err());
}

/// A deterministic xorshift generator, so the garbage is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn arbitrary_bytes_never_make_the_parsers_panic() {
    const PIECES: &[&[u8]] = &[
        b"HTTP/1.0 ",
        b"HTTP/1.1 200 OK",
        b"GET / HTTP/1.0",
        b"\r\n",
        b"\n",
        b"\r",
        b" ",
        b":",
        b"Content-Length: ",
        b"Content-Length: 99999999999999999999",
        b"Transfer-Encoding: chunked\r\n",
        b"Date: ",
        b"Sun, 06 Nov 1994 08:49:37 GMT",
        b"0\r\n",
        b"ffffffffffffffff\r\n",
        b"1",
        b"\x00",
        b"\xff\xfe",
        b"\xc3\xbc",
        b"HEAD",
        b"\t",
        b"[",
        b";",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let mut buf = Vec::new();
        for _ in 0..(rng.next() % 24) {
            let r = rng.next();
            if r % 3 == 0 {
                buf.push((r >> 8) as u8);
            } else {
                buf.extend_from_slice(PIECES[(r >> 8) as usize % PIECES.len()]);
            }
        }
        for dir in [Dir::ToServer, Dir::ToClient] {
            let mut i = inspector(Profile::Strict11);
            if rng.next() % 2 == 0 {
                i.inspect(Dir::ToServer, "main", &buf, &mut Vec::new());
            }
            for k in 0..=buf.len() {
                let _ = i.frame(dir, "main", &buf[..k], k == buf.len());
            }
            let _ = i.incomplete(dir, "main", &buf);
            let mut found = Vec::new();
            let view = i.inspect(dir, "main", &buf, &mut found);
            let _ = i.literal_matches(dir, &buf, &buf, &view);
            let _ = i.literal_matches(dir, b"HTTP/1.0 200 OK\r\nA: b\r\n\r\nx", &buf, &view);
            let _ = i.trailing(dir, "main", &buf);
            i.finish(dir, &mut found);
        }
    }
}

/// Frames `data` going `dir` as it would arrive cut at `cuts` (taken modulo its length,
/// sorted), keeping one scan across the pieces as the engine does, and checks every
/// answer against framing that prefix whole with a fresh scan. The sender closes after
/// the last piece when `eof`.
fn check_in_pieces(i: &HttpInspector, dir: Dir, data: &[u8], cuts: &[usize], eof: bool) {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    ends.push(data.len());
    ends.sort_unstable();
    let mut scan = Scan::default();
    for end in ends {
        let closed = eof && end == data.len();
        let got = i.frame_resuming(dir, "main", &data[..end], closed, &mut scan);
        assert_eq!(
            got,
            i.frame(dir, "main", &data[..end], closed),
            "{dir:?} {:?} framed in pieces, at {end} bytes",
            String::from_utf8_lossy(data)
        );
        assert_eq!(
            i.frame_resuming(dir, "main", &data[..end], closed, &mut scan),
            got,
            "a second look at {end} bytes"
        );
    }
}

#[test]
fn every_message_of_the_table_framed_byte_by_byte_with_one_scan_frames_as_each_prefix_does_whole() {
    for (name, case) in table() {
        let mut i = inspector(Profile::Http10);
        if let Some(asked) = case.asked {
            i.inspect(Dir::ToServer, "main", asked, &mut Vec::new());
        }
        let mut msg = case.msg.clone();
        if !case.until_close {
            // What follows a message is not part of it, whatever it says.
            msg.extend_from_slice(b"HTTP/1.0 200 OK\r\n\r\n0\r\n\r\n");
        }
        let every_byte: Vec<usize> = (0..msg.len()).collect();
        for eof in [false, true] {
            check_in_pieces(&i, case.dir, &msg, &every_byte, eof);
        }
        let mut scan = Scan::default();
        for k in 1..=case.msg.len() {
            let _ = i.frame_resuming(case.dir, "main", &case.msg[..k], false, &mut scan);
        }
        let last = i.frame_resuming(case.dir, "main", &case.msg, case.until_close, &mut scan);
        assert_eq!(last, Frame::Complete(case.msg.len()), "{name}");
    }
}

#[test]
fn a_head_request_inspected_between_two_looks_at_its_response_frames_it_without_a_body() {
    let mut i = inspector(Profile::Http10);
    let msg = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n";
    let mut scan = Scan::default();
    // No request is known yet: a response with Content-Length 5 waits for its body.
    assert_eq!(
        i.frame_resuming(Dir::ToClient, "main", msg, false, &mut scan),
        Frame::Partial
    );
    i.inspect(Dir::ToServer, "main", HEAD, &mut Vec::new());
    assert_eq!(
        i.frame_resuming(Dir::ToClient, "main", msg, false, &mut scan),
        Frame::Complete(msg.len())
    );
}

#[test]
fn a_chunked_body_of_many_chunks_in_1_byte_pieces_is_framed_as_it_is_whole() {
    let mut data =
        b"POST /post HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for n in 1..300usize {
        data.extend_from_slice(format!("{n:x};ext=1\r\n").as_bytes());
        data.extend(std::iter::repeat_n(b'x', n));
        data.extend_from_slice(if n % 2 == 0 { b"\r\n" } else { b"\n" });
    }
    data.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
    let i = inspector(Profile::Http10);
    let mut scan = Scan::default();
    for k in 1..data.len() {
        assert_eq!(
            i.frame_resuming(Dir::ToServer, "main", &data[..k], false, &mut scan),
            Frame::Partial,
            "at {k}"
        );
    }
    assert_eq!(
        i.frame_resuming(Dir::ToServer, "main", &data, false, &mut scan),
        Frame::Complete(data.len())
    );
}

proptest::proptest! {
    #[test]
    fn a_message_framed_in_random_pieces_frames_as_each_prefix_does_whole(
        parts in proptest::collection::vec(
            proptest::sample::select(&[
                "HTTP/1.0 200 OK", "HTTP/1.1 204 No Content", "GET / HTTP/1.0", "\r\n", "\n", "\r", " ", ":",
                "Content-Length: 3", "Content-Length: x", "Transfer-Encoding: chunked", "3", "0", "a;b",
                "abc", "H", "HT", "\r\n\r\n",
            ][..]),
            0..30,
        ),
        cuts in proptest::collection::vec(0usize..4096, 0..12),
        asked in 0usize..3,
        eof: bool,
    ) {
        let data = parts.concat();
        let mut i = inspector(Profile::Strict11);
        if let Some(asked) = [None, Some(GET), Some(HEAD)][asked] {
            i.inspect(Dir::ToServer, "main", asked, &mut Vec::new());
        }
        for dir in [Dir::ToServer, Dir::ToClient] {
            check_in_pieces(&i, dir, data.as_bytes(), &cuts, eof);
        }
    }
}

/// Frames `buf` (a response to `asked`) once and asks whether its body streams from
/// `from` bytes.
fn streams(asked: &[u8], buf: &[u8], from: u64) -> Option<StreamedBody> {
    let mut i = inspector(Profile::Http10);
    i.inspect(Dir::ToServer, "main", asked, &mut Vec::new());
    let mut scan = Scan::default();
    let _ = i.frame_resuming(Dir::ToClient, "main", buf, false, &mut scan);
    i.streamed_body(Dir::ToClient, "main", &scan, from)
}

#[test]
fn a_body_streams_when_its_head_declares_enough_bytes_whatever_has_arrived() {
    let head = format!("HTTP/1.0 200 OK\r\n{DATE}Content-Type: text/plain\r\nContent-Length: 5000\r\n\r\n");
    let want = Some(StreamedBody {
        head_len: head.len(),
        len: 5000,
        short_rule: rules::H_LEN_2,
    });
    // The head alone, the head and some body, the whole message: the same answer.
    for body in [0usize, 10, 5000] {
        let mut buf = head.clone().into_bytes();
        buf.extend(std::iter::repeat_n(b'x', body));
        assert_eq!(streams(GET, &buf, 4096), want, "{body} body bytes");
    }
    assert_eq!(
        streams(GET, &head.as_bytes()[..head.len() - 1], 4096),
        None,
        "a head not yet whole"
    );
    assert_eq!(
        streams(GET, head.as_bytes(), 5001),
        None,
        "a body under the threshold"
    );
    assert_eq!(
        streams(HEAD, head.as_bytes(), 4096),
        None,
        "a response to HEAD has no body"
    );
    let chunked = format!("HTTP/1.1 200 OK\r\n{DATE}Transfer-Encoding: chunked\r\n\r\n");
    assert_eq!(
        streams(GET11, chunked.as_bytes(), 1),
        None,
        "chunked bodies are buffered"
    );
    assert_eq!(streams(GET, b"no status line at all\r\n\r\n", 1), None);
    // Requests never stream.
    let post = b"POST /post HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nContent-Length: 9000\r\n\r\n";
    let i = inspector(Profile::Http10);
    let mut scan = Scan::default();
    let _ = i.frame_resuming(Dir::ToServer, "main", post, false, &mut scan);
    assert_eq!(i.streamed_body(Dir::ToServer, "main", &scan, 1), None);
}

#[test]
fn a_head_judged_alone_raises_the_head_rules_and_no_body_rule() {
    // No reason phrase, no Date: the head's rules; the absent body is not "short".
    let head = b"HTTP/1.0 200\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\n";
    let mut i = inspector(Profile::Http10);
    i.inspect(Dir::ToServer, "main", GET, &mut Vec::new());
    let mut alone = Vec::new();
    let view = i.inspect_head(Dir::ToClient, "main", head, 5000, &mut alone);
    let mut whole_msg = head.to_vec();
    whole_msg.extend(std::iter::repeat_n(b'x', 5000));
    let mut i = inspector(Profile::Http10);
    i.inspect(Dir::ToServer, "main", GET, &mut Vec::new());
    let mut whole = Vec::new();
    i.inspect(Dir::ToClient, "main", &whole_msg, &mut whole);
    let ids = |v: &[Finding]| v.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>();
    assert_eq!(ids(&alone), ids(&whole));
    assert!(ids(&alone).contains(&"H-SL-1"), "{:?}", ids(&alone));
    assert!(!ids(&alone).contains(&"H-LEN-2"), "{:?}", ids(&alone));
    assert_eq!(view.code, Some(200));
    assert_eq!(view.header("content-length"), Some("5000"));
    assert_eq!(view.body, None, "the body streams apart");
}
