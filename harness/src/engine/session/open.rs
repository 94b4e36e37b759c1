//! Connections: opening (connect or accept, as the side that opens says), listening,
//! closing one's end and waiting for the peer's.
//!
//! When parley plays an FTP server and the client announced a data address with PORT,
//! parley connects at once like a real server, retries for a short grace window if the
//! client refused (it listened too late: F-DATA-2) — sending its next reply first when the
//! protocol allows (the 150 such a client waits for) — and if the connection never opens it
//! sends the protocol's reply (425) with a finding that does the arithmetic (F-DATA-1),
//! then carries on with the client's next command.

use crate::rules;
use crate::scenario::schema::PortValue;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::env::listen_vars;
use super::{DATA_GRACE, Endpoint, Session, Stop, party};
use crate::engine::conn::Conn;
use crate::engine::sandbox::SocketFactory;
use crate::outcome::EventKind;
use crate::proto::{Framing, MAIN};
use crate::scenario::Side;
use crate::scenario::duration::human;
use crate::scenario::plan::{Action, Step};
use crate::scenario::template::Template;

impl Session<'_> {
    /// Opens `main` at its first use.
    pub(super) async fn ensure_main(&mut self, step: &Step, conn: &str) -> Result<(), Stop> {
        if conn == MAIN && !self.main_opened {
            let framing = self.scenario.protocol.default_framing(MAIN);
            self.open(step, MAIN, Side::Client, None, framing).await?;
        }
        Ok(())
    }

    pub(super) async fn open(
        &mut self,
        step: &Step,
        conn: &str,
        by: Side,
        to: Option<&Template>,
        framing: Framing,
    ) -> Result<(), Stop> {
        let stream = if by == self.me {
            match self.connect(step, conn, by, to).await? {
                Some(stream) => stream,
                // parley answered for the failed connection and goes on.
                None => return Ok(()),
            }
        } else {
            self.accept(step, conn, by).await?
        };
        // Record the opening before the reader starts, so it precedes anything received.
        let ends = stream.local_addr().and_then(|l| Ok((l, stream.peer_addr()?)));
        let (local, peer) =
            ends.map_err(|e| Stop::Unreachable(format!("connection `{conn}` failed at once: {e}")))?;
        let (client, server) = match self.me {
            Side::Client => (local, peer),
            Side::Server => (peer, local),
        };
        self.recorder.push(
            conn,
            EventKind::Open {
                by: party(by),
                client: client.to_string(),
                server: server.to_string(),
            },
        );
        let c = Conn::start(conn, party(self.me), framing, stream, self.recorder.clone())
            .map_err(|e| Stop::Unreachable(format!("connection `{conn}` failed at once: {e}")))?;
        if conn == MAIN {
            self.main_opened = true;
        }
        self.opened.push((conn.to_string(), c.shared.clone()));
        self.conns.insert(conn.to_string(), c);
        Ok(())
    }

    /// parley opens `conn`. `Ok(None)`: it could not, and the protocol answered for it.
    async fn connect(
        &mut self,
        step: &Step,
        conn: &str,
        by: Side,
        to: Option<&Template>,
    ) -> Result<Option<TcpStream>, Stop> {
        let (deadline, wait, _) = self.step_deadline(step);
        let addr = match to {
            Some(t) => self.render(step, t)?,
            // The client's connections go to the target unless the step says otherwise.
            None if by == Side::Client => self.globals.get("target").cloned().unwrap_or_default(),
            None => {
                // The plan check refuses a server-opened connection without `to:` or a listen.
                return Err(Stop::Internal(format!(
                    "step {} ({}): nothing says where to connect `{conn}`",
                    step.number, step.location
                )));
            }
        };
        // As a server opening a data connection, retry a refusal for a short while: the
        // client may be about to listen (it should already be).
        let serving_data = self.me == Side::Server && conn != MAIN;
        let grace_end = (Instant::now() + DATA_GRACE).min(deadline);
        let mut refusals = 0u32;
        let mut backoff = Duration::from_millis(5);
        let sockets = self.opts.sockets(); // --- isolation: in the program's sandbox, if any
        let own = self.own_listeners();
        let stream = loop {
            // parley's own sockets are not the peer's: a wrong PORT can name the port of
            // parley's listener, and a connection to a port nothing listens on in the
            // ephemeral range can meet itself (TCP simultaneous open). Either is refused.
            let attempt = match addr.parse::<SocketAddr>() {
                Ok(a)
                    if own
                        .iter()
                        .any(|l| l.port() == a.port() && (l.ip() == a.ip() || l.ip().is_unspecified())) =>
                {
                    Ok(Err(refused_by_parley(a, "parley's own listener is there")))
                }
                _ => tokio::time::timeout_at(deadline, sockets.connect(addr.as_str()))
                    .await
                    .map(|r| r.and_then(not_to_itself)),
            };
            let why = match attempt {
                Ok(Ok(stream)) => break stream,
                Ok(Err(e)) => {
                    if serving_data
                        && e.kind() == std::io::ErrorKind::ConnectionRefused
                        && Instant::now() < grace_end
                    {
                        if refusals == 0 {
                            self.send_ahead(step, conn).await?;
                        }
                        refusals += 1;
                        tokio::time::sleep(backoff.min(grace_end - Instant::now())).await;
                        backoff = (backoff * 2).min(Duration::from_millis(100));
                        continue;
                    }
                    e.to_string()
                }
                Err(_) => format!("no answer within {}", human(wait)),
            };
            return self
                .connect_failed(step, conn, &addr, &why, refusals)
                .await
                .map(|()| None);
        };
        if refusals > 0 {
            if let Some(rule) = self.inspector.opened_late(conn) {
                let f = self.finding(
                    step,
                    rule,
                    format!(
                        "the client refused `{conn}` at {addr} when parley connected right after the transfer command, \
                         and accepted it only after {refusals} retries: it listens too late (a real server connects at once \
                         and gives up)"
                    ),
                );
                self.push(f, conn);
            }
        }
        Ok(Some(stream))
    }

    /// The addresses parley listens on in this run: its listeners, and the one the program
    /// connected to when parley serves it.
    fn own_listeners(&self) -> Vec<SocketAddr> {
        let main = match &self.main_endpoint {
            Some(Endpoint::Accept(l)) => l.local_addr().ok(),
            _ => None,
        };
        self.listeners
            .values()
            .filter_map(|l| l.local_addr().ok())
            .chain(main)
            .collect()
    }

    /// While retrying data connection `conn`: when parley's next step sends a message on
    /// `main` that the protocol lets go out before the connection is open (an FTP 150,
    /// "about to open data connection"), sends it now — a client may wait for it before
    /// it listens — and marks the step as sent.
    async fn send_ahead(&mut self, step: &Step, conn: &str) -> Result<(), Stop> {
        self.send_next_early(step, conn, Early::BeforeRetry).await
    }

    /// Sends parley's next step on `main` now when the protocol says it goes out at this
    /// moment (`when`: before retrying or before closing `conn`), and marks it as sent.
    async fn send_next_early(&mut self, step: &Step, conn: &str, when: Early) -> Result<(), Stop> {
        let scenario = self.scenario;
        let Some(next) = scenario.steps.iter().find(|s| s.number == step.number + 1) else {
            return Ok(());
        };
        let Action::Message {
            from,
            conn: on,
            send,
            expect,
        } = &next.action
        else {
            return Ok(());
        };
        if *from != self.me || on != MAIN || next.when.as_ref().is_some_and(|c| !self.holds(c, next)) {
            return Ok(());
        }
        let Some(payload) = super::send::outgoing(send.as_ref(), expect) else {
            return Ok(());
        };
        let bytes = payload
            .render(&self.env(next))
            .map_err(|e| self.missing(next, e))?;
        let now = match when {
            Early::BeforeRetry => self.inspector.send_before_retry(conn, &bytes),
            Early::BeforeClose => self.inspector.send_before_close(conn, &bytes),
        };
        if !now {
            return Ok(());
        }
        self.send(next, MAIN, send.as_ref(), expect).await?;
        self.sent_ahead = Some(next.number);
        Ok(())
    }

    /// A connection parley opens failed. `Ok(())`: the protocol answered for it (FTP 425)
    /// and the scenario goes on; `Err`: the scenario stops.
    async fn connect_failed(
        &mut self,
        step: &Step,
        conn: &str,
        addr: &str,
        why: &str,
        refusals: u32,
    ) -> Result<(), Stop> {
        if conn == MAIN && !self.main_opened {
            return Err(Stop::Unreachable(format!("cannot connect to {addr}: {why}")));
        }
        if self.me == Side::Server && conn != MAIN {
            let listening = self
                .opts
                .program_pid
                .and_then(crate::engine::procfs::listening_ports);
            if let Some(failure) = self.inspector.open_failed(conn, addr, listening.as_ref()) {
                let retried = if refusals > 0 {
                    format!(" (refused {} times over {})", refusals + 1, human(DATA_GRACE))
                } else {
                    String::new()
                };
                let f = self.expectation(
                    step,
                    self.own_rule(step).unwrap_or(failure.rule),
                    format!("{}{retried}: {why}", failure.message),
                );
                self.push(f, conn);
                self.write_message(step, MAIN, failure.reply).await?;
                self.resync = true;
                return Ok(());
            }
        }
        let f = self.expectation(
            step,
            self.own_rule(step).unwrap_or(rules::S_CONNECT),
            format!("cannot open `{conn}` to {addr}: {why}"),
        );
        self.push(f, conn);
        Err(Stop::Halt)
    }

    /// The peer opens `conn`: accept it on its listener.
    async fn accept(&mut self, step: &Step, conn: &str, by: Side) -> Result<TcpStream, Stop> {
        // The program's first connection is its start-up, with a deadline of its own.
        let starting = conn == MAIN && !self.main_opened && self.opts.program_pid.is_some();
        let (deadline, wait) = if starting {
            let wait = self.startup();
            (Instant::now() + wait, wait)
        } else {
            let (deadline, wait, _) = self.step_deadline(step);
            (deadline, wait)
        };
        // The client's connections arrive on the main listener, others on their own.
        let listener = match (self.listeners.get(conn), &self.main_endpoint) {
            (Some(l), _) => l,
            (None, Some(Endpoint::Accept(l))) if by == Side::Client => l,
            _ => {
                // The listen step did not run (a `when:` skipped it).
                return Err(self.not_open(step, conn));
            }
        };
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let exited = self.opts.program_exited.clone().unwrap_or_default();
        let message = tokio::select! {
            accepted = tokio::time::timeout_at(deadline, listener.accept()) => match accepted {
                Ok(Ok((stream, _))) => {
                    if starting {
                        // The scenario's own deadline starts with the conversation.
                        self.deadline = Instant::now() + self.scenario.timeout;
                    }
                    return Ok(stream);
                }
                Ok(Err(e)) => format!("accepting `{conn}` failed: {e}"),
                Err(_) if starting => format!(
                    "no {} connected to `{conn}` at {addr} within {}, the program's start-up time \
                     (`program: {{ startup }}` in the scenario or --startup-timeout changes it)",
                    by.name(),
                    human(wait)
                ),
                Err(_) => format!("no {} connected to `{conn}` at {addr} within {}", by.name(), human(wait)),
            },
            _ = exited.cancelled() => format!(
                "the program exited before the {} opened `{conn}` (parley listened at {addr})",
                by.name()
            ),
        };

        // A server that answered on the control connection instead of connecting (425
        // "can't open data connection") did what a server does when it cannot connect; the
        // rule is not the step's (which is about a server that claims a transfer it never
        // made), it is that the server could not reach parley's data port.
        let (rule, message) = match self.answered_instead(conn) {
            Some(reply) => (
                rules::S_CONNECT,
                format!(
                    "{message}: the server answered `{reply}` on the control connection instead of connecting to \
                     parley's data port"
                ),
            ),
            None => (self.own_rule(step).unwrap_or(rules::S_CONNECT), message),
        };
        let f = self.expectation(step, rule, message);
        self.push(f, conn);
        Err(Stop::Halt)
    }

    /// While waiting for the peer to open data connection `conn`: the complete reply it
    /// sent on `main` instead, when the protocol says that reply refuses the transfer.
    fn answered_instead(&self, conn: &str) -> Option<String> {
        if conn == MAIN {
            return None;
        }
        let unread = self.conns.get(MAIN)?.shared.lock().buf.to_vec();
        self.inspector
            .refused_transfer(&unread)
            .map(|reply| crate::visible::visible_truncated(&reply, 120))
    }

    pub(super) async fn listen(
        &mut self,
        step: &Step,
        conn: &str,
        by: Side,
        host: Option<std::net::IpAddr>,
        port: Option<PortValue>,
    ) -> Result<(), Stop> {
        if by != self.me {
            // The peer listens; its address reaches parley through the protocol (PORT, 227).
            return Ok(());
        }
        // Listen on the address the peer reaches parley at (the main connection's local
        // IP), unless the step names another.
        let ip = host.unwrap_or_else(|| {
            self.conns
                .get(MAIN)
                .map(|c| c.local.ip())
                .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]))
        });
        let sockets = self.opts.sockets(); // --- isolation: in the program's sandbox, if any
        let bound = match port {
            None => sockets.bind(SocketAddr::new(ip, 0)).await,
            Some(PortValue::Number(p)) => sockets.bind(SocketAddr::new(ip, p)).await,
            Some(PortValue::Privileged) => bind_privileged(sockets, ip).await,
        };
        let listener = match bound {
            Ok(l) => l,
            // A privileged port without the privilege: the listen does not happen and sets
            // no variables, so the steps that need it (`when: { defined: NAME.port }`) skip.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && port.is_some() => {
                return Ok(());
            }
            Err(e) => {
                return Err(Stop::Internal(format!(
                    "step {}: cannot listen for `{conn}` on {ip}: {e}",
                    step.number
                )));
            }
        };
        let addr = listener
            .local_addr()
            .map_err(|e| Stop::Internal(format!("step {}: {e}", step.number)))?;
        for (suffix, value) in listen_vars(addr) {
            self.globals.insert(format!("{conn}.{suffix}"), value);
        }
        self.recorder.push(
            conn,
            EventKind::Listen {
                by: party(by),
                addr: addr.to_string(),
            },
        );
        self.listeners.insert(conn.to_string(), listener);
        Ok(())
    }

    pub(super) async fn close_mine(&mut self, step: &Step, conn: &str) -> Result<(), Stop> {
        let serving = self.me == Side::Server;
        let prompt = self.faults.transfer_delay.is_zero() && self.faults.reply_delay.is_zero();
        if serving && prompt && conn != MAIN && self.conns.contains_key(conn) {
            // The reply's first piece, then the close, then its other pieces (each read
            // before the next): a client reading the data to its end is never kept
            // waiting on a reply it does not read yet.
            self.close_after_first_piece = Some(conn.to_string());
            let sent = self.send_next_early(step, conn, Early::BeforeClose).await;
            let closed = self.close_after_first_piece.take().is_none();
            sent?;
            if closed {
                return Ok(());
            }
        }
        let Some(c) = self.conns.get_mut(conn) else {
            return Err(self.not_open(step, conn));
        };
        self.recorder.push(conn, EventKind::Close { by: party(self.me) });
        // A peer that reset the connection makes shutdown fail; the close still happened.
        let _ = c.shutdown().await;
        Ok(())
    }

    /// The peer is to close `conn`: waits for its end of file. Bytes it sends instead are
    /// one finding, judged by the protocol (HTTP: a body longer than its Content-Length,
    /// a second request on a connection declared closed), with their count and a sample;
    /// a peer that keeps sending is not waited for past [`EXTRA_KEPT`] bytes. A reset is a
    /// close: the peer closed with bytes it had not read, and that is judged where they
    /// were sent, not here — which of FIN or RST the kernel sends is not the peer's choice.
    pub(super) async fn await_close(&mut self, step: &Step, conn: &str, by: Side) -> Result<(), Stop> {
        let (deadline, wait, _) = self.step_deadline(step);
        let Some(c) = self.conns.get(conn) else {
            return Err(self.not_open(step, conn));
        };
        let shared = c.shared.clone();
        let dir = super::dir_from(by);
        let mut sample: Vec<u8> = Vec::new();
        let mut total = 0usize;
        let mut verdict: Option<crate::proto::Verdict> = None;
        let mirroring = self.mirror() && by == Side::Client;
        let closed = loop {
            let mut echo = false;
            {
                let mut inbox = shared.lock();
                if !inbox.buf.is_empty() && mirroring {
                    // An echo server echoes until the client closes.
                    echo = true;
                } else if !inbox.buf.is_empty() {
                    let extra: Vec<u8> = std::mem::take(&mut inbox.buf).to_vec();
                    drop(inbox);
                    shared.drained.notify_one();
                    total += extra.len();
                    let room = SAMPLE_BYTES.saturating_sub(sample.len());
                    sample.extend_from_slice(&extra[..extra.len().min(room)]);
                    // The inspector sees every byte; its latest verdict knows the most.
                    if let Some(v) = self.inspector.trailing(dir, conn, &extra) {
                        verdict = Some(v);
                    }
                    if total >= EXTRA_KEPT {
                        break false;
                    }
                    continue;
                }
                if !echo && inbox.notice_closed() {
                    break true;
                }
            }
            if echo {
                let bytes = self.take_unechoed(conn);
                self.write_message(step, conn, bytes).await?;
                continue;
            }
            tokio::select! {
                _ = shared.changed.notified() => {}
                _ = tokio::time::sleep_until(deadline) => break false,
            }
        };
        if total == 0 {
            if closed {
                if conn != MAIN {
                    self.close_after_peer(conn).await;
                }
                return Ok(());
            }
            let f = self.expectation(
                step,
                self.own_rule(step).unwrap_or(rules::S_CLOSE),
                format!(
                    "waited {} for the {} to close `{conn}`; it kept the connection open",
                    human(wait),
                    by.name()
                ),
            );
            self.push(f, conn);
            return Err(Stop::Halt);
        }
        let mut hint = None;
        let (rule, why) = match (self.own_rule(step), verdict) {
            (Some(rule), _) => (rule, String::new()),
            (None, Some(v)) => {
                hint = v.hint;
                (v.rule, format!(" — {}", v.why))
            }
            (None, None) if total >= EXTRA_KEPT => (rules::S_LIMIT, String::new()),
            (None, None) => (rules::S_CLOSE, String::new()),
        };
        let then = if closed {
            "then closed it".to_string()
        } else if total >= EXTRA_KEPT {
            format!("and was still sending when parley stopped reading after {total} bytes")
        } else {
            format!("and kept it open for {}", human(wait))
        };
        let shown = if total > sample.len() {
            format!(" (the first {} shown)", sample.len())
        } else {
            String::new()
        };
        let f = self
            .expectation(
                step,
                rule,
                format!(
                    "the {} sent {total} more bytes on `{conn}` where it should have closed it, {then}{shown}{why}",
                    by.name()
                ),
            )
            .actual(&sample);
        let f = match hint {
            Some(h) => f.with_hint(h),
            None => f,
        };
        self.push(f, conn);
        Err(Stop::Halt)
    }
}

