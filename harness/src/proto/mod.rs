//! Sans-I/O protocol code: framing, parsing and RFC checks, never a socket.
//!
//! The engine hands an [`Inspector`] whatever bytes a connection has buffered; the
//! inspector says whether a whole message is there ([`Frame`]), and judges each complete
//! message against the RFC rules, returning a [`MessageView`] the step matchers read.
//! Feeding the bytes one at a time or all at once gives the same verdicts.
//!
//! Framing is incremental: the caller keeps a [`Scan`] per connection and direction, and
//! each look at the grown buffer resumes where the last one stopped, so a message that
//! arrives in many small pieces costs time linear in its size, not quadratic.

pub mod echo;
pub mod ftp;
pub mod http;
pub mod regex_scan;

use crate::rules;
use crate::rules::RuleId;
use std::collections::BTreeSet;

use crate::finding::Finding;
use crate::rules::Profile;

/// A protocol parley speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// RFC 862.
    Echo,
    /// RFC 1945 / RFC 2616.
    Http,
    /// RFC 959 / RFC 1123 / RFC 2577.
    Ftp,
}

impl Protocol {
    /// Every protocol.
    pub const ALL: [Protocol; 3] = [Protocol::Echo, Protocol::Http, Protocol::Ftp];

    /// The lowercase name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Echo => "echo",
            Protocol::Http => "http",
            Protocol::Ftp => "ftp",
        }
    }

    /// Parses a lowercase name.
    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The rule a failed step breaks when the step names none, for a message `sender`
    /// sent: an echo server that sends back something else breaks ECHO-1; anything else is
    /// the scenario's own S-EXPECT.
    pub fn default_rule(self, sender: crate::outcome::Party) -> RuleId {
        match (self, sender) {
            (Protocol::Echo, crate::outcome::Party::Server) => rules::ECHO_1,
            _ => rules::S_EXPECT,
        }
    }

    /// How a connection's bytes are cut into messages unless the scenario says otherwise.
    pub fn default_framing(self, conn: &str) -> Framing {
        match (self, conn == MAIN) {
            (Protocol::Echo, _) => Framing::Raw,
            (_, true) => Framing::Protocol,
            (Protocol::Ftp, false) => Framing::Eof,
            (Protocol::Http, false) => Framing::Protocol,
        }
    }

    /// Variables the protocol sets by itself as messages pass (e.g. the address of an FTP
    /// 227 reply), so scenarios may use them.
    pub fn provided_vars(self) -> &'static [&'static str] {
        match self {
            Protocol::Echo | Protocol::Http => &[],
            Protocol::Ftp => &[
                "pasv.host",
                "pasv.port",
                "pasv.addr",
                "port.host",
                "port.port",
                "port.addr",
            ],
        }
    }

    /// A fresh inspector for one conversation.
    pub fn inspector(self, profile: Profile) -> Box<dyn Inspector> {
        match self {
            Protocol::Echo => Box::new(echo::EchoInspector),
            Protocol::Http => Box::new(http::HttpInspector::new(profile)),
            Protocol::Ftp => Box::new(ftp::FtpInspector::new()),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The name of the connection every scenario has.
pub const MAIN: &str = "main";

/// How a connection's bytes are cut into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The step's matcher decides (exact length, `len`, up to `contains`/`regex`).
    Raw,
    /// One line, through LF.
    Line,
    /// Everything until the peer closes.
    Eof,
    /// The protocol's [`Inspector::frame`].
    Protocol,
}

/// Which way a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// Is a whole message buffered?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not yet; more bytes (or the end of file) are needed.
    Partial,
    /// Yes: the first `n` bytes are one message.
    Complete(usize),
}

