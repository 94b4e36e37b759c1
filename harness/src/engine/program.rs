//! A program under test: started in its own process group with `{host}`/`{port}` filled
//! in, fed its stdin, its output captured (bounded), and stopped — SIGTERM to the whole
//! group, then SIGKILL after a grace period — so nothing is left behind.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// How much of stdout is kept (from the start).
pub const STDOUT_KEPT: usize = 1024 * 1024;
/// How much of stderr is kept (the end).
pub const STDERR_KEPT: usize = 16 * 1024;

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct ProgramSpec {
    /// Program and arguments, placeholders already filled in.
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Bytes written to its stdin, which is then closed; `None` closes it at once.
    pub stdin: Option<Vec<u8>>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
}

/// Fills `{host}`, `{port}`, `{dir}` (and any other `{name}` given) into each argument.
pub fn fill(argv: &[String], values: &[(&str, &str)]) -> Vec<String> {
    argv.iter()
        .map(|arg| {
            let mut out = arg.clone();
            for (name, value) in values {
                out = out.replace(&format!("{{{name}}}"), value);
            }
            out
        })
        .collect()
}

/// Splits a command line the way a POSIX shell would (quotes, escapes), without a shell.
pub fn split_command(line: &str) -> Option<Vec<String>> {
    shlex::split(line).filter(|v| !v.is_empty())
}

#[derive(Debug, Default)]
struct Captured {
    bytes: Vec<u8>,
    total: usize,
}

/// What a program did.
#[derive(Debug, Clone, Default)]
pub struct ProgramReport {
    /// Its exit status, when it exited.
    pub status: Option<ExitStatus>,
    /// The first [`STDOUT_KEPT`] bytes of stdout.
    pub stdout: Vec<u8>,
    /// All stdout bytes, counted.
    pub stdout_total: usize,
    /// The last [`STDERR_KEPT`] bytes of stderr.
    pub stderr: Vec<u8>,
    /// All stderr bytes, counted.
    pub stderr_total: usize,
    /// parley had to stop it (it had not exited by itself).
    pub stopped: bool,
    /// It ignored SIGTERM and was killed.
    pub killed: bool,
}

impl ProgramReport {
    /// `exit status 0`, `killed by signal 9`, `still running`; for a program parley
    /// stopped, `stopped by parley (SIGTERM)` or `(SIGKILL, ...)`, whatever its last
    /// moments looked like (they are parley's doing, and vary from run to run).
    pub fn describe_status(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        if self.stopped {
            return if self.killed {
                "stopped by parley (SIGKILL: it ignored SIGTERM)".to_string()
            } else {
                "stopped by parley (SIGTERM)".to_string()
            };
        }
        match self.status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("exit status {code}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                _ => "ended".to_string(),
            },
            None => "still running".to_string(),
        }
    }

    /// The end of stderr as text, at most `lines` lines.
    pub fn stderr_tail(&self, lines: usize) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The process group a child started with `process_group(0)` leads, from its process id
/// (`None` once it has been reaped). Never 0 or 1, nor what does not fit a pid:
/// `killpg(0)` signals the caller's own group and `killpg(1)` init's, so an id that is
/// missing never becomes one of them.
fn group_of(id: Option<u32>) -> Option<i32> {
    id.and_then(|id| i32::try_from(id).ok()).filter(|id| *id > 1)
}

/// Sends `signal` to process group `pgid` (a program's, [`Program::pid`]); never to a
/// group id of 0 or 1 (parley's own group, every process).
pub fn signal_group(pgid: i32, signal: Signal) {
    if pgid > 1 {
        let _ = killpg(Pid::from_raw(pgid), signal);
    }
}

/// A running program.
#[derive(Debug)]
pub struct Program {
    child: Child,
    pgid: i32,
    stdout: Arc<Mutex<Captured>>,
    stderr: Arc<Mutex<Captured>>,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
    // --- isolation (engine/sandbox): begin
    /// In a sandbox: kills what the program started outside its process group too.
    reaper: Option<super::sandbox::Reaper>,
    // --- isolation: end
}

