//! HTTP/1.0 mock server shaped like httpbin (stub: being written).

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::CancellationToken;
use crate::faults::Faults;

/// HTTP mock configuration.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// How responses are written.
    pub faults: Faults,
    /// Send responses without Content-Length (the body ends when the server closes).
    pub no_content_length: bool,
    /// Wait this long after the response before closing.
    pub close_delay: Duration,
    /// Static files served for paths that are not httpbin endpoints.
    pub www_root: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            faults: Faults::default(),
            no_content_length: false,
            close_delay: Duration::ZERO,
            www_root: None,
        }
    }
}

/// Serves HTTP/1.0 on `listener` until `shutdown` is cancelled.
pub async fn run(listener: TcpListener, config: HttpConfig, shutdown: CancellationToken) {
    let _ = config;
    crate::serve_connections(listener, shutdown, |_stream, _peer, _token| async {}).await;
}
