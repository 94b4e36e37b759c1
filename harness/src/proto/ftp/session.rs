//! The FTP session as both sides see it: the login phase (an explicit enum), the commands
//! waiting for their replies, the data-connection setup each transfer uses up, and the
//! representation type. It judges sequences in both directions:
//!
//! - a client's commands (messages going to the server): PASS only after a 331 to USER
//!   (F-SEQ-2), transfers only when logged in (F-SEQ-3), each transfer after its own
//!   PORT/PASV/EPRT/EPSV (F-SEQ-4), nothing before the 220 greeting (F-SEQ-1);
//! - a server's replies (messages going to the client): a code the command may receive
//!   (F-RPL-4, [`super::table`]), no 2yz to PASS without USER (F-SEQ-2), no transfer
//!   started before login (F-SEQ-3), `TYPE I` answered 200 (F-TYPE-1);
//! - a listing on a data connection in ASCII type with lines in bare LF (F-DATA-7);
//! - a command of RFC 1123's minimum set answered 502, or one of its required parameters
//!   answered 504 (F-1123-4); USER answered differently for two names that are not the
//!   anonymous ones, so that a name's existence can be probed (F-SEC-4).
//!
//! Findings about parley's own messages are dropped by the engine; this module judges
//! every message alike and never asks who sent it.

use crate::rules;
use std::collections::VecDeque;

use super::Violation;
use super::command::{Command, ReprType};
use super::reply::{FtpReply, ReplyCode};
use super::table::{self, GREETING, Stage};
use crate::proto::Dir;

/// Where the login stands (RFC 959 §4.1.1, §5.4 "Login").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connected; the greeting has not come (959 §5.4 "Connection Establishment").
    Greeting,
    /// A 120 came; the 220 follows.
    GreetingDelayed,
    /// Greeted (or a login failed): USER is expected.
    NeedUser,
    /// USER was answered 331: PASS is expected.
    NeedPass,
    /// 332: ACCT is expected.
    NeedAccount,
    /// 230 (or 202 to PASS/ACCT): commands that need a login are allowed.
    LoggedIn,
    /// 221 or 421: the server closes the control connection.
    Closed,
}

/// How the next transfer's data connection is set up (959 §3.2, RFC 2428).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSetup {
    /// No PORT/PASV/EPRT/EPSV since the last transfer.
    Unset,
    /// One was sent; its reply has not come.
    Requested,
    /// Accepted: the next transfer uses it.
    Ready,
}

/// A command waiting for its reply, and how far its exchange got.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Awaiting {
    command: Command,
    stage: Stage,
    /// The phase when the command was sent (PASS judged against it).
    phase: Phase,
}

/// The last exchange that ended: its command, final code, and whether a preliminary
/// reply (125/150) came first — then the final reply closed a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The command's keyword.
    pub keyword: String,
    /// The final (or 3yz) code.
    pub code: ReplyCode,
    /// A 1yz reply came before it.
    pub after_preliminary: bool,
}

/// The transfer a data connection belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Transfer {
    keyword: String,
    repr: ReprType,
}

/// The commands that move data over a data connection (959 §4.1.3; MLSD RFC 3659 §7).
pub fn is_transfer(keyword: &str) -> bool {
    matches!(
        keyword,
        "LIST" | "NLST" | "RETR" | "STOR" | "STOU" | "APPE" | "MLSD"
    )
}

/// The checker's model of one FTP control connection: the state both directions of the
/// conversation share (not the engine's `engine::session::Session`, nor the mock's).
#[derive(Debug, Clone)]
pub struct ControlState {
    phase: Phase,
    awaiting: VecDeque<Awaiting>,
    data: DataSetup,
    repr: ReprType,
    transfer: Option<Transfer>,
    transfers: usize,
    commands: usize,
    completed: Option<Completed>,
    /// The first USER (other than the anonymous names) answered before login, with its
    /// final code; the next name answered otherwise is F-SEC-4.
    probed_user: Option<(String, ReplyCode)>,
}

impl Default for ControlState {
    fn default() -> ControlState {
        ControlState::new()
    }
}

