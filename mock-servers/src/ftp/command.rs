//! Control-connection input, sans-I/O: splitting the byte stream into command lines
//! ([`LineFramer`]), removing Telnet commands, and parsing a line into a [`Command`]
//! (959 §5.3) or the rejection it earns (500 unrecognized, 501 bad arguments,
//! 502 not implemented, 504 unsupported parameter, 522 unsupported network protocol).
//!
//! Nothing here touches a socket: the session feeds whatever the socket gave, one byte
//! or a kilobyte, and gets the same lines.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use super::reply::{Code, Reply};

/// Bytes an over-long line may run to, with no end in sight, before the session gives up
/// on the connection (421) instead of waiting for its end to answer 500.
pub(super) fn flood_limit(max_line: usize) -> usize {
    max_line.saturating_mul(16).max(64 * 1024)
}

/// What the framer produced.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum CommandFrame {
    /// A complete line without its end-of-line (CRLF, or a bare LF from lax clients).
    Line(Vec<u8>),
    /// A line longer than the limit ended; its bytes were dropped.
    TooLong,
    /// A line longer than [`flood_limit`] has still not ended.
    Flood,
}

/// Splits control-connection bytes into lines, never holding more than one line's worth.
#[derive(Debug)]
pub(super) struct LineFramer {
    buf: Vec<u8>,
    /// How much of `buf` is known to hold no LF.
    scanned: usize,
    max_line: usize,
    /// Bytes dropped so far from an over-long line, while waiting for its end.
    discarding: Option<usize>,
}

impl LineFramer {
    /// A framer for lines of at most `max_line` bytes (without the CRLF).
    pub(super) fn new(max_line: usize) -> LineFramer {
        LineFramer {
            buf: Vec::new(),
            scanned: 0,
            max_line,
            discarding: None,
        }
    }

    /// Adds bytes read from the connection.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next frame, or `None` when more bytes are needed.
    pub(super) fn next_frame(&mut self) -> Option<CommandFrame> {
        let lf = self.buf[self.scanned..].iter().position(|b| *b == b'\n');
        if let Some(dropped) = self.discarding {
            return match lf {
                Some(i) => {
                    self.buf.drain(..=self.scanned + i);
                    self.scanned = 0;
                    self.discarding = None;
                    Some(CommandFrame::TooLong)
                }
                None => {
                    let dropped = dropped + self.buf.len();
                    self.buf.clear();
                    self.scanned = 0;
                    if dropped > flood_limit(self.max_line) {
                        self.discarding = None;
                        Some(CommandFrame::Flood)
                    } else {
                        self.discarding = Some(dropped);
                        None
                    }
                }
            };
        }
        match lf {
            Some(i) => {
                let mut line: Vec<u8> = self.buf.drain(..=self.scanned + i).collect();
                self.scanned = 0;
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > self.max_line {
                    Some(CommandFrame::TooLong)
                } else {
                    Some(CommandFrame::Line(line))
                }
            }
            // The line may still end in CR, which does not count against the limit.
            None if self.buf.len() > self.max_line + 1 => {
                self.discarding = Some(self.buf.len());
                self.buf.clear();
                self.scanned = 0;
                self.next_frame()
            }
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }
}

/// Removes Telnet commands from a line: `IAC IAC` is a data byte 255, `IAC WILL/WONT/DO/
/// DONT opt` and other `IAC x` pairs are dropped (the control connection speaks Telnet,
/// 959 §4; a client may send IAC IP / IAC DM before ABOR, §4.1.3). Negotiations are
/// refused by silence, which RFC 1123 §4.1.2.12 allows for a server that does no options.
pub(super) fn strip_telnet(line: &[u8]) -> Vec<u8> {
    const IAC: u8 = 255;
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i] != IAC {
            out.push(line[i]);
            i += 1;
            continue;
        }
        match line.get(i + 1) {
            Some(&IAC) => {
                out.push(IAC);
                i += 2;
            }
            Some(251..=254) => i += 3,
            Some(_) => i += 2,
            None => i += 1,
        }
    }
    out
}

/// The representation type set by TYPE (959 §3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repr {
    /// `TYPE A` (or `A N`): NVT-ASCII, lines end in CRLF on the wire. The default.
    Ascii,
    /// `TYPE I` (or `L 8`): bytes travel unchanged.
    Image,
}