/// Where a framer's last look at a buffer stopped, so that the next look — at the same
/// bytes with more appended — reads only what it has not read yet (httparse's `Partial`
/// with an offset, kept by the caller). Sans-I/O: the caller owns it, the framer only
/// reads and advances it.
///
/// A scan belongs to one direction of one connection and to the bytes at the start of
/// its buffer: pass it again only with the same buffer grown at its end, and start a
/// fresh one ([`Scan::default`]) whenever bytes are taken from the front (a message was
/// consumed). A scan holds only what the bytes say, never the end of file or the
/// protocol's state (which request a response answers): those are read on every look.
/// Framing with a kept scan gives the same [`Frame`] as framing the whole buffer afresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scan {
    /// Nothing read yet.
    #[default]
    Fresh,
    /// A framer that looks for one thing (an LF, a needle, the bytes of a literal): the
    /// first `n` bytes do not hold it (or, for a literal, agree with it).
    Searched(usize),
    /// An FTP reply, line by line (959 §4.2).
    Reply(ftp::reply::ReplyScan),
    /// An HTTP message: its head, then its body.
    Http(http::HttpScan),
    /// A raw message framed by a regular expression: the lazy DFA's walk so far.
    Regex(Box<regex_scan::RegexScan>),
}

impl Scan {
    /// How many leading bytes a single-purpose framer has already searched (0 for a fresh
    /// scan or one of another kind), capped at `len`, the buffer's length.
    pub fn searched(&self, len: usize) -> usize {
        match self {
            Scan::Searched(n) => (*n).min(len),
            _ => 0,
        }
    }
}

/// The first LF at or after the bytes `scan` has searched, through which a line ends;
/// advances `scan` past what it read.
pub fn find_lf(buf: &[u8], scan: &mut Scan) -> Option<usize> {
    let from = scan.searched(buf.len());
    match memchr::memchr(b'\n', &buf[from..]) {
        Some(i) => {
            *scan = Scan::Searched(from + i);
            Some(from + i)
        }
        None => {
            *scan = Scan::Searched(buf.len());
            None
        }
    }
}

/// A message whose body streams: its head is the first `head_len` bytes, its body the
/// `len` bytes after them (see [`Codec::streamed_body`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamedBody {
    /// The head's length, its final empty line included.
    pub head_len: usize,
    /// The body's length, as the head declares it.
    pub len: u64,
    /// The rule a body that ends before `len` bytes breaks.
    pub short_rule: RuleId,
}

impl StreamedBody {
    /// Why a body that stopped after `have` bytes is short.
    pub fn short(&self, have: u64) -> String {
        format!(
            "got {have} of {} body bytes: Content-Length is larger than the body sent",
            self.len
        )
    }
}

/// What a protocol understood of a message, for matchers and captures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageView {
    /// FTP reply code or HTTP status code.
    pub code: Option<u16>,
    /// HTTP request method.
    pub method: Option<String>,
    /// HTTP request target, or an FTP command's argument.
    pub path: Option<String>,
    /// FTP command keyword, upper-cased.
    pub command: Option<String>,
    /// HTTP header fields, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// HTTP body.
    pub body: Option<Vec<u8>>,
    /// Variables the protocol sets from this message (e.g. `pasv.port`).
    pub vars: Vec<(String, String)>,
}

impl MessageView {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A literal message that does not match semantically: why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What was expected, readable.
    pub expected: String,
    /// What arrived, readable.
    pub actual: String,
    /// One sentence.
    pub message: String,
}

/// What a protocol must provide to be judged: framing, the RFC checks on each complete
/// message, and how a scenario's literal message is compared. Sans-I/O: the engine hands
/// it bytes and it never touches a socket.
pub trait Codec: Send {
    /// Tells the inspector which server the conversation is with (the `host` and `port`
    /// the client was given), before any message; HTTP checks the Host header against it.
    fn target(&mut self, host: &str, port: u16) {
        let _ = (host, port);
    }

    /// Is a whole message going `dir` on `conn` at the start of `buf`? `eof` says the
    /// sender closed. Called many times with a growing `buf`, resuming where `scan` says
    /// the last look stopped (see [`Scan`]): it reads the state the messages inspected so
    /// far left (which request a response answers), never changes it. The answer is the
    /// one [`Codec::frame`] gives for the whole of `buf`.
    fn frame_resuming(&self, dir: Dir, conn: &str, buf: &[u8], eof: bool, scan: &mut Scan) -> Frame;

