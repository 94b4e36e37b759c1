//! FTP data connections through the relay. When a control line announces a data address
//! (the client's PORT/EPRT, the server's 227/229), the relay listens on a free port of
//! its own on the side that will connect — the address of its control connection to that
//! side, so RFC 2577's "same host" checks hold — and forwards the line announcing that
//! port instead. When the connection arrives, the relay connects to the address really
//! announced and relays the pair like any connection, under the next data name.
//!
//! The transcript gets what a played scenario has: the listener's `listen` (at the
//! address announced) before the announcing line, then the `open` by the side that
//! connected, with the client's and the server's real ends, recorded the moment that
//! side's connection arrived.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

use super::pump::Control;
use super::{CONNECT_DEADLINE, Conv};
use crate::outcome::{EventKind, Party};
use crate::proto::Dir;
use crate::proto::ftp::rewrite;

/// Handles a held control line going `dir`: the bytes to forward in its place.
pub(super) async fn announce(conv: &Arc<Conv>, control: Control, dir: Dir, line: &[u8]) -> Vec<u8> {
    let Some(announced) = rewrite::announced(dir, line) else {
        return line.to_vec();
    };
    // The side that listens, the side that will connect, where the relay listens for it,
    // and where the listener really is.
    let (listener_party, opener, bind_ip, target) = if announced.by_client() {
        (
            Party::Client,
            Party::Server,
            control.server_side.ip(),
            announced.target(control.client.ip()),
        )
    } else {
        (
            Party::Server,
            Party::Client,
            control.client_side.ip(),
            announced.target(control.server.ip()),
        )
    };
    // A PORT/EPRT naming another host than the client's own, or a port below 1024, is
    // what RFC 2577 §3 tells a server to refuse (the bounce attack): it goes to the server
    // unchanged, so that the server judges it, and the relay never connects there on the
    // server's behalf.
    if announced.by_client() && (target.ip() != control.client.ip() || target.port() < 1024) {
        return line.to_vec();
    }
    let listener = match parley_mock::bind_any_port(bind_ip).await {
        Ok(l) => l,
        Err(e) => {
            conv.trouble(format!(
                "cannot listen for the data connection the {} announced: {e}; it goes around the relay",
                listener_party.name()
            ));
            return line.to_vec();
        }
    };
    let rewritten = listener
        .local_addr()
        .ok()
        .and_then(|local| rewrite::rewrite(dir, line, local));
    let Some(rewritten) = rewritten else {
        conv.trouble(format!(
            "cannot announce the relay's address in `{}`; that data connection goes around the relay",
            String::from_utf8_lossy(line).trim_end()
        ));
        return line.to_vec();
    };
    let name = conv.next_data_name();
    conv.event(
        &name,
        EventKind::Listen {
            by: listener_party,
            addr: target.to_string(),
        },
    );
    let task_conv = Arc::clone(conv);
    conv.tasks
        .spawn(relay_data(task_conv, listener, name, opener, target));
    rewritten
}

/// Accepts the one connection `opener` makes to `listener`, connects to `target` (the
/// real listener), and relays the pair as `name`.
async fn relay_data(conv: Arc<Conv>, listener: TcpListener, name: String, opener: Party, target: SocketAddr) {
    let accepted = tokio::select! {
        accepted = listener.accept() => accepted,
        _ = conv.stop.cancelled() => return,
    };
    drop(listener);
    let opened = match accepted {
        Ok((stream, _)) => stream,
        Err(e) => {
            conv.trouble(format!("accepting `{name}` failed: {e}"));
            return;
        }
    };
    // The open is recorded now, when the opener's connection arrived: once the relay
    // has connected on, the listener may answer on the control connection (vsftpd's 150
    // comes as soon as it accepts), and the transcript must not show that answer first.
    let Ok(opener_end) = opened.peer_addr() else {
        return;
    };
    let (client_end, server_end) = match opener {
        Party::Client => (opener_end, target),
        Party::Server => (target, opener_end),
    };
    conv.event(
        &name,
        EventKind::Open {
            by: opener,
            client: client_end.to_string(),
            server: server_end.to_string(),
        },
    );
    let other = match tokio::time::timeout(CONNECT_DEADLINE, TcpStream::connect(target)).await {
        Ok(Ok(s)) => s,
        failed => {
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no answer within {} s", CONNECT_DEADLINE.as_secs()),
            };
            let listener_party = match opener {
                Party::Client => "server",
                Party::Server => "client",
            };
            let message = format!(
                "the {} opened `{name}`, but the {listener_party} is not listening at {target} ({why}); the relay closed it",
                opener.name()
            );
            conv.event(
                &name,
                EventKind::Error {
                    message: message.clone(),
                },
            );
            conv.trouble(message);
            return;
        }
    };
    let (client, server) = match opener {
        Party::Server => (other, opened),
        Party::Client => (opened, other),
    };
    conv.spawn_leg(name, client, server, false);
}