/// The argument of EPSV (RFC 2428 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EpsvArg {
    /// No argument: the protocol of the control connection.
    Default,
    /// `EPSV 1` (IPv4) or `EPSV 2` (IPv6).
    Protocol(u8),
    /// `EPSV ALL`: from now on only EPSV may set up data connections.
    All,
}

/// The arguments of LIST and NLST: leading `-flags` as `ls` takes them, then a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListArgs {
    /// Show names starting with a dot (`-a`).
    pub all: bool,
    /// The path to list, relative to the working directory; `None` lists it.
    pub path: Option<String>,
}

/// A parsed command (959 §4.1, §5.3.1), plus the RFC 2428 and RFC 2389 additions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Command {
    User(String),
    Pass(String),
    Acct,
    Cwd(String),
    Cdup,
    Quit,
    Port(SocketAddrV4),
    Pasv,
    Eprt(SocketAddr),
    Epsv(EpsvArg),
    Type(Repr),
    /// `MODE S`, the only mode served (stream, 959 §3.4.1).
    Mode,
    /// `STRU F`, the only structure served (file, 959 §3.1.2.1).
    Stru,
    List(ListArgs),
    Nlst(ListArgs),
    Retr(String),
    Stor(String),
    /// APPE: stored as STOR stores (the in-memory files are written whole).
    Appe(String),
    /// RNFR: the name a following RNTO renames.
    Rnfr(String),
    Rnto(String),
    /// STAT without an argument: the session's status (211).
    Stat,
    Dele(String),
    Mkd(String),
    Rmd(String),
    Pwd,
    Syst,
    Feat,
    Help(Option<String>),
    Noop,
    Allo,
}

impl Command {
    /// Whether the command needs a logged-in session (530 otherwise). PWD is absent:
    /// 959 §5.4 gives it no 530, so it answers `/` before login.
    pub(super) fn needs_login(&self) -> bool {
        !matches!(
            self,
            Command::User(_)
                | Command::Pass(_)
                | Command::Acct
                | Command::Quit
                | Command::Pwd
                | Command::Syst
                | Command::Feat
                | Command::Help(_)
                | Command::Noop
        )
    }
}

/// Every command keyword the server implements, for HELP.
pub(super) const IMPLEMENTED: &[&str] = &[
    "USER", "PASS", "ACCT", "CWD", "CDUP", "QUIT", "PORT", "PASV", "EPRT", "EPSV", "TYPE", "MODE", "STRU",
    "LIST", "NLST", "RETR", "STOR", "APPE", "RNFR", "RNTO", "DELE", "MKD", "RMD", "PWD", "SYST", "STAT",
    "FEAT", "HELP", "NOOP", "ALLO", "XCWD", "XCUP", "XMKD", "XRMD", "XPWD",
];

/// RFC 959 commands that exist but are not served: they earn 502, not 500.
const NOT_SERVED: &[&str] = &["REIN", "SMNT", "STOU", "REST", "ABOR", "SITE"];

/// Why a line is not a command this server runs, as the reply it earns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rejection(pub Reply);

fn reject(code: Code, text: &str) -> Rejection {
    Rejection(Reply::new(code, text))
}

