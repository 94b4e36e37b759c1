//! Real servers as peers, started on free loopback ports for one test and stopped when
//! the handle drops: vsftpd (in several configurations), pyftpdlib, proftpd and Twisted
//! for FTP; nginx, lighttpd, `python3 -m http.server` and busybox httpd for HTTP; and the
//! fixture servers of `fixtures/servers/` (a correct server with one planted fault). A test declares what it needs with the [`Need`] constants here (see
//! [`crate::trials`]), so by the time one of these runs its peer is installed; anything
//! that still goes wrong (a scratch directory, a configuration file, a peer that exits or
//! never listens) panics and fails the test, never skips it.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::trials::Need;

/// vsftpd.
pub const VSFTPD: Need = Need::program("vsftpd", "apt-get install vsftpd");
/// nginx.
pub const NGINX: Need = Need::program("nginx", "apt-get install nginx-light");
/// curl.
pub const CURL: Need = Need::program("curl", "apt-get install curl");
/// lftp.
pub const LFTP: Need = Need::program("lftp", "apt-get install lftp");
/// Python 3 (http.server, http.client, ftplib, the fixture servers and programs).
pub const PYTHON3: Need = Need::program("python3", "apt-get install python3");
/// pyftpdlib.
pub const PYFTPDLIB: Need = Need::python("pyftpdlib", "python3 -m pip install pyftpdlib");
/// Twisted (its FTP server, twisted.protocols.ftp).
pub const TWISTED: Need = Need::python("twisted", "python3 -m pip install twisted");
/// proftpd (Debian's proftpd-core conflicts with vsftpd: `.ci/run` unpacks it with
/// `apt-get download proftpd-core && dpkg -x` and puts its `usr/sbin` on PATH).
pub const PROFTPD: Need = Need::program(
    "proftpd",
    "apt-get download proftpd-core && dpkg -x proftpd-core_*.deb DIR, then DIR/usr/sbin on PATH",
);
/// lighttpd.
pub const LIGHTTPD: Need = Need::program("lighttpd", "apt-get install lighttpd");
/// busybox (its httpd applet).
pub const BUSYBOX: Need = Need::program("busybox", "apt-get install busybox");
/// Running as root (a chrooted vsftpd, proftpd's anonymous chroot).
pub const ROOT: Need = Need::Root;