impl ControlState {
    /// A session that has just connected.
    pub fn new() -> ControlState {
        ControlState {
            phase: Phase::Greeting,
            awaiting: VecDeque::new(),
            data: DataSetup::Unset,
            repr: ReprType::default(),
            transfer: None,
            transfers: 0,
            commands: 0,
            completed: None,
            probed_user: None,
        }
    }

    /// The login phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The data-connection setup.
    pub fn data(&self) -> DataSetup {
        self.data
    }

    /// The representation type in force (ASCII until a TYPE is accepted, 959 §3.1.1).
    pub fn repr(&self) -> ReprType {
        self.repr
    }

    /// Commands seen so far.
    pub fn commands(&self) -> usize {
        self.commands
    }

    /// The last exchange that ended.
    pub fn completed(&self) -> Option<&Completed> {
        self.completed.as_ref()
    }

    /// A command from the client: judges the client's sequence and starts waiting for
    /// the reply. `command` is `None` for a line no keyword could be read from (its
    /// reply still answers it).
    pub fn on_command(&mut self, command: Option<&Command>) -> Vec<Violation> {
        let mut out = Vec::new();
        self.commands += 1;
        let command = command.cloned().unwrap_or(Command {
            keyword: String::new(),
            arg: None,
        });
        let kw = command.keyword.as_str();
        let shown = command.display();
        match self.phase {
            Phase::Greeting | Phase::GreetingDelayed => out.push(Violation::new(
                rules::F_SEQ_1,
                format!("{shown} was sent before the server's 220 greeting (RFC 959 §5.4): read the greeting first"),
            )),
            _ => {}
        }
        if kw == "PASS"
            && self.phase != Phase::NeedPass
            && !matches!(self.phase, Phase::Greeting | Phase::GreetingDelayed)
        {
            let why = match self.phase {
                Phase::LoggedIn => "the session is already logged in (USER was answered 230)",
                Phase::NeedAccount => "the server asked for ACCT (332), not a password",
                _ => "USER was not answered 331 first",
            };
            out.push(Violation::new(
                rules::F_SEQ_2,
                format!("PASS was sent but {why}: PASS follows a 331 reply to USER (RFC 959 §4.1.1)"),
            ));
        }
        if is_transfer(kw) {
            if self.phase != Phase::LoggedIn
                && !matches!(self.phase, Phase::Greeting | Phase::GreetingDelayed)
            {
                out.push(Violation::new(
                    rules::F_SEQ_3,
                    format!("{kw} was sent before the login completed (no 230 yet): log in with USER and PASS first"),
                ));
            }
            if self.data == DataSetup::Unset {
                let why = if self.transfers == 0 {
                    "no PORT, PASV, EPRT or EPSV came before it".to_string()
                } else {
                    "the previous transfer used up the last PORT/PASV: each transfer needs its own"
                        .to_string()
                };
                out.push(Violation::new(
                    rules::F_SEQ_4,
                    format!("{kw} starts a transfer, but {why} (RFC 959 §3.2)"),
                ));
            }
            self.transfer = Some(Transfer {
                keyword: kw.to_string(),
                repr: self.repr,
            });
            self.transfers += 1;
        }
        if matches!(kw, "PORT" | "EPRT" | "PASV" | "EPSV") {
            self.data = DataSetup::Requested;
        }
        self.awaiting.push_back(Awaiting {
            command,
            stage: Stage::First,
            phase: self.phase,
        });
        out
    }

