//! `parley record`: a conversation between a real client and a real server, recorded
//! through parley's relay, becomes a scenario that plays back both ways. That round trip
//! is the definition of a correct recording, checked here for every protocol: the
//! unedited file passes `parley check`, passes `parley run FILE --target PROTO=HOST:PORT`
//! against the same server, and gives the same client full marks under `parley grade
//! FILE --no-variants -- CMD`.
//!
//! Also: a server with a planted fault is reported while recording (the live lines
//! `parley record` prints), and neither client nor server can tell the relay is there.
//!
//! Real peers (vsftpd, nginx, curl, python3) are started on free loopback ports; a test
//! whose peer is missing is reported as ignored, unless `PARLEY_REQUIRE_PEERS=1`, which
//! makes it a failure naming the peer (`parley_tests::trials`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use parley::engine::grade::{GradeOptions, grade_client};
use parley::engine::relay::{self, Mode, RecordOptions, Recording, Relay, RelayOptions};
use parley::engine::{self, PlayOptions, RunConfig};
use parley::outcome::{EventKind, Outcome, Party, Status};
use parley::proto::Protocol;
use parley::rules::{Profile, Severity};
use parley_tests::peers::{CURL, NGINX, PYTHON3, VSFTPD};
use parley_tests::trials::{peer_test, plain_test, run};
use parley_tests::{describe_verbose, peers, runtime};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    run(vec![
        peer_test(
            "curl_listing_vsftpd_in_passive_mode_plays_back_both_ways",
            &[CURL, VSFTPD],
            curl_listing_vsftpd_in_passive_mode_plays_back_both_ways,
        ),
        peer_test(
            "ftplib_listing_vsftpd_in_active_mode_relays_the_port_connection_and_plays_back_both_ways",
            &[PYTHON3, VSFTPD],
            ftplib_listing_vsftpd_in_active_mode_relays_the_port_connection_and_plays_back_both_ways,
        ),
        peer_test(
            "curl_getting_two_files_from_nginx_records_two_connections_and_plays_back_both_ways",
            &[CURL, NGINX],
            curl_getting_two_files_from_nginx_records_two_connections_and_plays_back_both_ways,
        ),
        peer_test(
            "python_http_client_posting_json_to_nginx_plays_back_both_ways",
            &[PYTHON3, NGINX],
            python_http_client_posting_json_to_nginx_plays_back_both_ways,
        ),
        peer_test(
            "an_echo_client_against_the_bundled_echo_mock_plays_back_both_ways",
            &[PYTHON3],
            an_echo_client_against_the_bundled_echo_mock_plays_back_both_ways,
        ),
        peer_test(
            "recording_a_server_with_bare_lf_replies_prints_f_rpl_5_as_it_goes",
            &[PYTHON3],
            recording_a_server_with_bare_lf_replies_prints_f_rpl_5_as_it_goes,
        ),
        peer_test(
            "recording_a_response_shorter_than_its_content_length_prints_h_len_2",
            &[CURL],
            recording_a_response_shorter_than_its_content_length_prints_h_len_2,
        ),
        plain_test(
            "neither_client_nor_server_sees_a_difference_with_the_relay_between_them",
            neither_client_nor_server_sees_a_difference_with_the_relay_between_them,
        ),
        plain_test(
            "the_relay_forwards_bytes_as_they_come_not_whole_messages",
            the_relay_forwards_bytes_as_they_come_not_whole_messages,
        ),
    ])
}

/// How long any one recording may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// A recording written to a scratch directory.
struct Recorded {
    _dir: tempfile::TempDir,
    file: PathBuf,
    yaml: String,
    recording: Recording,
    /// What `parley record` prints while recording (`report::live`).
    live: Vec<String>,
}

