//! Isolation of every program run: a [`Sandbox`] per program under test.
//!
//! Where the OS allows it (Linux, parley running as root or with CAP_SYS_ADMIN), each
//! graded client and each spawned server runs in network and PID namespaces of its own:
//! - **its own network**, with its own loopback. parley's sockets for that run — the
//!   listener the client connects to, FTP data connections (parley connecting to a PORT
//!   address, or listening for a passive one), readiness probes — are created inside it
//!   ([`SocketFactory`]). A fixed port (the course's FTP client binds 39851) never
//!   collides with another variant, another submission or anything on the machine, so
//!   `--jobs` can stay at the number of cores;
//! - **its own processes**: when the run ends, every process started in it is killed,
//!   descendants that called `setsid()` or double-forked included.
//!
//! How: a dedicated OS thread per sandbox moves itself into new namespaces, then creates
//! sockets and starts the program on request ([`linux`] explains why that is sound in a
//! multi-threaded process). Sockets and processes can be used from any thread after.
//!
//! Where namespaces are not available (not Linux, not privileged, or
//! [`NO_SANDBOX_ENV`]`=1`) programs run in parley's own namespaces: [`availability`] says
//! why once (the CLI prints it as a note), the runs of one submission go one after another
//! (`engine::batch`), and a program that fails because a port it binds is taken — which
//! only another run can explain — is retried alone, and if it collides again reported as
//! an error of parley's environment ([`COLLISION`]), never as the student's bug.

#[cfg(target_os = "linux")]
mod linux;
mod own_ports;
mod ports;
mod sockets;
#[cfg(not(target_os = "linux"))]
mod unsupported;

pub use sockets::{HOST, HostSockets, SocketFactory, SocketFuture};

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::program::{Program, ProgramReport, ProgramSpec};
use crate::outcome::{ErrorKind, Outcome, RunError, Status, StepState};

#[cfg(target_os = "linux")]
use linux::Inside;
use own_ports::OwnPorts;
#[cfg(not(target_os = "linux"))]
use unsupported::Inside;

/// Set to `1` (any value but `0` or empty), programs run without a sandbox: the fallback
/// path, as where namespaces are not available.
pub const NO_SANDBOX_ENV: &str = "PARLEY_NO_SANDBOX";

/// How long [`Sandbox::kill_all`] waits for the namespace's processes to be gone.
pub const KILL_DEADLINE: Duration = Duration::from_secs(5);

/// Whether programs under test run in a sandbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Isolation {
    /// In a sandbox where the OS allows it, unless [`NO_SANDBOX_ENV`] is set.
    #[default]
    Auto,
    /// Never: the fallback path (tests force it with this).
    Off,
}

/// Why programs run without a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// `PARLEY_NO_SANDBOX` is set.
    #[error("{NO_SANDBOX_ENV} is set")]
    DisabledByEnv,
    /// The options say so ([`Isolation::Off`]).
    #[error("isolation is turned off")]
    Disabled,
    /// Network and PID namespaces are Linux's.
    #[error("network and PID namespaces are available on Linux only")]
    NotLinux,
    /// The kernel refused new namespaces (not root, no CAP_SYS_ADMIN, or namespaces off).
    #[error("cannot create network and PID namespaces ({0}); run parley as root or with CAP_SYS_ADMIN")]
    Unshare(nix::Error),
    /// The sandbox's placeholder init could not be started.
    #[error("cannot start `{program}`, the sandbox's init process: {source}")]
    Init {
        /// The program.
        program: &'static str,
        /// Why.
        source: io::Error,
    },
    /// The loopback interface of the new network namespace could not be brought up.
    #[error("cannot bring up the loopback interface of a new network namespace: {0}")]
    Loopback(String),
    /// The sandbox thread could not be started, or ended.
    #[error("the sandbox thread failed: {0}")]
    Thread(io::Error),
}

impl Unavailable {
    /// The note the CLI prints once per run when programs run without a sandbox.
    pub fn note(&self) -> String {
        format!(
            "programs run without isolation: {self}. The runs of one submission go one after another, \
             and a program that cannot bind a port because another run holds it is retried alone, then \
             reported as an error of this machine, not of the program (see `Isolation` in the README)"
        )
    }
}

