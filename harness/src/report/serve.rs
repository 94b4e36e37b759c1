//! What `parley serve` prints while a mock runs: a banner once it listens, every
//! exchange and finding as it passes (the lines of [`super::live`]), and a line when it
//! stops.

use std::net::SocketAddr;

use crate::engine::relay::RelayEvent;
use crate::proto::Protocol;

/// The line `parley serve` prints when it stops (Ctrl-C).
pub const STOPPING: &str = "stopping";

/// The banner: where the mock of `protocol` listens and with which `faults` (their
/// names as given on the command line).
pub fn banner(protocol: Protocol, addr: SocketAddr, faults: &[String]) -> String {
    let faults = if faults.is_empty() {
        "none".to_string()
    } else {
        faults.join(", ")
    };
    format!("parley serve {protocol}: listening on {addr} (faults: {faults}); Ctrl-C stops it")
}

/// The lines for one event of the mock's relay: the [`banner`] for
/// [`RelayEvent::Ready`], else the live lines of the exchange.
pub fn event_lines(event: &RelayEvent, protocol: Protocol, faults: &[String], color: bool) -> Vec<String> {
    match event {
        RelayEvent::Ready { addr } => vec![banner(protocol, *addr, faults)],
        event => super::live::lines(event, color),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_names_the_faults_or_none() {
        let addr: SocketAddr = "127.0.0.1:2121".parse().unwrap();
        assert_eq!(
            banner(Protocol::Ftp, addr, &[]),
            "parley serve ftp: listening on 127.0.0.1:2121 (faults: none); Ctrl-C stops it"
        );
        assert_eq!(
            banner(Protocol::Http, addr, &["split".into(), "slow".into()]),
            "parley serve http: listening on 127.0.0.1:2121 (faults: split, slow); Ctrl-C stops it"
        );
    }
}