/// Records `command` (with `{host}`/`{port}`) talking `protocol` to `upstream`, and
/// writes the scenario as `parley record -o DIR/recorded.yaml` does.
fn record(protocol: Protocol, upstream: &str, command: &[&str]) -> Recorded {
    let opts = RecordOptions {
        protocol,
        profile: Profile::Http10,
        upstream: upstream.to_string(),
        listen: "127.0.0.1:0".parse().unwrap(),
        command: Some(command.iter().map(|s| s.to_string()).collect()),
    };
    let (recording, live) = runtime().block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = parley_mock::CancellationToken::new();
        let task = tokio::spawn(async move { relay::record(&opts, tx, stop).await });
        let mut live = Vec::new();
        let collect = async {
            while let Some(event) = rx.recv().await {
                live.extend(parley::report::live::lines(&event, false));
            }
        };
        let (recording, ()) = tokio::time::timeout(DEADLINE, async { tokio::join!(task, collect) })
            .await
            .expect("the recording ends within its deadline");
        (
            recording.expect("the recording task").expect("the recording"),
            live,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("recorded.yaml");
    let conversation = &recording.conversation;
    let template = command.join(" ");
    let written = parley::record::write(
        &parley::record::Source {
            protocol,
            transcript: &conversation.transcript,
            findings: &conversation.findings,
            upstream: &recording.upstream,
            relay: conversation.relay,
            client: recording.program.as_ref().map(|p| p.command.as_str()),
            client_template: Some(&template),
            exit_code: recording.program.as_ref().and_then(|p| p.exit_code),
            recorded_at: recording.started,
        },
        &parley::record::WriteOptions {
            file: Some(file.clone()),
            ..Default::default()
        },
    );
    std::fs::write(&file, &written.yaml).unwrap();
    for (name, bytes) in &written.files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    Recorded {
        _dir: dir,
        file,
        yaml: written.yaml,
        recording,
        live,
    }
}

fn assert_passes(o: &Outcome, what: &str, yaml: &str) {
    assert_eq!(
        o.status,
        Status::Passed,
        "{what}:\n{}\n{yaml}",
        describe_verbose(o)
    );
    assert!(
        o.findings.iter().all(|f| f.severity != Severity::Error),
        "{what}:\n{}",
        describe_verbose(o)
    );
}

/// The definition of a correct recording: the unedited file loads, plays the client
/// against `target`, and plays the server for `command` with full marks.
fn assert_plays_back_both_ways(rec: &Recorded, protocol: Protocol, target: &str, command: &[&str]) {
    let scenario =
        parley::scenario::load(&rec.file).unwrap_or_else(|e| panic!("{}\n{}", e.render(false), rec.yaml));
    let config = RunConfig {
        targets: BTreeMap::from([(protocol, target.to_string())]),
        jobs: 1,
        ..RunConfig::default()
    };
    let rt = runtime();
    let run = rt.block_on(engine::run(std::slice::from_ref(&rec.file), &config));
    assert_eq!(run.len(), 1);
    assert_passes(&run[0], &format!("parley run --target {target}"), &rec.yaml);
    let opts = GradeOptions {
        command: command.iter().map(|s| s.to_string()).collect(),
        dir: None,
        play: PlayOptions::default(),
    };
    let graded = rt.block_on(grade_client(&scenario, None, &opts));
    assert_passes(&graded, "parley grade --no-variants", &rec.yaml);
    let (earned, total) = graded.points();
    assert_eq!(earned, total, "{}", describe_verbose(&graded));
}

const FTPLIB_ACTIVE: &str = "import ftplib, sys\n\
    f = ftplib.FTP(timeout=10)\n\
    f.connect(sys.argv[1], int(sys.argv[2]))\n\
    f.login('anonymous', 'guest@example.com')\n\
    f.set_pasv(False)\n\
    f.retrlines('LIST')\n\
    f.quit()";

const FTPLIB_PASSIVE: &str = "import ftplib, sys\n\
    f = ftplib.FTP(timeout=10)\n\
    f.connect(sys.argv[1], int(sys.argv[2]))\n\
    f.login('anonymous', 'guest@example.com')\n\
    f.retrlines('LIST')\n\
    f.quit()";

fn curl_listing_vsftpd_in_passive_mode_plays_back_both_ways() {
    let vsftpd = peers::vsftpd(&peers::fixture("ftp-root"));
    let command = ["curl", "-s", "--max-time", "10", "ftp://{host}:{port}/"];
    let rec = record(Protocol::Ftp, &vsftpd.addr.to_string(), &command);
    // curl asks for extended passive mode: the server listens, and the 229 is written
    // with the port of the connection the scenario's server listens for.
    assert!(
        rec.yaml.contains("  - listen: { conn: data, by: server }\n"),
        "{}",
        rec.yaml
    );
    assert!(rec.yaml.contains("(|||{{data.port}}|)"), "{}", rec.yaml);
    assert!(
        rec.yaml
            .contains("  - open: { conn: data, to: \"{{pasv.addr}}\" }\n"),
        "{}",
        rec.yaml
    );
    assert!(
        rec.yaml.contains("      contains: \"incoming\"\n"),
        "{}",
        rec.yaml
    );
    assert_plays_back_both_ways(&rec, Protocol::Ftp, &vsftpd.addr.to_string(), &command);
}

fn ftplib_listing_vsftpd_in_active_mode_relays_the_port_connection_and_plays_back_both_ways() {
    let vsftpd = peers::vsftpd(&peers::fixture("ftp-root"));
    let command = ["python3", "-c", FTPLIB_ACTIVE, "{host}", "{port}"];
    let rec = record(Protocol::Ftp, &vsftpd.addr.to_string(), &command);
    // The data connection went through the relay: the server opened it to the relay,
    // and the transcript has it as `data`, listened for by the client.
    let events = &rec.recording.conversation.transcript.events;
    assert!(
        events.iter().any(|e| e.conn == "data"
            && matches!(
                e.kind,
                EventKind::Listen {
                    by: Party::Client,
                    ..
                }
            )),
        "{}",
        rec.yaml
    );
    assert!(
        events.iter().any(|e| e.conn == "data"
            && matches!(
                e.kind,
                EventKind::Open {
                    by: Party::Server,
                    ..
                }
            )),
        "{}",
        rec.yaml
    );
    assert!(
        rec.yaml
            .contains("  - client: { command: PORT, send: \"PORT {{data.port_args}}\\r\\n\" }\n"),
        "{}",
        rec.yaml
    );
    assert!(
        rec.yaml
            .contains("  - open: { conn: data, by: server, to: \"{{port.addr}}\" }\n"),
        "{}",
        rec.yaml
    );
    assert_plays_back_both_ways(&rec, Protocol::Ftp, &vsftpd.addr.to_string(), &command);
}

/// nginx with a `/post` endpoint that answers a POST with JSON.
fn nginx() -> peers::Peer {
    peers::nginx_with(
        &peers::fixture("www"),
        "    location = /post { default_type application/json; return 200 '{\"ok\": true}\\n'; }",
    )
}

fn curl_getting_two_files_from_nginx_records_two_connections_and_plays_back_both_ways() {
    let nginx = nginx();
    // HTTP/1.0: a connection per request, each recorded as its own connection.
    let command = [
        "curl",
        "-s",
        "--max-time",
        "10",
        "--http1.0",
        "http://{host}:{port}/hello.txt",
        "http://{host}:{port}/data.json",
    ];
    let rec = record(Protocol::Http, &nginx.addr.to_string(), &command);
    assert!(rec.yaml.contains("Host: {{authority}}\\r\\n"), "{}", rec.yaml);
    assert!(rec.yaml.contains("Date: {{http_date}}\\r\\n"), "{}", rec.yaml);
    assert!(
        rec.yaml.contains("      body: \"Hello, world!\\n\"\n"),
        "{}",
        rec.yaml
    );
    assert!(rec.yaml.contains("  - open: conn2\n"), "{}", rec.yaml);
    assert_plays_back_both_ways(&rec, Protocol::Http, &nginx.addr.to_string(), &command);
}

fn python_http_client_posting_json_to_nginx_plays_back_both_ways() {
    let nginx = nginx();
    let command = [
        "python3",
        "-c",
        "import http.client, json, sys\n\
         body = json.dumps({'name': 'parley', 'course': 'networks'}).encode()\n\
         c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)\n\
         c.request('POST', '/post', body=body, headers={'Content-Type': 'application/json'})\n\
         r = c.getresponse()\n\
         print(r.status, r.reason, r.read().decode())\n\
         c.close()",
        "{host}",
        "{port}",
    ];
    let rec = record(Protocol::Http, &nginx.addr.to_string(), &command);
    assert!(rec.yaml.contains("POST /post HTTP/1.1\\r\\n"), "{}", rec.yaml);
    assert!(rec.yaml.contains("{\\\"name\\\": \\\"parley\\\""), "{}", rec.yaml);
    assert_plays_back_both_ways(&rec, Protocol::Http, &nginx.addr.to_string(), &command);
}

fn an_echo_client_against_the_bundled_echo_mock_plays_back_both_ways() {
    let rt = runtime();
    let mock = rt
        .block_on(parley_mock::MockServer::echo(Default::default()))
        .expect("the echo mock starts");
    let command = [
        "python3",
        "-c",
        "import socket, sys\n\
         s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)\n\
         for msg in [b'hello, parley\\r\\n', b'0123456789abcdef' * 4096]:\n\
         \x20   s.sendall(msg)\n\
         \x20   got = b''\n\
         \x20   while len(got) < len(msg):\n\
         \x20       got += s.recv(65536)\n\
         \x20   assert got == msg\n\
         s.shutdown(socket.SHUT_WR)\n\
         assert s.recv(1) == b''\n\
         s.close()",
        "{host}",
        "{port}",
    ];
    let upstream = mock.addr().to_string();
    let rec = record(Protocol::Echo, &upstream, &command);
    assert!(
        rec.yaml
            .contains("  - client: { repeat: \"0123456789abcdef\", times: 4096 }\n"),
        "{}",
        rec.yaml
    );
    assert!(
        rec.yaml.contains("  - close: client\n  - close: server\n"),
        "{}",
        rec.yaml
    );
    assert_plays_back_both_ways(&rec, Protocol::Echo, &upstream, &command);
    rt.block_on(mock.shutdown());
}

fn recording_a_server_with_bare_lf_replies_prints_f_rpl_5_as_it_goes() {
    let rt = runtime();
    let faults = parley::scenario::plan::Faults {
        bare_lf: true,
        ..Default::default()
    };
    let mock = rt
        .block_on(parley_mock::MockServer::ftp(parley::engine::mocks::ftp_config(
            &faults,
        )))
        .expect("the FTP mock starts");
    let command = ["python3", "-c", FTPLIB_PASSIVE, "{host}", "{port}"];
    let rec = record(Protocol::Ftp, &mock.addr().to_string(), &command);
    let live = rec.live.join("\n");
    assert!(
        live.contains("[#1] S> \"220 ") && live.contains("[#1]    F-RPL-5 warning (RFC 959 §4.2)"),
        "{live}"
    );
    let f = rec
        .recording
        .conversation
        .findings
        .iter()
        .find(|f| f.rule == "F-RPL-5")
        .expect("an F-RPL-5 finding");
    assert_eq!(f.sent_by, Some(Party::Server));
    // The data connection of the listing went through the relay too.
    assert!(live.contains("[#1 data] S> "), "{live}");
    rt.block_on(mock.shutdown());
}

fn recording_a_response_shorter_than_its_content_length_prints_h_len_2() {
    let rt = runtime();
    let server = rt.block_on(parley_tests::serve_once(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = s
            .write_all(
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\nHello, world!\n",
            )
            .await;
        let _ = s.shutdown().await;
    }));
    let command = [
        "curl",
        "-s",
        "--max-time",
        "10",
        "--http1.0",
        "http://{host}:{port}/hello.txt",
    ];
    let rec = record(Protocol::Http, &server.to_string(), &command);
    let live = rec.live.join("\n");
    assert!(live.contains("H-LEN-2 error"), "{live}");
    assert!(live.contains("got 14 of 20 body bytes"), "{live}");
}

