//! `parley-mock`: small, ordinary servers that parley's bundled scenarios run against.
//!
//! Each server is an `async fn run(listener, config, shutdown)` plus a [`MockServer`]
//! handle that owns the task, knows its address and shuts it down gracefully. Tests bind
//! `127.0.0.1:0`, so a server starts in microseconds and never collides with another.
//!
//! The mock servers share **no parsing code** with the `parley` checker: a bug in one must
//! not hide a bug in the other. They are deliberately plain, and every deliberately
//! awkward behaviour (split writes, delays, early closes, ...) is a named knob in
//! [`faults::MockFaults`] or in a server's own config.

pub mod bundled;
pub mod echo;
pub mod faults;
pub mod ftp;
pub mod generated;
pub mod http;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
pub use tokio_util::sync::CancellationToken;

/// How long [`MockServer::shutdown`] waits for open connections before aborting them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running mock server: its address and the means to stop it.
///
/// Dropping the handle cancels the server too; [`MockServer::shutdown`] also waits for it.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    token: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Runs `serve(listener, shutdown)` on a new task and returns its handle.
    pub fn spawn<F, Fut>(listener: TcpListener, serve: F) -> io::Result<MockServer>
    where
        F: FnOnce(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr()?;
        let token = CancellationToken::new();
        let task = tokio::spawn(serve(listener, token.clone()));
        Ok(MockServer {
            addr,
            token,
            task: Some(task),
        })
    }

    /// Binds `127.0.0.1:0` and starts an RFC 862 echo server with `config`.
    pub async fn echo(config: echo::EchoConfig) -> io::Result<MockServer> {
        let listener = bind_loopback().await?;
        MockServer::spawn(listener, move |l, t| echo::run(l, config, t))
    }

    /// Binds `127.0.0.1:0` and starts the httpbin-like HTTP/1.0 server with `config`.
    pub async fn http(config: http::HttpConfig) -> io::Result<MockServer> {
        let listener = bind_loopback().await?;
        MockServer::spawn(listener, move |l, t| http::run(l, config, t))
    }

    /// Binds `127.0.0.1:0` and starts the FTP server with `config`.
    pub async fn ftp(config: ftp::FtpConfig) -> io::Result<MockServer> {
        let listener = bind_loopback().await?;
        MockServer::spawn(listener, move |l, t| ftp::run(l, config, t))
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A token that is cancelled when the server shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Stops accepting, lets open connections finish for up to [`SHUTDOWN_GRACE`], and
    /// waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(1), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// The repository's `fixtures/` directory, for tests: `$PARLEY_FIXTURES` if set, else
/// the one next to this crate's sources. The servers themselves serve the copies built
/// into the crate ([`bundled`]) unless a configuration names a directory.
pub fn fixtures_dir() -> std::path::PathBuf {
    match std::env::var_os("PARLEY_FIXTURES") {
        Some(dir) => dir.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures"),
    }
}

/// Binds a listener on `127.0.0.1` on a free port (see [`bind_any_port`]).
pub async fn bind_loopback() -> io::Result<TcpListener> {
    bind_any_port(std::net::Ipv4Addr::LOCALHOST.into()).await
}

/// Where [`bind_any_port`] picks ports: below Linux's ephemeral range (32768–60999), so
/// the ports `connect()` takes for itself are left to it.
pub const PICKED_PORTS: std::ops::Range<u16> = 20_000..32_768;

/// Binds a listener on `ip` on a free port that this process picks itself, an even port
/// of [`PICKED_PORTS`] drawn at random, and falls back on the kernel's
/// choice (port 0) when 64 ports in a row are taken.
///
/// Why not port 0: the kernel looks for a port no socket holds, and every connection
/// closed in the last minute holds its port in TIME_WAIT. After a few thousand
/// scenarios on loopback (a soak, a class, the test suite) each `bind(0)` walks
/// thousands of such ports under a lock: measured on the 2-core machine, 100 rounds of
/// the bundled suite went from 4 s to 17–37 s (system time 1.9 s → 30 s) once 10,000
/// sockets sat in TIME_WAIT. A listener bound to a named port with SO_REUSEADDR (which
/// tokio sets) shares its port with TIME_WAIT sockets at no cost, and a port that a
/// live listener holds is refused with `AddrInUse`, so the next one is tried.
pub async fn bind_any_port(ip: std::net::IpAddr) -> io::Result<TcpListener> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    if STATE.load(Ordering::Relaxed) == 0 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let seed = (u64::from(std::process::id()) << 32) ^ nanos | 1;
        let _ = STATE.compare_exchange(0, seed, Ordering::Relaxed, Ordering::Relaxed);
    }
    // Even ports only, in a random order (splitmix64): two listeners never get ports one
    // apart, so a PASV port never follows the previous one (what F-SEC-5 notes in a
    // server that counts up), and nothing can be predicted from the last port.
    let evens = u64::from(PICKED_PORTS.end - PICKED_PORTS.start) / 2;
    for _ in 0..64 {
        let mut z = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let port = PICKED_PORTS.start + 2 * (z % evens) as u16;
        match TcpListener::bind((ip, port)).await {
            Ok(listener) => return Ok(listener),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    TcpListener::bind((ip, 0)).await
}

/// Accepts connections until `shutdown` is cancelled, running `handle` for each on its own
/// task; then waits up to [`SHUTDOWN_GRACE`] for the connections, whose token is cancelled.
///
/// This is the accept loop every mock server shares.
pub async fn serve_connections<H, Fut>(listener: TcpListener, shutdown: CancellationToken, handle: H)
where
    H: Fn(tokio::net::TcpStream, SocketAddr, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        tokio::select! {
            // Accept first: a connection already queued is served (and closed cleanly on
            // shutdown) rather than reset by dropping the listener.
            biased;
            accepted = listener.accept() => match accepted {

                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tracker.spawn(handle(stream, peer, shutdown.child_token()));
                }
                // Running out of file descriptors or a connection reset before accept:
                // keep serving the others.
                Err(_) => tokio::task::yield_now().await,
            },
            _ = shutdown.cancelled() => break,
        }
    }

    drop(listener);
    tracker.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Listeners land in [`PICKED_PORTS`], each on a port of its own, and a port a live
    /// listener holds is passed over (64 listeners at once never share one).
    #[tokio::test]
    async fn bind_any_port_picks_free_ports_of_its_range() {
        let mut held = Vec::new();
        let mut ports = std::collections::BTreeSet::new();
        for _ in 0..64 {
            let l = bind_loopback().await.expect("binds");
            let port = l.local_addr().unwrap().port();
            assert!(PICKED_PORTS.contains(&port), "{port}");
            assert_eq!(port % 2, 0, "{port}: ports one apart would read as counted up");
            assert!(ports.insert(port), "{port} given twice");
            held.push(l);
        }
        // A connection reaches the listener on the port it was given.
        let addr = held[0].local_addr().unwrap();
        let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), held[0].accept());
        assert_eq!(client.unwrap().peer_addr().unwrap(), addr);
        assert!(accepted.is_ok());
    }

    /// A port whose last connection sits in TIME_WAIT is taken again at once (SO_REUSEADDR):
    /// the listener that closed it first can be bound on it anew.
    #[tokio::test]
    async fn a_port_in_time_wait_is_bound_again() {
        let listener = bind_loopback().await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let (client, (server, _)) = (client.unwrap(), accepted.unwrap());
        // The server side closes first, so its end of the connection enters TIME_WAIT.
        drop(server);
        drop(listener);
        let mut client = client;
        let mut rest = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut client, &mut rest)
            .await
            .unwrap();
        drop(client);
        let again = TcpListener::bind(addr).await;
        assert!(again.is_ok(), "{addr}: {:?}", again.err());
    }
}
