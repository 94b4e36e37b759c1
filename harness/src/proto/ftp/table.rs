//! Which reply codes each command may receive: RFC 959 §5.4 ("Command-Reply Sequences")
//! as data, extended for the commands it does not list with the RFCs that define them
//! (RFC 2389 FEAT/OPTS, RFC 2428 EPRT/EPSV, RFC 3659 SIZE/MDTM/MLST/MLSD, RFC 2228 AUTH)
//! and, where a widely deployed server answers otherwise for a sound reason, that reason.
//! Every row names its source. 421 may answer anything (959 §5.4: "the reply 421 ...
//! may be given to any command"). F-RPL-4 is judged against this table.

/// The replies one command may receive (959 §5.4's layout): a preliminary 1yz reply,
/// then one of `then`; or at once one of `at_once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The commands the row is for (synonyms such as XPWD included).
    pub commands: &'static [&'static str],
    /// Preliminary replies that start a longer exchange (125/150 for a transfer).
    pub preliminary: &'static [u16],
    /// Replies allowed after a preliminary one (110 restart markers, then the final).
    pub then: &'static [u16],
    /// Final replies allowed without a preliminary one.
    pub at_once: &'static [u16],
    /// Where the row comes from.
    pub source: &'static str,
}

/// Codes any command (and the connection) may receive: 421, service not available,
/// closing the control connection (959 §5.4).
pub const ANY_TIME: &[u16] = &[421];

/// The opening of the connection (959 §5.4 "Connection Establishment"): 120 then 220;
/// 220; 421.
pub static GREETING: Row = Row {
    commands: &[],
    preliminary: &[120],
    then: &[220],
    at_once: &[220],
    source: "RFC 959 §5.4 Connection Establishment",
};

const TRANSFER_THEN: &[u16] = &[226, 250, 425, 426, 451];

