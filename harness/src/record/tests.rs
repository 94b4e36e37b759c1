//! The writer on hand-made transcripts: the file loads as a scenario, and says what a
//! person would have written.

use std::time::{Duration, SystemTime};

use super::*;
use crate::outcome::{Event, EventKind};
use crate::proto::MAIN;

fn ev(conn: &str, kind: EventKind) -> Event {
    Event {
        at: Duration::ZERO,
        conn: conn.to_string(),
        kind,
    }
}

fn data(conn: &str, from: Party, bytes: &str) -> Event {
    ev(
        conn,
        EventKind::Data {
            from,
            bytes: bytes.as_bytes().to_vec(),
        },
    )
}

fn open(conn: &str, by: Party) -> Event {
    ev(
        conn,
        EventKind::Open {
            by,
            client: "127.0.0.1:50000".into(),
            server: "127.0.0.1:2121".into(),
        },
    )
}

fn close(conn: &str, by: Party) -> Event {
    ev(conn, EventKind::Close { by })
}

fn listen(conn: &str, by: Party) -> Event {
    ev(
        conn,
        EventKind::Listen {
            by,
            addr: "127.0.0.1:50001".into(),
        },
    )
}

/// Writes the scenario for `events`, checks that it loads, and returns its text.
fn written(protocol: Protocol, events: Vec<Event>, exact: bool) -> String {
    written_for(protocol, events, exact, "client {host} {port}")
}

fn written_for(protocol: Protocol, events: Vec<Event>, exact: bool, template: &str) -> String {
    let transcript = Transcript { events };
    let src = Source {
        protocol,
        transcript: &transcript,
        findings: &[],
        upstream: "127.0.0.1:2121",
        relay: Some("127.0.0.1:40123".parse().unwrap()),
        client: Some("client 127.0.0.1 40123"),
        client_template: Some(template),
        exit_code: Some(0),
        recorded_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_633_600),
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rec.yaml");
    let out = write(
        &src,
        &WriteOptions {
            exact,
            file: Some(file.clone()),
            ..WriteOptions::default()
        },
    );
    std::fs::write(&file, &out.yaml).unwrap();
    for (name, bytes) in &out.files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    if let Err(e) = crate::scenario::load(&file) {
        panic!("{}\n{}", e.render(false), out.yaml);
    }
    out.yaml
}

fn ftp_active() -> Vec<Event> {
    vec![
        open(MAIN, Party::Client),
        data(MAIN, Party::Server, "220 (vsFTPd 3.0.3)\r\n"),
        data(MAIN, Party::Client, "USER anonymous\r\n"),
        data(MAIN, Party::Server, "331 Please specify the password.\r\n"),
        data(MAIN, Party::Client, "PASS anonymous@\r\n"),
        data(MAIN, Party::Server, "230 Login successful.\r\n"),
        data(MAIN, Party::Client, "TYPE A\r\n"),
        data(MAIN, Party::Server, "200 Switching to ASCII mode.\r\n"),
        listen("data", Party::Client),
        data(MAIN, Party::Client, "PORT 127,0,0,1,195,81\r\n"),
        data(
            MAIN,
            Party::Server,
            "200 PORT command successful. Consider using PASV.\r\n",
        ),
        data(MAIN, Party::Client, "LIST\r\n"),
        data(MAIN, Party::Server, "150 Here comes the directory listing.\r\n"),
        open("data", Party::Server),
        data(
            "data",
            Party::Server,
            "drwxr-xr-x    2 1000     1000         4096 Dec 01 10:00 pub\r\n-rw-r--r--    1 1000     1000          265 Dec 01 10:00 readme.txt\r\n",
        ),
        data(MAIN, Party::Server, "226 Directory send OK.\r\n"),
        close("data", Party::Server),
        close("data", Party::Client),
        data(MAIN, Party::Client, "QUIT\r\n"),
        data(MAIN, Party::Server, "221 Goodbye.\r\n"),
        close(MAIN, Party::Server),
        close(MAIN, Party::Client),
    ]
}