// ---------------------------------------------------------------------------------------
// Transparency: what client and server see, with and without the relay.

/// `f`, or a failed test when it takes longer than [`DEADLINE`].
async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(DEADLINE, f)
        .await
        .expect("the scripted conversation ends within its deadline")
}

/// What one side of the scripted FTP conversation received.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    control: Vec<u8>,
    data: Vec<Vec<u8>>,
}

const LISTING: &[u8] =
    b"-rw-r--r-- 1 ftp ftp 265 Jan 01  2024 readme.txt\r\ndrwxr-xr-x 2 ftp ftp 4096 Jan 01  2024 pub\r\n";

fn upload() -> Vec<u8> {
    (0..70_000u32).map(|i| (i % 251) as u8).collect()
}

/// Reads one line (through LF) into `seen`, and returns it.
async fn line(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, seen: &mut Vec<u8>) -> String {
    let mut l = Vec::new();
    r.read_until(b'\n', &mut l).await.unwrap();
    seen.extend_from_slice(&l);
    String::from_utf8_lossy(&l).into_owned()
}

/// The address of a `PORT h1,h2,h3,h4,p1,p2` line or a `227 (...)` reply.
fn six_numbers(text: &str) -> SocketAddr {
    let addr =
        parley::proto::ftp::addr::find_pasv_numbers(text).unwrap_or_else(|| panic!("no address in {text:?}"));
    SocketAddr::V4(addr)
}

