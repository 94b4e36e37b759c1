//! Tests of the HTTP mock over real sockets: raw `TcpStream` clients, every endpoint,
//! every error status, the fault knobs, abuse (huge heads, stalls, garbage, 500 clients at
//! once) and graceful shutdown. Each test runs under a deadline; none sleeps.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{HttpConfig, fixture_www_root};
use crate::MockServer;
use crate::faults::MockFaults;

/// No test may take longer than this.
const DEADLINE: Duration = Duration::from_secs(20);

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(DEADLINE, f)
        .await
        .expect("test ran past its deadline")
}

fn www() -> HttpConfig {
    HttpConfig {
        www_root: Some(fixture_www_root()),
        ..HttpConfig::default()
    }
}

/// A response as the test client saw it.
#[derive(Debug)]
struct Reply {
    status_line: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The headers without Date, which may tick between two responses.
    fn stable_headers(&self) -> Vec<(String, String)> {
        let mut headers: Vec<_> = self
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
            .cloned()
            .collect();
        headers.sort();
        headers
    }
}

/// Where the head ends in `raw`, if it has.
fn head_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Splits one response; checks what every response of this server carries.
fn parse(raw: &[u8]) -> Reply {
    let end =
        head_end(raw).unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end - 4]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_owned();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").expect("name: value");
            (n.to_owned(), v.to_owned())
        })
        .collect();
    let reply = Reply {
        status_line,
        status,
        headers,
        body: raw[end..].to_vec(),
    };
    if reply.status >= 200 {
        let date = reply.header("date").expect("Date on every response");
        assert!(
            httpdate::parse_http_date(date).is_ok() && date.ends_with(" GMT"),
            "{date}"
        );
        assert!(reply.header("server").is_some(), "Server on every response");
    }
    reply
}

/// Sends `request` on a new connection and reads until the server closes.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    raw
}

/// One request on a new connection; the server must close after its response, and the
/// body must be as long as Content-Length says.
async fn ask(addr: SocketAddr, request: &str) -> Reply {
    let reply = parse(&exchange(addr, request.as_bytes()).await);
    if let Some(length) = reply.header("content-length") {
        assert_eq!(length.parse::<usize>().unwrap(), reply.body.len(), "{reply:?}");
    }
    reply
}

