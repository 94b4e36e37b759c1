//! Records what crosses the connections, in the order it happens, from every task that
//! reads or writes. Consecutive pieces of data going the same way on the same connection
//! are joined, so a transcript does not depend on how the peer split its writes.
//!
//! Memory is flat: each direction of each connection keeps its first [`KEEP_BYTES`] and
//! its last [`TAIL_BYTES`] (in the order they crossed, interleaved with the other
//! direction's), and counts what lies between ([`EventKind::Omitted`]). An echo of 1 GiB
//! weighs as much as one of 256 KiB; the runs of omitted pieces collapse to one count per
//! direction.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::outcome::{Event, EventKind, Party, Transcript};

/// How many bytes of the start of each direction of a connection a transcript keeps by
/// default.
pub const KEEP_BYTES: usize = 64 * 1024;
/// How many bytes of the end of each direction of a connection a transcript keeps (at
/// least; up to twice as many, so trimming is amortised).
pub const TAIL_BYTES: usize = 64 * 1024;

/// A shared, append-only transcript.
#[derive(Debug, Clone)]
pub struct Recorder {
    start: Instant,
    inner: Arc<Mutex<Inner>>,
}

/// One recorded event as the recorder holds it: data carries the count of its own bytes
/// that were trimmed away from its front (written out as an [`EventKind::Omitted`]).
#[derive(Debug, Clone)]
enum Slot {
    Data {
        at: Duration,
        conn: Arc<str>,
        from: Party,
        omitted: u64,
        bytes: Vec<u8>,
    },
    Other(Event),
    /// Merged into an earlier slot; dropped at the next compaction.
    Gone,
}

/// What the recorder knows about one direction of one connection.
#[derive(Debug, Default)]
struct Direction {
    /// Head bytes kept so far.
    head: usize,
    /// Slots (indices) past the head, oldest first, and the bytes they hold.
    tail: VecDeque<usize>,
    tail_bytes: usize,
}

#[derive(Debug)]
struct Inner {
    keep: usize,
    slots: Vec<Slot>,
    gone: usize,
    directions: HashMap<(Arc<str>, Party), Direction>,
}

impl Inner {
    fn conn(&mut self, name: &str) -> Arc<str> {
        if let Some(((c, _), _)) = self.directions.iter().find(|((c, _), _)| &**c == name) {
            return Arc::clone(c);
        }
        Arc::from(name)
    }

    /// Whether the last slot is data on `conn` from `from` (of the head when `head`).
    fn last_is(&self, conn: &str, from: Party, tail: bool) -> bool {
        let last = self.slots.len().checked_sub(1);
        let Some(i) = last else { return false };
        let Slot::Data { conn: c, from: f, .. } = &self.slots[i] else {
            return false;
        };
        if &**c != conn || *f != from {
            return false;
        }
        let in_tail = self
            .directions
            .get(&(Arc::clone(c), from))
            .is_some_and(|d| d.tail.back() == Some(&i));
        in_tail == tail
    }

    fn data(&mut self, at: Duration, conn: &str, from: Party, mut bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let name = self.conn(conn);
        let keep = self.keep;
        let dir = self.directions.entry((Arc::clone(&name), from)).or_default();
        let room = keep.saturating_sub(dir.head);
        if room > 0 && dir.tail.is_empty() {
            let (head, rest) = bytes.split_at(bytes.len().min(room));
            dir.head += head.len();
            if self.last_is(conn, from, false) {
                if let Some(Slot::Data { bytes: b, .. }) = self.slots.last_mut() {
                    b.extend_from_slice(head);
                }
            } else {
                self.slots.push(Slot::Data {
                    at,
                    conn: Arc::clone(&name),
                    from,
                    omitted: 0,
                    bytes: head.to_vec(),
                });
            }
            bytes = rest;
        }
        if bytes.is_empty() {
            return;
        }
        let key = (name, from);
        if bytes.len() > TAIL_BYTES {
            // Only this piece's last TAIL_BYTES can be kept, and nothing older with
            // them: count the rest instead of copying it.
            self.trim_to(&key, 0);
            let skip = bytes.len() - TAIL_BYTES;
            let index = self.slots.len();
            self.slots.push(Slot::Data {
                at,
                conn: Arc::clone(&key.0),
                from,
                omitted: skip as u64,
                bytes: bytes[skip..].to_vec(),
            });
            if let Some(dir) = self.directions.get_mut(&key) {
                dir.tail.push_back(index);
                dir.tail_bytes = TAIL_BYTES;
            }
            return;
        }
        let name = &key.0;
        if self.last_is(conn, from, true) {
            if let Some(Slot::Data { bytes: b, .. }) = self.slots.last_mut() {
                b.extend_from_slice(bytes);
            }
        } else {
            let index = self.slots.len();
            self.slots.push(Slot::Data {
                at,
                conn: Arc::clone(name),
                from,
                omitted: 0,
                bytes: bytes.to_vec(),
            });
            if let Some(dir) = self.directions.get_mut(&key) {
                dir.tail.push_back(index);
            }
        }
        let over = {
            let Some(dir) = self.directions.get_mut(&key) else {
                return;
            };
            dir.tail_bytes += bytes.len();
            dir.tail_bytes > 2 * TAIL_BYTES
        };
        if over {
            self.trim_to(&key, TAIL_BYTES);
        }
    }

