//! HTTP/1.0 (RFC 1945), with RFC 2616 as the stricter `strict11` profile, sans-I/O: the
//! [`HttpInspector`] frames requests and responses, judges each against the H-* rules of
//! the catalogue, and keeps what a conversation needs to be judged (the request each
//! response answers, how the last message ended, verdicts waiting for what follows).
//!
//! The parts: `head` (where a head ends, its lines and fields), `headers` (field rules,
//! Content-Length), `request` and `response` (start lines and their rules), `body`
//! (framing, chunked decoding), `date` (HTTP dates), `literal` (matching a scenario's
//! literal message). Parsing is lenient where real servers are; every leniency is a
//! finding under its rule id.
//!
//! Rules checked from the bytes here: H-RL-1..7, H-HD-1..7, H-HOST-1/2, H-LEN-1..4,
//! H-LEN-6/7, H-SL-1..5, H-DATE-1..3. Others are behaviour: H-LEN-5 is the peer closing
//! while parley still writes a response ([`Inspector::closed_while_sending`]); H-CONN-1/2
//! are the scenario's `close:` steps, helped by [`Inspector::incomplete`] (a
//! close-delimited response that never ends); H-CONN-3 shows as bytes after a request
//! that said `Connection: close` ([`Inspector::trailing`]).

use crate::rules;
use crate::rules::RuleId;

mod body;
mod date;
mod head;
mod headers;
mod literal;
mod request;
mod response;

/// A body shorter than its Content-Length (H-LEN-2, RFC 1945 §7.2.2), in a request or a
/// response.
fn flag_short_body(rest: &[u8], want: u64, judge: &mut Judge<'_>) {
    judge.flag(
        rules::H_LEN_2,
        format!(
            "got {} of {want} body bytes: Content-Length is larger than the body sent",
            rest.len()
        ),
        rest,
    );
}
/// The header section ends with an empty line (H-HD-3, RFC 1945 §4.1) and every line ends
/// in CRLF, not a bare LF (H-RL-6, RFC 1945 §2.2); `what` is "request" or "response".
fn check_line_ends(head: &Head<'_>, what: &str, msg: &[u8], judge: &mut Judge<'_>) {
    if !head.ended {
        judge.flag(
            rules::H_HD_3,
            format!("the {what}'s header section does not end with an empty line (CRLF CRLF)"),
            msg,
        );
    }
    if let Some(l) = head.bare_lf() {
        judge.flag(
            rules::H_RL_6,
            format!(
                "the {what}'s lines end in a bare LF: end every line, and the empty line after the headers, with CRLF"
            ),
            l.raw,
        );
    }
}

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use body::{Bodiless, BodyFraming, ChunkScan, Chunks};
use head::{Head, HeadEnd, HeadScan};
use headers::ContentLength;
use request::{Authority, RequestLine, Version};
use response::{Asked, RequestShape, StatusLine};

use super::{Codec, Dir, Frame, Hooks, MessageView, Mismatch, Scan, StreamedBody, Verdict};
use crate::finding::Finding;
use crate::rules::Profile;
use crate::visible::visible_truncated;

/// Collects the findings about one message, with the severities of the conversation's
/// profile and the offending bytes made visible.
#[derive(Debug)]
pub(crate) struct Judge<'a> {
    profile: Profile,
    out: &'a mut Vec<Finding>,
}

impl<'a> Judge<'a> {
    /// Findings go to `out`, with `profile`'s severities.
    pub(crate) fn new(profile: Profile, out: &'a mut Vec<Finding>) -> Judge<'a> {
        Judge { profile, out }
    }

    /// Records a protocol verdict about the bytes `actual`, with its own hint if it has one.
    pub(crate) fn flag_verdict(&mut self, v: Verdict, actual: &[u8]) {
        let f = Finding::in_profile(v.rule, self.profile, v.why).actual(actual);
        self.out.push(match v.hint {
            Some(hint) => f.with_hint(hint),
            None => f,
        });
    }

    /// Records a finding under `rule` about the bytes `actual`.
    pub(crate) fn flag(&mut self, rule: RuleId, message: impl Into<String>, actual: &[u8]) {
        self.out
            .push(Finding::in_profile(rule, self.profile, message).actual(actual));
    }
}

/// Whether a connection is to close after the request (RFC 1945 §1.3, RFC 2616 §14.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persistence {
    /// `Connection: close`, or HTTP/1.0 without `Connection: keep-alive`.
    Close,
    /// Kept open for another request.
    KeepAlive,
}