    /// A reply from the server: judges its code against the command it answers and the
    /// server's sequence, and moves the session on.
    pub fn on_reply(&mut self, reply: &FtpReply) -> Vec<Violation> {
        let mut out = Vec::new();
        let code = reply.code;
        // A code with impossible digits is F-RPL-3 already; the table says nothing more.
        let judged = code.class().is_some() && code.function().is_some();
        if matches!(self.phase, Phase::Greeting | Phase::GreetingDelayed) {
            let stage = if self.phase == Phase::Greeting {
                Stage::First
            } else {
                Stage::AfterPreliminary
            };
            if judged && !GREETING.allows(stage, code.0) {
                out.push(Violation::new(
                    rules::F_RPL_4,
                    format!(
                        "the greeting is {code}, but a server greets with {} (RFC 959 §5.4)",
                        GREETING.describe(stage)
                    ),
                ));
            }
            self.phase = match code.0 {
                120 if stage == Stage::First => Phase::GreetingDelayed,
                421 => Phase::Closed,
                _ if code.is_preliminary() => self.phase,
                _ => Phase::NeedUser,
            };
            return out;
        }
        let Some(front) = self.awaiting.front_mut() else {
            if code != ReplyCode::SERVICE_NOT_AVAILABLE && judged {
                out.push(Violation::new(
                    rules::F_RPL_4,
                    format!("a {code} reply came, but no command was waiting for a reply (only 421 may come unasked, RFC 959 §5.4)"),
                ));
            } else if code == ReplyCode::SERVICE_NOT_AVAILABLE {
                self.phase = Phase::Closed;
            }
            return out;
        };
        let kw = front.command.keyword.clone();
        let stage = front.stage;
        if let Some(row) = table::row(&kw).filter(|_| judged) {
            if !row.allows(stage, code.0) {
                let when = match stage {
                    Stage::First => String::new(),
                    Stage::AfterPreliminary => " after its preliminary reply".to_string(),
                };
                out.push(Violation::new(
                    rules::F_RPL_4,
                    format!(
                        "{code} answers {kw}, which may receive{when} {} ({})",
                        row.describe(stage),
                        row.source
                    ),
                ));
            }
        }
        let transfer = is_transfer(&kw);
        if transfer
            && stage == Stage::First
            && (code.is_preliminary() || code.is_success())
            && self.phase != Phase::LoggedIn
        {
            out.push(Violation::new(
                rules::F_SEQ_3,
                format!("the server started {kw} ({code}) before the login completed: it must answer 530 (RFC 959 §4.1.1)"),
            ));
        }
        if code.is_preliminary() {
            front.stage = Stage::AfterPreliminary;
            if transfer {
                // The data connection is in use: the next transfer needs a new setup.
                self.data = DataSetup::Unset;
            }
            return out;
        }
        let Some(done) = self.awaiting.pop_front() else {
            return out;
        };
        self.finish(&done, code, &mut out);
        self.completed = Some(Completed {
            keyword: kw,
            code,
            after_preliminary: stage == Stage::AfterPreliminary,
        });
        out
    }

    /// A reply without a readable code (F-RPL-1 already): it still answers whatever was
    /// waiting — the greeting, or the oldest command — so that one garbled line does not
    /// shift every later reply onto the wrong command. Nothing more is judged.
    pub fn on_unreadable_reply(&mut self) {
        if matches!(self.phase, Phase::Greeting | Phase::GreetingDelayed) {
            self.phase = Phase::NeedUser;
        } else if self.awaiting.pop_front().is_some() {
            self.completed = None;
        }
    }

