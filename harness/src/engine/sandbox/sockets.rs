//! Where parley creates its sockets for one run: [`SocketFactory`]. The session asks it
//! for every listener and every connection it opens (the main listener a graded client
//! connects to, FTP data connections both ways, readiness probes), so that a run whose
//! program is in a sandbox has parley's sockets in the same network namespace. The
//! default, [`HostSockets`], is parley's own namespace: plain `bind` and `connect`.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::net::{TcpListener, TcpStream};

/// A socket operation in progress.
pub type SocketFuture<'a, T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send + 'a>>;

/// Creates parley's listeners and connections for one run.
pub trait SocketFactory: Send + Sync + fmt::Debug {
    /// A listener bound to `addr` (port 0: the kernel picks one).
    fn bind(&self, addr: SocketAddr) -> SocketFuture<'_, TcpListener>;
    /// A connection to `addr` (`host:port`; a name is resolved in parley's namespace).
    fn connect<'a>(&'a self, addr: &'a str) -> SocketFuture<'a, TcpStream>;
    /// Whether these sockets are in a sandbox of their own (not parley's namespace).
    fn isolated(&self) -> bool {
        false
    }
}

/// parley's own network namespace.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostSockets;

impl SocketFactory for HostSockets {
    fn bind(&self, addr: SocketAddr) -> SocketFuture<'_, TcpListener> {
        // Port 0: a port picked by parley, not a walk past every TIME_WAIT port.
        if addr.port() == 0 {
            return Box::pin(parley_mock::bind_any_port(addr.ip()));
        }
        Box::pin(TcpListener::bind(addr))
    }

    fn connect<'a>(&'a self, addr: &'a str) -> SocketFuture<'a, TcpStream> {
        Box::pin(TcpStream::connect(addr))
    }
}

/// The host's sockets, for options that name no factory.
pub static HOST: HostSockets = HostSockets;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn host_sockets_bind_and_connect_in_parleys_namespace() {
        let listener = HOST.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (client, accepted) = tokio::join!(HOST.connect(&addr), listener.accept());
        assert_eq!(
            client.unwrap().peer_addr().unwrap(),
            accepted.unwrap().0.local_addr().unwrap()
        );
        assert!(!HOST.isolated());
    }
}