/// How the last request on a connection ended, for bytes that follow it.
#[derive(Debug, Clone)]
struct RequestEnd {
    framing: BodyFraming,
    persistence: Persistence,
    /// The first bytes that followed it where none should have (kept for their shape).
    followed: Vec<u8>,
    /// How many bytes followed it in all.
    followed_len: usize,
}

/// How the last response on a connection ended, for bytes that follow it.
#[derive(Debug, Clone)]
struct ResponseEnd {
    framing: BodyFraming,
    /// How many bytes followed it in all.
    followed_len: usize,
}

/// A request body labelled JSON that did not parse as framed by its Content-Length. It is
/// judged on the octets actually sent: the body plus whatever followed it, once that is
/// known (a Content-Length one too small cuts off the last `}`: that is H-LEN-2, not
/// H-LEN-4).
#[derive(Debug, Clone)]
struct DeferredJson {
    body: Vec<u8>,
    followed: Vec<u8>,
}

impl DeferredJson {
    /// The octets sent: the body and what followed it.
    fn sent(&self) -> Vec<u8> {
        let mut all = self.body.clone();
        all.extend_from_slice(&self.followed);
        all
    }

    /// The H-LEN-4 finding, unless the octets sent are JSON after all.
    fn judge(&self, judge: &mut Judge<'_>) {
        let sent = self.sent();
        if let Err(e) = json_error(&sent) {
            judge.flag(
                rules::H_LEN_4,
                format!(
                    "the body is labelled application/json but is not valid JSON ({e}): serialise it with a JSON library"
                ),
                &sent,
            );
        }
    }
}

/// Most bytes kept of what followed a message.
const FOLLOWED_KEPT: usize = 64 * 1024;

/// What one connection has shown so far.
#[derive(Debug, Default)]
struct ConnState {
    /// Requests whose final response has not been seen, oldest first.
    awaiting: VecDeque<Asked>,
    last_request: Option<RequestEnd>,
    last_response: Option<ResponseEnd>,
    deferred: Option<DeferredJson>,
}

/// Judges one HTTP conversation: frames and checks the messages of each connection, in
/// both directions (parley's own messages too, to follow the exchange).
#[derive(Debug)]
pub struct HttpInspector {
    profile: Profile,
    target: Option<Authority>,
    conns: BTreeMap<String, ConnState>,
}

impl HttpInspector {
    /// An inspector for `profile`.
    pub fn new(profile: Profile) -> HttpInspector {
        HttpInspector {
            profile,
            target: None,
            conns: BTreeMap::new(),
        }
    }

    /// The request the next response on `conn` answers, when parley saw it.
    fn awaited(&self, conn: &str) -> Option<&Asked> {
        self.conns.get(conn).and_then(|c| c.awaiting.front())
    }

