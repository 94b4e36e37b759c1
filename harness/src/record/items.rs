//! From a transcript to the conversation's items: whole messages, framed by the
//! protocol's own [`Inspector`] (one FTP reply, one command line, one HTTP message, a data
//! connection's bytes until it closed), and the listens, opens and closes around them —
//! in the order a scenario plays them.
//!
//! The transcript joins what went the same way on a connection; the inspector cuts it
//! again, exactly as it does when parley plays. Echo has no messages of its own: what the
//! client sent until the server had echoed as much is one message each way. For FTP, the
//! order of two sockets' events is a race the scenario must not keep: a server's data
//! connection opened in answer to LIST comes right after LIST, and what a data connection
//! carried (and its close) comes before the reply that says the transfer is complete.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::outcome::{EventKind, Party, Transcript};
use crate::proto::{Dir, Frame, Inspector, MAIN, MessageView, Protocol, Scan};
use crate::rules::Profile;

/// One thing that happened, as a scenario step sees it.
#[derive(Debug, Clone)]
pub(super) enum Item {
    /// `by` listens for `conn`.
    Listen { conn: String, by: Party },
    /// `by` opened `conn`.
    Open { conn: String, by: Party },
    /// A whole message.
    Message {
        conn: String,
        from: Party,
        bytes: Vec<u8>,
        view: MessageView,
    },
    /// `by` closed its end of `conn`.
    Close { conn: String, by: Party },
    /// `conn` failed.
    Error { conn: String, message: String },
}

impl Item {
    pub(super) fn conn(&self) -> &str {
        match self {
            Item::Listen { conn, .. }
            | Item::Open { conn, .. }
            | Item::Message { conn, .. }
            | Item::Close { conn, .. }
            | Item::Error { conn, .. } => conn,
        }
    }
}

fn dir_of(from: Party) -> Dir {
    match from {
        Party::Client => Dir::ToServer,
        Party::Server => Dir::ToClient,
    }
}

/// Cuts the bytes of each connection and direction into messages. Each item keeps the
/// number of the event where it began: a message goes where its first byte arrived, not
/// where it ended (nginx answers a POST before its body is in; the request still comes
/// first).
struct Framer {
    inspector: Box<dyn Inspector>,
    bufs: HashMap<(String, bool), Vec<u8>>,
    /// Where framing each buffer stopped: the next look resumes there.
    scans: HashMap<(String, bool), Scan>,
    /// Where the message now buffered on each connection and direction began.
    starts: HashMap<(String, bool), usize>,
    /// The event being read.
    seq: usize,
    out: Vec<(usize, Item)>,
}

impl Framer {
    fn key(conn: &str, from: Party) -> (String, bool) {
        (conn.to_string(), from == Party::Client)
    }

    fn push(&mut self, item: Item) {
        self.out.push((self.seq, item));
    }

    /// Bytes `from` sent on `conn`.
    fn data(&mut self, conn: &str, from: Party, bytes: &[u8]) {
        let key = Framer::key(conn, from);
        let buf = self.bufs.entry(key.clone()).or_default();
        if buf.is_empty() {
            self.starts.insert(key, self.seq);
        }
        buf.extend_from_slice(bytes);
        self.frame(conn, from, false);
    }

    fn frame(&mut self, conn: &str, from: Party, eof: bool) {
        let dir = dir_of(from);
        let key = Framer::key(conn, from);
        loop {
            let buf = self.bufs.entry(key.clone()).or_default();
            let scan = self.scans.entry(key.clone()).or_default();
            let Frame::Complete(n) = self.inspector.frame_resuming(dir, conn, buf, eof, scan) else {
                break;
            };
            if n == 0 {
                break;
            }
            let bytes: Vec<u8> = buf.drain(..n.min(buf.len())).collect();
            *scan = Scan::default();
            let rest = !buf.is_empty();
            let view = self.inspector.inspect(dir, conn, &bytes, &mut Vec::new());
            let start = self.starts.get(&key).copied().unwrap_or(self.seq);
            if rest {
                self.starts.insert(key.clone(), self.seq);
            }
            self.out.push((
                start,
                Item::Message {
                    conn: conn.to_string(),
                    from,
                    bytes,
                    view,
                },
            ));
        }
    }

    /// Bytes that never became a whole message are kept as one, as they came.
    fn leftover(&mut self, conn: &str, from: Party) {
        let Some(buf) = self.bufs.get_mut(&Framer::key(conn, from)) else {
            return;
        };
        if buf.is_empty() {
            return;
        }
        let bytes = std::mem::take(buf);
        self.scans.remove(&Framer::key(conn, from));
        let start = self
            .starts
            .get(&Framer::key(conn, from))
            .copied()
            .unwrap_or(self.seq);
        self.out.push((
            start,
            Item::Message {
                conn: conn.to_string(),
                from,
                bytes,
                view: MessageView::default(),
            },
        ));
    }
}

