//! One FTP session on one control connection: the login phases as an explicit state
//! machine, the transfer parameters, and the answer to every command with the codes of
//! RFC 959 §5.4 (421 may come at any time).
//!
//! The session reads one command, answers it completely (including any transfer on the
//! data connection) and only then reads the next; pipelined commands simply wait in the
//! framer. It ends on QUIT (221), EOF, too many failed logins, the idle timeout or a flood
//! (421), or server shutdown (421).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, MutexGuard};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Duration, Instant};

use super::Shared;
use super::command::{self, Command, CommandFrame, EpsvArg, LineFramer, ListArgs, Repr};
use super::data::{self, DataPlan, Received, same_host};
use super::reply::{Code, Reply, quote_path};
use super::vfs::{FsError, VPath, Vfs, long_line};
use crate::CancellationToken;
use crate::faults::write_shaped;

/// How long a closing session waits for the client to close its side, so that unread
/// input does not turn the close into a reset that could destroy the last reply.
const LINGER: Duration = Duration::from_millis(500);
/// How long the goodbye on server shutdown may take.
const SHUTDOWN_REPLY: Duration = Duration::from_secs(1);

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Account {
    /// `anonymous` or `ftp`: reads everywhere, writes only below `/incoming`.
    Anonymous,
    /// The configured user: reads and writes everywhere in the tree.
    Named,
}

/// The login phase of the session (959 §4.1.1, §5.4 USER/PASS sequencing).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Greeted (or after a failed login): USER is expected; PASS earns 503.
    AwaitingUser,
    /// USER answered 331: PASS is expected.
    AwaitingPass { user: String },
    /// PASS answered 230.
    LoggedIn(Account),
}

/// What to do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// One input event from the control connection.
#[derive(Debug)]
enum Input {
    Line(Vec<u8>),
    TooLong,
    Flood,
    Idle,
    Eof,
}

/// The transfer a command asked for, decided before the 150 reply.
#[derive(Debug)]
enum Job {
    /// Send these bytes (a listing or a file, already in the wire form of the type).
    Send { what: String, bytes: Vec<u8> },
    /// Receive a file and store it at this path.
    Receive(VPath),
    /// Send a generated file of `len` bytes ([`data::generated_len`]), written as it is
    /// generated.
    Generate { what: String, len: u64 },
}

/// The mock server's side of one control connection.
#[derive(Debug)]
struct MockSession {
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    shared: Arc<Shared>,
    framer: LineFramer,
    phase: Phase,
    failed_logins: u32,
    cwd: VPath,
    repr: Repr,
    data: DataPlan,
    /// `EPSV ALL` was given: PORT, PASV and EPRT are refused (RFC 2428 §4).
    epsv_all: bool,
    /// The session said its last reply and closed; nothing more is written.
    closed: bool,
    /// The argument of an accepted RNFR, for the RNTO after it.
    rename_from: Option<String>,
}

/// Serves one control connection until it ends or `shutdown` is cancelled; on shutdown an
/// open session is told `421` before the connection closes.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let max_line = shared.config.max_line;
    let mut session = MockSession {
        stream,
        peer,
        local,
        shared,
        framer: LineFramer::new(max_line),
        phase: Phase::AwaitingUser,
        failed_logins: 0,
        cwd: VPath::root(),
        repr: Repr::Ascii,
        data: DataPlan::Unset,
        epsv_all: false,
        closed: false,
        rename_from: None,
    };
    let cancelled = tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = session.run() => false,
    };
    if cancelled && !session.closed {
        let bye = Reply::new(
            Code::NOT_AVAILABLE,
            "Server shutting down, closing control connection.",
        );
        let _ = tokio::time::timeout(SHUTDOWN_REPLY, session.send(&bye)).await;
        let _ = tokio::time::timeout(SHUTDOWN_REPLY, session.stream.shutdown()).await;
    }
}

