//! `--snapshot DIR` and `parley review DIR` end to end, through the binary.
//!
//! Against real servers (vsftpd, nginx) and a client program graded by parley: record,
//! rerun with no file changed, change one setting of the peer, see exactly the bytes that
//! changed (exit 1, rule S-SNAPSHOT), accept with `parley review DIR --accept-all`, rerun
//! clean. The servers are started here on free loopback ports (restarted on the same
//! port with the changed setting); a missing one skips its test with a message, or fails
//! it naming the program under `PARLEY_REQUIRE_PEERS=1` (as CI runs). Then `review`'s
//! flags, its refusal without a terminal, and its questions on one (a pseudo-terminal
//! driven by Python's `pty`).
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use parley::report::snapshot::{DiffLine, diff};
use parley::snapshot::SnapFile;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn parley(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("parley runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn pending(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_keys()
        .filter(|p| p.to_string_lossy().ends_with(".snap.new"))
        .collect()
}

/// The lines a pending snapshot removes from and adds to the stored one.
fn changes(pending: &Path) -> (Vec<String>, Vec<String>) {
    let new = SnapFile::read(pending).unwrap();
    let old = SnapFile::read(&parley::snapshot::stored_path(pending)).unwrap();
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for line in diff(&old.contents, &new.contents, 0) {
        match line {
            DiffLine::Removed(l) => removed.push(l.trim_start().to_string()),
            DiffLine::Added(l) => added.push(l.trim_start().to_string()),
            _ => {}
        }
    }
    (removed, added)
}

// ---------------------------------------------------------------------------------------
// Real peers, started here so that one setting can change between two runs.

fn peers_required() -> bool {
    std::env::var("PARLEY_REQUIRE_PEERS").is_ok_and(|v| v == "1" || v == "true")
}

/// The program's path; `None` (the test is skipped, with a message) when it is not
/// installed, a panic naming it under `PARLEY_REQUIRE_PEERS=1`.
fn program(name: &str, install: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            !peers_required(),
            "PARLEY_REQUIRE_PEERS=1 but `{name}` is not installed ({install})"
        );
        eprintln!(
            "SKIPPED: `{name}` is not installed ({install}); set PARLEY_REQUIRE_PEERS=1 to fail instead"
        );
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A server started for one test, stopped on drop.
struct Server {
    name: &'static str,
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    program: PathBuf,
}

impl Server {
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts it with the configuration `conf` (written to its directory) and waits,
    /// with a deadline, until it accepts connections.
    fn start(&mut self, conf: &str, args: &[&str]) {
        self.stop();
        let conf_path = self.dir.path().join("server.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = self.dir.path().join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(&self.program);
        for a in args {
            cmd.arg(match *a {
                "{conf}" => path(&conf_path),
                "{dir}" => path(self.dir.path()),
                other => other,
            });
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.name));
        let addr: SocketAddr = self.addr().parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut pause = Duration::from_millis(5);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{} exited ({status}) before listening on {addr}:\n{}",
                    self.name,
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {addr} within 15 s",
                self.name
            );
            // Nothing to wait on but the port: poll with a growing pause.
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
        self.child = Some(child);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn vsftpd() -> Option<Server> {
    let program = program("vsftpd", "apt-get install vsftpd")?;
    Some(Server {
        name: "vsftpd",
        port: free_port(),
        child: None,
        dir: tempfile::tempdir().unwrap(),
        program,
    })
}

fn vsftpd_conf(s: &Server, extra: &str) -> String {
    let empty = s.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    format!(
        "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
         anonymous_enable=YES\nanon_root={root}\nno_anon_password=NO\nlocal_enable=NO\n\
         write_enable=NO\nseccomp_sandbox=NO\nbackground=NO\nrun_as_launching_user=YES\n\
         connect_from_port_20=NO\npasv_enable=YES\nxferlog_enable=NO\ndirmessage_enable=NO\n\
         secure_chroot_dir={empty}\n{extra}",
        port = s.port,
        root = root().join("fixtures/ftp-root").display(),
        empty = empty.display(),
    )
}

fn nginx() -> Option<Server> {
    let program = program("nginx", "apt-get install nginx-light")?;
    Some(Server {
        name: "nginx",
        port: free_port(),
        child: None,
        dir: tempfile::tempdir().unwrap(),
        program,
    })
}

fn nginx_conf(s: &Server, extra: &str) -> String {
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\n\
         error_log {p}/error.log;\nevents {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
         fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
         types {{ text/html html; text/plain txt; application/json json; image/png png; }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    {extra}\n  }}\n}}\n",
        p = s.dir.path().display(),
        port = s.port,
        root = root().join("fixtures/www").display(),
    )
}