    /// The effects of a command's final (or 3yz) reply.
    fn finish(&mut self, done: &Awaiting, code: ReplyCode, out: &mut Vec<Violation>) {
        let kw = done.command.keyword.as_str();
        let ok = code.is_success();
        if code == ReplyCode::SERVICE_NOT_AVAILABLE {
            self.phase = Phase::Closed;
            return;
        }
        if let Some(v) = minimum_set_refused(&done.command, code) {
            out.push(v);
        }
        match kw {
            "USER" => {
                if done.phase == Phase::NeedUser || done.phase == Phase::NeedPass {
                    self.compare_user_answers(&done.command, code, out);
                }
                self.phase = match code.0 {
                    331 => Phase::NeedPass,
                    332 => Phase::NeedAccount,
                    230 => Phase::LoggedIn,
                    _ if code.is_final() && !ok => Phase::NeedUser,
                    _ => self.phase,
                };
            }
            "PASS" | "ACCT" => {
                if kw == "PASS" && ok && matches!(done.phase, Phase::NeedUser) {
                    out.push(Violation::new(
                        rules::F_SEQ_2,
                        format!("the server accepted PASS ({code}) without a USER before it: PASS without USER earns 503 (RFC 959 §4.1.1)"),
                    ));
                }
                self.phase = match code.0 {
                    230 | 202 => Phase::LoggedIn,
                    332 => Phase::NeedAccount,
                    _ if !ok && done.phase != Phase::LoggedIn => Phase::NeedUser,
                    _ => self.phase,
                };
            }
            "REIN" if ok => {
                self.phase = Phase::NeedUser;
                self.data = DataSetup::Unset;
                self.repr = ReprType::default();
            }
            "QUIT" if code == ReplyCode::CLOSING_CONTROL => self.phase = Phase::Closed,
            "TYPE" => {
                if ok {
                    if let Some(t) = done.command.repr_type() {
                        self.repr = t;
                    }
                }
                if done.command.repr_type() == Some(ReprType::Image) && code != ReplyCode::COMMAND_OK {
                    out.push(Violation::new(
                        rules::F_TYPE_1,
                        format!("TYPE I was answered {code}, not 200: binary transfers will be converted as ASCII (RFC 959 §3.1.1)"),
                    ));
                }
            }
            // RFC 1123 §4.1.2.6: a server MUST implement PASV. A permanent refusal other
            // than "not logged in" (530) or "syntax error in parameters" (501) is passive
            // mode missing or switched off (vsftpd's pasv_enable=NO answers 550).
            "PASV"
                if code.class() == Some(super::reply::ReplyClass::PermanentNegative)
                    && !matches!(code.0, 501 | 530) =>
            {
                out.push(Violation::new(
                    rules::F_1123_1,
                    format!(
                        "PASV was answered {code}: the server does not offer passive mode, which every server must (RFC 1123 §4.1.2.6)"
                    ),
                ));
                self.data = DataSetup::Unset;
            }
            "PORT" | "EPRT" | "PASV" | "EPSV" => {
                let accepted = match kw {
                    "PASV" => code == ReplyCode::PASSIVE_MODE,
                    // `EPSV ALL` (200) sets no data connection up (RFC 2428 §4).
                    "EPSV" => code == ReplyCode::EXTENDED_PASSIVE_MODE,
                    _ => ok,
                };
                self.data = if accepted {
                    DataSetup::Ready
                } else {
                    DataSetup::Unset
                };
            }
            _ if is_transfer(kw) && ok => self.data = DataSetup::Unset,
            _ => {}
        }
    }

    /// F-SEC-4: two names (neither of them anonymous) whose USER got different codes tell
    /// a prober which names exist (RFC 2577 §7: answer alike, refuse at PASS).
    fn compare_user_answers(&mut self, command: &Command, code: ReplyCode, out: &mut Vec<Violation>) {
        let Some(name) = command.arg.as_deref().map(str::trim).filter(|n| !n.is_empty()) else {
            return;
        };
        if is_anonymous(name) || !code.is_final() {
            return;
        }
        match &self.probed_user {
            None => self.probed_user = Some((name.to_string(), code)),
            Some((first, first_code)) if !first.eq_ignore_ascii_case(name) && *first_code != code => {
                out.push(Violation::new(
                    rules::F_SEC_4,
                    format!(
                        "USER {first} was answered {first_code} and USER {name} {code}: a client can tell which names exist from the code; answer every USER alike (331) and refuse at PASS (RFC 2577 §7)"
                    ),
                ));
                // Once per session.
                self.probed_user = Some((name.to_string(), code));
            }
            Some(_) => {}
        }
    }

    /// A whole data-connection message going `dir`: a LIST/NLST listing in ASCII type
    /// must end its lines in CRLF (F-DATA-7, 959 §3.1.1.1).
    pub fn on_data(&self, dir: Dir, bytes: &[u8]) -> Vec<Violation> {
        let mut out = Vec::new();
        let Some(t) = &self.transfer else { return out };
        if dir != Dir::ToClient || !matches!(t.keyword.as_str(), "LIST" | "NLST") || t.repr != ReprType::Ascii
        {
            return out;
        }
        let lines = bytes.iter().filter(|b| **b == b'\n').count();
        let bare = bytes
            .iter()
            .enumerate()
            .filter(|(i, b)| **b == b'\n' && (*i == 0 || bytes[i - 1] != b'\r'))
            .count();
        if bare > 0 {
            out.push(Violation::new(
                rules::F_DATA_7,
                format!(
                    "{bare} of the {} listing's {lines} lines end in a bare LF: in ASCII type (the type until TYPE I) lines end in CRLF (RFC 959 §3.1.1.1)",
                    t.keyword
                ),
            ));
        }
        out
    }
}

