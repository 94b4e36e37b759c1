//! What a conformant FTP server answers to a command the scenario does not script at the
//! point it arrives, when parley plays the server: real clients send commands of their
//! own around an exercise (SYST, PWD, FEAT, OPTS UTF8, TYPE A ...), and a server answers
//! each with a code RFC 959 §5.4 allows for it — never with the reply scripted for another
//! command. Commands whose answer depends on the scenario (transfers, PORT/PASV, the
//! login) are not answered here: they are the scenario's to judge.

use super::command::{Command, ReprType, parse_type};

/// The reply a conformant server gives to `command`, with no scenario to say otherwise.
/// `None`: the command is one the scenario must answer (or judge).
pub fn default_answer(command: &Command) -> Option<Vec<u8>> {
    let arg = command.arg.as_deref().unwrap_or("");
    let text: String = match command.keyword.as_str() {
        // 959 §5.4: NOOP 200; SYST 215; PWD 257; HELP 211/214; STAT 211/212/213.
        "NOOP" => "200 NOOP ok.".into(),
        "SYST" => "215 UNIX Type: L8".into(),
        "PWD" | "XPWD" => "257 \"/\" is the current directory.".into(),
        "HELP" => "214 Commands are those of RFC 959 and RFC 1123.".into(),
        "STAT" if arg.is_empty() => "211 parley FTP server status: OK.".into(),
        // 959 §4.1.2: the type, mode and structure a server must accept (RFC 1123
        // §4.1.2.13: TYPE A, I and L 8; MODE S; STRU F).
        "TYPE" => match parse_type(arg) {
            Ok(ReprType::Ascii) => "200 Type set to A.".into(),
            Ok(ReprType::Image) => "200 Type set to I.".into(),
            Ok(ReprType::Local(8)) => "200 Type set to L 8.".into(),
            Ok(_) => format!("504 Type {arg} not implemented."),
            Err(_) => format!("501 Syntax error in TYPE {arg}."),
        },
        "MODE" if arg.eq_ignore_ascii_case("S") => "200 Mode set to S.".into(),
        "MODE" => format!("504 Mode {arg} not implemented."),
        "STRU" if arg.eq_ignore_ascii_case("F") => "200 Structure set to F.".into(),
        "STRU" => format!("504 Structure {arg} not implemented."),
        // The working directory: the served root is all there is.
        "CWD" | "XCWD" if arg == "/" || arg.is_empty() => "250 Directory successfully changed.".into(),
        "CWD" | "XCWD" => "550 Failed to change directory.".into(),
        "CDUP" | "XCUP" => "250 Directory successfully changed.".into(),
        // RFC 2389 FEAT (211) and OPTS (200/501).
        "FEAT" => return Some(b"211-Features:\r\n EPRT\r\n EPSV\r\n PASV\r\n UTF8\r\n211 End\r\n".to_vec()),
        "OPTS" if arg.to_ascii_uppercase().starts_with("UTF8") => "200 Always in UTF8 mode.".into(),
        "OPTS" => format!("501 Option {arg} not understood."),
        "ALLO" => "202 ALLO not needed.".into(),
        // The login, the data connection, the transfers and the end of the session are
        // the scenario's: it scripts and judges them.
        "USER" | "PASS" | "ACCT" | "QUIT" | "REIN" | "PORT" | "EPRT" | "PASV" | "EPSV" | "LIST" | "NLST"
        | "RETR" | "STOR" | "STOU" | "APPE" | "MLSD" | "ABOR" | "" => return None,
        // Everything else (AUTH TLS, PBSZ, LANG, SITE ...) is a command this server does
        // not implement (959 §5.4 and RFC 2228 allow 502).
        other => format!("502 {other} not implemented."),
    };
    Some(format!("{text}\r\n").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ftp::command::parse_command;
    use crate::proto::ftp::reply::parse_reply;
    use crate::proto::ftp::table;

    fn answer(line: &str) -> Option<String> {
        let c = parse_command(format!("{line}\r\n").as_bytes()).command.unwrap();
        default_answer(&c).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn the_type_asked_for_is_the_type_answered() {
        assert_eq!(answer("TYPE A").unwrap(), "200 Type set to A.\r\n");
        assert_eq!(answer("TYPE I").unwrap(), "200 Type set to I.\r\n");
        assert!(answer("TYPE E").unwrap().starts_with("504"));
        assert!(answer("TYPE Z").unwrap().starts_with("501"));
    }

    #[test]
    fn the_scenario_answers_transfers_and_data_setup_itself() {
        for line in [
            "LIST",
            "RETR x",
            "STOR x",
            "PORT 127,0,0,1,1,2",
            "PASV",
            "EPSV",
            "USER a",
            "PASS b",
            "QUIT",
        ] {
            assert_eq!(answer(line), None, "{line}");
        }
    }

    #[test]
    fn every_default_answer_is_a_code_rfc_959_allows_for_its_command() {
        for line in [
            "NOOP",
            "SYST",
            "PWD",
            "HELP",
            "STAT",
            "TYPE A",
            "TYPE E",
            "MODE S",
            "MODE B",
            "STRU F",
            "STRU R",
            "CWD /",
            "CWD pub",
            "CDUP",
            "FEAT",
            "OPTS UTF8 ON",
            "OPTS X",
            "ALLO 10",
        ] {
            let bytes = answer(line).unwrap();
            let reply = parse_reply(bytes.as_bytes()).reply.expect(line);
            let keyword = line.split(' ').next().unwrap();
            if let Some(row) = table::row(keyword) {
                assert!(
                    row.allows(table::Stage::First, reply.code.0),
                    "{line}: {}",
                    reply.code
                );
            }
        }
    }
}
