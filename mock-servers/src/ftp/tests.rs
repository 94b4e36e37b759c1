//! End-to-end tests of the FTP mock: raw `TcpStream` clients with their own small reply
//! reader (independent of the server's code), every wait bounded by a deadline, servers on
//! `127.0.0.1:0`, no fixed sleeps.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::FtpConfig;
use crate::MockServer;
use crate::faults::MockFaults;

/// The longest any single wait in these tests may take.
const DEADLINE: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

async fn server(config: FtpConfig) -> MockServer {
    MockServer::ftp(config).await.expect("bind the FTP mock")
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(crate::fixtures_dir().join("ftp-root").join(path)).expect("fixture file")
}

/// A reply as the test client read it: its code and the raw bytes of all its lines.
#[derive(Debug)]
struct Got {
    code: u16,
    raw: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// A control-connection client, deliberately simple and separate from the server's code.
struct Client {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

impl Client {
    /// Connects and reads the greeting.
    async fn connect(addr: SocketAddr) -> (Client, Got) {
        let stream = within("connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        stream.set_nodelay(true).unwrap();
        let (r, w) = stream.into_split();
        let mut c = Client {
            r: BufReader::new(r),
            w,
        };
        let greeting = c.reply().await;
        (c, greeting)
    }

    /// Connects, expects 220 and logs in.
    async fn logged_in(addr: SocketAddr, user: &str, pass: &str) -> Client {
        let (mut c, greeting) = Client::connect(addr).await;
        assert_eq!(greeting.code, 220, "{}", greeting.text());
        c.expect(&format!("USER {user}"), 331).await;
        c.expect(&format!("PASS {pass}"), 230).await;
        c
    }

    async fn line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        let n = within("a reply line", self.r.read_until(b'\n', &mut line))
            .await
            .unwrap();
        assert!(n > 0, "connection closed while a reply was expected");
        line
    }

    /// Reads one complete reply, multi-line ones to their `code SP` line (959 §4.2).
    async fn reply(&mut self) -> Got {
        let first = self.line().await;
        assert!(
            first.len() >= 4 && first[..3].iter().all(u8::is_ascii_digit),
            "not a reply line: {:?}",
            String::from_utf8_lossy(&first)
        );
        let code = std::str::from_utf8(&first[..3]).unwrap().parse().unwrap();
        let mut raw = first.clone();
        if first[3] == b'-' {
            loop {
                let line = self.line().await;
                raw.extend_from_slice(&line);
                if line.len() >= 4 && line[..3] == first[..3] && line[3] == b' ' {
                    break;
                }
            }
        }
        Got { code, raw }
    }

    async fn send(&mut self, bytes: &[u8]) {
        within("a write", self.w.write_all(bytes)).await.unwrap();
    }

