//! The one relay (DESIGN, "One relay"): everything that watches a live conversation
//! between two other parties goes through here — `parley serve` showing a bundled mock's
//! exchanges, `parley record` between a real client and a real server.
//!
//! The relay accepts a client, connects to the upstream server, and forwards bytes both
//! ways as they come. Each direction is also fed to the protocol's [`Inspector`] (the same
//! sans-I/O checker `run` and `grade` use): it cuts the bytes into messages and judges
//! them, so the relay produces the same [`Transcript`] (through the engine's
//! [`Recorder`]) and the same [`Finding`]s as a played scenario, and live
//! [`RelayEvent`]s on a channel. Nothing here prints.
//!
//! FTP data connections pass through the relay too: the control lines that announce a
//! data address (PORT and EPRT from the client, 227 and 229 from the server) are rewritten
//! to a port the relay listens on for that connection (`proto::ftp::rewrite`), and the
//! relay connects the other way when the announced connection arrives. Client and server
//! never learn of it. Data connections are named `data`, `data2`, ... in the transcript,
//! with the `listen` and `open` events a played scenario has. HTTP and echo: every
//! connection the client opens is a connection of its own (`main`, `conn2`, ...) when the
//! relay records one conversation ([`Mode::Single`]), or a conversation of its own
//! ([`Mode::PerConnection`]).
//!
//! The parts: `pump` (one direction of one connection: forward, record, frame, judge),
//! `data` (the FTP data connections), `record` (`parley record`: one conversation,
//! optionally with the client program parley starts).

mod data;
mod pump;
pub mod record;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::transcript::Recorder;
use crate::finding::Finding;
use crate::outcome::{EventKind, Party, Transcript};
use crate::proto::{Dir, Inspector, MAIN, Protocol};
use crate::rules::Profile;

pub use record::{RecordError, RecordOptions, Recording, record};

/// How long a connection to the upstream server (or to a data listener) may take.
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(10);
/// How long the relay waits for its connections to finish once it is told to stop.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// How client connections map to conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every client connection is a conversation of its own (`parley serve`).
    PerConnection,
    /// One conversation: the first client connection is `main`; for HTTP and echo later
    /// ones join it as `conn2`, `conn3`, ... (`parley record`). An FTP client's second
    /// control connection is relayed as a conversation of its own, not recorded.
    Single,
}

/// What the relay relays.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The protocol spoken: its inspector frames and judges the bytes.
    pub protocol: Protocol,
    /// The HTTP rule profile.
    pub profile: Profile,
    /// The server, `host:port`.
    pub upstream: String,
    /// Conversations per connection, or one.
    pub mode: Mode,
    /// Bytes of data kept per transcript event ([`Recorder::with_limit`]).
    pub keep_bytes: usize,
}

impl RelayOptions {
    /// Options for `protocol` to `upstream`, in `mode`, keeping what a played scenario
    /// keeps ([`Mode::Single`] keeps whole transfers, up to the engine's buffer limit).
    pub fn new(protocol: Protocol, upstream: impl Into<String>, mode: Mode) -> RelayOptions {
        RelayOptions {
            protocol,
            profile: Profile::Http10,
            upstream: upstream.into(),
            mode,
            keep_bytes: match mode {
                Mode::PerConnection => super::transcript::KEEP_BYTES,
                Mode::Single => super::conn::BUFFER_LIMIT,
            },
        }
    }
}