#[test]
fn an_active_ftp_listing_is_written_with_listen_port_args_and_the_servers_open() {
    let y = written(Protocol::Ftp, ftp_active(), false);
    let want = [
        "  - server: { code: 220, send: \"220 (vsFTPd 3.0.3)\\r\\n\" }",
        "  - client: \"USER anonymous\\r\\n\"",
        "  - server: \"331 Please specify the password.\\r\\n\"",
        "  - listen: data",
        "  - client: { command: PORT, send: \"PORT {{data.port_args}}\\r\\n\" }",
        "  - client: \"LIST\\r\\n\"\n  - open: { conn: data, by: server, to: \"{{port.addr}}\" }\n  - server: \"150 Here comes the directory listing.\\r\\n\"",
        "      contains: \"pub\"",
        "    on: data\n  - close: server\n    on: data\n  - server: \"226 Directory send OK.\\r\\n\"",
        "  - close: server\n  - close: client\n",
        "program:\n  exit: 0\n",
        "rec.yaml --target ftp=127.0.0.1:2121\n",
        "rec.yaml --no-variants -- client {host} {port}\n",
    ];
    for w in want {
        assert!(y.contains(w), "missing {w:?} in:\n{y}");
    }
    assert!(!y.contains("195,81"), "the client's port stays out:\n{y}");
    assert!(
        y.contains("name: \"FTP: USER, PASS, TYPE, PORT, LIST, QUIT (recorded)\""),
        "{y}"
    );
}

#[test]
fn a_passive_ftp_listing_is_written_with_the_servers_listen_and_pasv_addr() {
    let events = vec![
        open(MAIN, Party::Client),
        data(MAIN, Party::Server, "220 (vsFTPd 3.0.3)\r\n"),
        data(MAIN, Party::Client, "EPSV\r\n"),
        listen("data", Party::Server),
        data(
            MAIN,
            Party::Server,
            "229 Entering Extended Passive Mode (|||40001|)\r\n",
        ),
        open("data", Party::Client),
        data(MAIN, Party::Client, "PASV\r\n"),
        listen("data2", Party::Server),
        data(
            MAIN,
            Party::Server,
            "227 Entering Passive Mode (127,0,0,1,156,65).\r\n",
        ),
        data(MAIN, Party::Client, "LIST\r\n"),
        data(
            MAIN,
            Party::Server,
            "150 Here comes the directory listing.\r\n226 Directory send OK.\r\n",
        ),
        data("data", Party::Server, "readme.txt\r\n"),
        close("data", Party::Server),
        data(MAIN, Party::Client, "QUIT\r\n"),
    ];
    let y = written(Protocol::Ftp, events, false);
    let want = [
        "  - listen: { conn: data, by: server }\n  - server: { code: 229, send: \"229 Entering Extended Passive Mode (|||{{data.port}}|)\\r\\n\" }\n  - open: { conn: data, to: \"{{pasv.addr}}\" }",
        "  - server: { code: 227, send: \"227 Entering Passive Mode ({{data2.port_args}}).\\r\\n\" }",
        "  - server: \"readme.txt\\r\\n\"\n    on: data\n  - close: server\n    on: data\n  - server: \"226 Directory send OK.\\r\\n\"",
    ];
    for w in want {
        assert!(y.contains(w), "missing {w:?} in:\n{y}");
    }
}

#[test]
fn exact_keeps_every_byte_but_the_addresses() {
    let y = written(Protocol::Ftp, ftp_active(), true);
    assert!(
        y.contains("  - server: { exact: \"220 (vsFTPd 3.0.3)\\r\\n\" }"),
        "{y}"
    );
    assert!(
        y.contains("  - client: { exact: \"USER anonymous\\r\\n\" }"),
        "{y}"
    );
    assert!(y.contains("PORT {{data.port_args}}"), "{y}");
    assert!(y.contains("      exact: \"drwxr-xr-x"), "{y}");
}

#[test]
fn an_http_exchange_templates_host_and_date_and_matches_what_does_not_vary() {
    let events = vec![
        open(MAIN, Party::Client),
        data(
            MAIN,
            Party::Client,
            "GET /hello.txt HTTP/1.0\r\nHost: 127.0.0.1:40123\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
        ),
        data(
            MAIN,
            Party::Server,
            "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 01 Dec 2025 22:00:00 GMT\r\nContent-Type: text/plain\r\n\
             Content-Length: 14\r\nLast-Modified: Mon, 01 Dec 2025 21:00:00 GMT\r\nConnection: close\r\n\
             ETag: \"692e0b30-e\"\r\nAccept-Ranges: bytes\r\n\r\nHello, world!\n",
        ),
        close(MAIN, Party::Server),
        close(MAIN, Party::Client),
    ];
    let y = written(Protocol::Http, events, false);
    let want = [
        "  - client: \"GET /hello.txt HTTP/1.0\\r\\n\\\n      Host: {{authority}}\\r\\n\\\n",
        "      code: 200\n",
        "      headers:\n        Content-Type: \"text/plain\"\n        Content-Length: \"14\"\n        Connection: \"close\"\n        Accept-Ranges: \"bytes\"\n",
        "      body: \"Hello, world!\\n\"\n",
        "        Date: {{http_date}}\\r\\n\\\n",
        "        Last-Modified: Mon, 01 Dec 2025 21:00:00 GMT\\r\\n\\\n",
        "# Server, Date, Last-Modified, ETag vary from response to response",
    ];
    for w in want {
        assert!(y.contains(w), "missing {w:?} in:\n{y}");
    }
    assert!(!y.contains("40123\\r\\n"), "{y}");
    assert!(
        y.contains("name: \"HTTP: GET /hello.txt (200) (recorded)\""),
        "{y}"
    );
}