    async fn cmd(&mut self, line: &str) -> Got {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    async fn expect(&mut self, line: &str, code: u16) -> Got {
        let got = self.cmd(line).await;
        assert_eq!(got.code, code, "{line} -> {}", got.text());
        got
    }

    /// Sends PASV and returns the address from the 227 reply.
    async fn pasv(&mut self) -> SocketAddr {
        let got = self.expect("PASV", 227).await;
        let text = got.text();
        let open = text.find('(').expect("227 has (");
        let close = text.find(')').expect("227 has )");
        let n: Vec<u16> = text[open + 1..close]
            .split(',')
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(n.len(), 6, "{text}");
        let ip = format!("{}.{}.{}.{}", n[0], n[1], n[2], n[3]);
        SocketAddr::new(ip.parse().unwrap(), n[4] * 256 + n[5])
    }

    /// Expects the server to close the control connection.
    async fn expect_eof(&mut self) {
        let mut rest = Vec::new();
        within("the server to close", self.r.read_to_end(&mut rest))
            .await
            .unwrap();
        assert!(
            rest.is_empty(),
            "unexpected bytes before close: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}

async fn read_data(mut stream: TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    within("the data connection to close", stream.read_to_end(&mut data))
        .await
        .unwrap();
    data
}

/// PASV, connect, `cmd`, 150, everything the data connection carries, 226.
async fn pasv_download(c: &mut Client, cmd: &str) -> Vec<u8> {
    let addr = c.pasv().await;
    let data = within("data connect", TcpStream::connect(addr)).await.unwrap();
    c.expect(cmd, 150).await;
    let bytes = read_data(data).await;
    let done = c.reply().await;
    assert_eq!(done.code, 226, "{}", done.text());
    bytes
}

/// PASV, connect, `cmd`, 150, send `bytes` and close, 226.
async fn pasv_upload(c: &mut Client, cmd: &str, bytes: &[u8]) {
    let addr = c.pasv().await;
    let mut data = within("data connect", TcpStream::connect(addr)).await.unwrap();
    c.expect(cmd, 150).await;
    within("upload", data.write_all(bytes)).await.unwrap();
    data.shutdown().await.unwrap();
    drop(data);
    let done = c.reply().await;
    assert_eq!(done.code, 226, "{}", done.text());
}

fn port_arg(addr: SocketAddr) -> String {
    let ip = addr.ip().to_string().replace('.', ",");
    format!("{ip},{},{}", addr.port() >> 8, addr.port() & 0xff)
}

fn lines_end_in_crlf(data: &[u8]) -> bool {
    data.ends_with(b"\r\n")
        && data
            .iter()
            .enumerate()
            .all(|(i, b)| *b != b'\n' || i > 0 && data[i - 1] == b'\r')
}

#[tokio::test]
async fn greeting_is_a_single_220_line_in_crlf() {
    let s = server(FtpConfig::default()).await;
    let (_c, greeting) = Client::connect(s.addr()).await;
    assert_eq!(greeting.code, 220);
    assert!(greeting.raw.starts_with(b"220 ") && greeting.raw.ends_with(b"\r\n"));
}

#[tokio::test]
async fn anonymous_logs_in_with_any_password() {
    let s = server(FtpConfig::default()).await;
    Client::logged_in(s.addr(), "anonymous", "guest@example.com").await;
    Client::logged_in(s.addr(), "ftp", "").await;
}

#[tokio::test]
async fn configured_user_logs_in_and_wrong_password_is_530() {
    let s = server(FtpConfig::default()).await;
    Client::logged_in(s.addr(), "alice", "wonderland").await;
    let (mut c, _) = Client::connect(s.addr()).await;
    c.expect("USER alice", 331).await;
    c.expect("PASS rabbit", 530).await;
    // After a failed login the session goes on and another try works.
    c.expect("USER alice", 331).await;
    c.expect("PASS wonderland", 230).await;

    let custom = server(FtpConfig {
        user: "bob".into(),
        password: "builder".into(),
        allow_anonymous: false,
        ..FtpConfig::default()
    })
    .await;
    Client::logged_in(custom.addr(), "bob", "builder").await;
    let (mut c, _) = Client::connect(custom.addr()).await;
    c.expect("USER anonymous", 331).await;
    c.expect("PASS guest", 530).await;
}

#[tokio::test]
async fn user_answers_alike_for_known_and_unknown_names() {
    let s = server(FtpConfig::default()).await;
    let (mut c, _) = Client::connect(s.addr()).await;
    let known = c.expect("USER alice", 331).await;
    let unknown = c.expect("USER mallory", 331).await;
    assert_eq!(
        known.raw, unknown.raw,
        "F-SEC-4: USER must not reveal which names exist"
    );
    c.expect("PASS anything", 530).await;
}

/// The course exercise: login, TYPE I, PORT to the client's own listener, LIST, QUIT.
#[tokio::test]
async fn course_exercise_active_list_over_port_end_to_end() {
    let s = server(FtpConfig::default()).await;
    let (mut c, greeting) = Client::connect(s.addr()).await;
    assert_eq!(greeting.code, 220);
    c.expect("USER anonymous", 331).await;
    c.expect("PASS student@example.com", 230).await;
    c.expect("TYPE I", 200).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = port_arg(listener.local_addr().unwrap());
    c.expect(&format!("PORT {port}"), 200).await;
    c.expect("LIST", 150).await;
    let (data, peer) = within("the server to connect", listener.accept()).await.unwrap();
    assert_eq!(peer.ip(), s.addr().ip());
    let listing = read_data(data).await;
    let done = c.reply().await;
    assert_eq!(done.code, 226, "{}", done.text());
    let text = String::from_utf8(listing.clone()).unwrap();
    assert!(text.contains("readme.txt"), "{text}");
    assert!(lines_end_in_crlf(&listing), "F-DATA-7: {text:?}");
    assert!(
        text.contains("-rw-r--r--    1 ftp      ftp           265 Jan 01  2024 readme.txt\r\n"),
        "{text}"
    );
    assert!(
        text.contains("drwxr-xr-x    2 ftp      ftp          4096 Jan 01  2024 pub\r\n"),
        "{text}"
    );
    c.expect("QUIT", 221).await;
    c.expect_eof().await;
}

#[tokio::test]
async fn pasv_list_lists_the_root() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    let listing = String::from_utf8(pasv_download(&mut c, "LIST").await).unwrap();
    let names: Vec<&str> = listing.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(names, ["incoming", "pub", "readme.txt"]);
    // Each transfer needs its own PASV (F-SEQ-4): the next LIST has no data connection.
    c.expect("LIST", 150).await;
    assert_eq!(c.reply().await.code, 425);
    // `-a` shows dot-names.
    let all = String::from_utf8(pasv_download(&mut c, "LIST -a incoming").await).unwrap();
    assert!(all.ends_with(" .keep\r\n"), "{all}");
}

#[tokio::test]
async fn epsv_announces_a_port_and_list_works_over_it() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    let got = c.expect("EPSV", 229).await;
    let text = got.text();
    let port: u16 = text
        .split("(|||")
        .nth(1)
        .unwrap()
        .split('|')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let data = TcpStream::connect((s.addr().ip(), port)).await.unwrap();
    c.expect("LIST pub", 150).await;
    let listing = String::from_utf8(read_data(data).await).unwrap();
    assert_eq!(c.reply().await.code, 226);
    assert!(listing.contains("hello.txt"), "{listing}");
    c.expect("EPSV 2", 522).await;
    c.expect("EPSV ALL", 200).await;
    c.expect("PASV", 501).await;
}

#[tokio::test]
async fn eprt_active_list_works_and_is_confined_like_port() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    c.expect(&format!("EPRT |1|127.0.0.1|{port}|"), 200).await;
    c.expect("NLST", 150).await;
    let (data, _) = within("accept", listener.accept()).await.unwrap();
    assert_eq!(read_data(data).await, b"incoming\r\npub\r\nreadme.txt\r\n");
    assert_eq!(c.reply().await.code, 226);
    c.expect(&format!("EPRT |1|127.0.0.2|{port}|"), 504).await;
    c.expect("EPRT |1|127.0.0.1|21|", 504).await;
    c.expect("EPRT |9|x|1|", 522).await;
    c.expect("EPRT nonsense", 501).await;
}

#[tokio::test]
async fn nlst_gives_names_only_in_crlf_lines() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    let names = pasv_download(&mut c, "NLST pub").await;
    assert_eq!(names, b"hello.txt\r\nrfc959.txt\r\ntiny.bin\r\n");
}

#[tokio::test]
async fn retr_in_type_a_sends_crlf_lines() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    let on_disk = fixture("pub/rfc959.txt");
    assert!(!on_disk.contains(&b'\r'), "the fixture is stored with LF lines");
    c.expect("TYPE A", 200).await;
    let got = pasv_download(&mut c, "RETR pub/rfc959.txt").await;
    assert!(lines_end_in_crlf(&got));
    assert_eq!(
        got,
        String::from_utf8(on_disk)
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes()
    );
}

#[tokio::test]
async fn retr_in_type_i_sends_exact_bytes() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    c.expect("TYPE I", 200).await;
    let got = pasv_download(&mut c, "RETR /pub/tiny.bin").await;
    assert_eq!(got, fixture("pub/tiny.bin"));
    c.expect("RETR nope.txt", 550).await;
    c.expect("RETR pub", 550).await;
}

