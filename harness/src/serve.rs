//! `parley serve`: a bundled mock server in the foreground for students to develop
//! against, behind the engine's relay ([`crate::engine::relay`]), which reports every
//! message and the findings parley's checker makes about it, as they happen.
//!
//! The mock listens on a private loopback port; the relay listens where the user asked.
//! FTP data connections pass through the relay too (it rewrites the addresses in
//! PORT/EPRT and 227/229), so they are shown like the control connection. The HTTP mock
//! reports the relay's address as the one the client used. Nothing here prints: events go
//! to a channel and `report::live` renders them.

use parley_mock::MockServer;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

pub use crate::engine::relay::RelayEvent;
use crate::engine::relay::{Mode, Relay, RelayOptions};
use crate::proto::Protocol;
use crate::scenario::plan::Faults;

/// A named fault for `--fault`: what it sets and which protocol it is for.
#[derive(Debug, Clone, Copy)]
pub struct FaultPreset {
    /// The name on the command line.
    pub name: &'static str,
    /// The protocol it applies to, `None` for all.
    pub protocol: Option<Protocol>,
    /// What it does.
    pub help: &'static str,
    /// The scenario `faults:` knobs it sets, as a YAML flow mapping: the one source of
    /// what the name means (docs/scenarios.md's table is checked against it).
    pub knobs: &'static str,
}

/// Every `--fault` name.
pub const FAULTS: &[FaultPreset] = &[
    FaultPreset {
        name: "byte-at-a-time",
        protocol: None,
        help: "every reply is written one byte per write",
        knobs: "{ split_writes: 1 }",
    },
    FaultPreset {
        name: "split",
        protocol: None,
        help: "replies are written in 16-byte pieces 100 ms apart",
        knobs: "{ split_writes: 16, write_delay: 100ms }",
    },
    FaultPreset {
        name: "slow",
        protocol: None,
        help: "every reply comes 500 ms late",
        knobs: "{ reply_delay: 500ms }",
    },
    FaultPreset {
        name: "no-content-length",
        protocol: Some(Protocol::Http),
        help: "bodies without Content-Length, ended by the close",
        knobs: "{ no_content_length: true }",
    },
    FaultPreset {
        name: "close-delay",
        protocol: Some(Protocol::Http),
        help: "the server waits 1 s after a response before closing",
        knobs: "{ close_delay: 1s }",
    },
    FaultPreset {
        name: "multiline-greeting",
        protocol: Some(Protocol::Ftp),
        help: "the 220 greeting is a multi-line reply",
        knobs: "{ multiline_greeting: true }",
    },
    FaultPreset {
        name: "bare-lf",
        protocol: Some(Protocol::Ftp),
        help: "reply lines end in LF, not CRLF",
        knobs: "{ bare_lf: true }",
    },
    FaultPreset {
        name: "delay-226",
        protocol: Some(Protocol::Ftp),
        help: "the 226 after a transfer comes 1 s late",
        knobs: "{ transfer_delay: 1s }",
    },
    FaultPreset {
        name: "refuse-data",
        protocol: Some(Protocol::Ftp),
        help: "data connections are never opened (425)",
        knobs: "{ refuse_data: true }",
    },
];

/// Turns `--fault` names into knobs (each preset's [`FaultPreset::knobs`], checked as
/// a scenario's `faults:` would be; a later name wins on a knob two of them set); an
/// unknown or unfitting name is an error that lists the allowed ones.
pub fn faults(protocol: Protocol, names: &[String]) -> Result<Faults, String> {
    let allowed: Vec<&FaultPreset> = FAULTS
        .iter()
        .filter(|p| p.protocol.is_none_or(|pr| pr == protocol))
        .collect();
    let mut knobs = Vec::new();
    for name in names {
        let Some(preset) = allowed.iter().find(|p| p.name == name.as_str()) else {
            let names: Vec<&str> = allowed.iter().map(|p| p.name).collect();
            return Err(format!(
                "unknown fault `{name}` for {protocol}; choose from: {}",
                names.join(", ")
            ));
        };
        knobs.push(preset.knobs);
    }
    crate::scenario::plan::faults_from_yaml(protocol, &knobs)
}