/// Reads exactly one response with a Content-Length (or none, for bodiless statuses)
/// from a connection that stays open.
async fn read_one(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Reply {
    loop {
        if let Some(end) = head_end(pending) {
            let head = parse(&pending[..end]);
            let length = head
                .header("content-length")
                .map_or(0, |l| l.parse::<usize>().unwrap());
            if pending.len() >= end + length {
                let rest = pending.split_off(end + length);
                let reply = parse(pending);
                *pending = rest;
                return reply;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "closed before a whole response: {:?}",
            String::from_utf8_lossy(pending)
        );
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// Reads until the server closes, expecting nothing more.
async fn expect_closed(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

#[tokio::test]
async fn get_echoes_args_headers_origin_and_url() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let request = "GET /get?a=1&b=two%20words&a=3 HTTP/1.0\r\nHost: example.test\r\nuser-agent: t/1\r\nX-Twice: 1\r\nx-twice: 2\r\n\r\n";
        let reply = ask(server.addr(), request).await;
        assert_eq!(reply.status_line, "HTTP/1.0 200 OK");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.header("connection"), Some("close"));
        assert_eq!(
            reply.json(),
            json!({
                "args": {"a": ["1", "3"], "b": "two words"},
                "headers": {"Host": "example.test", "User-Agent": "t/1", "X-Twice": "1,2"},
                "origin": "127.0.0.1",
                "url": "http://example.test/get?a=1&b=two%20words&a=3",
            })
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn get_with_an_absolute_uri_reports_it_as_the_url() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let reply = ask(server.addr(), "GET http://proxy.test/get HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["url"], "http://proxy.test/get");
        let no_host = ask(server.addr(), "GET /get HTTP/1.0\r\n\r\n").await;
        assert_eq!(no_host.json()["url"], format!("http://{}/get", server.addr()));
    })
    .await;
}

#[tokio::test]
async fn a_request_without_host_gets_the_public_address_in_its_url() {
    within(async {
        let public: SocketAddr = "127.0.0.1:18080".parse().unwrap();
        let server = MockServer::http(HttpConfig {
            public_addr: Some(public),
            ..HttpConfig::default()
        })
        .await
        .unwrap();
        let no_host = ask(server.addr(), "GET /get HTTP/1.0\r\n\r\n").await;
        assert_eq!(no_host.json()["url"], "http://127.0.0.1:18080/get");
        // A Host header still wins: it is what the client asked for.
        let with_host = ask(server.addr(), "GET /get HTTP/1.0\r\nHost: a.test\r\n\r\n").await;
        assert_eq!(with_host.json()["url"], "http://a.test/get");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn post_echoes_a_json_body_as_data_and_parsed_json() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let body = r#"{"name": "parley", "n": [1, 2.5, null], "ok": true}"#;
        let request = format!(
            "POST /post?x=y HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let reply = ask(server.addr(), &request).await;
        assert_eq!(reply.status, 200);
        let echoed = reply.json();
        assert_eq!(echoed["json"], serde_json::from_str::<Value>(body).unwrap());
        assert_eq!(echoed["data"], body);
        assert_eq!(echoed["args"], json!({"x": "y"}));
        assert_eq!((&echoed["form"], &echoed["files"]), (&json!({}), &json!({})));
        assert_eq!(echoed["headers"]["Content-Length"], body.len().to_string());
    })
    .await;
}

#[tokio::test]
async fn post_with_a_body_that_is_not_json_echoes_null_json() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        for body in ["{not json", "", "plain text"] {
            let request = format!(
                "POST /post HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let echoed = ask(server.addr(), &request).await.json();
            assert_eq!(echoed["json"], Value::Null, "{body:?}");
            assert_eq!(echoed["data"], body);
        }
    })
    .await;
}

#[tokio::test]
async fn post_of_an_urlencoded_form_fills_form() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let body = "a=1&b=x+y";
        let request = format!(
            "POST /post HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let echoed = ask(server.addr(), &request).await.json();
        assert_eq!(echoed["form"], json!({"a": "1", "b": "x y"}));
    })
    .await;
}

#[tokio::test]
async fn anything_echoes_any_method() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let reply = ask(
            server.addr(),
            "PUT /anything/x HTTP/1.0\r\nContent-Length: 2\r\n\r\n[]",
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            (reply.json()["method"].clone(), reply.json()["json"].clone()),
            (json!("PUT"), json!([]))
        );
    })
    .await;
}

#[tokio::test]
async fn headers_ip_and_user_agent_endpoints_answer_json() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let reply = ask(
            server.addr(),
            "GET /headers HTTP/1.0\r\nAccept: */*\r\nUser-Agent: me\r\n\r\n",
        )
        .await;
        assert_eq!(
            reply.json(),
            json!({"headers": {"Accept": "*/*", "User-Agent": "me"}})
        );
        let reply = ask(server.addr(), "GET /ip HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.json(), json!({"origin": "127.0.0.1"}));
        let reply = ask(
            server.addr(),
            "GET /user-agent HTTP/1.0\r\nUser-Agent: me\r\n\r\n",
        )
        .await;
        assert_eq!(reply.json(), json!({"user-agent": "me"}));
    })
    .await;
}

#[tokio::test]
async fn status_418_is_the_teapot() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let reply = ask(server.addr(), "GET /status/418 HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status_line, "HTTP/1.0 418 I'm a teapot");
        assert!(String::from_utf8_lossy(&reply.body).contains("-=[ teapot ]=-"));
        assert_eq!(reply.header("content-type"), Some("text/plain; charset=utf-8"));
    })
    .await;
}

