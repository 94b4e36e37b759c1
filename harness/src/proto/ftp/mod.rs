//! FTP (RFC 959, RFC 1123 §4.1, RFC 2577; RFC 2428 for EPRT/EPSV), sans-I/O: the
//! [`FtpInspector`] frames and judges both directions of the control connection and the
//! data connections' contents, and sets the `pasv.*` and `port.*` variables.
//!
//! The pieces, each its own module:
//! - [`reply`]: reply codes and what their digits mean, reply framing (single and
//!   multi-line, 959 §4.2) and grammar (F-RPL-1, F-RPL-3, F-RPL-5);
//! - [`command`]: command lines (F-CMD-1), PORT (F-CMD-3), TYPE (F-CMD-4);
//! - [`table`]: the codes each command may receive (959 §5.4 as data, F-RPL-4);
//! - [`addr`]: the PORT/227/EPRT/229 address forms, both ways;
//! - [`rewrite`]: the lines a relay changes so that data connections pass through it;
//! - [`session`]: the login phase and the sequence rules (F-SEQ-*, F-DATA-7, F-TYPE-1).
//!
//! The data addresses are judged here too: a PORT/EPRT to a privileged port (F-SEC-7), a
//! 227 naming a host other than the server the client reached (F-SEC-8), and passive
//! ports that follow each other one by one through a session (F-SEC-5).
//!
//! The timing rules (a command before parley's reply was sent, a peer that closed while
//! parley wrote, a data connection that could not be opened) are judged here too, from
//! what the engine tells the hooks of [`Inspector`].

pub mod addr;
pub mod answer;
pub mod command;
pub mod reply;
pub mod rewrite;
pub mod session;
pub mod table;

#[cfg(test)]
mod tests;

use crate::rules;
use crate::rules::RuleId;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use self::command::{Command, parse_command};
use self::reply::{FtpReply, ReplyCode, ReplyFrame, ReplyScan, frame_reply, frame_reply_from, parse_reply};
use self::session::ControlState;
use super::{Codec, Dir, Frame, Hooks, MAIN, MessageView, Mismatch, OpenFailure, Scan, exact_match};
use crate::finding::Finding;
use crate::visible::visible_truncated;

/// One rule a message breaks, before the engine turns it into a [`Finding`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule id (`F-RPL-1`).
    pub rule: RuleId,
    /// What is wrong, in one sentence.
    pub message: String,
}

impl Violation {
    /// A violation of `rule`.
    pub fn new(rule: RuleId, message: impl Into<String>) -> Violation {
        Violation {
            rule,
            message: message.into(),
        }
    }
}

/// The reply parley sends when it cannot open the data connection a client announced
/// (959 §5.4: 425 after the transfer command).
pub const CANT_OPEN_DATA: &[u8] = b"425 Can't open data connection.\r\n";

/// Which connection the last inspected message travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Channel {
    /// `main`: commands and replies.
    #[default]
    Control,
    /// A data connection: bytes as they are.
    Data,
}

/// Judges one FTP conversation: control connection (`main`) and data connections.
#[derive(Debug, Default)]
pub struct FtpInspector {
    session: ControlState,
    /// The host the client was given (229 replies carry only a port, RFC 2428 §3).
    target_host: Option<String>,
    /// The last PORT or EPRT, as sent (for F-DATA-1's arithmetic).
    announced: Option<Command>,
    /// Lines of the last reply on `main` (parley's reply when it sends one).
    last_reply_lines: usize,
    channel: Channel,
    /// The port of the last 227/229 (F-SEC-5), and whether a consecutive one was noted.
    last_passive_port: Option<u16>,
    predictable_noted: bool,
}

impl FtpInspector {
    /// A fresh inspector.
    pub fn new() -> FtpInspector {
        FtpInspector::default()
    }

    /// The session state (for tests and tools).
    pub fn session(&self) -> &ControlState {
        &self.session
    }