impl MockSession {
    fn vfs(&self) -> MutexGuard<'_, Vfs> {
        // A panic elsewhere cannot leave the tree half-changed: every change is one insert
        // or remove. So a poisoned lock is still a usable tree.
        self.shared.vfs.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn run(&mut self) {
        let greeting = if self.shared.config.multiline_greeting {
            Reply::multi(
                Code::READY,
                "parley-mock FTP server.",
                &[
                    "  This banner is a multi-line reply (RFC 959 section 4.2):",
                    "  read up to the line that starts with the code and a space.",
                    "220-Lines may repeat the code with a hyphen,",
                    "  or not.",
                ],
                "Ready.",
            )
        } else {
            Reply::new(Code::READY, "parley-mock FTP server ready.")
        };
        if self.send(&greeting).await.is_err() {
            return;
        }
        loop {
            let flow = match self.next_input().await {
                Input::Line(line) => self.handle_line(&line).await,
                Input::TooLong => self.reply(Code::UNRECOGNIZED, "Command line too long.").await,
                Input::Flood => {
                    self.close_with(Code::NOT_AVAILABLE, "Command line never ends, closing.")
                        .await
                }
                Input::Idle => {
                    self.close_with(Code::NOT_AVAILABLE, "Idle timeout, closing control connection.")
                        .await
                }
                Input::Eof => Ok(Flow::Close),
            };
            if !matches!(flow, Ok(Flow::Continue)) {
                return;
            }
        }
    }

    /// Waits for the next line; the idle deadline covers the whole line, so a client that
    /// trickles bytes without ever ending a line is timed out too.
    async fn next_input(&mut self) -> Input {
        let now = Instant::now();
        let deadline = now
            .checked_add(self.shared.config.idle_timeout)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
        let mut buf = [0u8; 4096];
        loop {
            match self.framer.next_frame() {
                Some(CommandFrame::Line(line)) => return Input::Line(line),
                Some(CommandFrame::TooLong) => return Input::TooLong,
                Some(CommandFrame::Flood) => return Input::Flood,
                None => {}
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return Input::Idle,
                Ok(Ok(0) | Err(_)) => return Input::Eof,
                Ok(Ok(n)) => self.framer.push(&buf[..n]),
            }
        }
    }

    /// Writes one reply as the faults say, in CRLF or (fault `bare_lf`) LF lines.
    async fn send(&mut self, reply: &Reply) -> std::io::Result<()> {
        let eol: &[u8] = if self.shared.config.bare_lf {
            b"\n"
        } else {
            b"\r\n"
        };
        write_shaped(&mut self.stream, &reply.render(eol), &self.shared.config.faults).await
    }

    async fn reply(&mut self, code: Code, text: impl Into<String>) -> std::io::Result<Flow> {
        self.send(&Reply::new(code, text)).await?;
        Ok(Flow::Continue)
    }

    /// Sends a last reply and closes the control connection (after 221 and 421).
    async fn close_with(&mut self, code: Code, text: &str) -> std::io::Result<Flow> {
        self.closed = true;
        self.send(&Reply::new(code, text)).await?;
        self.stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        let _ = tokio::time::timeout(LINGER, async {
            while let Ok(1..) = self.stream.read(&mut sink).await {}
        })
        .await;
        Ok(Flow::Close)
    }

    async fn handle_line(&mut self, line: &[u8]) -> std::io::Result<Flow> {
        let line = command::strip_telnet(line);
        match command::parse(&line) {
            Err(rejection) => {
                self.send(&rejection.0).await?;
                Ok(Flow::Continue)
            }
            Ok(cmd) if cmd.needs_login() && !matches!(self.phase, Phase::LoggedIn(_)) => {
                self.reply(Code::NOT_LOGGED_IN, "Please login with USER and PASS.")
                    .await
            }
            Ok(cmd) => self.dispatch(cmd).await,
        }
    }