fn scenario_count(dir: &str) -> usize {
    std::fs::read_dir(root().join(dir))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.ends_with(".yaml") && !name.starts_with('_')
        })
        .count()
}

/// How many scenarios of `dir` are tagged `security`.
fn security_count(dir: &str) -> usize {
    std::fs::read_dir(root().join(dir))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .any(|l| l.starts_with("tags:") && l.contains("security"))
        })
        .count()
}

/// The whole story of one peer: `run` records (exit 0), reruns with no file changed,
/// `change()` alters the peer, the run exits 1 with one pending file per changed scenario
/// (checked by `expect`) and the stored ones untouched, `review --accept-all` stores them,
/// and the run is clean again.
fn upgrade_story(
    run: &[&str],
    dir: &Path,
    recorded: usize,
    change: impl FnOnce(),
    expect: impl FnOnce(&[PathBuf], &str),
) {
    // The flags go right after the subcommand and its scenario (before a `--`).
    let mut args: Vec<&str> = run[..2].to_vec();
    args.extend(["--snapshot", path(dir), "--color", "never"]);
    args.extend(&run[2..]);
    let first = parley(&args);
    let out = text(&first);
    assert_eq!(code(&first), 0, "{out}");
    assert!(out.contains(&format!("{recorded} recorded, 0 changed")), "{out}");
    let stored = files(dir);
    assert_eq!(stored.len(), recorded, "one file per run: {:?}", stored.keys());

    let again = parley(&args);
    let out = text(&again);
    assert_eq!(code(&again), 0, "{out}");
    assert!(
        out.contains(&format!("{recorded} unchanged, 0 recorded, 0 changed")),
        "{out}"
    );
    assert_eq!(files(dir), stored, "the second run changes no file");

    change();
    let changed = parley(&args);
    let out = text(&changed);
    assert_eq!(code(&changed), 1, "{out}");
    assert!(out.contains("S-SNAPSHOT error"), "{out}");
    let new = pending(dir);
    assert!(!new.is_empty(), "{out}");
    for (p, bytes) in &stored {
        assert_eq!(
            &std::fs::read(p).unwrap(),
            bytes,
            "{} is left as it was",
            p.display()
        );
    }
    expect(&new, &out);
    let accepted: Vec<Vec<u8>> = new.iter().map(|p| std::fs::read(p).unwrap()).collect();

    let review = parley(&["review", path(dir), "--accept-all"]);
    let out = text(&review);
    assert_eq!(code(&review), 0, "{out}");
    assert!(
        out.contains(&format!("{} accepted, 0 rejected, 0 skipped", new.len())),
        "{out}"
    );
    assert!(pending(dir).is_empty(), "{out}");
    for (p, bytes) in new.iter().zip(&accepted) {
        assert_eq!(
            &std::fs::read(parley::snapshot::stored_path(p)).unwrap(),
            bytes,
            "the accepted snapshot is the pending one"
        );
    }

    let after = files(dir);
    let clean = parley(&args);
    let out = text(&clean);
    assert_eq!(code(&clean), 0, "{out}");
    assert!(
        out.contains(&format!("{recorded} unchanged, 0 recorded, 0 changed")),
        "{out}"
    );
    assert_eq!(files(dir), after, "the clean run changes no file");
}