/// What happens on the relay, as it happens.
#[derive(Debug, Clone)]
pub enum RelayEvent {
    /// The relay accepts clients at `addr`.
    Ready {
        /// Where clients connect.
        addr: SocketAddr,
    },
    /// Conversation `id` began: a client connected from `peer`.
    Started {
        /// Conversation number.
        id: u64,
        /// The client's address.
        peer: SocketAddr,
    },
    /// A connection of conversation `id` was listened for, opened, closed by one side, or
    /// failed (the transcript's events; data goes as [`RelayEvent::Message`]).
    Event {
        /// Conversation number.
        id: u64,
        /// The connection's name (`main`, `data`, ...).
        conn: String,
        /// What happened.
        kind: EventKind,
    },
    /// A whole message went by, as the protocol frames it.
    Message {
        /// Conversation number.
        id: u64,
        /// The connection.
        conn: String,
        /// Who sent it.
        from: Party,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// parley's checker found something about what went by.
    Finding {
        /// Conversation number.
        id: u64,
        /// What (its `conn` says where).
        finding: Finding,
    },
    /// The relay could not do its part (upstream unreachable, a data connection that
    /// could not be relayed); the conversation goes on where it can.
    Trouble {
        /// Conversation number.
        id: u64,
        /// What went wrong.
        message: String,
    },
    /// Conversation `id` is over.
    Ended {
        /// Conversation number.
        id: u64,
    },
}

/// Everything one conversation showed: what a played scenario's outcome holds, without
/// steps.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// Conversation number.
    pub id: u64,
    /// What crossed the connections, in order.
    pub transcript: Transcript,
    /// What parley's checker found, in the order found (each names its connection and the
    /// party that sent the bytes).
    pub findings: Vec<Finding>,
    /// Where the client connected from.
    pub client: Option<SocketAddr>,
    /// Where the client reached the relay (the `host:port` it was given).
    pub relay: Option<SocketAddr>,
    /// What the relay could not do.
    pub trouble: Vec<String>,
}

/// How many connections a conversation has opened, and how many are still open.
#[derive(Debug, Clone, Copy, Default)]
struct Legs {
    opened: usize,
    open: usize,
}

#[derive(Debug, Default)]
struct Names {
    data: usize,
    conns: usize,
}

/// One conversation's state, shared by the tasks that relay its connections.
struct Conv {
    id: u64,
    opts: Arc<RelayOptions>,
    recorder: Recorder,
    inspector: Mutex<Box<dyn Inspector>>,
    findings: Mutex<Vec<Finding>>,
    trouble: Mutex<Vec<String>>,
    names: Mutex<Names>,
    ends: Mutex<(Option<SocketAddr>, Option<SocketAddr>)>,
    legs: watch::Sender<Legs>,
    events: UnboundedSender<RelayEvent>,
    /// Cancelled when the conversation is over: pending listeners and pumps stop.
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl std::fmt::Debug for Conv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conv")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Conv {
    fn new(
        id: u64,
        opts: Arc<RelayOptions>,
        events: UnboundedSender<RelayEvent>,
        stop: CancellationToken,
    ) -> Arc<Conv> {
        Arc::new(Conv {
            id,
            inspector: Mutex::new(opts.protocol.inspector(opts.profile)),
            recorder: Recorder::with_limit(opts.keep_bytes),
            opts,
            findings: Mutex::new(Vec::new()),
            trouble: Mutex::new(Vec::new()),
            names: Mutex::new(Names::default()),
            ends: Mutex::new((None, None)),
            legs: watch::Sender::new(Legs::default()),
            events,
            stop,
            tasks: TaskTracker::new(),
        })
    }

    fn emit(&self, event: RelayEvent) {
        let _ = self.events.send(event);
    }

    /// Records a connection event in the transcript and reports it.
    fn event(&self, conn: &str, kind: EventKind) {
        self.recorder.push(conn, kind.clone());
        self.emit(RelayEvent::Event {
            id: self.id,
            conn: conn.to_string(),
            kind,
        });
    }

    fn finding(&self, finding: Finding) {
        lock(&self.findings).push(finding.clone());
        self.emit(RelayEvent::Finding { id: self.id, finding });
    }

    fn trouble(&self, message: String) {
        lock(&self.trouble).push(message.clone());
        self.emit(RelayEvent::Trouble { id: self.id, message });
    }

    /// The name of the next FTP data connection: `data`, `data2`, ...
    fn next_data_name(&self) -> String {
        let mut names = lock(&self.names);
        names.data += 1;
        match names.data {
            1 => "data".to_string(),
            n => format!("data{n}"),
        }
    }