/// A scripted FTP server: a passive LIST, an active STOR, QUIT. Returns what it received.
async fn scripted_server(listener: TcpListener) -> Seen {
    let mut seen = Seen::default();
    let (control, _) = listener.accept().await.unwrap();
    let local = control.local_addr().unwrap();
    let (r, mut w) = control.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 scripted server ready\r\n").await.unwrap();
    assert!(line(&mut r, &mut seen.control).await.starts_with("PASV"));
    let data_listener = TcpListener::bind((local.ip(), 0)).await.unwrap();
    let SocketAddr::V4(at) = data_listener.local_addr().unwrap() else {
        unreachable!()
    };
    let reply = format!(
        "227 Entering Passive Mode ({}).\r\n",
        parley::proto::ftp::addr::addr_to_port_args(at)
    );
    w.write_all(reply.as_bytes()).await.unwrap();
    assert!(line(&mut r, &mut seen.control).await.starts_with("LIST"));
    let (mut d1, _) = data_listener.accept().await.unwrap();
    w.write_all(b"150 Here comes the listing.\r\n").await.unwrap();
    // In two writes: the relay forwards what comes as it comes.
    d1.write_all(&LISTING[..20]).await.unwrap();
    d1.write_all(&LISTING[20..]).await.unwrap();
    d1.shutdown().await.unwrap();
    let mut got = Vec::new();
    d1.read_to_end(&mut got).await.unwrap();
    seen.data.push(got);
    w.write_all(b"226 Transfer complete.\r\n").await.unwrap();
    let port = line(&mut r, &mut seen.control).await;
    let target = six_numbers(&port);
    w.write_all(b"200 PORT command successful.\r\n").await.unwrap();
    assert!(line(&mut r, &mut seen.control).await.starts_with("STOR"));
    let mut d2 = TcpStream::connect(target).await.unwrap();
    w.write_all(b"150 Ok to send data.\r\n").await.unwrap();
    let mut got = Vec::new();
    d2.read_to_end(&mut got).await.unwrap();
    seen.data.push(got);
    drop(d2);
    w.write_all(b"226 Transfer complete.\r\n").await.unwrap();
    assert!(line(&mut r, &mut seen.control).await.starts_with("QUIT"));
    w.write_all(b"221 Goodbye.\r\n").await.unwrap();
    w.shutdown().await.unwrap();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).await.unwrap();
    seen.control.extend_from_slice(&rest);
    seen
}

