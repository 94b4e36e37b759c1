//! parley as an HTTP client against servers that get HTTP wrong: a status line without
//! its reason phrase, two differing Content-Length headers, a body cut short, bare-LF
//! lines, binary garbage, chunked bodies to an HTTP/1.0 client, a close-delimited body
//! never closed, nothing at all. Each must end within the step deadline with the precise
//! rule id — never a panic or a hang.

use std::net::SocketAddr;
use std::time::Duration;

use parley::outcome::{Outcome, Status, StepState};
use parley::rules::Severity;
use parley_tests::{against, inline, quick};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const STEP: Duration = Duration::from_millis(400);

/// GET /status/418, then the response, then the server closes; no step names a rule, so
/// the inspector's rules show.
const GET_418: &str = r#"
name: GET /status/418 from a misbehaving server
protocol: http
steps:
  - client: "GET /status/418 HTTP/1.0\r\nHost: {{authority}}\r\n\r\n"
  - server: { code: 418 }
  - close: server
"#;

/// What the server does once the request has arrived.
#[derive(Debug, Clone, Copy)]
enum Then {
    /// Closes the connection.
    Close,
    /// Keeps it open until parley closes.
    StayOpen,
    /// Keeps sending `x` until parley closes.
    Stream,
}

/// Reads one request head from `s`.
async fn read_request(s: &mut TcpStream) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// A server that answers its first connection's request with `reply`, then does `then`.
async fn serve_once(reply: &'static [u8], then: Then) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            read_request(&mut s).await;
            let _ = s.write_all(reply).await;
            match then {
                Then::Close => {}
                Then::StayOpen => {
                    let mut rest = Vec::new();
                    let _ = s.read_to_end(&mut rest).await;
                }
                Then::Stream => {
                    let chunk = vec![b'x'; 16 * 1024];
                    while s.write_all(&chunk).await.is_ok() {}
                }
            }
        }
    });
    addr
}

/// Plays GET /status/418 against a server sending `reply`, then doing `then`.
async fn answered_with(reply: &'static [u8], then: Then) -> Outcome {
    let addr = serve_once(reply, then).await;
    let o = against(&inline(GET_418), addr, &quick(STEP)).await;
    // The play ends at its first failed step: at most one step fails (and so waits out
    // its deadline), and none after it runs.
    let failed: Vec<usize> = o
        .steps
        .iter()
        .filter(|s| s.state == StepState::Failed)
        .map(|s| s.number)
        .collect();
    assert!(failed.len() <= 1, "{:#?}", o.steps);
    if let Some(&first) = failed.first() {
        assert!(
            o.steps
                .iter()
                .filter(|s| s.number > first)
                .all(|s| s.state == StepState::NotRun),
            "{:#?}",
            o.steps
        );
    }
    o
}

fn first_error(o: &Outcome) -> &'static str {
    o.failed_rules().first().map(|r| r.as_str()).unwrap_or("none")
}

#[tokio::test]
async fn a_status_line_without_reason_phrase_is_h_sl_1() {
    let o = answered_with(
        b"HTTP/1.0 418\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 0\r\n\r\n",
        Then::Close,
    )
    .await;
    assert_eq!(first_error(&o), "H-SL-1", "{:#?}", o.findings);
    assert_eq!(o.findings[0].actual.as_deref(), Some("HTTP/1.0 418\\r\\n"));
}

#[tokio::test]
async fn two_differing_content_lengths_are_h_hd_6() {
    // Framed by the first (5): the message completes and is judged.
    let o = answered_with(
        b"HTTP/1.0 418 I'm a teapot\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 5\r\nContent-Length: 10\r\n\r\nhello",
        Then::Close,
    )
    .await;
    assert_eq!(first_error(&o), "H-HD-6", "{:#?}", o.findings);
    // Framed by the first (10): the message never completes; the reason is the same.
    let o = answered_with(
        b"HTTP/1.0 418 I'm a teapot\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 10\r\nContent-Length: 5\r\n\r\nhello",
        Then::Close,
    )
    .await;
    assert_eq!(first_error(&o), "H-HD-6", "{:#?}", o.findings);
    assert!(
        o.findings[0].message.contains("10, 5"),
        "{}",
        o.findings[0].message
    );
}

#[tokio::test]
async fn a_body_shorter_than_content_length_then_a_close_is_h_len_2() {
    let o = answered_with(
        b"HTTP/1.0 418 I'm a teapot\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 31\r\n\r\nI'm a teap",
        Then::Close,
    )
    .await;
    assert_eq!(first_error(&o), "H-LEN-2", "{:#?}", o.findings);
    assert!(
        o.findings[0].message.contains("got 10 of 31 body bytes"),
        "{}",
        o.findings[0].message
    );
}

#[tokio::test]
async fn bare_lf_lines_are_an_h_rl_6_warning() {
    let o = answered_with(
        b"HTTP/1.0 418 I'm a teapot\nDate: Sun, 06 Nov 1994 08:49:37 GMT\nContent-Length: 5\n\nhello",
        Then::Close,
    )
    .await;
    assert_eq!(o.status, Status::Passed, "{:#?}", o.findings);
    let rules: Vec<_> = o.findings.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
    assert_eq!(rules, [("H-RL-6", Severity::Warning)]);
}