    async fn dispatch(&mut self, cmd: Command) -> std::io::Result<Flow> {
        match cmd {
            Command::User(name) => self.user(name).await,
            Command::Pass(password) => self.pass(password).await,
            Command::Acct => match self.phase {
                Phase::LoggedIn(_) => {
                    self.reply(Code::SUPERFLUOUS, "ACCT not needed at this site.")
                        .await
                }
                _ => {
                    self.reply(Code::BAD_SEQUENCE, "Login with USER and PASS first.")
                        .await
                }
            },
            Command::Quit => self.close_with(Code::CLOSING, "Goodbye.").await,
            Command::Noop => self.reply(Code::OK, "NOOP ok.").await,
            Command::Syst => self.reply(Code::SYSTEM_TYPE, "UNIX Type: L8").await,
            Command::Feat => {
                let feat = Reply::multi(
                    Code::SYSTEM_STATUS,
                    "Extensions supported:",
                    &[" EPRT", " EPSV"],
                    "End",
                );
                self.send(&feat).await?;
                Ok(Flow::Continue)
            }
            Command::Help(topic) => self.help(topic).await,
            Command::Pwd => {
                let text = format!("{} is the current directory.", quote_path(&self.cwd.display()));
                self.reply(Code::PATHNAME, text).await
            }
            Command::Type(repr) => {
                self.repr = repr;
                let name = match repr {
                    Repr::Ascii => "Switching to ASCII mode.",
                    Repr::Image => "Switching to Binary mode.",
                };
                self.reply(Code::OK, name).await
            }
            Command::Mode => self.reply(Code::OK, "Mode set to S.").await,
            Command::Stru => self.reply(Code::OK, "Structure set to F.").await,
            Command::Allo => {
                self.reply(Code::SUPERFLUOUS, "ALLO not needed at this site.")
                    .await
            }
            Command::Cwd(arg) => self.cwd(&arg, Code::FILE_ACTION_OK).await,
            Command::Cdup => self.cwd("..", Code::OK).await,
            Command::Port(addr) => self.active(SocketAddr::V4(addr), "PORT").await,
            Command::Eprt(addr) => self.active(addr, "EPRT").await,
            Command::Pasv => self.pasv().await,
            Command::Epsv(arg) => self.epsv(arg).await,
            Command::List(args) => self.list(args, true).await,
            Command::Nlst(args) => self.list(args, false).await,
            Command::Retr(arg) => self.retr(&arg).await,
            Command::Stor(arg) | Command::Appe(arg) => self.stor(&arg).await,
            Command::Rnfr(arg) => {
                let path = self.cwd.resolve(&arg);
                match path {
                    Ok(p) if self.may_write(&p) => {
                        self.rename_from = Some(arg);
                        self.reply(Code(350), "Ready for RNTO.").await
                    }
                    _ => self.reply(Code::FILE_UNAVAILABLE, "Permission denied.").await,
                }
            }
            Command::Rnto(_) => match self.rename_from.take() {
                None => self.reply(Code::BAD_SEQUENCE, "RNFR first.").await,
                Some(_) => {
                    self.reply(Code::NAME_NOT_ALLOWED, "Renaming is not supported here.")
                        .await
                }
            },
            Command::Stat => {
                let status = Reply::multi(
                    Code::SYSTEM_STATUS,
                    "parley-mock FTP server status:",
                    &[" Type and mode: see TYPE, MODE S, STRU F"],
                    "End of status.",
                );
                self.send(&status).await?;
                Ok(Flow::Continue)
            }
            Command::Dele(arg) => self.change(&arg, "DELE").await,
            Command::Mkd(arg) => self.change(&arg, "MKD").await,
            Command::Rmd(arg) => self.change(&arg, "RMD").await,
        }
    }

    /// USER answers 331 to every name, known or not (F-SEC-4), and starts a new login.
    async fn user(&mut self, name: String) -> std::io::Result<Flow> {
        self.phase = Phase::AwaitingPass { user: name };
        self.reply(Code::NEED_PASSWORD, "Please specify the password.")
            .await
    }

    async fn pass(&mut self, password: String) -> std::io::Result<Flow> {
        let Phase::AwaitingPass { user } = &self.phase else {
            return self.reply(Code::BAD_SEQUENCE, "Login with USER first.").await;
        };
        let config = &self.shared.config;
        let account = if config.allow_anonymous
            && (user.eq_ignore_ascii_case("anonymous") || user.eq_ignore_ascii_case("ftp"))
        {
            Some(Account::Anonymous)
        } else if *user == config.user && password == config.password {
            Some(Account::Named)
        } else {
            None
        };
        match account {
            Some(account) => {
                self.phase = Phase::LoggedIn(account);
                self.cwd = VPath::root();
                self.reply(Code::LOGGED_IN, "Login successful.").await
            }
            None => {
                self.phase = Phase::AwaitingUser;
                self.failed_logins += 1;
                let limit = self.shared.config.max_failed_logins;
                if limit != 0 && self.failed_logins >= limit {
                    self.close_with(
                        Code::NOT_AVAILABLE,
                        "Too many failed logins, closing control connection.",
                    )
                    .await
                } else {
                    self.reply(Code::NOT_LOGGED_IN, "Login incorrect.").await
                }
            }
        }
    }

