//! FTP replies, sans-I/O: the reply code and what its digits mean (RFC 959 §4.2.1, §4.2.2),
//! where a reply ends in a byte stream (single- and multi-line, 959 §4.2), and the grammar
//! checks of one whole reply (F-RPL-1, F-RPL-3, F-RPL-5).
//!
//! Framing is a pure function of the buffered bytes: the same bytes give the same answer
//! however they were split, so a reply read one byte at a time is judged exactly like one
//! read whole. It is also incremental ([`frame_reply_from`] with a [`ReplyScan`]): each
//! look at the grown buffer resumes at the line in progress, so a long multi-line reply
//! arriving in small pieces is read once. Which code may answer which command is
//! [`super::table`]'s business.

use crate::rules;
use std::fmt;

use super::Violation;

/// A three-digit FTP reply code (RFC 959 §4.2). The first digit says whether the reply is
/// good, bad or incomplete, the second what it is about, the third refines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(pub u16);

impl ReplyCode {
    /// 110 Restart marker reply (in RETR/STOR transfers that resume, 959 §4.2.2).
    pub const RESTART_MARKER: ReplyCode = ReplyCode(110);
    /// 120 Service ready in nnn minutes (then 220 follows).
    pub const SERVICE_READY_LATER: ReplyCode = ReplyCode(120);
    /// 125 Data connection already open; transfer starting.
    pub const DATA_CONNECTION_OPEN: ReplyCode = ReplyCode(125);
    /// 150 File status okay; about to open data connection.
    pub const FILE_STATUS_OK: ReplyCode = ReplyCode(150);
    /// 200 Command okay.
    pub const COMMAND_OK: ReplyCode = ReplyCode(200);
    /// 202 Command not implemented, superfluous at this site.
    pub const SUPERFLUOUS: ReplyCode = ReplyCode(202);
    /// 211 System status, or system help reply (also the FEAT reply, RFC 2389 §3.2).
    pub const SYSTEM_STATUS: ReplyCode = ReplyCode(211);
    /// 212 Directory status.
    pub const DIRECTORY_STATUS: ReplyCode = ReplyCode(212);
    /// 213 File status.
    pub const FILE_STATUS: ReplyCode = ReplyCode(213);
    /// 214 Help message.
    pub const HELP: ReplyCode = ReplyCode(214);
    /// 215 NAME system type.
    pub const SYSTEM_TYPE: ReplyCode = ReplyCode(215);
    /// 220 Service ready for new user.
    pub const SERVICE_READY: ReplyCode = ReplyCode(220);
    /// 221 Service closing control connection.
    pub const CLOSING_CONTROL: ReplyCode = ReplyCode(221);
    /// 225 Data connection open; no transfer in progress.
    pub const DATA_CONNECTION_IDLE: ReplyCode = ReplyCode(225);
    /// 226 Closing data connection. Requested file action successful.
    pub const CLOSING_DATA: ReplyCode = ReplyCode(226);
    /// 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).
    pub const PASSIVE_MODE: ReplyCode = ReplyCode(227);
    /// 229 Entering Extended Passive Mode (|||port|) (RFC 2428 §3).
    pub const EXTENDED_PASSIVE_MODE: ReplyCode = ReplyCode(229);
    /// 230 User logged in, proceed.
    pub const LOGGED_IN: ReplyCode = ReplyCode(230);
    /// 250 Requested file action okay, completed.
    pub const FILE_ACTION_OK: ReplyCode = ReplyCode(250);
    /// 257 "PATHNAME" created.
    pub const PATHNAME_CREATED: ReplyCode = ReplyCode(257);
    /// 331 User name okay, need password.
    pub const NEED_PASSWORD: ReplyCode = ReplyCode(331);
    /// 332 Need account for login.
    pub const NEED_ACCOUNT: ReplyCode = ReplyCode(332);
    /// 350 Requested file action pending further information.
    pub const PENDING_FURTHER_INFO: ReplyCode = ReplyCode(350);
    /// 421 Service not available, closing control connection. May answer any command.
    pub const SERVICE_NOT_AVAILABLE: ReplyCode = ReplyCode(421);
    /// 425 Can't open data connection.
    pub const CANT_OPEN_DATA: ReplyCode = ReplyCode(425);
    /// 426 Connection closed; transfer aborted.
    pub const TRANSFER_ABORTED: ReplyCode = ReplyCode(426);
    /// 450 Requested file action not taken. File unavailable (e.g., file busy).
    pub const FILE_UNAVAILABLE_BUSY: ReplyCode = ReplyCode(450);
    /// 451 Requested action aborted: local error in processing.
    pub const LOCAL_ERROR: ReplyCode = ReplyCode(451);
    /// 452 Requested action not taken. Insufficient storage space in system.
    pub const INSUFFICIENT_STORAGE: ReplyCode = ReplyCode(452);
    /// 500 Syntax error, command unrecognized.
    pub const SYNTAX_ERROR: ReplyCode = ReplyCode(500);
    /// 501 Syntax error in parameters or arguments.
    pub const SYNTAX_ERROR_ARGS: ReplyCode = ReplyCode(501);
    /// 502 Command not implemented.
    pub const NOT_IMPLEMENTED: ReplyCode = ReplyCode(502);
    /// 503 Bad sequence of commands.
    pub const BAD_SEQUENCE: ReplyCode = ReplyCode(503);
    /// 504 Command not implemented for that parameter.
    pub const NOT_IMPLEMENTED_FOR_PARAMETER: ReplyCode = ReplyCode(504);
    /// 522 Network protocol not supported (EPRT/EPSV, RFC 2428 §2).
    pub const PROTOCOL_NOT_SUPPORTED: ReplyCode = ReplyCode(522);
    /// 530 Not logged in.
    pub const NOT_LOGGED_IN: ReplyCode = ReplyCode(530);
    /// 532 Need account for storing files.
    pub const NEED_ACCOUNT_TO_STORE: ReplyCode = ReplyCode(532);
    /// 550 Requested action not taken. File unavailable (e.g., file not found, no access).
    pub const FILE_UNAVAILABLE: ReplyCode = ReplyCode(550);
    /// 551 Requested action aborted: page type unknown.
    pub const PAGE_TYPE_UNKNOWN: ReplyCode = ReplyCode(551);
    /// 552 Requested file action aborted. Exceeded storage allocation.
    pub const EXCEEDED_STORAGE: ReplyCode = ReplyCode(552);
    /// 553 Requested action not taken. File name not allowed.
    pub const FILE_NAME_NOT_ALLOWED: ReplyCode = ReplyCode(553);