/// A refusal parley makes itself: the address is one of its own sockets, not the peer's.
/// It is judged as the kernel's refusal would be (a data connection is retried, then the
/// client did not listen where it said).
fn refused_by_parley(addr: SocketAddr, why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        format!("nothing of the peer's listens on {addr} ({why})"),
    )
}

/// `stream`, unless it is connected to itself: its source port is the port it connected
/// to, on the same address (nothing listened there; the kernel's TCP simultaneous open).
fn not_to_itself(stream: TcpStream) -> std::io::Result<TcpStream> {
    match (stream.local_addr(), stream.peer_addr()) {
        (Ok(local), Ok(peer)) if local == peer => {
            Err(refused_by_parley(peer, "parley's connection met itself"))
        }
        _ => Ok(stream),
    }
}

/// Binds a free port below 1024 on `ip`: from a place that depends on the process and the
/// time, so that runs at once (parallel tests, a class) rarely try the same ports.
async fn bind_privileged(sockets: &dyn SocketFactory, ip: std::net::IpAddr) -> std::io::Result<TcpListener> {
    let seed = std::process::id() as usize
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as usize)
            .unwrap_or(0);
    let mut last = std::io::Error::from(std::io::ErrorKind::AddrInUse);
    for i in 0..423 {
        let port = 600 + ((seed + i * 7) % 424) as u16;
        match sockets.bind(SocketAddr::new(ip, port)).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Bytes of what a peer sent instead of closing that a finding shows.
const SAMPLE_BYTES: usize = 256;
/// How many bytes parley reads from a peer that should have closed before it gives up
/// waiting: enough for the protocol to judge them, bounded against a flood.
pub const EXTRA_KEPT: usize = 64 * 1024;

/// When a step of parley's may go out ahead of its turn.
#[derive(Debug, Clone, Copy)]
enum Early {
    /// While a data connection is retried (`Hooks::send_before_retry`).
    BeforeRetry,
    /// Just before a data connection is closed (`Hooks::send_before_close`).
    BeforeClose,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket bound to a port and connected to that same port meets itself (TCP
    /// simultaneous open): it is refused, not taken for the peer.
    #[tokio::test]
    async fn a_connection_that_meets_itself_is_refused() {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let me = socket.local_addr().unwrap();
        let stream = socket.connect(me).await.unwrap();
        assert_eq!(
            stream.peer_addr().unwrap(),
            me,
            "the kernel connected it to itself"
        );
        let e = not_to_itself(stream).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(e.to_string().contains("met itself"), "{e}");
        // A connection to a listener is kept.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        assert!(not_to_itself(stream).is_ok());
    }
}
