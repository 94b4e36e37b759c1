//! Records what crosses the connections, in the order it happens, from every task that
//! reads or writes. Consecutive pieces of data going the same way on the same connection
//! are joined, so a transcript does not depend on how the peer split its writes.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::outcome::{Event, EventKind, Party, Transcript};

/// How many bytes of one connection's data a transcript keeps per direction (the rest is
/// counted, not stored).
pub const KEEP_BYTES: usize = 1024 * 1024;

/// A shared, append-only transcript.
#[derive(Debug, Clone)]
pub struct Recorder {
    start: Instant,
    keep: usize,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Recorder {
    /// A recorder whose clock starts now, keeping [`KEEP_BYTES`] per event.
    pub fn new() -> Recorder {
        Recorder::with_limit(KEEP_BYTES)
    }

    /// A recorder that keeps up to `keep` bytes of data per event (`parley record` keeps
    /// whole transfers, to write them into the scenario).
    pub fn with_limit(keep: usize) -> Recorder {
        Recorder {
            start: Instant::now(),
            keep,
            events: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Appends an event.
    pub fn push(&self, conn: &str, kind: EventKind) {
        let at = self.start.elapsed();
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if let EventKind::Data { from, bytes } = &kind {
            if let Some(Event {
                conn: last_conn,
                kind:
                    EventKind::Data {
                        from: last_from,
                        bytes: last,
                    },
                ..
            }) = events.last_mut()
            {
                if last_conn == conn && last_from == from {
                    let room = self.keep.saturating_sub(last.len());
                    last.extend_from_slice(&bytes[..bytes.len().min(room)]);
                    return;
                }
            }
        }
        events.push(Event {
            at,
            conn: conn.to_string(),
            kind,
        });
    }

    /// Records data from `from`.
    pub fn data(&self, conn: &str, from: Party, bytes: &[u8]) {
        self.push(
            conn,
            EventKind::Data {
                from,
                bytes: bytes[..bytes.len().min(self.keep)].to_vec(),
            },
        );
    }

    /// A copy of the events so far.
    pub fn snapshot(&self) -> Transcript {
        Transcript {
            events: self.events.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_going_the_same_way_are_joined() {
        let r = Recorder::new();
        r.data("main", Party::Server, b"he");
        r.data("main", Party::Server, b"llo");
        r.data("main", Party::Client, b"x");
        r.data("other", Party::Client, b"y");
        let t = r.snapshot();
        assert_eq!(t.events.len(), 3);
        assert_eq!(
            t.events[0].kind,
            EventKind::Data {
                from: Party::Server,
                bytes: b"hello".to_vec()
            }
        );
    }
}
