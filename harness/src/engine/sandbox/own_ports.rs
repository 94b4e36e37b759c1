//! The ports parley's own sockets take in a sandbox, and a second sandbox that keeps off
//! them.
//!
//! A sandbox's network holds only parley's sockets for the run and the program's. So a
//! program that fails because a port it binds is taken ("Address already in use") met
//! either one of its own sockets — its bug, on every run — or a port parley took there: the
//! listener the client connects to, a PASV listener, the port picked for a spawned server,
//! the source port of a connection parley made. The kernel picks those anywhere in the
//! ephemeral range, so a program's fixed port in that range (the course's FTP client binds
//! 39851) meets one about once in 14,000 runs, and the verdict would hang on that draw.
//! Such a run is played again in a fresh sandbox whose sockets keep off every port parley's
//! took in the first ([`OwnPorts::avoiding`]): the fixed port cannot meet parley's again, so
//! the second run's verdict is the program's own (`sandbox::isolated`).

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;

use tokio::net::{TcpSocket, TcpStream};

/// The ports one sandbox's sockets took, and the ones they keep off.
#[derive(Debug, Default)]
pub(super) struct OwnPorts {
    avoid: BTreeSet<u16>,
    used: Mutex<BTreeSet<u16>>,
}

impl OwnPorts {
    /// For a sandbox whose sockets take any port the kernel picks.
    pub(super) fn new() -> OwnPorts {
        OwnPorts::default()
    }

    /// For a sandbox whose sockets never take one of `avoid` when the kernel picks.
    pub(super) fn avoiding(avoid: BTreeSet<u16>) -> OwnPorts {
        OwnPorts {
            avoid,
            used: Mutex::default(),
        }
    }

    /// Every port this sandbox's sockets took so far.
    pub(super) fn used(&self) -> BTreeSet<u16> {
        self.used.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn note(&self, port: u16) {
        self.used.lock().unwrap_or_else(|p| p.into_inner()).insert(port);
    }

    /// A listener bound to `addr`; with port 0, at a port the kernel picks that is not one
    /// to avoid. Call it on the sandbox thread: the socket belongs to that network.
    pub(super) fn bind(&self, addr: SocketAddr) -> io::Result<std::net::TcpListener> {
        let listener = self.keep_off(addr.port() == 0, || {
            let l = std::net::TcpListener::bind(addr)?;
            let port = l.local_addr()?.port();
            Ok((l, port))
        })?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    }

    /// A socket to connect to `target` from. When there are ports to avoid it is bound
    /// first, at a source port that is not one of them (else `connect` picks it). Call it
    /// on the sandbox thread.
    pub(super) fn socket_for(&self, target: SocketAddr) -> io::Result<TcpSocket> {
        let fresh = || {
            if target.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
        };
        if self.avoid.is_empty() {
            return fresh();
        }
        let any = match target.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        self.keep_off(true, || {
            let socket = fresh()?;
            socket.bind(SocketAddr::new(any, 0))?;
            let port = socket.local_addr()?.port();
            Ok((socket, port))
        })
    }

    /// Notes the source port of a connection made from this sandbox.
    pub(super) fn connected(&self, stream: &TcpStream) {
        if let Ok(local) = stream.local_addr() {
            self.note(local.port());
        }
    }

    /// Makes a socket with `make` until its port is not one to avoid (when `picked`: the
    /// kernel chose it), and notes the port. Each refused socket stays open until then, so
    /// the kernel cannot pick its port again: at most one try per port to avoid.
    fn keep_off<S>(&self, picked: bool, make: impl Fn() -> io::Result<(S, u16)>) -> io::Result<S> {
        let mut refused = Vec::new();
        loop {
            let (socket, port) = make()?;
            if picked && self.avoid.contains(&port) && refused.len() < self.avoid.len() {
                refused.push(socket);
                continue;
            }
            self.note(port);
            return Ok(socket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_on_a_picked_port_keeps_off_the_ports_to_avoid() {
        // The kernel picks anywhere in the range; asked often enough it would pick the
        // first port again (about once in 14,000), so the test asks many times.
        let taken = OwnPorts::new();
        let first = taken.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = first.local_addr().unwrap().port();
        assert_eq!(taken.used(), BTreeSet::from([port]));
        drop(first);
        let again = OwnPorts::avoiding(taken.used());
        for _ in 0..200 {
            let l = again.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            assert_ne!(l.local_addr().unwrap().port(), port);
        }
        assert!(!again.used().contains(&port));
    }

    #[test]
    fn a_named_port_is_bound_as_asked_even_when_it_is_one_to_avoid() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let own = OwnPorts::avoiding(BTreeSet::from([port]));
        let l = own.bind(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
        assert_eq!(l.local_addr().unwrap().port(), port);
    }

    #[test]
    fn refusing_a_picked_port_holds_it_so_that_the_next_pick_is_another() {
        // `make` hands out 7, 7, 9: the first 7 is refused and held, the second is refused
        // too (the kernel could not have picked it again, but the loop must not return it).
        let own = OwnPorts::avoiding(BTreeSet::from([7, 8]));
        let picks = Mutex::new(vec![9u16, 7, 7]);
        let got = own
            .keep_off(true, || Ok(((), picks.lock().unwrap().pop().unwrap())))
            .map(|()| own.used());
        assert_eq!(got.unwrap(), BTreeSet::from([9]));
        // It gives up after one try per port to avoid rather than loop for ever.
        let own = OwnPorts::avoiding(BTreeSet::from([7]));
        let picks = Mutex::new(vec![7u16, 7, 7]);
        own.keep_off(true, || Ok(((), picks.lock().unwrap().pop().unwrap())))
            .unwrap();
        assert_eq!(own.used(), BTreeSet::from([7]));
    }

    #[tokio::test]
    async fn a_connection_from_a_sandbox_that_avoids_ports_starts_from_another_port() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let first = OwnPorts::new();
        let stream = first.socket_for(target).unwrap().connect(target).await.unwrap();
        first.connected(&stream);
        let source = stream.local_addr().unwrap().port();
        assert_eq!(first.used(), BTreeSet::from([source]));
        drop(stream);
        let again = OwnPorts::avoiding(first.used());
        for _ in 0..20 {
            let s = again.socket_for(target).unwrap().connect(target).await.unwrap();
            assert_ne!(s.local_addr().unwrap().port(), source);
            let _ = listener.accept().await.unwrap();
        }
    }
}