/// The path of `program`; it was declared as a need, so its absence is a bug of the test.
fn program(program: &str) -> PathBuf {
    crate::which(program)
        .unwrap_or_else(|| panic!("`{program}` is not on PATH: declare it as a Need of the test"))
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a scratch directory for the peer")
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// A running peer; killed on drop.
#[derive(Debug)]
pub struct Peer {
    /// What it is.
    pub name: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `cmd` and waits (with a deadline) until something accepts on `port`.
fn start(name: &'static str, mut cmd: Command, port: u16, dir: tempfile::TempDir) -> Peer {
    let log = dir.path().join(format!("{name}.log"));
    let out = std::fs::File::create(&log).expect("log file");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut peer = Peer {
        name,
        addr,
        child,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut pause = Duration::from_millis(5);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
            return peer;
        }
        if let Ok(Some(status)) = peer.child.try_wait() {
            panic!(
                "{name} exited ({status}) before listening on {addr}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not listen on {addr} within 15 s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        // Nothing to wait on but the port: poll with a growing pause.
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// vsftpd serving `root` to anonymous users, in the foreground, as the launching user,
/// without its seccomp sandbox (and so without a chroot: `CWD /etc` works).
pub fn vsftpd(root: &Path) -> Peer {
    vsftpd_with(root, "", false)
}

/// [`vsftpd`] with `extra` configuration lines (`port_enable=NO\n`). `chrooted`: run as
/// root the way a packaged vsftpd runs, so that anonymous sessions are chrooted to
/// `root` (needs root and the `ftp` user the Debian package creates).
pub fn vsftpd_with(root: &Path, extra: &str, chrooted: bool) -> Peer {
    let program = program("vsftpd");
    let dir = scratch();
    let port = free_port();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("vsftpd's secure_chroot_dir");
    let conf = dir.path().join("vsftpd.conf");
    let privilege = if chrooted {
        "run_as_launching_user=NO\nftp_username=ftp\nnopriv_user=nobody\n"
    } else {
        "run_as_launching_user=YES\n"
    };
    let text = format!(
        "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
         anonymous_enable=YES\nanon_root={root}\nno_anon_password=NO\nlocal_enable=NO\n\
         write_enable=NO\nseccomp_sandbox=NO\nbackground=NO\n{privilege}\
         connect_from_port_20=NO\npasv_enable=YES\nxferlog_enable=NO\ndirmessage_enable=NO\n\
         secure_chroot_dir={empty}\n{extra}",
        root = root.display(),
        empty = empty.display()
    );
    write(&conf, &text);
    let mut cmd = Command::new(program);
    cmd.arg(&conf);
    start("vsftpd", cmd, port, dir)
}

/// proftpd (1.3.8, as Debian builds it) serving `root` to anonymous users, read-only:
/// standalone, in the foreground, with its own user and group files (the anonymous
/// session runs as `nobody` and is chrooted to `root`, which needs root). Its login
/// delay (mod_delay) is off so that a session takes as long as with vsftpd.
pub fn proftpd(root: &Path) -> Peer {
    let program = program("proftpd");
    let dir = scratch();
    let port = free_port();
    let d = dir.path();
    let passwd = d.join("passwd");
    let group = d.join("group");
    write(
        &passwd,
        &format!("ftpanon:x:65534:65534::{}:/bin/sh\n", root.display()),
    );
    write(&group, "ftpanon:x:65534:\n");
    for f in [&passwd, &group] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600))
            .expect("proftpd refuses world-readable user files");
    }
    let conf = d.join("proftpd.conf");
    let text = format!(
        "ServerName \"parley proftpd\"\nServerType standalone\nDefaultServer on\nPort {port}\n\
         DefaultAddress 127.0.0.1\nSocketBindTight on\nUseIPv6 off\nUser root\nGroup root\n\
         PidFile {d}/proftpd.pid\nScoreboardFile {d}/proftpd.scoreboard\nDelayEngine off\n\
         WtmpLog off\nUseReverseDNS off\nTransferLog none\nSystemLog {d}/system.log\n\
         AuthOrder mod_auth_file.c\nAuthUserFile {passwd}\nAuthGroupFile {group}\nRequireValidShell off\n\
         <Anonymous {root}>\n  User ftpanon\n  Group ftpanon\n  UserAlias anonymous ftpanon\n\
         RequireValidShell off\n  <Limit WRITE>\n    DenyAll\n  </Limit>\n</Anonymous>\n",
        d = d.display(),
        passwd = passwd.display(),
        group = group.display(),
        root = root.display()
    );
    write(&conf, &text);
    let mut cmd = Command::new(program);
    cmd.arg("-n").arg("-q").arg("-c").arg(&conf);
    start("proftpd", cmd, port, dir)
}

/// A Python server of `fixtures/servers/` (`SCRIPT PORT ROOT ARGS...` or, for
/// faulty_ftpd.py, `--port PORT --root ROOT ARGS...`).
pub fn fixture_server(name: &'static str, script: &str, root: &Path, args: &[&str]) -> Peer {
    let dir = scratch();
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.arg(fixture("servers").join(script));
    if script == "faulty_ftpd.py" {
        cmd.arg("--port").arg(port.to_string()).arg("--root").arg(root);
    } else {
        cmd.arg(port.to_string()).arg(root);
    }
    cmd.args(args);
    start(name, cmd, port, dir)
}

/// lighttpd serving `root`, in the foreground.
pub fn lighttpd(root: &Path) -> Peer {
    let program = program("lighttpd");
    let dir = scratch();
    let port = free_port();
    let conf = dir.path().join("lighttpd.conf");
    let text = format!(
        "server.document-root = \"{root}\"\nserver.port = {port}\nserver.bind = \"127.0.0.1\"\n\
         server.errorlog = \"{d}/error.log\"\nindex-file.names = ( \"index.html\" )\n\
         mimetype.assign = ( \".txt\" => \"text/plain\", \".html\" => \"text/html\", \
         \".json\" => \"application/json\", \".png\" => \"image/png\" )\n",
        root = root.display(),
        d = dir.path().display()
    );
    write(&conf, &text);
    let mut cmd = Command::new(program);
    cmd.arg("-D").arg("-f").arg(&conf);
    start("lighttpd", cmd, port, dir)
}

/// busybox's httpd serving `root`, in the foreground.
pub fn busybox_httpd(root: &Path) -> Peer {
    let program = program("busybox");
    let dir = scratch();
    let port = free_port();
    let mut cmd = Command::new(program);
    cmd.args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
        .arg(root);
    start("busybox httpd", cmd, port, dir)
}

/// pyftpdlib serving `root` read-only to anonymous users.
pub fn pyftpdlib(root: &Path) -> Peer {
    let dir = scratch();
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.args([
        "-m",
        "pyftpdlib",
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-d",
    ])
    .arg(root);
    start("pyftpdlib", cmd, port, dir)
}

/// nginx serving `root`, configured in a temporary prefix.
pub fn nginx(root: &Path) -> Peer {
    nginx_with(root, "")
}

/// nginx serving `root`, with `extra` added inside its `server` block (e.g. a `location`).
pub fn nginx_with(root: &Path, extra: &str) -> Peer {
    let program = program("nginx");
    let dir = scratch();
    let port = free_port();
    let prefix = dir.path();
    let conf = prefix.join("nginx.conf");
    let text = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\n\
         error_log {p}/error.log;\nevents {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
         fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
         types {{ text/html html; text/plain txt; application/json json; image/png png; }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    root {root};\n{extra}\n  }}\n}}\n",
        p = prefix.display(),
        root = root.display()
    );
    write(&conf, &text);
    let mut cmd = Command::new(program);
    cmd.arg("-p").arg(prefix).arg("-c").arg(&conf);
    start("nginx", cmd, port, dir)
}

/// `python3 -m http.server` serving `root`.
pub fn python_http_server(root: &Path) -> Peer {
    let dir = scratch();
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.args([
        "-m",
        "http.server",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--directory",
    ])
    .arg(root);
    start("python3 -m http.server", cmd, port, dir)
}

/// `fixtures/<name>` of the repository.
pub fn fixture(name: &str) -> PathBuf {
    crate::fixtures_dir().join(name)
}