#[test]
fn an_echo_of_64_kib_is_a_repeat_and_every_connection_its_own() {
    let big = "0123456789abcdef".repeat(4096);
    let events = vec![
        open(MAIN, Party::Client),
        data(MAIN, Party::Client, &big[..30000]),
        data(MAIN, Party::Server, &big[..20000]),
        data(MAIN, Party::Client, &big[30000..]),
        data(MAIN, Party::Server, &big[20000..]),
        open("conn2", Party::Client),
        data("conn2", Party::Client, "hi\r\n"),
        data("conn2", Party::Server, "hi\r\n"),
        close("conn2", Party::Client),
        close("conn2", Party::Server),
        close(MAIN, Party::Client),
        close(MAIN, Party::Server),
    ];
    let y = written(Protocol::Echo, events, false);
    let want = [
        "  - client: { repeat: \"0123456789abcdef\", times: 4096 }\n  - server: { repeat: \"0123456789abcdef\", times: 4096 }\n",
        "  - open: conn2\n  - client: \"hi\\r\\n\"\n    on: conn2\n  - server: \"hi\\r\\n\"\n    on: conn2\n",
    ];
    for w in want {
        assert!(y.contains(w), "missing {w:?} in:\n{y}");
    }
}

#[test]
fn large_binary_data_goes_to_a_file_next_to_the_scenario() {
    let bin: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let events = vec![
        open(MAIN, Party::Client),
        ev(
            MAIN,
            EventKind::Data {
                from: Party::Client,
                bytes: b"\xff\xfe".to_vec(),
            },
        ),
        ev(
            MAIN,
            EventKind::Data {
                from: Party::Server,
                bytes: b"\xff\xfe".to_vec(),
            },
        ),
        ev(
            MAIN,
            EventKind::Data {
                from: Party::Client,
                bytes: bin.clone(),
            },
        ),
        ev(
            MAIN,
            EventKind::Data {
                from: Party::Server,
                bytes: bin,
            },
        ),
    ];
    let y = written(Protocol::Echo, events, false);
    assert!(y.contains("  - client: { base64: \"//4=\" }"), "{y}");
    assert!(y.contains("  - client: { file: \"rec.data/3.bin\" }"), "{y}");
}

#[test]
fn a_client_command_of_several_lines_stays_out_of_the_comments() {
    let events = vec![
        open(MAIN, Party::Client),
        data(MAIN, Party::Client, "hi\r\n"),
        data(MAIN, Party::Server, "hi\r\n"),
    ];
    let y = written_for(
        Protocol::Echo,
        events,
        false,
        "python3 -c 'import sys\nprint(1)' {host} {port}",
    );
    assert!(y.contains("--no-variants -- CLIENT {host} {port}\n"), "{y}");
}

#[test]
fn a_body_that_echoes_the_servers_address_names_it_with_authority() {
    let body = "{\"url\": \"http://127.0.0.1:40123/get\"}\n";
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let events = vec![
        open(MAIN, Party::Client),
        data(
            MAIN,
            Party::Client,
            "GET /get HTTP/1.0\r\nHost: 127.0.0.1:40123\r\n\r\n",
        ),
        data(MAIN, Party::Server, &response),
        close(MAIN, Party::Server),
    ];
    let y = written(Protocol::Http, events, false);
    assert!(
        y.contains("      body: \"{\\\"url\\\": \\\"http://{{authority}}/get\\\"}\\n\"\n"),
        "{y}"
    );
    // Its length follows the address: Content-Length is not matched.
    assert!(
        y.contains("      headers: { Content-Type: \"application/json\" }\n"),
        "{y}"
    );
}