#[tokio::test]
async fn status_answers_the_code_asked_for_with_its_headers() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let reply = ask(server.addr(), "GET /status/500 HTTP/1.0\r\n\r\n").await;
        assert_eq!(
            (reply.status_line.as_str(), reply.body.len()),
            ("HTTP/1.0 500 Internal Server Error", 0)
        );
        let reply = ask(server.addr(), "GET /status/302 HTTP/1.0\r\n\r\n").await;
        assert_eq!((reply.status, reply.header("location")), (302, Some("/get")));
        let reply = ask(
            server.addr(),
            "POST /status/201 HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert_eq!(reply.status, 201);
        let reply = ask(server.addr(), "GET /status/299 HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status_line, "HTTP/1.0 299 Success");
        for bad in ["/status/600", "/status/abc", "/status/"] {
            let reply = ask(server.addr(), &format!("GET {bad} HTTP/1.0\r\n\r\n")).await;
            assert_eq!(reply.status, 400, "{bad}");
        }
    })
    .await;
}

#[tokio::test]
async fn status_204_and_304_carry_no_body_and_no_length() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        for code in [204, 304] {
            let raw = exchange(
                server.addr(),
                format!("GET /status/{code} HTTP/1.0\r\n\r\n").as_bytes(),
            )
            .await;
            let reply = parse(&raw);
            assert_eq!(reply.status, code);
            assert!(
                reply.body.is_empty() && reply.header("content-length").is_none(),
                "{reply:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn status_1xx_is_never_sent_to_a_10_client_and_is_interim_for_11() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let reply = ask(server.addr(), "GET /status/100 HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status_line, "HTTP/1.0 200 OK");
        let raw = exchange(
            server.addr(),
            b"GET /status/103 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await;
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.starts_with("HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n"),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn bytes_sends_n_deterministic_bytes_capped_at_max_bytes() {
    within(async {
        let config = HttpConfig {
            max_bytes: 1000,
            ..HttpConfig::default()
        };
        let server = MockServer::http(config).await.unwrap();
        let first = ask(server.addr(), "GET /bytes/100 HTTP/1.0\r\n\r\n").await;
        assert_eq!(first.header("content-type"), Some("application/octet-stream"));
        assert_eq!(first.body, super::routes::pseudo_random(100, 0));
        let again = ask(server.addr(), "GET /bytes/100 HTTP/1.0\r\n\r\n").await;
        assert_eq!(first.body, again.body);
        let seeded = ask(server.addr(), "GET /bytes/100?seed=9 HTTP/1.0\r\n\r\n").await;
        assert_ne!(first.body, seeded.body);
        let capped = ask(
            server.addr(),
            "GET /bytes/99999999999999999999999 HTTP/1.0\r\n\r\n",
        )
        .await;
        assert_eq!(capped.body.len(), 1000);
        let bad = ask(server.addr(), "GET /bytes/-1 HTTP/1.0\r\n\r\n").await;
        assert_eq!(bad.status, 400);
    })
    .await;
}

#[tokio::test]
async fn generated_sends_n_bytes_of_the_unit_with_their_length_and_refuses_bad_lengths() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        for n in [0usize, 1, 17, 300_000] {
            let reply = ask(server.addr(), &format!("GET /generated/{n} HTTP/1.0\r\n\r\n")).await;
            assert_eq!(reply.status, 200, "{n}");
            assert_eq!(reply.header("content-length"), Some(n.to_string().as_str()));
            assert_eq!(reply.header("content-type"), Some("application/octet-stream"));
            let want: Vec<u8> = crate::generated::UNIT.iter().copied().cycle().take(n).collect();
            assert_eq!(reply.body, want, "{n}");
        }
        for bad in [
            "/generated/12x",
            "/generated/-1",
            "/generated/",
            "/generated/68719476737",
        ] {
            let reply = ask(server.addr(), &format!("GET {bad} HTTP/1.0\r\n\r\n")).await;
            assert_eq!(reply.status, 404, "{bad}");
        }
        let post = ask(
            server.addr(),
            "POST /generated/10 HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert_eq!(post.status, 405);
    })
    .await;
}