/// Parses one command line (Telnet commands already removed, no CRLF).
///
/// The keyword is 1–4 letters, case-insensitive (959 §5.3.1); the argument is everything
/// after the first space. Arguments may not hold control characters (501).
pub(super) fn parse(line: &[u8]) -> Result<Command, Rejection> {
    let (verb, arg) = match line.iter().position(|b| *b == b' ') {
        Some(p) => (&line[..p], &line[p + 1..]),
        None => (line, &[][..]),
    };
    if verb.is_empty() || verb.len() > 4 || !verb.iter().all(u8::is_ascii_alphabetic) {
        return Err(reject(Code::UNRECOGNIZED, "Syntax error, command unrecognized."));
    }
    let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
    // QUIT and NOOP ignore what follows them: 959 §5.4 gives them no 501.
    match verb.as_str() {
        "QUIT" => return Ok(Command::Quit),
        "NOOP" => return Ok(Command::Noop),
        _ => {}
    }
    if arg.iter().any(|b| b.is_ascii_control()) {
        return Err(reject(
            Code::BAD_ARGUMENTS,
            "Control characters are not allowed in arguments.",
        ));
    }
    let arg = String::from_utf8_lossy(arg).into_owned();
    let arg = (!arg.is_empty()).then_some(arg);
    let required = |arg: Option<String>| arg.ok_or_else(|| reject(Code::BAD_ARGUMENTS, "Argument required."));
    let none = |arg: &Option<String>, cmd: Command| match arg {
        None => Ok(cmd),
        Some(_) => Err(reject(Code::BAD_ARGUMENTS, "This command takes no argument.")),
    };
    match verb.as_str() {
        "USER" => required(arg).map(|a| Command::User(a.trim().to_string())),
        "PASS" => Ok(Command::Pass(arg.unwrap_or_default())),
        "ACCT" => required(arg).map(|_| Command::Acct),
        "CWD" | "XCWD" => required(arg).map(Command::Cwd),
        "CDUP" | "XCUP" => none(&arg, Command::Cdup),
        "PORT" => parse_port(&required(arg)?).map(Command::Port).ok_or_else(|| {
            reject(
                Code::BAD_ARGUMENTS,
                "Syntax error in PORT arguments: h1,h2,h3,h4,p1,p2.",
            )
        }),
        "PASV" => none(&arg, Command::Pasv),
        "EPRT" => parse_eprt(&required(arg)?).map(Command::Eprt),
        "EPSV" => parse_epsv(arg.as_deref()).map(Command::Epsv),
        "TYPE" => parse_type(&required(arg)?).map(Command::Type),
        "MODE" => parse_choice(&required(arg)?, "S", &["B", "C"]).map(|()| Command::Mode),
        "STRU" => parse_choice(&required(arg)?, "F", &["R", "P"]).map(|()| Command::Stru),
        "LIST" => Ok(Command::List(parse_list(arg))),
        "NLST" => Ok(Command::Nlst(parse_list(arg))),
        "RETR" => required(arg).map(Command::Retr),
        "STOR" => required(arg).map(Command::Stor),
        "APPE" => required(arg).map(Command::Appe),
        "RNFR" => required(arg).map(Command::Rnfr),
        "RNTO" => required(arg).map(Command::Rnto),
        "STAT" => none(&arg, Command::Stat),
        "DELE" => required(arg).map(Command::Dele),
        "MKD" | "XMKD" => required(arg).map(Command::Mkd),
        "RMD" | "XRMD" => required(arg).map(Command::Rmd),
        "PWD" | "XPWD" => none(&arg, Command::Pwd),
        "SYST" => none(&arg, Command::Syst),
        "FEAT" => none(&arg, Command::Feat),
        "HELP" => Ok(Command::Help(arg)),
        "ALLO" => Ok(Command::Allo),
        v if NOT_SERVED.contains(&v) => Err(reject(Code::NOT_IMPLEMENTED, "Command not implemented.")),
        _ => Err(reject(Code::UNRECOGNIZED, "Syntax error, command unrecognized.")),
    }
}