/// Whether programs run in a sandbox under `isolation`: `Ok`, or why not. The first call
/// tries to create one (a few milliseconds); the answer is kept for the process.
pub async fn availability(isolation: Isolation) -> Result<(), &'static Unavailable> {
    static DISABLED: Unavailable = Unavailable::Disabled;
    static BY_ENV: Unavailable = Unavailable::DisabledByEnv;
    static PROBE: tokio::sync::OnceCell<Result<(), Unavailable>> = tokio::sync::OnceCell::const_new();
    if isolation == Isolation::Off {
        return Err(&DISABLED);
    }
    if disabled_by_env() {
        return Err(&BY_ENV);
    }
    PROBE
        .get_or_init(|| async {
            let sandbox = Sandbox::new().await?;
            sandbox.kill_all().await;
            Ok(())
        })
        .await
        .as_ref()
        .map(|_| ())
}

fn disabled_by_env() -> bool {
    std::env::var_os(NO_SANDBOX_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Work for the sandbox thread, run with what lives in the namespace.
type Job = Box<dyn FnOnce(&mut Inside) + Send>;

/// The way to a sandbox thread.
#[derive(Clone)]
struct Jobs(mpsc::Sender<Job>);

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Jobs")
    }
}

fn gone() -> io::Error {
    io::Error::other("the sandbox of this run has ended")
}

impl Jobs {
    /// Runs `work` on the sandbox thread and waits for its answer without blocking.
    async fn run<T, W>(&self, work: W) -> io::Result<T>
    where
        T: Send + 'static,
        W: FnOnce(&mut Inside) -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.0
            .send(Box::new(move |inside| {
                let _ = tx.send(work(inside));
            }))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }

    /// Kills every process of the namespace, without waiting.
    fn kill_soon(&self) {
        let _ = self.0.send(Box::new(|inside: &mut Inside| {
            inside.kill_all();
        }));
    }
}

/// A network and PID namespace for one program run: sockets made in it, one program
/// started in it, and everything in it killed at the end (at the latest when it is
/// dropped, or when parley exits).
#[derive(Debug)]
pub struct Sandbox {
    jobs: Jobs,
    /// The ports parley's sockets took here ([`own_ports`]).
    ports: Arc<OwnPorts>,
}

impl Sandbox {
    /// Creates the namespaces (on a thread of their own), or says why it cannot.
    pub async fn new() -> Result<Sandbox, Unavailable> {
        Sandbox::with_ports(OwnPorts::new()).await
    }

    /// A sandbox whose sockets never take one of `avoid` where the kernel picks the port
    /// (the ports parley's sockets took in an earlier sandbox of the same run).
    async fn avoiding(avoid: BTreeSet<u16>) -> Result<Sandbox, Unavailable> {
        Sandbox::with_ports(OwnPorts::avoiding(avoid)).await
    }