#[test]
fn vsftpd_with_ascii_download_enable_changes_exactly_the_ascii_transfer() {
    let Some(mut server) = vsftpd() else {
        return;
    };
    server.start(&vsftpd_conf(&server, ""), &["{conf}"]);
    let dir = tempfile::tempdir().unwrap();
    let target = format!("ftp={}", server.addr());
    let upgraded = vsftpd_conf(&server, "ascii_download_enable=YES\n");
    let snap_dir = path(dir.path()).to_string();
    // The security scenarios are left out: vsftpd fails two of them (docs/matrix.md), and
    // the story needs a clean first run.
    let ftp = scenario_count("scenarios/ftp") - security_count("scenarios/ftp");
    upgrade_story(
        &[
            "run",
            "scenarios/ftp",
            "--filter",
            "not tag:security",
            "--target",
            &target,
        ],
        dir.path(),
        ftp,
        || server.start(&upgraded, &["{conf}"]),
        |new, out| {
            // Only the TYPE A download changes: its bytes go from LF to CRLF, and vsftpd
            // now announces the transfer in ASCII mode (it said BINARY while it did not
            // convert). Nothing else in the other conversations moves.
            let names: Vec<String> = new
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
                .collect();
            assert_eq!(names, ["ftp__type.snap.new"], "{out}");
            let (removed, added) = changes(&new[0]);
            assert_eq!(
                removed,
                [
                    r#"[main] S> "150 Opening BINARY mode data connection for pub/hello.txt (12 bytes).\r\n"#,
                    r#"[data] S> "Hello, FTP!\n""#,
                ],
                "{out}"
            );
            assert_eq!(
                added,
                [
                    r#"[main] S> "150 Opening ASCII mode data connection for pub/hello.txt (12 bytes).\r\n"#,
                    r#"[data] S> "Hello, FTP!\r\n""#,
                ],
                "{out}"
            );
            // The report shows the same as a unified diff, CR/LF visible.
            assert!(out.contains(r#"-[data] S> "Hello, FTP!\n""#), "{out}");
            assert!(out.contains(r#"+[data] S> "Hello, FTP!\r\n""#), "{out}");
            assert!(out.contains("@@ -"), "{out}");
            assert!(out.contains("changed  ftp::type"), "{out}");
            // README.md shows this run's output, its passing lines left out: line for
            // line, times aside.
            let shown = readme_block("restart it, and\nrun the same command:");
            let printed: String = out
                .lines()
                .skip_while(|l| !l.starts_with("FAIL"))
                .filter(|l| !l.starts_with("ok    "))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .replace(&snap_dir, "snapshots/vsftpd");
            assert_eq!(
                without_times(&printed).trim_end(),
                without_times(&shown).trim_end(),
                "README.md shows another output than vsftpd gives (left: this run)"
            );
        },
    );
}

/// The first ```text block of README.md after `after`.
fn readme_block(after: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find(after)
        .unwrap_or_else(|| panic!("README.md has no {after:?}"));
    let rest = &readme[start..];
    let open = rest.find("```text\n").expect("a text block follows") + "```text\n".len();
    let close = rest[open..].find("```").expect("the block ends") + open;
    rest[open..close].to_string()
}

/// `text` with its times (and the alignment before them) blanked.
fn without_times(text: &str) -> String {
    let times = regex::Regex::new(r" +[0-9]+(\.[0-9]+)? ?(ms|s|µs)\b").unwrap();
    times.replace_all(text, " [time]").into_owned()
}

#[test]
fn nginx_with_a_charset_changes_exactly_the_content_type_lines() {
    let Some(mut server) = nginx() else {
        return;
    };
    server.start(&nginx_conf(&server, ""), &["-p", "{dir}", "-c", "{conf}"]);
    let dir = tempfile::tempdir().unwrap();
    let target = format!("http={}", server.addr());
    let upgraded = nginx_conf(&server, "charset utf-8;");
    let origin = scenario_count("scenarios/http/origin");
    upgrade_story(
        &["run", "scenarios/http/origin", "--target", &target],
        dir.path(),
        origin,
        || server.start(&upgraded, &["-p", "{dir}", "-c", "{conf}"]),
        |new, out| {
            // Every response carries a Content-Type; each gains `; charset=utf-8`, and
            // that is the only line that changes in any of them.
            assert_eq!(new.len(), origin, "{out}");
            for p in new {
                let (removed, added) = changes(p);
                assert_eq!(removed.len(), 1, "{}: {removed:?}", p.display());
                assert_eq!(added.len(), 1, "{}: {added:?}", p.display());
                let before = removed[0].strip_suffix("\\r\\n").unwrap();
                assert!(before.starts_with("Content-Type: text/"), "{before}");
                assert_eq!(added[0], format!("{before}; charset=utf-8\\r\\n"));
            }
        },
    );
}

#[test]
fn a_graded_client_that_changes_its_user_agent_shows_exactly_that_line() {
    let Some(python) = program("python3", "apt-get install python3") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let client = work.path().join("get.py");
    let good = root().join("fixtures/programs/http-get/good.py");
    std::fs::copy(&good, &client).unwrap();
    let dir = work.path().join("snapshots");
    let scenario = "scenarios/grading/http-get.yaml";
    upgrade_story(
        &[
            "grade",
            scenario,
            "--",
            path(&python),
            path(&client),
            "{host}",
            "{port}",
        ],
        &dir,
        2, // the plain run and the split-response variant
        || {
            let source = std::fs::read_to_string(&good).unwrap();
            let newer = source.replace("parley-fixture/1.0", "parley-fixture/2.0");
            assert_ne!(newer, source);
            std::fs::write(&client, newer).unwrap();
        },
        |new, out| {
            let names: Vec<String> = new
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
                .collect();
            assert_eq!(
                names,
                [
                    "grading__http-get.snap.new",
                    "grading__http-get@split-response.snap.new"
                ],
                "{out}"
            );
            for p in new {
                assert_eq!(
                    changes(p),
                    (
                        vec![r"User-Agent: parley-fixture/1.0\r\n".to_string()],
                        vec![r"User-Agent: parley-fixture/2.0\r\n".to_string()]
                    ),
                    "{}",
                    p.display()
                );
            }
            assert!(out.contains("find what changed in the client"), "{out}");
        },
    );
}

// ---------------------------------------------------------------------------------------
// Against the bundled mocks: what differs is made by editing a stored snapshot.

/// Records `scenarios/echo` in a fresh DIR, then edits `count` stored snapshots so that
/// the next run differs from each, and runs again: `count` pending files.
fn echo_with_pending(count: usize) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let args = ["run", "scenarios/echo", "--snapshot", path(dir.path())];
    assert_eq!(code(&parley(&args)), 0);
    let stored: Vec<PathBuf> = files(dir.path()).into_keys().collect();
    for p in stored.iter().take(count) {
        // A line the next run will not have, first in the text (after the header).
        let text = std::fs::read_to_string(p).unwrap();
        let at = text[4..].find("---\n").unwrap() + 8;
        std::fs::write(p, format!("{}(edited line)\n{}", &text[..at], &text[at..])).unwrap();
    }
    let o = parley(&args);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let new = pending(dir.path());
    assert_eq!(new.len(), count);
    (dir, new)
}

#[test]
fn review_without_a_terminal_or_a_flag_exits_2_and_names_the_flags() {
    let (dir, new) = echo_with_pending(1);
    let before = files(dir.path());
    let o = parley(&["review", path(dir.path())]);
    let out = text(&o);
    assert_eq!(code(&o), 2, "{out}");
    assert!(out.contains("stdin is not"), "{out}");
    assert!(
        out.contains("--accept-all") && out.contains("--reject-all"),
        "{out}"
    );
    assert_eq!(files(dir.path()), before, "nothing is touched");
    assert!(new[0].exists());
}

#[test]
fn review_reject_all_removes_the_pending_snapshots_and_keeps_the_stored_ones() {
    let (dir, new) = echo_with_pending(2);
    let stored: Vec<Vec<u8>> = new
        .iter()
        .map(|p| std::fs::read(parley::snapshot::stored_path(p)).unwrap())
        .collect();
    let o = parley(&["review", path(dir.path()), "--reject-all"]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("0 accepted, 2 rejected, 0 skipped"), "{out}");
    assert_eq!(out.matches("rejected ").count(), 2, "{out}");
    assert!(pending(dir.path()).is_empty());
    for (p, bytes) in new.iter().zip(stored) {
        assert_eq!(std::fs::read(parley::snapshot::stored_path(p)).unwrap(), bytes);
    }
}

#[test]
fn review_accept_all_and_reject_all_together_is_a_usage_error() {
    let (dir, _) = echo_with_pending(1);
    let o = parley(&["review", path(dir.path()), "--accept-all", "--reject-all"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert_eq!(pending(dir.path()).len(), 1);
}

#[test]
fn review_of_a_directory_that_is_not_there_exits_2_and_one_with_nothing_pending_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let o = parley(&["review", path(&missing), "--accept-all"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("not a directory"), "{}", text(&o));
    let o = parley(&["review", path(dir.path()), "--accept-all"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("no pending snapshots"), "{}", text(&o));
}

/// Drives `parley review DIR` on a pseudo-terminal (Python's `pty`), answering each
/// prompt in turn; returns what the terminal showed and the exit code.
fn review_on_a_terminal(dir: &Path, answers: &[&str]) -> Option<(String, i32)> {
    let python = program("python3", "apt-get install python3")?;
    let driver = r#"
import os, pty, select, sys
binary, directory, answers = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "review", directory, "--color", "never"])
shown, sent = b"", 0
while True:
    ready, _, _ = select.select([fd], [], [], 30)
    if not ready:
        sys.stderr.write("no output for 30 s\n")
        os.kill(pid, 9)
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    shown += data
    if sent < len(answers) and shown.count(b"(q)? ") > sent:
        os.write(fd, answers[sent].encode() + b"\n")
        sent += 1
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let o = Command::new(python)
        .arg("-c")
        .arg(driver)
        .arg(env!("CARGO_BIN_EXE_parley"))
        .arg(dir)
        .args(answers)
        .env_remove("NO_COLOR")
        .output()
        .expect("python3 runs");
    Some((text(&o), code(&o)))
}

#[test]
fn review_on_a_terminal_shows_each_diff_and_asks_accept_reject_or_skip() {
    let (dir, new) = echo_with_pending(3);
    let stored_before: Vec<Vec<u8>> = new
        .iter()
        .map(|p| std::fs::read(parley::snapshot::stored_path(p)).unwrap())
        .collect();
    let pending_bytes: Vec<Vec<u8>> = new.iter().map(|p| std::fs::read(p).unwrap()).collect();
    // An answer it does not know is asked again; then accept, reject, skip.
    let Some((shown, exit)) = review_on_a_terminal(dir.path(), &["maybe", "a", "r", "s"]) else {
        return;
    };
    assert_eq!(exit, 0, "{shown}");
    assert!(shown.contains("[1/3]") && shown.contains("[3/3]"), "{shown}");
    assert!(shown.contains("`maybe`: answer a, r, s or q"), "{shown}");
    assert!(shown.contains("-(edited line)"), "the diff is shown: {shown}");
    assert!(shown.contains("1 accepted, 1 rejected, 1 skipped"), "{shown}");
    let stored = |i: usize| std::fs::read(parley::snapshot::stored_path(&new[i])).unwrap();
    assert_eq!(stored(0), pending_bytes[0], "accepted");
    assert!(!new[0].exists());
    assert_eq!(stored(1), stored_before[1], "rejected: the stored one stays");
    assert!(!new[1].exists());
    assert_eq!(stored(2), stored_before[2], "skipped");
    assert_eq!(std::fs::read(&new[2]).unwrap(), pending_bytes[2], "still pending");
}

#[test]
fn review_on_a_terminal_skips_the_rest_on_q_or_at_the_end_of_input() {
    let (dir, new) = echo_with_pending(2);
    let Some((shown, exit)) = review_on_a_terminal(dir.path(), &["q"]) else {
        return;
    };
    assert_eq!(exit, 0, "{shown}");
    assert!(shown.contains("0 accepted, 0 rejected, 2 skipped"), "{shown}");
    assert!(new.iter().all(|p| p.exists()));
}

#[test]
fn run_accept_stores_the_new_snapshot_instead_of_failing() {
    let (dir, new) = echo_with_pending(1);
    let o = parley(&[
        "run",
        "scenarios/echo",
        "--snapshot",
        path(dir.path()),
        "--accept",
    ]);
    let out = text(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("1 accepted"), "{out}");
    assert!(!new[0].exists(), "the pending file is gone");
    let stored = std::fs::read_to_string(parley::snapshot::stored_path(&new[0])).unwrap();
    assert!(!stored.contains("(edited line)"), "{stored}");
    let o = parley(&["run", "scenarios/echo", "--snapshot", path(dir.path())]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn a_difference_is_an_s_snapshot_finding_in_the_json_report_and_coloured_on_request() {
    let (dir, _) = echo_with_pending(1);
    let report = dir.path().join("report.json");
    let o = parley(&[
        "run",
        "scenarios/echo",
        "--snapshot",
        path(dir.path()),
        "--color",
        "always",
        "--report",
        &format!("json={}", path(&report)),
    ]);
    let out = text(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(
        out.contains("\u{1b}[31m-(edited line)"),
        "a red removed line: {out}"
    );
    let json = std::fs::read_to_string(&report).unwrap();
    assert!(json.contains("\"rule\": \"S-SNAPSHOT\""), "{json}");
    let plain = parley(&[
        "run",
        "scenarios/echo",
        "--snapshot",
        path(dir.path()),
        "--color",
        "never",
    ]);
    assert!(!text(&plain).contains('\u{1b}'), "{}", text(&plain));
}

#[test]
fn redactions_from_the_command_line_and_the_scenario_are_applied_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("greet.yaml");
    std::fs::write(
        &file,
        "name: a greeting\nprotocol: echo\n\
         redact:\n  - { regex: 'hello, (\\w+)', replacement: 'hello, [$1 redacted]' }\n\
         steps:\n  - client: \"hello, parley\\r\\n\"\n  - server: \"hello, parley\\r\\n\"\n",
    )
    .unwrap();
    let snaps = dir.path().join("snaps");
    let o = parley(&[
        "run",
        path(&file),
        "--snapshot",
        path(&snaps),
        "--redact",
        r"\[parley redacted\]=[name]",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let stored = files(&snaps);
    let (_, bytes) = stored.iter().next().unwrap();
    let text = String::from_utf8_lossy(bytes);
    assert!(text.contains(r#"[main] C> "hello, [name]\r\n""#), "{text}");
    assert!(!text.contains("parley\\r"), "{text}");
}

#[test]
fn snapshot_flags_are_checked_before_anything_runs() {
    let o = parley(&["run", "scenarios/echo", "--accept"]);
    assert_eq!(code(&o), 2, "--accept needs --snapshot: {}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let o = parley(&[
        "run",
        "scenarios/echo",
        "--snapshot",
        path(dir.path()),
        "--redact",
        "(=x",
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("invalid regular expression"), "{}", text(&o));
    let o = parley(&[
        "run",
        "scenarios/echo",
        "--snapshot",
        path(dir.path()),
        "--redact",
        "nothing",
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("REGEX=TEXT"), "{}", text(&o));
    assert!(files(dir.path()).is_empty(), "nothing was played");
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let o = parley(&["run", "scenarios/echo", "--snapshot", path(&not_a_dir)]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

#[test]
fn grading_a_class_keeps_a_folder_of_snapshots_per_submission() {
    let Some(python) = program("python3", "apt-get install python3") else {
        return;
    };
    let class = tempfile::tempdir().unwrap();
    for name in ["alice", "bob"] {
        let sub = class.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::copy(
            root().join("fixtures/programs/http-get/good.py"),
            sub.join("get.py"),
        )
        .unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let snaps = out.path().join("snaps");
    let cmd = format!("{} {{dir}}/get.py {{host}} {{port}}", path(&python));
    let o = parley(&[
        "grade",
        "scenarios/grading/http-get.yaml",
        "--no-variants",
        "--submissions",
        path(class.path()),
        "--cmd",
        &cmd,
        "--snapshot",
        path(&snaps),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let names: Vec<String> = files(&snaps)
        .into_keys()
        .map(|p| p.strip_prefix(&snaps).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        ["alice/grading__http-get.snap", "bob/grading__http-get.snap"]
    );
}