    /// The name of the next client connection: `main`, `conn2`, ...
    fn next_conn_name(&self) -> String {
        let mut names = lock(&self.names);
        names.conns += 1;
        match names.conns {
            1 => MAIN.to_string(),
            n => format!("conn{n}"),
        }
    }

    /// A client connected: connect upstream and relay the pair as the conversation's next
    /// connection. False when the upstream server could not be reached (then the client's
    /// connection is closed, as the server's refusal would have closed it).
    async fn start_client(self: &Arc<Self>, client: TcpStream, peer: SocketAddr) -> bool {
        let conn = self.next_conn_name();
        let upstream = &self.opts.upstream;
        let server = match tokio::time::timeout(CONNECT_DEADLINE, TcpStream::connect(upstream.as_str())).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return self.unreachable(&conn, e.to_string()),
            Err(_) => {
                return self.unreachable(&conn, format!("no answer within {}", CONNECT_DEADLINE.as_secs()));
            }
        };
        let (Ok(server_end), Ok(relay_end)) = (server.peer_addr(), client.local_addr()) else {
            return self.unreachable(&conn, "the connection failed at once".to_string());
        };
        if conn == MAIN {
            *lock(&self.ends) = (Some(peer), Some(relay_end));
            // The client was given the relay's address: that is the server it talks to
            // (HTTP checks Host against it).
            lock(&self.inspector).target(&relay_end.ip().to_string(), relay_end.port());
        }
        self.event(
            &conn,
            EventKind::Open {
                by: Party::Client,
                client: peer.to_string(),
                server: server_end.to_string(),
            },
        );
        self.spawn_leg(conn, client, server, true);
        true
    }

    fn unreachable(&self, conn: &str, why: String) -> bool {
        let message = format!("cannot reach the server {}: {why}", self.opts.upstream);
        self.event(
            conn,
            EventKind::Error {
                message: message.clone(),
            },
        );
        self.trouble(message);
        false
    }

    /// Relays `client` and `server` as connection `conn` on a task of the conversation;
    /// `control` when it is the control connection (FTP rewrites its data addresses).
    fn spawn_leg(self: &Arc<Self>, conn: String, client: TcpStream, server: TcpStream, control: bool) {
        self.legs.send_modify(|l| {
            l.opened += 1;
            l.open += 1;
        });
        let conv = Arc::clone(self);
        self.tasks.spawn(async move {
            let stop = conv.stop.clone();
            tokio::select! {
                _ = pump::leg(Arc::clone(&conv), conn, client, server, control) => {}
                _ = stop.cancelled() => {}
            }
            conv.legs.send_modify(|l| l.open -= 1);
        });
    }

    /// Waits until every connection opened so far has closed (and at least one opened).
    async fn idle(&self) {
        let mut rx = self.legs.subscribe();
        let _ = rx.wait_for(|l| l.opened > 0 && l.open == 0).await;
    }

    /// Waits until no connection is open (at once when none ever opened).
    async fn quiet(&self) {
        let mut rx = self.legs.subscribe();
        let _ = rx.wait_for(|l| l.open == 0).await;
    }

    /// Ends the conversation: stops what is still running, takes the verdicts the
    /// inspector kept for the end, and returns everything it showed.
    async fn end(&self) -> Conversation {
        self.stop.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(STOP_GRACE, self.tasks.wait()).await;
        for (dir, sender) in [(Dir::ToServer, Party::Client), (Dir::ToClient, Party::Server)] {
            let mut late = Vec::new();
            lock(&self.inspector).finish(dir, &mut late);
            for f in late {
                self.finding(f.by(sender));
            }
        }
        self.emit(RelayEvent::Ended { id: self.id });
        let (client, relay) = *lock(&self.ends);
        Conversation {
            id: self.id,
            transcript: self.recorder.snapshot(),
            findings: lock(&self.findings).clone(),
            client,
            relay,
            trouble: lock(&self.trouble).clone(),
        }
    }
}

