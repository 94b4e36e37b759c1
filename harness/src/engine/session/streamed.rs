//! Large messages, streamed: a raw message or a data connection's contents is checked as
//! its bytes arrive ([`StreamMatch`]) instead of being buffered whole, and a large
//! payload is written as it is generated. While parley writes one, it reads and checks
//! the peer's answer to it at the same time (an echo server sends back while parley still
//! sends), so a conversation never deadlocks on parley's own buffers and memory stays
//! flat whatever the size.

use std::time::Duration;

use bytes::Buf;
use tokio::io::AsyncWriteExt;

use super::{Session, Stop, after_sending, dir_from, party};
use crate::engine::conn::{Inbox, Shared};
use crate::engine::stream::{StreamEnd, StreamMatch, StreamWanted};
use crate::finding::Finding;
use crate::proto::{Framing, MAIN};
use crate::rules;
use crate::scenario::Side;
use crate::scenario::duration::human;
use crate::scenario::payload::ByteStream;
use crate::scenario::plan::{Action, Expect, Step};

/// Messages larger than this are streamed rather than built whole (sent) or buffered
/// whole (received raw).
pub const STREAM_FROM: u64 = 64 * 1024;
/// The most bytes written in one piece of a streamed message.
const PIECE: usize = 256 * 1024;

/// A peer's message checked while parley still sent what it answers.
#[derive(Debug)]
pub(super) struct PendingStream {
    /// The step that receives it.
    pub(super) step: usize,
    pub(super) matched: StreamMatch,
}