/// The table. Codes are listed in 959's order: successes, then failures.
pub static TABLE: &[Row] = &[
    // Login.
    Row {
        commands: &["USER"],
        preliminary: &[],
        then: &[],
        at_once: &[230, 530, 500, 501, 331, 332],
        source: "RFC 959 §5.4",
    },
    Row {
        commands: &["PASS"],
        preliminary: &[],
        then: &[],
        at_once: &[230, 202, 530, 500, 501, 503, 332],
        source: "RFC 959 §5.4",
    },
    Row {
        commands: &["ACCT"],
        preliminary: &[],
        then: &[],
        at_once: &[230, 202, 530, 500, 501, 503],
        source: "RFC 959 §5.4",
    },
    // XCWD, XCUP, XPWD, XMKD, XRMD are RFC 775's names, synonyms per RFC 1123 §4.1.3.1.
    Row {
        commands: &["CWD", "XCWD"],
        preliminary: &[],
        then: &[],
        at_once: &[250, 500, 501, 502, 530, 550],
        source: "RFC 959 §5.4; XCWD RFC 1123 §4.1.3.1",
    },
    // 959 §5.4 gives CDUP 200; §4.1.1 defines it as a special case of CWD, which answers
    // 250, and vsftpd and pyftpdlib answer 250.
    Row {
        commands: &["CDUP", "XCUP"],
        preliminary: &[],
        then: &[],
        at_once: &[200, 250, 500, 501, 502, 530, 550],
        source: "RFC 959 §5.4 (250 as for CWD, §4.1.1)",
    },
    Row {
        commands: &["SMNT"],
        preliminary: &[],
        then: &[],
        at_once: &[202, 250, 500, 501, 502, 530, 550],
        source: "RFC 959 §5.4",
    },
    // Logout.
    Row {
        commands: &["REIN"],
        preliminary: &[120],
        then: &[220],
        at_once: &[220, 500, 502],
        source: "RFC 959 §5.4",
    },
    Row {
        commands: &["QUIT"],
        preliminary: &[],
        then: &[],
        at_once: &[221, 500],
        source: "RFC 959 §5.4",
    },
    // Transfer parameters. PORT's 504 is RFC 2577 §3's refusal of a third host or a
    // privileged port; pyftpdlib connects at PORT time and answers 425 when it cannot.
    Row {
        commands: &["PORT"],
        preliminary: &[],
        then: &[],
        at_once: &[200, 500, 501, 504, 425, 530],
        source: "RFC 959 §5.4; 504 RFC 2577 §3; 425 pyftpdlib",
    },
    Row {
        commands: &["PASV"],
        preliminary: &[],
        then: &[],
        at_once: &[227, 500, 501, 502, 530],
        source: "RFC 959 §5.4",
    },
    Row {
        commands: &["EPRT"],
        preliminary: &[],
        then: &[],
        at_once: &[200, 500, 501, 502, 504, 522, 425, 530],
        source: "RFC 2428 §2 (200, 522; 500/501/502/530 as for PORT); 504 RFC 2577 §3",
    },
    // `EPSV ALL` is answered 200 (RFC 2428 §4).
    Row {
        commands: &["EPSV"],
        preliminary: &[],
        then: &[],
        at_once: &[229, 200, 500, 501, 502, 522, 530],
        source: "RFC 2428 §3, §4",
    },
    Row {
        commands: &["MODE", "STRU", "TYPE"],
        preliminary: &[],
        then: &[],
        at_once: &[200, 500, 501, 504, 530],
        source: "RFC 959 §5.4",
    },
    // File action commands.
    Row {
        commands: &["ALLO"],
        preliminary: &[],
        then: &[],
        at_once: &[200, 202, 500, 501, 504, 530],
        source: "RFC 959 §5.4",
    },
    Row {
        commands: &["REST"],
        preliminary: &[],
        then: &[],
        at_once: &[350, 500, 501, 502, 530],
        source: "RFC 959 §5.4; RFC 3659 §5",
    },
    Row {
        commands: &["STOR", "STOU"],
        preliminary: &[125, 150],
        then: &[110, 226, 250, 425, 426, 451, 551, 552],
        // 550 is "file unavailable (e.g. ... no access)" (959 §4.2.2): the refusal every
        // real server gives a read-only session (vsftpd, proftpd, pyftpdlib, Twisted).
        at_once: &[532, 450, 452, 553, 550, 500, 501, 530],
        source: "RFC 959 §5.4; 550 for no access (959 §4.2.2; vsftpd, proftpd, pyftpdlib, Twisted)",
    },
    Row {
        commands: &["APPE"],
        preliminary: &[125, 150],
        then: &[110, 226, 250, 425, 426, 451, 551, 552],
        at_once: &[532, 450, 550, 452, 553, 500, 501, 502, 530],
        source: "RFC 959 §5.4",
    },
    Row {
        commands: &["RETR"],
        preliminary: &[125, 150],
        then: &[110, 226, 250, 425, 426, 451],
        at_once: &[450, 550, 500, 501, 530],
        source: "RFC 959 §5.4",
    },
    Row {
        commands: &["LIST", "NLST"],
        preliminary: &[125, 150],
        then: TRANSFER_THEN,
        at_once: &[450, 550, 500, 501, 502, 530],
        source: "RFC 959 §5.4; 550 for a missing directory (as MLSD, RFC 3659 §7; pyftpdlib, Twisted)",
    },
    Row {
        commands: &["MLSD"],
        preliminary: &[125, 150],
        then: TRANSFER_THEN,
        at_once: &[450, 500, 501, 502, 530, 550],
        source: "RFC 3659 §7 (as LIST, and 550 for a missing directory)",
    },
    Row {
        commands: &["MLST"],
        preliminary: &[],
        then: &[],
        at_once: &[250, 500, 501, 502, 530, 550],
        source: "RFC 3659 §7",
    },
    Row {
        commands: &["SIZE", "MDTM"],
        preliminary: &[],
        then: &[],
        at_once: &[213, 500, 501, 502, 530, 550],
        source: "RFC 3659 §3, §4",
    },
    Row {
        commands: &["RNFR"],
        preliminary: &[],
        then: &[],
        at_once: &[350, 450, 550, 500, 501, 502, 530],
        source: "RFC 959 §5.4",
    },
    Row {
        commands: &["RNTO"],
        preliminary: &[],
        then: &[],
        at_once: &[250, 532, 553, 550, 500, 501, 502, 503, 530],
        source: "RFC 959 §5.4; 550 for no access (959 §4.2.2; vsftpd, Twisted)",
    },
    Row {
        commands: &["DELE"],
        preliminary: &[],
        then: &[],
        at_once: &[250, 450, 550, 500, 501, 502, 530],
        source: "RFC 959 §5.4",
    },
    Row {
        commands: &["RMD", "XRMD"],
        preliminary: &[],
        then: &[],
        at_once: &[250, 500, 501, 502, 530, 550],
        source: "RFC 959 §5.4; XRMD RFC 1123 §4.1.3.1",
    },
    Row {
        commands: &["MKD", "XMKD"],
        preliminary: &[],
        then: &[],
        at_once: &[257, 500, 501, 502, 530, 550],
        source: "RFC 959 §5.4; XMKD RFC 1123 §4.1.3.1",
    },
    // 959 gives PWD no 530; servers that require login for every command (vsftpd)
    // answer it before login, as they do SYST, HELP, NOOP, FEAT and OPTS below.
    Row {
        commands: &["PWD", "XPWD"],
        preliminary: &[],
        then: &[],
        at_once: &[257, 500, 501, 502, 550, 530],
        source: "RFC 959 §5.4; 530 before login (vsftpd)",
    },
    Row {
        commands: &["ABOR"],
        preliminary: &[],
        then: &[],
        at_once: &[225, 226, 500, 501, 502],
        source: "RFC 959 §5.4",
    },
    // Informational commands.
    Row {
        commands: &["SYST"],
        preliminary: &[],
        then: &[],
        at_once: &[215, 500, 501, 502, 530],
        source: "RFC 959 §5.4; 530 before login (vsftpd)",
    },
    Row {
        commands: &["STAT"],
        preliminary: &[],
        then: &[],
        at_once: &[211, 212, 213, 450, 500, 501, 502, 530],
        source: "RFC 959 §5.4",
    },
    Row {
        commands: &["HELP"],
        preliminary: &[],
        then: &[],
        at_once: &[211, 214, 500, 501, 502, 530],
        source: "RFC 959 §5.4; 530 before login (vsftpd)",
    },
    // Miscellaneous commands.
    Row {
        commands: &["SITE"],
        preliminary: &[],
        then: &[],
        at_once: &[200, 202, 214, 500, 501, 502, 530],
        source: "RFC 959 §5.4 (214 for SITE HELP, 502 unimplemented, as servers answer)",
    },
    Row {
        commands: &["NOOP"],
        preliminary: &[],
        then: &[],
        at_once: &[200, 500, 530],
        source: "RFC 959 §5.4; 530 before login (vsftpd)",
    },
    // Extensions.
    Row {
        commands: &["FEAT"],
        preliminary: &[],
        then: &[],
        at_once: &[211, 500, 502, 530],
        source: "RFC 2389 §3.2; 530 before login (vsftpd)",
    },
    Row {
        commands: &["OPTS"],
        preliminary: &[],
        then: &[],
        at_once: &[200, 451, 500, 501, 502, 530],
        source: "RFC 2389 §4; 530 before login (vsftpd)",
    },
    Row {
        commands: &["AUTH"],
        preliminary: &[],
        then: &[],
        at_once: &[234, 334, 431, 500, 501, 502, 504, 530, 534],
        source: "RFC 2228 §4",
    },
];

