//! `parley serve`: a bundled mock server in the foreground for students to develop
//! against, behind a relay that reports every message and the findings parley's checker
//! makes about it, as they happen.
//!
//! The mock listens on a private loopback port; the relay listens where the user asked
//! and copies bytes both ways, feeding each direction to the protocol's inspector (the
//! same sans-I/O checker `run` and `grade` use). FTP data connections go directly between
//! the client and the mock (the addresses in PASV/PORT are theirs); the control
//! connection is what is shown. Nothing here prints: events go to a channel.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parley_mock::MockServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::finding::Finding;
use crate::outcome::Party;
use crate::proto::{Dir, Frame, Inspector, MAIN, Protocol};
use crate::rules::Profile;
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

/// What happens on the relay.
#[derive(Debug, Clone)]
pub enum ServeEvent {
    /// The relay listens at `addr`.
    Listening {
        /// Where clients connect.
        addr: SocketAddr,
    },
    /// Client number `id` connected from `peer`.
    Connected {
        /// Connection number.
        id: u64,
        /// The client's address.
        peer: SocketAddr,
    },
    /// A whole message went by.
    Message {
        /// Connection number.
        id: u64,
        /// Who sent it.
        from: Party,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// parley's checker found something about the last message.
    Finding {
        /// Connection number.
        id: u64,
        /// What.
        finding: Finding,
    },
    /// A side closed the connection.
    Closed {
        /// Connection number.
        id: u64,
        /// Who closed first.
        by: Party,
    },
}

/// Runs the mock for `protocol` with `faults`, and the relay on `127.0.0.1:port`, until
/// `shutdown` is cancelled. Events go to `events`.
pub async fn serve(
    protocol: Protocol,
    port: u16,
    faults: Faults,
    events: UnboundedSender<ServeEvent>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mock = match protocol {
        Protocol::Echo => {
            MockServer::echo(parley_mock::echo::EchoConfig {
                faults: crate::engine::mocks::mock_faults(&faults),
                ..Default::default()
            })
            .await?
        }
        Protocol::Http => MockServer::http(crate::engine::mocks::http_config(&faults)).await?,
        Protocol::Ftp => MockServer::ftp(crate::engine::mocks::ftp_config(&faults)).await?,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let _ = events.send(ServeEvent::Listening {
        addr: listener.local_addr()?,
    });
    let upstream = mock.addr();
    let mut next_id = 0u64;
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((client, peer)) = accepted else { continue };
                next_id += 1;
                let id = next_id;
                let events = events.clone();
                let stop = shutdown.child_token();
                tracker.spawn(async move {
                    let _ = events.send(ServeEvent::Connected { id, peer });
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(id, protocol, client, server, events, stop).await;
                    }
                });
            }
        }
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
    mock.shutdown().await;
    Ok(())
}

/// Copies one direction, framing and judging what passes.
async fn pump(
    id: u64,
    from: Party,
    mut read: tokio::net::tcp::OwnedReadHalf,
    mut write: tokio::net::tcp::OwnedWriteHalf,
    inspector: Arc<Mutex<Box<dyn Inspector>>>,
    events: UnboundedSender<ServeEvent>,
) -> Party {
    let dir = match from {
        Party::Client => Dir::ToServer,
        Party::Server => Dir::ToClient,
    };
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match read.read(&mut chunk).await {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        let eof = n == 0;
        buf.extend_from_slice(&chunk[..n]);
        // Report every whole message buffered so far — before forwarding, so an answer
        // is never reported before what it answers.

        loop {
            let mut inspector = inspector.lock().unwrap_or_else(|p| p.into_inner());
            let Frame::Complete(len) = inspector.frame(dir, MAIN, &buf, eof) else {
                break;
            };
            if len == 0 {
                break;
            }
            let msg: Vec<u8> = buf.drain(..len.min(buf.len())).collect();
            let mut found = Vec::new();
            inspector.inspect(dir, MAIN, &msg, &mut found);
            drop(inspector);
            let _ = events.send(ServeEvent::Message { id, from, bytes: msg });
            for finding in found {
                let _ = events.send(ServeEvent::Finding { id, finding });
            }
        }
        if eof {
            // Bytes after the last whole message: the protocol may say which rule they
            // break (HTTP: a Content-Length too small, a body without one).
            if !buf.is_empty() {
                let mut inspector = inspector.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(crate::proto::Verdict { rule, why, .. }) = inspector.trailing(dir, MAIN, &buf) {
                    let finding = Finding::in_profile(
                        rule,
                        Profile::Http10,
                        format!("{} bytes followed the last message: {why}", buf.len()),
                    )
                    .actual(&buf);
                    let _ = events.send(ServeEvent::Finding { id, finding });
                }
            }
            let _ = write.shutdown().await;
            return from;
        }
        if write.write_all(&chunk[..n]).await.is_err() {
            return from;
        }
    }
}

