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

/// Binds a listener on `127.0.0.1` with a port chosen by the kernel.
pub async fn bind_loopback() -> io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).await
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
