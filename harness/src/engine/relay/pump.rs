//! One relayed connection: two pumps, one per direction. A pump forwards what it reads as
//! soon as it has read it, after recording it and feeding it to the inspector — so an
//! answer is never recorded (or reported) before what it answers. On an FTP control
//! connection the lines that announce a data address are held until their end and
//! forwarded rewritten (`proto::ftp::rewrite`); everything else passes as it comes.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::{Conv, data, lock};
use crate::engine::conn::BUFFER_LIMIT;
use crate::finding::Finding;
use crate::outcome::{EventKind, Party};
use crate::proto::ftp::rewrite::{LineGate, Piece};
use crate::proto::{Dir, Frame, Protocol, Scan};

/// The four ends of an FTP control connection, for the data connections it announces.
#[derive(Debug, Clone, Copy)]
pub(super) struct Control {
    /// The client's end.
    pub client: SocketAddr,
    /// The relay's end facing the client (where the client's data connections go).
    pub client_side: SocketAddr,
    /// The relay's end facing the server (where the server's data connections go).
    pub server_side: SocketAddr,
    /// The server's end.
    pub server: SocketAddr,
}

fn dir_of(from: Party) -> Dir {
    match from {
        Party::Client => Dir::ToServer,
        Party::Server => Dir::ToClient,
    }
}

/// Relays `client` and `server` as connection `conn` until both directions have ended.
pub(super) async fn leg(conv: Arc<Conv>, conn: String, client: TcpStream, server: TcpStream, control: bool) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let ends = (
        client.peer_addr(),
        client.local_addr(),
        server.local_addr(),
        server.peer_addr(),
    );
    let control = match ends {
        (Ok(client), Ok(client_side), Ok(server_side), Ok(server))
            if control && conv.opts.protocol == Protocol::Ftp =>
        {
            Some(Control {
                client,
                client_side,
                server_side,
                server,
            })
        }
        _ => None,
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = Pump::new(Arc::clone(&conv), &conn, Party::Client, control);
    let down = Pump::new(conv, &conn, Party::Server, control);
    tokio::join!(
        up.run(client_read, server_write),
        down.run(server_read, client_write)
    );
}

/// One direction of one connection.
struct Pump {
    conv: Arc<Conv>,
    conn: String,
    from: Party,
    dir: Dir,
    /// Bytes not yet cut into a message.
    buf: Vec<u8>,
    /// Where framing `buf` stopped: the next look resumes there.
    scan: Scan,
    /// A whole message went this way already.
    framed_one: bool,
    /// More than [`BUFFER_LIMIT`] bytes without a whole message: no longer judged.
    overflow: bool,
    /// Bytes sent this way in all (the transcript keeps [`super::RelayOptions::keep_bytes`]).
    total: usize,
    /// The connection failed (a reset): it did not close.
    failed: bool,
    gate: Option<LineGate>,
    control: Option<Control>,
}

impl Pump {
    fn new(conv: Arc<Conv>, conn: &str, from: Party, control: Option<Control>) -> Pump {
        let dir = dir_of(from);
        Pump {
            conv,
            conn: conn.to_string(),
            from,
            dir,
            buf: Vec::new(),
            scan: Scan::default(),
            framed_one: false,
            overflow: false,
            total: 0,
            failed: false,
            gate: control.map(|_| LineGate::new(dir)),
            control,
        }
    }

