//! The inspector as the engine drives it: conversations fed message by message, each
//! F-* rule judged from bytes with one violating and one conforming case, framing that
//! does not depend on how bytes were split, and parsers that never panic.

use std::collections::BTreeSet;

use rstest::rstest;

use super::*;
use crate::rules::Severity;

/// Feeds a conversation: `C:` a command (to the server), `S:` a reply (to the client),
/// `D:` bytes on the data connection (to the client). Lines get CRLF unless they end in
/// `\n` already. Returns the findings, in order.
fn converse(script: &[&str]) -> (FtpInspector, Vec<Finding>) {
    let mut ins = FtpInspector::new();
    ins.target("127.0.0.1", 21);
    let mut findings = Vec::new();
    for line in script {
        let (who, text) = line.split_at(2);
        let bytes = if text.ends_with('\n') || who == "D:" {
            text.as_bytes().to_vec()
        } else {
            format!("{text}\r\n").into_bytes()
        };
        let (dir, conn) = match who {
            "C:" => (Dir::ToServer, MAIN),
            "S:" => (Dir::ToClient, MAIN),
            "D:" => (Dir::ToClient, "data"),
            _ => panic!("{line}"),
        };
        ins.inspect(dir, conn, &bytes, &mut findings);
    }
    (ins, findings)
}

fn rules(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule.as_str()).collect()
}

const LOGIN: &[&str] = &[
    "S:220 ready",
    "C:USER anonymous",
    "S:331 password",
    "C:PASS guest",
    "S:230 in",
];

