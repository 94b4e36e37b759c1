//! One TCP connection of a conversation: a reader task that buffers whatever arrives
//! (and records it as it arrives), and the write half, used by the session.
//!
//! The session never reads the socket itself: it waits on the buffer with a deadline.
//! That keeps the peer from blocking on a full socket while a step waits elsewhere (an
//! FTP server writing a listing while parley reads the control connection), and puts
//! every byte in the transcript at the moment it arrived.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::transcript::Recorder;
use crate::outcome::{EventKind, Party};
use crate::proto::Framing;

/// The most a connection buffers before parley stops reading it (S-LIMIT).
pub const BUFFER_LIMIT: usize = 16 * 1024 * 1024;
/// While a message streams, the reader waits for the session to take what it buffered
/// beyond this many bytes (the peer feels TCP's back-pressure; memory stays flat).
pub const STREAM_PAUSE: usize = 4 * 1024 * 1024;

/// What the reader task has gathered.
#[derive(Debug, Default)]
pub struct Inbox {
    /// Bytes not yet consumed by a step (taken from the front without moving the rest).
    pub buf: bytes::BytesMut,
    /// The peer closed its end.
    pub eof: bool,
    /// The connection failed.
    pub error: Option<String>,
    /// Bytes received in all.
    pub received: usize,
    /// A streamed message is being taken as it arrives (see [`STREAM_PAUSE`]).
    pub streaming: bool,
    /// When the reader recorded the peer's close or the failure, on the transcript's clock.
    pub closed_at: Option<std::time::Duration>,
    /// A step acted on the peer's close or the failure ([`Inbox::notice_closed`]): the
    /// reported transcript shows it. One no step needed — the peer closed after the last
    /// message parley waited for — is left out of it: whether the reader had recorded it
    /// when the conversation ended is timing.
    pub noticed: bool,
}

impl Inbox {
    /// The peer closed its end or the connection failed: nothing more will arrive.
    pub fn closed(&self) -> bool {
        self.eof || self.error.is_some()
    }

    /// [`Inbox::closed`], for a step that acts on the answer: a close it acts on is shown
    /// in the transcript (see [`Inbox::noticed`]).
    pub fn notice_closed(&mut self) -> bool {
        let closed = self.closed();
        self.noticed |= closed;
        closed
    }

    /// More than [`BUFFER_LIMIT`] bytes wait unconsumed: the reader waits until the session
    /// takes some (a body it streams, whose head it had not split off yet when they came)
    /// or reports S-LIMIT (they hold no whole message).
    pub fn overflow(&self) -> bool {
        self.buf.len() > BUFFER_LIMIT
    }
}

/// Shared between the reader task and the session.
#[derive(Debug, Default)]
pub struct Shared {
    /// The buffer.
    pub inbox: Mutex<Inbox>,
    /// Signalled whenever the inbox changes.
    pub changed: Notify,
    /// Signalled when the session took bytes of a streamed message, or stopped streaming.
    pub drained: Notify,
}

impl Shared {
    /// Locks the inbox (a poisoned lock still holds valid bytes).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts or ends taking a message as it arrives: meanwhile the reader keeps no more
    /// than about [`STREAM_PAUSE`] bytes waiting.
    pub fn set_streaming(&self, on: bool) {
        self.lock().streaming = on;
        self.drained.notify_one();
    }

    /// Waits, until `deadline`, for the reader to have seen the peer's close or reset (and
    /// recorded it): a write that failed on the peer's reset learns of it first, and the
    /// transcript and the verdict must not depend on which of the two ran first. A reader
    /// paused for a streamed message reads nothing more: no wait.
    pub async fn seen_closed(&self, deadline: tokio::time::Instant) {
        loop {
            let changed = self.changed.notified();
            if self.lock().notice_closed() || self.must_pause() {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return;
            }
        }
    }

    /// The reader must wait: the buffer is over its limit, or a message streams and enough
    /// of it waits already. Whoever takes bytes from the buffer signals `drained`.
    fn must_pause(&self) -> bool {
        let inbox = self.lock();
        inbox.overflow() || (inbox.streaming && inbox.buf.len() >= STREAM_PAUSE)
    }
}

/// A connection parley holds.
#[derive(Debug)]
pub struct Conn {
    /// Its name in the scenario.
    pub name: String,
    /// The side parley plays on it.
    pub me: Party,
    /// How its incoming bytes are framed.
    pub framing: Framing,
    /// Parley's end.
    pub local: SocketAddr,
    /// The peer's end.
    pub peer: SocketAddr,
    /// The inbox.
    pub shared: Arc<Shared>,
    writer: Option<OwnedWriteHalf>,
    reader: JoinHandle<()>,
    /// Bytes parley sent last on it, for messages.
    pub last_sent: Vec<u8>,
    /// Bytes received so far that steps have consumed.
    pub consumed: usize,
    /// When parley last sent a message on it.
    pub last_send: Option<SendMark>,
    /// Echo, parley as the server: bytes the peer sent that parley has not sent back yet.
    pub unechoed: Vec<u8>,
    /// The peer let a whole step deadline pass without reading what parley sent: parley
    /// no longer waits for it to read one message before writing the next.
    pub reads_late: bool,
}

