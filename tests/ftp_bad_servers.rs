//! The bundled FTP scenarios against servers that break the protocol on purpose: a reply
//! with a two-digit code, a multi-line reply that never ends, a 226 before the data
//! connection carried anything, a data connection that stalls, garbage on the data
//! connection, a control connection closed mid-reply, a 227 without its numbers, bare-LF
//! replies. Each ends within its step deadline with the exact rule id — never a panic or
//! a hang. The fake servers answer events; nothing here sleeps.

use std::net::SocketAddr;
use std::time::Duration;

use parley::outcome::{Outcome, Status, Summary};
use parley::rules::Severity;
use parley_mock::MockServer;
use parley_tests::{against, bundled, describe, quick, rules, serve_once};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The step deadline of the plays that time a step out on purpose.
const STEP: Duration = Duration::from_millis(400);

/// The step deadline of the plays that must end at an event (a close, a reply), not at a
/// deadline: so long that waiting it out could not pass for "at once" on any machine.
const LONG: Duration = Duration::from_secs(60);

/// Plays bundled `name` as the client against `addr` with step deadline `step`.
async fn play_bundled(name: &str, addr: SocketAddr, step: Duration) -> Outcome {
    against(&bundled(name), addr, &quick(step)).await
}

fn message<'o>(o: &'o Outcome, rule: &str) -> &'o str {
    o.findings
        .iter()
        .find(|f| f.rule == rule)
        .map(|f| f.message.as_str())
        .unwrap_or_else(|| panic!("no {rule}:\n{}", describe(o)))
}

/// Writes `first`, then waits until parley closes the connection.
async fn say_then_wait(first: &'static [u8]) -> SocketAddr {
    serve_once(move |mut s| async move {
        let _ = s.write_all(first).await;
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    })
    .await
}

/// Writes `first`, then closes.
async fn say_then_close(first: &'static [u8]) -> SocketAddr {
    serve_once(move |mut s| async move {
        let _ = s.write_all(first).await;
    })
    .await
}