fn after_login(rest: &[&'static str]) -> Vec<&'static str> {
    LOGIN.iter().chain(rest).copied().collect()
}

/// Each rule judged from bytes: a conversation that breaks it (the rule fires, and only
/// it) and one that does not (nothing fires).
#[rstest]
#[case::f_rpl_1("F-RPL-1", &["S:22 ready"], &["S:220 ready"])]
#[case::f_rpl_1_no_space("F-RPL-1", &["S:220ready"], &["S:220 ready"])]
#[case::f_rpl_3("F-RPL-3", &["S:620 ready"], &["S:220 ready"])]
#[case::f_rpl_4("F-RPL-4", &["S:220 ready", "C:USER a", "S:200 ok"], &["S:220 ready", "C:USER a", "S:331 pw"])]
#[case::f_rpl_4_greeting("F-RPL-4", &["S:230 ready"], &["S:120 soon", "S:220 ready"])]
#[case::f_rpl_5("F-RPL-5", &["S:220 ready\n"], &["S:220 ready\r\n"])]
#[case::f_cmd_1("F-CMD-1", &["S:220 ready", "C:USER a\n"], &["S:220 ready", "C:USER a"])]
#[case::f_cmd_1_two_spaces("F-CMD-1", &["S:220 ready", "C:USER  a"], &["S:220 ready", "C:user a"])]
#[case::f_cmd_3("F-CMD-3", &["S:220 ready", "C:PORT 127,0,0,1,39851"], &["S:220 ready", "C:PORT 127,0,0,1,155,171"])]
#[case::f_cmd_4("F-CMD-4", &["S:220 ready", "C:TYPE B"], &["S:220 ready", "C:TYPE L 8"])]
#[case::f_seq_1("F-SEQ-1", &["S:120 in a minute", "C:USER a"], &["S:120 in a minute", "S:220 ready", "C:USER a"])]
#[case::f_seq_2_client("F-SEQ-2", &["S:220 ready", "C:PASS x"], &["S:220 ready", "C:USER a", "S:331 pw", "C:PASS x"])]
#[case::f_seq_3_client("F-SEQ-3", &["S:220 ready", "C:PASV", "S:227 (127,0,0,1,1,2)", "C:NLST"], &after_login(&["C:PASV", "S:227 (127,0,0,1,1,2)", "C:NLST"]))]
#[case::f_seq_4("F-SEQ-4", &after_login(&["C:RETR f"]), &after_login(&["C:PORT 127,0,0,1,4,1", "S:200 ok", "C:RETR f"]))]
#[case::f_data_6("F-DATA-6", &after_login(&["C:PASV", "S:227 Entering Passive Mode"]), &after_login(&["C:PASV", "S:227 =127,0,0,1,4,1"]))]
#[case::f_data_7("F-DATA-7", &after_login(&["C:PASV", "S:227 (127,0,0,1,4,1)", "C:LIST", "S:150 here", "D:a\nb\n"]), &after_login(&["C:PASV", "S:227 (127,0,0,1,4,1)", "C:LIST", "S:150 here", "D:a\r\nb\r\n"]))]
#[case::f_type_1("F-TYPE-1", &after_login(&["C:TYPE I", "S:504 no binary here"]), &after_login(&["C:TYPE I", "S:200 ok"]))]
#[case::f_1123_4("F-1123-4", &after_login(&["C:HELP", "S:502 not implemented"]), &after_login(&["C:HELP", "S:214 help"]))]
#[case::f_1123_4_param("F-1123-4", &after_login(&["C:TYPE L 8", "S:504 no"]), &after_login(&["C:TYPE L 8", "S:200 ok"]))]
#[case::f_sec_4("F-SEC-4", &["S:220 ready", "C:USER root", "S:331 pw", "C:USER parley-nobody", "S:530 no such user"], &["S:220 ready", "C:USER root", "S:331 pw", "C:USER parley-nobody", "S:331 pw"])]
#[case::f_sec_5("F-SEC-5", &after_login(&["C:PASV", "S:227 (127,0,0,1,200,10)", "C:PASV", "S:227 (127,0,0,1,200,11)"]), &after_login(&["C:PASV", "S:227 (127,0,0,1,200,10)", "C:PASV", "S:227 (127,0,0,1,14,29)"]))]
#[case::f_sec_5_epsv("F-SEC-5", &after_login(&["C:EPSV", "S:229 (|||40000|)", "C:EPSV", "S:229 (|||40001|)"]), &after_login(&["C:EPSV", "S:229 (|||40000|)", "C:EPSV", "S:229 (|||40000|)"]))]
#[case::f_sec_8("F-SEC-8", &after_login(&["C:PASV", "S:227 (10,0,0,5,200,10)"]), &after_login(&["C:PASV", "S:227 (0,0,0,0,200,10)"]))]
fn each_byte_rule_fires_on_its_violation_and_not_on_conforming_bytes(
    #[case] rule: &str,
    #[case] violating: &[&str],
    #[case] conforming: &[&str],
) {
    let (_, bad) = converse(violating);
    assert_eq!(rules(&bad), [rule], "{violating:?}: {bad:#?}");
    let (_, good) = converse(conforming);
    assert!(good.is_empty(), "{conforming:?}: {good:#?}");
}

#[test]
fn server_side_sequence_rules_judge_the_replies() {
    // F-SEQ-2: PASS without USER accepted. The client's PASS breaks it too.
    let (_, f) = converse(&["S:220 ready", "C:PASS x", "S:230 in"]);
    assert_eq!(rules(&f), ["F-SEQ-2", "F-SEQ-2"]);
    assert!(f[1].message.starts_with("the server accepted PASS"));
    // F-SEQ-3: a transfer started before login. The client's NLST breaks it too.
    let (_, f) = converse(&[
        "S:220 ready",
        "C:PASV",
        "S:227 (127,0,0,1,1,2)",
        "C:NLST",
        "S:150 here",
    ]);
    assert_eq!(rules(&f), ["F-SEQ-3", "F-SEQ-3"]);
    assert!(f[1].message.starts_with("the server started NLST (150)"));
}

#[test]
fn one_garbled_reply_does_not_shift_the_replies_after_it() {
    let (_, f) = converse(&["S:22 ready", "C:USER a", "S:331 pw", "C:PASS x", "S:230 in"]);
    assert_eq!(rules(&f), ["F-RPL-1"], "{f:#?}");
}

#[test]
fn severities_come_from_the_catalogue() {
    let (_, f) = converse(&["S:220 ready\n"]);
    assert_eq!(f[0].severity, Severity::Warning);
    let (_, f) = converse(&after_login(&["C:TYPE I", "S:504 no"]));
    assert_eq!(f[0].severity, Severity::Note);
    let (_, f) = converse(&["S:22 ready"]);
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(f[0].actual.as_deref(), Some("22 ready\\r\\n"));
}

#[test]
fn a_real_server_session_is_clean() {
    // vsftpd's and pyftpdlib's answers, including a multi-line FEAT and 125.
    let (_, f) = converse(&[
        "S:220 (vsFTPd 3.0.3)",
        "C:FEAT",
        "S:211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n",
        "C:USER anonymous",
        "S:331 Please specify the password.",
        "C:PASS guest@example.com",
        "S:230 Login successful.",
        "C:TYPE I",
        "S:200 Switching to Binary mode.",
        "C:PASV",
        "S:227 Entering passive mode (127,0,0,1,156,64).",
        "C:LIST",
        "S:125 Data connection already open. Transfer starting.",
        "D:-rw-r--r-- 1 ftp ftp 265 Jan 01 2024 readme.txt\r\n",
        "S:226 Transfer complete.",
        "C:PORT 127,0,0,1,155,171",
        "S:200 PORT command successful. Consider using PASV.",
        "C:LIST",
        "S:150 Here comes the directory listing.",
        "S:226 Directory send OK.",
        "C:CDUP",
        "S:250 Directory successfully changed.",
        "C:QUIT",
        "S:221 Goodbye.",
    ]);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn views_carry_code_command_argument_and_variables() {
    let mut ins = FtpInspector::new();
    ins.target("127.0.0.1", 21);
    let mut f = Vec::new();
    let v = ins.inspect(Dir::ToClient, MAIN, b"220 hi\r\n", &mut f);
    assert_eq!(v.code, Some(220));
    let v = ins.inspect(Dir::ToServer, MAIN, b"port 127,0,0,1,155,171\r\n", &mut f);
    assert_eq!(v.command.as_deref(), Some("PORT"));
    assert_eq!(v.path.as_deref(), Some("127,0,0,1,155,171"));
    assert_eq!(
        v.vars,
        [
            ("port.host".to_string(), "127.0.0.1".to_string()),
            ("port.port".to_string(), "39851".to_string()),
            ("port.addr".to_string(), "127.0.0.1:39851".to_string()),
        ]
    );
    let v = ins.inspect(
        Dir::ToClient,
        MAIN,
        b"227 Entering Passive Mode (127,0,0,1,4,1).\r\n",
        &mut f,
    );
    assert_eq!(v.vars[2], ("pasv.addr".to_string(), "127.0.0.1:1025".to_string()));
    let v = ins.inspect(
        Dir::ToClient,
        MAIN,
        b"227 Entering Passive Mode (0,0,0,0,4,1).\r\n",
        &mut f,
    );
    assert_eq!(
        v.vars[2],
        ("pasv.addr".to_string(), "127.0.0.1:1025".to_string()),
        "0.0.0.0 means the server's own address"
    );
    ins.inspect(Dir::ToServer, MAIN, b"EPSV\r\n", &mut f);
    let v = ins.inspect(
        Dir::ToClient,
        MAIN,
        b"229 Entering Extended Passive Mode (|||6446|)\r\n",
        &mut f,
    );
    assert_eq!(v.vars[2], ("pasv.addr".to_string(), "127.0.0.1:6446".to_string()));
    ins.inspect(Dir::ToServer, MAIN, b"EPRT |1|127.0.0.1|7000|\r\n", &mut f);
    let v = ins.inspect(Dir::ToServer, MAIN, b"LIST\r\n", &mut f);
    assert_eq!((v.command.as_deref(), v.path.as_deref()), (Some("LIST"), None));
    assert!(f.iter().all(|x| x.rule != "F-SEQ-4"), "{f:#?}");
}

#[test]
fn a_229_without_its_port_breaks_f_2428_2() {
    let mut ins = FtpInspector::new();
    ins.target("127.0.0.1", 21);
    let mut f = Vec::new();
    for (dir, msg) in [
        (Dir::ToClient, b"220 hi\r\n".as_slice()),
        (Dir::ToServer, b"USER a\r\n"),
        (Dir::ToClient, b"230 ok\r\n"),
        (Dir::ToServer, b"EPSV\r\n"),
    ] {
        ins.inspect(dir, MAIN, msg, &mut f);
    }
    let v = ins.inspect(
        Dir::ToClient,
        MAIN,
        b"229 Entering Extended Passive Mode (6446)\r\n",
        &mut f,
    );
    assert_eq!(rules(&f), ["F-2428-2"]);
    assert!(v.vars.is_empty(), "no address can be read");
}

/// Replies and commands that each framing must cut the same way however they arrive.
const REPLIES: &[&[u8]] = &[
    b"220 parley FTP server ready.\r\n",
    b"220-parley FTP server ready.\r\n220-Second line of the banner.\r\n220 parley FTP server ready.\r\n",
    b"211-Features:\r\n EPRT\r\n211-not yet\r\n211\r\n 230 no\r\n211 End\r\n",
    b"227 Entering Passive Mode (127,0,0,1,155,171).\r\n",
    b"22 two digits\r\n",
    b"620 bad digits\r\n",
    b"220 bare\n",
    b"214-a\n214 b\n",
];

#[test]
fn feeding_each_reply_byte_by_byte_gives_the_same_frame_and_findings_as_all_at_once() {
    for reply in REPLIES {
        let mut data = reply.to_vec();
        data.extend_from_slice(b"200 next\r\n");
        let mut whole_ins = FtpInspector::new();
        let whole = whole_ins.frame(Dir::ToClient, MAIN, &data, false);
        assert_eq!(
            whole,
            Frame::Complete(reply.len()),
            "{}",
            String::from_utf8_lossy(reply)
        );
        let mut grown_ins = FtpInspector::new();
        let first = (1..=data.len())
            .map(|n| grown_ins.frame(Dir::ToClient, MAIN, &data[..n], false))
            .find(|f| *f != Frame::Partial)
            .unwrap();
        assert_eq!(first, whole);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let va = whole_ins.inspect(Dir::ToClient, MAIN, reply, &mut a);
        let vb = grown_ins.inspect(Dir::ToClient, MAIN, reply, &mut b);
        assert_eq!((va, a), (vb, b));
    }
}

#[test]
fn a_command_is_one_line_however_it_arrives() {
    let data = b"USER anonymous\r\nPASS x\r\n";
    let ins = FtpInspector::new();
    for n in 1..16 {
        assert_eq!(ins.frame(Dir::ToServer, MAIN, &data[..n], false), Frame::Partial);
    }
    assert_eq!(
        ins.frame(Dir::ToServer, MAIN, &data[..16], false),
        Frame::Complete(16)
    );
    assert_eq!(ins.frame(Dir::ToServer, MAIN, data, false), Frame::Complete(16));
    // Data connections end when the sender closes.
    assert_eq!(ins.frame(Dir::ToClient, "data", b"abc", false), Frame::Partial);
    assert_eq!(ins.frame(Dir::ToClient, "data", b"abc", true), Frame::Complete(3));
}

#[test]
fn an_unfinished_reply_stays_unfinished_at_end_of_file() {
    let ins = FtpInspector::new();
    assert_eq!(ins.frame(Dir::ToClient, MAIN, b"220 hal", true), Frame::Partial);
    assert_eq!(ins.frame(Dir::ToClient, MAIN, b"211-a\r\n", true), Frame::Partial);
}

#[test]
fn a_multiline_reply_that_never_ends_breaks_f_rpl_2_and_says_what_it_waited_for() {
    let ins = FtpInspector::new();
    let (rule, why) = ins
        .incomplete(Dir::ToClient, MAIN, b"211-Features:\r\n PASV\r\n211\r\n")
        .unwrap();
    assert_eq!(rule, "F-RPL-2");
    assert_eq!(
        why,
        "the multi-line 211 reply never ended: parley waited for a line that starts with `211 ` \
         (the code and a space, RFC 959 §4.2), and 3 lines came; a line `211` without the space does not end it"
    );
}

#[test]
fn a_reply_line_without_crlf_breaks_f_rpl_1_and_a_command_f_cmd_1() {
    let ins = FtpInspector::new();
    assert_eq!(
        ins.incomplete(Dir::ToClient, MAIN, b"220 parley").unwrap().0,
        "F-RPL-1"
    );
    assert_eq!(
        ins.incomplete(Dir::ToServer, MAIN, b"USER a").unwrap().0,
        "F-CMD-1"
    );
    assert_eq!(ins.incomplete(Dir::ToClient, "data", b"x").unwrap().0, "S-EXPECT");
}

#[test]
fn a_226_while_the_data_connection_carried_nothing_breaks_f_data_5() {
    let ins = FtpInspector::new();
    let (rule, why) = ins
        .stalled_beside(Dir::ToClient, "data", b"", b"226 Transfer complete.\r\n")
        .unwrap();
    assert_eq!(rule, "F-DATA-5");
    assert!(why.starts_with("the server sent `226 Transfer complete.\\r\\n` on the control connection while `data` was still open"), "{why}");
    // Not when data came, not for other replies, not for main.
    assert!(
        ins.stalled_beside(Dir::ToClient, "data", b"x", b"226 ok\r\n")
            .is_none()
    );
    assert!(
        ins.stalled_beside(Dir::ToClient, "data", b"", b"150 ok\r\n")
            .is_none()
    );
    assert!(
        ins.stalled_beside(Dir::ToClient, "data", b"", b"226 unfinished")
            .is_none()
    );
    assert!(
        ins.stalled_beside(Dir::ToClient, MAIN, b"", b"226 ok\r\n")
            .is_none()
    );
}

/// `premature`: the inspector has seen parley's reply (inspected before it is written)
/// and the client's command arrived before the reply's last piece.
#[rstest]
#[case::command_before_the_greeting(&[], b"220 ready\r\n".as_slice(), false, "F-SEQ-1")]
#[case::split_multiline_greeting(&[], b"220-a\r\n220-b\r\n220 c\r\n", true, "F-RPL-2")]
#[case::split_greeting(&[], b"220 ready\r\n", true, "F-1123-2")]
#[case::split_multiline_reply(&["S:220 hi", "C:FEAT"], b"211-a\r\n211 b\r\n", true, "F-RPL-2")]
#[case::split_reply(&["S:220 hi", "C:USER a"], b"331 pw\r\n", true, "F-1123-2")]
#[case::before_226(&["S:220 hi", "C:USER a", "S:230 in", "C:PASV", "S:227 (1,2,3,4,5,6)", "C:LIST", "S:150 x"], b"226 done\r\n", false, "F-DATA-4")]
#[case::pipelining(&["S:220 hi", "C:USER a"], b"331 pw\r\n", false, "F-CMD-2")]
fn a_command_before_the_reply_was_sent_names_the_rule_of_the_reply_it_skipped(
    #[case] before: &[&str],
    #[case] answering: &[u8],
    #[case] split: bool,
    #[case] rule: &str,
) {
    let (mut ins, _) = converse(before);
    ins.inspect(Dir::ToClient, MAIN, answering, &mut Vec::new());
    let (got, why) = ins
        .premature(Dir::ToServer, MAIN, b"QUIT\r\n", answering, split)
        .unwrap();
    assert_eq!(got, rule, "{why}");
    assert!(
        why.starts_with("the client sent \"QUIT\\r\\n\" before parley had finished sending"),
        "{why}"
    );
}

#[test]
fn closing_while_parley_writes_names_what_was_being_written() {
    let (mut ins, _) = converse(&["S:220 hi"]);
    assert_eq!(
        ins.closed_while_sending(Dir::ToClient, MAIN).map(|r| r.as_str()),
        Some("F-1123-2")
    );
    ins.inspect(Dir::ToClient, MAIN, b"230-a\r\n230 b\r\n", &mut Vec::new());
    assert_eq!(
        ins.closed_while_sending(Dir::ToClient, MAIN).map(|r| r.as_str()),
        Some("F-RPL-2")
    );
    assert_eq!(
        ins.closed_while_sending(Dir::ToClient, "data")
            .map(|r| r.as_str()),
        Some("F-DATA-3")
    );
    assert_eq!(ins.closed_while_sending(Dir::ToServer, MAIN), None);
}

#[test]
fn a_port_the_client_does_not_listen_on_breaks_f_data_1_with_the_arithmetic() {
    let (ins, _) = converse(&after_login(&["C:PORT 127,0,0,1,171,171"]));
    let listening = BTreeSet::from([39851]);
    let f = ins
        .open_failed("data", "127.0.0.1:43947", Some(&listening))
        .unwrap();
    assert_eq!(f.rule, "F-DATA-1");
    assert_eq!(
        f.message,
        "PORT 127,0,0,1,171,171 announces port 43947 (171×256+171); your program is listening on 39851, which is 155,171"
    );
    assert_eq!(f.reply, b"425 Can't open data connection.\r\n");
    let f = ins.open_failed("data", "127.0.0.1:43947", None).unwrap();
    assert_eq!(
        f.message,
        "PORT 127,0,0,1,171,171 announces port 43947 (171×256+171); nothing accepted a connection there"
    );
    let f = ins
        .open_failed("data", "127.0.0.1:43947", Some(&BTreeSet::new()))
        .unwrap();
    assert!(f.message.ends_with("your program is not listening on any port: call listen() on the data socket before sending the command"));
    assert!(ins.open_failed(MAIN, "127.0.0.1:21", None).is_none());
}

#[test]
fn a_client_that_listened_late_breaks_f_data_2() {
    let ins = FtpInspector::new();
    assert_eq!(ins.opened_late("data").map(|r| r.as_str()), Some("F-DATA-2"));
    assert_eq!(ins.opened_late(MAIN), None);
}

#[test]
fn a_preliminary_reply_may_go_out_while_parley_retries_the_data_connection() {
    let ins = FtpInspector::new();
    assert!(ins.send_before_retry("data", b"150 Here comes the directory listing.\r\n"));
    assert!(ins.send_before_retry("data", b"125 Open.\r\n"));
    assert!(!ins.send_before_retry("data", b"226 Done.\r\n"));
    assert!(!ins.send_before_retry(MAIN, b"150 x\r\n"));
}

#[rstest]
#[case::same_code(b"220 parley\r\n".as_slice(), b"220 (vsFTPd 3.0.3)\r\n".as_slice(), true)]
#[case::other_code(b"230 in\r\n", b"331 pw\r\n", false)]
#[case::multiline(b"211 x\r\n", b"211-a\r\n211 b\r\n", true)]
fn a_reply_literal_matches_by_code(#[case] expected: &[u8], #[case] msg: &[u8], #[case] ok: bool) {
    let mut ins = FtpInspector::new();
    let view = ins.inspect(Dir::ToClient, MAIN, msg, &mut Vec::new());
    assert_eq!(
        ins.literal_matches(Dir::ToClient, expected, msg, &view).is_ok(),
        ok
    );
}

#[rstest]
#[case::same(b"USER anonymous\r\n".as_slice(), b"USER anonymous\r\n".as_slice(), true)]
#[case::keyword_case(b"USER anonymous\r\n", b"user anonymous\r\n", true)]
#[case::argument_differs(b"USER anonymous\r\n", b"USER ftp\r\n", false)]
#[case::type_case(b"TYPE I\r\n", b"type i\r\n", true)]
#[case::list_with_argument(b"LIST\r\n", b"LIST -a\r\n", false)]
#[case::other_command(b"LIST\r\n", b"NLST\r\n", false)]
fn a_command_literal_matches_by_keyword_and_argument(
    #[case] expected: &[u8],
    #[case] msg: &[u8],
    #[case] ok: bool,
) {
    let mut ins = FtpInspector::new();
    let view = ins.inspect(Dir::ToServer, MAIN, msg, &mut Vec::new());
    let got = ins.literal_matches(Dir::ToServer, expected, msg, &view);
    assert_eq!(got.is_ok(), ok, "{got:?}");
}

#[test]
fn data_literals_match_byte_for_byte() {
    let mut ins = FtpInspector::new();
    let view = ins.inspect(
        Dir::ToClient,
        "data",
        b"220 looks like a reply\r\n",
        &mut Vec::new(),
    );
    assert!(
        ins.literal_matches(
            Dir::ToClient,
            b"220 other\r\n",
            b"220 looks like a reply\r\n",
            &view
        )
        .is_err()
    );
    assert!(
        ins.literal_matches(
            Dir::ToClient,
            b"220 looks like a reply\r\n",
            b"220 looks like a reply\r\n",
            &view
        )
        .is_ok()
    );
}

#[test]
fn a_mismatched_reply_literal_says_which_code_came() {
    let mut ins = FtpInspector::new();
    let view = ins.inspect(Dir::ToClient, MAIN, b"530 no\r\n", &mut Vec::new());
    let m = ins
        .literal_matches(Dir::ToClient, b"230 in\r\n", b"530 no\r\n", &view)
        .unwrap_err();
    assert_eq!(m.message, "reply code 530 arrived where 230 was expected");
}

#[test]
fn multiline_is_the_greeting_fault() {
    let ins = FtpInspector::new();
    assert_eq!(
        ins.multiline(b"220 parley FTP server ready.\r\n").unwrap(),
        b"220-parley FTP server ready.\r\n220-Second line of the banner.\r\n220 parley FTP server ready.\r\n"
    );
}

/// xorshift64*: deterministic pseudo-random bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn parsers_never_panic_on_arbitrary_bytes() {
    // Mostly the bytes FTP grammar turns on, some anything.
    const ALPHABET: &[u8] = b"0123456789 -,|()\r\n\r\nAIL2PORTUSEPASV\xff\x00\xc3";
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let len = (rng.next() % 48) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = rng.next();
                if r % 8 == 0 {
                    (r >> 8) as u8
                } else {
                    ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                }
            })
            .collect();
        let mut ins = FtpInspector::new();
        ins.target("::1", 21);
        let mut f = Vec::new();
        for dir in [Dir::ToClient, Dir::ToServer] {
            for conn in [MAIN, "data"] {
                for eof in [false, true] {
                    if let Frame::Complete(n) = ins.frame(dir, conn, &bytes, eof) {
                        assert!(n <= bytes.len());
                    }
                }
                let view = ins.inspect(dir, conn, &bytes, &mut f);
                let _ = ins.literal_matches(dir, &bytes, b"x", &view);
                let _ = ins.incomplete(dir, conn, &bytes);
                let _ = ins.premature(dir, conn, &bytes, &bytes, true);
                let _ = ins.stalled_beside(dir, conn, b"", &bytes);
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = addr::parse_port_args(&text);
        let _ = addr::find_pasv_numbers(&text);
        let _ = addr::find_epsv_port(&text);
        let _ = addr::parse_eprt(&text);
        let _ = command::parse_type(&text);
        let _ = reply::multiline_form(&bytes);
        let _ = ins.open_failed("data", &text, Some(&BTreeSet::from([1, 2])));
    }
}

#[test]
fn a_227_naming_another_host_is_not_followed_there_f_sec_8() {
    let mut ins = FtpInspector::new();
    ins.target("127.0.0.1", 21);
    let mut f = Vec::new();
    for (dir, msg) in [
        (Dir::ToClient, b"220 hi\r\n".as_slice()),
        (Dir::ToServer, b"USER a\r\n"),
        (Dir::ToClient, b"230 ok\r\n"),
        (Dir::ToServer, b"PASV\r\n"),
    ] {
        ins.inspect(dir, MAIN, msg, &mut f);
    }
    let v = ins.inspect(
        Dir::ToClient,
        MAIN,
        b"227 Entering Passive Mode (10,9,8,7,4,1).\r\n",
        &mut f,
    );
    assert_eq!(rules(&f), ["F-SEC-8"]);
    assert_eq!(f[0].severity, crate::rules::Severity::Warning);
    assert_eq!(
        v.vars[2],
        ("pasv.addr".to_string(), "127.0.0.1:1025".to_string()),
        "dialled at the server's own host"
    );
}

/// F-SEC-7 as a server sees it: a PORT or EPRT naming another host or a privileged port is
/// refused with 504 and never connected to; the client's own host above 1023 is accepted.
#[rstest]
#[case::privileged_port("PORT 127,0,0,1,0,22\r\n", Some("names port 22, a privileged port"))]
#[case::privileged_eprt("EPRT |1|127.0.0.1|25|\r\n", Some("names port 25, a privileged port"))]
#[case::other_host("PORT 127,0,0,2,4,0\r\n", Some("names the host 127.0.0.2"))]
#[case::own_host_high_port("PORT 127,0,0,1,4,0\r\n", None)]
#[case::eprt_own_host("EPRT |1|127.0.0.1|1024|\r\n", None)]
#[case::not_a_data_command("LIST\r\n", None)]
fn a_data_address_parley_will_not_connect_to_is_refused(#[case] msg: &str, #[case] why: Option<&str>) {
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let refusal = FtpInspector::new().refuse_data_address(msg.as_bytes(), peer);
    match (why, refusal) {
        (None, None) => {}
        (Some(why), Some(r)) => {
            assert_eq!(r.rule, rules::F_SEC_7);
            assert!(r.message.contains(why), "{}", r.message);
            assert!(r.reply.starts_with(b"504 "), "{:?}", r.reply);
        }
        (why, r) => panic!("{msg:?}: expected {why:?}, got {:?}", r.map(|r| r.message)),
    }
}
