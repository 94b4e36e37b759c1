//! The peer's messages: wait for a whole message (framing), judge it against the RFC
//! rules whatever the step's matchers say, check the matchers, and set variables.
//!
//! Two things only parley-as-server sees: a message that arrived before parley had
//! finished sending the one it answers (the peer did not wait for it: pipelining, a
//! partial reply taken for the whole), and — with `answers:` — FTP commands the scenario
//! does not expect, which parley answers like a real server before waiting on.

use super::{Session, Stop, after_sending, got_tail};
use crate::engine::conn::BUFFER_LIMIT;
use crate::engine::matcher::{self, Wanted};
use crate::finding::Finding;
use crate::outcome::EventKind;
use crate::proto::{Dir, Frame, MAIN, MessageView, Scan, StreamedBody};
use crate::rules;
use crate::rules::RuleId;
use crate::scenario::Side;
use crate::scenario::duration::human;
use crate::scenario::plan::{Action, Expect, Step};
use std::time::Duration;

/// A whole message, whether it came too early (the rule and why), and — when the
/// message's body streams — its head alone and how its body follows.
type Received = (Vec<u8>, Option<Premature>, Option<StreamedBody>);

/// A message of the peer that began arriving before parley began the last write of its
/// own previous message: the rule that breaks, why, and when that write began (the
/// conversation failed no later than that, however late the message is judged).
pub(super) struct Premature {
    rule: RuleId,
    why: String,
    before: Duration,
}

/// How many unexpected commands parley answers while waiting for one step.
const MAX_ANSWERS: usize = 64;

fn with_expected(f: Finding, wanted: &Wanted<'_>) -> Finding {
    match wanted.literal.as_ref().or(wanted.exact.as_ref()) {
        Some(bytes) => f.expected(bytes),
        None => f,
    }
}