#[tokio::test]
async fn stor_then_retr_returns_the_same_bytes() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "alice", "wonderland").await;
    c.expect("TYPE I", 200).await;
    let payload: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    pasv_upload(&mut c, "STOR upload.bin", &payload).await;
    assert_eq!(pasv_download(&mut c, "RETR upload.bin").await, payload);
    // TYPE A stores CRLF lines as LF, and sends them back as CRLF.
    c.expect("TYPE A", 200).await;
    pasv_upload(&mut c, "STOR notes.txt", b"one\r\ntwo\r\n").await;
    c.expect("TYPE I", 200).await;
    assert_eq!(pasv_download(&mut c, "RETR notes.txt").await, b"one\ntwo\n");
    c.expect("STOR missing-dir/x", 553).await;
    c.expect("STOR pub", 553).await;
}

#[tokio::test]
async fn anonymous_writes_only_below_incoming() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    c.expect("STOR readme.txt", 553).await;
    c.expect("DELE readme.txt", 550).await;
    c.expect("MKD /newdir", 550).await;
    pasv_upload(&mut c, "STOR /incoming/hello.txt", b"hi\r\n").await;
    c.expect("MKD incoming/sub", 257).await;
    c.expect("RMD incoming/sub", 250).await;
    c.expect("DELE incoming/hello.txt", 250).await;
}