    fn command_view(&mut self, msg: &[u8], findings: &mut Vec<Finding>) -> MessageView {
        let parsed = parse_command(msg);
        push(findings, parsed.violations, msg);
        let seq = self.session.on_command(parsed.command.as_ref());
        push(findings, seq, msg);
        let mut view = MessageView::default();
        let Some(cmd) = parsed.command else {
            return view;
        };
        if matches!(cmd.keyword.as_str(), "PORT" | "EPRT") {
            if let Some(addr) = cmd.data_addr() {
                view.vars = addr_vars("port", addr);
            }
            self.announced = Some(cmd.clone());
        }
        if !cmd.keyword.is_empty() {
            view.command = Some(cmd.keyword);
        }
        view.path = cmd.arg;
        view
    }

    fn reply_view(&mut self, msg: &[u8], findings: &mut Vec<Finding>) -> MessageView {
        let parsed = parse_reply(msg);
        push(findings, parsed.violations, msg);
        let mut view = MessageView::default();
        let Some(reply) = parsed.reply else {
            self.session.on_unreadable_reply();
            return view;
        };
        let seq = self.session.on_reply(&reply);
        push(findings, seq, msg);
        self.last_reply_lines = reply.lines.len();
        view.code = Some(reply.code.0);
        match reply.code {
            ReplyCode::PASSIVE_MODE => match self.pasv_addr(&reply) {
                Some((addr, announced)) => {
                    if let Some(other) = announced {
                        findings.push(
                            Finding::new(
                                rules::F_SEC_8,
                                format!(
                                    "the 227 names the host {other}, not the server's own {}: parley connects to {} instead, \
                                     as curl and ftplib do",
                                    addr.ip(),
                                    addr
                                ),
                            )
                            .actual(msg),
                        );
                    }
                    self.judge_passive_port(addr.port(), msg, findings);
                    view.vars = addr_vars("pasv", addr);
                }
                None => findings.push(
                    Finding::new(
                        rules::F_DATA_6,
                        "the 227 reply does not carry six numbers h1,h2,h3,h4,p1,p2 (0-255) anywhere in its text, \
                         so no client can find the data address (RFC 1123 §4.1.2.6)",
                    )
                    .actual(msg),
                ),
            },
            ReplyCode::EXTENDED_PASSIVE_MODE => {
                let port = addr::find_epsv_port(&reply.text());
                let host = self.target_host.as_deref().and_then(|h| h.parse::<IpAddr>().ok());
                if port.is_none() {
                    findings.push(
                        Finding::new(
                            rules::F_2428_2,
                            "the 229 reply does not carry its port as `(|||port|)` (RFC 2428 §3), so no client can find the data port",
                        )
                        .actual(msg),
                    );
                }
                if let Some(port) = port {
                    self.judge_passive_port(port, msg, findings);
                }
                if let (Some(port), Some(host)) = (port, host) {
                    view.vars = addr_vars("pasv", SocketAddr::new(host, port));
                }
            }
            _ => {}
        }
        view
    }

    /// F-SEC-5: a passive port one above the previous one in the same session. A kernel
    /// or random choice makes that a chance of about one in tens of thousands; a server
    /// that counts up makes it certain, and the next data connection predictable.
    fn judge_passive_port(&mut self, port: u16, msg: &[u8], findings: &mut Vec<Finding>) {
        let previous = self.last_passive_port.replace(port);
        if self.predictable_noted || previous.and_then(|p| p.checked_add(1)) != Some(port) {
            return;
        }
        self.predictable_noted = true;
        findings.push(
            Finding::new(
                rules::F_SEC_5,
                format!(
                    "passive port {port} follows port {} of the previous PASV/EPSV: ports handed out in order let another host predict and take the next data connection (RFC 2577 §8)",
                    port - 1
                ),
            )
            .actual(msg),
        );
    }

    /// The data address of a 227, and the other host it named when that is not the
    /// server's. A server that announces 0.0.0.0 means its own address; one that announces
    /// another host is not followed there (F-SEC-8): the data connection goes to the
    /// server parley talks to, as curl and ftplib do.
    fn pasv_addr(&self, reply: &FtpReply) -> Option<(SocketAddr, Option<IpAddr>)> {
        let found = addr::find_pasv_numbers(&reply.text())?;
        let announced = IpAddr::V4(*found.ip());
        Some(
            match self.target_host.as_deref().and_then(|h| h.parse::<IpAddr>().ok()) {
                Some(target) if found.ip().is_unspecified() => (SocketAddr::new(target, found.port()), None),
                Some(target) if target != announced => {
                    (SocketAddr::new(target, found.port()), Some(announced))
                }
                _ => (SocketAddr::new(announced, found.port()), None),
            },
        )
    }
}