fn capture<R: AsyncRead + Unpin + Send + 'static>(
    mut r: R,
    into: Arc<Mutex<Captured>>,
    keep_tail: bool,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            match r.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut c = into.lock().unwrap_or_else(|p| p.into_inner());
                    c.total += n;
                    if keep_tail {
                        c.bytes.extend_from_slice(&chunk[..n]);
                        let excess = c.bytes.len().saturating_sub(STDERR_KEPT);
                        if excess > 0 {
                            c.bytes.drain(..excess);
                        }
                    } else {
                        let room = STDOUT_KEPT.saturating_sub(c.bytes.len());
                        c.bytes.extend_from_slice(&chunk[..n.min(room)]);
                    }
                }
            }
        }
    })
}

impl Program {
    /// Starts the program in a new process group.
    pub fn spawn(spec: &ProgramSpec) -> std::io::Result<Program> {
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &spec.cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn()?;
        let pid = group_of(child.id())
            .ok_or_else(|| std::io::Error::other("the program exited before its process id could be read"))?;
        let stdout = Arc::new(Mutex::new(Captured::default()));
        let stderr = Arc::new(Mutex::new(Captured::default()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(capture(out, Arc::clone(&stdout), false));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(capture(err, Arc::clone(&stderr), true));
        }
        if let Some(mut stdin) = child.stdin.take() {
            let input = spec.stdin.clone().unwrap_or_default();
            // A program that never reads its stdin must not block parley.
            tokio::spawn(async move {
                let _ = stdin.write_all(&input).await;
                let _ = stdin.shutdown().await;
            });
        }
        Ok(Program {
            child,
            pgid: pid,
            stdout,
            stderr,
            readers,
            status: None,
            reaper: None,
        })
    }

    // --- isolation (engine/sandbox): begin
    /// Makes stopping the program kill every process of its sandbox as well (a
    /// descendant that called `setsid()` has left the process group).
    pub(crate) fn reap_with(&mut self, reaper: super::sandbox::Reaper) {
        self.reaper = Some(reaper);
    }
    // --- isolation: end

    /// The process id (and process group id).
    pub fn pid(&self) -> i32 {
        self.pgid
    }

    /// Its exit status if it has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits until it exits (cancel-safe).
    pub async fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.wait().await.ok();
        }
        self.status
    }

    /// Lets it finish within `grace`, else SIGTERM to its group, then SIGKILL after
    /// `grace` more; returns what it did. The whole group is killed in the end, so
    /// children it started do not outlive it.
    pub async fn stop(mut self, grace: Duration) -> ProgramReport {
        let mut report = ProgramReport::default();
        if tokio::time::timeout(grace, self.exited()).await.is_err() {
            report.stopped = true;
            self.signal(Signal::SIGTERM);
            if tokio::time::timeout(grace, self.exited()).await.is_err() {
                report.killed = true;
                self.signal(Signal::SIGKILL);
                let _ = tokio::time::timeout(Duration::from_secs(5), self.exited()).await;
            }
        }
        self.finish(report).await
    }

    /// Stops it now: SIGTERM to its group at once (a server never exits by itself, a
    /// client whose conversation failed has nothing left to do), SIGKILL after `grace`.
    pub async fn terminate(mut self, grace: Duration) -> ProgramReport {
        let mut report = ProgramReport::default();
        if self.try_status().is_none() {
            report.stopped = true;
            self.signal(Signal::SIGTERM);
            if tokio::time::timeout(grace, self.exited()).await.is_err() {
                report.killed = true;
                self.signal(Signal::SIGKILL);
                let _ = tokio::time::timeout(Duration::from_secs(5), self.exited()).await;
            }
        }
        self.finish(report).await
    }

    /// Sends `signal` to the program's process group.
    fn signal(&self, signal: Signal) {
        signal_group(self.pgid, signal);
    }

    /// Kills what is left of the group and collects the output.
    async fn finish(mut self, mut report: ProgramReport) -> ProgramReport {
        // Children left in the group (the program exited, they did not) go too.
        self.signal(Signal::SIGKILL);
        // --- isolation (engine/sandbox): and in its sandbox, every other process.
        if let Some(reaper) = &self.reaper {
            reaper.kill_all();
        }
        for r in self.readers.drain(..) {
            // The pipes close when the group is gone; do not wait forever on a grandchild.
            let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
        }
        report.status = self.status;
        let out = self.stdout.lock().unwrap_or_else(|p| p.into_inner());
        report.stdout = out.bytes.clone();
        report.stdout_total = out.total;
        drop(out);
        let err = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        report.stderr = err.bytes.clone();
        report.stderr_total = err.total;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> ProgramSpec {
        ProgramSpec {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            ..ProgramSpec::default()
        }
    }

    #[test]
    fn a_missing_or_reserved_process_id_is_never_a_group_to_signal() {
        assert_eq!(group_of(None), None, "no id is not group 0");
        assert_eq!(group_of(Some(0)), None);
        assert_eq!(group_of(Some(1)), None);
        assert_eq!(group_of(Some(u32::MAX)), None, "not a pid: would wrap to -1");
        assert_eq!(group_of(Some(4242)), Some(4242));
    }

    #[tokio::test]
    async fn a_program_is_signalled_through_its_own_group() {
        let p = Program::spawn(&sh("sleep 30")).unwrap();
        let pid = p.pid();
        assert!(pid > 1, "{pid}");
        // Its group is its own, not parley's: signalling it leaves this process alone.
        assert_ne!(
            nix::unistd::getpgid(Some(Pid::from_raw(pid))).unwrap(),
            nix::unistd::getpgrp()
        );
        let r = p.terminate(Duration::from_secs(5)).await;
        assert!(r.stopped, "{r:?}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(r.status.and_then(|s| s.signal()), Some(15), "{r:?}");
        assert_eq!(r.describe_status(), "stopped by parley (SIGTERM)");
    }

    #[test]
    fn placeholders_are_filled_in_every_argument() {
        let argv = vec![
            "prog".to_string(),
            "{host}:{port}".to_string(),
            "{dir}/x".to_string(),
        ];
        assert_eq!(
            fill(&argv, &[("host", "127.0.0.1"), ("port", "9"), ("dir", "/s")]),
            ["prog", "127.0.0.1:9", "/s/x"]
        );
        assert_eq!(
            split_command("python3 '{dir}/my client.py' {host}").unwrap(),
            ["python3", "{dir}/my client.py", "{host}"]
        );
    }

    #[tokio::test]
    async fn stdin_is_fed_and_output_captured() {
        let mut spec = sh("cat; echo oops >&2");
        spec.stdin = Some(b"hello\nexit\n".to_vec());
        let p = Program::spawn(&spec).unwrap();
        let r = p.stop(Duration::from_secs(5)).await;
        assert_eq!(r.stdout, b"hello\nexit\n");
        assert_eq!(r.stderr_tail(1), "oops");
        assert_eq!(r.describe_status(), "exit status 0");
        assert!(!r.stopped);
    }

    #[tokio::test]
    async fn a_program_ignoring_sigterm_is_killed_with_its_children() {
        let p = Program::spawn(&sh("trap '' TERM; sleep 30 & sleep 30; wait")).unwrap();
        let pid = p.pid();
        let r = p.stop(Duration::from_millis(200)).await;
        assert!(r.stopped && r.killed, "{r:?}");
        // Nothing of the group is left running (zombies awaiting their reaper do not count).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !live_members(pid).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "group {pid} survived: {:?}",
                live_members(pid)
            );
            tokio::task::yield_now().await;
        }
    }

    /// Processes of group `pgid` that are not zombies, from /proc.
    fn live_members(pgid: i32) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let pid: i32 = e.file_name().to_string_lossy().parse().ok()?;
                let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                let (state, pgrp) = (rest.first()?, rest.get(2)?.parse::<i32>().ok()?);
                (pgrp == pgid && *state != "Z").then_some(pid)
            })
            .collect()
    }

    #[tokio::test]
    async fn megabytes_of_output_are_bounded() {
        let p = Program::spawn(&sh("head -c 5000000 /dev/zero")).unwrap();
        let r = p.stop(Duration::from_secs(10)).await;
        assert_eq!(r.stdout_total, 5_000_000);
        assert_eq!(r.stdout.len(), STDOUT_KEPT);
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt
            .block_on(async {
                Program::spawn(&ProgramSpec {
                    argv: vec!["/no/such/program".into()],
                    ..Default::default()
                })
            })
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