#[tokio::test]
async fn mkd_dele_rmd_change_the_tree_with_the_right_codes() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "alice", "wonderland").await;
    let made = c.expect("MKD pub/new", 257).await;
    assert!(made.text().starts_with("257 \"/pub/new\""), "{}", made.text());
    c.expect("MKD pub/new", 550).await;
    pasv_upload(&mut c, "STOR pub/new/f", b"x").await;
    c.expect("RMD pub/new", 550).await;
    c.expect("DELE pub/new", 550).await;
    c.expect("DELE pub/new/f", 250).await;
    c.expect("DELE pub/new/f", 550).await;
    c.expect("RMD pub/new", 250).await;
    c.expect("RMD /", 550).await;
}

#[tokio::test]
async fn writes_belong_to_one_server_and_never_touch_the_fixtures() {
    let a = server(FtpConfig::default()).await;
    let b = server(FtpConfig::default()).await;
    let mut ca = Client::logged_in(a.addr(), "alice", "wonderland").await;
    pasv_upload(&mut ca, "STOR only-on-a.txt", b"a").await;
    ca.expect("DELE readme.txt", 250).await;
    let mut cb = Client::logged_in(b.addr(), "alice", "wonderland").await;
    cb.expect("RETR only-on-a.txt", 550).await;
    assert!(!pasv_download(&mut cb, "RETR readme.txt").await.is_empty());
    assert!(crate::fixtures_dir().join("ftp-root/readme.txt").exists());
    assert!(!crate::fixtures_dir().join("ftp-root/only-on-a.txt").exists());
}

#[tokio::test]
async fn cwd_cdup_and_pwd_move_and_report_the_directory() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    assert!(c.expect("PWD", 257).await.text().starts_with("257 \"/\""));
    c.expect("CWD pub", 250).await;
    assert!(c.expect("PWD", 257).await.text().starts_with("257 \"/pub\""));
    assert_eq!(
        pasv_download(&mut c, "NLST").await,
        b"hello.txt\r\nrfc959.txt\r\ntiny.bin\r\n"
    );
    c.expect("CWD hello.txt", 550).await;
    c.expect("CWD nowhere", 550).await;
    c.expect("CDUP", 200).await;
    assert!(c.expect("PWD", 257).await.text().starts_with("257 \"/\""));
    c.expect("CWD /pub/", 250).await;
    c.expect("XPWD", 257).await;
    c.expect("CWD /", 250).await;
}