    /// Trims the oldest tail bytes of one direction down to `keep`.
    fn trim_to(&mut self, key: &(Arc<str>, Party), keep: usize) {
        loop {
            let Some(dir) = self.directions.get_mut(key) else {
                return;
            };
            let excess = dir.tail_bytes.saturating_sub(keep);
            let Some(&oldest) = dir.tail.front() else { return };
            if excess == 0 {
                return;
            }
            let Slot::Data { omitted, bytes, .. } = &mut self.slots[oldest] else {
                return;
            };
            let cut = excess.min(bytes.len());
            bytes.drain(..cut);
            *omitted += cut as u64;
            dir.tail_bytes -= cut;
            if !bytes.is_empty() {
                return;
            }
            dir.tail.pop_front();
            self.merge_back(oldest);
        }
    }

    /// Collapses the run of emptied slots of one connection around the emptied slot `i`
    /// (nothing of that connection but emptied slots between) into one count per
    /// direction: what lies between a head and a tail has no order worth keeping.
    fn merge_back(&mut self, i: usize) {
        let Slot::Data { conn, .. } = &self.slots[i] else {
            return;
        };
        let conn = Arc::clone(conn);
        let part_of_run = |s: &Slot| match s {
            Slot::Gone => true,
            Slot::Data { conn: c, bytes, .. } => *c != conn || bytes.is_empty(),
            Slot::Other(e) => *e.conn != *conn,
        };
        let mut first = i;
        while first > 0 && part_of_run(&self.slots[first - 1]) {
            first -= 1;
        }
        let mut last = i;
        while last + 1 < self.slots.len() && part_of_run(&self.slots[last + 1]) {
            last += 1;
        }
        let mut keeper: [Option<usize>; 2] = [None, None];
        for j in first..=last {
            let Slot::Data {
                conn: c,
                from,
                omitted,
                ..
            } = &self.slots[j]
            else {
                continue;
            };
            if *c != conn {
                continue;
            }
            let side = usize::from(*from == Party::Server);
            let count = *omitted;
            match keeper[side] {
                None => keeper[side] = Some(j),
                Some(k) => {
                    if let Slot::Data { omitted, .. } = &mut self.slots[k] {
                        *omitted += count;
                    }
                    self.slots[j] = Slot::Gone;
                    self.gone += 1;
                }
            }
        }
        self.compact();
    }

    /// Drops merged slots once they are half of the whole, renumbering the tails.
    fn compact(&mut self) {
        if self.gone * 2 < self.slots.len() || self.gone < 64 {
            return;
        }
        let mut renumber = Vec::with_capacity(self.slots.len());
        let mut next = 0;
        for s in &self.slots {
            renumber.push(next);
            if !matches!(s, Slot::Gone) {
                next += 1;
            }
        }
        self.slots.retain(|s| !matches!(s, Slot::Gone));
        self.gone = 0;
        for dir in self.directions.values_mut() {
            for i in dir.tail.iter_mut() {
                *i = renumber[*i];
            }
        }
    }