#[tokio::test]
async fn delay_waits_then_answers_and_is_capped_by_max_delay() {
    within(async {
        let config = HttpConfig {
            max_delay: Duration::from_millis(150),
            ..HttpConfig::default()
        };
        let server = MockServer::http(config).await.unwrap();
        let started = Instant::now();
        let reply = ask(server.addr(), "GET /delay/60 HTTP/1.0\r\n\r\n").await;
        let waited = started.elapsed();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["url"], format!("http://{}/delay/60", server.addr()));
        // At least the cap, and short of the 60 s asked for: the cap, not the request,
        // set the wait.
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(60),
            "{waited:?}"
        );
        let reply = ask(server.addr(), "GET /delay/0.05 HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status, 200);
        for bad in ["/delay/-1", "/delay/nan", "/delay/inf", "/delay/1e3"] {
            assert_eq!(
                ask(server.addr(), &format!("GET {bad} HTTP/1.0\r\n\r\n"))
                    .await
                    .status,
                400,
                "{bad}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn head_has_the_headers_of_get_and_no_body() {
    within(async {
        let server = MockServer::http(www()).await.unwrap();
        for path in [
            "/get",
            "/status/418",
            "/hello.txt",
            "/bytes/10",
            "/generated/100",
            "/nope",
        ] {
            let get = ask(server.addr(), &format!("GET {path} HTTP/1.0\r\n\r\n")).await;
            let raw = exchange(server.addr(), format!("HEAD {path} HTTP/1.0\r\n\r\n").as_bytes()).await;
            let head = parse(&raw);
            assert!(head.body.is_empty(), "{path}: {head:?}");
            assert_eq!(head.status_line, get.status_line, "{path}");
            assert_eq!(head.stable_headers(), get.stable_headers(), "{path}");
        }
    })
    .await;
}

#[tokio::test]
async fn unknown_paths_get_404_and_wrong_methods_405_with_allow() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let reply = ask(server.addr(), "GET /no/such/thing HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status_line, "HTTP/1.0 404 Not Found");
        assert_eq!(reply.json()["status"], 404);
        let reply = ask(server.addr(), "POST /get HTTP/1.0\r\nContent-Length: 0\r\n\r\n").await;
        assert_eq!(reply.status_line, "HTTP/1.0 405 Method Not Allowed");
        assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS"));
        let reply = ask(server.addr(), "GET /post HTTP/1.0\r\n\r\n").await;
        assert_eq!(
            (reply.status, reply.header("allow")),
            (405, Some("POST, OPTIONS"))
        );
        let reply = ask(server.addr(), "TRACE /get HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status, 405);
    })
    .await;
}

#[tokio::test]
async fn unknown_methods_get_501_and_options_lists_allow() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        for method in ["get", "BREW", "PROPFIND"] {
            let reply = ask(server.addr(), &format!("{method} /get HTTP/1.0\r\n\r\n")).await;
            assert_eq!(reply.status, 501, "{method}");
        }
        let reply = ask(server.addr(), "OPTIONS /post HTTP/1.0\r\n\r\n").await;
        assert_eq!(
            (reply.status, reply.header("allow")),
            (200, Some("POST, OPTIONS"))
        );
        let reply = ask(server.addr(), "OPTIONS * HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status, 200);
    })
    .await;
}