    /// [`Codec::frame_resuming`] from the start of `buf`, with a fresh scan.
    fn frame(&self, dir: Dir, conn: &str, buf: &[u8], eof: bool) -> Frame {
        self.frame_resuming(dir, conn, buf, eof, &mut Scan::default())
    }

    /// Judges one complete message going `dir` on `conn`. Called for the messages parley
    /// sends too (to keep the state); the engine drops findings about its own bytes.
    fn inspect(&mut self, dir: Dir, conn: &str, msg: &[u8], findings: &mut Vec<Finding>) -> MessageView;

    /// Whether the message being framed going `dir` on `conn` (as far as `scan`, left
    /// by [`Codec::frame_resuming`], has read it) has a whole head declaring a body of at
    /// least `from` bytes, which the engine then checks as it streams in
    /// ([`Codec::inspect_head`] judges the head alone). Decided by the head alone, never
    /// by how much of the body has arrived, so the same bytes take the same path. `None`
    /// (the default) keeps the message buffered whole.
    fn streamed_body(&self, dir: Dir, conn: &str, scan: &Scan, from: u64) -> Option<StreamedBody> {
        let _ = (dir, conn, scan, from);
        None
    }

    /// Judges a message's `head` whose body of `body_len` bytes (as the head declares it,
    /// see [`Codec::streamed_body`]) the engine checks apart as it streams in: every rule
    /// [`Codec::inspect`] applies except those that read the body. The view has no body.
    fn inspect_head(
        &mut self,
        dir: Dir,
        conn: &str,
        head: &[u8],
        body_len: u64,
        findings: &mut Vec<Finding>,
    ) -> MessageView {
        let _ = body_len;
        self.inspect(dir, conn, head, findings)
    }

    /// Does `msg` match the literal `expected` the way this protocol compares messages
    /// (exactly for echo; status and named headers for HTTP; reply code for FTP)?
    fn literal_matches(
        &self,
        dir: Dir,
        expected: &[u8],
        msg: &[u8],
        view: &MessageView,
    ) -> Result<(), Mismatch>;
}

/// Engine-policy hooks: how the protocol explains what the engine observes on the sockets
/// (a close, a deadline, a message sent too early, a data connection that cannot be
/// opened). Every hook has a neutral default, so a protocol implements only those it
/// has something to say about.
pub trait Hooks: Send {
    /// The rule broken when the peer closes `conn` while a step still waits for bytes.
    fn early_close_rule(&self, dir: Dir, conn: &str) -> Option<RuleId> {
        let _ = (dir, conn);
        None
    }

    /// The rule broken when a message going `dir` on `conn` never completes (deadline or
    /// end of file) and `partial` is what arrived: e.g. F-RPL-2 for a multi-line FTP reply
    /// that never ends, H-LEN-2 for a body shorter than its Content-Length. `None` leaves
    /// it to the step's rule. The string says why, in one sentence.
    fn incomplete(&self, dir: Dir, conn: &str, partial: &[u8]) -> Option<(RuleId, String)> {
        let _ = (dir, conn, partial);
        None
    }

    /// A message going `dir` on `conn` (not `main`) never completed (deadline or end of
    /// file) with `partial` received, while the same peer had already sent `main_unread`
    /// on `main`, bytes no step has read yet: do they explain it? (FTP: a 226 on the
    /// control connection while the data connection is still open and carried nothing,
    /// F-DATA-5.) Asked before [`Inspector::incomplete`]; `None` leaves it to that.
    fn stalled_beside(
        &self,
        dir: Dir,
        conn: &str,
        partial: &[u8],
        main_unread: &[u8],
    ) -> Option<(RuleId, String)> {
        let _ = (dir, conn, partial, main_unread);
        None
    }

    /// parley waits for the peer to open a data connection and the peer sent
    /// `main_unread` on `main`, bytes no step has read: is a complete reply at its start
    /// one that refuses the transfer instead (FTP: 425 or 426)? Then that reply.
    fn refused_transfer(&self, main_unread: &[u8]) -> Option<Vec<u8>> {
        let _ = main_unread;
        None
    }