impl Session<'_> {
    /// Whether `step`'s message on `conn` is checked as it streams in, and how: a raw or
    /// data connection, checked only by exact bytes, a length, or needles; `None` when
    /// it is buffered whole (small raw messages, regexes, captures, protocol framing).
    pub(super) fn stream_plan(
        &self,
        step: &Step,
        conn: &str,
        expect: &Expect,
    ) -> Result<Option<(StreamWanted, StreamEnd)>, Stop> {
        let Some(c) = self.conns.get(conn) else {
            return Ok(None);
        };
        let end = match c.framing {
            Framing::Raw => StreamEnd::Expected,
            Framing::Eof => StreamEnd::Eof,
            Framing::Line | Framing::Protocol => return Ok(None),
        };
        let other = expect.regex.is_some() || expect.reads_the_protocol();
        if other || !step.captures.is_empty() || step.no_connection.is_some() || self.mirror() {
            return Ok(None);
        }
        let env = self.env(step);
        let exact = match expect.literal.as_ref().or(expect.exact.as_ref()) {
            Some(p) => Some(p.stream(&env).map_err(|e| self.missing(step, e))?),
            None => None,
        };
        let render = |p: &Option<crate::scenario::payload::Payload>| -> Result<Option<Vec<u8>>, Stop> {
            match p {
                Some(p) => p.render(&env).map(Some).map_err(|e| self.missing(step, e)),
                None => Ok(None),
            }
        };
        let wanted = StreamWanted {
            exact,
            len: expect.len.map(|n| n as u64),
            contains: render(&expect.contains)?,
            not_contains: render(&expect.not_contains)?,
        };
        // Small raw messages keep the buffered path: its framing and reports are exact.
        let size = wanted
            .exact
            .as_ref()
            .map(ByteStream::len)
            .or(wanted.len)
            .unwrap_or(0);
        if end == StreamEnd::Expected && size <= STREAM_FROM {
            return Ok(None);
        }
        Ok(Some((wanted, end)))
    }

    /// Receives `step`'s message on `conn` as it streams in (continuing what was checked
    /// while parley sent), then judges it like any message.
    pub(super) async fn receive_streamed(
        &mut self,
        step: &Step,
        conn: &str,
        from: Side,
        wanted: StreamWanted,
        end: StreamEnd,
    ) -> Result<(), Stop> {
        let mut m = match self.pending_stream.take() {
            Some(p) if p.step == step.number => p.matched,
            _ => StreamMatch::new(wanted.clone(), end),
        };
        let (deadline, wait, scenario_wide) = self.step_deadline(step);
        let dir = dir_from(from);
        let Some(c) = self.conns.get(conn) else {
            return Err(self.not_open(step, conn));
        };
        let shared = c.shared.clone();
        let last_sent = c.last_sent.clone();
        let describe = describe(&wanted, end);
        shared.set_streaming(true);
        let _streaming = Streaming(&shared);
        loop {
            let mut stalled: Option<String> = None;
            let mut complete = false;
            {
                let mut inbox = shared.lock();
                feed_from(&shared, &mut inbox, &mut m);
                if m.is_done() {
                    complete = true;
                } else if let Some(e) = inbox.error.clone() {
                    inbox.noticed = true;
                    stalled = Some(format!("the connection `{conn}` failed ({e})"));
                } else if inbox.eof && inbox.buf.is_empty() {
                    inbox.noticed = true;
                    if end == StreamEnd::Eof {
                        complete = true;
                    } else {
                        stalled = Some(format!("the {} closed `{conn}`", from.name()));
                    }
                }
            }
            if let Some(how) = stalled {
                let got = m.sample();
                let (rule, why) = self.stalled_rule(step, dir, conn, &got, true);
                let f = self
                    .expectation(
                        step,
                        rule,
                        format!(
                            "{how} while parley waited for {describe}{}; got {} bytes{why}",
                            after_sending(&last_sent),
                            m.consumed
                        ),
                    )
                    .actual(&got);
                self.push(f, conn);
                return Err(Stop::Halt);
            }
            if complete {
                break;
            }
            tokio::select! {
                _ = shared.changed.notified() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    let got = m.sample();
                    let whose = if scenario_wide { "the scenario's timeout of " } else { "" };
                    let (rule, why) = self.stalled_rule(step, dir, conn, &got, false);
                    let f = self
                        .expectation(
                            step,
                            rule,
                            format!(
                                "waited {whose}{} for {describe} from the {} on `{conn}`{}; got {} bytes{why}",
                                human(wait),
                                from.name(),
                                after_sending(&last_sent),
                                m.consumed
                            ),
                        )
                        .actual(&got);
                    self.push(f, conn);
                    return Err(Stop::Halt);
                }
            }
        }
        if end == StreamEnd::Eof && conn != MAIN {
            self.close_after_peer(conn).await;
        }
        if let Some(c) = self.conns.get_mut(conn) {
            c.consumed += usize::try_from(m.consumed).unwrap_or(usize::MAX);
        }
        // The protocol judges the message by its head (the first MiB).
        let (view, explained) = self.judge_arrival(step, conn, dir, &m.head, None).await?;
        let mismatches = m.mismatches();
        if !explained {
            for mm in mismatches {
                let f = self
                    .expectation(
                        step,
                        self.step_rule(step),
                        format!("the {} sent something else: {}", from.name(), mm.message),
                    )
                    .expected_text(mm.expected)
                    .actual_text(mm.actual);
                self.push(f, conn);
            }
        }
        self.remember(&view);
        Ok(())
    }

    /// Writes a large message as it is generated, in the fault knobs' pieces when parley
    /// plays the server. Meanwhile it reads the connection: when the next step is the
    /// peer's answer on it (an echo), that answer is checked as it comes, so neither side
    /// waits on the other's buffers.
    pub(super) async fn write_stream(
        &mut self,
        step: &Step,
        conn: &str,
        payload: ByteStream,
    ) -> Result<(), Stop> {
        let serving = self.me == Side::Server;
        let piece = match self.faults.split_writes {
            Some(n) if serving => n.get().min(PIECE),
            _ => PIECE,
        };
        let delay = if serving {
            self.faults.write_delay
        } else {
            Duration::ZERO
        };
        if serving && !self.faults.reply_delay.is_zero() {
            tokio::time::sleep(self.faults.reply_delay).await;
        }
        // The peer's answer, when the next step is it: checked while writing.
        let mut answer = self.next_answer(step, conn)?;
        let (deadline, wait, _) = self.step_deadline(step);
        let Some(c) = self.conns.get_mut(conn) else {
            return Err(self.not_open(step, conn));
        };
        let shared = c.shared.clone();
        let Some(mut writer) = c.take_writer() else {
            return Err(Stop::Internal(format!(
                "step {}: parley already closed `{conn}`",
                step.number
            )));
        };
        let total = payload.len();
        let mut cursor = payload.cursor();
        let streaming = answer.as_ref().map(|_| {
            shared.set_streaming(true);
            Streaming(&shared)
        });
        let mut written: u64 = 0;
        let mut failure: Option<String> = None;
        let mut cut_short = false;
        let mut first = true;
        // A peer that had already closed before this message did not cut it short.
        let closed_before = {
            let inbox = shared.lock();
            inbox.closed()
        };
        'pieces: loop {
            // A slice of the payload itself: written without a copy.
            let chunk = cursor.next(&payload, piece);
            if chunk.is_empty() {
                break;
            }
            if !closed_before && written > 0 && shared.lock().eof {
                shared.lock().noticed = true;
                cut_short = true;
                break;
            }
            if !first && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            first = false;
            self.recorder.data(conn, party(self.me), chunk);
            let mut at = 0;
            while at < chunk.len() {
                tokio::select! {
                    biased;
                    n = writer.write(&chunk[at..]) => match n {
                        Ok(0) => {
                            failure = Some(format!("the connection `{conn}` took no more bytes after {written}"));
                            break 'pieces;
                        }
                        Ok(n) => {
                            at += n;
                            written += n as u64;
                        }
                        Err(e) => {
                            let closed = matches!(
                                e.kind(),
                                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                            );
                            if closed && written > 0 && !closed_before {
                                cut_short = true;
                            } else {
                                failure = Some(format!(
                                    "sending {total} bytes on `{conn}` failed after {written} bytes: {e}"
                                ));
                            }
                            break 'pieces;
                        }
                    },
                    _ = shared.changed.notified() => {}
                    _ = tokio::time::sleep_until(deadline) => {
                        failure = Some(format!(
                            "could not send {total} bytes on `{conn}` within {}: the {} stopped reading after {written} bytes",
                            human(wait),
                            self.me.other().name()
                        ));
                        break 'pieces;
                    }
                }
                // What came meanwhile is the peer's answer: check it now, keeping the
                // buffer small (an echo server only sends while it is read).
                if let Some(p) = answer.as_mut() {
                    feed_from(&shared, &mut shared.lock(), &mut p.matched);
                }
            }
        }
        let _ = writer.flush().await;
        if let Some(c) = self.conns.get_mut(conn) {
            c.put_writer(writer);
            let mut head = Vec::new();
            payload.cursor().fill(&payload, &mut head, 64);
            c.last_sent = head;
        }
        if let Some(p) = answer.as_mut() {
            // What the peer sent before it stopped taking bytes is its answer so far.
            feed_from(&shared, &mut shared.lock(), &mut p.matched);
        }
        drop(streaming);
        self.pending_stream = answer;
        if cut_short {
            // Like a short message cut short: the peer closed while parley still sent;
            // the next step judges what it had answered by then.
            let rule = self.closed_while_sending_rule(step, conn);
            let f = self.expectation(
                step,
                rule,
                format!(
                    "the {} closed `{conn}` while parley was sending {total} bytes, {written} of them written by then",
                    self.me.other().name()
                ),
            );
            self.push(f, conn);
            return Ok(());
        }
        if let Some(message) = failure {
            let f: Finding = self.expectation(step, rules::S_IO, message);
            self.push(f, conn);
            return Err(Stop::Halt);
        }
        Ok(())
    }

    /// The peer's answer to a message parley is about to send on `conn`, when the step
    /// after `step` is that answer and it streams.
    fn next_answer(&self, step: &Step, conn: &str) -> Result<Option<PendingStream>, Stop> {
        let Some(next) = self.scenario.steps.get(step.number) else {
            return Ok(None);
        };
        let Action::Message {
            from,
            conn: on,
            expect,
            ..
        } = &next.action
        else {
            return Ok(None);
        };
        if *from == self.me || on != conn || next.when.is_some() || !next.branch.is_empty() {
            return Ok(None);
        }
        Ok(self
            .stream_plan(next, conn, expect)?
            .map(|(wanted, end)| PendingStream {
                step: next.number,
                matched: StreamMatch::new(wanted, end),
            }))
    }
}

/// Feeds `m` the bytes of `inbox` that belong to its message, and tells the reader that
/// room was made (it pauses while a streamed message waits, see `STREAM_PAUSE`).
pub(super) fn feed_from(shared: &Shared, inbox: &mut Inbox, m: &mut StreamMatch) {
    let take = m.wants(inbox.buf.len());
    if take > 0 {
        let used = m.feed(&inbox.buf[..take]);
        inbox.buf.advance(used);
        shared.drained.notify_one();
    }
}

/// Streaming on a connection until dropped (whichever way the step ends).
pub(super) struct Streaming<'a>(pub(super) &'a Shared);

impl Drop for Streaming<'_> {
    fn drop(&mut self) {
        self.0.set_streaming(false);
    }
}

/// What a streamed step waits for, in words.
fn describe(wanted: &StreamWanted, end: StreamEnd) -> String {
    match (end, &wanted.exact, wanted.len) {
        (StreamEnd::Expected, Some(e), _) => format!("{} bytes", e.len()),
        (StreamEnd::Expected, None, Some(n)) => format!("{n} bytes"),
        (StreamEnd::Expected, None, None) => "bytes".to_string(),
        (StreamEnd::Eof, _, _) => "the end of the data (the peer closing the connection)".to_string(),
    }
}
