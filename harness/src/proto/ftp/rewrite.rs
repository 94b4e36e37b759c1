//! What a relay between an FTP client and an FTP server must change so that data
//! connections pass through it too, sans-I/O: which control lines announce a data address
//! (PORT and EPRT from the client, RFC 959 §4.1.2 and RFC 2428 §2; the 227 and 229 replies
//! from the server, RFC 959 §4.1.2 / RFC 1123 §4.1.2.6 and RFC 2428 §3), and the same line
//! announcing another address.
//!
//! A relay forwards bytes as they come. [`LineGate`] holds back only the lines that may
//! announce an address (those starting `PORT`/`EPRT`, or `227`/`229`), until their LF;
//! every other byte passes at once. The rewritten line keeps the sender's keyword, its
//! spelling of the reply text and its line end: the peer sees exactly what it would have
//! seen, with another address.

use std::net::{IpAddr, SocketAddr, SocketAddrV4};

use super::addr;
use crate::proto::Dir;

/// A piece of one direction of the control connection, as the relay should handle it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes that announce nothing: forward them as they are.
    Pass(Vec<u8>),
    /// A whole line (through its LF) that may announce a data address: see [`announced`].
    Line(Vec<u8>),
}

/// Where the gate stands in the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum GateState {
    /// At the start of a line: too few bytes yet to tell what it is.
    #[default]
    Deciding,
    /// Inside a line that announces nothing: bytes pass until its LF.
    Passing,
    /// Inside a line that may announce an address: held until its LF.
    Holding,
}

/// Holds back the lines of one direction that may announce a data address, and lets
/// every other byte through at once.
#[derive(Debug, Clone, Default)]
pub struct LineGate {
    to_server: bool,
    state: GateState,
    held: Vec<u8>,
}

/// The longest line held back; a longer one passes unchanged (no real PORT or 227 is
/// this long).
pub const MAX_HELD: usize = 4096;

impl LineGate {
    /// A gate for the bytes going `dir` on the control connection.
    pub fn new(dir: Dir) -> LineGate {
        LineGate {
            to_server: dir == Dir::ToServer,
            ..LineGate::default()
        }
    }

    /// The prefixes of the lines that may announce an address.
    fn prefixes(&self) -> &'static [&'static [u8]] {
        if self.to_server {
            &[b"PORT", b"EPRT"]
        } else {
            &[b"227", b"229"]
        }
    }

    /// Can a line starting with `start` still be one that announces an address?
    fn may_announce(&self, start: &[u8]) -> Option<bool> {
        let prefixes = self.prefixes();
        let want = prefixes[0].len();
        let n = start.len().min(want);
        let compatible = prefixes.iter().any(|p| p[..n].eq_ignore_ascii_case(&start[..n]));
        match (compatible, start.len() >= want) {
            (false, _) => Some(false),
            (true, true) => Some(true),
            (true, false) => None,
        }
    }

    /// Takes the next bytes read from the sender; returns what to forward now, in order.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<Piece> {
        let mut out: Vec<Piece> = Vec::new();
        let pass = |out: &mut Vec<Piece>, b: &[u8]| {
            if b.is_empty() {
                return;
            }
            if let Some(Piece::Pass(last)) = out.last_mut() {
                last.extend_from_slice(b);
            } else {
                out.push(Piece::Pass(b.to_vec()));
            }
        };
        while !bytes.is_empty() {
            match self.state {
                GateState::Passing => match memchr::memchr(b'\n', bytes) {
                    Some(lf) => {
                        pass(&mut out, &bytes[..=lf]);
                        bytes = &bytes[lf + 1..];
                        self.state = GateState::Deciding;
                    }
                    None => {
                        pass(&mut out, bytes);
                        bytes = &[];
                    }
                },
                GateState::Deciding | GateState::Holding => {
                    let lf = memchr::memchr(b'\n', bytes);
                    let take = lf.map_or(bytes.len(), |p| p + 1);
                    self.held.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.state == GateState::Deciding {
                        match self.may_announce(&self.held) {
                            Some(true) => self.state = GateState::Holding,
                            Some(false) => {
                                let held = std::mem::take(&mut self.held);
                                pass(&mut out, &held);
                                self.state = if lf.is_some() {
                                    GateState::Deciding
                                } else {
                                    GateState::Passing
                                };
                                continue;
                            }
                            None if lf.is_none() => continue,
                            // A line shorter than the prefix, already ended.
                            None => {}
                        }
                    }
                    if lf.is_some() {
                        let line = std::mem::take(&mut self.held);
                        if self.state == GateState::Holding {
                            out.push(Piece::Line(line));
                        } else {
                            pass(&mut out, &line);
                        }
                        self.state = GateState::Deciding;
                    } else if self.held.len() > MAX_HELD {
                        let held = std::mem::take(&mut self.held);
                        pass(&mut out, &held);
                        self.state = GateState::Passing;
                    }
                }
            }
        }
        out
    }

    /// The sender closed: whatever is held goes as it is.
    pub fn finish(&mut self) -> Vec<u8> {
        self.state = GateState::Deciding;
        std::mem::take(&mut self.held)
    }
}

