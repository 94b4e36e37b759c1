//! FTP commands, sans-I/O: one command line `KEYWORD [SP argument] CRLF` parsed and
//! checked (RFC 959 §5.3): the line's grammar (F-CMD-1), PORT's six numbers (F-CMD-3),
//! TYPE's codes (F-CMD-4), and EPRT's form (RFC 2428 §2, F-2428-1).
//!
//! Keywords are case-insensitive (959 §5.3.1) and kept upper-cased; the argument is kept
//! as sent. A command line ends at its LF, so framing is "one line".

use crate::rules;
use std::net::SocketAddr;

use super::Violation;
use super::addr;

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The keyword, upper-cased (`USER`, `LIST`).
    pub keyword: String,
    /// The argument after the single SP, as sent; `None` when there is none.
    pub arg: Option<String>,
}

impl Command {
    /// The data address PORT or EPRT announces, when the argument is well formed.
    pub fn data_addr(&self) -> Option<SocketAddr> {
        let arg = self.arg.as_deref()?;
        match self.keyword.as_str() {
            "PORT" => addr::parse_port_args(arg).ok().map(SocketAddr::V4),
            "EPRT" => addr::parse_eprt(arg).ok(),
            _ => None,
        }
    }

    /// The representation type a TYPE command asks for, when its argument is valid.
    pub fn repr_type(&self) -> Option<ReprType> {
        if self.keyword != "TYPE" {
            return None;
        }
        parse_type(self.arg.as_deref().unwrap_or("")).ok()
    }

    /// For messages: `PORT 127,0,0,1,155,171`.
    pub fn display(&self) -> String {
        match &self.arg {
            Some(a) => format!("{} {a}", self.keyword),
            None => self.keyword.clone(),
        }
    }
}

/// The representation types of RFC 959 §3.1.1 (TYPE's first argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReprType {
    /// `A`: ASCII, lines end in CRLF on the wire (959 §3.1.1.1). The default type.
    #[default]
    Ascii,
    /// `E`: EBCDIC.
    Ebcdic,
    /// `I`: image (binary), bytes as they are.
    Image,
    /// `L n`: local byte size `n`.
    Local(u8),
}

/// Whether a command takes an argument (959 §5.3.1 grammar; RFC 2389, 2428, 3659 for
/// the extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arity {
    None,
    Optional,
    Required,
}

fn arity(keyword: &str) -> Option<Arity> {
    Some(match keyword {
        "CDUP" | "XCUP" | "QUIT" | "REIN" | "PASV" | "STOU" | "ABOR" | "PWD" | "XPWD" | "SYST" | "NOOP"
        | "FEAT" => Arity::None,
        "LIST" | "NLST" | "STAT" | "HELP" | "EPSV" | "MLSD" | "MLST" => Arity::Optional,
        "USER" | "PASS" | "ACCT" | "CWD" | "XCWD" | "SMNT" | "PORT" | "TYPE" | "STRU" | "MODE" | "RETR"
        | "STOR" | "APPE" | "ALLO" | "REST" | "RNFR" | "RNTO" | "DELE" | "RMD" | "XRMD" | "MKD" | "XMKD"
        | "SITE" | "EPRT" | "OPTS" | "SIZE" | "MDTM" | "AUTH" | "PBSZ" | "PROT" => Arity::Required,
        _ => return None,
    })
}

/// Is `keyword` a command parley knows (RFC 959 and the common extensions)?
pub fn is_known(keyword: &str) -> bool {
    arity(keyword).is_some()
}

/// The command parsed from one line and the rules the line breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    /// The command, when a keyword could be read.
    pub command: Option<Command>,
    /// F-CMD-1, F-CMD-3, F-CMD-4 violations.
    pub violations: Vec<Violation>,
}