    async fn help(&mut self, topic: Option<String>) -> std::io::Result<Flow> {
        match topic {
            None => {
                let lines: Vec<String> = command::IMPLEMENTED
                    .chunks(8)
                    .map(|row| format!(" {}", row.join(" ")))
                    .collect();
                let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                let help = Reply::multi(
                    Code::HELP,
                    "The following commands are recognized:",
                    &lines,
                    "Help OK.",
                );
                self.send(&help).await?;
                Ok(Flow::Continue)
            }
            Some(topic) => {
                let topic = topic.trim().to_ascii_uppercase();
                if command::IMPLEMENTED.contains(&topic.as_str()) {
                    self.reply(Code::HELP, format!("{topic} is implemented.")).await
                } else {
                    self.reply(Code::NOT_IMPLEMENTED, "No help for that: not implemented.")
                        .await
                }
            }
        }
    }

    async fn cwd(&mut self, arg: &str, ok: Code) -> std::io::Result<Flow> {
        let Ok(target) = self.cwd.resolve(arg) else {
            return self
                .reply(Code::FILE_UNAVAILABLE, "Outside the served root.")
                .await;
        };
        let checked = self.vfs().check_dir(&target);
        match checked {
            Ok(()) => {
                self.cwd = target;
                self.reply(ok, "Directory successfully changed.").await
            }
            Err(e) => self.reply(Code::FILE_UNAVAILABLE, e.text()).await,
        }
    }

    /// PORT and EPRT: the server will connect there for the next transfer, if the address
    /// is the client's own host (F-SEC-1) and not a privileged port (F-SEC-2).
    async fn active(&mut self, addr: SocketAddr, verb: &str) -> std::io::Result<Flow> {
        if self.epsv_all {
            return self
                .reply(Code::BAD_ARGUMENTS, "EPSV ALL in effect: only EPSV is allowed.")
                .await;
        }
        if !same_host(addr.ip(), self.peer.ip()) {
            let text = format!("{verb} to a third host refused (RFC 2577 section 3).");
            return self.reply(Code::NOT_FOR_PARAMETER, text).await;
        }
        if addr.port() < 1024 {
            let text = format!("{verb} to a privileged port refused (RFC 2577 section 3).");
            return self.reply(Code::NOT_FOR_PARAMETER, text).await;
        }
        self.data = if self.shared.config.refuse_data {
            DataPlan::Refused
        } else {
            DataPlan::Active(addr)
        };
        self.reply(
            Code::OK,
            format!("{verb} command successful. Consider using PASV."),
        )
        .await
    }

    /// Opens a passive listener on the control connection's local address (replacing and
    /// so closing any earlier one) and returns its port. With `refuse_data` the port is
    /// closed again at once, so a client that connects is refused.
    async fn listen(&mut self, ip: IpAddr) -> std::io::Result<u16> {
        self.data = DataPlan::Unset;
        let listener = crate::bind_any_port(ip).await?;
        let port = listener.local_addr()?.port();
        self.data = if self.shared.config.refuse_data {
            DataPlan::Refused
        } else {
            DataPlan::Passive(listener)
        };
        Ok(port)
    }

    async fn pasv(&mut self) -> std::io::Result<Flow> {
        if self.epsv_all {
            return self
                .reply(Code::BAD_ARGUMENTS, "EPSV ALL in effect: only EPSV is allowed.")
                .await;
        }
        let IpAddr::V4(ip) = self.local.ip().to_canonical() else {
            return self
                .reply(Code::NOT_IMPLEMENTED, "PASV needs IPv4; use EPSV.")
                .await;
        };
        let Ok(port) = self.listen(IpAddr::V4(ip)).await else {
            return self
                .close_with(Code::NOT_AVAILABLE, "No passive port available, closing.")
                .await;
        };
        let [h1, h2, h3, h4] = ip.octets();
        let (p1, p2) = (port >> 8, port & 0xff);
        let text = format!("Entering Passive Mode ({h1},{h2},{h3},{h4},{p1},{p2}).");
        self.reply(Code::PASSIVE, text).await
    }

