//! FTP mock server, RFC 959 control and data connections (stub: being written).

use std::path::PathBuf;

use tokio::net::TcpListener;

use crate::CancellationToken;
use crate::faults::Faults;

/// FTP mock configuration.
#[derive(Debug, Clone, Default)]
pub struct FtpConfig {
    /// How replies are written.
    pub faults: Faults,
    /// The directory whose tree is served (read into memory at start).
    pub root: Option<PathBuf>,
}

/// Serves FTP on `listener` until `shutdown` is cancelled.
pub async fn run(listener: TcpListener, config: FtpConfig, shutdown: CancellationToken) {
    let _ = config;
    crate::serve_connections(listener, shutdown, |_stream, _peer, _token| async {}).await;
}