/// The row for `keyword` (upper-cased), when the table has one.
pub fn row(keyword: &str) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.commands.contains(&keyword))
}

/// The stage of an exchange a reply arrives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// No reply yet.
    First,
    /// After a preliminary (1yz) reply.
    AfterPreliminary,
}

impl Row {
    /// May `code` come at `stage`?
    pub fn allows(&self, stage: Stage, code: u16) -> bool {
        if ANY_TIME.contains(&code) {
            return true;
        }
        match stage {
            Stage::First => self.preliminary.contains(&code) || self.at_once.contains(&code),
            Stage::AfterPreliminary => self.then.contains(&code),
        }
    }

    /// The codes allowed at `stage`, for messages: `226, 250, 425, 426, 451 or 421`.
    pub fn describe(&self, stage: Stage) -> String {
        let mut codes: Vec<u16> = match stage {
            Stage::First => self.preliminary.iter().chain(self.at_once).copied().collect(),
            Stage::AfterPreliminary => self.then.to_vec(),
        };
        codes.extend(ANY_TIME);
        let mut list: Vec<String> = codes.iter().map(u16::to_string).collect();
        match list.len() {
            0 => String::new(),
            1 => list.remove(0),
            _ => {
                let last = list.pop().unwrap_or_default();
                format!("{} or {last}", list.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::collections::HashSet;

    #[test]
    fn every_command_has_at_most_one_row_and_a_source() {
        let mut seen = HashSet::new();
        for r in TABLE {
            assert!(!r.source.is_empty());
            for c in r.commands {
                assert!(seen.insert(*c), "{c} is in two rows");
                assert!(super::super::command::is_known(c), "{c} unknown to the parser");
            }
        }
    }

    #[test]
    fn every_code_in_the_table_is_a_valid_reply_code() {
        for r in TABLE.iter().chain([&GREETING]) {
            for code in r.preliminary.iter().chain(r.then).chain(r.at_once) {
                assert!((100..600).contains(code) && code / 10 % 10 <= 5, "{code}");
            }
            assert!(r.preliminary.iter().all(|c| c / 100 == 1));
            assert!(r.at_once.iter().all(|c| c / 100 != 1));
        }
    }

    /// RULES.md's table, copied: a row that loses a code fails here.
    #[rstest]
    #[case::user("USER", &[230, 530, 500, 501, 421, 331, 332])]
    #[case::pass("PASS", &[230, 202, 530, 500, 501, 503, 421, 332])]
    #[case::type_("TYPE", &[200, 500, 501, 504, 421, 530])]
    #[case::port("PORT", &[200, 500, 501, 421, 530, 504])]
    #[case::pasv("PASV", &[227, 500, 501, 502, 421, 530])]
    #[case::list("LIST", &[125, 150, 450, 550, 500, 501, 502, 421, 530])]
    #[case::nlst("NLST", &[125, 150, 450, 500, 501, 502, 421, 530])]
    #[case::retr("RETR", &[125, 150, 450, 550, 500, 501, 421, 530])]
    #[case::stor("STOR", &[125, 150, 532, 450, 452, 553, 550, 500, 501, 421, 530])]
    #[case::cwd("CWD", &[250, 500, 501, 502, 421, 530, 550])]
    #[case::pwd("PWD", &[257, 500, 501, 502, 421, 550])]
    #[case::syst("SYST", &[215, 500, 501, 502, 421])]
    #[case::noop("NOOP", &[200, 500, 421])]
    #[case::quit("QUIT", &[221, 500])]
    fn rules_md_codes_are_allowed_at_once(#[case] command: &str, #[case] codes: &[u16]) {
        let r = row(command).unwrap();
        for code in codes {
            assert!(r.allows(Stage::First, *code), "{command} {code}");
        }
    }

    #[rstest]
    #[case::list("LIST", &[226, 250, 425, 426, 451])]
    #[case::retr("RETR", &[110, 226, 250, 425, 426, 451])]
    #[case::stor("STOR", &[110, 226, 250, 425, 426, 451, 551, 552])]
    fn transfers_end_with_the_codes_rules_md_lists(#[case] command: &str, #[case] codes: &[u16]) {
        let r = row(command).unwrap();
        for code in codes {
            assert!(r.allows(Stage::AfterPreliminary, *code), "{command} {code}");
        }
        assert!(!r.allows(Stage::AfterPreliminary, 150), "a second 150");
    }

    #[rstest]
    #[case::user_200("USER", Stage::First, 200)]
    #[case::list_226_at_once("LIST", Stage::First, 226)]
    #[case::list_425_at_once("LIST", Stage::First, 425)]
    #[case::retr_550_after_150("RETR", Stage::AfterPreliminary, 550)]
    #[case::quit_421_is_fine_but_not_200("QUIT", Stage::First, 200)]
    #[case::stor_551_at_once("STOR", Stage::First, 551)]
    #[case::pwd_250("PWD", Stage::First, 250)]
    fn codes_959_does_not_list_are_refused(#[case] command: &str, #[case] stage: Stage, #[case] code: u16) {
        assert!(!row(command).unwrap().allows(stage, code));
    }

    #[test]
    fn the_greeting_is_120_then_220_or_220_or_421() {
        assert!(GREETING.allows(Stage::First, 120));
        assert!(GREETING.allows(Stage::First, 220));
        assert!(GREETING.allows(Stage::First, 421));
        assert!(GREETING.allows(Stage::AfterPreliminary, 220));
        assert!(!GREETING.allows(Stage::First, 230));
        assert!(!GREETING.allows(Stage::AfterPreliminary, 120));
    }

    #[test]
    fn synonyms_share_their_row() {
        assert_eq!(row("XPWD"), row("PWD"));
        assert_eq!(row("XCUP"), row("CDUP"));
        assert!(row("FROB").is_none());
    }

    #[test]
    fn allowed_codes_read_as_a_list() {
        assert_eq!(
            row("LIST").unwrap().describe(Stage::AfterPreliminary),
            "226, 250, 425, 426, 451 or 421"
        );
        assert_eq!(row("QUIT").unwrap().describe(Stage::First), "221, 500 or 421");
    }
}