#[tokio::test]
async fn malformed_requests_get_400() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        for request in [
            "GET /get\r\n\r\n",
            "GET /get HTTP/1.0 extra\r\n\r\n",
            "GET /get http/1.0\r\n\r\n",
            "GET get HTTP/1.0\r\n\r\n",
            "G@T /get HTTP/1.0\r\n\r\n",
            "GET /get HTTP/1.0\r\nBad Header: x\r\n\r\n",
            "GET /get HTTP/1.0\r\nNo-Colon\r\n\r\n",
            "GET /get HTTP/1.0\r\nA: b\r\n folded\r\n\r\n",
            "GET /get HTTP/1.0\r\nA: nul\0\r\n\r\n",
            "GET /get HTTP/1.1\r\n\r\n",
            "GET /get HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
            "POST /post HTTP/1.0\r\nContent-Length: x\r\n\r\n",
            "POST /post HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "POST /post HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ] {
            let reply = ask(server.addr(), request).await;
            assert_eq!(reply.status, 400, "{request:?}");
            assert!(reply.status_line.ends_with(" 400 Bad Request"), "{request:?}");
            assert_eq!(reply.header("connection"), Some("close"));
        }
    })
    .await;
}

#[tokio::test]
async fn requests_with_bare_lf_and_leading_empty_lines_are_served() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let reply = ask(server.addr(), "GET /get HTTP/1.0\nHost: lf\n\n").await;
        assert_eq!(
            (reply.status, reply.json()["headers"]["Host"].clone()),
            (200, json!("lf"))
        );
        let reply = ask(server.addr(), "\r\n\r\nGET /get HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status, 200);
    })
    .await;
}

#[tokio::test]
async fn unsupported_versions_get_505() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        for version in ["HTTP/2.0", "HTTP/3", "HTTP/0.9"] {
            let reply = ask(server.addr(), &format!("GET /get {version}\r\n\r\n")).await;
            assert_eq!(
                reply.status_line, "HTTP/1.0 505 HTTP Version Not Supported",
                "{version}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn chunked_11_bodies_get_411_and_odd_expectations_417() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let reply = ask(
            server.addr(),
            "POST /post HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        )
        .await;
        assert_eq!(reply.status_line, "HTTP/1.1 411 Length Required");
        let reply = ask(
            server.addr(),
            "GET /get HTTP/1.1\r\nHost: a\r\nExpect: tea\r\n\r\n",
        )
        .await;
        assert_eq!(reply.status, 417);
    })
    .await;
}

#[tokio::test]
async fn expect_100_continue_gets_a_100_before_the_body_is_sent() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        let head = "POST /post HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut interim = [0u8; 25];
        stream.read_exact(&mut interim).await.unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        stream.write_all(b"null").await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let reply = parse(&raw);
        assert_eq!((reply.status, reply.json()["data"].clone()), (200, json!("null")));
    })
    .await;
}

#[tokio::test]
async fn a_megabyte_of_header_gets_431_and_the_server_stays_responsive() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let stream = TcpStream::connect(server.addr()).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let flood = tokio::spawn(async move {
            let mut request = b"GET /get HTTP/1.0\r\nX-Big: ".to_vec();
            request.resize(request.len() + (1 << 20), b'a');
            request.extend_from_slice(b"\r\n\r\n");
            // The server may close before taking it all: that is its right.
            let _ = writer.write_all(&request).await;
            writer
        });
        let mut raw = Vec::new();
        reader.read_to_end(&mut raw).await.unwrap();
        let reply = parse(&raw);
        assert_eq!(reply.status_line, "HTTP/1.0 431 Request Header Fields Too Large");
        drop(flood.await.unwrap());
        let reply = ask(server.addr(), "GET /get HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status, 200);
    })
    .await;
}

