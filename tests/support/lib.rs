//! Shared helpers for parley's integration tests: where the repository is, how transcripts
//! are snapshotted, and how tests find real peers (vsftpd, nginx, curl, ...).

pub mod matrix;
pub mod peers;
pub mod trials;

use std::path::{Path, PathBuf};

use parley::outcome::{Event, EventKind, Party, Transcript};
use parley::report::transcript;

/// The repository root (the workspace directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `scenarios/` of the repository.
pub fn scenarios_dir() -> PathBuf {
    root().join("scenarios")
}

/// `fixtures/` of the repository.
pub fn fixtures_dir() -> PathBuf {
    root().join("fixtures")
}

/// The insta settings every transcript snapshot uses: snapshots in `tests/snapshots/`,
/// and filters for what legitimately varies between runs (ports, PORT/PASV arguments,
/// dates, server versions).
pub fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("tests/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    for (pattern, replacement) in SNAPSHOT_FILTERS {
        s.add_filter(pattern, *replacement);
    }
    // Absolute paths of this checkout differ between machines.
    let root = root().display().to_string();
    s.add_filter(&regex_escape(&format!("{root}/")), "");
    s
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The transcript text a snapshot holds, for a play where parley was `parley`: the lines
/// of [`parley::report::transcript::for_snapshot`], except that what the peer did on
/// different connections between two of parley's own events is put in a fixed order —
/// connection by connection, in the order the connections first appear, each one's events
/// in their own order. The order in which two sockets' bytes arrive is a race (an FTP
/// server's 226 on `main` against the end of its data connection, or against parley's
/// own opening of a passive data connection), and a snapshot must not depend on it.
/// parley's data, closes and listens are fixed points: the peer's events after one are
/// its answer to it. parley's opens are not: it opens a passive data connection while
/// the server is already answering the transfer command.
pub fn snapshot_text(t: &Transcript, parley: Party) -> String {
    let mut rank: Vec<&str> = Vec::new();
    for e in &t.events {
        if !rank.contains(&e.conn.as_str()) {
            rank.push(&e.conn);
        }
    }
    let position = |conn: &str| rank.iter().position(|c| *c == conn).unwrap_or(usize::MAX);
    let fixed = |e: &Event| match &e.kind {
        EventKind::Data { from, .. } | EventKind::Omitted { from, .. } => *from == parley,
        EventKind::Close { by } | EventKind::Listen { by, .. } => *by == parley,
        EventKind::Open { .. } | EventKind::Error { .. } => false,
    };
    let mut ordered: Vec<Event> = Vec::with_capacity(t.events.len());
    let mut floating: Vec<Event> = Vec::new();
    let flush = |floating: &mut Vec<Event>, ordered: &mut Vec<Event>| {
        floating.sort_by_key(|e| position(&e.conn));
        for e in floating.drain(..) {
            // Data going the same way on the same connection reads as one piece.
            if let (
                Some(Event {
                    conn,
                    kind: EventKind::Data { from, bytes },
                    ..
                }),
                EventKind::Data { from: f, bytes: b },
            ) = (ordered.last_mut(), &e.kind)
            {
                if *conn == e.conn && from == f {
                    bytes.extend_from_slice(b);
                    continue;
                }
            }
            ordered.push(e);
        }
    };
    for e in &t.events {
        if fixed(e) {
            flush(&mut floating, &mut ordered);
            ordered.push(e.clone());
        } else {
            floating.push(e.clone());
        }
    }
    flush(&mut floating, &mut ordered);
    transcript::for_snapshot(&Transcript { events: ordered })
}

/// Regex → replacement pairs applied to snapshot text.
pub const SNAPSHOT_FILTERS: &[(&str, &str)] = &[
    // Addresses with ports: 127.0.0.1:40123
    (r"(\d+\.\d+\.\d+\.\d+):\d{2,5}", "$1:[port]"),
    // FTP PORT / 227 arguments: 127,0,0,1,155,171
    (
        r"\b(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),\d{1,3},\d{1,3}\b",
        "$1,$2,$3,$4,[p1],[p2]",
    ),
    // EPRT / 229: |1|127.0.0.1|39851| and (|||39851|)
    (r"\|(\d?)\|([^|]*)\|\d+\|", "|$1|$2|[port]|"),
    // HTTP dates
    (r"(?i)(date|last-modified|expires): [^\\]*\\r", "$1: [date]\\r"),
    (
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT",
        "[date]",
    ),
    // Server versions
    (r"(?i)server: [^\\]*\\r", "Server: [server]\\r"),
    // Host headers carry the port
    (r"(?i)(host|origin): ([^\\:]*):\d+", "$1: $2:[port]"),
    // `ls -l` dates in FTP listings: `Jan 01  2024` (older files), `Nov 25 09:35` (recent)
    (
        r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} +(\d{1,2}:\d\d|\d{4})\b",
        "[date]",
    ),
];