fn push(findings: &mut Vec<Finding>, violations: Vec<Violation>, msg: &[u8]) {
    findings.extend(
        violations
            .into_iter()
            .map(|v| Finding::new(v.rule, v.message).actual(msg)),
    );
}

/// `prefix.host`, `prefix.port` and `prefix.addr` (see `Protocol::provided_vars`).
fn addr_vars(prefix: &str, addr: SocketAddr) -> Vec<(String, String)> {
    vec![
        (format!("{prefix}.host"), addr.ip().to_string()),
        (format!("{prefix}.port"), addr.port().to_string()),
        (format!("{prefix}.addr"), addr.to_string()),
    ]
}

/// The code a literal reply starts with (`NNN` then SP or `-`).
fn literal_code(expected: &[u8]) -> Option<u16> {
    let digits = expected.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(expected.get(3), Some(b' ' | b'-')) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn shown(bytes: &[u8]) -> String {
    visible_truncated(bytes, 80)
}

impl Codec for FtpInspector {
    fn target(&mut self, host: &str, _port: u16) {
        self.target_host = Some(host.to_string());
    }

    /// `main` to the client: one whole reply, multi-line aware (959 §4.2); `main` to the
    /// server: one command line through its LF. Data connections are framed by the
    /// engine (until the sender closes); if a scenario asks for protocol framing there,
    /// it is the same.
    fn frame_resuming(&self, dir: Dir, conn: &str, buf: &[u8], eof: bool, scan: &mut Scan) -> Frame {
        if conn != MAIN {
            return if eof {
                Frame::Complete(buf.len())
            } else {
                Frame::Partial
            };
        }
        match dir {
            Dir::ToClient => {
                let mut reply = match scan {
                    Scan::Reply(r) => *r,
                    _ => ReplyScan::default(),
                };
                let framed = frame_reply_from(buf, &mut reply);
                *scan = Scan::Reply(reply);
                match framed {
                    ReplyFrame::Complete(n) => Frame::Complete(n),
                    // At the end of file an unfinished reply stays unfinished: the engine
                    // reports it through `incomplete`.
                    ReplyFrame::Partial(_) => Frame::Partial,
                }
            }
            Dir::ToServer => match crate::proto::find_lf(buf, scan) {
                Some(p) => Frame::Complete(p + 1),
                None => Frame::Partial,
            },
        }
    }

    fn inspect(&mut self, dir: Dir, conn: &str, msg: &[u8], findings: &mut Vec<Finding>) -> MessageView {
        if conn != MAIN {
            self.channel = Channel::Data;
            push(findings, self.session.on_data(dir, msg), msg);
            return MessageView::default();
        }
        self.channel = Channel::Control;
        match dir {
            Dir::ToServer => self.command_view(msg, findings),
            Dir::ToClient => self.reply_view(msg, findings),
        }
    }

    /// A reply literal matches by its code, a command literal by keyword (any case) and
    /// argument, data byte for byte.
    fn literal_matches(
        &self,
        dir: Dir,
        expected: &[u8],
        msg: &[u8],
        view: &MessageView,
    ) -> Result<(), Mismatch> {
        if expected == msg || self.channel == Channel::Data {
            return exact_match(expected, msg);
        }
        match dir {
            Dir::ToClient => {
                let Some(want) = literal_code(expected) else {
                    return exact_match(expected, msg);
                };
                match view.code {
                    Some(got) if got == want => Ok(()),
                    Some(got) => Err(Mismatch {
                        expected: shown(expected),
                        actual: shown(msg),
                        message: format!("reply code {got} arrived where {want} was expected"),
                    }),
                    None => Err(Mismatch {
                        expected: shown(expected),
                        actual: shown(msg),
                        message: format!("no reply code could be read where {want} was expected"),
                    }),
                }
            }
            Dir::ToServer => {
                let Some(want) = parse_command(expected).command.filter(|c| !c.keyword.is_empty()) else {
                    return exact_match(expected, msg);
                };
                let got_kw = view.command.as_deref().unwrap_or("");
                let got_arg = view.path.as_deref();
                let same_arg = match (want.arg.as_deref(), got_arg) {
                    (Some(a), Some(b)) if matches!(want.keyword.as_str(), "TYPE" | "MODE" | "STRU") => {
                        a.eq_ignore_ascii_case(b)
                    }
                    (a, b) => a == b,
                };
                if want.keyword.eq_ignore_ascii_case(got_kw) && same_arg {
                    return Ok(());
                }
                let got = if got_kw.is_empty() {
                    shown(msg)
                } else {
                    match got_arg {
                        Some(a) => format!("{got_kw} {a}"),
                        None => got_kw.to_string(),
                    }
                };
                Err(Mismatch {
                    expected: shown(expected),
                    actual: shown(msg),
                    message: format!("the command is `{got}`, not `{}`", want.display()),
                })
            }
        }
    }
}

impl Hooks for FtpInspector {
    /// A multi-line reply that never ended (F-RPL-2), a reply or command line without its
    /// CRLF (F-RPL-1, F-CMD-1); a data connection that never closed (stream mode ends a
    /// transfer by closing it, 959 §3.4).
    fn incomplete(&self, dir: Dir, conn: &str, partial: &[u8]) -> Option<(RuleId, String)> {
        if conn != MAIN {
            return (dir == Dir::ToClient).then(|| {
                (
                    rules::S_EXPECT,
                    "in stream mode the server ends a transfer by closing the data connection (RFC 959 §3.4), and it did not"
                        .to_string(),
                )
            });
        }
        match dir {
            Dir::ToClient => match frame_reply(partial) {
                ReplyFrame::Partial(reply::Pending::Multiline { code, lines }) => {
                    let code = String::from_utf8_lossy(&code).into_owned();
                    let near = partial
                        .split(|b| *b == b'\n')
                        .any(|l| l.strip_suffix(b"\r").unwrap_or(l) == code.as_bytes());
                    let hint = if near {
                        format!("; a line `{code}` without the space does not end it")
                    } else {
                        String::new()
                    };
                    Some((
                        rules::F_RPL_2,
                        format!(
                            "the multi-line {code} reply never ended: parley waited for a line that starts with `{code} ` \
                             (the code and a space, RFC 959 §4.2), and {lines} line{} came{hint}",
                            if lines == 1 { "" } else { "s" }
                        ),
                    ))
                }
                ReplyFrame::Partial(reply::Pending::FirstLine) => Some((
                    rules::F_RPL_1,
                    format!(
                        "the reply line `{}` never ended: a reply line ends in CRLF (RFC 959 §4.2)",
                        shown(partial)
                    ),
                )),
                ReplyFrame::Complete(_) => None,
            },
            Dir::ToServer => Some((
                rules::F_CMD_1,
                format!(
                    "the command `{}` never ended: a command ends in CRLF (RFC 959 §5.3)",
                    shown(partial)
                ),
            )),
        }
    }

    /// A 226/250 on the control connection while the data connection is still open and
    /// carried nothing: the server claims a transfer it never made (F-DATA-5).
    fn stalled_beside(
        &self,
        dir: Dir,
        conn: &str,
        partial: &[u8],
        main_unread: &[u8],
    ) -> Option<(RuleId, String)> {
        if conn == MAIN || dir != Dir::ToClient || !partial.is_empty() {
            return None;
        }
        let ReplyFrame::Complete(n) = frame_reply(main_unread) else {
            return None;
        };
        let reply = parse_reply(&main_unread[..n]).reply?;
        if !matches!(reply.code.0, 226 | 250) {
            return None;
        }
        Some((
            rules::F_DATA_5,
            format!(
                "the server sent `{}` on the control connection while `{conn}` was still open and had carried \
                 nothing: {} means the transfer is complete and the data connection closed; a transfer that \
                 did not happen is answered 425 or 426 (RFC 959 §5.4)",
                shown(&main_unread[..n]),
                reply.code
            ),
        ))
    }

    /// A 425 or 426 (after any preliminary 1yz) among the complete replies the server sent
    /// while parley waited for it to open a data connection: it refused the transfer.
    fn refused_transfer(&self, main_unread: &[u8]) -> Option<Vec<u8>> {
        let mut rest = main_unread;
        while let ReplyFrame::Complete(n) = frame_reply(rest) {
            let (reply, more) = rest.split_at(n);
            match parse_reply(reply).reply.map(|r| r.code.0) {
                Some(425 | 426) => return Some(reply.to_vec()),
                Some(c) if (100..200).contains(&c) => rest = more,
                _ => return None,
            }
        }
        None
    }

    /// A client command that arrived before parley had finished sending `answering`:
    /// - the greeting, written whole: the client did not wait for it (F-SEQ-1);
    /// - a multi-line reply (the greeting too) written in pieces: the client took its
    ///   first piece for the whole reply (F-RPL-2);
    /// - a single-line reply (the greeting too) written in pieces: one read taken for one
    ///   reply (F-1123-2) — a client that sent its command after the first byte of a
    ///   split greeting cannot be told from one that read nothing, and the read is the
    ///   likelier bug;
    /// - the 226/250/4yz that closes a transfer (after 125/150): F-DATA-4;
    /// - any other reply: pipelining (F-CMD-2).
    fn premature(
        &self,
        dir: Dir,
        conn: &str,
        msg: &[u8],
        answering: &[u8],
        split: bool,
    ) -> Option<(RuleId, String)> {
        if dir != Dir::ToServer || conn != MAIN {
            return None;
        }
        let sent = shown(msg);
        let reply = shown(answering);
        let multiline = parse_reply(answering).reply.is_some_and(|r| r.is_multiline());
        let pieces = if split { " (written in pieces)" } else { "" };
        let greeting = self.session.commands() == 0;
        let (rule, why) = if greeting && !split {
            (
                rules::F_SEQ_1,
                "it did not wait for the server's 220 greeting before its first command".to_string(),
            )
        } else if multiline && split {
            (
                rules::F_RPL_2,
                "it took the first piece of a multi-line reply for the whole reply; read lines until one starts \
                 with the code and a space"
                    .to_string(),
            )
        } else if split {
            (
                rules::F_1123_2,
                "it took what one read returned for the whole reply; buffer reads and split them into lines"
                    .to_string(),
            )
        } else if self.session.completed().is_some_and(|c| c.after_preliminary) {
            (
                rules::F_DATA_4,
                "it did not read the reply that closes the transfer before its next command".to_string(),
            )
        } else {
            (
                rules::F_CMD_2,
                "it sent its next command before the reply to the last one: it pipelines".to_string(),
            )
        };
        Some((
            rule,
            format!(
                "the client sent \"{sent}\" before parley had finished sending \"{reply}\"{pieces}: {why}"
            ),
        ))
    }

    /// The client closed while parley wrote: a multi-line reply not read whole (F-RPL-2),
    /// one read taken for a reply (F-1123-2), or for a whole listing (F-DATA-3).
    fn closed_while_sending(&self, dir: Dir, conn: &str) -> Option<RuleId> {
        match (dir, conn == MAIN) {
            (Dir::ToClient, true) if self.last_reply_lines > 1 => Some(rules::F_RPL_2),
            (Dir::ToClient, true) => Some(rules::F_1123_2),
            (Dir::ToClient, false) => Some(rules::F_DATA_3),
            (Dir::ToServer, _) => None,
        }
    }

    /// F-DATA-1, with the arithmetic: which port the PORT numbers name and what the
    /// program's listening ports would have been written as; and the 425 parley sends.
    fn open_failed(
        &self,
        conn: &str,
        announced: &str,
        listening: Option<&BTreeSet<u16>>,
    ) -> Option<OpenFailure> {
        if conn == MAIN {
            return None;
        }
        let target: Option<SocketAddr> = announced.parse().ok();
        let said = match (&self.announced, target) {
            (Some(cmd), Some(t)) if cmd.keyword == "PORT" => format!(
                "{} announces port {}",
                cmd.display(),
                addr::port_arithmetic(t.port())
            ),
            (Some(cmd), Some(t)) => format!("{} announces port {}", cmd.display(), t.port()),
            _ => format!("the client announced {announced}"),
        };
        let form = |p: u16| match self.announced.as_ref().map(|c| c.keyword.as_str()) {
            Some("EPRT") => p.to_string(),
            _ => format!("{p}, which is {}", addr::port_to_args(p)),
        };
        let there = match (listening, target) {
            (Some(ports), Some(t)) if ports.contains(&t.port()) => format!(
                "; your program is listening on {}, so the host {} is not where it listens",
                t.port(),
                t.ip()
            ),
            (Some(ports), _) if ports.is_empty() => {
                "; your program is not listening on any port: call listen() on the data socket before sending the command"
                    .to_string()
            }
            (Some(ports), _) => format!(
                "; your program is listening on {}",
                ports.iter().map(|p| form(*p)).collect::<Vec<_>>().join(" and on ")
            ),
            (None, _) => "; nothing accepted a connection there".to_string(),
        };
        Some(OpenFailure {
            rule: rules::F_DATA_1,
            message: format!("{said}{there}"),
            reply: CANT_OPEN_DATA.to_vec(),
        })
    }

    /// A PORT or EPRT naming another host than the control connection's, or a port below
    /// 1024 (RFC 2577 §3): refused with 504, under F-SEC-7.
    fn refuse_data_address(&self, msg: &[u8], control_peer: SocketAddr) -> Option<OpenFailure> {
        let command = parse_command(msg).command?;
        if !matches!(command.keyword.as_str(), "PORT" | "EPRT") {
            return None;
        }
        let addr = command.data_addr()?;
        let why = if addr.ip() != control_peer.ip() {
            format!(
                "{} names the host {}, but the control connection comes from {}: a client announces its own address, \
                 and parley never connects to another host (the FTP bounce attack, RFC 2577 §3)",
                command.display(),
                addr.ip(),
                control_peer.ip()
            )
        } else if addr.port() < 1024 {
            format!(
                "{} names port {}, a privileged port: a client's data port is 1024 or above, and parley never connects \
                 below it (RFC 2577 §3)",
                command.display(),
                addr.port()
            )
        } else {
            return None;
        };
        Some(OpenFailure {
            rule: rules::F_SEC_7,
            message: why,
            reply: b"504 Command not implemented for that parameter (RFC 2577 section 3).\r\n".to_vec(),
        })
    }

    fn opened_late(&self, conn: &str) -> Option<RuleId> {
        (conn != MAIN).then_some(rules::F_DATA_2)
    }

    /// A 125/150 may go out while parley still tries to connect: it says the server is
    /// "about to open data connection" (RFC 959 §4.2.2), and a client may wait for it
    /// before it listens (that client is late, F-DATA-2, but it gets its chance).
    fn send_before_close(&self, conn: &str, next: &[u8]) -> bool {
        conn != MAIN && matches!(literal_code(next), Some(226 | 250))
    }

    fn send_before_retry(&self, conn: &str, next: &[u8]) -> bool {
        conn != MAIN && matches!(literal_code(next), Some(125 | 150))
    }

    /// RFC 959 §5.4 replies to the commands real clients send around an exercise
    /// ([`answer::default_answer`]); never to a command of the kind the step expects.
    fn default_answer(&self, msg: &[u8], expected: Option<&[u8]>) -> Option<Vec<u8>> {
        let command = parse_command(msg).command?;
        let expected = expected.and_then(|e| parse_command(e).command);
        if expected.is_some_and(|e| e.keyword == command.keyword) {
            return None;
        }
        answer::default_answer(&command)
    }

    fn keyword(&self, msg: &[u8]) -> Option<String> {
        parse_command(msg)
            .command
            .map(|c| c.keyword)
            .filter(|k| !k.is_empty())
    }

    /// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).` without its parentheses.
    fn without_parentheses(&self, reply: &[u8]) -> Option<Vec<u8>> {
        reply.starts_with(b"227").then(|| {
            reply
                .iter()
                .copied()
                .filter(|b| !matches!(b, b'(' | b')'))
                .collect()
        })
    }

    fn multiline(&self, reply: &[u8]) -> Option<Vec<u8>> {
        reply::multiline_form(reply)
    }

    fn odd_text(&self, reply: &[u8]) -> Option<Vec<u8>> {
        reply::odd_text_form(reply)
    }
}