    async fn epsv(&mut self, arg: EpsvArg) -> std::io::Result<Flow> {
        let ip = self.local.ip().to_canonical();
        let own = if ip.is_ipv4() { 1 } else { 2 };
        match arg {
            EpsvArg::All => {
                self.epsv_all = true;
                return self.reply(Code::OK, "EPSV ALL ok.").await;
            }
            EpsvArg::Protocol(p) if p != own => {
                let text = format!("Network protocol not supported, use ({own})");
                return self.reply(Code::PROTOCOL_NOT_SUPPORTED, text).await;
            }
            EpsvArg::Protocol(_) | EpsvArg::Default => {}
        }
        let Ok(port) = self.listen(ip).await else {
            return self
                .close_with(Code::NOT_AVAILABLE, "No passive port available, closing.")
                .await;
        };
        self.reply(
            Code::EXTENDED_PASSIVE,
            format!("Entering Extended Passive Mode (|||{port}|)"),
        )
        .await
    }

    /// LIST (`ls -l` lines) and NLST (names only); lines end in CRLF in every type.
    /// A missing path is 450, the at-once refusal 959 §5.4 gives LIST and NLST.
    async fn list(&mut self, args: ListArgs, long: bool) -> std::io::Result<Flow> {
        let target = match &args.path {
            None => Ok(self.cwd.clone()),
            Some(p) => self.cwd.resolve(p),
        };
        let Ok(target) = target else {
            return self.reply(Code::FILE_BUSY, "Outside the served root.").await;
        };
        let listed = self.vfs().list(&target, args.all);
        let entries = match listed {
            Ok(entries) => entries,
            Err(e) => return self.reply(Code::FILE_BUSY, e.text()).await,
        };
        let mut bytes = Vec::new();
        for entry in &entries {
            let line = if long {
                long_line(entry)
            } else {
                entry.name.clone()
            };
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        let what = format!("{} listing", if long { "Directory" } else { "Name" });
        self.transfer(Job::Send { what, bytes }).await
    }

    async fn retr(&mut self, arg: &str) -> std::io::Result<Flow> {
        let Ok(path) = self.cwd.resolve(arg) else {
            return self
                .reply(Code::FILE_UNAVAILABLE, "Outside the served root.")
                .await;
        };
        if let Some(len) = data::generated_len(&path) {
            let what = format!("{} ({len} bytes)", path.display());
            return self.transfer(Job::Generate { what, len }).await;
        }
        let read = self.vfs().read(&path);
        let contents = match read {
            Ok(contents) => contents,
            Err(e) => return self.reply(Code::FILE_UNAVAILABLE, e.text()).await,
        };
        let bytes = match self.repr {
            Repr::Ascii => data::to_wire_ascii(&contents),
            Repr::Image => contents.to_vec(),
        };
        let what = format!("{} ({} bytes)", path.display(), contents.len());
        self.transfer(Job::Send { what, bytes }).await
    }

    /// Whether the logged-in account may change `path`: anonymous only below `/incoming`.
    fn may_write(&self, path: &VPath) -> bool {
        match &self.phase {
            Phase::LoggedIn(Account::Named) => true,
            Phase::LoggedIn(Account::Anonymous) => {
                let c = path.components();
                c.len() >= 2 && c[0] == "incoming"
            }
            _ => false,
        }
    }

    /// STOR refusals are 553 (959 §5.4 gives STOR no 550).
    async fn stor(&mut self, arg: &str) -> std::io::Result<Flow> {
        let Ok(path) = self.cwd.resolve(arg) else {
            return self
                .reply(Code::NAME_NOT_ALLOWED, "Outside the served root.")
                .await;
        };
        if !self.may_write(&path) {
            return self
                .reply(
                    Code::NAME_NOT_ALLOWED,
                    "Permission denied: anonymous uploads go to /incoming.",
                )
                .await;
        }
        let checked = self.vfs().check_store(&path);
        if let Err(e) = checked {
            return self.reply(Code::NAME_NOT_ALLOWED, e.text()).await;
        }
        self.transfer(Job::Receive(path)).await
    }

    /// DELE, MKD and RMD: in-memory changes, refused with 550.
    async fn change(&mut self, arg: &str, verb: &str) -> std::io::Result<Flow> {
        let Ok(path) = self.cwd.resolve(arg) else {
            return self
                .reply(Code::FILE_UNAVAILABLE, "Outside the served root.")
                .await;
        };
        if !self.may_write(&path) {
            return self.reply(Code::FILE_UNAVAILABLE, "Permission denied.").await;
        }
        let done = {
            let mut vfs = self.vfs();
            match verb {
                "MKD" => vfs.mkdir(&path),
                "RMD" => vfs.rmdir(&path),
                _ => vfs.delete(&path),
            }
        };
        match (done, verb) {
            (Err(e), _) => self.reply(Code::FILE_UNAVAILABLE, e.text()).await,
            (Ok(()), "MKD") => {
                let text = format!("{} directory created.", quote_path(&path.display()));
                self.reply(Code::PATHNAME, text).await
            }
            (Ok(()), "RMD") => self.reply(Code::FILE_ACTION_OK, "Directory removed.").await,
            (Ok(()), _) => self.reply(Code::FILE_ACTION_OK, "File deleted.").await,
        }
    }

    /// The data half of LIST, NLST, RETR and STOR: 150, open the data connection (425 if
    /// it cannot be opened — never 226), move the bytes (426 if the connection breaks or
    /// stalls past the idle timeout), close it, wait `transfer_delay`, then 226.
    /// The PORT/PASV setting is used up either way (F-SEQ-4).
    async fn transfer(&mut self, job: Job) -> std::io::Result<Flow> {
        let mode = match self.repr {
            Repr::Ascii => "ASCII",
            Repr::Image => "BINARY",
        };
        let what = match &job {
            Job::Send { what, .. } | Job::Generate { what, .. } => what.clone(),
            Job::Receive(path) => path.display(),
        };
        self.reply(
            Code::OPENING_DATA,
            format!("Opening {mode} mode data connection for {what}."),
        )
        .await?;
        let plan = std::mem::take(&mut self.data);
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let stream = match plan.open(self.peer.ip(), config.data_timeout).await {
            Ok(stream) => stream,
            Err(e) => return self.reply(Code::CANT_OPEN_DATA, e.text()).await,
        };
        let stall = config.idle_timeout;
        let outcome = match job {
            Job::Send { bytes, .. } => {
                match tokio::time::timeout(stall, data::send(stream, &bytes, &config.faults)).await {
                    Ok(Ok(())) => Ok(()),
                    _ => Err((Code::TRANSFER_ABORTED, "Connection closed; transfer aborted.")),
                }
            }
            // The idle timeout bounds each write, not the whole of a large file.
            Job::Generate { len, .. } => match data::send_generated(stream, len, &config.faults, stall).await
            {
                Ok(()) => Ok(()),
                Err(_) => Err((Code::TRANSFER_ABORTED, "Connection closed; transfer aborted.")),
            },
            Job::Receive(path) => match tokio::time::timeout(stall, data::receive(stream, config.max_upload))
                .await
            {
                Ok(Ok(Received::Complete(bytes))) => {
                    let bytes = match self.repr {
                        Repr::Ascii => data::from_wire_ascii(&bytes),
                        Repr::Image => bytes,
                    };
                    let stored = self.vfs().store(&path, bytes);
                    stored.map_err(|_: FsError| {
                        (
                            Code::LOCAL_ERROR,
                            "Could not store the file: its directory is gone.",
                        )
                    })
                }
                Ok(Ok(Received::TooLarge)) => Err((Code::STORAGE_EXCEEDED, "Upload exceeds the size limit.")),
                _ => Err((Code::TRANSFER_ABORTED, "Connection closed; transfer aborted.")),
            },
        };
        match outcome {
            Ok(()) => {
                if !config.transfer_delay.is_zero() {
                    tokio::time::sleep(config.transfer_delay).await;
                }
                self.reply(Code::TRANSFER_COMPLETE, "Transfer complete.").await
            }
            Err((code, text)) => self.reply(code, text).await,
        }
    }
}