async fn relay(
    id: u64,
    protocol: Protocol,
    client: TcpStream,
    server: TcpStream,
    events: UnboundedSender<ServeEvent>,
    stop: CancellationToken,
) {
    let inspector: Arc<Mutex<Box<dyn Inspector>>> = Arc::new(Mutex::new(protocol.inspector(Profile::Http10)));
    if let (Ok(local), Ok(peer)) = (client.local_addr(), client.peer_addr()) {
        let mut i = inspector.lock().unwrap_or_else(|p| p.into_inner());
        i.target(&local.ip().to_string(), local.port());
        let _ = peer;
    }
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let mut up = tokio::spawn(pump(
        id,
        Party::Client,
        client_read,
        server_write,
        Arc::clone(&inspector),
        events.clone(),
    ));
    let mut down = tokio::spawn(pump(
        id,
        Party::Server,
        server_read,
        client_write,
        Arc::clone(&inspector),
        events.clone(),
    ));
    // Which direction ended first says who closed; the other gets a moment to finish
    // what is in flight.
    let (first, mut other) = tokio::select! {
        r = &mut up => (r.ok(), down),
        r = &mut down => (r.ok(), up),
        _ = stop.cancelled() => {
            up.abort();
            down.abort();
            return;
        }
    };
    if let Some(by) = first {
        let _ = events.send(ServeEvent::Closed { id, by });
    }
    if tokio::time::timeout(Duration::from_secs(5), &mut other)
        .await
        .is_err()
    {
        other.abort();
    }
    // Verdicts that waited for what followed a message (`Inspector::finish`).
    let mut late = Vec::new();
    {
        let mut i = inspector.lock().unwrap_or_else(|p| p.into_inner());
        i.finish(Dir::ToServer, &mut late);
        i.finish(Dir::ToClient, &mut late);
    }
    for finding in late {
        let _ = events.send(ServeEvent::Finding { id, finding });
    }
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

    #[tokio::test]
    async fn the_relay_reports_what_passes_and_echoes_it() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(Protocol::Echo, 0, Faults::default(), tx, stop.clone()));
        let Some(ServeEvent::Listening { addr }) = rx.recv().await else {
            panic!("no listening event")
        };
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"hi there\r\n").await.unwrap();
        let mut back = [0u8; 10];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hi there\r\n");
        drop(c);
        let mut seen = Vec::new();
        while let Some(e) = rx.recv().await {
            let closed = matches!(e, ServeEvent::Closed { .. });
            seen.push(e);
            if closed {
                break;
            }
        }
        assert!(matches!(seen[0], ServeEvent::Connected { id: 1, .. }));
        assert!(seen.iter().any(|e| matches!(e, ServeEvent::Message { from: Party::Client, bytes, .. } if bytes == b"hi there\r\n")));
        assert!(seen.iter().any(|e| matches!(e, ServeEvent::Message { from: Party::Server, bytes, .. } if bytes == b"hi there\r\n")));
        stop.cancel();
        server.await.unwrap().unwrap();
    }
}