#[tokio::test]
async fn a_request_line_longer_than_the_limit_gets_414() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let request = format!("GET /{} HTTP/1.0\r\n\r\n", "a".repeat(10_000));
        let reply = parse(&exchange(server.addr(), request.as_bytes()).await);
        assert_eq!(reply.status, 414);
    })
    .await;
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_without_being_read() {
    within(async {
        let config = HttpConfig {
            max_body_bytes: 1024,
            ..HttpConfig::default()
        };
        let server = MockServer::http(config).await.unwrap();
        let body = "x".repeat(4096);
        let request = format!(
            "POST /post HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let reply = parse(&exchange(server.addr(), request.as_bytes()).await);
        assert_eq!(reply.status_line, "HTTP/1.0 413 Payload Too Large");
        let within_limit = format!(
            "POST /post HTTP/1.0\r\nContent-Length: 1024\r\n\r\n{}",
            &body[..1024]
        );
        assert_eq!(ask(server.addr(), &within_limit).await.status, 200);
    })
    .await;
}

#[tokio::test]
async fn a_stalled_client_gets_408_at_the_read_timeout_and_the_server_stays_responsive() {
    within(async {
        let timeout = Duration::from_millis(200);
        let config = HttpConfig {
            read_timeout: timeout,
            ..HttpConfig::default()
        };
        let server = MockServer::http(config).await.unwrap();
        for partial in [
            "GET /get HTTP/1.0\r\nHost: a\r\n",
            "GET /ge",
            "POST /post HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc",
            "",
        ] {
            let started = Instant::now();
            let mut stream = TcpStream::connect(server.addr()).await.unwrap();
            stream.write_all(partial.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await.unwrap();
            let waited = started.elapsed();
            let reply = parse(&raw);
            assert_eq!(reply.status_line, "HTTP/1.0 408 Request Timeout", "{partial:?}");
            // Not before the read timeout; that it came at all (the client never sends
            // the rest) is the timeout's doing, and `within` guards against a hang.
            assert!(waited >= timeout, "{waited:?}");
            assert_eq!(ask(server.addr(), "GET /get HTTP/1.0\r\n\r\n").await.status, 200);
        }
    })
    .await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_quietly_after_the_read_timeout() {
    within(async {
        let config = HttpConfig {
            read_timeout: Duration::from_millis(200),
            ..HttpConfig::default()
        };
        let server = MockServer::http(config).await.unwrap();
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        stream
            .write_all(b"GET /get HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await
            .unwrap();
        let mut pending = Vec::new();
        assert_eq!(read_one(&mut stream, &mut pending).await.status, 200);
        expect_closed(&mut stream).await;
    })
    .await;
}

#[tokio::test]
async fn http10_closes_after_each_response_unless_keep_alive_is_asked() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        stream
            .write_all(b"GET /get HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /ip HTTP/1.0\r\n\r\n")
            .await
            .unwrap();
        let mut pending = Vec::new();
        let first = read_one(&mut stream, &mut pending).await;
        assert_eq!(
            (first.status_line.as_str(), first.header("connection")),
            ("HTTP/1.0 200 OK", Some("keep-alive"))
        );
        let second = read_one(&mut stream, &mut pending).await;
        assert_eq!(
            (second.json(), second.header("connection")),
            (json!({"origin": "127.0.0.1"}), Some("close"))
        );
        assert!(pending.is_empty());
        expect_closed(&mut stream).await;
    })
    .await;
}

#[tokio::test]
async fn http11_keeps_the_connection_until_connection_close() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        let mut pending = Vec::new();
        for _ in 0..3 {
            stream
                .write_all(b"GET /get HTTP/1.1\r\nHost: a\r\n\r\n")
                .await
                .unwrap();
            let reply = read_one(&mut stream, &mut pending).await;
            assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
        }
        stream
            .write_all(b"GET /headers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let last = read_one(&mut stream, &mut pending).await;
        assert_eq!(last.header("connection"), Some("close"));
        expect_closed(&mut stream).await;
    })
    .await;
}

