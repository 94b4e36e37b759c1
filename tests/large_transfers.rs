//! Large messages: parley reads while it writes (an echo server sends back while it is
//! still being sent to), checks a message as it arrives instead of buffering it, and
//! keeps memory flat. A peer that really stops reading is named, with the byte count.

use parley::engine::PlayOptions;
use parley::outcome::{Outcome, Status};
use parley::scenario::Scenario;
use parley_mock::MockServer;
use parley_mock::echo::EchoConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use parley_tests::{against, describe, fixtures_dir, inline, rules, serve_once};

fn large(name: &str) -> Scenario {
    let path = fixtures_dir().join("large").join(name);
    parley::scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// Plays `scenario` as the client against `addr` with the default deadlines.
async fn play_default(scenario: &Scenario, addr: std::net::SocketAddr) -> Outcome {
    against(scenario, addr, &PlayOptions::default()).await
}

/// Bytes of one direction as the transcript accounts for them: kept plus counted.
fn accounted(o: &Outcome, from: parley::outcome::Party) -> u64 {
    use parley::outcome::EventKind;
    o.transcript
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Data { from: f, bytes } if *f == from => bytes.len() as u64,
            EventKind::Omitted { from: f, bytes } if *f == from => *bytes,
            _ => 0,
        })
        .sum()
}

