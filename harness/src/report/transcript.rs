//! Transcripts as text: one line per event, bytes made visible, long data cut.
//!
//! The same text is used for the tail shown under a failure and for insta snapshots;
//! snapshots leave out the times and pass the text through filters for ports.

use std::fmt::Write as _;

use crate::outcome::{Event, EventKind, Transcript};
use crate::visible::visible_truncated;

/// How to render.
#[derive(Debug, Clone, Copy)]
pub struct TranscriptStyle {
    /// Show the time offset of each event.
    pub times: bool,
    /// Bytes of data shown per event before cutting.
    pub max_bytes: usize,
}

impl Default for TranscriptStyle {
    fn default() -> Self {
        TranscriptStyle {
            times: true,
            max_bytes: 200,
        }
    }
}

/// Renders one event.
pub fn event_line(e: &Event, style: TranscriptStyle) -> String {
    let mut line = String::new();
    if style.times {
        let _ = write!(line, "{:>9.3} ms  ", e.at.as_secs_f64() * 1000.0);
    }
    let _ = write!(line, "[{}] ", e.conn);
    match &e.kind {
        EventKind::Listen { by, addr } => {
            let _ = write!(line, "{} listens on {addr}", by.name());
        }
        EventKind::Open { by, client, server } => {
            let _ = write!(line, "{} opens {client} -> {server}", by.name());
        }
        EventKind::Data { from, bytes } => {
            let arrow = match from {
                crate::outcome::Party::Client => "C>",
                crate::outcome::Party::Server => "S>",
            };
            let _ = write!(line, "{arrow} \"{}\"", visible_truncated(bytes, style.max_bytes));
        }
        EventKind::Omitted { from, bytes } => {
            let _ = write!(line, "{} sent {bytes} more bytes (not kept)", from.name());
        }
        EventKind::Close { by } => {
            let _ = write!(line, "{} closes", by.name());
        }
        EventKind::Error { message } => {
            let _ = write!(line, "error: {message}");
        }
    }
    line
}

/// Renders the whole transcript.
pub fn render(t: &Transcript, style: TranscriptStyle) -> String {
    let mut out = String::new();
    for e in &t.events {
        out.push_str(&event_line(e, style));
        out.push('\n');
    }
    out
}

/// The text insta snapshots: no times, data cut at 512 bytes.
pub fn for_snapshot(t: &Transcript) -> String {
    render(
        t,
        TranscriptStyle {
            times: false,
            max_bytes: 512,
        },
    )
}