impl Session<'_> {
    pub(super) async fn receive(
        &mut self,
        step: &Step,
        conn: &str,
        from: Side,
        expect: &Expect,
    ) -> Result<(), Stop> {
        if self.prefetched.as_ref().is_none_or(|p| p.conn != conn) {
            if let Some((wanted, end)) = self.stream_plan(step, conn, expect)? {
                return self.receive_streamed(step, conn, from, wanted, end).await;
            }
        }
        let stream_from = self.body_stream_from(step, conn, expect);
        // A body that may stream is rendered only once the message is buffered whole.
        let mut wanted = match stream_from {
            Some(_) => Wanted::render_all_but_body(expect, &self.env(step)),
            None => Wanted::render(expect, &self.env(step)),
        }
        .map_err(|e| self.missing(step, e))?;
        let dir = super::dir_from(from);
        let (msg, view, explained) = match self.prefetched.take() {
            // The message that chose this step's alternative of a `one_of`.
            Some(p) if p.conn == conn => (p.msg, p.view, false),
            other => {
                self.prefetched = other;
                let mut answered = 0;
                loop {
                    let Some((msg, premature, streamed)) = self
                        .next_message_watching(step, conn, from, &wanted, stream_from)
                        .await?
                    else {
                        // `or_close`: the peer closed instead, which the step allows. No reply
                        // came, so nothing that depends on one runs after it.
                        self.last_code = None;
                        return Ok(());
                    };
                    if let Some(body) = streamed {
                        return self
                            .receive_streamed_body(step, conn, from, expect, &wanted, msg, body, premature)
                            .await;
                    }
                    wanted
                        .render_body(expect, &self.env(step))
                        .map_err(|e| self.missing(step, e))?;
                    let (view, explained) = self.judge_arrival(step, conn, dir, &msg, premature).await?;
                    let matches =
                        matcher::check(&wanted, self.inspector.as_ref(), dir, &msg, &view).is_empty();
                    // A message that breaks no rule but is not the one expected: as a server,
                    // parley answers it the way the scenario or the protocol says and waits on.
                    if !matches && !explained && answered < MAX_ANSWERS {
                        if let Some(answer) = self.answer_for(step, conn, &msg, &[&wanted])? {
                            answered += 1;
                            self.remember(&view);
                            self.write_message(step, conn, answer).await?;
                            continue;
                        }
                    }
                    break (msg, view, explained);
                }
            }
        };
        // (The message that chose a `one_of` alternative is whole too.)
        wanted
            .render_body(expect, &self.env(step))
            .map_err(|e| self.missing(step, e))?;
        let mismatches = matcher::check(&wanted, self.inspector.as_ref(), dir, &msg, &view);
        // An RFC error on the message already says why it is not what the step expects:
        // the matchers' mismatch is its consequence, not a second finding.
        if explained && !mismatches.is_empty() {
            self.remember(&view);
            return Ok(());
        }
        for m in mismatches {
            let f = self
                .expectation(
                    step,
                    self.step_rule(step),
                    format!("the {} sent something else: {}", from.name(), m.message),
                )
                .expected_text(m.expected)
                .actual_text(m.actual);
            self.push(f, conn);
        }
        self.remember(&view);
        self.capture(step, conn, &msg, &view);
        if self.mirror() {
            if let Some(c) = self.conns.get_mut(conn) {
                c.unechoed.extend_from_slice(&msg);
            }
        }
        Ok(())
    }

    /// A whole message arrived from the peer for `step`: the RFC checks on it (whatever
    /// the step's matchers say), the timing verdict, and — parley as a server — a data
    /// address it refuses to connect to. Returns the protocol's view and whether an error
    /// finding already explains the message.
    pub(super) async fn judge_arrival(
        &mut self,
        step: &Step,
        conn: &str,
        dir: Dir,
        msg: &[u8],
        premature: Option<Premature>,
    ) -> Result<(MessageView, bool), Stop> {
        self.judge_arrival_of(step, conn, dir, msg, None, premature).await
    }

    /// [`Self::judge_arrival`] of a whole message (`body_len` `None`), or of a head whose
    /// body of `body_len` bytes streams apart ([`crate::proto::Codec::inspect_head`]).
    pub(super) async fn judge_arrival_of(
        &mut self,
        step: &Step,
        conn: &str,
        dir: Dir,
        msg: &[u8],
        body_len: Option<u64>,
        premature: Option<Premature>,
    ) -> Result<(MessageView, bool), Stop> {
        let mut found = Vec::new();
        let view = match body_len {
            Some(n) => self.inspector.inspect_head(dir, conn, msg, n, &mut found),
            None => self.inspector.inspect(dir, conn, msg, &mut found),
        };
        self.received_at
            .insert(conn.to_string(), (step.number, step.location.to_string()));
        let explained = found.iter().any(Finding::is_error);
        for mut f in found {
            f.step = Some(step.number);
            f.location = Some(step.location.to_string());
            self.push(f, conn);
        }
        if let Some(p) = premature {
            let f = self.finding(step, p.rule, p.why).actual(msg);
            if f.is_error() {
                // Judged only when a step consumes it, maybe long after it came; what the
                // peer did after `before` (giving up on parley's late reply) is not asked.
                self.failed_by(p.before);
            }
            self.push(f, conn);
        }
        // parley as a server never connects to another host or a privileged port for the
        // client it grades: the announcement is refused, and the run ends.
        if self.me == Side::Server && conn == MAIN && !explained {
            let peer = self.conns.get(MAIN).map(|c| c.peer);
            if let Some(refusal) = peer.and_then(|p| self.inspector.refuse_data_address(msg, p)) {
                let f = self.expectation(step, refusal.rule, refusal.message).actual(msg);
                self.push(f, conn);
                self.write_message(step, conn, refusal.reply).await?;
                return Err(Stop::Halt);
            }
        }
        Ok((view, explained))
    }

    /// Chooses the alternative of `one_of` group `group` by the peer's next message: the
    /// first alternative whose first step matches it. The message is kept for that step
    /// ([`Prefetched`](super::Prefetched)); commands no alternative scripts are answered
    /// as [`Self::receive`] answers them; a message no alternative expects fails the
    /// group's first step.
    pub(super) async fn choose_by_message(&mut self, group: usize) -> Result<usize, Stop> {
        let scenario = self.scenario;
        let heads = scenario.group_heads(group);
        let Some(first) = heads.first().copied() else {
            return Ok(0);
        };
        let Action::Message { from, conn, .. } = &first.action else {
            return Ok(0);
        };
        let (from, conn) = (*from, conn.as_str());
        let mut wanteds = Vec::with_capacity(heads.len());
        for head in &heads {
            let Action::Message { expect, .. } = &head.action else {
                return Ok(0);
            };
            wanteds.push(Wanted::render(expect, &self.env(head)).map_err(|e| self.missing(head, e))?);
        }
        let dir = super::dir_from(from);
        self.ensure_main(first, conn).await?;
        let mut answered = 0;
        loop {
            let before = self.findings.len();
            let Some((msg, premature, _)) = self
                .next_message_watching(first, conn, from, &Wanted::default(), None)
                .await?
            else {
                // The peer closed, which the first alternative's step allows (`or_close`):
                // that step sees the close itself.
                return Ok(0);
            };
            let (view, explained) = self.judge_arrival(first, conn, dir, &msg, premature).await?;
            if explained {
                return Err(Stop::Halt);
            }
            let chosen = wanteds
                .iter()
                .position(|w| matcher::check(w, self.inspector.as_ref(), dir, &msg, &view).is_empty());
            if let Some(k) = chosen {
                // What was found about the message belongs to the step it chose.
                let head = heads[k];
                for f in &mut self.findings[before..] {
                    f.step = Some(head.number);
                    f.location = Some(head.location.to_string());
                }
                self.received_at
                    .insert(conn.to_string(), (head.number, head.location.to_string()));
                self.prefetched = Some(super::Prefetched {
                    conn: conn.to_string(),
                    msg,
                    view,
                });
                return Ok(k);
            }
            if answered < MAX_ANSWERS {
                let all: Vec<&Wanted<'_>> = wanteds.iter().collect();
                if let Some(answer) = self.answer_for(first, conn, &msg, &all)? {
                    answered += 1;
                    self.remember(&view);
                    self.write_message(first, conn, answer).await?;
                    continue;
                }
            }
            let expected: Vec<String> = scenario.groups[group]
                .alternatives
                .iter()
                .zip(&wanteds)
                .map(|(alt, w)| {
                    let what = matcher::check(w, self.inspector.as_ref(), dir, &msg, &view)
                        .into_iter()
                        .next()
                        .map(|m| m.expected)
                        .unwrap_or_default();
                    format!("`{}` begins with {what}", alt.name)
                })
                .collect();
            let f = self
                .expectation(
                    first,
                    self.step_rule(first),
                    format!(
                        "the {} sent something none of the {} alternatives here expects: {}",
                        from.name(),
                        expected.len(),
                        expected.join("; ")
                    ),
                )
                .actual(&msg);
            self.push(f, conn);
            return Err(Stop::Halt);
        }
    }

    pub(super) fn remember(&mut self, view: &MessageView) {
        if let Some(code) = view.code {
            self.last_code = Some(code);
        }
        for (name, value) in &view.vars {
            self.globals.insert(name.clone(), value.clone());
        }
    }

    /// The answer to an unexpected client message, parley playing the server: the
    /// scenario's `answers:` for its keyword, else the protocol's conformant reply
    /// ([`crate::proto::Hooks::default_answer`]), else the scenario's `answers: { "*": ... }`. The
    /// command the step waits for is never answered: it is judged.
    fn answer_for(
        &self,
        step: &Step,
        conn: &str,
        msg: &[u8],
        wanted: &[&Wanted<'_>],
    ) -> Result<Option<Vec<u8>>, Stop> {
        if self.me != Side::Server || conn != MAIN {
            return Ok(None);
        }
        let Some(command) = self.inspector.keyword(msg) else {
            return Ok(None);
        };
        for w in wanted {
            let expected = w.literal.as_deref().or(w.exact.as_deref());
            let expected_keyword = w
                .command
                .map(str::to_string)
                .or_else(|| expected.and_then(|e| self.inspector.keyword(e)));
            if expected_keyword.is_some_and(|k| k.eq_ignore_ascii_case(&command)) {
                return Ok(None);
            }
        }
        let expected = wanted
            .first()
            .and_then(|w| w.literal.as_deref().or(w.exact.as_deref()));
        let table = &self.scenario.answers;
        let render = |payload: &crate::scenario::payload::Payload| {
            payload
                .render(&self.env(step))
                .map(Some)
                .map_err(|e| self.missing(step, e))
        };
        if let Some((_, payload)) = table.iter().find(|(k, _)| k.eq_ignore_ascii_case(&command)) {
            return render(payload);
        }
        if let Some(answer) = self.inspector.default_answer(msg, expected) {
            return Ok(Some(answer));
        }
        match table.iter().find(|(k, _)| k == "*") {
            Some((_, payload)) => render(payload),
            None => Ok(None),
        }
    }

    /// [`Self::next_message`], while watching the listener the step names in
    /// `no_connection:`: a connection there ends the step with a finding.
    async fn next_message_watching(
        &mut self,
        step: &Step,
        conn: &str,
        from: Side,
        wanted: &Wanted<'_>,
        stream_from: Option<u64>,
    ) -> Result<Option<Received>, Stop> {
        let watched = step.no_connection.as_deref();
        let Some(listener) = watched.and_then(|w| self.listeners.remove(w)) else {
            return self.next_message(step, conn, from, wanted, stream_from).await;
        };
        let watched = watched.unwrap_or_default();
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let result = tokio::select! {
            // A connection that arrived with the message counts: it was made first.
            biased;
            accepted = listener.accept() => Err(accepted.map(|(_, peer)| peer.to_string())),
            got = self.next_message(step, conn, from, wanted, stream_from) => Ok(got),
        };
        self.listeners.insert(watched.to_string(), listener);
        match result {
            Ok(got) => got,
            Err(peer) => {
                let by = from.name();
                let how = match peer {
                    Ok(peer) => format!("connected from {peer}"),
                    Err(e) => format!("tried to connect ({e})"),
                };
                let f = self.expectation(
                    step,
                    self.step_rule(step),
                    format!(
                        "the {by} {how} to `{watched}` at {addr}, which no connection may reach: it connected to an address \
                         it should have refused"
                    ),
                );
                self.push(f, watched);
                Err(Stop::Halt)
            }
        }
    }

    /// Waits for one whole message from `from` on `conn`. Also says whether it arrived
    /// before parley had finished its previous message on that connection, and the rule.
    /// `None`: the peer closed (or reset) the connection before sending anything, and the
    /// step allows that (`or_close`). With `stream_from`, a message whose head declares a
    /// body of at least that many bytes is returned as soon as its head is whole: the
    /// head alone, and how its body follows (still on the connection).
    async fn next_message(
        &mut self,
        step: &Step,
        conn: &str,
        from: Side,
        wanted: &Wanted<'_>,
        stream_from: Option<u64>,
    ) -> Result<Option<Received>, Stop> {
        let (deadline, wait, scenario_wide) = self.step_deadline(step);
        let dir = super::dir_from(from);
        let Some(c) = self.conns.get(conn) else {
            return Err(self.not_open(step, conn));
        };
        let framing = c.framing;
        let shared = c.shared.clone();
        let last_sent = c.last_sent.clone();
        // Each look at the buffer resumes where the last one stopped: the reader only
        // appends to it, and bytes leave its front only when this message is complete.
        let mut scan = Scan::default();
        let mut streamed = None;
        loop {
            let mut complete: Option<(Vec<u8>, bool)> = None;
            'locked: {
                let mut inbox = shared.lock();
                let framer = matcher::Framer {
                    framing,
                    wanted,
                    inspector: self.inspector.as_ref(),
                    dir,
                    conn,
                };
                // Framed without the end of file first: a message the peer's close ended
                // is one a step acted on the close for (`Inbox::noticed`).
                let mut decision = framer.frame(&inbox.buf, false, &mut scan);
                if inbox.eof && decision == Frame::Partial {
                    decision = framer.frame(&inbox.buf, true, &mut scan);
                    inbox.noticed |= decision != Frame::Partial;
                }
                // A body that streams does so however much of it has arrived already.
                if let Some(body) =
                    stream_from.and_then(|from| self.inspector.streamed_body(dir, conn, &scan, from))
                {
                    // The reader keeps the buffer small from now on.
                    inbox.streaming = true;
                    complete = Some((inbox.buf.split_to(body.head_len).to_vec(), false));
                    streamed = Some(body);
                    break 'locked;
                }
                if let Frame::Complete(n) = decision {
                    let n = n.min(inbox.buf.len());
                    let msg: Vec<u8> = inbox.buf.split_to(n).to_vec();
                    complete = Some((msg, inbox.eof && inbox.buf.is_empty()));
                    break 'locked;
                }
                if inbox.overflow() {
                    let got = inbox.buf[..inbox.buf.len().min(256)].to_vec();
                    drop(inbox);
                    let f = self
                        .expectation(
                            step,
                            rules::S_LIMIT,
                            format!(
                                "the {} sent more than {} MiB on `{conn}` without completing {}",
                                from.name(),
                                BUFFER_LIMIT / (1024 * 1024),
                                wanted.describe(framing)
                            ),
                        )
                        .actual(&got);
                    self.push(f, conn);
                    return Err(Stop::Halt);
                }
                let closed = inbox.notice_closed();
                if closed && step.or_close && inbox.buf.is_empty() {
                    return Ok(None);
                }
                if closed {
                    let how = match &inbox.error {
                        Some(e) => format!("the connection `{conn}` failed ({e})"),
                        None => format!("the {} closed `{conn}`", from.name()),
                    };
                    let got = std::mem::take(&mut inbox.buf).to_vec();
                    drop(inbox);
                    let (rule, why) = self.stalled_rule(step, dir, conn, &got, true);
                    let f = self.expectation(
                        step,
                        rule,
                        format!(
                            "{how} while parley waited for {}{}; got {} bytes{}{why}",
                            wanted.describe(framing),
                            after_sending(&last_sent),
                            got.len(),
                            got_tail(&got)
                        ),
                    );
                    let f = with_expected(f, wanted).actual(&got);
                    self.push(f, conn);
                    return Err(Stop::Halt);
                }
            }
            if let Some((msg, drained)) = complete {
                // The reader may wait for room (`Inbox::overflow`).
                shared.drained.notify_one();
                if drained && conn != MAIN {
                    self.close_after_peer(conn).await;
                }
                let premature = self.judge_timing(conn, dir, &msg);
                return Ok(Some((msg, premature, streamed)));
            }
            tokio::select! {
                _ = shared.changed.notified() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    let got = shared.lock().buf.to_vec();
                    let whose = if scenario_wide { "the scenario's timeout of " } else { "" };
                    let (rule, why) = self.stalled_rule(step, dir, conn, &got, false);
                    let f = self.expectation(
                        step,
                        rule,
                        format!(
                            "waited {whose}{} for {} from the {} on `{conn}`{}; got {} bytes{}{why}",
                            human(wait),
                            wanted.describe(framing),
                            from.name(),
                            after_sending(&last_sent),
                            got.len(),
                            got_tail(&got)
                        ),
                    );
                    let f = with_expected(f, wanted).actual(&got);
                    self.push(f, conn);
                    return Err(Stop::Halt);
                }
            }
        }
    }

    /// The peer closed data connection `conn` and everything it sent is read: parley
    /// closes its end too, as real clients do (proftpd sends its 226 only once the client
    /// has closed the data connection after the end of file).
    /// Only an FTP data connection, or one whose messages end with the end of file: a
    /// named connection of echo or HTTP the peer closed stays parley's to write on or
    /// close as the scenario says.
    pub(super) async fn close_after_peer(&mut self, conn: &str) {
        let ftp = self.scenario.protocol == crate::proto::Protocol::Ftp;
        if let Some(c) = self.conns.get_mut(conn) {
            if (ftp || c.framing == crate::proto::Framing::Eof) && c.writer().is_some() {
                // parley acts on the peer's close: the transcript shows it.
                c.shared.lock().noticed = true;
                self.recorder.push(
                    conn,
                    EventKind::Close {
                        by: super::party(self.me),
                    },
                );
                let _ = c.shutdown().await;
            }
        }
    }

    /// Did `msg`, just consumed from `conn`, start arriving before parley began the last
    /// write of its previous message there? Then the peer did not wait for that message.
    fn judge_timing(&mut self, conn: &str, dir: Dir, msg: &[u8]) -> Option<Premature> {
        let c = self.conns.get_mut(conn)?;
        let start = c.consumed;
        c.consumed += msg.len();
        let mark = c.last_send.as_ref()?;
        if start >= mark.received_before_last_write {
            return None;
        }
        let (rule, why) = self
            .inspector
            .premature(dir, conn, msg, &mark.bytes, mark.split)?;
        Some(Premature {
            rule,
            why,
            before: mark.before,
        })
    }

    /// The rule a message that never completed breaks, and the protocol's reason: the
    /// step's own rule, else (on a connection other than `main`) what the peer's unread
    /// bytes on `main` say, else the protocol's judgement of the partial bytes, else (at
    /// end of file) the protocol's early-close rule, else the step's default.
    pub(super) fn stalled_rule(
        &self,
        step: &Step,
        dir: Dir,
        conn: &str,
        got: &[u8],
        eof: bool,
    ) -> (RuleId, String) {
        if let Some(rule) = self.own_rule(step) {
            return (rule, String::new());
        }
        // What the same peer already sent on `main` may explain a data connection that
        // never completed (an FTP 226 while it is still open).
        if conn != MAIN {
            let main_unread = self
                .conns
                .get(MAIN)
                .map(|c| c.shared.lock().buf.to_vec())
                .unwrap_or_default();
            if let Some((rule, why)) = self.inspector.stalled_beside(dir, conn, got, &main_unread) {
                return (rule, format!(" — {why}"));
            }
        }
        if !got.is_empty() {
            if let Some((rule, why)) = self.inspector.incomplete(dir, conn, got) {
                return (rule, format!(" — {why}"));
            }
        }
        if eof {
            if let Some(rule) = self.inspector.early_close_rule(dir, conn) {
                return (rule, String::new());
            }
        }
        (self.step_rule(step), String::new())
    }

    fn capture(&mut self, step: &Step, conn: &str, msg: &[u8], view: &MessageView) {
        for c in &step.captures {
            let source: Option<Vec<u8>> = if let Some(h) = &c.header {
                view.header(h).map(|v| v.as_bytes().to_vec())
            } else if let Some(pointer) = &c.json {
                view.body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                    .and_then(|v| v.pointer(pointer).cloned())
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.into_bytes(),
                        other => other.to_string().into_bytes(),
                    })
            } else {
                Some(msg.to_vec())
            };
            let value = source.and_then(|bytes| match &c.regex {
                None => Some(bytes),
                Some(re) => re.captures(&bytes).map(|caps| {
                    caps.get(1)
                        .or_else(|| caps.get(0))
                        .map(|m| m.as_bytes().to_vec())
                        .unwrap_or_default()
                }),
            });
            match value {
                Some(v) => {
                    self.globals
                        .insert(c.name.clone(), String::from_utf8_lossy(&v).into_owned());
                }
                None => {
                    let from = match (&c.header, &c.json, &c.regex) {
                        (Some(h), _, _) => format!("header `{h}`"),
                        (_, Some(p), _) => format!("JSON pointer `{p}` of the body"),
                        (_, _, Some(re)) => format!("/{}/", re.as_str()),
                        _ => "the message".to_string(),
                    };
                    let f = self.expectation(
                        step,
                        self.step_rule(step),
                        format!("could not capture `{}`: the message does not have {from}", c.name),
                    );
                    self.push(f.actual(msg), conn);
                }
            }
        }
    }
}