    /// What the first digit says (959 §4.2.1), when it is 1–5.
    pub fn class(self) -> Option<ReplyClass> {
        match self.0 / 100 {
            1 => Some(ReplyClass::PositivePreliminary),
            2 => Some(ReplyClass::PositiveCompletion),
            3 => Some(ReplyClass::PositiveIntermediate),
            4 => Some(ReplyClass::TransientNegative),
            5 => Some(ReplyClass::PermanentNegative),
            _ => None,
        }
    }

    /// What the second digit says (959 §4.2.1), when it is 0–5.
    pub fn function(self) -> Option<ReplyFunction> {
        match self.0 / 10 % 10 {
            0 => Some(ReplyFunction::Syntax),
            1 => Some(ReplyFunction::Information),
            2 => Some(ReplyFunction::Connections),
            3 => Some(ReplyFunction::Authentication),
            4 => Some(ReplyFunction::Unspecified),
            5 => Some(ReplyFunction::FileSystem),
            _ => None,
        }
    }

    /// A 1yz reply: another reply follows before the next command (959 §4.2.1).
    pub fn is_preliminary(self) -> bool {
        self.class() == Some(ReplyClass::PositivePreliminary)
    }

    /// 2yz–5yz: the reply that ends a command's exchange (3yz asks for the next command).
    pub fn is_final(self) -> bool {
        matches!(self.0 / 100, 2..=5)
    }