/// Parses one command line (through its LF, or what came before the end of file) and
/// checks it.
pub fn parse_command(line: &[u8]) -> ParsedCommand {
    let mut violations = Vec::new();
    let body = if let Some(b) = line.strip_suffix(b"\r\n") {
        b
    } else if let Some(b) = line.strip_suffix(b"\n") {
        violations.push(Violation::new(
            rules::F_CMD_1,
            "the command ends in a bare LF: end it with CRLF, \\r\\n (RFC 959 §5.3, Telnet end of line)",
        ));
        b
    } else {
        violations.push(Violation::new(
            rules::F_CMD_1,
            "the command line does not end in CRLF (RFC 959 §5.3)",
        ));
        line
    };
    // Telnet commands before the keyword (IAC IP IAC DM before ABOR, 959 §4.1.3).
    let mut body = body;
    while body.first() == Some(&0xFF) && body.len() >= 2 {
        body = &body[2..];
    }
    let shown = crate::visible::visible_truncated(body, 60);
    if body.is_empty() {
        violations.push(Violation::new(
            rules::F_CMD_1,
            "an empty command line: a command is a keyword, then its argument (RFC 959 §5.3)",
        ));
        return ParsedCommand {
            command: None,
            violations,
        };
    }
    if body[0] == b' ' {
        violations.push(Violation::new(
            rules::F_CMD_1,
            format!("`{shown}` starts with a space: the keyword comes first (RFC 959 §5.3)"),
        ));
    }
    let trimmed = body
        .iter()
        .position(|b| *b != b' ')
        .map_or(&body[..0], |p| &body[p..]);
    let kw_end = trimmed.iter().position(|b| *b == b' ').unwrap_or(trimmed.len());
    let raw_kw = &trimmed[..kw_end];
    let mut keyword = String::from_utf8_lossy(raw_kw).to_ascii_uppercase();
    let mut arg: Option<String> = None;
    let mut dangling_space = false;
    if kw_end < trimmed.len() {
        let rest = &trimmed[kw_end + 1..];
        if rest.is_empty() {
            dangling_space = true;
            violations.push(Violation::new(
                rules::F_CMD_1,
                format!("`{shown}` has a space after {keyword} but no argument: leave the space out (RFC 959 §5.3.2)"),
            ));
        } else if rest[0] == b' ' {
            violations.push(Violation::new(
                rules::F_CMD_1,
                format!("`{shown}` has more than one space after {keyword}: exactly one SP separates keyword and argument (RFC 959 §5.3.2)"),
            ));
            let a = rest
                .iter()
                .position(|b| *b != b' ')
                .map_or(&rest[..0], |p| &rest[p..]);
            if !a.is_empty() {
                arg = Some(String::from_utf8_lossy(a).into_owned());
            }
        } else {
            arg = Some(String::from_utf8_lossy(rest).into_owned());
        }
    }
    let alphabetic = raw_kw.iter().all(u8::is_ascii_alphabetic);
    if !alphabetic || raw_kw.len() > 4 || raw_kw.len() < 3 {
        // A known keyword glued to its argument: `USERanonymous`, `PORT127,0,0,1,...`.
        let glued = [
            "PORT", "USER", "PASS", "TYPE", "RETR", "STOR", "LIST", "NLST", "CWD", "EPRT", "MKD", "RMD",
        ]
        .into_iter()
        .find(|k| keyword.starts_with(k) && keyword.len() > k.len());
        match glued {
            Some(k) if arg.is_none() => {
                violations.push(Violation::new(
                    rules::F_CMD_1,
                    format!("`{shown}` has no space between {k} and its argument (RFC 959 §5.3)"),
                ));
                arg = Some(String::from_utf8_lossy(&raw_kw[k.len()..]).into_owned());
                keyword = k.to_string();
            }
            _ => violations.push(Violation::new(
                rules::F_CMD_1,
                format!(
                    "`{}` is not a command keyword: keywords are three or four letters (RFC 959 §5.3.1)",
                    crate::visible::visible_truncated(raw_kw, 20)
                ),
            )),
        }
    }
    match (arity(&keyword), &arg) {
        (Some(Arity::None), Some(a)) => violations.push(Violation::new(
            rules::F_CMD_1,
            format!("{keyword} takes no argument, but `{a}` follows it (RFC 959 §5.3.1)"),
        )),
        (Some(Arity::Required), None) if !dangling_space => {
            violations.push(Violation::new(
                rules::F_CMD_1,
                format!("{keyword} needs an argument (RFC 959 §5.3.1)"),
            ));
        }
        _ => {}
    }
    let command = Command { keyword, arg };
    check_arguments(&command, &mut violations);
    ParsedCommand {
        command: Some(command),
        violations,
    }
}