/// The items of `transcript`, in scenario order. `relay` is where the client reached
/// the relay (the server it was given, for the inspector's HTTP view).
pub(super) fn items(protocol: Protocol, transcript: &Transcript, relay: Option<SocketAddr>) -> Vec<Item> {
    let items = match protocol {
        Protocol::Echo => echo_items(transcript),
        Protocol::Http | Protocol::Ftp => framed(protocol, transcript, relay),
    };
    match protocol {
        Protocol::Ftp => ftp_order(items),
        Protocol::Echo | Protocol::Http => items,
    }
}

fn framed(protocol: Protocol, transcript: &Transcript, relay: Option<SocketAddr>) -> Vec<Item> {
    let mut inspector = protocol.inspector(Profile::Http10);
    if let Some(addr) = relay {
        inspector.target(&addr.ip().to_string(), addr.port());
    }
    let mut f = Framer {
        inspector,
        bufs: HashMap::new(),
        scans: HashMap::new(),
        starts: HashMap::new(),
        seq: 0,
        out: Vec::new(),
    };
    let mut order: Vec<(String, Party)> = Vec::new();
    for (seq, e) in transcript.events.iter().enumerate() {
        f.seq = seq;
        match &e.kind {
            EventKind::Listen { by, .. } => f.push(Item::Listen {
                conn: e.conn.clone(),
                by: *by,
            }),
            EventKind::Open { by, .. } => f.push(Item::Open {
                conn: e.conn.clone(),
                by: *by,
            }),
            EventKind::Data { from, bytes } => {
                if !order.contains(&(e.conn.clone(), *from)) {
                    order.push((e.conn.clone(), *from));
                }
                f.data(&e.conn, *from, bytes);
            }
            EventKind::Close { by } => {
                f.frame(&e.conn, *by, true);
                f.leftover(&e.conn, *by);
                f.push(Item::Close {
                    conn: e.conn.clone(),
                    by: *by,
                });
            }
            EventKind::Error { message } => f.push(Item::Error {
                conn: e.conn.clone(),
                message: message.clone(),
            }),
            // Past what the recorder keeps of one transfer: nothing to write.
            EventKind::Omitted { .. } => {}
        }
    }
    // A recording stopped early: what had arrived still goes in.
    f.seq = transcript.events.len();
    for (conn, from) in order {
        f.leftover(&conn, from);
    }
    // Where each began; the sort is stable, so messages that began together keep their order.
    f.out.sort_by_key(|(seq, _)| *seq);
    f.out.into_iter().map(|(_, item)| item).collect()
}

/// Echo: the client's bytes until the server has sent back at least as many, then the
/// server's; per connection.
fn echo_items(transcript: &Transcript) -> Vec<Item> {
    #[derive(Default)]
    struct Pending {
        client: Vec<u8>,
        server: Vec<u8>,
    }
    fn flush(out: &mut Vec<Item>, conn: &str, p: &mut Pending) {
        for (from, bytes) in [(Party::Client, &mut p.client), (Party::Server, &mut p.server)] {
            if !bytes.is_empty() {
                out.push(Item::Message {
                    conn: conn.to_string(),
                    from,
                    bytes: std::mem::take(bytes),
                    view: MessageView::default(),
                });
            }
        }
    }
    let mut out = Vec::new();
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut conns: Vec<String> = Vec::new();
    for e in &transcript.events {
        let p = pending.entry(e.conn.clone()).or_default();
        if !conns.contains(&e.conn) {
            conns.push(e.conn.clone());
        }
        match &e.kind {
            EventKind::Data { from, bytes } => match from {
                Party::Client => {
                    if !p.server.is_empty() && p.server.len() >= p.client.len() {
                        flush(&mut out, &e.conn, p);
                    }
                    p.client.extend_from_slice(bytes);
                }
                Party::Server => p.server.extend_from_slice(bytes),
            },
            EventKind::Close { by } => {
                flush(&mut out, &e.conn, p);
                out.push(Item::Close {
                    conn: e.conn.clone(),
                    by: *by,
                });
            }
            EventKind::Open { by, .. } => out.push(Item::Open {
                conn: e.conn.clone(),
                by: *by,
            }),
            EventKind::Listen { by, .. } => out.push(Item::Listen {
                conn: e.conn.clone(),
                by: *by,
            }),
            EventKind::Error { message } => out.push(Item::Error {
                conn: e.conn.clone(),
                message: message.clone(),
            }),
            EventKind::Omitted { .. } => {}
        }
    }
    for conn in conns {
        if let Some(p) = pending.get_mut(&conn) {
            flush(&mut out, &conn, p);
        }
    }
    out
}