/// `PORT h1,h2,h3,h4,p1,p2`: six decimals 0–255, port = p1×256+p2 (959 §4.1.2).
/// Port 0 is not an address anyone listens on.
pub(super) fn parse_port(arg: &str) -> Option<SocketAddrV4> {
    let mut n = [0u8; 6];
    let mut parts = arg.split(',');
    for slot in &mut n {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    let port = u16::from(n[4]) << 8 | u16::from(n[5]);
    (port != 0).then(|| SocketAddrV4::new(Ipv4Addr::new(n[0], n[1], n[2], n[3]), port))
}

/// `EPRT <d><net-prt><d><net-addr><d><tcp-port><d>` (RFC 2428 §2); net-prt 1 is IPv4,
/// 2 is IPv6, any other number earns 522.
pub(super) fn parse_eprt(arg: &str) -> Result<SocketAddr, Rejection> {
    let syntax = || {
        reject(
            Code::BAD_ARGUMENTS,
            "Syntax error in EPRT arguments: |proto|address|port|.",
        )
    };
    let d = arg.chars().next().ok_or_else(syntax)?;
    if !(d.is_ascii_graphic()) || d.is_ascii_alphanumeric() {
        return Err(syntax());
    }
    let fields: Vec<&str> = arg[d.len_utf8()..].split(d).collect();
    let [proto, addr, port, ""] = fields.as_slice() else {
        return Err(syntax());
    };
    let port: u16 = match port.bytes().all(|b| b.is_ascii_digit()) {
        true => port.parse().map_err(|_| syntax())?,
        false => return Err(syntax()),
    };
    if port == 0 {
        return Err(syntax());
    }
    let ip = match *proto {
        "1" => IpAddr::V4(addr.parse::<Ipv4Addr>().map_err(|_| syntax())?),
        "2" => IpAddr::V6(addr.parse::<Ipv6Addr>().map_err(|_| syntax())?),
        p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(reject(
                Code::PROTOCOL_NOT_SUPPORTED,
                "Network protocol not supported, use (1,2)",
            ));
        }
        _ => return Err(syntax()),
    };
    Ok(SocketAddr::new(ip, port))
}

fn parse_epsv(arg: Option<&str>) -> Result<EpsvArg, Rejection> {
    match arg {
        None => Ok(EpsvArg::Default),
        Some(a) if a.eq_ignore_ascii_case("ALL") => Ok(EpsvArg::All),
        Some("1") => Ok(EpsvArg::Protocol(1)),
        Some("2") => Ok(EpsvArg::Protocol(2)),
        Some(a) if a.bytes().all(|b| b.is_ascii_digit()) => Err(reject(
            Code::PROTOCOL_NOT_SUPPORTED,
            "Network protocol not supported, use (1,2)",
        )),
        Some(_) => Err(reject(Code::BAD_ARGUMENTS, "Syntax error in EPSV argument.")),
    }
}

/// `TYPE A [N]`, `TYPE I` and `TYPE L 8` are served; E, `A T`, `A C` and other byte
/// sizes are valid but not implemented (504); anything else is a syntax error (501).
fn parse_type(arg: &str) -> Result<Repr, Rejection> {
    let words: Vec<String> = arg.split(' ').map(str::to_ascii_uppercase).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let unsupported = || {
        reject(
            Code::NOT_FOR_PARAMETER,
            "Type not implemented for that parameter.",
        )
    };
    let bad = || reject(Code::BAD_ARGUMENTS, "Syntax error in TYPE: use A, I, E or L n.");
    match words.as_slice() {
        ["A"] | ["A", "N"] => Ok(Repr::Ascii),
        ["A", "T" | "C"] | ["E"] | ["E", "N" | "T" | "C"] => Err(unsupported()),
        ["I"] | ["L", "8"] => Ok(Repr::Image),
        ["L", n] if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => Err(unsupported()),
        _ => Err(bad()),
    }
}

/// MODE and STRU: one letter, `served` answers 200, `known` ones 504, others 501.
fn parse_choice(arg: &str, served: &str, known: &[&str]) -> Result<(), Rejection> {
    let arg = arg.to_ascii_uppercase();
    if arg == served {
        Ok(())
    } else if known.contains(&arg.as_str()) {
        Err(reject(
            Code::NOT_FOR_PARAMETER,
            "Not implemented for that parameter; only the default is served.",
        ))
    } else {
        Err(reject(Code::BAD_ARGUMENTS, "Syntax error in parameter."))
    }
}