    async fn with_ports(ports: OwnPorts) -> Result<Sandbox, Unavailable> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("parley-sandbox".into())
            .stack_size(512 * 1024)
            .spawn(move || {
                let mut inside = match Inside::enter() {
                    Ok(inside) => {
                        let _ = ready_tx.send(Ok(()));
                        inside
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for job in rx {
                    job(&mut inside);
                }
                // Every handle is gone: `inside` is dropped, which kills what is left.
            })
            .map_err(Unavailable::Thread)?;
        ready_rx
            .await
            .map_err(|_| Unavailable::Thread(io::Error::other("it ended while starting")))??;
        Ok(Sandbox {
            jobs: Jobs(tx),
            ports: Arc::new(ports),
        })
    }

    /// A listener bound to `addr` inside the sandbox.
    pub async fn bind(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        sandbox_bind(&self.jobs, &self.ports, addr).await
    }

    /// A connection to `addr` (`host:port`) from inside the sandbox.
    pub async fn connect(&self, addr: &str) -> io::Result<TcpStream> {
        sandbox_connect(&self.jobs, &self.ports, addr).await
    }

    /// Where the session creates its sockets for this run: inside the sandbox.
    pub fn sockets(&self) -> Arc<dyn SocketFactory> {
        Arc::new(SandboxSockets(self.jobs.clone(), Arc::clone(&self.ports)))
    }

    /// Every port parley's sockets took in this sandbox so far.
    pub fn own_ports(&self) -> BTreeSet<u16> {
        self.ports.used()
    }

    /// Starts the program inside the sandbox. It is parley's child (its exit, output and
    /// process group work as for [`Program::spawn`]); stopping it kills everything it
    /// started, in its process group or not. One program per sandbox: once it has been
    /// stopped, nothing can be started here again.
    pub async fn spawn(&self, spec: &ProgramSpec) -> io::Result<Program> {
        let spec = spec.clone();
        let runtime = tokio::runtime::Handle::current();
        let mut program = self
            .jobs
            .run(move |inside| {
                if !inside.alive() {
                    return Err(gone());
                }
                // The child is forked from this thread: it lands in the namespaces.
                // Its output readers and reaper are the runtime's, as for any program.
                let _runtime = runtime.enter();
                Program::spawn(&spec)
            })
            .await??;
        program.reap_with(Reaper(self.jobs.clone()));
        Ok(program)
    }

    /// Kills every process in the sandbox and waits (up to [`KILL_DEADLINE`]) until they
    /// are gone; `false` when they were not gone in time. Reap the program first
    /// ([`Program::stop`] or [`Program::terminate`]): the kernel counts it as one of them.
    pub async fn kill_all(&self) -> bool {
        let killed = self.jobs.run(|inside| {
            inside.kill_all();
        });
        matches!(tokio::time::timeout(KILL_DEADLINE, killed).await, Ok(Ok(())))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.jobs.kill_soon();
    }
}

/// Kills the processes of a program's sandbox when the program is stopped: what left
/// its process group goes too. Held by the [`Program`].
#[derive(Debug, Clone)]
pub struct Reaper(Jobs);

impl Reaper {
    /// Kills every process of the sandbox, without waiting.
    pub fn kill_all(&self) {
        self.0.kill_soon();
    }
}

async fn sandbox_bind(jobs: &Jobs, ports: &Arc<OwnPorts>, addr: SocketAddr) -> io::Result<TcpListener> {
    let ports = Arc::clone(ports);
    let listener = jobs.run(move |_| ports.bind(addr)).await??;
    TcpListener::from_std(listener)
}

async fn sandbox_connect(jobs: &Jobs, ports: &Arc<OwnPorts>, addr: &str) -> io::Result<TcpStream> {
    let targets: Vec<SocketAddr> = match addr.parse() {
        Ok(a) => vec![a],
        Err(_) => tokio::net::lookup_host(addr).await?.collect(),
    };
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, format!("`{addr}` names no address"));
    for target in targets {
        let own = Arc::clone(ports);
        let socket = jobs.run(move |_| own.socket_for(target)).await??;
        match socket.connect(target).await {
            Ok(stream) => {
                ports.connected(&stream);
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A sandbox's sockets, for the session.
#[derive(Debug, Clone)]
struct SandboxSockets(Jobs, Arc<OwnPorts>);

impl SocketFactory for SandboxSockets {
    fn bind(&self, addr: SocketAddr) -> SocketFuture<'_, TcpListener> {
        Box::pin(sandbox_bind(&self.0, &self.1, addr))
    }

    fn connect<'a>(&'a self, addr: &'a str) -> SocketFuture<'a, TcpStream> {
        Box::pin(sandbox_connect(&self.0, &self.1, addr))
    }

    fn isolated(&self) -> bool {
        true
    }
}

/// Where one program run happens: in a sandbox, or in parley's own namespaces.
#[derive(Debug)]
pub enum Place {
    /// In a sandbox of its own.
    Sandbox(Sandbox),
    /// In parley's namespaces (the fallback).
    Host,
}

impl Place {
    /// A sandbox when `isolation` and the OS allow one, else the host.
    pub async fn open(isolation: Isolation) -> Place {
        if availability(isolation).await.is_err() {
            return Place::Host;
        }
        // A sandbox that cannot be made now (out of resources) is the fallback for this run.
        match Sandbox::new().await {
            Ok(sandbox) => Place::Sandbox(sandbox),
            Err(_) => Place::Host,
        }
    }

    /// Whether the run is in a sandbox.
    pub fn isolated(&self) -> bool {
        matches!(self, Place::Sandbox(_))
    }

    /// Where the session creates its sockets for this run.
    pub fn sockets(&self) -> Arc<dyn SocketFactory> {
        match self {
            Place::Sandbox(s) => s.sockets(),
            Place::Host => Arc::new(HostSockets),
        }
    }

    /// Starts the program here.
    pub async fn spawn(&self, spec: &ProgramSpec) -> io::Result<Program> {
        match self {
            Place::Sandbox(s) => s.spawn(spec).await,
            Place::Host => Program::spawn(spec),
        }
    }

    /// Ends the run: whatever is left in the sandbox is killed, and gone when this returns.
    pub async fn close(self) {
        if let Place::Sandbox(s) = self {
            s.kill_all().await;
        }
    }
}

/// Runs one program run with `isolation`: `run` is given where to run it.
///
/// In a sandbox it runs once, unless its program failed because a port it binds was taken
/// ([`Outcome::port_in_use`]): there only parley's sockets or the program's own can hold
/// one, so it is run once more in a fresh sandbox that keeps off every port parley's
/// sockets took in the first ([`own_ports`]), and that run's verdict stands — the program's
/// own, also when it collides again (then with itself).
///
/// Without a sandbox it runs alongside other unsandboxed runs (of this parley and of any
/// other on the machine); if its program failed because a port was taken
/// ([`is_collision`]) it is run again alone, and a second collision — a port held by
/// something else than a run — stays an error of the environment.
pub async fn isolated<F, Fut>(isolation: Isolation, run: F) -> Outcome
where
    F: Fn(Place) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let place = Place::open(isolation).await;
    if let Place::Sandbox(sandbox) = &place {
        let ports = Arc::clone(&sandbox.ports);
        let first = run(place).await;
        if !first.port_in_use {
            return first;
        }
        return match Sandbox::avoiding(ports.used()).await {
            Ok(again) => run(Place::Sandbox(again)).await,
            Err(_) => first,
        };
    }
    let first = {
        let _turn = ports::shared().await;
        run(place).await
    };
    if !is_collision(&first) {
        return first;
    }
    let _turn = ports::alone().await;
    run(Place::Host).await
}

/// How the message of a collision starts.
pub const COLLISION: &str = "port collision";

/// Whether the program failed to bind because the address was in use (its output says
/// `Address already in use`, as C's `perror`, Python, Java and Go print it, or
/// `EADDRINUSE`, as Node does).
pub fn collided(report: &ProgramReport) -> bool {
    let said = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
        text.contains("address already in use") || text.contains("eaddrinuse")
    };
    said(&report.stderr) || said(&report.stdout)
}

/// Turns the outcome of an unsandboxed run whose program collided into an error of
/// parley's environment: the findings and failed steps were caused by another run holding
/// the port, not by the program.
pub fn mark_collision(outcome: &mut Outcome) {
    outcome.status = Status::Error;
    outcome.error = Some(RunError {
        kind: ErrorKind::Internal,
        message: format!(
            "{COLLISION}: the program could not bind a port (\"Address already in use\") that another run on this \
             machine was using — not the program's fault. Without isolation, runs share the machine's ports; \
             run parley as root (or with CAP_SYS_ADMIN) on Linux so that each run gets its own network"
        ),
        diagnostic: None,
    });
    outcome.findings.clear();
    for step in &mut outcome.steps {
        if step.state == StepState::Failed {
            step.state = StepState::NotRun;
        }
    }
    for check in &mut outcome.program_checks {
        check.state = StepState::NotRun;
    }
}

/// Whether the program closed (or reset) its end of the main connection before its
/// conversation failed: it gave up and is on its way out. Without a sandbox it is let
/// exit by itself rather than stopped at once, so that its last words — a client prints
/// why after its `with socket:` block has closed the connection — are there to tell a
/// collision from a bug. A close after the failure does not count: whether parley was
/// still reading when it came is timing (a client that gives up on the last reply parley
/// sent after the failure).
pub fn program_left(outcome: &Outcome) -> bool {
    outcome
        .left_at
        .is_some_and(|left| outcome.failed_at.is_none_or(|failed| left <= failed))
}

/// Whether the program opened the main connection at all (a client that exits before it
/// connects keeps its own exit status).
pub fn program_connected(outcome: &Outcome) -> bool {
    use crate::outcome::EventKind;
    outcome
        .transcript
        .events
        .iter()
        .any(|e| e.conn == crate::proto::MAIN && matches!(e.kind, EventKind::Open { .. }))
}

/// Whether `outcome` is a collision of an unsandboxed run ([`mark_collision`]).
pub fn is_collision(outcome: &Outcome) -> bool {
    outcome
        .error
        .as_ref()
        .is_some_and(|e| e.kind == ErrorKind::Internal && e.message.starts_with(COLLISION))
}

#[cfg(test)]
mod tests;