/// Whether CI requires real peers (`PARLEY_REQUIRE_PEERS=1`): then a missing peer fails
/// the test instead of being reported as ignored (see [`trials`]).
pub fn peers_required() -> bool {
    std::env::var("PARLEY_REQUIRE_PEERS").is_ok_and(|v| v == "1" || v == "true")
}

/// Finds a program on `PATH` (or at an absolute path). Only `PATH`: a test that removes
/// a peer from `PATH` sees it missing.
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A scenario of `scenarios/` by its path there (`echo/basic.yaml`); panics with the
/// rendered diagnostic when it does not load.
pub fn bundled(path: &str) -> parley::scenario::Scenario {
    parley::scenario::load(&scenarios_dir().join(path)).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// A scenario written in the test, loaded from a scratch file.
pub fn inline(yaml: &str) -> parley::scenario::Scenario {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let path = dir.path().join("inline.yaml");
    std::fs::write(&path, yaml).expect("the scratch file is written");
    parley::scenario::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// A two-worker runtime for tests that block on the engine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The human report of one outcome (status line, findings, transcript tail), for
/// assertion messages.
pub fn describe(o: &parley::outcome::Outcome) -> String {
    render(o, false)
}

/// Like [`describe`], with the warnings and notes of a passing outcome too.
pub fn describe_verbose(o: &parley::outcome::Outcome) -> String {
    render(o, true)
}

fn render(o: &parley::outcome::Outcome, verbose: bool) -> String {
    let opts = parley::report::human::HumanOptions {
        verbose,
        ..Default::default()
    };
    format!(
        "{}{}",
        parley::report::human::status_line(o, &opts),
        parley::report::human::details(o, &opts)
    )
}

/// A server on a free loopback port that runs `behave` on its first connection.
pub async fn serve_once<F, Fut>(behave: F) -> std::net::SocketAddr
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            behave(stream).await;
        }
    });
    addr
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ev(conn: &str, kind: EventKind) -> Event {
        Event {
            at: Duration::ZERO,
            conn: conn.to_string(),
            kind,
        }
    }

    fn data(conn: &str, from: Party, bytes: &[u8]) -> Event {
        ev(
            conn,
            EventKind::Data {
                from,
                bytes: bytes.to_vec(),
            },
        )
    }

    #[test]
    fn snapshots_do_not_depend_on_which_socket_the_peer_was_read_from_first() {
        let open = |by| {
            ev(
                "data",
                EventKind::Open {
                    by,
                    client: "c".into(),
                    server: "s".into(),
                },
            )
        };
        let orders = [
            vec![
                data("main", Party::Client, b"LIST\r\n"),
                open(Party::Client),
                data("main", Party::Server, b"150 x\r\n"),
                data("data", Party::Server, b"listing"),
                ev("data", EventKind::Close { by: Party::Server }),
                data("main", Party::Server, b"226 y\r\n"),
                data("main", Party::Client, b"QUIT\r\n"),
            ],
            vec![
                data("main", Party::Client, b"LIST\r\n"),
                data("main", Party::Server, b"150 x\r\n"),
                open(Party::Client),
                data("data", Party::Server, b"listing"),
                data("main", Party::Server, b"226 y\r\n"),
                ev("data", EventKind::Close { by: Party::Server }),
                data("main", Party::Client, b"QUIT\r\n"),
            ],
        ];
        let texts: Vec<String> = orders
            .into_iter()
            .map(|events| snapshot_text(&Transcript { events }, Party::Client))
            .collect();
        assert_eq!(texts[0], texts[1]);
        assert_eq!(
            texts[0],
            "[main] C> \"LIST\\r\\n\"\n[main] S> \"150 x\\r\\n226 y\\r\\n\"\n[data] client opens c -> s\n\
             [data] S> \"listing\"\n[data] server closes\n[main] C> \"QUIT\\r\\n\"\n"
        );
    }
}