/// A relay: a listener for clients and what to relay them to.
#[derive(Debug)]
pub struct Relay {
    listener: TcpListener,
    opts: Arc<RelayOptions>,
    events: UnboundedSender<RelayEvent>,
}

impl Relay {
    /// A relay accepting clients on `listener`; reports [`RelayEvent::Ready`].
    pub fn new(
        listener: TcpListener,
        opts: RelayOptions,
        events: UnboundedSender<RelayEvent>,
    ) -> std::io::Result<Relay> {
        let addr = listener.local_addr()?;
        let _ = events.send(RelayEvent::Ready { addr });
        Ok(Relay {
            listener,
            opts: Arc::new(opts),
            events,
        })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Relays every client as a conversation of its own until `stop` is cancelled
    /// (`parley serve`); each conversation ends when all its connections have closed.
    pub async fn serve(self, stop: CancellationToken) {
        let tracker = TaskTracker::new();
        let mut next_id = 0u64;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                accepted = self.listener.accept() => {
                    let Ok((client, peer)) = accepted else { continue };
                    next_id += 1;
                    let conv = Conv::new(next_id, Arc::clone(&self.opts), self.events.clone(), stop.child_token());
                    tracker.spawn(lone_conversation(conv, client, peer));
                }
            }
        }
        tracker.close();
        let _ = tokio::time::timeout(STOP_GRACE + Duration::from_secs(1), tracker.wait()).await;
    }

    /// Relays one conversation and returns it (`parley record`). It ends when `stop` is
    /// cancelled (with what was seen so far), or when `done` completes and then every
    /// connection has closed (within [`STOP_GRACE`]), or — when `done` is `None` — as soon
    /// as every connection opened has closed.
    pub async fn record_one(
        self,
        done: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>>,
        stop: CancellationToken,
    ) -> Conversation {
        let conv = Conv::new(1, Arc::clone(&self.opts), self.events.clone(), stop.child_token());
        let others = TaskTracker::new();
        let mut next_id = 1u64;
        let mut started = false;
        let waits_for_program = done.is_some();
        let mut done = done.unwrap_or_else(|| Box::pin(std::future::pending()));
        let mut exited: Option<tokio::time::Instant> = None;
        loop {
            let idle_ends = started && !waits_for_program;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = &mut done, if exited.is_none() && waits_for_program => {
                    exited = Some(tokio::time::Instant::now() + STOP_GRACE);
                }
                _ = conv.idle(), if idle_ends => break,
                _ = conv.quiet(), if exited.is_some() => break,
                _ = tokio::time::sleep_until(exited.unwrap_or_else(tokio::time::Instant::now)), if exited.is_some() => break,
                accepted = self.listener.accept() => {
                    let Ok((client, peer)) = accepted else { continue };
                    if !started {
                        started = true;
                        conv.emit(RelayEvent::Started { id: conv.id, peer });
                        if !conv.start_client(client, peer).await {
                            break;
                        }
                    } else if self.opts.protocol == Protocol::Ftp {
                        next_id += 1;
                        let other = Conv::new(next_id, Arc::clone(&self.opts), self.events.clone(), stop.child_token());
                        conv.trouble(format!(
                            "the client opened a second control connection (#{next_id}); it is relayed but not recorded"
                        ));
                        others.spawn(lone_conversation(other, client, peer));
                    } else {
                        conv.start_client(client, peer).await;
                    }
                }
            }
        }
        drop(self.listener);
        let conversation = conv.end().await;
        others.close();
        let _ = tokio::time::timeout(STOP_GRACE, others.wait()).await;
        conversation
    }
}

/// A conversation of its own for one client connection: relayed until all its
/// connections have closed.
async fn lone_conversation(conv: Arc<Conv>, client: TcpStream, peer: SocketAddr) {
    conv.emit(RelayEvent::Started { id: conv.id, peer });
    if conv.start_client(client, peer).await {
        let stop = conv.stop.clone();
        tokio::select! {
            _ = conv.idle() => {}
            _ = stop.cancelled() => {}
        }
    }
    conv.end().await;
}
