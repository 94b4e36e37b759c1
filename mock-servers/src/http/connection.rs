//! One connection of the HTTP mock: reads requests under a deadline, answers them, and
//! closes when HTTP says so.
//!
//! - A request (head and body) must arrive within `read_timeout`; a client that stalls
//!   half-way gets 408 and a close. An idle keep-alive connection is closed quietly.
//! - A response is encoded into one buffer and sent in one write, unless the fault knobs
//!   split it ([`write_shaped`]).
//! - The connection closes after each response unless the client asked to keep it
//!   (RFC 1945 §1.3, RFC 2616 §8.1.2.1), after every error that leaves the framing in
//!   doubt, and after close-delimited bodies (`no_content_length`).
//! - Closing with unread input would make the kernel reset the connection and could
//!   destroy the response before the client reads it, so after refusing a request the
//!   server half-closes and drains what the client still sends for a while ("lingering
//!   close", as Apache and nginx do).
//! - On shutdown, a connection waiting for a request closes at once; one in the middle of
//!   a delay or a write stops there.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::request::{
    Framing, Head, Rejection, Version, find_head_end, leading_empty_lines, parse_head, parse_request_line,
};
use super::response::{Encoding, Response, reason};
use super::routes::{self, Request};
use super::{HttpConfig, Shared};
use crate::CancellationToken;
use crate::faults::write_shaped;

/// Most time spent draining a client's input after refusing its request.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes drained after refusing a request.
const LINGER_BYTES: usize = 16 << 20;
/// Room made in the read buffer before each read.
const READ_CHUNK: usize = 4096;
/// Largest single read of a body.
const MAX_READ: usize = 64 * 1024;

/// Serves requests on `stream` until the client or HTTP closes it, or `token` is cancelled.
pub(super) async fn serve(stream: TcpStream, peer: SocketAddr, shared: &Shared, token: &CancellationToken) {
    let mut conn = Conn {
        stream,
        buf: Vec::with_capacity(READ_CHUNK),
        out: Vec::new(),
        shared,
    };
    let cfg = &shared.config;
    let mut first = true;
    loop {
        let deadline = Instant::now() + cfg.read_timeout;
        let read = tokio::select! {
            biased;
            _ = token.cancelled() => return conn.abandon(),
            read = conn.read_request(deadline, first) => read,
        };
        first = false;
        let (head, framing) = match read {
            Read::Request(head, framing) => (head, framing),
            Read::Closed => return,
            Read::Refused {
                rejection,
                version,
                head_only,
            } => {
                let encoding = encoding(cfg, version.unwrap_or(Version::Http10), head_only, false);
                Response::error(rejection.status, rejection.detail).encode(&encoding, &mut conn.out);
                if conn.send(token).await {
                    conn.close(token, rejection.status != 408).await;
                } else {
                    conn.abandon();
                }
                return;
            }
        };
        let version = head.line.version;
        let head_only = &conn.buf[head.line.method.clone()] == b"HEAD";
        let body_end = head.len + framing.content_length as usize;
        // Only a request without Host needs the local address (for `url`): spare the
        // system call otherwise.
        let local = match (head.values(&conn.buf, "host").next(), cfg.public_addr) {
            (Some(_), _) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            (None, Some(public)) => public,
            (None, None) => conn
                .stream
                .local_addr()
                .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
        };
        let reply = {
            let buf = &conn.buf;
            let text = |range: std::ops::Range<usize>| std::str::from_utf8(&buf[range]).unwrap_or_default();
            let target = text(head.line.target.clone());
            let request = Request {
                method: text(head.line.method.clone()),
                target,
                origin_form: super::url::origin_form(target),
                version,
                headers: head
                    .fields
                    .iter()
                    .map(|f| (text(f.name.clone()), &buf[f.value.clone()]))
                    .collect(),
                body: &buf[head.len..body_end],
                peer,
                local,
            };
            routes::route(&request, shared).await
        };
        if !reply.delay.is_zero() {
            tokio::select! {
                _ = token.cancelled() => return conn.abandon(),
                _ = tokio::time::sleep(reply.delay) => {}
            }
        }
        let keep_alive = framing.keep_alive && !cfg.no_content_length && !token.is_cancelled();
        if let (Some(code), Version::Http11) = (reply.interim, version) {
            let _ = write!(conn.out, "HTTP/1.1 {code} {}\r\n\r\n", reason(code));
        }
        let encoding = encoding(cfg, version, head_only, keep_alive);
        reply.response.encode(&encoding, &mut conn.out);
        if !conn.send(token).await {
            return conn.abandon();
        }
        if let Some(len) = reply.response.generated_body(&encoding) {
            if !conn.send_generated(len, token).await {
                return conn.abandon();
            }
        }
        conn.buf.drain(..body_end);
        if !keep_alive {
            let pending = !conn.buf.is_empty();
            conn.close(token, pending).await;
            return;
        }
    }
}