    fn push(&mut self, event: Event) {
        if let EventKind::Open { .. } = event.kind {
            // A new connection of the same name starts with fresh budgets.
            self.directions.retain(|(c, _), _| **c != *event.conn);
        }
        self.slots.push(Slot::Other(event));
    }

    /// The events, each emptied-from-the-front data written out as its omitted count
    /// then its bytes, and data going the same way with nothing omitted between joined.
    fn events(&self) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::with_capacity(self.slots.len() - self.gone);
        for s in &self.slots {
            match s {
                Slot::Gone => {}
                Slot::Other(e) => out.push(e.clone()),
                Slot::Data {
                    at,
                    conn,
                    from,
                    omitted,
                    bytes,
                } => {
                    if *omitted > 0 {
                        // Straight after a count of the same direction (nothing but
                        // counts of this connection between): one count.
                        let earlier = out
                            .iter_mut()
                            .rev()
                            .take_while(|e| *e.conn == **conn && matches!(e.kind, EventKind::Omitted { .. }))
                            .find_map(|e| match &mut e.kind {
                                EventKind::Omitted { from: f, bytes } if f == from => Some(bytes),
                                _ => None,
                            });
                        if let Some(count) = earlier {
                            *count += *omitted;
                        } else {
                            out.push(Event {
                                at: *at,
                                conn: conn.to_string(),
                                kind: EventKind::Omitted {
                                    from: *from,
                                    bytes: *omitted,
                                },
                            });
                        }
                    }
                    if bytes.is_empty() {
                        continue;
                    }
                    if let Some(Event {
                        conn: c,
                        kind: EventKind::Data { from: f, bytes: b },
                        ..
                    }) = out.last_mut()
                        && **c == **conn
                        && f == from
                    {
                        b.extend_from_slice(bytes);
                        continue;
                    }
                    out.push(Event {
                        at: *at,
                        conn: conn.to_string(),
                        kind: EventKind::Data {
                            from: *from,
                            bytes: bytes.clone(),
                        },
                    });
                }
            }
        }
        out
    }
}

impl Recorder {
    /// A recorder whose clock starts now, keeping [`KEEP_BYTES`] of each direction's start.
    pub fn new() -> Recorder {
        Recorder::with_limit(KEEP_BYTES)
    }