#[tokio::test]
async fn dotdot_and_absolute_paths_cannot_escape_the_root() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "alice", "wonderland").await;
    c.expect("CWD ..", 550).await;
    c.expect("CDUP", 550).await;
    c.expect("CWD ../../../etc", 550).await;
    c.expect("CWD pub", 250).await;
    c.expect("RETR ../../etc/passwd", 550).await;
    c.expect("RETR /etc/passwd", 550).await;
    c.expect("LIST ../..", 450).await;
    c.expect("STOR ../../escape.txt", 553).await;
    c.expect("MKD ../../escape", 550).await;
    // `..` inside the root is fine.
    c.expect("CWD ../pub/..", 250).await;
    assert!(c.expect("PWD", 257).await.text().starts_with("257 \"/\""));
}

#[tokio::test]
async fn pass_before_user_is_503() {
    let s = server(FtpConfig::default()).await;
    let (mut c, _) = Client::connect(s.addr()).await;
    c.expect("PASS secret", 503).await;
    c.expect("ACCT x", 503).await;
    Client::logged_in(s.addr(), "anonymous", "x").await;
}

#[tokio::test]
async fn transfer_and_file_commands_before_login_are_530() {
    let s = server(FtpConfig::default()).await;
    let (mut c, _) = Client::connect(s.addr()).await;
    for cmd in [
        "LIST",
        "NLST",
        "RETR readme.txt",
        "STOR x",
        "CWD pub",
        "PASV",
        "PORT 127,0,0,1,4,1",
        "TYPE I",
    ] {
        c.expect(cmd, 530).await;
    }
    c.expect("USER anonymous", 331).await;
    c.expect("LIST", 530).await;
    // Informational commands work before login.
    c.expect("SYST", 215).await;
    c.expect("NOOP", 200).await;
}

#[tokio::test]
async fn port_to_another_host_is_refused() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    let got = c.expect("PORT 127,0,0,2,155,171", 504).await;
    assert!(got.text().contains("third host"), "{}", got.text());
    // The refused PORT set nothing up.
    c.expect("LIST", 150).await;
    assert_eq!(c.reply().await.code, 425);
}

#[tokio::test]
async fn port_to_a_privileged_port_is_refused() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    c.expect("PORT 127,0,0,1,0,21", 504).await;
    c.expect("PORT 127,0,0,1,3,255", 504).await;
    c.expect("PORT 127,0,0,1,4,0", 200).await;
    c.expect("PORT 127,0,0,1,300,1", 501).await;
    c.expect("PORT 127,0,0,1", 501).await;
}

#[tokio::test]
async fn three_failed_logins_close_the_connection_with_421() {
    let s = server(FtpConfig::default()).await;
    let (mut c, _) = Client::connect(s.addr()).await;
    for _ in 0..2 {
        c.expect("USER alice", 331).await;
        c.expect("PASS wrong", 530).await;
    }
    c.expect("USER nobody", 331).await;
    c.expect("PASS wrong", 421).await;
    c.expect_eof().await;
}

#[tokio::test]
async fn refuse_data_gives_425_and_never_226() {
    let s = server(FtpConfig {
        refuse_data: true,
        ..FtpConfig::default()
    })
    .await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    // Passive: the announced port is closed.
    let addr = c.pasv().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the PASV port must refuse connections"
    );
    c.expect("LIST", 150).await;
    assert_eq!(c.reply().await.code, 425);
    // Active: the server never connects.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    c.expect(&format!("PORT {}", port_arg(listener.local_addr().unwrap())), 200)
        .await;
    c.expect("RETR readme.txt", 150).await;
    assert_eq!(c.reply().await.code, 425);
    // A zero timeout polls accept once: no connection is waiting.
    assert!(
        tokio::time::timeout(Duration::ZERO, listener.accept())
            .await
            .is_err()
    );
    c.expect("NOOP", 200).await;
}

#[tokio::test]
async fn transfer_without_port_or_pasv_is_150_then_425() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    c.expect("RETR readme.txt", 150).await;
    let got = c.reply().await;
    assert_eq!(got.code, 425, "{}", got.text());
}

#[tokio::test]
async fn active_connect_failure_is_425() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    // A port nobody listens on: bind, note it, close.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    c.expect(&format!("PORT {}", port_arg(closed)), 200).await;
    c.expect("LIST", 150).await;
    assert_eq!(c.reply().await.code, 425);
}