/// The names every anonymous FTP server accepts (RFC 1635 §2): answered apart from the
/// others by design, so they tell a prober nothing.
fn is_anonymous(name: &str) -> bool {
    name.eq_ignore_ascii_case("anonymous") || name.eq_ignore_ascii_case("ftp")
}

/// RFC 1123 §4.1.2.13: the commands every server-FTP MUST support. ACCT is left out:
/// it is among them, but a system without accounts "does not support" it, the
/// exception the section makes, and no server in common use implements it.
pub const MINIMUM_SET: &[&str] = &[
    "USER", "PASS", "PORT", "PASV", "TYPE", "MODE", "STRU", "RETR", "STOR", "APPE", "RNFR", "RNTO", "DELE",
    "CWD", "CDUP", "RMD", "MKD", "PWD", "LIST", "NLST", "SYST", "STAT", "HELP", "NOOP", "QUIT",
];

/// F-1123-4: a command of the minimum set answered 502 (not implemented), or one of the
/// parameters the section requires (TYPE A, A N, I, L 8; MODE S; STRU F) answered 504
/// (not implemented for that parameter). A 500 is a syntax error as often as a missing
/// command, so it is left to the scenario that sends each command well formed.
fn minimum_set_refused(command: &Command, code: ReplyCode) -> Option<Violation> {
    let kw = command.keyword.as_str();
    // PASV has its own rule (F-1123-1), and so has TYPE I (F-TYPE-1).
    if code.0 == 502 && MINIMUM_SET.contains(&kw) && kw != "PASV" {
        return Some(Violation::new(
            rules::F_1123_4,
            format!(
                "{kw} was answered {code} (not implemented): RFC 1123 §4.1.2.13 makes it part of the minimum every server supports"
            ),
        ));
    }
    if code.0 != 504 {
        return None;
    }
    let arg = command
        .arg
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    let required = match kw {
        "TYPE" => matches!(arg.as_str(), "A" | "A N" | "L 8" | "L8"),
        "MODE" => arg == "S",
        "STRU" => arg == "F",
        _ => false,
    };
    required.then(|| {
        Violation::new(
            rules::F_1123_4,
            format!(
                "{kw} {arg} was answered {code}: RFC 1123 §4.1.2.13 requires every server to support it (types ASCII Non-print, Image and Local 8, mode Stream, structure File)"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ftp::command::parse_command;
    use crate::proto::ftp::reply::parse_reply;

    /// Plays `script` ("C:" commands, "S:" replies) and returns the rules fired.
    fn play(script: &[&str]) -> (ControlState, Vec<&'static str>) {
        let mut s = ControlState::new();
        let mut fired = Vec::new();
        for line in script {
            let (who, text) = line.split_at(2);
            let bytes = format!("{text}\r\n");
            let v = match who {
                "C:" => s.on_command(parse_command(bytes.as_bytes()).command.as_ref()),
                "S:" => s.on_reply(&parse_reply(bytes.as_bytes()).reply.unwrap()),
                _ => panic!("{line}"),
            };
            fired.extend(v.iter().map(|v| v.rule.as_str()));
        }
        (s, fired)
    }

    const LOGIN: &[&str] = &["S:220 hi", "C:USER anonymous", "S:331 pw", "C:PASS x", "S:230 ok"];

    fn with_login(rest: &[&'static str]) -> Vec<&'static str> {
        LOGIN.iter().chain(rest).copied().collect()
    }

    #[test]
    fn a_conforming_session_breaks_nothing() {
        let (s, fired) = play(&with_login(&[
            "C:TYPE I",
            "S:200 ok",
            "C:PORT 127,0,0,1,155,171",
            "S:200 ok",
            "C:LIST",
            "S:150 here",
            "S:226 done",
            "C:PASV",
            "S:227 Entering Passive Mode (127,0,0,1,1,2)",
            "C:RETR f",
            "S:125 open",
            "S:226 done",
            "C:QUIT",
            "S:221 bye",
        ]));
        assert_eq!(fired, Vec::<&str>::new());
        assert_eq!(s.phase(), Phase::Closed);
        assert_eq!(s.repr(), ReprType::Image);
        assert_eq!(s.data(), DataSetup::Unset);
    }

    #[test]
    fn login_phases_follow_the_replies() {
        let (s, _) = play(&["S:220 hi"]);
        assert_eq!(s.phase(), Phase::NeedUser);
        let (s, _) = play(&["S:220 hi", "C:USER a", "S:331 pw"]);
        assert_eq!(s.phase(), Phase::NeedPass);
        let (s, _) = play(&["S:220 hi", "C:USER a", "S:230 in"]);
        assert_eq!(s.phase(), Phase::LoggedIn);
        let (s, _) = play(&["S:220 hi", "C:USER a", "S:331 pw", "C:PASS b", "S:530 no"]);
        assert_eq!(s.phase(), Phase::NeedUser);
        let (s, _) = play(&["S:120 soon", "S:220 hi"]);
        assert_eq!(s.phase(), Phase::NeedUser);
    }

    #[test]
    fn pass_before_user_breaks_f_seq_2_on_the_client() {
        let (_, fired) = play(&["S:220 hi", "C:PASS x", "S:503 no"]);
        assert_eq!(fired, ["F-SEQ-2"]);
    }

    #[test]
    fn pass_after_230_breaks_f_seq_2_on_the_client() {
        let (_, fired) = play(&["S:220 hi", "C:USER a", "S:230 in", "C:PASS x", "S:202 fine"]);
        assert_eq!(fired, ["F-SEQ-2"]);
    }

    #[test]
    fn a_server_accepting_pass_without_user_breaks_f_seq_2() {
        // The client's PASS is F-SEQ-2 too; the server's 230 is its own F-SEQ-2.
        let mut s = ControlState::new();
        s.on_reply(&parse_reply(b"220 hi\r\n").reply.unwrap());
        s.on_command(parse_command(b"PASS x\r\n").command.as_ref());
        let v = s.on_reply(&parse_reply(b"230 ok\r\n").reply.unwrap());
        assert_eq!(v.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(), ["F-SEQ-2"]);
        assert!(v[0].message.starts_with("the server accepted PASS (230)"));
    }

    #[test]
    fn list_before_login_breaks_f_seq_3_on_the_client() {
        let (_, fired) = play(&[
            "S:220 hi",
            "C:PASV",
            "S:227 (127,0,0,1,1,2)",
            "C:LIST",
            "S:530 login",
        ]);
        assert_eq!(fired, ["F-SEQ-3"]);
    }

    #[test]
    fn a_server_starting_a_transfer_before_login_breaks_f_seq_3() {
        let mut s = ControlState::new();
        s.on_reply(&parse_reply(b"220 hi\r\n").reply.unwrap());
        s.on_command(parse_command(b"PASV\r\n").command.as_ref());
        s.on_reply(&parse_reply(b"227 (127,0,0,1,1,2)\r\n").reply.unwrap());
        s.on_command(parse_command(b"RETR f\r\n").command.as_ref());
        let v = s.on_reply(&parse_reply(b"150 here\r\n").reply.unwrap());
        assert_eq!(v.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(), ["F-SEQ-3"]);
    }

    #[test]
    fn a_transfer_without_port_or_pasv_breaks_f_seq_4() {
        let (_, fired) = play(&with_login(&["C:LIST", "S:450 no data"]));
        assert_eq!(fired, ["F-SEQ-4"]);
    }

    #[test]
    fn a_second_transfer_reusing_the_first_pasv_breaks_f_seq_4() {
        let (_, fired) = play(&with_login(&[
            "C:PASV",
            "S:227 (127,0,0,1,1,2)",
            "C:LIST",
            "S:150 here",
            "S:226 done",
            "C:NLST",
            "S:450 no",
        ]));
        assert_eq!(fired, ["F-SEQ-4"]);
    }

    #[test]
    fn a_refused_transfer_leaves_its_pasv_for_the_next() {
        let (_, fired) = play(&with_login(&[
            "C:PASV",
            "S:227 (127,0,0,1,1,2)",
            "C:RETR missing",
            "S:550 no such file",
            "C:RETR present",
            "S:150 here",
            "S:226 done",
        ]));
        assert_eq!(fired, Vec::<&str>::new());
    }

    #[test]
    fn a_refused_port_sets_nothing_up() {
        let (_, fired) = play(&with_login(&[
            "C:EPRT |1|127.0.0.1|5000|",
            "S:502 no",
            "C:LIST",
            "S:450 no",
        ]));
        assert_eq!(fired, ["F-SEQ-4"]);
    }

    #[test]
    fn a_command_before_the_greeting_breaks_f_seq_1() {
        let (_, fired) = play(&["S:120 wait", "C:USER a", "S:220 hi"]);
        assert_eq!(fired, ["F-SEQ-1"]);
    }

    #[test]
    fn codes_outside_the_table_break_f_rpl_4() {
        let (_, fired) = play(&with_login(&["C:NOOP", "S:150 what"]));
        assert_eq!(fired, ["F-RPL-4"]);
        let (_, fired) = play(&with_login(&[
            "C:PASV",
            "S:227 (1,2,3,4,5,6)",
            "C:LIST",
            "S:226 at once",
        ]));
        assert_eq!(fired, ["F-RPL-4"]);
        let (_, fired) = play(&["S:230 hello"]);
        assert_eq!(fired, ["F-RPL-4"]);
    }

    #[test]
    fn four_twenty_one_may_answer_anything_and_closes() {
        let (s, fired) = play(&with_login(&["C:NOOP", "S:421 bye"]));
        assert!(fired.is_empty());
        assert_eq!(s.phase(), Phase::Closed);
        let (_, fired) = play(&["S:421 busy"]);
        assert!(fired.is_empty());
    }

    #[test]
    fn an_unasked_reply_breaks_f_rpl_4() {
        let (_, fired) = play(&with_login(&["S:226 what"]));
        assert_eq!(fired, ["F-RPL-4"]);
    }

    #[test]
    fn unknown_commands_are_not_judged_but_still_answered() {
        let (_, fired) = play(&with_login(&["C:XFOO", "S:500 unknown", "C:NOOP", "S:200 ok"]));
        assert!(fired.is_empty());
    }

    #[test]
    fn a_server_without_pasv_breaks_f_1123_1() {
        let (s, fired) = play(&with_login(&["C:PASV", "S:502 not implemented"]));
        assert_eq!(fired, ["F-1123-1"]);
        assert_eq!(s.data(), DataSetup::Unset);
        let (_, fired) = play(&with_login(&["C:PASV", "S:530 not logged in"]));
        assert!(fired.is_empty(), "530 is not a missing PASV: {fired:?}");
        let (_, fired) = play(&with_login(&["C:PASV", "S:550 Permission denied."]));
        assert_eq!(fired, ["F-RPL-4", "F-1123-1"], "pasv_enable=NO");
    }

    #[test]
    fn type_i_answered_otherwise_is_an_f_type_1_note() {
        let (s, fired) = play(&with_login(&["C:TYPE I", "S:504 no"]));
        assert_eq!(fired, ["F-TYPE-1"]);
        assert_eq!(s.repr(), ReprType::Ascii);
    }

    #[test]
    fn an_ascii_listing_in_bare_lf_breaks_f_data_7_and_crlf_does_not() {
        let (s, _) = play(&with_login(&[
            "C:PASV",
            "S:227 (1,2,3,4,5,6)",
            "C:LIST",
            "S:150 here",
        ]));
        let v = s.on_data(Dir::ToClient, b"a\nb\r\nc\n");
        assert_eq!(
            v.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(),
            ["F-DATA-7"]
        );
        assert!(v[0].message.starts_with("2 of the LIST listing's 3 lines"));
        assert!(s.on_data(Dir::ToClient, b"a\r\nb\r\n").is_empty());
    }

    #[test]
    fn a_binary_listing_may_end_lines_in_lf() {
        let (s, _) = play(&with_login(&[
            "C:TYPE I",
            "S:200 ok",
            "C:PASV",
            "S:227 (1,2,3,4,5,6)",
            "C:NLST",
            "S:150 here",
        ]));
        assert!(s.on_data(Dir::ToClient, b"a\nb\n").is_empty());
        let (s, _) = play(&with_login(&[
            "C:PASV",
            "S:227 (1,2,3,4,5,6)",
            "C:RETR f",
            "S:150 here",
        ]));
        assert!(
            s.on_data(Dir::ToClient, b"a\nb\n").is_empty(),
            "F-DATA-7 is about listings"
        );
    }

    #[test]
    fn the_final_reply_after_150_is_remembered_as_closing_a_transfer() {
        let (s, _) = play(&with_login(&[
            "C:PASV",
            "S:227 (1,2,3,4,5,6)",
            "C:LIST",
            "S:150 here",
            "S:226 done",
        ]));
        let c = s.completed().unwrap();
        assert_eq!(
            (c.keyword.as_str(), c.code, c.after_preliminary),
            ("LIST", ReplyCode(226), true)
        );
        let (s, _) = play(&with_login(&["C:NOOP", "S:200 ok"]));
        assert!(!s.completed().unwrap().after_preliminary);
    }

    #[test]
    fn a_garbled_reply_still_answers_what_was_waiting() {
        let mut s = ControlState::new();
        s.on_unreadable_reply();
        assert_eq!(s.phase(), Phase::NeedUser);
        s.on_command(parse_command(b"USER a\r\n").command.as_ref());
        s.on_unreadable_reply();
        let v = s.on_reply(&parse_reply(b"221 late\r\n").reply.unwrap());
        assert_eq!(
            v.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(),
            ["F-RPL-4"],
            "nothing waits any more: the 221 is unasked"
        );
    }

    #[test]
    fn a_minimum_command_answered_502_breaks_f_1123_4_and_acct_does_not() {
        let (_, fired) = play(&with_login(&["C:STAT", "S:502 not implemented"]));
        assert_eq!(fired, ["F-1123-4"]);
        let (_, fired) = play(&with_login(&["C:HELP", "S:214 help"]));
        assert!(fired.is_empty());
        // ACCT may not receive 502 at all (F-RPL-4, RFC 959 §5.4), but it is no F-1123-4.
        let (_, fired) = play(&with_login(&["C:ACCT x", "S:502 ACCT not implemented"]));
        assert!(!fired.contains(&"F-1123-4"), "{fired:?}");
        let (_, fired) = play(&with_login(&["C:SITE CHMOD 1 x", "S:502 no"]));
        assert!(fired.is_empty(), "SITE is outside the minimum set: {fired:?}");
    }

    #[test]
    fn a_required_parameter_answered_504_breaks_f_1123_4() {
        for (cmd, ok) in [
            ("C:TYPE A N", false),
            ("C:TYPE L 8", false),
            ("C:MODE S", false),
            ("C:STRU F", false),
            ("C:STRU R", true),
            ("C:MODE B", true),
            ("C:TYPE E", true),
        ] {
            let (_, fired) = play(&with_login(&[cmd, "S:504 not for that parameter"]));
            assert_eq!(fired.is_empty(), ok, "{cmd}: {fired:?}");
        }
    }

    #[test]
    fn user_answered_differently_for_two_names_breaks_f_sec_4() {
        let (_, fired) = play(&[
            "S:220 hi",
            "C:USER root",
            "S:331 pw",
            "C:USER parley-no-such-user",
            "S:530 unknown user",
        ]);
        assert_eq!(fired, ["F-SEC-4"]);
        let (_, fired) = play(&[
            "S:220 hi",
            "C:USER root",
            "S:530 anonymous only",
            "C:USER parley-no-such-user",
            "S:530 anonymous only",
            "C:USER anonymous",
            "S:331 guest ok",
        ]);
        assert!(
            fired.is_empty(),
            "alike, and anonymous apart by design: {fired:?}"
        );
    }

    #[test]
    fn pipelined_commands_are_answered_in_order() {
        let (_, fired) = play(&with_login(&["C:NOOP", "C:SYST", "S:200 ok", "S:215 UNIX"]));
        assert!(fired.is_empty(), "{fired:?}");
    }
}