fn is_main_from(item: &Item, party: Party) -> bool {
    matches!(item, Item::Message { conn, from, .. } if conn == MAIN && *from == party)
}

/// A reply on `main` that ends a transfer (RFC 959 §5.4: 226/250 after a transfer, or
/// 425/426/451 when it failed).
fn ends_transfer(item: &Item) -> bool {
    matches!(item, Item::Message { conn, from: Party::Server, view, .. }
        if conn == MAIN && matches!(view.code, Some(226 | 250 | 425 | 426 | 451)))
}

/// What a data connection carried, or its close.
fn is_data_traffic(item: &Item) -> bool {
    item.conn() != MAIN && matches!(item, Item::Message { .. } | Item::Close { .. })
}

/// A 125/150 on `main`: the server is about to transfer (RFC 959 §4.2).
fn is_preliminary(item: &Item) -> bool {
    matches!(item, Item::Message { conn, from: Party::Server, view, .. }
        if conn == MAIN && matches!(view.code, Some(125 | 150)))
}

/// FTP: a data connection the server opens comes right after the transfer command (the
/// server connects as soon as it has it), before the server's replies to it; what a data
/// connection carried and its first close come before the reply that ends the transfer;
/// what it carried comes after the 125/150 that announces it; the other side's close of a
/// data connection is left out (nothing waits for it).
fn ftp_order(items: Vec<Item>) -> Vec<Item> {
    // The second close of each data connection goes.
    let mut closed: Vec<String> = Vec::new();
    let mut items: Vec<Item> = items
        .into_iter()
        .filter(|item| match item {
            Item::Close { conn, .. } if conn != MAIN => {
                if closed.contains(conn) {
                    false
                } else {
                    closed.push(conn.clone());
                    true
                }
            }
            _ => true,
        })
        .collect();
    // Server-opened data connections move back over the server's replies.
    let mut i = 0;
    while i < items.len() {
        if matches!(&items[i], Item::Open { conn, by: Party::Server } if conn != MAIN) {
            let mut at = i;
            while at > 0 && is_main_from(&items[at - 1], Party::Server) {
                at -= 1;
            }
            if at < i {
                let open = items.remove(i);
                items.insert(at, open);
            }
        }
        i += 1;
    }
    // What a data connection carried comes after the preliminary reply (125/150) that
    // announces the transfer, when the relay read the data first.
    let mut i = 0;
    while i < items.len() {
        if is_data_traffic(&items[i]) {
            let prelim = (i + 1..items.len())
                .take_while(|k| !is_main_from(&items[*k], Party::Client))
                .find(|k| is_preliminary(&items[*k]));
            if let Some(k) = prelim {
                let mut moved = Vec::new();
                let mut j = i;
                let mut k = k;
                while j < k {
                    if is_data_traffic(&items[j]) {
                        moved.push(items.remove(j));
                        k -= 1;
                    } else {
                        j += 1;
                    }
                }
                let n = moved.len();
                for (off, item) in moved.into_iter().enumerate() {
                    items.insert(k + 1 + off, item);
                }
                i = k + 1 + n;
                continue;
            }
        }
        i += 1;
    }
    // What data connections carried moves before the reply that ends the transfer.
    let mut i = 0;
    while i < items.len() {
        if ends_transfer(&items[i]) {
            let mut j = i + 1;
            let mut moved = 0;
            while j < items.len() && !is_main_from(&items[j], Party::Client) {
                let on_data =
                    items[j].conn() != MAIN && matches!(items[j], Item::Message { .. } | Item::Close { .. });
                if on_data {
                    let item = items.remove(j);
                    items.insert(i + moved, item);
                    moved += 1;
                }
                j += 1;
            }
            i += moved;
        }
        i += 1;
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Event;
    use std::time::Duration;

    fn ev(conn: &str, kind: EventKind) -> Event {
        Event {
            at: Duration::ZERO,
            conn: conn.to_string(),
            kind,
        }
    }

    fn data(conn: &str, from: Party, bytes: &[u8]) -> Event {
        ev(
            conn,
            EventKind::Data {
                from,
                bytes: bytes.to_vec(),
            },
        )
    }

    fn shape(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Listen { conn, by, .. } => format!("{conn} listen {}", by.name()),
                Item::Open { conn, by } => format!("{conn} open {}", by.name()),
                Item::Message {
                    conn, from, bytes, ..
                } => {
                    format!(
                        "{conn} {} {}",
                        from.name(),
                        String::from_utf8_lossy(bytes).trim_end()
                    )
                }
                Item::Close { conn, by } => format!("{conn} close {}", by.name()),
                Item::Error { conn, message } => format!("{conn} error {message}"),
            })
            .collect()
    }

    #[test]
    fn ftp_replies_joined_in_the_transcript_are_cut_again_and_the_transfer_is_put_in_order() {
        let t = Transcript {
            events: vec![
                data(MAIN, Party::Server, b"220 hi\r\n"),
                ev(
                    "data",
                    EventKind::Listen {
                        by: Party::Client,
                        addr: "127.0.0.1:5000".into(),
                    },
                ),
                data(MAIN, Party::Client, b"PORT 127,0,0,1,19,136\r\n"),
                data(MAIN, Party::Server, b"200 ok\r\n"),
                data(MAIN, Party::Client, b"LIST\r\n"),
                // The 150 was read before the relay had opened the data connection, and the
                // 226 before the data connection's close.
                data(MAIN, Party::Server, b"150 here\r\n226 done\r\n"),
                ev(
                    "data",
                    EventKind::Open {
                        by: Party::Server,
                        client: "c".into(),
                        server: "s".into(),
                    },
                ),
                data("data", Party::Server, b"readme.txt\r\n"),
                ev("data", EventKind::Close { by: Party::Server }),
                ev("data", EventKind::Close { by: Party::Client }),
                data(MAIN, Party::Client, b"QUIT\r\n"),
            ],
        };
        assert_eq!(
            shape(&items(Protocol::Ftp, &t, None)),
            [
                "main server 220 hi",
                "data listen client",
                "main client PORT 127,0,0,1,19,136",
                "main server 200 ok",
                "main client LIST",
                "data open server",
                "main server 150 here",
                "data server readme.txt",
                "data close server",
                "main server 226 done",
                "main client QUIT",
            ]
        );
    }

    #[test]
    fn data_read_before_the_150_that_announces_it_is_put_after_it() {
        let t = Transcript {
            events: vec![
                data(MAIN, Party::Client, b"LIST\r\n"),
                ev(
                    "data",
                    EventKind::Open {
                        by: Party::Client,
                        client: "c".into(),
                        server: "s".into(),
                    },
                ),
                data("data", Party::Server, b"readme.txt\r\n"),
                ev("data", EventKind::Close { by: Party::Server }),
                data(MAIN, Party::Server, b"150 here\r\n"),
                data(MAIN, Party::Server, b"226 done\r\n"),
            ],
        };
        assert_eq!(
            shape(&items(Protocol::Ftp, &t, None)),
            [
                "main client LIST",
                "data open client",
                "main server 150 here",
                "data server readme.txt",
                "data close server",
                "main server 226 done",
            ]
        );
    }

    #[test]
    fn http_messages_are_framed_by_content_length_and_by_the_close() {
        let t = Transcript {
            events: vec![
                data(
                    MAIN,
                    Party::Client,
                    b"GET / HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
                ),
                data(
                    MAIN,
                    Party::Server,
                    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
                ),
                data(MAIN, Party::Server, b"HTTP/1.0 200 OK\r\n\r\nuntil the close"),
                ev(MAIN, EventKind::Close { by: Party::Server }),
            ],
        };
        let out = items(Protocol::Http, &t, None);
        assert_eq!(out.len(), 5, "{:?}", shape(&out));
        assert!(matches!(&out[2], Item::Message { view, .. } if view.code == Some(200)));
        assert_eq!(
            shape(&out)[3],
            "main server HTTP/1.0 200 OK\r\n\r\nuntil the close"
        );
    }

    #[test]
    fn a_request_answered_before_its_body_arrived_still_comes_first() {
        let t = Transcript {
            events: vec![
                data(
                    MAIN,
                    Party::Client,
                    b"POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n",
                ),
                data(
                    MAIN,
                    Party::Server,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                ),
                data(MAIN, Party::Client, b"{}"),
            ],
        };
        let out = shape(&items(Protocol::Http, &t, None));
        assert!(out[0].starts_with("main client POST"), "{out:?}");
        assert!(out[1].starts_with("main server HTTP/1.1 200"), "{out:?}");
    }

    #[test]
    fn an_echo_is_one_message_each_way_however_it_was_split() {
        let t = Transcript {
            events: vec![
                data(MAIN, Party::Client, b"hel"),
                data(MAIN, Party::Server, b"he"),
                data(MAIN, Party::Client, b"lo\r\n"),
                data(MAIN, Party::Server, b"llo\r\n"),
                data(MAIN, Party::Client, b"again\r\n"),
                data(MAIN, Party::Server, b"again\r\n"),
                ev(MAIN, EventKind::Close { by: Party::Client }),
            ],
        };
        assert_eq!(
            shape(&items(Protocol::Echo, &t, None)),
            [
                "main client hello",
                "main server hello",
                "main client again",
                "main server again",
                "main close client"
            ]
        );
    }
}