    /// 2yz.
    pub fn is_success(self) -> bool {
        self.class() == Some(ReplyClass::PositiveCompletion)
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// The first digit of a reply code (RFC 959 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyClass {
    /// 1yz: the action is being started; expect another reply before the next command.
    PositivePreliminary,
    /// 2yz: the action has been completed successfully.
    PositiveCompletion,
    /// 3yz: accepted, but held pending further information (e.g. PASS after USER).
    PositiveIntermediate,
    /// 4yz: not accepted, the error is temporary; the client may try again.
    TransientNegative,
    /// 5yz: not accepted, and it will not be if repeated.
    PermanentNegative,
}

/// The second digit of a reply code (RFC 959 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFunction {
    /// x0z: syntax errors, superfluous or unimplemented commands.
    Syntax,
    /// x1z: replies to requests for information (status, help).
    Information,
    /// x2z: the control and data connections.
    Connections,
    /// x3z: login and accounting.
    Authentication,
    /// x4z: unspecified.
    Unspecified,
    /// x5z: the file system.
    FileSystem,
}

/// One whole reply: its code and the text of each line (code, separator and line end
/// removed from the first and last lines; middle lines as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpReply {
    /// The code.
    pub code: ReplyCode,
    /// The text of each line.
    pub lines: Vec<String>,
}

impl FtpReply {
    /// More than one line (959 §4.2: `NNN-` first line ... `NNN SP` last line).
    pub fn is_multiline(&self) -> bool {
        self.lines.len() > 1
    }

    /// All the text, lines joined by `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// Where a reply ends in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFrame {
    /// The first `n` bytes are one whole reply.
    Complete(usize),
    /// More bytes are needed.
    Partial(Pending),
}

/// What an unfinished reply is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// The first line has not ended (no LF yet).
    FirstLine,
    /// A multi-line reply with `code` began; `lines` whole lines came, and none yet
    /// starts with the code and a space.
    Multiline {
        /// The code of its first line.
        code: [u8; 3],
        /// Whole lines so far.
        lines: usize,
    },
}

/// The lines of `buf`, each through its LF (the last one may lack it).
fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    buf.split_inclusive(|b| *b == b'\n')
}

/// The three digits that start a line, when they do.
fn leading_digits(line: &[u8]) -> Option<[u8; 3]> {
    match line.get(..3) {
        Some(&[a, b, c]) if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => Some([a, b, c]),
        _ => None,
    }
}

/// Is `line` the first line of a multi-line reply (`NNN-`)? Its code, if so.
fn multiline_start(line: &[u8]) -> Option<[u8; 3]> {
    leading_digits(line).filter(|_| line.get(3) == Some(&b'-'))
}

/// Does `line` end the multi-line reply of `code`: the same three digits, then SP
/// (959 §4.2)?
fn ends_multiline(line: &[u8], code: [u8; 3]) -> bool {
    line.starts_with(&code) && line.get(3) == Some(&b' ')
}

/// Where the reply at the start of `buf` ends (959 §4.2). A first line that is not `NNN-`
/// is a whole reply by itself, whatever it holds (its grammar is judged by
/// [`parse_reply`]); a multi-line reply ends at the first line that starts with its code
/// and a space, whatever the lines in between say.
pub fn frame_reply(buf: &[u8]) -> ReplyFrame {
    frame_reply_from(buf, &mut ReplyScan::default())
}

/// How far [`frame_reply_from`] has read a reply: the lines before offset `line` are
/// whole and judged, and `buf[line..searched]` holds no LF. Keep one per reply being received, fresh
/// for each reply (see [`crate::proto::Scan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplyScan {
    /// Where the line in progress starts.
    line: usize,
    /// No LF between `line` and this offset.
    searched: usize,
    /// What the lines before `line` say.
    state: ReplyState,
}

/// What the whole lines read so far say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum ReplyState {
    /// The first line has not ended.
    #[default]
    FirstLine,
    /// A multi-line reply of `code` with `lines` whole lines, none its last.
    Multiline { code: [u8; 3], lines: usize },
    /// The reply is the first `n` bytes.
    Complete(usize),
}