/// Where parley's last message stood relative to what had been received: anything that
/// arrived before `received_before_last_write` was sent by the peer before it could have
/// seen the whole message.
#[derive(Debug, Clone)]
pub struct SendMark {
    /// Bytes received on the connection just before the last piece was written.
    pub received_before_last_write: usize,
    /// The message.
    pub bytes: Vec<u8>,
    /// Whether it was written in several pieces.
    pub split: bool,
    /// When its last piece began to be written, on the transcript's clock.
    pub before: std::time::Duration,
}

impl Conn {
    /// Takes over `stream`, starting its reader task.
    pub fn start(
        name: &str,
        me: Party,
        framing: Framing,
        stream: TcpStream,
        recorder: Recorder,
    ) -> std::io::Result<Conn> {
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr()?;
        let peer = stream.peer_addr()?;
        let (mut read, write) = stream.into_split();
        let shared = Arc::new(Shared::default());
        let task_shared = Arc::clone(&shared);
        let conn_name = name.to_string();
        let them = match me {
            Party::Client => Party::Server,
            Party::Server => Party::Client,
        };
        let reader = tokio::spawn(async move {
            let mut chunk = vec![0u8; 256 * 1024];
            loop {
                while task_shared.must_pause() {
                    task_shared.drained.notified().await;
                }
                match read.read(&mut chunk).await {
                    Ok(0) => {
                        let at = recorder.push(&conn_name, EventKind::Close { by: them });
                        let mut inbox = task_shared.lock();
                        inbox.eof = true;
                        inbox.closed_at = Some(at);
                        drop(inbox);
                        task_shared.changed.notify_one();
                        break;
                    }
                    Ok(n) => {
                        recorder.data(&conn_name, them, &chunk[..n]);
                        let mut inbox = task_shared.lock();
                        inbox.received += n;
                        // Kept even past the limit (then the loop waits, see `must_pause`):
                        // a peer that sends fast may fill it before the session has looked.
                        inbox.buf.extend_from_slice(&chunk[..n]);
                        drop(inbox);
                        task_shared.changed.notify_one();
                    }
                    Err(e) => {
                        let at = recorder.push(
                            &conn_name,
                            EventKind::Error {
                                message: e.to_string(),
                            },
                        );
                        let mut inbox = task_shared.lock();
                        inbox.error = Some(e.to_string());
                        inbox.closed_at = Some(at);
                        drop(inbox);
                        task_shared.changed.notify_one();
                        break;
                    }
                }
            }
        });
        Ok(Conn {
            name: name.to_string(),
            me,
            framing,
            local,
            peer,
            shared,
            writer: Some(write),
            reader,
            last_sent: Vec::new(),
            consumed: 0,
            last_send: None,
            unechoed: Vec::new(),
            reads_late: false,
        })
    }

    /// Writes `bytes` and flushes; `None` after parley closed its end.
    pub fn writer(&mut self) -> Option<&mut OwnedWriteHalf> {
        self.writer.as_mut()
    }

    /// Takes the write half out (a long write runs while the session reads the inbox);
    /// [`Conn::put_writer`] gives it back.
    pub fn take_writer(&mut self) -> Option<OwnedWriteHalf> {
        self.writer.take()
    }

    /// Gives the write half back.
    pub fn put_writer(&mut self, writer: OwnedWriteHalf) {
        self.writer = Some(writer);
    }

    /// Closes parley's end for writing (the peer reads end of file).
    pub async fn shutdown(&mut self) -> std::io::Result<()> {
        match self.writer.take() {
            Some(mut w) => w.shutdown().await,
            None => Ok(()),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;
    use tokio::io::AsyncWriteExt;

    /// A peer that sends more than the limit before the session has looked (nginx's
    /// sendfile does, while the session has yet to split a 64 MiB response's head off):
    /// the reader keeps every byte, waits, and goes on once the session takes them.
    #[tokio::test]
    async fn a_buffer_filled_past_its_limit_before_the_session_looked_loses_nothing() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let total = BUFFER_LIMIT + 4 * 1024 * 1024;
        let sender = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(&vec![b'x'; total]).await.unwrap();
            s.shutdown().await.unwrap();
        });
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let conn = Conn::start("main", Party::Client, Framing::Raw, stream, Recorder::new()).unwrap();
        let shared = conn.shared.clone();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        // Nobody takes anything until the buffer is over its limit.
        while !shared.lock().overflow() {
            let changed = shared.changed.notified();
            if shared.lock().overflow() {
                break;
            }
            tokio::time::timeout_at(deadline, changed)
                .await
                .expect("the buffer passes its limit");
        }
        assert!(!shared.lock().closed(), "the reader waits with the rest unread");
        let mut taken = 0;
        loop {
            let changed = shared.changed.notified();
            {
                let mut inbox = shared.lock();
                let n = inbox.buf.len();
                inbox.buf.advance(n);
                taken += n;
                if inbox.eof && inbox.buf.is_empty() {
                    break;
                }
            }
            shared.drained.notify_one();
            tokio::time::timeout_at(deadline, changed)
                .await
                .unwrap_or_else(|_| panic!("the reader goes on once drained: {taken} of {total} taken"));
        }
        assert_eq!(taken, total);
        sender.await.unwrap();
    }
}