/// A data address a control line announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    /// `PORT h1,h2,h3,h4,p1,p2`: the client listens there.
    Port(SocketAddrV4),
    /// `EPRT |1|host|port|`: the client listens there.
    Eprt(SocketAddr),
    /// `227 ... (h1,h2,h3,h4,p1,p2)`: the server listens there.
    Pasv(SocketAddrV4),
    /// `229 ... (|||port|)`: the server listens on that port of its control address.
    Epsv(u16),
}

impl Announce {
    /// Who listens: the client for PORT/EPRT, the server for 227/229.
    pub fn by_client(self) -> bool {
        matches!(self, Announce::Port(_) | Announce::Eprt(_))
    }

    /// Where to connect to reach the listener. `control` is the address of the sender's
    /// end of the control connection: a 229 names only a port (RFC 2428 §3), and a 227
    /// that says 0.0.0.0 means the server's own address, as curl and ftplib read it.
    pub fn target(self, control: IpAddr) -> SocketAddr {
        match self {
            Announce::Port(a) => SocketAddr::V4(a),
            Announce::Eprt(a) => a,
            Announce::Pasv(a) if a.ip().is_unspecified() => SocketAddr::new(control, a.port()),
            Announce::Pasv(a) => SocketAddr::V4(a),
            Announce::Epsv(port) => SocketAddr::new(control, port),
        }
    }
}

/// The keyword and argument of a command line, without its line end.
fn command_parts(line: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(line).ok()?;
    let text = text.trim_end_matches(['\r', '\n']);
    let (keyword, arg) = text.split_once(' ').unwrap_or((text, ""));
    Some((keyword, arg))
}

/// The line end of `line` as sent (`\r\n`, `\n`, or nothing).
fn line_end(line: &[u8]) -> &[u8] {
    if line.ends_with(b"\r\n") {
        b"\r\n"
    } else if line.ends_with(b"\n") {
        b"\n"
    } else {
        b""
    }
}

/// The data address a control line going `dir` announces, when it is well formed.
pub fn announced(dir: Dir, line: &[u8]) -> Option<Announce> {
    match dir {
        Dir::ToServer => {
            let (keyword, arg) = command_parts(line)?;
            if keyword.eq_ignore_ascii_case("PORT") {
                addr::parse_port_args(arg.trim()).ok().map(Announce::Port)
            } else if keyword.eq_ignore_ascii_case("EPRT") {
                addr::parse_eprt(arg.trim()).ok().map(Announce::Eprt)
            } else {
                None
            }
        }
        Dir::ToClient => {
            let text = std::str::from_utf8(line).ok()?;
            if let Some(rest) = text.strip_prefix("227") {
                addr::find_pasv_span(rest).map(|(_, a)| Announce::Pasv(a))
            } else if let Some(rest) = text.strip_prefix("229") {
                addr::find_epsv_span(rest).map(|(_, p)| Announce::Epsv(p))
            } else {
                None
            }
        }
    }
}