    /// A recorder that keeps up to `keep` bytes of the start of each direction of each
    /// connection, and [`TAIL_BYTES`] of its end (`parley record` keeps whole transfers
    /// up to `keep`).
    pub fn with_limit(keep: usize) -> Recorder {
        Recorder {
            start: Instant::now(),
            inner: Arc::new(Mutex::new(Inner {
                keep,
                slots: Vec::new(),
                gone: 0,
                directions: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an event (data is kept within the budgets as by [`Recorder::data`]) and
    /// returns its time, which names it for [`Recorder::snapshot_without`].
    pub fn push(&self, conn: &str, kind: EventKind) -> Duration {
        let at = self.start.elapsed();
        let mut inner = self.lock();
        match kind {
            EventKind::Data { from, bytes } => inner.data(at, conn, from, &bytes),
            kind => inner.push(Event {
                at,
                conn: conn.to_string(),
                kind,
            }),
        }
        at
    }

    /// Records data from `from`.
    pub fn data(&self, conn: &str, from: Party, bytes: &[u8]) {
        let at = self.start.elapsed();
        self.lock().data(at, conn, from, bytes);
    }

    /// The time on this recorder's clock (what the next event's `at` would be).
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A copy of the events so far.
    pub fn snapshot(&self) -> Transcript {
        Transcript {
            events: self.lock().events(),
        }
    }

    /// A copy of the events so far but the closes and failures in `left_out`, each named
    /// by its connection and the time [`Recorder::push`] returned for it.
    pub fn snapshot_without(&self, left_out: &[(String, Duration)]) -> Transcript {
        let mut events = self.lock().events();
        events.retain(|e| {
            let ending = matches!(e.kind, EventKind::Close { .. } | EventKind::Error { .. });
            !(ending && left_out.iter().any(|(conn, at)| *conn == e.conn && *at == e.at))
        });
        Transcript { events }
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

    fn total(t: &Transcript, who: Party) -> u64 {
        t.events
            .iter()
            .map(|e| match &e.kind {
                EventKind::Data { from, bytes } if *from == who => bytes.len() as u64,
                EventKind::Omitted { from, bytes } if *from == who => *bytes,
                _ => 0,
            })
            .sum()
    }

    fn kept(t: &Transcript) -> usize {
        t.events
            .iter()
            .map(|e| match &e.kind {
                EventKind::Data { bytes, .. } => bytes.len(),
                _ => 0,
            })
            .sum()
    }

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

    #[test]
    fn a_long_transfer_keeps_its_head_and_tail_and_counts_the_rest() {
        let r = Recorder::new();
        let piece = vec![b'x'; 100_000];
        for _ in 0..100 {
            r.data("data", Party::Server, &piece);
        }
        r.data("data", Party::Client, b"bye");
        let t = r.snapshot();
        let kinds: Vec<&EventKind> = t.events.iter().map(|e| &e.kind).collect();
        assert_eq!(kinds.len(), 4, "{kinds:?}");
        let EventKind::Data { bytes: head, .. } = kinds[0] else {
            panic!()
        };
        let EventKind::Omitted { bytes: omitted, .. } = kinds[1] else {
            panic!("{:?}", kinds[1])
        };
        let EventKind::Data { bytes: tail, .. } = kinds[2] else {
            panic!()
        };
        assert_eq!(head.len(), KEEP_BYTES);
        assert!(tail.len() >= TAIL_BYTES && tail.len() <= 2 * TAIL_BYTES);
        assert_eq!(head.len() as u64 + omitted + tail.len() as u64, 10_000_000);
    }

    #[test]
    fn an_interleaved_echo_keeps_a_bounded_transcript_and_counts_every_byte() {
        let r = Recorder::new();
        let piece = vec![b'e'; 65_536];
        for _ in 0..2_000 {
            r.data("main", Party::Client, &piece);
            r.data("main", Party::Server, &piece);
        }
        r.push("main", EventKind::Close { by: Party::Client });
        let t = r.snapshot();
        assert_eq!(total(&t, Party::Client), 2_000 * 65_536);
        assert_eq!(total(&t, Party::Server), 2_000 * 65_536);
        assert!(
            kept(&t) <= 2 * (KEEP_BYTES + 2 * TAIL_BYTES),
            "{} bytes kept",
            kept(&t)
        );
        assert!(t.events.len() < 16, "{} events", t.events.len());
        assert_eq!(
            t.events.last().map(|e| &e.kind),
            Some(&EventKind::Close { by: Party::Client })
        );
        // The head is the first exchange, as it happened.
        assert!(matches!(
            t.events[0].kind,
            EventKind::Data {
                from: Party::Client,
                ..
            }
        ));
        assert!(matches!(
            t.events[1].kind,
            EventKind::Data {
                from: Party::Server,
                ..
            }
        ));
    }

    #[test]
    fn a_small_reply_after_a_large_upload_stays_in_order() {
        let r = Recorder::new();
        let piece = vec![b'u'; 1 << 20];
        for _ in 0..8 {
            r.data("main", Party::Client, &piece);
        }
        r.data("main", Party::Server, b"HTTP/1.0 200 OK\r\n\r\n");
        let t = r.snapshot();
        let last = t.events.last().map(|e| &e.kind);
        assert_eq!(
            last,
            Some(&EventKind::Data {
                from: Party::Server,
                bytes: b"HTTP/1.0 200 OK\r\n\r\n".to_vec()
            })
        );
        assert_eq!(total(&t, Party::Client), 8 << 20);
    }

    #[test]
    fn a_second_connection_of_the_same_name_gets_its_own_budget() {
        let r = Recorder::new();
        let open = || EventKind::Open {
            by: Party::Client,
            client: "a".into(),
            server: "b".into(),
        };
        r.push("data", open());
        r.data("data", Party::Server, &vec![b'1'; 1 << 20]);
        r.push("data", EventKind::Close { by: Party::Server });
        r.push("data", open());
        r.data("data", Party::Server, b"second listing");
        let t = r.snapshot();
        assert_eq!(
            t.events.last().map(|e| &e.kind),
            Some(&EventKind::Data {
                from: Party::Server,
                bytes: b"second listing".to_vec()
            })
        );
    }
}
