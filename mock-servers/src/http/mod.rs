//! HTTP/1.0 mock server shaped like httpbin, with static files from a document root and
//! proper error responses.
//!
//! | path | methods | answer |
//! |---|---|---|
//! | `/get` | GET, HEAD | JSON `args`, `headers`, `origin`, `url` |
//! | `/post` | POST | JSON `args`, `data` (the body as text), `files`, `form`, `headers`, `json` (the body parsed, or null), `origin`, `url` |
//! | `/anything[/...]` | all served | as `/post`, plus `method` |
//! | `/headers`, `/ip`, `/user-agent` | GET, HEAD | JSON `headers` / `origin` / `user-agent` |
//! | `/status/{code}` | all served | that status, empty body; 418 is the teapot; 3xx carry `Location: /get` |
//! | `/bytes/{n}` | GET, HEAD | `n` pseudo-random bytes (`?seed=`), at most [`HttpConfig::max_bytes`] |
//! | `/delay/{s}` | GET, HEAD | as `/get`, after `s` seconds, at most [`HttpConfig::max_delay`] |
//! | `/generated/{n}` | GET, HEAD | `n` bytes of `0123456789abcdef` repeated, with Content-Length, written as they are generated (any size up to 64 GiB, memory flat: [`crate::generated`]) |
//! | anything else | GET, HEAD | the file under [`HttpConfig::www_root`], else 404 |
//!
//! "All served" is GET, HEAD, POST, PUT, DELETE, PATCH and OPTIONS. OPTIONS answers 200
//! with `Allow`; a standard method a path does not allow gets 405 with `Allow`, a method
//! this server does not know 501 (RFC 2616 §5.1.1). Malformed requests get 400, a
//! request line over [`HttpConfig::max_head_bytes`] 414 and a header section over it 431,
//! a body over [`HttpConfig::max_body_bytes`] 413, a chunked HTTP/1.1 body 411, an
//! unknown expectation 417, another major version 505, and a request that does not
//! arrive within [`HttpConfig::read_timeout`] 408. Error bodies are JSON:
//! `{"status": 404, "error": "Not Found", "detail": "..."}`.
//!
//! `/status/1xx` never sends a 1xx as a final response: an HTTP/1.1 client gets it as an
//! interim response before a 200, an HTTP/1.0 client only the 200 (RFC 2616 §10.1).
//!
//! 1.0 requests are answered with `HTTP/1.0` status lines and a close, unless they ask
//! for `Connection: keep-alive`; 1.1 requests with `HTTP/1.1`, kept open unless they say
//! `Connection: close`. Every response carries Date (rfc1123), Server, Content-Type and
//! Content-Length, except 1xx, 204 and 304, which have neither length nor body.
//!
//! It is an ordinary, conformant server and shares no code with the `parley` checker.
//! Inside: `request` parses request heads from bytes (no I/O); `routes` turns a request
//! into a response and `statics` serves files; `response` encodes responses;
//! `connection` owns the socket (deadlines, fault knobs, keep-alive, lingering close).

mod connection;
mod request;
mod response;
mod routes;
mod statics;
mod url;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::CancellationToken;
use crate::faults::MockFaults;

/// HTTP mock configuration. Every field is a plain knob with a documented default.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// How responses are written (split into pieces, delays). Default: plain.
    pub faults: MockFaults,
    /// Send responses without Content-Length: the body ends when the server closes, and
    /// the connection closes after every response. Default: false.
    pub no_content_length: bool,
    /// Wait this long after a response before closing the connection. Default: 0.
    pub close_delay: Duration,
    /// Static files served for paths that are not httpbin endpoints; `None` answers 404
    /// there, unless `bundled_www` is set. Default: `None` ([`fixture_www_root`] is the
    /// repository's document root).
    pub www_root: Option<PathBuf>,
    /// With `www_root` `None`: serve the document root built into the crate
    /// ([`crate::bundled::WWW`], the repository's `fixtures/www` at build time), from
    /// memory. Default: false.
    pub bundled_www: bool,
    /// Deadline for receiving a whole request (head and body) from its first byte, or from
    /// the connection's start; past it the client gets 408 and a close. Default: 5 s.
    pub read_timeout: Duration,
    /// Largest request line plus header section; longer gets 414 (request line) or 431
    /// (headers). Default: 8 KiB.
    pub max_head_bytes: usize,
    /// Largest request body; a larger Content-Length gets 413. Default: 1 MiB.
    pub max_body_bytes: u64,
    /// Longest `/delay/{s}`; longer requests are served after this. Default: 10 s.
    pub max_delay: Duration,
    /// Most bytes `/bytes/{n}` sends; larger requests get this many. Default: 100 KiB.
    pub max_bytes: usize,
    /// The Server header's value. Default: `parley-mock/<version>`.
    pub server: String,
    /// The address clients reach the server at, reported as the `url` of a request that
    /// has no Host header; set it when something sits in front of the server (a relay,
    /// `parley serve`). Default `None`: the address the connection was accepted on.
    pub public_addr: Option<std::net::SocketAddr>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            faults: MockFaults::default(),
            no_content_length: false,
            close_delay: Duration::ZERO,
            www_root: None,
            bundled_www: false,
            read_timeout: Duration::from_secs(5),
            max_head_bytes: 8 * 1024,
            max_body_bytes: 1024 * 1024,
            max_delay: Duration::from_secs(10),
            max_bytes: 100 * 1024,
            server: concat!("parley-mock/", env!("CARGO_PKG_VERSION")).to_owned(),
            public_addr: None,
        }
    }
}

/// The repository's document root for the HTTP mock: `fixtures/www`.
pub fn fixture_www_root() -> PathBuf {
    crate::fixtures_dir().join("www")
}

/// What every connection of one server shares.
#[derive(Debug)]
struct Shared {
    config: HttpConfig,
    statics: statics::Statics,
}

/// Serves HTTP/1.0 (and 1.1 requests) on `listener` until `shutdown` is cancelled.
pub async fn run(listener: TcpListener, config: HttpConfig, shutdown: CancellationToken) {
    let statics = match (&config.www_root, config.bundled_www) {
        (None, true) => statics::Statics::bundled(),
        (root, _) => statics::Statics::new(root.as_deref()).await,
    };
    let shared = Arc::new(Shared { config, statics });
    crate::serve_connections(listener, shutdown, move |stream, peer, token| {
        let shared = Arc::clone(&shared);
        async move { connection::serve(stream, peer, &shared, &token).await }
    })
    .await;
}