    /// The peer's message `msg` going `dir` on `conn` arrived before parley had finished
    /// sending `answering`, its last message on that connection (written in several
    /// pieces when `split`): the peer did not wait for it. Which rule does that break
    /// (FTP: pipelining F-CMD-2, a command before the 226 F-DATA-4, a partial multi-line
    /// reply taken for the whole F-RPL-2, ...)? `None`: the protocol allows it.
    fn premature(
        &self,
        dir: Dir,
        conn: &str,
        msg: &[u8],
        answering: &[u8],
        split: bool,
    ) -> Option<(RuleId, String)> {
        let _ = (dir, conn, msg, answering, split);
        None
    }

    /// The peer closed `conn` while parley was still writing a message going `dir`: it took
    /// the first read for the whole message. Which rule does that break (HTTP H-LEN-5,
    /// FTP data F-DATA-3)?
    fn closed_while_sending(&self, dir: Dir, conn: &str) -> Option<RuleId> {
        let _ = (dir, conn);
        None
    }

    /// parley plays the server and the client's `msg` announces a data address (FTP PORT,
    /// EPRT): may parley connect there? `control_peer` is the address the client's
    /// control connection comes from. `Some`: no — the finding, and the reply parley sends
    /// instead of connecting (FTP: 504, RFC 2577 §3); parley never connects to another
    /// host or a privileged port for a program it grades.
    fn refuse_data_address(&self, msg: &[u8], control_peer: std::net::SocketAddr) -> Option<OpenFailure> {
        let _ = (msg, control_peer);
        None
    }

    /// parley plays the server and could not open data connection `conn` to `announced`
    /// (the address the client gave); `listening` are the ports the client program really
    /// listens on, when the OS can tell. The finding, and the reply parley sends instead
    /// (FTP: 425) before it goes on with the client's next command.
    fn open_failed(
        &self,
        conn: &str,
        announced: &str,
        listening: Option<&BTreeSet<u16>>,
    ) -> Option<OpenFailure> {
        let _ = (conn, announced, listening);
        None
    }

    /// parley plays the server and opened `conn` only after the peer first refused it: the
    /// peer started listening late. Which rule does that break (FTP F-DATA-2)?
    fn opened_late(&self, conn: &str) -> Option<RuleId> {
        let _ = conn;
        None
    }

    /// parley plays the server and is about to close `conn`, and its next step sends
    /// `next` on `main`: does that reply belong with the close, so that it goes out just
    /// before it? (FTP: a 226/250 ending the transfer on data connection `conn`. Which of
    /// two connections' bytes a client sees first is not something a protocol orders, but
    /// when the reply goes out after the close, a client that sends its next command on
    /// the end of file races it: one that never reads the 226 would pass on some runs
    /// and fail on others. Sent first, the plain run is the same every time; the fault
    /// `transfer_delay` still sends it late, after the close.)
    fn send_before_close(&self, conn: &str, next: &[u8]) -> bool {
        let _ = (conn, next);
        false
    }

    /// parley plays the server, its first attempt to open `conn` was refused, and its next
    /// step sends `next` on `main`: may it send that now, before it retries? (FTP: yes
    /// for a 125/150 preliminary reply, which a client may wait for before it listens.)
    /// The step is then not sent again when its turn comes.
    fn send_before_retry(&self, conn: &str, next: &[u8]) -> bool {
        let _ = (conn, next);
        false
    }

    /// Bytes the peer sent on `conn` after its last complete message, where the scenario
    /// expects it to close: which rule do they break? (HTTP: bytes after a request's
    /// body mean its Content-Length was too small, H-LEN-2; after a request without
    /// Content-Length they were a body the server could not frame, H-LEN-1.) May be
    /// called several times as more bytes arrive, each time with the new bytes only; the
    /// inspector may remember them (HTTP judges a JSON body on the octets actually sent).
    fn trailing(&mut self, dir: Dir, conn: &str, extra: &[u8]) -> Option<Verdict> {
        let _ = (dir, conn, extra);
        None
    }