    async fn run(mut self, mut read: OwnedReadHalf, mut write: OwnedWriteHalf) {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match read.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    self.failed = true;
                    self.conv.event(
                        &self.conn,
                        EventKind::Error {
                            message: e.to_string(),
                        },
                    );
                    break;
                }
            };
            let pieces = match &mut self.gate {
                Some(gate) => gate.push(&chunk[..n]),
                None => vec![Piece::Pass(chunk[..n].to_vec())],
            };
            for piece in pieces {
                let (sent, forwarded) = match piece {
                    Piece::Pass(bytes) => (bytes.clone(), bytes),
                    Piece::Line(line) => {
                        let forwarded = self.announce(&line).await;
                        (line, forwarded)
                    }
                };
                self.take(&sent);
                if write.write_all(&forwarded).await.is_err() {
                    // The receiver is gone; what the sender says next goes nowhere.
                    return;
                }
            }
        }
        // The sender closed (or the connection failed): what was held goes as it is.
        if let Some(rest) = self.gate.as_mut().map(LineGate::finish).filter(|r| !r.is_empty()) {
            self.take(&rest);
            let _ = write.write_all(&rest).await;
        }
        self.close();
        let _ = write.shutdown().await;
    }

    /// Records `bytes` as sent by this side, and reports every whole message they complete.
    fn take(&mut self, bytes: &[u8]) {
        self.conv.recorder.data(&self.conn, self.from, bytes);
        let keep = self.conv.opts.keep_bytes;
        // Only a recording writes its transcript out: say what it could not keep.
        let recording = self.conv.opts.mode == super::Mode::Single;
        if recording && self.total <= keep && self.total + bytes.len() > keep {
            self.conv.trouble(format!(
                "the {} sent more than {} KiB on `{}`: the transcript keeps the first {} KiB",
                self.from.name(),
                keep / 1024,
                self.conn,
                keep / 1024
            ));
        }
        self.total += bytes.len();
        if self.overflow {
            return;
        }
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > BUFFER_LIMIT {
            self.overflow = true;
            self.buf = Vec::new();
            self.scan = Scan::default();
            self.conv.trouble(format!(
                "the {} sent more than {} MiB on `{}` without completing a message: the rest is relayed, not checked",
                self.from.name(),
                BUFFER_LIMIT / (1024 * 1024),
                self.conn
            ));
            return;
        }
        self.frame(false);
    }

    /// Cuts whole messages off the buffer, judges each and reports it.
    fn frame(&mut self, eof: bool) {
        loop {
            let (msg, found) = {
                let mut inspector = lock(&self.conv.inspector);
                let framed = inspector.frame_resuming(self.dir, &self.conn, &self.buf, eof, &mut self.scan);
                let Frame::Complete(n) = framed else {
                    return;
                };
                if n == 0 {
                    return;
                }
                let msg: Vec<u8> = self.buf.drain(..n.min(self.buf.len())).collect();
                self.scan = Scan::default();
                let mut found = Vec::new();
                inspector.inspect(self.dir, &self.conn, &msg, &mut found);
                (msg, found)
            };
            self.framed_one = true;
            self.conv.emit(super::RelayEvent::Message {
                id: self.conv.id,
                conn: self.conn.clone(),
                from: self.from,
                bytes: msg,
            });
            for f in found {
                self.conv.finding(f.by(self.from).on(self.conn.clone()));
            }
        }
    }

    /// The sender closed its end: the last message, what never became one, the close.
    fn close(&mut self) {
        if !self.overflow {
            self.frame(true);
        }
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let verdict = {
                let mut inspector = lock(&self.conv.inspector);
                let after = if self.framed_one {
                    inspector.trailing(self.dir, &self.conn, &rest)
                } else {
                    None
                };
                after.or_else(|| {
                    inspector
                        .incomplete(self.dir, &self.conn, &rest)
                        .map(|(rule, why)| crate::proto::Verdict::new(rule, why))
                })
            };
            if let Some(crate::proto::Verdict { rule, why, hint }) = verdict {
                let f = Finding::in_profile(
                    rule,
                    self.conv.opts.profile,
                    format!(
                        "the {} closed `{}` after {} bytes that are not a whole message: {why}",
                        self.from.name(),
                        self.conn,
                        rest.len()
                    ),
                )
                .actual(&rest);
                let f = match hint {
                    Some(h) => f.with_hint(h),
                    None => f,
                };
                self.conv.finding(f.by(self.from).on(self.conn.clone()));
            }
        }
        if !self.failed {
            self.conv.event(&self.conn, EventKind::Close { by: self.from });
        }
    }

    /// A held FTP control line: when it announces a data address, the relay listens for
    /// that connection itself and forwards the line announcing its own address instead.
    async fn announce(&mut self, line: &[u8]) -> Vec<u8> {
        match self.control {
            Some(control) => data::announce(&self.conv, control, self.dir, line).await,
            None => line.to_vec(),
        }
    }
}
