//! FTP mock server: RFC 959 control and data connections, with the RFC 1123 §4.1
//! requirements (PASV), RFC 2428 (EPRT, EPSV), RFC 2389 (FEAT) and the RFC 2577 security
//! rules, plus fault knobs that break fragile clients.
//!
//! It is an ordinary, independent server: it shares no code with the `parley` checker.
//!
//! # Commands and replies
//!
//! USER, PASS, ACCT, CWD (XCWD), CDUP (XCUP), QUIT, PORT, PASV, EPRT, EPSV, TYPE (A, I,
//! `L 8`), MODE S, STRU F, LIST, NLST, RETR, STOR, DELE, MKD (XMKD), RMD (XRMD), PWD
//! (XPWD), SYST, FEAT, HELP, NOOP, ALLO. Every answer uses a code RFC 959 §5.4 allows
//! for the command (see [`reply::Code`]): unknown commands 500, known but unserved ones
//! (REIN, RNFR, ABOR, ...) 502, bad arguments 501, PASS without USER 503, any file or
//! transfer command before login 530, a missing file 550 (450 for LIST/NLST, 553 for
//! STOR), a transfer `150` then `226`, or `150` then `425` when the data connection
//! cannot be opened, 221 on QUIT and then the connection closes.
//!
//! `RETR /generated/<N>` sends a generated file of N bytes (`0123456789abcdef` repeated,
//! up to 64 GiB), written as it is generated, for large transfers in flat memory.
//!
//! # Users
//!
//! `anonymous` (or `ftp`) with any password, and one configured user
//! ([`FtpConfig::user`]/[`FtpConfig::password`]). USER answers 331 whatever the name
//! (F-SEC-4). Anonymous may read everything and write (STOR, MKD, DELE, RMD) only below
//! `/incoming`; the configured user may write anywhere.
//!
//! # The served tree
//!
//! [`FtpConfig::root`], by default `fixtures/ftp-root/`, is read into memory when the
//! server starts; writes change only that copy, so each server has its own and the
//! fixtures never change. The bundled tree holds `readme.txt` (the course exercise lists
//! it), `pub/` with `hello.txt`, `rfc959.txt` (LF text, for TYPE A conversion) and
//! `tiny.bin` (32 bytes including CR, LF, NUL and 0xFF, for TYPE I), and an empty
//! `incoming/` (kept by a `.keep` file, which LIST hides unless given `-a`). Paths
//! cannot leave the root (F-SEC-6); LIST lines carry a fixed date `Jan 01  2024` and
//! owner/group `ftp`, so transcripts are stable.
//!
//! # Data connections and security
//!
//! PORT/EPRT is refused (504) to a host other than the control connection's peer
//! (F-SEC-1) and to ports below 1024 (F-SEC-2); the server connects there after sending
//! 150, within [`FtpConfig::data_timeout`]. PASV/EPSV listen on the control connection's
//! local address, port chosen by the kernel (F-SEC-5); a new one replaces the last, and
//! the transfer command gets 425 if nobody connects in time. After
//! [`FtpConfig::max_failed_logins`] failed logins the server answers 421 and closes
//! (F-SEC-3); so it does after [`FtpConfig::idle_timeout`] without a complete command.
//! Command lines longer than [`FtpConfig::max_line`] get 500 once they end.

mod command;
mod data;
pub mod reply;
mod session;
mod vfs;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::CancellationToken;
use crate::faults::MockFaults;

/// FTP mock configuration. `FtpConfig::default()` is a well-behaved server on the bundled
/// tree; each other field is a knob a scenario may turn.
#[derive(Debug, Clone)]
pub struct FtpConfig {
    /// How replies (and data-connection bytes) are written: split writes, delays.
    /// Default: plain.
    pub faults: MockFaults,
    /// The directory whose tree is served, read into memory at start. Default `None`:
    /// the tree built into the crate ([`crate::bundled::FTP_ROOT`], the repository's
    /// `fixtures/ftp-root` at build time). A root that cannot be read is served as an
    /// empty tree.
    pub root: Option<PathBuf>,
    /// The configured user's name. Default `alice`.
    pub user: String,
    /// The configured user's password. Default `wonderland`.
    pub password: String,
    /// Whether `anonymous`/`ftp` may log in with any password. Default `true`.
    pub allow_anonymous: bool,
    /// Fault: greet with a multi-line `220-` banner instead of one `220` line. Default `false`.
    pub multiline_greeting: bool,
    /// Fault: end reply lines in a bare LF instead of CRLF (breaks F-RPL-5). Default `false`.
    pub bare_lf: bool,
    /// Fault: wait this long between closing the data connection and sending 226.
    /// Default zero.
    pub transfer_delay: Duration,
    /// Fault: never open or accept a data connection. PORT/EPRT are accepted but the server
    /// never connects; PASV/EPSV announce a port that is already closed again. Every
    /// transfer gets 150 then 425. Default `false`.
    pub refuse_data: bool,
    /// How long the server waits for a complete command (and for a stalled data transfer)
    /// before it answers 421 and closes. Default 60 s.
    pub idle_timeout: Duration,
    /// How long the server tries to connect (active mode) or waits for the client to
    /// connect (passive mode) after a transfer command before answering 425. Default 10 s.
    pub data_timeout: Duration,
    /// Failed logins after which the server answers 421 and closes; 0 means no limit.
    /// Default 3.
    pub max_failed_logins: u32,
    /// Longest command line in bytes, without CRLF; longer ones get 500. Default 512.
    pub max_line: usize,
    /// Largest file STOR accepts, in bytes; a larger upload gets 552. Default 16 MiB.
    pub max_upload: usize,
}

impl Default for FtpConfig {
    fn default() -> FtpConfig {
        FtpConfig {
            faults: MockFaults::default(),
            root: None,
            user: "alice".to_string(),
            password: "wonderland".to_string(),
            allow_anonymous: true,
            multiline_greeting: false,
            bare_lf: false,
            transfer_delay: Duration::ZERO,
            refuse_data: false,
            idle_timeout: Duration::from_secs(60),
            data_timeout: Duration::from_secs(10),
            max_failed_logins: 3,
            max_line: 512,
            max_upload: 16 * 1024 * 1024,
        }
    }
}

/// What every session of one server shares: the config and the in-memory tree.
#[derive(Debug)]
struct Shared {
    config: FtpConfig,
    vfs: Mutex<vfs::Vfs>,
}

/// Serves FTP on `listener` until `shutdown` is cancelled; open sessions are then told
/// 421 and closed.
pub async fn run(listener: TcpListener, config: FtpConfig, shutdown: CancellationToken) {
    let tree = match config.root.clone() {
        Some(root) => tokio::task::spawn_blocking(move || vfs::Vfs::load(&root))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
        None => vfs::Vfs::bundled(),
    };
    let shared = Arc::new(Shared {
        config,
        vfs: Mutex::new(tree),
    });
    crate::serve_connections(listener, shutdown, move |stream, peer, token| {
        session::serve(stream, peer, Arc::clone(&shared), token)
    })
    .await;
}