/// Runs the mock for `protocol` with `faults`, and the engine's relay in front of it on
/// `127.0.0.1:port`, until `shutdown` is cancelled. Every client connection is a
/// conversation of its own; events go to `events` (the first is [`RelayEvent::Ready`]).
pub async fn serve(
    protocol: Protocol,
    port: u16,
    faults: Faults,
    events: UnboundedSender<RelayEvent>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let public = listener.local_addr()?;
    let mock = match protocol {
        Protocol::Echo => {
            MockServer::echo(parley_mock::echo::EchoConfig {
                faults: crate::engine::mocks::mock_faults(&faults),
                ..Default::default()
            })
            .await?
        }
        Protocol::Http => {
            // A request without Host is told the address the client used, not the mock's.
            let config = parley_mock::http::HttpConfig {
                public_addr: Some(public),
                ..crate::engine::mocks::http_config(&faults)
            };
            MockServer::http(config).await?
        }
        Protocol::Ftp => MockServer::ftp(crate::engine::mocks::ftp_config(&faults)).await?,
    };
    let opts = RelayOptions::new(protocol, mock.addr().to_string(), Mode::PerConnection);
    let relay = Relay::new(listener, opts, events)?;
    relay.serve(shutdown).await;
    mock.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_are_checked_against_the_protocol() {
        assert!(
            faults(Protocol::Ftp, &["multiline-greeting".into()])
                .unwrap()
                .multiline_greeting
        );
        let err = faults(Protocol::Http, &["multiline-greeting".into()]).unwrap_err();
        assert!(
            err.contains("choose from: byte-at-a-time, split, slow, no-content-length, close-delay"),
            "{err}"
        );
    }

    /// Every preset's knobs are valid scenario `faults:` for each protocol it names, the
    /// knobs are what they say (split = 16-byte pieces 100 ms apart), and a later name
    /// wins on a knob two of them set.
    #[test]
    fn every_fault_name_stands_for_valid_scenario_knobs() {
        for p in FAULTS {
            for protocol in [Protocol::Echo, Protocol::Http, Protocol::Ftp] {
                if p.protocol.is_none_or(|pr| pr == protocol) {
                    let f = faults(protocol, &[p.name.into()]);
                    assert!(f.is_ok(), "{} for {protocol}: {f:?}", p.name);
                    assert_ne!(f.unwrap(), Faults::default(), "{} sets nothing", p.name);
                }
            }
        }
        let split = faults(Protocol::Echo, &["split".into()]).unwrap();
        assert_eq!(split.split_writes, std::num::NonZeroUsize::new(16));
        assert_eq!(split.write_delay, std::time::Duration::from_millis(100));
        let both = faults(Protocol::Echo, &["split".into(), "byte-at-a-time".into()]).unwrap();
        assert_eq!(both.split_writes, std::num::NonZeroUsize::new(1));
        assert_eq!(both.write_delay, std::time::Duration::from_millis(100));
        assert_eq!(
            faults(Protocol::Ftp, &["delay-226".into()])
                .unwrap()
                .transfer_delay,
            std::time::Duration::from_secs(1)
        );
    }

    /// docs/scenarios.md's table of `--fault` names gives each name with its knobs as
    /// they are here.
    #[test]
    fn the_fault_name_table_in_the_docs_is_the_presets() {
        let docs = include_str!("../../docs/scenarios.md");
        for p in FAULTS {
            let row = format!("| `{}` | `{}` |", p.name, p.knobs);
            assert!(docs.contains(&row), "docs/scenarios.md lacks the row {row}");
        }
    }

    use crate::outcome::{EventKind, Party};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;
    use tokio::sync::mpsc::UnboundedReceiver;

    /// Starts `serve` on a free port; its address and events.
    async fn start(
        protocol: Protocol,
    ) -> (
        std::net::SocketAddr,
        UnboundedReceiver<RelayEvent>,
        CancellationToken,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(protocol, 0, Faults::default(), tx, stop.clone()));
        let Some(RelayEvent::Ready { addr }) = rx.recv().await else {
            panic!("no ready event")
        };
        (addr, rx, stop, server)
    }

    /// Events until conversation `id` ends.
    async fn until_ended(rx: &mut UnboundedReceiver<RelayEvent>, id: u64) -> Vec<RelayEvent> {
        let mut seen = Vec::new();
        while let Some(e) = rx.recv().await {
            let over = matches!(e, RelayEvent::Ended { id: i } if i == id);
            seen.push(e);
            if over {
                break;
            }
        }
        seen
    }

    #[tokio::test]
    async fn the_relay_reports_what_passes_and_echoes_it() {
        let (addr, mut rx, stop, server) = start(Protocol::Echo).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"hi there\r\n").await.unwrap();
        let mut back = [0u8; 10];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hi there\r\n");
        drop(c);
        let seen = until_ended(&mut rx, 1).await;
        assert!(matches!(seen[0], RelayEvent::Started { id: 1, .. }));
        assert!(seen.iter().any(|e| matches!(e, RelayEvent::Message { from: Party::Client, bytes, .. } if bytes == b"hi there\r\n")));
        assert!(seen.iter().any(|e| matches!(e, RelayEvent::Message { from: Party::Server, bytes, .. } if bytes == b"hi there\r\n")));
        assert!(seen.iter().any(|e| matches!(
            e,
            RelayEvent::Event {
                kind: EventKind::Close { by: Party::Client },
                ..
            }
        )));
        stop.cancel();
        server.await.unwrap().unwrap();
    }

    /// Sends `line` and reads one reply line.
    async fn ask(c: &mut BufReader<TcpStream>, line: &str) -> String {
        if !line.is_empty() {
            c.get_mut().write_all(line.as_bytes()).await.unwrap();
        }
        let mut reply = String::new();
        c.read_line(&mut reply).await.unwrap();
        reply
    }

    #[tokio::test]
    async fn serve_ftp_shows_the_data_connection_of_a_passive_listing() {
        let (addr, mut rx, stop, server) = start(Protocol::Ftp).await;
        let mut c = BufReader::new(TcpStream::connect(addr).await.unwrap());
        assert!(ask(&mut c, "").await.starts_with("220"));
        assert!(ask(&mut c, "USER anonymous\r\n").await.starts_with("331"));
        assert!(ask(&mut c, "PASS guest@example.com\r\n").await.starts_with("230"));
        let pasv = ask(&mut c, "PASV\r\n").await;
        let data_addr = crate::proto::ftp::addr::find_pasv_numbers(&pasv).expect("227 numbers");
        // The client is sent to the relay, which listens on the address the client used.
        assert_eq!(data_addr.ip(), &std::net::Ipv4Addr::LOCALHOST);
        let mut data = TcpStream::connect(data_addr).await.unwrap();
        assert!(ask(&mut c, "LIST\r\n").await.starts_with("150"));
        let mut listing = Vec::new();
        data.read_to_end(&mut listing).await.unwrap();
        drop(data);
        assert!(String::from_utf8_lossy(&listing).contains("readme.txt"));
        assert!(ask(&mut c, "").await.starts_with("226"));
        assert!(ask(&mut c, "QUIT\r\n").await.starts_with("221"));
        drop(c);
        let seen = until_ended(&mut rx, 1).await;
        let on_data = |e: &RelayEvent| match e {
            RelayEvent::Event { conn, kind, .. } if conn == "data" => Some(kind.clone()),
            _ => None,
        };
        let kinds: Vec<EventKind> = seen.iter().filter_map(on_data).collect();
        assert!(
            matches!(
                kinds.first(),
                Some(EventKind::Listen {
                    by: Party::Server,
                    ..
                })
            ),
            "{kinds:?}"
        );
        assert!(
            kinds.iter().any(|k| matches!(
                k,
                EventKind::Open {
                    by: Party::Client,
                    ..
                }
            )),
            "{kinds:?}"
        );
        assert!(seen.iter().any(|e| matches!(e,
            RelayEvent::Message { conn, from: Party::Server, bytes, .. }
                if conn == "data" && String::from_utf8_lossy(bytes).contains("readme.txt"))));
        stop.cancel();
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn serve_http_tells_a_request_without_host_the_address_the_client_used() {
        let (addr, _rx, stop, server) = start(Protocol::Http).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /get HTTP/1.0\r\n\r\n").await.unwrap();
        let mut response = Vec::new();
        c.read_to_end(&mut response).await.unwrap();
        let text = String::from_utf8_lossy(&response);
        assert!(
            text.contains(&format!("\"url\": \"http://{addr}/get\"")),
            "{text}"
        );
        stop.cancel();
        server.await.unwrap().unwrap();
    }
}