    fn inspect_request(&mut self, conn: &str, msg: &[u8], findings: &mut Vec<Finding>) -> MessageView {
        let mut judge = Judge::new(self.profile, findings);
        let state = self.conns.entry(conn.to_string()).or_default();
        // What followed the previous request's body was framed as this message: judge it
        // as framed.
        if let Some(d) = state.deferred.take() {
            d.judge(&mut judge);
        }
        let head = Head::parse(msg);
        let line = RequestLine::parse(head.start.text);
        request::check_line(&line, head.start.raw, head.start.end, &mut judge);
        check_line_ends(&head, "request", msg, &mut judge);
        headers::check(&head, Dir::ToServer, &mut judge);
        request::check_host(&head, self.target.as_ref(), &mut judge);
        request::check_length(&head, &line, &mut judge);
        response::check_dates(&head, None, false, &mut judge);
        let framing = body::request_framing(&head);
        let rest = &msg[head.len..];
        let taken = take_body(rest, framing);
        match &taken.shape {
            BodyShape::Whole => {}
            BodyShape::Short { want } => flag_short_body(rest, *want, &mut judge),
            BodyShape::Unfinished => judge.flag(
                rules::H_LEN_1,
                "the chunked request body never ends with its last chunk `0` CRLF CRLF: send Content-Length instead",
                rest,
            ),
            BodyShape::Malformed(why) => judge.flag(
                rules::H_LEN_1,
                format!("the chunked request body is malformed: {why}; send Content-Length instead"),
                rest,
            ),
        }
        request::check_content_type(&head, &taken.body, &mut judge);
        let version = line.version();
        let persistence = if head.lists("Connection", "close")
            || (version <= Version::HTTP10 && !head.lists("Connection", "keep-alive"))
        {
            Persistence::Close
        } else {
            Persistence::KeepAlive
        };
        let mut end = RequestEnd {
            framing,
            persistence,
            followed: Vec::new(),
            followed_len: 0,
        };
        let leftover = &rest[taken.used..];
        let mut deferred = None;
        if is_json(&head) && !taken.body.is_empty() && json_error(&taken.body).is_err() {
            let d = DeferredJson {
                body: taken.body.clone(),
                followed: Vec::new(),
            };
            // Only a body framed by Content-Length can have been cut short.
            if matches!(framing, BodyFraming::Length(_)) {
                deferred = Some(d);
            } else {
                d.judge(&mut judge);
            }
        }
        if !leftover.is_empty() {
            if let Some(v) = after_request(&mut end, deferred.as_mut(), leftover) {
                judge.flag_verdict(v, leftover);
            }
            if let Some(d) = deferred.take() {
                d.judge(&mut judge);
            }
        }
        let state = self.conns.entry(conn.to_string()).or_default();
        state.deferred = deferred;
        let readable = line.words.len() == 3 && line.version_word().and_then(Version::parse).is_some();
        state.awaiting.push_back(Asked {
            method: line.method(),
            version,
            shape: if readable {
                RequestShape::Full
            } else {
                RequestShape::Unreadable
            },
        });
        state.last_request = Some(end);
        MessageView {
            method: Some(line.method()),
            path: line.target(),
            headers: head.view_headers(),
            body: Some(taken.body),
            ..MessageView::default()
        }
    }

    /// Judges a response; `streamed` is the length of a body checked apart as it streams
    /// in (`msg` is then the head alone, and the view has no body).
    fn inspect_response(
        &mut self,
        conn: &str,
        msg: &[u8],
        streamed: Option<u64>,
        findings: &mut Vec<Finding>,
    ) -> MessageView {
        let mut judge = Judge::new(self.profile, findings);
        let asked = self.awaited(conn).cloned();
        let head = Head::parse(msg);
        let line = StatusLine::parse(head.start.text);
        response::check_status_line(&line, head.start.raw, asked.as_ref(), &mut judge);
        let state = self.conns.entry(conn.to_string()).or_default();
        if line == StatusLine::Missing {
            // Not a response, or an HTTP/0.9 Simple-Response: all of it is the body.
            state.awaiting.pop_front();
            state.last_response = Some(ResponseEnd {
                framing: BodyFraming::UntilClose,
                followed_len: 0,
            });
            return MessageView {
                body: Some(msg.to_vec()),
                ..MessageView::default()
            };
        }
        let code = line.code();
        check_line_ends(&head, "response", msg, &mut judge);
        headers::check(&head, Dir::ToClient, &mut judge);
        response::check_dates(&head, code, true, &mut judge);
        response::check_chunked(&head, asked.as_ref(), &mut judge);
        let method = asked.as_ref().map_or("GET", |a| a.method.as_str());
        let framing = body::response_framing(&head, code, method);
        let rest = &msg[head.len.min(msg.len())..];
        let taken = match streamed {
            Some(_) => Taken {
                body: Vec::new(),
                shape: BodyShape::Whole,
                used: rest.len(),
            },
            None => take_body(rest, framing),
        };
        let to_http10 = asked.as_ref().is_some_and(|a| a.version <= Version::HTTP10);
        if framing == BodyFraming::UntilClose && ContentLength::of(&head) == ContentLength::Absent {
            judge.flag(
                rules::H_LEN_9,
                format!(
                    "the response has no Content-Length, so its {}-octet body ended when the server closed: legal in HTTP/1.0, \
                     but a client cannot tell a whole body from a cut one",
                    taken.body.len()
                ),
                head.start.raw,
            );
        }
        match &taken.shape {
            BodyShape::Whole => {}
            BodyShape::Short { want } => flag_short_body(rest, *want, &mut judge),
            BodyShape::Unfinished | BodyShape::Malformed(_) if to_http10 => {
                // H-LEN-7 already says why: chunked to a 1.0 client.
            }
            BodyShape::Unfinished => judge.flag(
                rules::H_LEN_2,
                "the chunked body never ends with its last chunk `0` CRLF CRLF",
                rest,
            ),
            BodyShape::Malformed(why) => judge.flag(
                rules::H_LEN_2,
                format!("the chunked body is malformed: {why}"),
                rest,
            ),
        }
        let mut end = ResponseEnd {
            framing,
            followed_len: 0,
        };
        let leftover = &rest[taken.used..];
        if !leftover.is_empty() {
            if let Some(v) = after_response(&mut end, leftover) {
                judge.flag_verdict(v, leftover);
            }
        }
        let state = self.conns.entry(conn.to_string()).or_default();
        // An interim 1xx response is followed by the final one to the same request.
        if !code.is_some_and(|c| (100..200).contains(&c)) {
            state.awaiting.pop_front();
        }
        state.last_response = Some(end);
        MessageView {
            code,
            headers: head.view_headers(),
            body: streamed.is_none().then_some(taken.body),
            ..MessageView::default()
        }
    }
}