/// [`frame_reply`], resuming where `scan` stopped on a shorter prefix of `buf`: only the
/// bytes after the last LF read are read again, so framing a reply delivered in many
/// pieces costs time linear in its length. Gives the answer [`frame_reply`] gives for
/// `buf`.
pub fn frame_reply_from(buf: &[u8], scan: &mut ReplyScan) -> ReplyFrame {
    loop {
        let pending = match scan.state {
            ReplyState::Complete(n) => return ReplyFrame::Complete(n),
            ReplyState::FirstLine => Pending::FirstLine,
            ReplyState::Multiline { code, lines } => Pending::Multiline { code, lines },
        };
        let from = scan.searched.max(scan.line).min(buf.len());
        let Some(lf) = memchr::memchr(b'\n', &buf[from..]).map(|i| from + i) else {
            scan.searched = buf.len();
            return ReplyFrame::Partial(pending);
        };
        let line = &buf[scan.line..=lf];
        scan.line = lf + 1;
        scan.searched = lf + 1;
        scan.state = match scan.state {
            ReplyState::FirstLine => match multiline_start(line) {
                Some(code) => ReplyState::Multiline { code, lines: 1 },
                None => ReplyState::Complete(lf + 1),
            },
            ReplyState::Multiline { code, .. } if ends_multiline(line, code) => ReplyState::Complete(lf + 1),
            ReplyState::Multiline { code, lines } => ReplyState::Multiline {
                code,
                lines: lines + 1,
            },
            done @ ReplyState::Complete(_) => done,
        };
    }
}

/// The text of a line without its end (CRLF, bare LF, or none).
fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What one whole reply says and which grammar rules it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReply {
    /// The reply, when a code can be read (three digits not followed by a fourth).
    pub reply: Option<FtpReply>,
    /// F-RPL-1, F-RPL-3 and F-RPL-5 violations.
    pub violations: Vec<Violation>,
}

/// Parses one whole reply (as cut by [`frame_reply`]) and checks its grammar: three
/// digits then SP or `-` (F-RPL-1), first digit 1–5 and second 0–5 (F-RPL-3), lines
/// ending in CRLF (F-RPL-1 when the end is missing, F-RPL-5 for a bare LF).
pub fn parse_reply(msg: &[u8]) -> ParsedReply {
    let mut violations = Vec::new();
    let all: Vec<&[u8]> = lines(msg).collect();
    let Some(first) = all.first().copied() else {
        violations.push(Violation::new(
            rules::F_RPL_1,
            "an empty reply: a reply is `NNN text\\r\\n` (RFC 959 §4.2)",
        ));
        return ParsedReply {
            reply: None,
            violations,
        };
    };
    let digits = leading_digits(first);
    let after = first.get(3).copied();
    let code = match digits {
        Some(d) if !after.is_some_and(|b| b.is_ascii_digit()) => Some(ReplyCode(
            u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0'),
        )),
        _ => None,
    };
    let shown = crate::visible::visible_truncated(strip_eol(first), 40);
    match (digits, after) {
        (Some(_), Some(b' ' | b'-')) => {}
        (Some(_), Some(b) ) if b.is_ascii_digit() => violations.push(Violation::new(
            rules::F_RPL_1,
            format!("the reply `{shown}` starts with more than three digits: a reply code is exactly three (RFC 959 §4.2)"),
        )),
        (Some(d), _) => violations.push(Violation::new(
            rules::F_RPL_1,
            format!(
                "the code {} is not followed by a space (or `-` on the first line of a multi-line reply): `{shown}` (RFC 959 §4.2)",
                text(&d)
            ),
        )),
        (None, _) => {
            let lead = first.iter().take_while(|b| b.is_ascii_digit()).count();
            let why = if lead > 0 {
                format!("its code has {lead} digit{}, not three", if lead == 1 { "" } else { "s" })
            } else {
                "it does not start with a three-digit code".to_string()
            };
            violations.push(Violation::new(
                rules::F_RPL_1,
                format!("`{shown}` is not an FTP reply: {why} (RFC 959 §4.2)"),
            ));
        }
    }
    if let Some(c) = code {
        if c.class().is_none() || c.function().is_none() {
            violations.push(Violation::new(
                rules::F_RPL_3,
                format!("reply code {c}: the first digit must be 1-5 and the second 0-5 (RFC 959 §4.2.1)"),
            ));
        }
    }
    let last = all.last().copied().unwrap_or(first);
    if !last.ends_with(b"\n") {
        violations.push(Violation::new(
            rules::F_RPL_1,
            "the reply's last line does not end in CRLF (RFC 959 §4.2)",
        ));
    }
    let bare = all
        .iter()
        .filter(|l| l.ends_with(b"\n") && !l.ends_with(b"\r\n"))
        .count();
    if bare > 0 {
        violations.push(Violation::new(
            rules::F_RPL_5,
            format!(
                "{bare} of the reply's {} line{} end{} in a bare LF instead of CRLF (RFC 959 §4.2)",
                all.len(),
                if all.len() == 1 { "" } else { "s" },
                if bare == 1 { "s" } else { "" }
            ),
        ));
    }
    let reply = code.map(|code| {
        let mut texts: Vec<String> = Vec::with_capacity(all.len());
        for (i, line) in all.iter().enumerate() {
            let body = strip_eol(line);
            let is_edge = i == 0 || i + 1 == all.len();
            let t = if is_edge && leading_digits(body).is_some() && body.len() >= 4 {
                &body[4..]
            } else if is_edge && leading_digits(body).is_some() {
                &body[3..]
            } else {
                body
            };
            texts.push(text(t));
        }
        FtpReply { code, lines: texts }
    });
    ParsedReply { reply, violations }
}