#[tokio::test]
async fn multiline_greeting_is_a_220_dash_banner() {
    let s = server(FtpConfig {
        multiline_greeting: true,
        ..FtpConfig::default()
    })
    .await;
    let (mut c, greeting) = Client::connect(s.addr()).await;
    assert_eq!(greeting.code, 220);
    let text = greeting.text();
    assert!(text.starts_with("220-"), "{text}");
    assert!(text.lines().count() > 2, "{text}");
    assert!(text.lines().last().unwrap().starts_with("220 "), "{text}");
    // Everything of the banner was consumed: the next reply is the USER reply.
    c.expect("USER anonymous", 331).await;
}

#[tokio::test]
async fn bare_lf_replies_end_in_lf_only() {
    let s = server(FtpConfig {
        bare_lf: true,
        ..FtpConfig::default()
    })
    .await;
    let (mut c, greeting) = Client::connect(s.addr()).await;
    assert!(greeting.raw.ends_with(b"\n") && !greeting.raw.contains(&b'\r'));
    let feat = c.expect("FEAT", 211).await;
    assert!(!feat.raw.contains(&b'\r'), "{:?}", feat.text());
}

#[tokio::test]
async fn byte_at_a_time_replies_and_commands_still_parse() {
    let s = server(FtpConfig {
        faults: MockFaults {
            split_writes: NonZeroUsize::new(1),
            ..MockFaults::default()
        },
        multiline_greeting: true,
        ..FtpConfig::default()
    })
    .await;
    let (mut c, greeting) = Client::connect(s.addr()).await;
    assert_eq!(greeting.code, 220);
    for line in ["USER anonymous\r\n", "PASS x\r\n"] {
        for b in line.as_bytes() {
            c.send(&[*b]).await;
        }
        c.reply().await;
    }
    assert_eq!(c.expect("PWD", 257).await.code, 257);
    let listing = pasv_download(&mut c, "LIST").await;
    assert!(String::from_utf8(listing).unwrap().contains("readme.txt"));
}

#[tokio::test]
async fn garbage_and_overlong_lines_get_500_and_the_session_goes_on() {
    let s = server(FtpConfig::default()).await;
    let (mut c, _) = Client::connect(s.addr()).await;
    for garbage in [
        &b"\x00\x01\x02\xfe\r\n"[..],
        b"\xff\xff\xff\xff\xff\r\n",
        b"\x80\x81 \x82\r\n",
        b"\r\n",
        b"FROB\r\n",
        b"HELLO WORLD\r\n",
    ] {
        c.send(garbage).await;
        let got = c.reply().await;
        assert_eq!(got.code, 500, "{garbage:?} -> {}", got.text());
    }
    c.expect("REST 100", 502).await;
    let long = format!("NOOP {}", "x".repeat(2000));
    c.expect(&long, 500).await;
    c.expect("USER alice", 331).await;
    c.expect("PASS wonderland", 230).await;
    c.expect("RETR a\u{1}b", 501).await;
    c.expect("NOOP", 200).await;
}

#[tokio::test]
async fn type_mode_stru_answer_200_or_504_or_501() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    c.expect("TYPE A", 200).await;
    c.expect("TYPE I", 200).await;
    c.expect("TYPE E", 504).await;
    c.expect("TYPE Z", 501).await;
    c.expect("MODE S", 200).await;
    c.expect("MODE B", 504).await;
    c.expect("STRU F", 200).await;
    c.expect("STRU R", 504).await;
    c.expect("ALLO 100", 202).await;
}

#[tokio::test]
async fn syst_feat_and_help_answer_215_211_214() {
    let s = server(FtpConfig::default()).await;
    let (mut c, _) = Client::connect(s.addr()).await;
    assert!(c.expect("SYST", 215).await.text().starts_with("215 UNIX"));
    let feat = c.expect("FEAT", 211).await.text();
    assert!(
        feat.starts_with("211-") && feat.contains("\r\n EPSV\r\n") && feat.ends_with("211 End\r\n"),
        "{feat}"
    );
    let help = c.expect("HELP", 214).await.text();
    assert!(help.starts_with("214-") && help.contains("RETR"), "{help}");
    c.expect("HELP retr", 214).await;
    c.expect("HELP FROB", 502).await;
}