/// How responses of this server are encoded for a request.
fn encoding(cfg: &HttpConfig, version: Version, head_only: bool, keep_alive: bool) -> Encoding<'_> {
    Encoding {
        version,
        head_only,
        keep_alive,
        content_length: !cfg.no_content_length,
        server: &cfg.server,
    }
}

/// What reading a request produced.
enum Read {
    /// A complete request; its body is `buf[head.len..head.len + content_length]`.
    Request(Head, Framing),
    /// The client closed, reset, or stayed idle between requests: close quietly.
    Closed,
    /// Answer this error and close.
    Refused {
        rejection: Rejection,
        /// The request's version, when the request line was read.
        version: Option<Version>,
        /// The request was HEAD: no body in the error response.
        head_only: bool,
    },
}

/// What one read brought.
enum Filled {
    Data,
    Eof,
    Timeout,
    Error,
}

struct Conn<'s> {
    stream: TcpStream,
    /// Bytes received and not yet consumed by a request.
    buf: Vec<u8>,
    /// The next bytes to send.
    out: Vec<u8>,
    shared: &'s Shared,
}

impl Conn<'_> {
    /// Reads one request, refusing it as soon as it cannot be served.
    async fn read_request(&mut self, deadline: Instant, first: bool) -> Read {
        let cfg = &self.shared.config;
        let refuse = |status, detail, version, head_only| Read::Refused {
            rejection: Rejection { status, detail },
            version,
            head_only,
        };
        // A stall earns 408 once the client has started a request (or never sent one).
        let mut started = first;
        let line = loop {
            let skip = leading_empty_lines(&self.buf);
            if skip > 0 {
                self.buf.drain(..skip);
                started = true;
            }
            match parse_request_line(&self.buf) {
                Ok(Some(line)) => break line,
                Ok(None) if self.buf.len() >= cfg.max_head_bytes => {
                    return refuse(414, "the request line is too long", None, false);
                }
                Ok(None) => {}
                Err(rejection) => {
                    return Read::Refused {
                        rejection,
                        version: None,
                        head_only: false,
                    };
                }
            }
            match self.fill(deadline, READ_CHUNK).await {
                Filled::Data => started = true,
                Filled::Eof if !self.buf.is_empty() => {
                    return refuse(400, "the connection ended inside the request line", None, false);
                }
                Filled::Eof | Filled::Error => return Read::Closed,
                Filled::Timeout if started || !self.buf.is_empty() => {
                    return refuse(408, "the request did not arrive in time", None, false);
                }
                Filled::Timeout => return Read::Closed,
            }
        };
        let version = Some(line.version);
        let head_only = &self.buf[line.method.clone()] == b"HEAD";
        let mut scan = line.end;
        let len = loop {
            match find_head_end(&self.buf, scan) {
                Ok(len) if len > cfg.max_head_bytes => {
                    return refuse(431, "the header section is too large", version, head_only);
                }
                Ok(len) => break len,
                Err(resume) => scan = resume,
            }
            if self.buf.len() >= cfg.max_head_bytes {
                return refuse(431, "the header section is too large", version, head_only);
            }
            match self.fill(deadline, READ_CHUNK).await {
                Filled::Data => {}
                Filled::Eof => {
                    return refuse(
                        400,
                        "the connection ended inside the header section",
                        version,
                        head_only,
                    );
                }
                Filled::Error => return Read::Closed,
                Filled::Timeout => {
                    return refuse(408, "the request did not arrive in time", version, head_only);
                }
            }
        };
        let head = match parse_head(&self.buf, line, len) {
            Ok(head) => head,
            Err(rejection) => {
                return Read::Refused {
                    rejection,
                    version,
                    head_only,
                };
            }
        };
        let framing = match head.framing(&self.buf) {
            Ok(framing) => framing,
            Err(rejection) => {
                return Read::Refused {
                    rejection,
                    version,
                    head_only,
                };
            }
        };
        if framing.content_length > cfg.max_body_bytes {
            return refuse(
                413,
                "the body is larger than this server accepts",
                version,
                head_only,
            );
        }
        // Fits in usize: it is at most `max_body_bytes` and that much is going to be buffered.
        let body_end = len + framing.content_length as usize;
        if framing.expect_continue
            && self.buf.len() < body_end
            && self
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return Read::Closed;
        }
        while self.buf.len() < body_end {
            match self.fill(deadline, body_end - self.buf.len()).await {
                Filled::Data => {}
                Filled::Eof => {
                    return refuse(400, "the body is shorter than Content-Length", version, head_only);
                }
                Filled::Error => return Read::Closed,
                Filled::Timeout => {
                    return refuse(408, "the request body did not arrive in time", version, head_only);
                }
            }
        }
        Read::Request(head, framing)
    }

    /// Reads once more into `buf`, making room for about `want` bytes.
    async fn fill(&mut self, deadline: Instant, want: usize) -> Filled {
        self.buf.reserve(want.clamp(READ_CHUNK, MAX_READ));
        match timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Filled::Timeout,
            Ok(Ok(0)) => Filled::Eof,
            Ok(Ok(_)) => Filled::Data,
            Ok(Err(_)) => Filled::Error,
        }
    }

    /// Sends `out` as the fault knobs say and empties it; false if the connection is gone
    /// or the server is shutting down.
    async fn send(&mut self, token: &CancellationToken) -> bool {
        let sent = tokio::select! {
            biased;
            written = write_shaped(&mut self.stream, &self.out, &self.shared.config.faults) => written.is_ok(),
            _ = token.cancelled() => false,
        };
        self.out.clear();
        sent
    }

    /// Writes `len` bytes of generated content after a head already sent, shaped like
    /// the rest of the response (without its reply delay, already waited), each piece
    /// within `read_timeout`; false if the connection is gone or the server is shutting
    /// down.
    async fn send_generated(&mut self, len: u64, token: &CancellationToken) -> bool {
        let cfg = &self.shared.config;
        let faults = crate::faults::MockFaults {
            reply_delay: Duration::ZERO,
            ..cfg.faults.clone()
        };
        tokio::select! {
            biased;
            written = crate::generated::write(&mut self.stream, len, &faults, cfg.read_timeout) => written.is_ok(),
            _ = token.cancelled() => false,
        }
    }

    /// Closes after `close_delay`; lingers first when the client may still be sending
    /// (`pending`), so that the close does not become a reset.
    async fn close(mut self, token: &CancellationToken, pending: bool) {
        let cfg = &self.shared.config;
        if !cfg.close_delay.is_zero() {
            tokio::select! {
                _ = token.cancelled() => {}
                _ = tokio::time::sleep(cfg.close_delay) => {}
            }
        }
        if pending {
            let _ = self.stream.shutdown().await;
            let deadline = Instant::now() + LINGER;
            let mut drained = 0;
            while drained < LINGER_BYTES {
                self.buf.clear();
                self.buf.reserve(MAX_READ);
                let read = tokio::select! {
                    _ = token.cancelled() => break,
                    read = timeout_at(deadline, self.stream.read_buf(&mut self.buf)) => read,
                };
                match read {
                    Ok(Ok(n)) if n > 0 => drained += n,
                    _ => break,
                }
            }
        }
        self.abandon();
    }

    /// Closes now. Input already received is read away first: closing a socket with
    /// unread input sends a reset, which can destroy a response the client has not read.
    fn abandon(self) {
        let Ok(stream) = self.stream.into_std() else {
            return;
        };
        // Still non-blocking: these reads only take what has already arrived.
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut scratch = [0u8; 4096];
        let mut drained = 0;
        while drained < LINGER_BYTES {
            match (&stream).read(&mut scratch) {
                Ok(n) if n > 0 => drained += n,
                _ => break,
            }
        }
    }
}