/// The multi-line form of a single-line reply `NNN text\r\n`: `NNN-text`, a second line,
/// then `NNN text` again (959 §4.2). The second line repeats the code with a hyphen,
/// which a reader that looks only at the three digits takes for the end.
pub fn multiline_form(reply: &[u8]) -> Option<Vec<u8>> {
    let body = reply.strip_suffix(b"\r\n")?;
    if body.contains(&b'\n') {
        return None;
    }
    let code = leading_digits(body).filter(|_| body.get(3) == Some(&b' '))?;
    let rest = &body[4..];
    let second: &[u8] = if &code == b"220" {
        b"Second line of the banner."
    } else {
        b"Second line of the reply."
    };
    let mut out = Vec::with_capacity(reply.len() * 2 + 40);
    for (sep, t) in [(b'-', rest), (b'-', second), (b' ', rest)] {
        out.extend_from_slice(&code);
        out.push(sep);
        out.extend_from_slice(t);
        out.extend_from_slice(b"\r\n");
    }
    Some(out)
}

/// The text an `odd_texts` reply carries after its code: nothing a client that reads
/// codes needs, and none of the words text-parsing clients look for.
pub const ODD_TEXT: &str = "Reply text changed by parley on purpose: act on the code";

/// A single-line reply `NNN text\r\n` with [`ODD_TEXT`] instead of its text, keeping
/// what a client does parse from the text by the RFCs: the six numbers of a 227
/// (1123 §4.1.2.6), the `(|||port|)` of a 229 (2428 §3), the quoted path of a 257
/// (959 Appendix II). Multi-line replies and anything else are left as they are.
pub fn odd_text_form(reply: &[u8]) -> Option<Vec<u8>> {
    let body = reply.strip_suffix(b"\r\n")?;
    if body.contains(&b'\n') || body.get(3) != Some(&b' ') {
        return None;
    }
    let code = leading_digits(body)?;
    let text = String::from_utf8_lossy(&body[4..]);
    let kept = match &code {
        b"227" => super::addr::find_pasv_numbers(&text).map(|a| {
            let [h1, h2, h3, h4] = a.ip().octets();
            format!(" ({h1},{h2},{h3},{h4},{},{})", a.port() >> 8, a.port() & 0xff)
        })?,
        b"229" => format!(" (|||{}|)", super::addr::find_epsv_port(&text)?),
        b"257" => {
            let start = text.find('"')?;
            let end = text.rfind('"').filter(|e| *e > start)?;
            format!(" {}", &text[start..=end])
        }
        _ => String::new(),
    };
    let mut out = code.to_vec();
    out.push(b' ');
    out.extend_from_slice(ODD_TEXT.as_bytes());
    out.extend_from_slice(kept.as_bytes());
    out.extend_from_slice(b"\r\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn odd_texts_keep_the_code_and_what_the_rfcs_let_a_client_parse() {
        let odd = |r: &[u8]| String::from_utf8(odd_text_form(r).unwrap()).unwrap();
        assert_eq!(
            odd(b"331 Please specify the password.\r\n"),
            format!("331 {ODD_TEXT}\r\n")
        );
        assert_eq!(
            odd(b"227 Entering Passive Mode (127,0,0,1,155,171).\r\n"),
            format!("227 {ODD_TEXT} (127,0,0,1,155,171)\r\n")
        );
        assert_eq!(
            odd(b"229 EPSV (|||39851|)\r\n"),
            format!("229 {ODD_TEXT} (|||39851|)\r\n")
        );
        assert_eq!(
            odd(b"257 \"/pub\" is here\r\n"),
            format!("257 {ODD_TEXT} \"/pub\"\r\n")
        );
        assert_eq!(odd_text_form(b"220-multi\r\n220 line\r\n"), None);
    }

    fn rules(msg: &[u8]) -> Vec<&'static str> {
        parse_reply(msg)
            .violations
            .iter()
            .map(|v| v.rule.as_str())
            .collect()
    }

    #[test]
    fn reply_code_digits_carry_their_rfc_meaning() {
        assert_eq!(ReplyCode(150).class(), Some(ReplyClass::PositivePreliminary));
        assert_eq!(ReplyCode(331).class(), Some(ReplyClass::PositiveIntermediate));
        assert_eq!(ReplyCode(425).function(), Some(ReplyFunction::Connections));
        assert_eq!(ReplyCode(530).function(), Some(ReplyFunction::Authentication));
        assert_eq!(ReplyCode(550).function(), Some(ReplyFunction::FileSystem));
        assert_eq!(ReplyCode(600).class(), None);
        assert_eq!(ReplyCode(260).function(), None);
        assert!(ReplyCode::FILE_STATUS_OK.is_preliminary());
        assert!(ReplyCode::CLOSING_DATA.is_final() && ReplyCode::CLOSING_DATA.is_success());
        assert_eq!(ReplyCode(7).to_string(), "007");
    }

    #[rstest]
    #[case::single(b"220 ready\r\n".as_slice(), ReplyFrame::Complete(11))]
    #[case::single_then_more(b"220 ready\r\n331 x\r\n", ReplyFrame::Complete(11))]
    #[case::no_line_end_yet(b"220 rea", ReplyFrame::Partial(Pending::FirstLine))]
    #[case::multi(b"211-Features:\r\n PASV\r\n211 End\r\n", ReplyFrame::Complete(31))]
    #[case::multi_unfinished(b"211-Features:\r\n PASV\r\n211 En", ReplyFrame::Partial(Pending::Multiline { code: *b"211", lines: 2 }))]
    #[case::inner_code_with_hyphen(b"220-a\r\n220-b\r\n220 c\r\n", ReplyFrame::Complete(21))]
    #[case::inner_other_code(b"220-a\r\n230 not the end\r\n220 c\r\n", ReplyFrame::Complete(31))]
    #[case::code_without_space_does_not_end(b"211-a\r\n211\r\n", ReplyFrame::Partial(Pending::Multiline { code: *b"211", lines: 2 }))]
    #[case::garbage_line(b"hello\n", ReplyFrame::Complete(6))]
    #[case::bare_lf_multi(b"211-a\n211 b\n", ReplyFrame::Complete(12))]
    fn replies_end_where_rfc_959_4_2_says(#[case] buf: &[u8], #[case] want: ReplyFrame) {
        assert_eq!(frame_reply(buf), want);
    }

    /// The framer as it was before it could resume: every line from the start of `buf`.
    /// Kept as the reference the incremental framer must agree with.
    fn reference_frame(buf: &[u8]) -> ReplyFrame {
        let mut it = lines(buf);
        let Some(first) = it.next() else {
            return ReplyFrame::Partial(Pending::FirstLine);
        };
        if !first.ends_with(b"\n") {
            return ReplyFrame::Partial(Pending::FirstLine);
        }
        let Some(code) = multiline_start(first) else {
            return ReplyFrame::Complete(first.len());
        };
        let mut end = first.len();
        let mut count = 1;
        for line in it {
            if !line.ends_with(b"\n") {
                break;
            }
            end += line.len();
            count += 1;
            if ends_multiline(line, code) {
                return ReplyFrame::Complete(end);
            }
        }
        ReplyFrame::Partial(Pending::Multiline { code, lines: count })
    }

    /// Frames `data` as it would arrive cut at `cuts` (any order, any values: they are
    /// taken modulo its length and sorted), keeping one scan across the pieces as the
    /// engine does, and checks each answer against the reference framing that prefix whole.
    fn check_in_pieces(data: &[u8], cuts: &[usize]) {
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        ends.push(data.len());
        ends.sort_unstable();
        let mut scan = ReplyScan::default();
        for end in ends {
            let got = frame_reply_from(&data[..end], &mut scan);
            assert_eq!(
                got,
                reference_frame(&data[..end]),
                "{:?} framed in pieces, at {end} bytes",
                String::from_utf8_lossy(data)
            );
            // Looking again at the same bytes changes nothing.
            assert_eq!(frame_reply_from(&data[..end], &mut scan), got);
        }
    }

    const FRAMED: &[&[u8]] = &[
        b"220 ready\r\n331 x\r\n",
        b"220 rea",
        b"211-Features:\r\n PASV\r\n211 End\r\n200 next\r\n",
        b"211-Features:\r\n PASV\r\n211 En",
        b"220-a\r\n220-b\r\n220 c\r\n",
        b"220-a\r\n230 not the end\r\n220 c\r\n",
        b"211-a\r\n211\r\n",
        b"211-a\r\n211\r\n211 ",
        b"hello\n",
        b"211-a\n211 b\n",
        b"\n\n211-\n",
        b"21",
        b"",
    ];

    #[test]
    fn a_reply_framed_byte_by_byte_with_one_scan_frames_as_each_prefix_does_whole() {
        for data in FRAMED {
            let every_byte: Vec<usize> = (0..data.len()).collect();
            check_in_pieces(data, &every_byte);
            check_in_pieces(data, &[]);
        }
    }

    #[test]
    fn a_long_multiline_reply_in_1_byte_pieces_is_read_once() {
        // 10 000 lines of a multi-line reply, 1 byte at a time: the scan only moves on, and
        // the next look starts where this one ended.
        let mut data = b"211-start\r\n".to_vec();
        for _ in 0..10_000 {
            data.extend_from_slice(b" feature\r\n");
        }
        data.extend_from_slice(b"211 end\r\n");
        let mut scan = ReplyScan::default();
        let mut last = scan;
        let mut lines = 0;
        for end in 1..data.len() {
            lines += usize::from(data[end - 1] == b'\n');
            let pending = match lines {
                0 => Pending::FirstLine,
                _ => Pending::Multiline { code: *b"211", lines },
            };
            assert_eq!(
                frame_reply_from(&data[..end], &mut scan),
                ReplyFrame::Partial(pending)
            );
            assert!(
                scan.line >= last.line && scan.searched == end,
                "at {end}: {scan:?}"
            );
            last = scan;
        }
        assert_eq!(
            frame_reply_from(&data, &mut scan),
            ReplyFrame::Complete(data.len())
        );
    }

    proptest::proptest! {
        #[test]
        fn a_reply_framed_in_random_pieces_frames_as_each_prefix_does_whole(
            parts in proptest::collection::vec(
                proptest::sample::select(&[
                    "211-", "211 ", "211", "220 ", "230-", "\r\n", "\n", "\r", "text", " ", "-", "2",
                ][..]),
                0..40,
            ),
            cuts in proptest::collection::vec(0usize..4096, 0..12),
        ) {
            check_in_pieces(parts.concat().as_bytes(), &cuts);
        }
    }

    #[rstest]
    #[case::good(b"220 ready\r\n".as_slice(), &[])]
    #[case::good_multi(b"211-Features:\r\n PASV\r\n211 End\r\n", &[])]
    #[case::empty_text(b"200 \r\n", &[])]
    #[case::two_digit_code(b"22 ready\r\n", &["F-RPL-1"])]
    #[case::four_digit_code(b"2200 ready\r\n", &["F-RPL-1"])]
    #[case::no_space(b"220ready\r\n", &["F-RPL-1"])]
    #[case::code_only(b"220\r\n", &["F-RPL-1"])]
    #[case::not_a_reply(b"hello\r\n", &["F-RPL-1"])]
    #[case::first_digit_six(b"620 ready\r\n", &["F-RPL-3"])]
    #[case::first_digit_zero(b"020 ready\r\n", &["F-RPL-3"])]
    #[case::second_digit_six(b"260 ready\r\n", &["F-RPL-3"])]
    #[case::bare_lf(b"220 ready\n", &["F-RPL-5"])]
    #[case::bare_lf_multi(b"211-a\n b\r\n211 c\n", &["F-RPL-5"])]
    #[case::no_line_end(b"220 ready", &["F-RPL-1"])]
    fn reply_grammar_checks_name_their_rule(#[case] msg: &[u8], #[case] want: &[&str]) {
        assert_eq!(rules(msg), want, "{}", String::from_utf8_lossy(msg));
    }

    #[test]
    fn bare_lf_is_a_warning_that_counts_the_lines() {
        let v = parse_reply(b"211-a\n b\r\n211 c\n").violations;
        assert_eq!(
            v[0].message,
            "2 of the reply's 3 lines end in a bare LF instead of CRLF (RFC 959 §4.2)"
        );
    }

    #[test]
    fn two_digit_code_is_named_in_the_message() {
        let v = parse_reply(b"22 ready\r\n").violations;
        assert_eq!(
            v[0].message,
            "`22 ready` is not an FTP reply: its code has 2 digits, not three (RFC 959 §4.2)"
        );
        assert_eq!(parse_reply(b"22 ready\r\n").reply, None);
    }

    #[test]
    fn reply_text_drops_code_separator_and_line_end() {
        let r = parse_reply(b"227 Entering Passive Mode (127,0,0,1,155,171).\r\n")
            .reply
            .unwrap();
        assert_eq!(r.code, ReplyCode::PASSIVE_MODE);
        assert_eq!(r.lines, ["Entering Passive Mode (127,0,0,1,155,171)."]);
        let r = parse_reply(b"211-Features:\r\n PASV\r\n211 End\r\n")
            .reply
            .unwrap();
        assert!(r.is_multiline());
        assert_eq!(r.text(), "Features:\n PASV\nEnd");
    }

    #[test]
    fn multiline_form_repeats_the_code_with_a_hyphen() {
        assert_eq!(
            multiline_form(b"220 parley FTP server ready.\r\n").unwrap(),
            b"220-parley FTP server ready.\r\n220-Second line of the banner.\r\n220 parley FTP server ready.\r\n"
        );
        let m = multiline_form(b"230 Login successful.\r\n").unwrap();
        assert_eq!(frame_reply(&m), ReplyFrame::Complete(m.len()));
        assert!(parse_reply(&m).violations.is_empty());
        assert_eq!(multiline_form(b"211-a\r\n211 b\r\n"), None);
        assert_eq!(multiline_form(b"not a reply\r\n"), None);
    }
}
