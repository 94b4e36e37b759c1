//! RFC 862 echo server: every octet received is sent back, in order, until the client
//! closes; any number of clients at once.
//!
//! Besides the write [`MockFaults`], the config has knobs that make the server deliberately
//! *wrong* in the ways student servers are wrong, so parley's own tests can check that
//! the right rule fires (ECHO-2 for truncation, ECHO-3 for closing first, ECHO-4 for
//! serving one client at a time).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use crate::CancellationToken;
use crate::faults::{MockFaults, write_shaped};

/// Echo server configuration.
#[derive(Debug, Clone, Default)]
pub struct EchoConfig {
    /// How replies are written.
    pub faults: MockFaults,
    /// Wrong on purpose: close the connection after echoing the first read (breaks ECHO-3).
    pub close_after_first_read: bool,
    /// Wrong on purpose: echo at most this many octets in all, then close (breaks ECHO-2).
    pub truncate_after: Option<usize>,
    /// Wrong on purpose: serve one connection at a time (breaks ECHO-4).
    pub one_at_a_time: bool,
}

/// Serves RFC 862 echo on `listener` until `shutdown` is cancelled.
pub async fn run(listener: TcpListener, config: EchoConfig, shutdown: CancellationToken) {
    let config = Arc::new(config);
    let serial = Arc::new(Mutex::new(()));
    crate::serve_connections(listener, shutdown, move |stream, peer, token| {
        let config = Arc::clone(&config);
        let serial = Arc::clone(&serial);
        async move {
            let _turn = if config.one_at_a_time {
                Some(serial.lock_owned().await)
            } else {
                None
            };
            tokio::select! {
                _ = token.cancelled() => {}
                _ = echo_connection(stream, peer, &config) => {}
            }
        }
    })
    .await;
}

async fn echo_connection(mut stream: TcpStream, _peer: SocketAddr, config: &EchoConfig) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut echoed = 0usize;
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        let mut stop = config.close_after_first_read;
        if let Some(limit) = config.truncate_after {
            let room = limit.saturating_sub(echoed);
            if chunk.len() >= room {
                chunk = &chunk[..room];
                stop = true;
            }
        }
        if write_shaped(&mut stream, chunk, &config.faults).await.is_err() {
            break;
        }
        echoed += chunk.len();
        if stop {
            break;
        }
    }
    // Dropping the stream closes it: after the client's close (RFC 862), or early on purpose.
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockServer;
    use std::num::NonZeroUsize;
    use tokio::io::AsyncWriteExt;

    async fn roundtrip(config: EchoConfig, message: &[u8]) -> Vec<u8> {
        let server = MockServer::echo(config).await.unwrap();
        let mut client = TcpStream::connect(server.addr()).await.unwrap();
        client.write_all(message).await.unwrap();
        client.shutdown().await.unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        server.shutdown().await;
        back
    }

    #[tokio::test]
    async fn echo_returns_every_octet_in_order() {
        let message: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        assert_eq!(roundtrip(EchoConfig::default(), &message).await, message);
    }

    #[tokio::test]
    async fn echo_split_writes_still_return_everything() {
        let config = EchoConfig {
            faults: MockFaults {
                split_writes: NonZeroUsize::new(1),
                ..MockFaults::default()
            },
            ..EchoConfig::default()
        };
        assert_eq!(roundtrip(config, b"hello\r\n").await, b"hello\r\n");
    }

    #[tokio::test]
    async fn echo_truncating_knob_stops_at_the_limit() {
        let config = EchoConfig {
            truncate_after: Some(1024),
            ..EchoConfig::default()
        };
        let message = vec![b'x'; 4096];
        assert_eq!(roundtrip(config, &message).await.len(), 1024);
    }

    #[tokio::test]
    async fn echo_shutdown_ends_the_server_with_a_client_still_connected() {
        let server = MockServer::echo(EchoConfig::default()).await.unwrap();
        let mut idle = TcpStream::connect(server.addr()).await.unwrap();
        server.shutdown().await;
        let mut rest = Vec::new();
        // The server closed the idle connection on shutdown: read ends with EOF.
        assert_eq!(idle.read_to_end(&mut rest).await.unwrap(), 0);
    }
}
