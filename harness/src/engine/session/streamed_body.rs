//! Large bodies checked as they stream in: once the head of a message that declares a
//! body of at least [`STREAM_BODY_FROM`] bytes is whole (an HTTP response with a large
//! Content-Length), the head is judged alone ([`crate::proto::Codec::inspect_head`]) and
//! the body is compared with the step's `body:` and `body_len:` piece by piece
//! ([`StreamMatch`]), so a 1 GiB body costs parley the head and tail it keeps for the
//! report, not a gigabyte. Steps whose matchers need the whole body at once (`json`,
//! `json_at`, `regex`, raw `exact`/`contains`, captures) keep the buffered path, up to
//! its limit.

use super::receive::Premature;
use super::streamed::{Streaming, feed_from};
use super::{Session, Stop, after_sending, dir_from};
use crate::engine::matcher::{self, Wanted};
use crate::engine::stream::{HEAD, StreamMatch, StreamWanted};
use crate::proto::{Framing, StreamedBody};
use crate::scenario::Side;
use crate::scenario::duration::human;
use crate::scenario::plan::{Expect, Step};
use crate::visible::visible;

/// Bodies at least this long stream; shorter ones are buffered whole with their head
/// (the report then shows them whole). The head a streamed message keeps: 1 MiB.
pub const STREAM_BODY_FROM: u64 = HEAD as u64;

impl Session<'_> {
    /// The length from which `step`'s message on `conn` may have its body streamed:
    /// `None` when a matcher needs the message or the body whole.
    pub(super) fn body_stream_from(&self, step: &Step, conn: &str, expect: &Expect) -> Option<u64> {
        let c = self.conns.get(conn)?;
        let raw = expect.literal.is_some()
            || expect.exact.is_some()
            || expect.contains.is_some()
            || expect.not_contains.is_some()
            || expect.regex.is_some()
            || expect.len.is_some();
        let whole_body = expect.json.is_some() || !expect.json_at.is_empty();
        let streams = c.framing == Framing::Protocol
            && !raw
            && !whole_body
            && step.captures.is_empty()
            && step.no_connection.is_none()
            && !self.mirror();
        streams.then_some(STREAM_BODY_FROM)
    }

    /// Receives the body of the message whose `head` arrived on `conn` as it streams in,
    /// then judges the message: the head's RFC checks and matchers (code, headers), the
    /// body against `body:` and `body_len:`, and a body that ends before its declared
    /// length.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn receive_streamed_body(
        &mut self,
        step: &Step,
        conn: &str,
        from: Side,
        expect: &Expect,
        wanted: &Wanted<'_>,
        head: Vec<u8>,
        body: StreamedBody,
        premature: Option<Premature>,
    ) -> Result<(), Stop> {
        let Some(c) = self.conns.get(conn) else {
            return Err(self.not_open(step, conn));
        };
        let shared = c.shared.clone();
        let last_sent = c.last_sent.clone();
        // The reader keeps the buffer small since the head was split off; this ends it
        // whichever way the step ends.
        let _streaming = Streaming(&shared);
        let dir = dir_from(from);
        let exact = match &expect.body {
            Some(p) => Some(p.stream(&self.env(step)).map_err(|e| self.missing(step, e))?),
            None => None,
        };
        let body_wanted = StreamWanted {
            exact,
            len: expect.body_len.map(|n| n as u64),
            ..StreamWanted::default()
        };
        let mut m = StreamMatch::framed(body_wanted, body.len, "body");
        let (view, explained) = self
            .judge_arrival_of(step, conn, dir, &head, Some(body.len), premature)
            .await?;
        let (deadline, wait, scenario_wide) = self.step_deadline(step);
        let mut cut: Option<String> = None;
        loop {
            {
                let mut inbox = shared.lock();
                feed_from(&shared, &mut inbox, &mut m);
                if m.is_done() {
                    break;
                }
                if let Some(e) = inbox.error.clone() {
                    inbox.noticed = true;
                    cut = Some(format!("the connection `{conn}` failed ({e})"));
                } else if inbox.eof && inbox.buf.is_empty() {
                    inbox.noticed = true;
                    cut = Some(format!("the {} closed `{conn}`", from.name()));
                }
            }
            if cut.is_some() {
                break;
            }
            tokio::select! {
                _ = shared.changed.notified() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    let whose = if scenario_wide { "the scenario's timeout of " } else { "" };
                    cut = Some(format!("waited {whose}{} on `{conn}`", human(wait)));
                    break;
                }
            }
        }
        if let Some(c) = self.conns.get_mut(conn) {
            c.consumed += usize::try_from(m.consumed).unwrap_or(usize::MAX);
        }
        if let Some(how) = cut {
            let rule = self.own_rule(step).unwrap_or(body.short_rule);
            let f = self
                .expectation(
                    step,
                    rule,
                    format!(
                        "{how} while parley read the {}-byte body from the {}{}: {}",
                        body.len,
                        from.name(),
                        after_sending(&last_sent),
                        body.short(m.consumed)
                    ),
                )
                .actual_text(format!(
                    "{} body bytes, the last: \"{}\"",
                    m.consumed,
                    visible(m.last())
                ));
            self.push(f, conn);
            return Err(Stop::Halt);
        }
        // An RFC error on the head already says why the message is not what the step
        // expects (as for a whole message).
        if !explained {
            let head_wanted = Wanted {
                code: wanted.code,
                method: wanted.method,
                path: wanted.path.clone(),
                command: wanted.command,
                headers: wanted.headers.clone(),
                ..Wanted::default()
            };
            let found = matcher::check(&head_wanted, self.inspector.as_ref(), dir, &head, &view)
                .into_iter()
                .map(|mm| (format!("the {} sent something else", from.name()), mm))
                .chain(
                    m.mismatches()
                        .into_iter()
                        .map(|mm| (format!("the {} sent something else", from.name()), mm)),
                )
                .collect::<Vec<_>>();
            for (what, mm) in found {
                let f = self
                    .expectation(step, self.step_rule(step), format!("{what}: {}", mm.message))
                    .expected_text(mm.expected)
                    .actual_text(mm.actual);
                self.push(f, conn);
            }
        }
        self.remember(&view);
        Ok(())
    }
}