#[tokio::test]
async fn five_hundred_concurrent_connections_are_all_answered() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        let addr = server.addr();
        let clients: Vec<_> = (0..500)
            .map(|i| {
                tokio::spawn(async move {
                    let reply = ask(addr, &format!("GET /get?client={i} HTTP/1.0\r\n\r\n")).await;
                    (reply.status, reply.json()["args"]["client"].clone())
                })
            })
            .collect();
        for (i, client) in clients.into_iter().enumerate() {
            assert_eq!(client.await.unwrap(), (200, json!(i.to_string())));
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn split_writes_and_close_delimited_bodies_carry_the_same_bytes() {
    within(async {
        let plain = MockServer::http(HttpConfig::default()).await.unwrap();
        let split = MockServer::http(HttpConfig {
            faults: MockFaults {
                split_writes: NonZeroUsize::new(7),
                ..MockFaults::default()
            },
            ..HttpConfig::default()
        })
        .await
        .unwrap();
        let unframed = MockServer::http(HttpConfig {
            no_content_length: true,
            faults: MockFaults {
                split_writes: NonZeroUsize::new(1000),
                ..MockFaults::default()
            },
            ..HttpConfig::default()
        })
        .await
        .unwrap();
        let request = "GET /bytes/5000?seed=3 HTTP/1.0\r\n\r\n";
        let expected = ask(plain.addr(), request).await;
        let got_split = ask(split.addr(), request).await;
        assert_eq!(got_split.body, expected.body);
        assert_eq!(got_split.stable_headers(), expected.stable_headers());
        // A close-delimited body ends the connection even when keep-alive was asked.
        let keep_alive = "GET /bytes/5000?seed=3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        let got_unframed = ask(unframed.addr(), keep_alive).await;
        assert_eq!(got_unframed.body, expected.body);
        assert_eq!(got_unframed.header("content-length"), None);
        assert_eq!(got_unframed.header("connection"), Some("close"));
    })
    .await;
}

#[tokio::test]
async fn close_delay_holds_the_connection_open_after_the_response() {
    within(async {
        let delay = Duration::from_millis(150);
        let server = MockServer::http(HttpConfig {
            close_delay: delay,
            ..HttpConfig::default()
        })
        .await
        .unwrap();
        let started = Instant::now();
        let reply = ask(server.addr(), "GET /get HTTP/1.0\r\n\r\n").await;
        assert_eq!(reply.status, 200);
        assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    })
    .await;
}

#[tokio::test]
async fn static_files_are_served_with_their_content_types() {
    within(async {
        let server = MockServer::http(www()).await.unwrap();
        let root = fixture_www_root();
        for (path, file, content_type) in [
            ("/", "index.html", "text/html; charset=utf-8"),
            ("/index.html", "index.html", "text/html; charset=utf-8"),
            ("/hello.txt", "hello.txt", "text/plain; charset=utf-8"),
            ("/data.json", "data.json", "application/json"),
            ("/pixel.png", "pixel.png", "image/png"),
            ("/nested/deep.txt", "nested/deep.txt", "text/plain; charset=utf-8"),
            ("/nested/../hello.txt", "hello.txt", "text/plain; charset=utf-8"),
            ("/%68ello.txt", "hello.txt", "text/plain; charset=utf-8"),
        ] {
            let reply = ask(server.addr(), &format!("GET {path} HTTP/1.0\r\n\r\n")).await;
            assert_eq!(reply.status, 200, "{path}");
            assert_eq!(reply.header("content-type"), Some(content_type), "{path}");
            assert_eq!(reply.body, std::fs::read(root.join(file)).unwrap(), "{path}");
        }
        for path in ["/absent.txt", "/nested/", "/hello.txt/", "/nested/absent"] {
            let reply = ask(server.addr(), &format!("GET {path} HTTP/1.0\r\n\r\n")).await;
            assert_eq!(reply.status, 404, "{path}");
        }
        let reply = ask(
            server.addr(),
            "POST /hello.txt HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert_eq!(
            (reply.status, reply.header("allow")),
            (405, Some("GET, HEAD, OPTIONS"))
        );
    })
    .await;
}

#[tokio::test]
async fn dot_dot_cannot_escape_the_document_root() {
    within(async {
        let server = MockServer::http(www()).await.unwrap();
        for path in [
            "/../README.md",
            "/nested/../../fixtures/www/hello.txt",
            "/%2e%2e/%2e%2e/Cargo.toml",
            "/..%2f..%2fCargo.toml",
            "http://a/../hello.txt",
            "/%zz",
        ] {
            let reply = ask(server.addr(), &format!("GET {path} HTTP/1.0\r\n\r\n")).await;
            assert_eq!(reply.status, 400, "{path}");
            assert_eq!(reply.header("content-type"), Some("application/json"));
        }
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn symbolic_links_out_of_the_root_are_not_followed() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("www");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        std::fs::write(root.join("inside.txt"), "inside").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("leak.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("inside.txt"), root.join("alias.txt")).unwrap();
        let server = MockServer::http(HttpConfig {
            www_root: Some(root),
            ..HttpConfig::default()
        })
        .await
        .unwrap();
        assert_eq!(
            ask(server.addr(), "GET /leak.txt HTTP/1.0\r\n\r\n").await.status,
            404
        );
        let alias = ask(server.addr(), "GET /alias.txt HTTP/1.0\r\n\r\n").await;
        assert_eq!((alias.status, alias.body.as_slice()), (200, b"inside".as_slice()));
    })
    .await;
}

#[tokio::test]
async fn without_a_document_root_every_other_path_is_404() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        for request in [
            "GET / HTTP/1.0\r\n\r\n",
            "GET /hello.txt HTTP/1.0\r\n\r\n",
            "DELETE /x HTTP/1.0\r\n\r\n",
        ] {
            assert_eq!(ask(server.addr(), request).await.status, 404, "{request:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn garbage_never_breaks_the_server() {
    within(async {
        let server = MockServer::http(HttpConfig {
            read_timeout: Duration::from_millis(300),
            ..HttpConfig::default()
        })
        .await
        .unwrap();
        let alphabet = b"GET /HTP1.0\r\n: \t\0\x7f\xff%?=&-aZ";
        let noise = super::routes::pseudo_random(64 * 200, 42);
        let attempts: Vec<_> = noise
            .chunks(64)
            .enumerate()
            .map(|(i, chunk)| {
                let mut request: Vec<u8> = chunk[..16 + i % 48]
                    .iter()
                    .map(|b| alphabet[usize::from(*b) % alphabet.len()])
                    .collect();
                if i % 2 == 0 {
                    request.splice(0..0, b"GET /get HTTP/1.0\r\n".iter().copied());
                }
                request.extend_from_slice(b"\r\n\r\n");
                let addr = server.addr();
                tokio::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    let _ = stream.write_all(&request).await;
                    let mut raw = Vec::new();
                    let _ = stream.read_to_end(&mut raw).await;
                    raw
                })
            })
            .collect();
        for attempt in attempts {
            let raw = attempt.await.unwrap();
            if !raw.is_empty() {
                let reply = parse(&raw);
                assert!((200..600).contains(&reply.status), "{reply:?}");
            }
        }
        assert_eq!(ask(server.addr(), "GET /get HTTP/1.0\r\n\r\n").await.status, 200);
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_open_connections_and_finishes_promptly() {
    within(async {
        let server = MockServer::http(HttpConfig::default()).await.unwrap();
        // Each connection is known to be accepted: it was answered once and kept open.
        let mut kept = Vec::new();
        for _ in 0..3 {
            let mut stream = TcpStream::connect(server.addr()).await.unwrap();
            stream
                .write_all(b"GET /get HTTP/1.1\r\nHost: a\r\n\r\n")
                .await
                .unwrap();
            let mut pending = Vec::new();
            assert_eq!(read_one(&mut stream, &mut pending).await.status, 200);
            kept.push(stream);
        }
        // One idle, one half-way through a request, one waiting in /delay.
        kept[1].write_all(b"GET /get HTTP/1.1\r\n").await.unwrap();
        kept[2]
            .write_all(b"GET /delay/10 HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        let addr = server.addr();
        let started = Instant::now();
        server.shutdown().await;
        assert!(
            started.elapsed() < crate::SHUTDOWN_GRACE,
            "{:?}",
            started.elapsed()
        );
        for stream in &mut kept {
            expect_closed(stream).await;
        }
        assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
    })
    .await;
}