/// What the fake server does when a transfer command (LIST, NLST, RETR) arrives, after
/// its 150 and once parley has connected to its passive port.
#[derive(Debug, Clone, Copy)]
enum Transfer {
    /// 226 at once; the data connection stays open and silent.
    DoneBeforeData,
    /// The first line of a listing, then nothing: no close, no 226.
    Stall,
    /// These bytes, close, then 226.
    Send(&'static [u8]),
    /// These bytes, close, and no 226 ever.
    SendWithoutFinalReply(&'static [u8]),
    /// This reply at once instead of 150 (a refusal such as 550), no data connection.
    Refuse(&'static [u8]),
    /// 125, then `550 internal server error`, and the data connection stays open.
    PreliminaryThenError,
    /// (Active mode) 150, then 425 without connecting to the client's PORT address.
    CannotConnect,
}

/// A small FTP server on one control connection: `greeting`, then anyone logs in, TYPE is
/// accepted, PASV listens on loopback (announced with `pasv` text, `{}` standing for the
/// six numbers), and transfers do `transfer`. It lives until parley closes the control
/// connection.
#[derive(Debug, Clone, Copy)]
struct Fake {
    greeting: &'static [u8],
    pasv: &'static str,
    transfer: Transfer,
}

impl Default for Fake {
    fn default() -> Fake {
        Fake {
            greeting: b"220 fake FTP server ready.\r\n",
            pasv: "227 Entering Passive Mode ({}).\r\n",
            transfer: Transfer::Send(b"readme.txt\r\n"),
        }
    }
}

impl Fake {
    async fn start(self) -> SocketAddr {
        serve_once(move |stream| self.serve(stream)).await
    }

    async fn serve(self, stream: TcpStream) {
        let (read, mut control) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        if control.write_all(self.greeting).await.is_err() {
            return;
        }
        let mut passive: Option<TcpListener> = None;
        // Data connections the misbehaving transfers leave open.
        let mut held: Vec<TcpStream> = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let keyword = line.split(' ').next().unwrap_or("").trim().to_ascii_uppercase();
            let reply: Vec<u8> = match keyword.as_str() {
                "USER" => b"331 Password, please.\r\n".to_vec(),
                "PASS" => b"230 Logged in.\r\n".to_vec(),
                "TYPE" => b"200 Type set.\r\n".to_vec(),
                "NOOP" => b"200 NOOP ok.\r\n".to_vec(),
                "PORT" => b"200 PORT command successful.\r\n".to_vec(),
                "PASV" => {
                    let Ok(l) = TcpListener::bind("127.0.0.1:0").await else {
                        return;
                    };
                    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
                    passive = Some(l);
                    let numbers = format!("127,0,0,1,{},{}", port >> 8, port & 0xff);
                    self.pasv.replace("{}", &numbers).into_bytes()
                }
                "LIST" | "NLST" | "RETR" if matches!(self.transfer, Transfer::Refuse(_)) => {
                    let Transfer::Refuse(reply) = self.transfer else {
                        unreachable!()
                    };
                    reply.to_vec()
                }
                "LIST" | "NLST" | "RETR" if matches!(self.transfer, Transfer::CannotConnect) => {
                    if control.write_all(b"150 Here it comes.\r\n").await.is_err() {
                        return;
                    }
                    b"425 Can't open data connection.\r\n".to_vec()
                }
                "LIST" | "NLST" | "RETR" => {
                    let Some(l) = passive.take() else {
                        let _ = control.write_all(b"425 Use PASV first.\r\n").await;
                        continue;
                    };
                    let preliminary: &[u8] = if matches!(self.transfer, Transfer::PreliminaryThenError) {
                        b"125 Data connection already open.\r\n"
                    } else {
                        b"150 Here it comes.\r\n"
                    };
                    if control.write_all(preliminary).await.is_err() {
                        return;
                    }
                    let Ok((mut data, _)) = l.accept().await else {
                        return;
                    };
                    match self.transfer {
                        Transfer::DoneBeforeData => {
                            held.push(data);
                            b"226 Transfer complete.\r\n".to_vec()
                        }
                        Transfer::Stall => {
                            let _ = data
                                .write_all(
                                    b"-rw-r--r--    1 ftp      ftp           265 Jan 01  2024 readme.txt\r\n",
                                )
                                .await;
                            held.push(data);
                            continue;
                        }
                        Transfer::Send(bytes) => {
                            let _ = data.write_all(bytes).await;
                            drop(data);
                            b"226 Transfer complete.\r\n".to_vec()
                        }
                        Transfer::SendWithoutFinalReply(bytes) => {
                            let _ = data.write_all(bytes).await;
                            drop(data);
                            continue;
                        }
                        Transfer::PreliminaryThenError => {
                            held.push(data);
                            b"550 internal server error\r\n".to_vec()
                        }
                        Transfer::Refuse(_) | Transfer::CannotConnect => unreachable!("answered above"),
                    }
                }
                "QUIT" => {
                    let _ = control.write_all(b"221 Goodbye.\r\n").await;
                    return;
                }
                _ => b"502 Not implemented.\r\n".to_vec(),
            };
            if control.write_all(&reply).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_reply_with_a_two_digit_code_breaks_f_rpl_1() {
    let addr = Fake {
        greeting: b"22 fake FTP server ready.\r\n",
        ..Fake::default()
    }
    .start()
    .await;
    let o = play_bundled("ftp/login.yaml", addr, STEP).await;
    assert_eq!(o.status, Status::Failed);
    // The grammar is why the step did not get its 220: one finding, under the rule broken.
    assert_eq!(rules(&o), ["F-RPL-1"], "{}", describe(&o));
    assert_eq!(o.steps[0].state, parley::outcome::StepState::Failed);
    assert_eq!(
        message(&o, "F-RPL-1"),
        "`22 fake FTP server ready.` is not an FTP reply: its code has 2 digits, not three (RFC 959 §4.2)"
    );
    assert_eq!(
        o.findings[0].actual.as_deref(),
        Some("22 fake FTP server ready.\\r\\n")
    );
}

#[tokio::test]
async fn a_multiline_reply_that_never_ends_breaks_f_rpl_2_at_the_step_deadline() {
    let addr = say_then_wait(b"220-Welcome.\r\n220-This banner never ends.\r\n").await;
    let o = play_bundled("ftp/login.yaml", addr, STEP).await;
    assert_eq!(rules(&o), ["F-RPL-2"], "{}", describe(&o));
    let m = message(&o, "F-RPL-2");
    assert!(
        m.starts_with("waited 400 ms for a complete message with code 220"),
        "{m}"
    );
    assert!(
        m.contains("the multi-line 220 reply never ended: parley waited for a line that starts with `220 `"),
        "{m}"
    );
    assert!(m.contains("and 2 lines came"), "{m}");
}

#[tokio::test]
async fn a_226_before_the_data_connection_carried_anything_breaks_f_data_5() {
    let addr = Fake {
        transfer: Transfer::DoneBeforeData,
        ..Fake::default()
    }
    .start()
    .await;
    // The data connection may close just after the 226 arrives (two connections, no
    // order between them), so the step waits for it until its deadline; then the 226
    // that came first is the finding.
    let o = play_bundled("ftp/list-passive.yaml", addr, STEP).await;
    assert_eq!(rules(&o), ["F-DATA-5"], "{}", describe(&o));
    let m = message(&o, "F-DATA-5");
    assert!(
        m.contains("the server sent `226 Transfer complete.\\r\\n` on the control connection while `data` was still open and had carried nothing"),
        "{m}"
    );
    assert_eq!(o.findings[0].conn.as_deref(), Some("data"));
}

#[tokio::test]
async fn a_data_connection_that_stalls_fails_its_step_at_the_deadline() {
    let addr = Fake {
        transfer: Transfer::Stall,
        ..Fake::default()
    }
    .start()
    .await;
    let o = play_bundled("ftp/list-passive.yaml", addr, STEP).await;
    assert_eq!(rules(&o), ["S-EXPECT"], "{}", describe(&o));
    let m = message(&o, "S-EXPECT");
    assert!(
        m.starts_with("waited 400 ms for the end of the data (the peer closing the connection) from the server on `data`"),
        "{m}"
    );
    assert!(
        m.contains("in stream mode the server ends a transfer by closing the data connection"),
        "{m}"
    );
}

#[tokio::test]
async fn garbage_on_the_data_connection_fails_the_listing_step_and_warns_about_bare_lf() {
    let addr = Fake {
        transfer: Transfer::Send(b"\x00\xff\x13garbage\n\x1b[2Jmore garbage\n"),
        ..Fake::default()
    }
    .start()
    .await;
    // NLST without TYPE I: ASCII type, so the bare LFs are F-DATA-7 too.
    let o = play_bundled("ftp/nlst.yaml", addr, STEP).await;
    assert_eq!(rules(&o), ["S-EXPECT"], "{}", describe(&o));
    assert!(
        message(&o, "S-EXPECT").contains("the message does not contain \"readme.txt\""),
        "{}",
        describe(&o)
    );
    let warning = o.findings.iter().find(|f| f.rule == "F-DATA-7").unwrap();
    assert_eq!(warning.severity, Severity::Warning);
    assert!(
        warning
            .message
            .starts_with("2 of the NLST listing's 2 lines end in a bare LF")
    );
    // The failed listing step ended the scenario: the 226 and QUIT steps did not run.
    let failed: Vec<usize> = o
        .steps
        .iter()
        .filter(|s| s.state == parley::outcome::StepState::Failed)
        .map(|s| s.number)
        .collect();
    assert_eq!(failed.len(), 1, "{}", describe(&o));
    assert!(
        o.steps
            .iter()
            .filter(|s| s.number > failed[0])
            .all(|s| s.state == parley::outcome::StepState::NotRun),
        "{}",
        describe(&o)
    );
}

#[tokio::test]
async fn closing_the_control_connection_mid_line_breaks_f_rpl_1() {
    let addr = say_then_close(b"220 fake FTP ser").await;
    // The close is the finding, seen at once: under a step deadline no machine waits out
    // by accident, the message names the close, not the deadline.
    let o = play_bundled("ftp/login.yaml", addr, LONG).await;
    assert_eq!(rules(&o), ["F-RPL-1"], "{}", describe(&o));
    let m = message(&o, "F-RPL-1");
    assert!(
        m.starts_with("the server closed `main` while parley waited for a complete message with code 220"),
        "{m}"
    );
    assert!(m.contains("the reply line `220 fake FTP ser` never ended"), "{m}");
}

#[tokio::test]
async fn closing_the_control_connection_mid_multiline_reply_breaks_f_rpl_2() {
    let addr = say_then_close(b"220-Welcome.\r\n220-more to co").await;
    let o = play_bundled("ftp/login.yaml", addr, LONG).await;
    assert_eq!(rules(&o), ["F-RPL-2"], "{}", describe(&o));
    let m = message(&o, "F-RPL-2");
    assert!(m.starts_with("the server closed `main`"), "{m}");
    assert!(m.contains("and 1 line came"), "{m}");
}

#[tokio::test]
async fn a_227_without_its_six_numbers_breaks_f_data_6() {
    let addr = Fake {
        // No `{}`: the numbers are left out.
        pasv: "227 Entering Passive Mode, the port is a secret.\r\n",
        ..Fake::default()
    }
    .start()
    .await;
    let o = play_bundled("ftp/list-passive.yaml", addr, STEP).await;
    assert_eq!(rules(&o), ["F-DATA-6"], "{}", describe(&o));
    // A check failed (exit 1), not a scenario error: the peer's bytes did not allow the
    // address to be read, and the scenario ended at the step that got them.
    assert_eq!(o.status, Status::Failed, "{}", describe(&o));
    assert!(o.error.is_none(), "{}", describe(&o));
    assert_eq!(Summary::exit_code(std::slice::from_ref(&o)), 1);
    let f = o.findings.iter().find(|f| f.rule == "F-DATA-6").unwrap();
    assert_eq!(f.step, Some(9), "{}", describe(&o));
    assert!(
        o.steps
            .iter()
            .filter(|s| s.number > 9)
            .all(|s| s.state == parley::outcome::StepState::NotRun),
        "{}",
        describe(&o)
    );
    assert!(
        o.findings.iter().all(|f| !f.message.contains("has no value")),
        "{}",
        describe(&o)
    );
}

#[tokio::test]
async fn bare_lf_replies_pass_with_f_rpl_5_warnings() {
    let mock = MockServer::ftp(parley_mock::ftp::FtpConfig {
        bare_lf: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let o = play_bundled("ftp/login.yaml", mock.addr(), STEP).await;
    assert_eq!(o.status, Status::Passed, "{}", describe(&o));
    let warnings: Vec<_> = o.findings.iter().filter(|f| f.rule == "F-RPL-5").collect();
    assert_eq!(warnings.len(), 4, "220, 331, 230, 221: {}", describe(&o));
    assert!(warnings.iter().all(|f| f.severity == Severity::Warning));
    mock.shutdown().await;
}

#[tokio::test]
async fn the_bundled_mock_passes_every_ftp_scenario_written_seven_bytes_at_a_time() {
    let config = parley_mock::ftp::FtpConfig {
        faults: parley_mock::faults::MockFaults {
            split_writes: std::num::NonZeroUsize::new(7),
            ..Default::default()
        },
        multiline_greeting: true,
        ..Default::default()
    };
    let mock = MockServer::ftp(config).await.unwrap();
    for name in [
        "ftp/login.yaml",
        "ftp/list-active.yaml",
        "ftp/list-passive.yaml",
        "ftp/nlst.yaml",
        "ftp/retr.yaml",
        "ftp/type.yaml",
        "ftp/noop-syst-pwd.yaml",
        "ftp/bad-sequence.yaml",
        "ftp/bounce.yaml",
        "ftp/quit.yaml",
    ] {
        let o = play_bundled(name, mock.addr(), STEP).await;
        assert_eq!(o.status, Status::Passed, "{name}: {}", describe(&o));
        assert!(o.findings.is_empty(), "{name}: {}", describe(&o));
    }
    mock.shutdown().await;
}

/// The steps after `failed` did not run, and no finding says a deadline was waited out:
/// the failure ended the scenario at once.
fn ended_at(o: &Outcome, failed: usize) {
    for step in &o.steps {
        let want = match step.number.cmp(&failed) {
            std::cmp::Ordering::Less => step.state,
            std::cmp::Ordering::Equal => parley::outcome::StepState::Failed,
            std::cmp::Ordering::Greater => parley::outcome::StepState::NotRun,
        };
        assert_eq!(step.state, want, "step {}\n{}", step.number, describe(o));
    }
    assert!(
        o.findings.iter().all(|f| !f.message.starts_with("waited")),
        "{}",
        describe(o)
    );
}

#[tokio::test]
async fn a_550_where_150_was_expected_ends_the_scenario_without_waiting() {
    let addr = Fake {
        transfer: Transfer::Refuse(b"550 Internal error.\r\n"),
        ..Fake::default()
    }
    .start()
    .await;
    // RETR may be refused with 550: the step did not get its 150.
    let o = play_bundled("ftp/retr.yaml", addr, STEP).await;
    assert_eq!(rules(&o), ["S-EXPECT"], "{}", describe(&o));
    let f = &o.findings[0];
    assert!(
        f.message
            .contains("code 550 arrived where 125 or 150 was expected"),
        "{}",
        f.message
    );
    // The server is told what to do, not the client.
    assert_eq!(f.sent_by, Some(parley::outcome::Party::Server));
    assert_eq!(f.hint, parley::rules::S_EXPECT.rule().server);
    ended_at(&o, 12);
    // LIST too: 550 is how real servers refuse a directory they cannot read (RFC 959
    // §4.2.2), so the finding is the step's, not a reply-code rule.
    let addr = Fake {
        transfer: Transfer::Refuse(b"550 Internal error.\r\n"),
        ..Fake::default()
    }
    .start()
    .await;
    let o = play_bundled("ftp/list-passive.yaml", addr, STEP).await;
    assert_eq!(rules(&o), ["S-EXPECT"], "{}", describe(&o));
    ended_at(&o, 12);
}

#[tokio::test]
async fn a_server_without_pasv_fails_under_f_1123_1_with_exit_1() {
    let addr = Fake {
        pasv: "502 Command not implemented.\r\n",
        ..Fake::default()
    }
    .start()
    .await;
    for scenario in ["ftp/list-passive.yaml", "ftp/nlst.yaml"] {
        let addr = if scenario.ends_with("nlst.yaml") {
            Fake {
                pasv: "502 Command not implemented.\r\n",
                ..Fake::default()
            }
            .start()
            .await
        } else {
            addr
        };
        let o = play_bundled(scenario, addr, STEP).await;
        assert_eq!(rules(&o), ["F-1123-1"], "{scenario}: {}", describe(&o));
        assert_eq!(o.status, Status::Failed);
        assert!(o.error.is_none());
        assert_eq!(Summary::exit_code(std::slice::from_ref(&o)), 1);
    }
}

#[rstest::rstest]
#[case::first_number_too_big("227 Entering Passive Mode (999,0,0,1,1,2).\r\n")]
#[case::port_byte_too_big("227 Entering Passive Mode (127,0,0,1,300,2).\r\n")]
#[tokio::test]
async fn a_malformed_227_is_f_data_6_and_a_failure_not_a_scenario_error(#[case] pasv: &'static str) {
    let addr = Fake {
        pasv,
        ..Fake::default()
    }
    .start()
    .await;
    let o = play_bundled("ftp/list-passive.yaml", addr, STEP).await;
    assert_eq!(rules(&o), ["F-DATA-6"], "{}", describe(&o));
    assert_eq!(Summary::exit_code(std::slice::from_ref(&o)), 1);
    ended_at(&o, 9);
}

#[tokio::test]
async fn a_125_then_550_with_the_data_connection_left_open_fails_the_type_scenario() {
    // Once passed with "1 warning": the step's rule is a warning, but the step did not get
    // what it expected.
    let addr = Fake {
        transfer: Transfer::PreliminaryThenError,
        ..Fake::default()
    }
    .start()
    .await;
    let o = play_bundled("ftp/type.yaml", addr, STEP).await;
    assert_eq!(o.status, Status::Failed, "{}", describe(&o));
    assert!(!o.failed_rules().is_empty());
}

#[tokio::test]
async fn a_425_instead_of_connecting_is_not_blamed_as_a_226_without_data() {
    let addr = Fake {
        transfer: Transfer::CannotConnect,
        ..Fake::default()
    }
    .start()
    .await;
    let o = play_bundled("ftp/list-active.yaml", addr, STEP).await;
    // Not F-DATA-5 ("gives 425, never 226"): the server did give 425.
    assert_eq!(rules(&o), ["S-CONNECT"], "{}", describe(&o));
    assert!(
        message(&o, "S-CONNECT")
            .contains("answered `425 Can't open data connection.\\r\\n` on the control connection"),
        "{}",
        describe(&o)
    );
}

#[tokio::test]
async fn a_single_line_502_to_help_is_not_f_rpl_2_but_f_1123_4() {
    let addr = Fake::default().start().await;
    let o = play_bundled("ftp/multiline.yaml", addr, STEP).await;
    // A one-line reply is a legal form; what is wrong is not implementing HELP, which
    // RFC 1123 §4.1.2.13 puts in every server's minimum.
    assert!(o.findings.iter().all(|f| f.rule != "F-RPL-2"), "{}", describe(&o));
    assert_eq!(rules(&o), ["F-1123-4"], "{}", describe(&o));
}

#[tokio::test]
async fn a_server_that_never_sends_226_breaks_no_client_rule() {
    let addr = Fake {
        transfer: Transfer::SendWithoutFinalReply(b"readme.txt\r\n"),
        ..Fake::default()
    }
    .start()
    .await;
    let o = play_bundled("ftp/list-passive.yaml", addr, STEP).await;
    // F-DATA-4 is what a client breaks; the server under test is told S-EXPECT's fix.
    assert_eq!(rules(&o), ["S-EXPECT"], "{}", describe(&o));
    assert_eq!(o.findings[0].sent_by, Some(parley::outcome::Party::Server));
}

/// An FTP server that refuses every password; after `limit` refusals (0: never) it
/// closes the control connection right after its 530, as pyftpdlib and proftpd do.
async fn refusing_logins(limit: usize) -> SocketAddr {
    serve_once(move |stream| async move {
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r).lines();
        let _ = w.write_all(b"220 ready\r\n").await;
        let mut refused = 0;
        while let Ok(Some(line)) = lines.next_line().await {
            let reply: &[u8] = match line.split(' ').next().unwrap_or("") {
                "USER" => b"331 password please\r\n",
                "PASS" => b"530 no\r\n",
                "QUIT" => b"221 bye\r\n",
                _ => b"500 what\r\n",
            };
            let _ = w.write_all(reply).await;
            if line.starts_with("PASS") {
                refused += 1;
                if refused == limit {
                    return;
                }
            }
            if line.starts_with("QUIT") {
                return;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_server_that_closes_after_three_refused_passwords_passes_the_login_limit() {
    let o = play_bundled("ftp/login-limit.yaml", refusing_logins(3).await, STEP).await;
    assert_eq!(o.status, Status::Passed, "{}", describe(&o));
    assert!(
        o.findings.iter().all(|f| f.severity == Severity::Note),
        "the close after the third 530 is allowed (or_close), and nothing after it runs:\n{}",
        describe(&o)
    );
}

#[tokio::test]
async fn a_server_that_never_limits_logins_passes_with_an_f_sec_3_warning() {
    let o = play_bundled("ftp/login-limit.yaml", refusing_logins(0).await, STEP).await;
    assert_eq!(
        o.status,
        Status::Passed,
        "a warning does not fail:\n{}",
        describe(&o)
    );
    let warned: Vec<&str> = o
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| f.rule.as_str())
        .collect();
    assert_eq!(warned, ["F-SEC-3"], "{}", describe(&o));
}