#[tokio::test]
async fn ten_thousand_noops_on_one_connection() {
    let s = server(FtpConfig::default()).await;
    let (mut c, _) = Client::connect(s.addr()).await;
    for _ in 0..10_000 {
        let got = c.cmd("NOOP").await;
        assert_eq!(got.code, 200);
    }
    c.expect("QUIT", 221).await;
    c.expect_eof().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_sessions_each_list_and_quit() {
    let s = server(FtpConfig::default()).await;
    let addr = s.addr();
    let mut sessions = tokio::task::JoinSet::new();
    for i in 0..100 {
        sessions.spawn(async move {
            let mut c = Client::logged_in(addr, "anonymous", &format!("user{i}@example.com")).await;
            let listing = pasv_download(&mut c, "NLST").await;
            assert_eq!(listing, b"incoming\r\npub\r\nreadme.txt\r\n");
            c.expect("QUIT", 221).await;
            c.expect_eof().await;
        });
    }
    while let Some(done) = within("100 sessions", sessions.join_next()).await {
        done.expect("a session failed");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn pasv_never_connected_neither_blocks_nor_leaks() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    let mut abandoned = Vec::new();
    for _ in 0..20 {
        abandoned.push(c.pasv().await);
    }
    // Each PASV replaced (and closed) the listener before it; only the last one is open.
    let last = abandoned.pop().unwrap();
    for addr in &abandoned {
        assert!(TcpStream::connect(addr).await.is_err(), "{addr} should be closed");
    }
    let data = TcpStream::connect(last).await.unwrap();
    c.expect("NLST", 150).await;
    assert_eq!(read_data(data).await, b"incoming\r\npub\r\nreadme.txt\r\n");
    assert_eq!(c.reply().await.code, 226);
    assert!(!pasv_download(&mut c, "LIST").await.is_empty());
}

#[tokio::test]
async fn pasv_nobody_connects_gives_425_after_the_deadline_and_the_session_goes_on() {
    let s = server(FtpConfig {
        data_timeout: Duration::from_millis(200),
        ..FtpConfig::default()
    })
    .await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    let addr = c.pasv().await;
    let started = Instant::now();
    c.expect("LIST", 150).await;
    assert_eq!(c.reply().await.code, 425);
    assert!(started.elapsed() >= Duration::from_millis(200));
    // The listener is gone with the failed transfer.
    assert!(TcpStream::connect(addr).await.is_err());
    assert!(!pasv_download(&mut c, "LIST").await.is_empty());
}

#[tokio::test]
async fn pasv_connection_from_another_host_is_not_served() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    let addr = c.pasv().await;
    let thief = TcpSocket::new_v4().unwrap();
    thief.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let thief = thief.connect(addr).await.unwrap();
    let data = TcpStream::connect(addr).await.unwrap();
    c.expect("NLST", 150).await;
    assert_eq!(read_data(data).await, b"incoming\r\npub\r\nreadme.txt\r\n");
    assert_eq!(c.reply().await.code, 226);
    assert!(read_data(thief).await.is_empty(), "the third host got nothing");
}

#[tokio::test]
async fn transfer_delay_holds_226_back_after_the_data_closes() {
    let delay = Duration::from_millis(150);
    let s = server(FtpConfig {
        transfer_delay: delay,
        ..FtpConfig::default()
    })
    .await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    let addr = c.pasv().await;
    let data = TcpStream::connect(addr).await.unwrap();
    c.expect("LIST", 150).await;
    read_data(data).await;
    let closed = Instant::now();
    assert_eq!(c.reply().await.code, 226);
    assert!(
        closed.elapsed() >= delay.mul_f32(0.9),
        "226 came {:?} after the close",
        closed.elapsed()
    );
}

#[tokio::test]
async fn upload_over_the_limit_is_552() {
    let s = server(FtpConfig {
        max_upload: 1000,
        ..FtpConfig::default()
    })
    .await;
    let mut c = Client::logged_in(s.addr(), "alice", "wonderland").await;
    let addr = c.pasv().await;
    let mut data = TcpStream::connect(addr).await.unwrap();
    c.expect("STOR big.bin", 150).await;
    // The server may close before all of it is written: a write error is fine here.
    let _ = data.write_all(&[0u8; 5000]).await;
    let _ = data.shutdown().await;
    assert_eq!(c.reply().await.code, 552);
    c.expect("RETR big.bin", 550).await;
}

#[tokio::test]
async fn idle_session_gets_421_and_is_closed() {
    let s = server(FtpConfig {
        idle_timeout: Duration::from_millis(200),
        ..FtpConfig::default()
    })
    .await;
    let (mut c, _) = Client::connect(s.addr()).await;
    c.expect("NOOP", 200).await;
    // A line that never ends does not keep the session alive either.
    c.send(b"NOO").await;
    let got = c.reply().await;
    assert_eq!(got.code, 421, "{}", got.text());
    c.expect_eof().await;
}

#[tokio::test]
async fn shutdown_with_sessions_open_says_421_and_closes_them() {
    let s = server(FtpConfig::default()).await;
    let mut idle = Client::connect(s.addr()).await.0;
    let mut logged = Client::logged_in(s.addr(), "anonymous", "x").await;
    let mut waiting = Client::logged_in(s.addr(), "anonymous", "x").await;
    // One session waits in a passive transfer that nobody connects to.
    waiting.pasv().await;
    waiting.expect("LIST", 150).await;
    let addr = s.addr();
    let started = Instant::now();
    within("shutdown", s.shutdown()).await;
    assert!(
        started.elapsed() < crate::SHUTDOWN_GRACE,
        "sessions ended promptly"
    );
    for c in [&mut idle, &mut logged, &mut waiting] {
        assert_eq!(c.reply().await.code, 421);
        c.expect_eof().await;
    }
    assert!(TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn random_byte_lines_each_get_one_reply_and_the_session_survives() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "alice", "wonderland").await;
    let mut seed = 0x2545_f491_4f6c_dd1d;
    for _ in 0..500 {
        let len = (super::command::tests::xorshift(&mut seed) % 700) as usize;
        let mut line: Vec<u8> = (0..len)
            .map(|_| super::command::tests::xorshift(&mut seed) as u8)
            .filter(|b| *b != b'\n')
            .collect();
        line.extend_from_slice(b"\r\n");
        c.send(&line).await;
        let got = c.reply().await;
        assert!((500..=504).contains(&got.code), "{line:?} -> {}", got.text());
    }
    c.expect("NOOP", 200).await;
}

#[tokio::test]
async fn a_command_line_that_never_ends_closes_the_session_with_421() {
    let s = server(FtpConfig::default()).await;
    let (mut c, _) = Client::connect(s.addr()).await;
    c.send(&vec![b'A'; 80 * 1024]).await;
    let got = c.reply().await;
    assert_eq!(got.code, 421, "{}", got.text());
    c.expect_eof().await;
}

#[tokio::test]
async fn retr_of_a_generated_file_sends_its_length_of_the_repeated_unit() {
    let s = server(FtpConfig::default()).await;
    let mut c = Client::logged_in(s.addr(), "anonymous", "x").await;
    // Not a multiple of the unit, nor of the pieces it is written in.
    let n = 3 * 256 * 1024 + 5;
    let want: Vec<u8> = crate::generated::UNIT.iter().copied().cycle().take(n).collect();
    for ty in ["TYPE I", "TYPE A"] {
        c.expect(ty, 200).await;
        let got = pasv_download(&mut c, &format!("RETR /generated/{n}")).await;
        assert_eq!(got.len(), n, "{ty}");
        assert!(got == want, "{ty}: the bytes differ from the repeated unit");
    }
    assert!(pasv_download(&mut c, "RETR generated/0").await.is_empty());
    c.expect("RETR /generated/12x", 550).await;
    c.expect(&format!("RETR /generated/{}", crate::generated::MAX + 1), 550)
        .await;
    c.expect("RETR /generated/1/2", 550).await;
}