/// The scripted client of the same conversation, connecting to `addr`. Returns what it
/// received.
async fn scripted_client(addr: SocketAddr) -> Seen {
    let mut seen = Seen::default();
    let control = TcpStream::connect(addr).await.unwrap();
    let local = control.local_addr().unwrap();
    let (r, mut w) = control.into_split();
    let mut r = BufReader::new(r);
    assert!(line(&mut r, &mut seen.control).await.starts_with("220"));
    w.write_all(b"PASV\r\n").await.unwrap();
    let pasv = line(&mut r, &mut seen.control).await;
    let mut d1 = TcpStream::connect(six_numbers(&pasv)).await.unwrap();
    w.write_all(b"LIST\r\n").await.unwrap();
    assert!(line(&mut r, &mut seen.control).await.starts_with("150"));
    let mut got = Vec::new();
    d1.read_to_end(&mut got).await.unwrap();
    drop(d1);
    seen.data.push(got);
    assert!(line(&mut r, &mut seen.control).await.starts_with("226"));
    let data_listener = TcpListener::bind((local.ip(), 0)).await.unwrap();
    let SocketAddr::V4(at) = data_listener.local_addr().unwrap() else {
        unreachable!()
    };
    let port = format!("PORT {}\r\n", parley::proto::ftp::addr::addr_to_port_args(at));
    w.write_all(port.as_bytes()).await.unwrap();
    assert!(line(&mut r, &mut seen.control).await.starts_with("200"));
    w.write_all(b"STOR up.bin\r\n").await.unwrap();
    let (mut d2, _) = data_listener.accept().await.unwrap();
    assert!(line(&mut r, &mut seen.control).await.starts_with("150"));
    d2.write_all(&upload()).await.unwrap();
    d2.shutdown().await.unwrap();
    let mut got = Vec::new();
    d2.read_to_end(&mut got).await.unwrap();
    seen.data.push(got);
    assert!(line(&mut r, &mut seen.control).await.starts_with("226"));
    w.write_all(b"QUIT\r\n").await.unwrap();
    assert!(line(&mut r, &mut seen.control).await.starts_with("221"));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).await.unwrap();
    seen.control.extend_from_slice(&rest);
    w.shutdown().await.unwrap();
    seen
}