/// The argument checks of PORT (F-CMD-3), TYPE (F-CMD-4) and EPRT.
fn check_arguments(c: &Command, violations: &mut Vec<Violation>) {
    let Some(arg) = c.arg.as_deref() else { return };
    match c.keyword.as_str() {
        "PORT" => {
            if let Err(e) = addr::parse_port_args(arg) {
                violations.push(Violation::new(rules::F_CMD_3, format!("PORT {arg}: {e}")));
            }
        }
        "TYPE" => {
            if let Err(why) = parse_type(arg) {
                violations.push(Violation::new(rules::F_CMD_4, format!("TYPE {arg}: {why}")));
            }
        }
        "EPRT" => {
            if let Err(why) = addr::parse_eprt(arg) {
                violations.push(Violation::new(rules::F_2428_1, why));
            }
        }
        _ => {}
    }
}

/// Parses TYPE's argument (959 §4.1.2): `A [SP N|T|C]`, `E [SP N|T|C]`, `I`, `L SP n`.
pub fn parse_type(arg: &str) -> Result<ReprType, String> {
    let parts: Vec<&str> = arg.split(' ').collect();
    let upper: Vec<String> = parts.iter().map(|p| p.to_ascii_uppercase()).collect();
    let words: Vec<&str> = upper.iter().map(String::as_str).collect();
    let format_ok = |f: &str| matches!(f, "N" | "T" | "C");
    match words.as_slice() {
        ["A"] => Ok(ReprType::Ascii),
        ["E"] => Ok(ReprType::Ebcdic),
        ["A", f] if format_ok(f) => Ok(ReprType::Ascii),
        ["E", f] if format_ok(f) => Ok(ReprType::Ebcdic),
        ["A" | "E", f] => Err(format!(
            "the format after A or E is N (non-print), T (Telnet) or C (carriage control), not `{f}` (RFC 959 §4.1.2)"
        )),
        ["I"] => Ok(ReprType::Image),
        ["L", n] => match n.parse::<u8>() {
            Ok(size) if size > 0 && n.bytes().all(|b| b.is_ascii_digit()) => Ok(ReprType::Local(size)),
            _ => Err(format!(
                "L takes a byte size, a decimal number such as 8, not `{n}` (RFC 959 §4.1.2)"
            )),
        },
        ["L"] => Err("L needs a byte size: `TYPE L 8` (RFC 959 §4.1.2)".to_string()),
        _ => Err(format!(
            "the type is A (ASCII), E (EBCDIC), I (image, binary) or `L n`; `{arg}` is none of them: send `TYPE I` for binary (RFC 959 §4.1.2)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn rules(line: &[u8]) -> Vec<&'static str> {
        parse_command(line)
            .violations
            .iter()
            .map(|v| v.rule.as_str())
            .collect()
    }

    #[rstest]
    #[case::user(b"USER anonymous\r\n".as_slice(), "USER", Some("anonymous"))]
    #[case::lowercase_keyword(b"user anonymous\r\n", "USER", Some("anonymous"))]
    #[case::no_argument(b"LIST\r\n", "LIST", None)]
    #[case::argument_with_spaces(b"RETR my file.txt\r\n", "RETR", Some("my file.txt"))]
    #[case::telnet_prefix(b"\xff\xf4\xff\xf2ABOR\r\n", "ABOR", None)]
    fn commands_parse_into_keyword_and_argument(
        #[case] line: &[u8],
        #[case] keyword: &str,
        #[case] arg: Option<&str>,
    ) {
        let p = parse_command(line);
        assert!(p.violations.is_empty(), "{:?}", p.violations);
        let c = p.command.unwrap();
        assert_eq!(c.keyword, keyword);
        assert_eq!(c.arg.as_deref(), arg);
    }

    #[rstest]
    #[case::bare_lf(b"USER anonymous\n".as_slice())]
    #[case::no_line_end(b"USER anonymous")]
    #[case::no_space(b"USERanonymous\r\n")]
    #[case::two_spaces(b"USER  anonymous\r\n")]
    #[case::trailing_space(b"LIST \r\n")]
    #[case::leading_space(b" USER anonymous\r\n")]
    #[case::empty(b"\r\n")]
    #[case::digits(b"123 x\r\n")]
    #[case::too_long(b"HELLO\r\n")]
    #[case::argument_to_pasv(b"PASV now\r\n")]
    #[case::user_without_name(b"USER\r\n")]
    fn command_grammar_breaks_f_cmd_1(#[case] line: &[u8]) {
        assert_eq!(rules(line), ["F-CMD-1"], "{}", String::from_utf8_lossy(line));
    }

    #[rstest]
    #[case::unknown_protocol(b"EPRT |3|1.2.3.4|5|\r\n".as_slice())]
    #[case::not_an_address(b"EPRT |1|localhost|5000|\r\n")]
    #[case::missing_delimiters(b"EPRT 1|127.0.0.1|5000\r\n")]
    fn a_malformed_eprt_breaks_f_2428_1(#[case] line: &[u8]) {
        assert_eq!(rules(line), ["F-2428-1"], "{}", String::from_utf8_lossy(line));
    }

    #[test]
    fn a_keyword_glued_to_its_argument_is_still_read() {
        let p = parse_command(b"PORT127,0,0,1,155,171\r\n");
        let c = p.command.unwrap();
        assert_eq!(
            (c.keyword.as_str(), c.arg.as_deref()),
            ("PORT", Some("127,0,0,1,155,171"))
        );
        assert_eq!(p.violations[0].rule, "F-CMD-1");
    }

    #[rstest]
    #[case::good(b"PORT 127,0,0,1,155,171\r\n".as_slice(), &[])]
    #[case::five_numbers(b"PORT 127,0,0,1,39851\r\n", &["F-CMD-3"])]
    #[case::byte_above_255(b"PORT 127,0,0,1,300,2\r\n", &["F-CMD-3"])]
    #[case::spaces(b"PORT 127, 0, 0, 1, 155, 171\r\n", &["F-CMD-3"])]
    #[case::hex(b"PORT 127,0,0,1,9b,ab\r\n", &["F-CMD-3"])]
    fn port_arguments_are_six_bytes(#[case] line: &[u8], #[case] want: &[&str]) {
        assert_eq!(rules(line), want);
    }

    #[test]
    fn port_error_shows_the_arithmetic() {
        let v = parse_command(b"PORT 127,0,0,1,39851\r\n").violations;
        assert_eq!(
            v[0].message,
            "PORT 127,0,0,1,39851: PORT takes six numbers h1,h2,h3,h4,p1,p2 (RFC 959 §4.1.2); this has 5: \
             the port is two numbers, high byte first, so port 39851 is 155,171 (39851 (155×256+171))"
        );
    }

    #[rstest]
    #[case::ascii("A", Ok(ReprType::Ascii))]
    #[case::ascii_non_print("A N", Ok(ReprType::Ascii))]
    #[case::ebcdic_telnet("E T", Ok(ReprType::Ebcdic))]
    #[case::image("I", Ok(ReprType::Image))]
    #[case::image_lowercase("i", Ok(ReprType::Image))]
    #[case::local_8("L 8", Ok(ReprType::Local(8)))]
    #[case::local_without_size("L", Err("byte size"))]
    #[case::local_zero("L 0", Err("byte size"))]
    #[case::unknown("Z", Err("none of them"))]
    #[case::image_with_format("I N", Err("none of them"))]
    #[case::bad_format("A X", Err("not `X`"))]
    fn type_arguments_follow_rfc_959_4_1_2(#[case] arg: &str, #[case] want: Result<ReprType, &str>) {
        match (parse_type(arg), want) {
            (Ok(t), Ok(w)) => assert_eq!(t, w),
            (Err(e), Err(w)) => assert!(e.contains(w), "{arg}: {e}"),
            (got, want) => panic!("{arg}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn bad_type_breaks_f_cmd_4_and_good_type_does_not() {
        assert_eq!(rules(b"TYPE Z\r\n"), ["F-CMD-4"]);
        assert_eq!(rules(b"TYPE L\r\n"), ["F-CMD-4"]);
        assert!(rules(b"TYPE I\r\n").is_empty());
        assert!(rules(b"TYPE A N\r\n").is_empty());
    }

    #[test]
    fn data_addresses_come_from_port_and_eprt() {
        let port = parse_command(b"PORT 127,0,0,1,155,171\r\n").command.unwrap();
        assert_eq!(port.data_addr(), Some("127.0.0.1:39851".parse().unwrap()));
        let eprt = parse_command(b"EPRT |2|::1|6446|\r\n").command.unwrap();
        assert_eq!(eprt.data_addr(), Some("[::1]:6446".parse().unwrap()));
        let list = parse_command(b"LIST\r\n").command.unwrap();
        assert_eq!(list.data_addr(), None);
    }
}
