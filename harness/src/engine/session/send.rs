//! The messages parley sends. When it plays the server, the fault knobs shape them: odd
//! reply texts, a multi-line greeting, padded data, pauses, pieces written apart — the things a correct
//! client survives and a fragile one does not. A peer that closes while parley is still
//! writing took the first read for the whole message (one that had closed before parley
//! began did not: its next step reports the close).

use crate::rules;
use std::time::Duration;

use super::env::leading_code;
use super::{Session, Stop, dir_from, party};
use crate::engine::conn::SendMark;
use crate::proto::Framing;
use crate::proto::MAIN;
use crate::scenario::Side;
use crate::scenario::duration::human;
use crate::scenario::payload::{MAX_PAYLOAD, Payload};
use crate::scenario::plan::{Expect, Step};

/// Repeats the last line of `bytes` until they are at least `min` long.
pub fn pad_to(mut bytes: Vec<u8>, min: usize) -> Vec<u8> {
    if bytes.len() >= min || bytes.is_empty() {
        return bytes;
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let start = body.iter().rposition(|b| *b == b'\n').map(|p| p + 1).unwrap_or(0);
    let mut line = bytes[start..].to_vec();
    if !line.ends_with(b"\n") {
        line.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(b"\r\n");
    }
    while bytes.len() < min {
        bytes.extend_from_slice(&line);
    }
    bytes
}

pub(super) use crate::scenario::plan::outgoing;

/// How waiting for the peer to read what parley sent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Taken {
    /// Its receive queue was seen empty: it read every byte.
    All,
    /// The kernel cannot tell (another host, the socket is gone) or the peer closed.
    Unknown,
    /// The deadline passed with bytes still unread.
    Late,
}