#[tokio::test]
async fn binary_garbage_then_a_close_is_h_sl_1() {
    let o = answered_with(b"\x00\xff\x13garbage!!", Then::Close).await;
    assert_eq!(first_error(&o), "H-SL-1", "{:#?}", o.findings);
    assert!(
        o.findings[0]
            .actual
            .as_deref()
            .unwrap()
            .starts_with("\\0\\xFF\\x13garbage")
    );
}

#[tokio::test]
async fn binary_garbage_on_a_connection_left_open_is_h_sl_1() {
    let o = answered_with(b"\x00\xff\x13garbage!!\r\n\r\n", Then::StayOpen).await;
    assert_eq!(first_error(&o), "H-SL-1", "{:#?}", o.findings);
    assert!(
        o.findings[0].message.contains("not an HTTP response"),
        "{}",
        o.findings[0].message
    );
}

#[tokio::test]
async fn a_chunked_body_to_an_http10_client_is_h_len_7() {
    let reply = b"HTTP/1.1 418 I'm a teapot\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let o = answered_with(reply, Then::Close).await;
    assert_eq!(o.failed_rules(), ["H-LEN-7"], "{:#?}", o.findings);
}

#[tokio::test]
async fn a_close_delimited_body_never_closed_is_h_conn_1() {
    let o = answered_with(
        b"HTTP/1.0 418 I'm a teapot\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nno length",
        Then::StayOpen,
    )
    .await;
    assert_eq!(first_error(&o), "H-CONN-1", "{:#?}", o.findings);
}

#[tokio::test]
async fn a_head_that_never_ends_is_h_hd_3() {
    let o = answered_with(
        b"HTTP/1.0 418 I'm a teapot\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
        Then::StayOpen,
    )
    .await;
    assert_eq!(first_error(&o), "H-HD-3", "{:#?}", o.findings);
}

#[tokio::test]
async fn a_server_that_closes_without_answering_is_s_close() {
    let o = answered_with(b"", Then::Close).await;
    assert_eq!(first_error(&o), "S-CLOSE", "{:#?}", o.findings);
    assert!(
        o.findings[0].message.contains("got 0 bytes"),
        "{}",
        o.findings[0].message
    );
}

#[tokio::test]
async fn a_silent_server_fails_the_step_at_its_deadline() {
    let o = answered_with(b"", Then::StayOpen).await;
    assert_eq!(first_error(&o), "S-EXPECT", "{:#?}", o.findings);
    assert!(
        o.findings[0].message.starts_with("waited 400 ms"),
        "{}",
        o.findings[0].message
    );
}

#[tokio::test]
async fn a_correct_server_passes_without_findings() {
    let reply = b"HTTP/1.0 418 I'm a teapot\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
    let o = answered_with(reply, Then::Close).await;
    assert_eq!(o.status, Status::Passed, "{:#?}", o.findings);
    assert!(o.findings.is_empty(), "{:#?}", o.findings);
}

#[tokio::test]
async fn a_negative_content_length_is_h_len_8_not_a_missing_one() {
    let o = answered_with(
        b"HTTP/1.0 418 I'm a teapot\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: -1\r\n\r\nshort",
        Then::StayOpen,
    )
    .await;
    assert_eq!(first_error(&o), "H-LEN-8", "{:#?}", o.findings);
    assert!(
        o.findings.iter().all(|f| f.rule != "H-CONN-1"),
        "{:#?}",
        o.findings
    );
    let f = o.findings.iter().find(|f| f.rule == "H-LEN-8").unwrap();
    assert!(f.message.contains("`-1`"), "{}", f.message);
}

#[tokio::test]
async fn an_overflowing_content_length_is_h_len_8() {
    let o = answered_with(
        b"HTTP/1.0 418 I'm a teapot\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 100000000000000000000000\r\n\r\nshort",
        Then::StayOpen,
    )
    .await;
    assert_eq!(first_error(&o), "H-LEN-8", "{:#?}", o.findings);
}

#[tokio::test]
async fn a_server_streaming_where_it_should_close_gives_one_bounded_finding() {
    let o = answered_with(
        b"HTTP/1.0 418 I'm a teapot\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 5\r\n\r\nshort",
        Then::Stream,
    )
    .await;
    assert_eq!(o.status, Status::Failed);
    let errors: Vec<_> = o.findings.iter().filter(|f| f.is_error()).collect();
    assert_eq!(errors.len(), 1, "{:#?}", o.findings);
    assert_eq!(errors[0].rule, "H-LEN-2");
    assert!(
        errors[0]
            .message
            .contains("and was still sending when parley stopped reading"),
        "{}",
        errors[0].message
    );
    // The whole human report stays small, however long the server went on.
    let report = parley::report::human::render(
        std::slice::from_ref(&o),
        &parley::report::human::HumanOptions::default(),
    );
    assert!(report.len() < 64 * 1024, "{} bytes of report", report.len());
}