/// `line` (which announced something going `dir`) announcing `to` instead. PORT and 227
/// need an IPv4 `to`; `None` when the line cannot carry it.
pub fn rewrite(dir: Dir, line: &[u8], to: SocketAddr) -> Option<Vec<u8>> {
    let end = line_end(line);
    match dir {
        Dir::ToServer => {
            let (keyword, _) = command_parts(line)?;
            let arg = if keyword.eq_ignore_ascii_case("PORT") {
                match to {
                    SocketAddr::V4(v4) => addr::addr_to_port_args(v4),
                    SocketAddr::V6(_) => return None,
                }
            } else {
                let family = if to.is_ipv4() { 1 } else { 2 };
                format!("|{family}|{}|{}|", to.ip(), to.port())
            };
            let mut out = format!("{keyword} {arg}").into_bytes();
            out.extend_from_slice(end);
            Some(out)
        }
        Dir::ToClient => {
            let text = std::str::from_utf8(line).ok()?;
            let (span, replacement) = if let Some(rest) = text.strip_prefix("227") {
                let SocketAddr::V4(v4) = to else { return None };
                let (span, _) = addr::find_pasv_span(rest)?;
                (span, addr::addr_to_port_args(v4))
            } else {
                let (span, _) = addr::find_epsv_span(text.get(3..)?)?;
                (span, to.port().to_string())
            };
            let (start, stop) = (span.start + 3, span.end + 3);
            let mut out = Vec::with_capacity(line.len() + 8);
            out.extend_from_slice(&line[..start]);
            out.extend_from_slice(replacement.as_bytes());
            out.extend_from_slice(&line[stop..]);
            Some(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: Dir, pieces: &[&[u8]]) -> Vec<Piece> {
        let mut gate = LineGate::new(dir);
        let mut out = Vec::new();
        for p in pieces {
            out.extend(gate.push(p));
        }
        out
    }

    fn joined(pieces: &[Piece]) -> Vec<u8> {
        pieces
            .iter()
            .flat_map(|p| match p {
                Piece::Pass(b) | Piece::Line(b) => b.clone(),
            })
            .collect()
    }

    #[test]
    fn gate_passes_ordinary_bytes_at_once_and_holds_only_address_lines() {
        let out = run(
            Dir::ToServer,
            &[b"USER anon", b"ymous\r\nPO", b"RT 127,0,0,1,4,1", b"\r\nLIST\r\n"],
        );
        assert_eq!(
            out,
            vec![
                Piece::Pass(b"USER anon".to_vec()),
                Piece::Pass(b"ymous\r\n".to_vec()),
                Piece::Line(b"PORT 127,0,0,1,4,1\r\n".to_vec()),
                Piece::Pass(b"LIST\r\n".to_vec()),
            ]
        );
    }

    #[test]
    fn gate_gives_the_same_bytes_however_they_are_split() {
        let whole: &[u8] = b"220 hi\r\n227 Entering Passive Mode (127,0,0,1,155,171).\r\n150 ok\r\n22";
        let at_once = run(Dir::ToClient, &[whole]);
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        let one_by_one = run(Dir::ToClient, &bytes);
        assert_eq!(joined(&at_once), joined(&one_by_one));
        let lines = |p: &[Piece]| {
            p.iter()
                .filter_map(|p| match p {
                    Piece::Line(l) => Some(l.clone()),
                    Piece::Pass(_) => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&at_once), lines(&one_by_one));
        assert_eq!(
            lines(&at_once),
            vec![b"227 Entering Passive Mode (127,0,0,1,155,171).\r\n".to_vec()]
        );
    }

    #[test]
    fn gate_lets_a_short_line_and_a_held_rest_through() {
        let mut gate = LineGate::new(Dir::ToServer);
        assert_eq!(gate.push(b"PW\r\n"), vec![Piece::Pass(b"PW\r\n".to_vec())]);
        assert!(gate.push(b"PORT 1,2").is_empty());
        assert_eq!(gate.finish(), b"PORT 1,2".to_vec());
    }

    #[test]
    fn port_and_eprt_are_rewritten_keeping_keyword_and_line_end() {
        let to: SocketAddr = "127.0.0.1:39851".parse().unwrap();
        let line = b"port 127,0,0,1,4,1\n";
        assert_eq!(
            announced(Dir::ToServer, line),
            Some(Announce::Port("127.0.0.1:1025".parse().unwrap()))
        );
        assert_eq!(
            rewrite(Dir::ToServer, line, to).unwrap(),
            b"port 127,0,0,1,155,171\n".to_vec()
        );
        let eprt = b"EPRT |1|127.0.0.1|40000|\r\n";
        assert!(matches!(announced(Dir::ToServer, eprt), Some(Announce::Eprt(_))));
        assert_eq!(
            rewrite(Dir::ToServer, eprt, to).unwrap(),
            b"EPRT |1|127.0.0.1|39851|\r\n".to_vec()
        );
        assert_eq!(announced(Dir::ToServer, b"PORT 1,2,3\r\n"), None);
    }

    #[test]
    fn pasv_and_epsv_replies_keep_their_text_around_the_new_address() {
        let to: SocketAddr = "127.0.0.1:39851".parse().unwrap();
        let line = b"227 Entering Passive Mode (10,0,0,5,4,1).\r\n";
        assert_eq!(
            announced(Dir::ToClient, line),
            Some(Announce::Pasv("10.0.0.5:1025".parse().unwrap()))
        );
        assert_eq!(
            rewrite(Dir::ToClient, line, to).unwrap(),
            b"227 Entering Passive Mode (127,0,0,1,155,171).\r\n".to_vec()
        );
        let epsv = b"229 Entering Extended Passive Mode (|||40000|)\r\n";
        assert_eq!(announced(Dir::ToClient, epsv), Some(Announce::Epsv(40000)));
        assert_eq!(
            rewrite(Dir::ToClient, epsv, to).unwrap(),
            b"229 Entering Extended Passive Mode (|||39851|)\r\n".to_vec()
        );
    }

    #[test]
    fn an_unspecified_pasv_host_means_the_servers_control_address() {
        let a = Announce::Pasv("0.0.0.0:2000".parse().unwrap());
        assert_eq!(a.target([10, 1, 2, 3].into()), "10.1.2.3:2000".parse().unwrap());
        assert_eq!(
            Announce::Epsv(21).target([10, 1, 2, 3].into()),
            "10.1.2.3:21".parse().unwrap()
        );
    }
}