/// `seen`'s control bytes with the six numbers of PORT and 227 lines replaced (the
/// addresses are new in every run, relay or not).
fn without_addresses(seen: &Seen) -> String {
    String::from_utf8_lossy(&seen.control)
        .split_inclusive('\n')
        .map(|l| match parley::proto::ftp::addr::find_pasv_span(l) {
            Some((range, _)) if l.starts_with("PORT") || l.starts_with("227") => {
                format!("{}ADDR{}", &l[..range.start], &l[range.end..])
            }
            _ => l.to_string(),
        })
        .collect()
}

fn neither_client_nor_server_sees_a_difference_with_the_relay_between_them() {
    let rt = runtime();
    rt.block_on(async {
        // Without the relay.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(scripted_server(listener));
        let direct_client = within(scripted_client(addr)).await;
        let direct_server = within(server).await.unwrap();

        // With the relay between them.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = listener.local_addr().unwrap();
        let server = tokio::spawn(scripted_server(listener));
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let relay = Relay::new(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            RelayOptions::new(Protocol::Ftp, upstream.to_string(), Mode::Single),
            tx,
        )
        .unwrap();
        let relay_addr = relay.local_addr().unwrap();
        let stop = parley_mock::CancellationToken::new();
        let recording = tokio::spawn(relay.record_one(None, stop));
        let relayed_client = within(scripted_client(relay_addr)).await;
        let relayed_server = within(server).await.unwrap();
        let conversation = within(recording).await.unwrap();

        assert_eq!(
            without_addresses(&relayed_server),
            without_addresses(&direct_server)
        );
        assert_eq!(
            without_addresses(&relayed_client),
            without_addresses(&direct_client)
        );
        assert_eq!(relayed_client.data, direct_client.data);
        assert_eq!(relayed_server.data, direct_server.data);
        assert_eq!(relayed_client.data[0], LISTING);
        assert_eq!(relayed_server.data[1], upload());

        // The addresses were rewritten: each side was sent to the relay, not to the other.
        let pasv = String::from_utf8_lossy(&relayed_client.control).into_owned();
        let pasv_line = pasv.lines().find(|l| l.starts_with("227")).unwrap();
        assert_ne!(six_numbers(pasv_line).port(), upstream.port());
        // And both data connections are in the transcript, with what they carried.
        let carried = |conn: &str, from: Party| -> Vec<u8> {
            conversation
                .transcript
                .events
                .iter()
                .filter(|e| e.conn == conn)
                .filter_map(|e| match &e.kind {
                    EventKind::Data { from: f, bytes } if *f == from => Some(bytes.clone()),
                    _ => None,
                })
                .flatten()
                .collect()
        };
        assert_eq!(carried("data", Party::Server), LISTING);
        assert_eq!(carried("data2", Party::Client), upload());
    });
}

fn the_relay_forwards_bytes_as_they_come_not_whole_messages() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = listener.local_addr().unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let relay = Relay::new(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            RelayOptions::new(Protocol::Ftp, upstream.to_string(), Mode::Single),
            tx,
        )
        .unwrap();
        let relay_addr = relay.local_addr().unwrap();
        let stop = parley_mock::CancellationToken::new();
        let recording = tokio::spawn(relay.record_one(None, stop.clone()));
        let mut client = TcpStream::connect(relay_addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        // Half a multi-line reply reaches the client before the rest is written ...
        server.write_all(b"220-first line\r\n").await.unwrap();
        let mut got = [0u8; 16];
        within(client.read_exact(&mut got)).await.unwrap();
        assert_eq!(&got, b"220-first line\r\n");
        // ... and half a command reaches the server before its line ends.
        client.write_all(b"NOO").await.unwrap();
        let mut got = [0u8; 3];
        within(server.read_exact(&mut got)).await.unwrap();
        assert_eq!(&got, b"NOO");
        drop(client);
        drop(server);
        within(recording).await.unwrap();
    });
}