/// The shape of a body as found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BodyShape {
    /// As long as its framing says.
    Whole,
    /// Shorter than Content-Length `want`.
    Short { want: u64 },
    /// A chunked body without its last chunk.
    Unfinished,
    /// A chunked body that breaks the grammar.
    Malformed(String),
}

/// A body taken from the bytes after a head.
#[derive(Debug)]
struct Taken {
    /// The body, decoded.
    body: Vec<u8>,
    /// How many bytes after the head it used.
    used: usize,
    shape: BodyShape,
}

fn take_body(rest: &[u8], framing: BodyFraming) -> Taken {
    match framing {
        BodyFraming::Empty(_) => Taken {
            body: Vec::new(),
            used: 0,
            shape: BodyShape::Whole,
        },
        BodyFraming::Length(want) => {
            if rest.len() as u64 >= want {
                let n = want as usize;
                Taken {
                    body: rest[..n].to_vec(),
                    used: n,
                    shape: BodyShape::Whole,
                }
            } else {
                Taken {
                    body: rest.to_vec(),
                    used: rest.len(),
                    shape: BodyShape::Short { want },
                }
            }
        }
        BodyFraming::Chunked => {
            let mut out = Vec::new();
            match body::decode_chunked(rest, Some(&mut out)) {
                Chunks::Complete { len } => Taken {
                    body: out,
                    used: len,
                    shape: BodyShape::Whole,
                },
                Chunks::Partial => Taken {
                    body: out,
                    used: rest.len(),
                    shape: BodyShape::Unfinished,
                },
                Chunks::Malformed { why, .. } => Taken {
                    body: rest.to_vec(),
                    used: rest.len(),
                    shape: BodyShape::Malformed(why),
                },
            }
        }
        BodyFraming::UntilClose => Taken {
            body: rest.to_vec(),
            used: rest.len(),
            shape: BodyShape::Whole,
        },
    }
}

/// Whether the head labels its body JSON (`application/json`, `application/*+json`).
fn is_json(head: &Head<'_>) -> bool {
    head.field("Content-Type").is_some_and(|v| {
        let media = v
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
    })
}