/// `LIST -la pub`: clients pass `ls` flags before the path; only `a` changes anything.
fn parse_list(arg: Option<String>) -> ListArgs {
    let mut all = false;
    let mut rest = arg.as_deref().unwrap_or("");
    while let Some(flags) = rest.strip_prefix('-') {
        let end = flags.find(' ').unwrap_or(flags.len());
        all |= flags[..end].contains('a');
        rest = flags[end..].trim_start_matches(' ');
    }
    ListArgs {
        all,
        path: (!rest.is_empty()).then(|| rest.to_string()),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn frames(framer: &mut LineFramer) -> Vec<CommandFrame> {
        std::iter::from_fn(|| framer.next_frame()).collect()
    }

    #[test]
    fn framer_gives_the_same_lines_byte_by_byte_and_all_at_once() {
        let input = b"USER alice\r\nPASS x\nNOOP\r\n";
        let mut whole = LineFramer::new(512);
        whole.push(input);
        let all_at_once = frames(&mut whole);
        let mut bytewise = LineFramer::new(512);
        let mut one_by_one = Vec::new();
        for b in input {
            bytewise.push(&[*b]);
            one_by_one.extend(frames(&mut bytewise));
        }
        assert_eq!(all_at_once, one_by_one);
        assert_eq!(
            all_at_once,
            vec![
                CommandFrame::Line(b"USER alice".to_vec()),
                CommandFrame::Line(b"PASS x".to_vec()),
                CommandFrame::Line(b"NOOP".to_vec())
            ]
        );
    }

    #[test]
    fn framer_reports_an_overlong_line_once_it_ends_and_goes_on() {
        let mut f = LineFramer::new(8);
        f.push(b"NOOP 123456789");
        assert_eq!(f.next_frame(), None);
        f.push(b"0123\r\nNOOP\r\n");
        assert_eq!(
            frames(&mut f),
            vec![CommandFrame::TooLong, CommandFrame::Line(b"NOOP".to_vec())]
        );
    }

    #[test]
    fn framer_line_at_the_limit_with_crlf_is_accepted() {
        let mut f = LineFramer::new(4);
        f.push(b"NOOP\r");
        assert_eq!(f.next_frame(), None);
        f.push(b"\n");
        assert_eq!(f.next_frame(), Some(CommandFrame::Line(b"NOOP".to_vec())));
    }

    #[test]
    fn framer_gives_up_on_a_line_that_never_ends() {
        let mut f = LineFramer::new(8);
        let chunk = vec![b'x'; 4096];
        let mut got = None;
        for _ in 0..100 {
            f.push(&chunk);
            if let Some(frame) = f.next_frame() {
                got = Some(frame);
                break;
            }
        }
        assert_eq!(got, Some(CommandFrame::Flood));
        assert!(f.buf.capacity() <= 2 * 4096 + 64, "the framer does not hoard");
    }

    /// A small deterministic generator, so the no-panic tests need no dependency.
    pub(in crate::ftp) fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn no_input_makes_the_framer_or_parser_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let alphabet: Vec<u8> = b"USERPASLITNDVMKCWFQYO|,.-/ 0123456789\r\n\xff\xfe\x00|!"
            .iter()
            .copied()
            .chain("é€|".bytes())
            .collect();
        let mut framer = LineFramer::new(64);
        for _ in 0..20_000 {
            let len = (xorshift(&mut seed) % 40) as usize;
            let line: Vec<u8> = (0..len)
                .map(|_| {
                    let r = xorshift(&mut seed);
                    if r % 4 == 0 {
                        r as u8
                    } else {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    }
                })
                .collect();
            let _ = parse(&strip_telnet(&line));
            for verb in ["PORT ", "EPRT ", "TYPE ", "LIST ", "EPSV ", "MODE "] {
                let mut cmd = verb.as_bytes().to_vec();
                cmd.extend_from_slice(&line);
                let _ = parse(&cmd);
            }
            framer.push(&line);
            while framer.next_frame().is_some() {}
        }
    }

    #[test]
    fn telnet_commands_are_removed_and_iac_iac_is_a_data_byte() {
        assert_eq!(strip_telnet(b"\xff\xf4\xff\xf2ABOR"), b"ABOR");
        assert_eq!(strip_telnet(b"\xff\xfb\x01NOOP"), b"NOOP");
        assert_eq!(strip_telnet(b"a\xff\xffb\xff"), b"a\xffb");
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(parse(b"noop"), Ok(Command::Noop));
        assert_eq!(parse(b"User alice"), Ok(Command::User("alice".into())));
    }

    #[test]
    fn unknown_and_garbage_lines_are_500_known_unserved_are_502() {
        for line in [&b"FROB x"[..], b"", b"\x00\x01\xfe", b"REALLYLONG", b"12 3"] {
            assert_eq!(parse(line).unwrap_err().0.code(), Code::UNRECOGNIZED, "{line:?}");
        }
        assert_eq!(parse(b"REST 100").unwrap_err().0.code(), Code::NOT_IMPLEMENTED);
    }

    #[test]
    fn missing_or_surplus_arguments_are_501() {
        for line in [
            &b"USER"[..],
            b"RETR",
            b"CWD",
            b"PWD x",
            b"PASV 1",
            b"TYPE",
            b"PORT",
        ] {
            assert_eq!(parse(line).unwrap_err().0.code(), Code::BAD_ARGUMENTS, "{line:?}");
        }
        assert_eq!(parse(b"RETR a\x01b").unwrap_err().0.code(), Code::BAD_ARGUMENTS);
    }

    #[test]
    fn port_args_encode_high_byte_first() {
        assert_eq!(
            parse_port("127,0,0,1,155,171"),
            Some("127.0.0.1:39851".parse().unwrap())
        );
    }

    #[test]
    fn port_args_must_be_six_decimals_up_to_255() {
        for bad in [
            "127,0,0,1,155",
            "127,0,0,1,155,171,1",
            "127,0,0,1,256,1",
            "127,0,0,1,a,1",
            "1,2,3,4,0,0",
            "",
        ] {
            assert_eq!(parse_port(bad), None, "{bad}");
        }
        assert_eq!(parse(b"PORT 1,2,3").unwrap_err().0.code(), Code::BAD_ARGUMENTS);
    }

    #[test]
    fn eprt_takes_any_delimiter_and_both_protocols() {
        assert_eq!(
            parse_eprt("|1|127.0.0.1|6446|"),
            Ok("127.0.0.1:6446".parse().unwrap())
        );
        assert_eq!(parse_eprt("!2!::1!6446!"), Ok("[::1]:6446".parse().unwrap()));
        assert_eq!(
            parse_eprt("|3|x|1|").unwrap_err().0.code(),
            Code::PROTOCOL_NOT_SUPPORTED
        );
        for bad in [
            "|1|127.0.0.1|6446",
            "|1|::1|6446|",
            "|1|127.0.0.1|0|",
            "1127.0.0.11",
        ] {
            assert_eq!(
                parse_eprt(bad).unwrap_err().0.code(),
                Code::BAD_ARGUMENTS,
                "{bad}"
            );
        }
    }

    #[test]
    fn type_a_and_i_are_served_e_is_504_nonsense_is_501() {
        assert_eq!(parse(b"TYPE A"), Ok(Command::Type(Repr::Ascii)));
        assert_eq!(parse(b"TYPE a n"), Ok(Command::Type(Repr::Ascii)));
        assert_eq!(parse(b"TYPE I"), Ok(Command::Type(Repr::Image)));
        assert_eq!(parse(b"TYPE L 8"), Ok(Command::Type(Repr::Image)));
        assert_eq!(parse(b"TYPE E").unwrap_err().0.code(), Code::NOT_FOR_PARAMETER);
        assert_eq!(parse(b"TYPE L 7").unwrap_err().0.code(), Code::NOT_FOR_PARAMETER);
        assert_eq!(parse(b"TYPE X").unwrap_err().0.code(), Code::BAD_ARGUMENTS);
    }

    #[test]
    fn mode_s_and_stru_f_only() {
        assert_eq!(parse(b"MODE S"), Ok(Command::Mode));
        assert_eq!(parse(b"MODE B").unwrap_err().0.code(), Code::NOT_FOR_PARAMETER);
        assert_eq!(parse(b"STRU f"), Ok(Command::Stru));
        assert_eq!(parse(b"STRU R").unwrap_err().0.code(), Code::NOT_FOR_PARAMETER);
        assert_eq!(parse(b"STRU Q").unwrap_err().0.code(), Code::BAD_ARGUMENTS);
    }

    #[test]
    fn list_flags_are_separated_from_the_path() {
        assert_eq!(
            parse_list(Some("-la pub".into())),
            ListArgs {
                all: true,
                path: Some("pub".into())
            }
        );
        assert_eq!(
            parse_list(Some("-l".into())),
            ListArgs {
                all: false,
                path: None
            }
        );
        assert_eq!(
            parse_list(None),
            ListArgs {
                all: false,
                path: None
            }
        );
    }
}
