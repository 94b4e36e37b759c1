//! Data connections (959 §3.2, §3.3): how the next transfer's connection is made, opening
//! it within a deadline, moving the bytes in stream mode (end of file = close, §3.4.1), and
//! the ASCII-type conversion between stored LF lines and CRLF on the wire (§3.1.1.1).
//!
//! A passive listener belongs to the session, not to a task: a new PASV/EPSV drops the
//! previous one, and nothing is left running when a client never connects.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::faults::{Faults, write_shaped};

/// How the next transfer's data connection is made.
#[derive(Debug, Default)]
pub(super) enum DataPlan {
    /// No PORT, PASV, EPRT or EPSV since the last transfer (F-SEQ-4).
    #[default]
    Unset,
    /// Active mode: the server connects to the address PORT/EPRT gave.
    Active(SocketAddr),
    /// Passive mode: the client connects to this listener, announced by PASV/EPSV.
    Passive(TcpListener),
    /// The `refuse_data` fault: the announced port is closed, or the server never connects.
    Refused,
}

/// Why a data connection could not be opened (all answered 425).
#[derive(Debug)]
pub(super) enum OpenError {
    /// No PORT or PASV came first.
    NotPrepared,
    /// The `refuse_data` fault.
    Refused,
    /// Nobody connected / the connect did not complete before the deadline.
    TimedOut,
    /// The connect or accept failed.
    Io(io::Error),
}

impl OpenError {
    /// A sentence for the 425 reply.
    pub(super) fn text(&self) -> String {
        match self {
            OpenError::NotPrepared => "Can't open data connection: use PORT or PASV first.".into(),
            OpenError::Refused => "Can't open data connection.".into(),
            OpenError::TimedOut => "Can't open data connection: timed out.".into(),
            OpenError::Io(e) => format!("Can't open data connection: {e}."),
        }
    }
}

/// Whether two addresses are the same host, an IPv4-mapped IPv6 address being its IPv4.
pub(super) fn same_host(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

impl DataPlan {
    /// Opens the data connection: connects (active) or accepts (passive) within
    /// `deadline`. A passive listener accepts only the control connection's host and drops
    /// others (RFC 2577 §8 on stolen passive connections).
    pub(super) async fn open(self, control_peer: IpAddr, deadline: Duration) -> Result<TcpStream, OpenError> {
        let stream = match self {
            DataPlan::Unset => return Err(OpenError::NotPrepared),
            DataPlan::Refused => return Err(OpenError::Refused),
            DataPlan::Active(addr) => tokio::time::timeout(deadline, TcpStream::connect(addr))
                .await
                .map_err(|_| OpenError::TimedOut)?
                .map_err(OpenError::Io)?,
            DataPlan::Passive(listener) => tokio::time::timeout(deadline, async {
                loop {
                    let (stream, peer) = listener.accept().await?;
                    if same_host(peer.ip(), control_peer) {
                        return Ok::<_, io::Error>(stream);
                    }
                }
            })
            .await
            .map_err(|_| OpenError::TimedOut)?
            .map_err(OpenError::Io)?,
        };
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

/// Sends `bytes` shaped by `faults`, then closes the connection: in stream mode the close
/// is the end of file (959 §3.4.1).
pub(super) async fn send(mut stream: TcpStream, bytes: &[u8], faults: &Faults) -> io::Result<()> {
    write_shaped(&mut stream, bytes, faults).await?;
    stream.shutdown().await
}

/// What [`receive`] got.
#[derive(Debug)]
pub(super) enum Received {
    /// The whole file, ended by the client's close.
    Complete(Vec<u8>),
    /// More than the limit arrived: the upload is refused (552).
    TooLarge,
}

/// Reads until the client closes the connection, at most `limit` bytes.
pub(super) async fn receive(mut stream: TcpStream, limit: usize) -> io::Result<Received> {
    let mut data = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(Received::Complete(data));
        }
        if data.len() + n > limit {
            return Ok(Received::TooLarge);
        }
        data.extend_from_slice(&buf[..n]);
    }
}

/// Stored form to ASCII type on the wire: every line end becomes CRLF; an LF already
/// preceded by CR is left alone, so CRLF text is not doubled.
pub(super) fn to_wire_ascii(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// ASCII type on the wire to stored form: CRLF becomes LF; a lone CR stays.
pub(super) fn from_wire_ascii(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_type_sends_every_line_end_as_crlf_once() {
        assert_eq!(to_wire_ascii(b"a\nb\r\nc\n\n"), b"a\r\nb\r\nc\r\n\r\n");
        assert_eq!(to_wire_ascii(b"no newline"), b"no newline");
    }

    #[test]
    fn ascii_type_stores_crlf_as_lf_and_round_trips() {
        assert_eq!(from_wire_ascii(b"a\r\nb\rc\r\n"), b"a\nb\rc\n");
        let text = b"one\ntwo\n\nthree";
        assert_eq!(from_wire_ascii(&to_wire_ascii(text)), text);
    }

    #[test]
    fn ipv4_mapped_ipv6_is_the_same_host() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(same_host(v4, mapped));
        assert!(!same_host(v4, "127.0.0.2".parse().unwrap()));
    }
}
