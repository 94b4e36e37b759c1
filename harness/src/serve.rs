//! `parley serve`: a bundled mock server in the foreground for students to develop
//! against, behind the engine's relay ([`crate::engine::relay`]), which reports every
//! message and the findings parley's checker makes about it, as they happen.
//!
//! The mock listens on a private loopback port; the relay listens where the user asked.
//! FTP data connections pass through the relay too (it rewrites the addresses in
//! PORT/EPRT and 227/229), so they are shown like the control connection. The HTTP mock
//! reports the relay's address as the one the client used. Nothing here prints: events go
//! to a channel and `report::live` renders them.

use std::time::Duration;

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
}

/// Every `--fault` name.
pub const FAULTS: &[FaultPreset] = &[
    FaultPreset {
        name: "byte-at-a-time",
        protocol: None,
        help: "every reply is written one byte per write",
    },
    FaultPreset {
        name: "split",
        protocol: None,
        help: "replies are written in 16-byte pieces 100 ms apart",
    },
    FaultPreset {
        name: "slow",
        protocol: None,
        help: "every reply comes 500 ms late",
    },
    FaultPreset {
        name: "no-content-length",
        protocol: Some(Protocol::Http),
        help: "bodies without Content-Length, ended by the close",
    },
    FaultPreset {
        name: "close-delay",
        protocol: Some(Protocol::Http),
        help: "the server waits 1 s after a response before closing",
    },
    FaultPreset {
        name: "multiline-greeting",
        protocol: Some(Protocol::Ftp),
        help: "the 220 greeting is a multi-line reply",
    },
    FaultPreset {
        name: "bare-lf",
        protocol: Some(Protocol::Ftp),
        help: "reply lines end in LF, not CRLF",
    },
    FaultPreset {
        name: "delay-226",
        protocol: Some(Protocol::Ftp),
        help: "the 226 after a transfer comes 1 s late",
    },
    FaultPreset {
        name: "refuse-data",
        protocol: Some(Protocol::Ftp),
        help: "data connections are never opened (425)",
    },
];

/// Turns `--fault` names into knobs; an unknown or unfitting name is an error that lists
/// the allowed ones.
pub fn faults(protocol: Protocol, names: &[String]) -> Result<Faults, String> {
    let mut f = Faults::default();
    for name in names {
        let allowed: Vec<&str> = FAULTS
            .iter()
            .filter(|p| p.protocol.is_none_or(|pr| pr == protocol))
            .map(|p| p.name)
            .collect();
        if !allowed.contains(&name.as_str()) {
            return Err(format!(
                "unknown fault `{name}` for {protocol}; choose from: {}",
                allowed.join(", ")
            ));
        }
        match name.as_str() {
            "byte-at-a-time" => f.split_writes = std::num::NonZeroUsize::new(1),
            "split" => {
                f.split_writes = std::num::NonZeroUsize::new(16);
                f.write_delay = Duration::from_millis(100);
            }
            "slow" => f.reply_delay = Duration::from_millis(500),
            "no-content-length" => f.no_content_length = true,
            "close-delay" => f.close_delay = Duration::from_secs(1),
            "multiline-greeting" => f.multiline_greeting = true,
            "bare-lf" => f.bare_lf = true,
            "delay-226" => f.transfer_delay = Duration::from_secs(1),
            "refuse-data" => f.refuse_data = true,
            _ => {}
        }
    }
    Ok(f)
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