fn kept(o: &Outcome) -> usize {
    use parley::outcome::EventKind;
    o.transcript
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Data { bytes, .. } => bytes.len(),
            _ => 0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_echoed_in_one_step_passes_and_the_transcript_stays_small() {
    let mock = MockServer::echo(EchoConfig::default()).await.unwrap();
    let o = play_default(&large("echo-64mib.yaml"), mock.addr()).await;
    assert_eq!(o.status, Status::Passed, "{}", describe(&o));
    assert_eq!(accounted(&o, parley::outcome::Party::Client), 64 << 20);
    assert_eq!(accounted(&o, parley::outcome::Party::Server), 64 << 20);
    assert!(
        kept(&o) <= 1 << 20,
        "the transcript kept {} bytes of 128 MiB",
        kept(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_steps_of_one_mib_pass() {
    let mock = MockServer::echo(EchoConfig::default()).await.unwrap();
    let o = play_default(&large("echo-64x1mib.yaml"), mock.addr()).await;
    assert_eq!(o.status, Status::Passed, "{}", describe(&o));
    assert_eq!(o.steps.len(), 130);
    assert_eq!(accounted(&o, parley::outcome::Party::Server), 64 << 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echo_server_that_closes_at_32_mib_while_parley_sends_breaks_echo_3() {
    let mock = MockServer::echo(EchoConfig {
        truncate_after: Some(32 << 20),
        ..EchoConfig::default()
    })
    .await
    .unwrap();
    let o = play_default(&large("echo-64mib.yaml"), mock.addr()).await;
    assert_eq!(o.status, Status::Failed, "{}", describe(&o));
    // It closed while parley still sent: it closed first (ECHO-3), and that ends the
    // scenario.
    assert_eq!(rules(&o), ["ECHO-3"], "{}", describe(&o));
    assert!(
        o.findings[0]
            .message
            .contains("the server closed `main` while parley was sending 67108864 bytes"),
        "{}",
        describe(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_wrong_byte_in_48_mib_is_found_at_its_offset_with_a_window() {
    const WRONG: usize = 40 * 1024 * 1024 + 5;
    // An echo server that flips one bit of the byte at offset WRONG.
    let addr = serve_once(|mut s| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut at = 0usize;
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if (at..at + n).contains(&WRONG) {
                buf[WRONG - at] ^= 0x20;
            }
            at += n;
            if s.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    })
    .await;
    let scenario = inline(
        r#"
name: 48 MiB with one byte changed
protocol: echo
step_timeout: 60s
steps:
  - client: { repeat: "0123456789abcdef", times: 3145728 }
  - server: { exact: { repeat: "0123456789abcdef", times: 3145728 } }
    rule: ECHO-2
  - close: client
"#,
    );
    let o = play_default(&scenario, addr).await;
    assert_eq!(o.status, Status::Failed, "{}", describe(&o));
    assert_eq!(rules(&o), ["ECHO-2"], "{}", describe(&o));
    let f = &o.findings[0];
    assert!(
        f.message.contains(&format!("differ from byte {WRONG} on")),
        "{}",
        f.message
    );
    // The window around the difference: the 32 bytes before it, alike on both sides,
    // then each side's next bytes: `5` (0x35) came back as 0x15.
    let before = "56789abcdef0123456789abcdef01234";
    assert_eq!(f.expected.as_deref(), Some(format!("{before}{before}").as_str()));
    let actual = f.actual.as_deref().unwrap_or_default();
    assert!(
        actual.starts_with(&format!("{before}\\x156789abcdef")),
        "{actual}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_reading_is_named_with_the_bytes_it_took() {
    // Accepts, never reads, holds the connection open.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let addr = serve_once(|s| async move {
        let _ = rx.await;
        drop(s);
    })
    .await;
    let scenario = inline(
        r#"
name: 64 MiB to a server that does not read
protocol: echo
step_timeout: 2s
steps:
  - client: { repeat: "0123456789abcdef", times: 4194304 }
  - server: { exact: { repeat: "0123456789abcdef", times: 4194304 } }
"#,
    );
    let o = play_default(&scenario, addr).await;
    let _ = tx.send(());
    assert_eq!(o.status, Status::Failed, "{}", describe(&o));
    assert_eq!(rules(&o), ["S-IO"], "{}", describe(&o));
    let f = &o.findings[0];
    assert!(
        f.message.contains("the server stopped reading after"),
        "{}",
        f.message
    );
    // The step's own deadline ended it (the test's is only a hang guard).
    assert!(
        f.message
            .contains("could not send 67108864 bytes on `main` within 2.0 s"),
        "{}",
        f.message
    );
}

/// An HTTP/1.0 response head declaring `len` body bytes.
fn head(status_line: &str, len: usize) -> Vec<u8> {
    format!("{status_line}\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n")
        .into_bytes()
}

/// A server that reads one request head, then writes `reply` and closes.
async fn answering(reply: Vec<u8>) -> std::net::SocketAddr {
    serve_once(|mut s| async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = s.write_all(&reply).await;
        let _ = s.shutdown().await;
    })
    .await
}

/// GET of a body of `times` units of `0123456789abcdef`, checked by `body:` and
/// `body_len:`.
fn get_generated(times: usize) -> Scenario {
    let len = times * 16;
    inline(&format!(
        r#"
name: a large body
protocol: http
step_timeout: 60s
steps:
  - client: "GET /generated/{len} HTTP/1.0\r\nHost: {{{{authority}}}}\r\n\r\n"
  - server:
      code: 200
      body: {{ repeat: "0123456789abcdef", times: {times} }}
      body_len: {len}
  - close: server
"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_http_body_from_the_mock_streams_through_a_small_transcript() {
    let mock = MockServer::http(parley_mock::http::HttpConfig::default())
        .await
        .unwrap();
    let o = play_default(&get_generated(4 << 20), mock.addr()).await;
    assert_eq!(o.status, Status::Passed, "{}", describe(&o));
    assert!(o.findings.is_empty(), "{}", describe(&o));
    // The whole body (and its head) was accounted for, a few hundred KiB of it kept.
    let got = accounted(&o, parley::outcome::Party::Server);
    assert!(got > 64 << 20 && got < (64 << 20) + 512, "{got}");
    assert!(kept(&o) < 512 * 1024, "{} bytes kept", kept(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_wrong_byte_in_a_32_mib_body_is_found_at_its_offset_and_the_body_read_to_its_end() {
    const WRONG: usize = 20 * 1024 * 1024 + 7;
    let mut body = b"0123456789abcdef".repeat(2 << 20);
    body[WRONG] = b'X';
    let mut reply = head("HTTP/1.0 200 OK", body.len());
    reply.extend_from_slice(&body);
    let o = play_default(&get_generated(2 << 20), answering(reply).await).await;
    assert_eq!(o.status, Status::Failed, "{}", describe(&o));
    assert_eq!(rules(&o), ["S-EXPECT"], "{}", describe(&o));
    let f = &o.findings[0];
    assert_eq!(
        f.message,
        format!("the server sent something else: the bytes differ from byte {WRONG} on")
    );
    assert!(f.actual.as_deref().unwrap_or_default().contains('X'), "{f:?}");
    // The body was read to its Content-Length, not to the difference: nothing of it was
    // left over to be judged as what followed the response.
    assert_eq!(o.findings.len(), 1, "{}", describe(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_before_its_content_length_is_h_len_2_with_the_count() {
    let mut reply = head("HTTP/1.0 200 OK", 8 << 20);
    reply.extend_from_slice(&b"0123456789abcdef".repeat(3 << 16));
    let o = play_default(&get_generated(1 << 19), answering(reply).await).await;
    assert_eq!(o.status, Status::Failed, "{}", describe(&o));
    assert_eq!(rules(&o), ["H-LEN-2"], "{}", describe(&o));
    let f = &o.findings[0];
    assert!(
        f.message
            .ends_with("got 3145728 of 8388608 body bytes: Content-Length is larger than the body sent"),
        "{}",
        f.message
    );
    assert!(f.message.starts_with("the server closed `main`"), "{}", f.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_response_keeps_the_head_rules_and_the_header_matchers() {
    // No reason phrase (H-SL-1) on a 2 MiB response: the head is judged as always.
    let mut reply = head("HTTP/1.0 200", 2 << 20);
    reply.extend_from_slice(&b"0123456789abcdef".repeat(1 << 17));
    let o = play_default(&get_generated(1 << 17), answering(reply).await).await;
    assert_eq!(rules(&o), ["H-SL-1"], "{}", describe(&o));
    // A header matcher that fails on a streamed response, and a body_len that does too.
    let mut reply = head("HTTP/1.0 200 OK", 2 << 20);
    reply.extend_from_slice(&b"0123456789abcdef".repeat(1 << 17));
    let scenario = inline(
        r#"
name: a large body with the wrong type and length expected
protocol: http
step_timeout: 60s
steps:
  - client: "GET /big HTTP/1.0\r\nHost: {{authority}}\r\n\r\n"
  - server:
      code: 200
      headers: { Content-Type: text/plain }
      body_len: 1000
"#,
    );
    let o = play_default(&scenario, answering(reply).await).await;
    assert_eq!(o.status, Status::Failed, "{}", describe(&o));
    let messages: Vec<&str> = o.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("Content-Type"), "{messages:?}");
    assert_eq!(
        messages[1],
        "the server sent something else: the body is 2097152 bytes long, not 1000"
    );
}