/// Waits until the peer has read every byte parley sent on the loopback connection
/// `local` ↔ `peer` (its receive queue, read from `/proc`, is empty), it closed, or
/// `deadline`. parley as the server writes each message, and each piece of a split one,
/// only once the client took what came before: what one `recv()` returns is then the
/// same on every run, however late the scheduler runs the client.
///
/// With `or_read`, the other connection's (local, peer) addresses: waiting also ends when
/// the peer has read everything parley sent there (a client that reads a data connection
/// to its end before it reads the replies waits for that end, not for a reply).
pub(super) async fn peer_took_it(
    pid: Option<i32>,
    (local, peer): (std::net::SocketAddr, std::net::SocketAddr),
    or_read: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
    shared: &crate::engine::conn::Shared,
    deadline: tokio::time::Instant,
) -> Taken {
    let unread = |(local, peer)| crate::engine::procfs::unread_by_peer(pid, local, peer);
    let mut poll = Duration::from_micros(200);
    loop {
        match unread((local, peer)) {
            Some(0) => return Taken::All,
            None => return Taken::Unknown,
            Some(_) => {}
        }
        if or_read.is_some_and(|other| unread(other) == Some(0)) {
            return Taken::All;
        }
        if shared.lock().closed() {
            return Taken::Unknown;
        }
        if tokio::time::Instant::now() + poll > deadline {
            return Taken::Late;
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(Duration::from_millis(5));
    }
}

impl Session<'_> {
    pub(super) async fn send(
        &mut self,
        step: &Step,
        conn: &str,
        send: Option<&Payload>,
        expect: &Expect,
    ) -> Result<(), Stop> {
        if self.mirror() {
            let bytes = self.take_unechoed(conn);
            return self.write_message(step, conn, bytes).await;
        }
        let Some(payload) = outgoing(send, expect) else {
            // `Scenario::playable_as` refuses such a scenario before anything runs.
            return Err(Stop::Internal(format!(
                "step {} ({}): parley plays the {} here but the step says only how to check the message",
                step.number,
                step.location,
                self.me.name()
            )));
        };
        let stream = payload
            .stream(&self.env(step))
            .map_err(|e| self.missing(step, e))?;
        let framing = self.conns.get(conn).map(|c| c.framing);
        let raw = matches!(framing, Some(Framing::Raw | Framing::Eof));
        if stream.len() > super::streamed::STREAM_FROM && raw {
            return self.write_stream(step, conn, stream).await;
        }
        if stream.len() > MAX_PAYLOAD as u64 {
            // Only raw bytes and data connections stream; a protocol message is built.
            let f = self.expectation(
                step,
                crate::rules::S_LIMIT,
                format!(
                    "this message is {} bytes, more than a protocol message may be built ({MAX_PAYLOAD} bytes); \
                     only raw messages and data connections stream",
                    stream.len()
                ),
            );
            return Err(Stop::Failed(Box::new(f)));
        }
        let mut bytes = stream.to_vec();
        if self.me == Side::Server {
            if conn == MAIN && self.faults.odd_texts {
                bytes = self.inspector.odd_text(&bytes).unwrap_or(bytes);
            }
            if conn == MAIN && !self.greeted && self.faults.multiline_greeting {
                bytes = self.inspector.multiline(&bytes).unwrap_or(bytes);
            }
            if conn == MAIN && self.faults.pasv_without_parentheses {
                bytes = self.inspector.without_parentheses(&bytes).unwrap_or(bytes);
            }
            if conn != MAIN {
                if let Some(min) = self.faults.pad_data {
                    bytes = pad_to(bytes, min);
                }
            }
        }
        self.write_message(step, conn, bytes).await
    }

    /// Everything the peer sent on `conn` that parley has not echoed yet: what the steps
    /// consumed, and what arrived since (an echo server does not wait for a message to
    /// end: there is no such thing in RFC 862).
    pub(super) fn take_unechoed(&mut self, conn: &str) -> Vec<u8> {
        let Some(c) = self.conns.get_mut(conn) else {
            return Vec::new();
        };
        let mut bytes = std::mem::take(&mut c.unechoed);
        let arrived = std::mem::take(&mut c.shared.lock().buf);
        c.shared.drained.notify_one();
        c.consumed += arrived.len();
        bytes.extend_from_slice(&arrived);
        bytes
    }

    /// Writes one message on `conn`, shaped by the fault knobs when parley is the server,
    /// records it, and lets the inspector follow it.
    pub(super) async fn write_message(
        &mut self,
        step: &Step,
        conn: &str,
        bytes: Vec<u8>,
    ) -> Result<(), Stop> {
        let serving = self.me == Side::Server;
        let mut pause = Duration::ZERO;
        if serving {
            pause += self.faults.reply_delay;
            if conn == MAIN && matches!(leading_code(&bytes), Some(226 | 250)) {
                pause += self.faults.transfer_delay;
            }
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let piece = match self.faults.split_writes {
            Some(n) if serving => n.get(),
            _ => bytes.len().max(1),
        };
        let pieces: Vec<&[u8]> = bytes.chunks(piece).collect();
        let (deadline, wait, _) = self.step_deadline(step);
        if conn == MAIN {
            self.greeted = true;
        }
        let pid = self.opts.program_pid;
        // A connection to close once the first piece is out (see `close_mine`).
        let mut closing = self.close_after_first_piece.take().and_then(|name| {
            let other = self.conns.get_mut(&name)?;
            let addrs = (other.local, other.peer);
            Some((name, other.take_writer()?, addrs))
        });
        let or_read = closing.as_ref().map(|(_, _, addrs)| *addrs);
        let Some(c) = self.conns.get_mut(conn) else {
            return Err(self.not_open(step, conn));
        };
        let shared = c.shared.clone();
        // Serving a program: the message before this one is read first (see `peer_took_it`).
        let waits = serving && pid.is_some();
        if waits && c.last_send.is_some() && !c.reads_late {
            c.reads_late =
                peer_took_it(pid, (c.local, c.peer), or_read, &shared, deadline).await == Taken::Late;
        }
        // Let the inspector follow the message before it goes out, so that the hooks
        // called while writing (`closed_while_sending`) know what is being written.
        let dir = dir_from(self.me);
        let mut ignored = Vec::new();
        self.inspector.inspect(dir, conn, &bytes, &mut ignored);
        // Record before writing: the peer's answer must not appear before what it answers.
        self.recorder.data(conn, party(self.me), &bytes);
        // A peer that had already closed before this message did not cut it short.
        let closed_before = {
            let inbox = shared.lock();
            inbox.closed()
        };
        let mut mark = 0;
        let mut mark_at = self.recorder.elapsed();
        let mut cut_short: Option<usize> = None;
        let mut failure: Option<String> = None;
        let mut written = 0usize;
        // What the peer is known to have read (its receive queue seen empty): a peer that
        // closes after one read is reported with what it read, not what was in flight.
        let mut taken: Option<usize> = None;
        for (i, part) in pieces.iter().enumerate() {
            if i > 0 {
                if !self.faults.write_delay.is_zero() {
                    tokio::time::sleep(self.faults.write_delay).await;
                }
                if !c.reads_late {
                    match peer_took_it(pid, (c.local, c.peer), None, &shared, deadline).await {
                        Taken::All => taken = Some(written),
                        Taken::Late => c.reads_late = true,
                        Taken::Unknown => {}
                    }
                }
                if shared.lock().notice_closed() {
                    cut_short = Some(taken.unwrap_or(written)).filter(|_| !closed_before);
                    break;
                }
            }
            if i + 1 == pieces.len() {
                mark = shared.lock().received;
                mark_at = self.recorder.elapsed();
            }
            let Some(writer) = c.writer() else {
                // The plan check refuses a message after its sender's close.
                return Err(Stop::Internal(format!(
                    "step {}: parley already closed `{conn}`",
                    step.number
                )));
            };
            let wrote =
                tokio::time::timeout_at(deadline, tokio::io::AsyncWriteExt::write_all(writer, part)).await;
            if let Some((name, mut other, _)) = closing.take() {
                self.recorder
                    .push(&name, crate::outcome::EventKind::Close { by: party(self.me) });
                // A peer that reset the connection makes shutdown fail; the close still happened.
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut other).await;
            }
            match wrote {
                Ok(Ok(())) => written += part.len(),
                Ok(Err(e)) => {
                    let closed = matches!(
                        e.kind(),
                        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                    );
                    if closed {
                        // The peer's reset is in the transcript before what parley makes
                        // of it (and before the program's status is decided by it).
                        shared.seen_closed(deadline).await;
                    }
                    if closed && written > 0 {
                        cut_short = Some(taken.unwrap_or(written)).filter(|_| !closed_before);
                    } else {
                        failure = Some(format!("sending {} bytes on `{conn}` failed: {e}", bytes.len()));
                    }
                    break;
                }
                Err(_) => {
                    failure = Some(format!(
                        "could not send {} bytes on `{conn}` within {}: the peer is not reading",
                        bytes.len(),
                        human(wait)
                    ));
                    break;
                }
            }
        }
        c.last_sent = bytes.clone();
        c.last_send = Some(SendMark {
            received_before_last_write: mark,
            before: mark_at,
            bytes: bytes.clone(),
            split: pieces.len() > 1,
        });
        if let Some(done) = cut_short {
            let rule = self.closed_while_sending_rule(step, conn);
            let f = self.expectation(
                step,
                rule,
                format!(
                    "the {} closed `{conn}` after receiving {done} of the {} bytes parley was sending: \
                     it took what one read returned for the whole message",
                    self.me.other().name(),
                    bytes.len()
                ),
            );
            self.push(f, conn);
        }
        if let Some(message) = failure {
            let f = self.expectation(step, rules::S_IO, message).expected(&bytes);
            self.push(f, conn);
            return Err(Stop::Halt);
        }
        if let Some(code) = leading_code(&bytes) {
            self.last_code = Some(code);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_repeats_the_last_line() {
        let out = pad_to(b"a\r\nlast\r\n".to_vec(), 20);
        assert_eq!(out, b"a\r\nlast\r\nlast\r\nlast\r\n".to_vec());
        assert_eq!(pad_to(b"long enough".to_vec(), 4), b"long enough");
    }
}