/// Why `bytes` are not JSON (RFC 8259), if they are not.
fn json_error(bytes: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The rule broken by `extra`, bytes that followed a request where none should (the
/// connection was to close, or the next request to start).
fn after_request(end: &mut RequestEnd, deferred: Option<&mut DeferredJson>, extra: &[u8]) -> Option<Verdict> {
    end.followed_len += extra.len();
    let room = FOLLOWED_KEPT.saturating_sub(end.followed.len());
    end.followed.extend_from_slice(&extra[..extra.len().min(room)]);
    let json_note = match deferred {
        Some(d) => {
            d.followed.extend_from_slice(extra);
            if json_error(&d.sent()).is_ok() {
                Some(d.body.len() + d.followed.len())
            } else {
                None
            }
        }
        None => None,
    };
    if end.persistence == Persistence::Close && request::looks_like_request(&end.followed) {
        return Some(Verdict::new(
            rules::H_CONN_3,
            format!(
                "the client sent another request (`{}`) on a connection it had declared closed after the first: open a new connection for it",
                visible_truncated(end.followed.split(|b| *b == b'\n').next().unwrap_or_default(), 60)
            ),
        ));
    }
    // RFC 2616 §4.1: some old clients send an extra CRLF after a request.
    let only_line_ends = end.followed.iter().all(|b| matches!(b, b'\r' | b'\n'));
    match end.framing {
        BodyFraming::Empty(Bodiless::NoLength) if only_line_ends => Some(Verdict::new(
            rules::H_HD_3,
            "the request's head is followed by more empty lines: it ends with exactly one (CRLF CRLF), and nothing follows a request without a body".to_string(),
        )),
        BodyFraming::Length(n) if only_line_ends && json_note.is_none() => Some(Verdict {
            rule: rules::H_LEN_2,
            why: format!(
                "the request's {n}-octet body is followed by an extra line end ({} octets) that no Content-Length covers: send nothing after the body",
                end.followed_len
            ),
            hint: Some(
                "Send nothing after the body: the body is exactly Content-Length octets, with no \\r\\n after it.",
            ),
        }),
        BodyFraming::Length(n) => {
            let mut why = format!(
                "Content-Length says {n}, but {} more octet{} of body followed: Content-Length is too small \
                 (count the octets of the encoded body, not its characters)",
                end.followed_len,
                if end.followed_len == 1 { "" } else { "s" }
            );
            if let Some(sent) = json_note {
                why.push_str(&format!(
                    "; the {sent} octets sent are valid JSON, cut short only by the wrong Content-Length"
                ));
            }
            Some(Verdict::new(rules::H_LEN_2, why))
        }
        BodyFraming::Empty(Bodiless::NoLength) => Some(Verdict::new(
            rules::H_LEN_1,
            format!(
                "the request has no Content-Length, so the {} octet{} after its head cannot be read as its body: send Content-Length",
                end.followed_len,
                if end.followed_len == 1 { "" } else { "s" }
            ),
        )),
        _ => None,
    }
}

/// The rule broken by `extra`, bytes that followed a response where the server should
/// have closed.
fn after_response(end: &mut ResponseEnd, extra: &[u8]) -> Option<Verdict> {
    end.followed_len += extra.len();
    let n = end.followed_len;
    match end.framing {
        BodyFraming::Empty(Bodiless::HeadResponse) => Some(Verdict::new(
            rules::H_LEN_6,
            format!("a response to HEAD has no body, but {n} octets followed its head"),
        )),
        BodyFraming::Empty(Bodiless::Status(code)) => Some(Verdict::new(
            rules::H_LEN_6,
            format!("a {code} response has no body, but {n} octets followed its head"),
        )),
        BodyFraming::Length(len) => Some(Verdict::new(
            rules::H_LEN_2,
            format!(
                "Content-Length says {len}, but {n} more octets followed the body: the server sent more than it declared"
            ),
        )),
        _ => None,
    }
}

/// How far an HTTP message has been framed (see [`Scan`]): where its head has been read
/// to, and once the head has ended, its length, how the bytes say the body is delimited
/// and how far a chunked body has been read. Which request a response answers is not
/// kept: it is looked up on every look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpScan {
    head: HeadScan,
    /// The head's length and the body's framing as the head says it (for a response, as
    /// if it answered a GET).
    body: Option<(usize, BodyFraming)>,
    chunks: ChunkScan,
}

/// Whether `p` (after any empty lines) can still be the start of a status line.
fn may_be_status_line(p: &[u8]) -> bool {
    let n = p.len().min(5);
    p[..n] == b"HTTP/"[..n]
}

impl HttpInspector {
    /// [`Codec::frame_resuming`] with the HTTP part of the scan: the head is read on from
    /// the line in progress, parsed once it has ended, and a chunked body read on from
    /// the chunk in progress.
    fn frame_http(&self, dir: Dir, conn: &str, buf: &[u8], eof: bool, s: &mut HttpScan) -> Frame {
        let end = head::find_end_from(buf, &mut s.head);
        if dir == Dir::ToClient && !may_be_status_line(&buf[s.head.start()..]) {
            // No status line: an HTTP/0.9-style answer, or garbage, runs until the close.
            return body::frame(buf, 0, BodyFraming::UntilClose, eof);
        }
        let HeadEnd::Complete(head_len) = end else {
            return Frame::Partial;
        };
        let (head_len, framing) = *s.body.get_or_insert_with(|| {
            let head = Head::parse(&buf[..head_len]);
            let framing = match dir {
                Dir::ToServer => body::request_framing(&head),
                Dir::ToClient => {
                    let code = StatusLine::parse(head.start.text).code();
                    body::response_framing(&head, code, "GET")
                }
            };
            (head_len, framing)
        });
        // What the request asked is read now: it may have been inspected since the last look.
        let framing = match self.awaited(conn) {
            Some(a) if dir == Dir::ToClient && a.method == "HEAD" => body::response_framing_for_head(),
            _ => framing,
        };
        body::frame_from(buf, head_len, framing, eof, &mut s.chunks)
    }
}

impl Codec for HttpInspector {
    fn target(&mut self, host: &str, port: u16) {
        self.target = Some(Authority {
            host: host.to_string(),
            port,
        });
    }

    fn frame_resuming(&self, dir: Dir, conn: &str, buf: &[u8], eof: bool, scan: &mut Scan) -> Frame {
        let mut s = match std::mem::take(scan) {
            Scan::Http(s) => s,
            _ => HttpScan::default(),
        };
        let framed = self.frame_http(dir, conn, buf, eof, &mut s);
        *scan = Scan::Http(s);
        framed
    }

    fn inspect(&mut self, dir: Dir, conn: &str, msg: &[u8], findings: &mut Vec<Finding>) -> MessageView {
        match dir {
            Dir::ToServer => self.inspect_request(conn, msg, findings),
            Dir::ToClient => self.inspect_response(conn, msg, None, findings),
        }
    }

    fn streamed_body(&self, dir: Dir, conn: &str, scan: &Scan, from: u64) -> Option<StreamedBody> {
        // Responses only: a request's body is judged whole (JSON, what follows it).
        let Scan::Http(s) = scan else {
            return None;
        };
        let asked_head = self.awaited(conn).is_some_and(|a| a.method == "HEAD");
        match s.body {
            Some((head_len, BodyFraming::Length(len)))
                if dir == Dir::ToClient && !asked_head && len >= from =>
            {
                Some(StreamedBody {
                    head_len,
                    len,
                    short_rule: rules::H_LEN_2,
                })
            }
            _ => None,
        }
    }

    fn inspect_head(
        &mut self,
        dir: Dir,
        conn: &str,
        head: &[u8],
        body_len: u64,
        findings: &mut Vec<Finding>,
    ) -> MessageView {
        match dir {
            Dir::ToServer => self.inspect_request(conn, head, findings),
            Dir::ToClient => self.inspect_response(conn, head, Some(body_len), findings),
        }
    }

    fn literal_matches(
        &self,
        dir: Dir,
        expected: &[u8],
        msg: &[u8],
        view: &MessageView,
    ) -> Result<(), Mismatch> {
        literal::compare(dir, expected, msg, view)
    }
}

impl Hooks for HttpInspector {
    fn early_close_rule(&self, _dir: Dir, _conn: &str) -> Option<RuleId> {
        // The peer closed before sending the message the step waits for.
        Some(rules::S_CLOSE)
    }

    fn incomplete(&self, dir: Dir, conn: &str, partial: &[u8]) -> Option<(RuleId, String)> {
        let start = head::skip_blank_lines(partial);
        let p = &partial[start..];
        let n = partial.len();
        if dir == Dir::ToClient && !p.is_empty() && !may_be_status_line(p) {
            if self
                .awaited(conn)
                .is_some_and(|a| a.shape == RequestShape::Unreadable)
            {
                return Some((
                    rules::H_CONN_1,
                    "the server answered the unreadable request the HTTP/0.9 way, without a status line; such an answer ends when the server closes, and it kept the connection open".to_string(),
                ));
            }
            return Some((
                rules::H_SL_1,
                format!(
                    "the {n} bytes the server sent are not an HTTP response: they do not start with a status line such as `HTTP/1.0 200 OK`"
                ),
            ));
        }
        let head_len = match head::find_end(partial) {
            HeadEnd::Partial => {
                let Some(first) = head::first_line(partial) else {
                    let (rule, what) = match dir {
                        Dir::ToServer => (rules::H_RL_1, "request line"),
                        Dir::ToClient => (rules::H_SL_1, "status line"),
                    };
                    return Some((
                        rule,
                        format!("the {what} never ended with CRLF ({n} bytes without a line end)"),
                    ));
                };
                if dir == Dir::ToServer && RequestLine::parse(first.text).is_simple() {
                    return Some((
                        rules::H_RL_7,
                        "the request line has no HTTP version, so this is an HTTP/0.9 Simple-Request: add ` HTTP/1.0` and the headers".to_string(),
                    ));
                }
                let last = head::lines(p).last().map(|l| l.raw).unwrap_or_default();
                return Some((
                    rules::H_HD_3,
                    format!(
                        "the header section never ended with an empty line (CRLF CRLF): {n} bytes arrived, the last line being \"{}\"",
                        visible_truncated(last, 80)
                    ),
                ));
            }
            HeadEnd::Complete(len) => len,
        };
        let head = Head::parse(&partial[..head_len]);
        if let ContentLength::Invalid(v) = ContentLength::of(&head) {
            let ends = match dir {
                Dir::ToClient => {
                    "so the body runs until the server closes, and the server kept the connection open"
                }
                Dir::ToServer => "so the server cannot tell where the body ends",
            };
            return Some((
                rules::H_LEN_8,
                format!("Content-Length `{v}` is not a decimal number of octets, {ends}"),
            ));
        }
        if let ContentLength::Conflicting { values, .. } = ContentLength::of(&head) {
            return Some((
                rules::H_HD_6,
                format!(
                    "the message has Content-Length values that differ ({}), so no reader can tell where its body ends",
                    values.join(", ")
                ),
            ));
        }
        let asked = self.awaited(conn);
        let framing = match dir {
            Dir::ToServer => body::request_framing(&head),
            Dir::ToClient => body::response_framing(
                &head,
                StatusLine::parse(head.start.text).code(),
                asked.map_or("GET", |a| a.method.as_str()),
            ),
        };
        let have = partial.len() - head_len;
        match framing {
            BodyFraming::Length(want) => Some((
                rules::H_LEN_2,
                format!("got {have} of {want} body bytes: Content-Length is larger than the body sent"),
            )),
            BodyFraming::Chunked => {
                let to_http10 = asked.is_some_and(|a| a.version <= Version::HTTP10);
                let http10_request = RequestLine::parse(head.start.text).version() <= Version::HTTP10;
                match dir {
                    Dir::ToClient if to_http10 => Some((
                        rules::H_LEN_7,
                        "the server sent a chunked body to an HTTP/1.0 client, and it never ended".to_string(),
                    )),
                    Dir::ToServer if http10_request => Some((
                        rules::H_LEN_1,
                        "the HTTP/1.0 request sent its body chunked, and it never ended: send Content-Length".to_string(),
                    )),
                    _ => Some((
                        rules::H_LEN_2,
                        "the chunked body never ended with its last chunk `0` CRLF CRLF".to_string(),
                    )),
                }
            }
            BodyFraming::UntilClose => Some((
                rules::H_CONN_1,
                "the response has no Content-Length, so its body ends when the server closes, and the server kept the connection open".to_string(),
            )),
            BodyFraming::Empty(_) => None,
        }
    }

    fn closed_while_sending(&self, dir: Dir, _conn: &str) -> Option<RuleId> {
        // The client took what one read returned for the whole response.
        (dir == Dir::ToClient).then_some(rules::H_LEN_5)
    }

    fn trailing(&mut self, dir: Dir, conn: &str, extra: &[u8]) -> Option<Verdict> {
        let state = self.conns.get_mut(conn)?;
        match dir {
            Dir::ToServer => {
                let end = state.last_request.as_mut()?;
                after_request(end, state.deferred.as_mut(), extra)
            }
            Dir::ToClient => after_response(state.last_response.as_mut()?, extra),
        }
    }

    fn finish(&mut self, dir: Dir, findings: &mut Vec<Finding>) {
        if dir != Dir::ToServer {
            return;
        }
        for (conn, state) in &mut self.conns {
            if let Some(d) = state.deferred.take() {
                let mut found = Vec::new();
                d.judge(&mut Judge::new(self.profile, &mut found));
                findings.extend(found.into_iter().map(|f| f.on(conn.clone())));
            }
        }
    }
}