    /// The conversation is over: findings about messages going `dir` (the peer's
    /// direction) whose verdict waited for what followed them. HTTP: a request body
    /// labelled JSON that does not parse as framed by its Content-Length is judged once
    /// it is known whether more octets followed (then the length was wrong, H-LEN-2, and
    /// the JSON is judged on all the octets sent) or not (H-LEN-4). Each finding names its
    /// connection (`Finding::on`); the engine attaches the step that received the last
    /// message there.
    fn finish(&mut self, dir: Dir, findings: &mut Vec<Finding>) {
        let _ = (dir, findings);
    }

    /// parley plays the server and the client sent `msg` where the step expects something
    /// else: the reply a conformant server gives to it, so the conversation goes on — or
    /// `None` when the message is the scenario's to judge. `expected` is the message the
    /// step wrote out, when it did: a command of the same kind as the one expected (`TYPE
    /// A` where the step wants `TYPE I`) is never answered, it is judged.
    fn default_answer(&self, msg: &[u8], expected: Option<&[u8]>) -> Option<Vec<u8>> {
        let _ = (msg, expected);
        None
    }

    /// The keyword of the command in `msg` (FTP), for choosing the scenario's `answers:`.
    fn keyword(&self, msg: &[u8]) -> Option<String> {
        let _ = msg;
        None
    }

    /// The form of a reply parley sends without parentheses around its address (the
    /// `pasv_without_parentheses` fault: FTP 227), when it has one.
    fn without_parentheses(&self, reply: &[u8]) -> Option<Vec<u8>> {
        let _ = reply;
        None
    }

    /// The multi-line form of a reply parley sends (the `multiline_greeting` fault).
    fn multiline(&self, reply: &[u8]) -> Option<Vec<u8>> {
        let _ = reply;
        None
    }

    /// The same reply with unusual text after its code (the `odd_texts` fault).
    fn odd_text(&self, reply: &[u8]) -> Option<Vec<u8>> {
        let _ = reply;
        None
    }
}

/// The judge of one conversation: a [`Codec`] with its [`Hooks`]. It keeps the protocol
/// state (which request a response answers, which FTP phase the session is in).
pub trait Inspector: Codec + Hooks {}

impl<T: Codec + Hooks> Inspector for T {}

/// A protocol's explanation of bytes the engine observed: the rule they break, why, and
/// a hint for the sender when the catalogue's fix is not the one that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The rule.
    pub rule: RuleId,
    /// Why, in one sentence.
    pub why: String,
    /// What the sender changes, when it is more precise than the rule's fix.
    pub hint: Option<&'static str>,
}

impl Verdict {
    /// A verdict under `rule` with the catalogue's fix.
    pub fn new(rule: RuleId, why: impl Into<String>) -> Verdict {
        Verdict {
            rule,
            why: why.into(),
            hint: None,
        }
    }
}

/// What parley does when it cannot open a data connection the client announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFailure {
    /// The rule broken (FTP: F-DATA-1).
    pub rule: RuleId,
    /// What happened, with the arithmetic a student needs.
    pub message: String,
    /// The reply parley sends on the control connection instead (FTP: a 425).
    pub reply: Vec<u8>,
}

/// The exact-bytes comparison every protocol falls back on.
pub fn exact_match(expected: &[u8], msg: &[u8]) -> Result<(), Mismatch> {
    if expected == msg {
        return Ok(());
    }
    let at = expected
        .iter()
        .zip(msg)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(msg.len()));
    let message = if msg.len() < expected.len() && msg == &expected[..msg.len()] {
        format!("{} of {} expected bytes arrived", msg.len(), expected.len())
    } else {
        format!("the bytes differ from byte {at} on")
    };
    Err(Mismatch {
        expected: crate::visible::visible_truncated(expected, crate::finding::SHOWN_BYTES),
        actual: crate::visible::visible_truncated(msg, crate::finding::SHOWN_BYTES),
        message,
    })
}
