//! Snapshots as text: a transcript in a canonical form (so that two plays of an unchanged
//! peer give the same bytes), passed through the filters for what legitimately varies and
//! the redactions a scenario or the command line adds; and the human rendering of what
//! `--snapshot DIR` and `parley review` found (diffs with CR/LF visible, summaries).
//!
//! The same text is what `tests/scenarios.rs` snapshots with insta and what
//! [`crate::snapshot`] stores in `DIR/*.snap`.
//!
//! # The canonical form
//!
//! A transcript records events in the order parley saw them. Some of that order is a race
//! between sockets, not something the peer chose, so the canonical form fixes it:
//!
//! - **Across connections.** What the peer did between two of parley's own actions is put
//!   connection by connection, in the order the connections first appear, each one's
//!   events in their own order. An FTP server's 226 on the control connection and the end
//!   of its data connection may arrive either way round; the snapshot always shows the
//!   control connection's replies first, then the data connection's bytes and its close.
//! - **Fixed points** are parley's own data, listens and closes: the peer's events after
//!   one are its answer to it. parley's opens are not fixed (it opens a passive data
//!   connection while the server is already answering the transfer command), nor is
//!   parley's close of a connection the peer had already closed: parley closes its end of
//!   a data connection when it reads the server's end of file, so that close is a reaction
//!   and floats with the peer's events (which is how "the data connection closes before or
//!   after the 226" reads the same both ways).
//! - **After parley's last message** (the last bytes it sent, or the last port it
//!   listened on), closes and resets are left out, whoever made them. parley stops
//!   watching a connection once the scenario has ended, so whether it still saw the
//!   server close after `221 Goodbye` is timing; and when parley plays the server and
//!   closes after its 221, a client that closes at once may have closed first. A close
//!   that a step waits for is checked by that step.
//! - **Once parley has closed a connection**, the peer's close or reset of it is left out
//!   wherever it comes: the peer tears its end down at its leisure (vsftpd resets a data
//!   connection parley closed after a 550 before or after the next command, or after the
//!   scenario ended). Data the peer still sends on it goes right after parley's close.
//! - Data going the same way on the same connection, with nothing between, reads as one
//!   piece (a reply in three TCP segments is one event).
//! - Data longer than [`MAX_BYTES`] is cut, with its length and an FNV-1a digest of all of
//!   it, so a change past the cut still shows.

use std::fmt::Write as _;
use std::sync::OnceLock;

use anstyle::{AnsiColor, Style};
use regex::Regex;
use similar::{ChangeTag, TextDiff};

use std::path::Path;

use crate::outcome::{Event, EventKind, Party, Transcript};
use crate::report::transcript::{TranscriptStyle, event_line};
use crate::scenario::Redaction;
use crate::snapshot::{Checked, Pending, SnapFile, Verdict};

/// Bytes of one data event a snapshot shows before cutting.
pub const MAX_BYTES: usize = 4096;

/// Regex → replacement pairs applied to snapshot text, in order: what legitimately varies
/// between two plays of an unchanged peer, or between machines.
pub const FILTERS: &[(&str, &str)] = &[
    // Addresses with ports: 127.0.0.1:40123
    (r"(\d+\.\d+\.\d+\.\d+):\d{2,5}", "$1:[port]"),
    // FTP PORT / 227 arguments: 127,0,0,1,155,171
    (
        r"\b(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),\d{1,3},\d{1,3}\b",
        "$1,$2,$3,$4,[p1],[p2]",
    ),
    // EPRT / 229: |1|127.0.0.1|39851| and (|||39851|)
    (r"\|(\d?)\|([^|]*)\|\d+\|", "|$1|$2|[port]|"),
    // HTTP dates
    (r"(?i)(date|last-modified|expires): [^\\]*\\r", "$1: [date]\\r"),
    (
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT",
        "[date]",
    ),
    // Server versions: the HTTP `Server:` header
    (r"(?i)server: [^\\]*\\r", "Server: [server]\\r"),
    // FTP greeting banners: the text of each `220` line (it names the server and its
    // version, or whatever the operator configured), at the start of a piece or a line.
    (r#"(S> "|\\n)220([ -])[^\\"]*\\r"#, "${1}220${2}[banner]\\r"),
    // Host headers carry the port
    (r"(?i)(host|origin): ([^\\:]*):\d+", "$1: $2:[port]"),
    // `ls -l` dates in FTP listings: `Jan 01  2024` (older files), `Nov 25 09:35` (recent)
    (
        r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} +(\d{1,2}:\d\d|\d{4})\b",
        "[date]",
    ),
    // Measured durations servers put in replies: `226 Transfer complete (0.002 secs)`,
    // `226 0.000 seconds (measured here)`, `took 1.25 ms` (a fraction: `5s` in prose stays)
    (r"\b\d+\.\d+ ?(ms|µs|us|s|secs?|seconds)\b", "[duration]"),
];

fn filters() -> &'static [(Regex, &'static str)] {
    static COMPILED: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        FILTERS
            .iter()
            .map(|(pattern, replacement)| (Regex::new(pattern).expect("a valid filter"), *replacement))
            .collect()
    })
}

/// `text` through [`FILTERS`], then through `redactions` in order.
pub fn filter(text: &str, redactions: &[Redaction]) -> String {
    let mut out = text.to_string();
    for (re, replacement) in filters() {
        if let std::borrow::Cow::Owned(s) = re.replace_all(&out, *replacement) {
            out = s;
        }
    }
    for r in redactions {
        if let std::borrow::Cow::Owned(s) = r.regex.replace_all(&out, r.replacement.as_str()) {
            out = s;
        }
    }
    out
}

/// Reads `--redact REGEX=TEXT`: the regex ends at the first `=` not written `\=` (`\=`
/// is an `=` in the regex; the text is everything after).
pub fn parse_redaction(arg: &str) -> Result<Redaction, String> {
    let bytes = arg.as_bytes();
    let mut split = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' => {
                split = Some(i);
                break;
            }
            _ => i += 1,
        }
    }
    let Some(at) = split.filter(|&at| at > 0) else {
        return Err(format!(
            "--redact `{arg}` is not of the form REGEX=TEXT, e.g. 'session=\\w+=session=[id]' \
             (write `\\=` for an `=` in the regex)"
        ));
    };
    let pattern = arg[..at].replace("\\=", "=");
    let regex =
        Regex::new(&pattern).map_err(|e| format!("--redact `{arg}`: invalid regular expression:\n{e}"))?;
    Ok(Redaction {
        regex,
        replacement: arg[at + 1..].to_string(),
    })
}

/// Whether `e` is one of parley's own actions, which the peer's events answer (see the
/// module documentation); `peer_closed` names the connections the peer has closed so far.
fn is_fixed(e: &Event, parley: Party, peer_closed: &[&str]) -> bool {
    match &e.kind {
        EventKind::Data { from, .. } | EventKind::Omitted { from, .. } => *from == parley,
        EventKind::Listen { by, .. } => *by == parley,
        EventKind::Close { by } => *by == parley && !peer_closed.contains(&e.conn.as_str()),
        EventKind::Open { .. } | EventKind::Error { .. } => false,
    }
}

/// `t` in its canonical order (see the module documentation), for a play in which
/// parley was `parley`. Times are kept but mean nothing any more.
pub fn canonical(t: &Transcript, parley: Party) -> Transcript {
    let mut rank: Vec<&str> = Vec::new();
    for e in &t.events {
        if !rank.contains(&e.conn.as_str()) {
            rank.push(&e.conn);
        }
    }
    let position = |conn: &str| rank.iter().position(|c| *c == conn).unwrap_or(usize::MAX);
    // After parley's last message, closes and resets are teardown (see above).
    let last_message = t
        .events
        .iter()
        .rposition(|e| match &e.kind {
            EventKind::Data { from, .. } | EventKind::Omitted { from, .. } => *from == parley,
            EventKind::Listen { by, .. } => *by == parley,
            _ => false,
        })
        .map_or(0, |i| i + 1);
    let events = t.events.iter().enumerate().filter(|(i, e)| {
        *i < last_message || !matches!(e.kind, EventKind::Close { .. } | EventKind::Error { .. })
    });
    let mut peer_closed: Vec<&str> = Vec::new();
    // The connections parley has closed, with the group of its close.
    let mut parley_closed: Vec<(&str, usize)> = Vec::new();
    let mut groups: Vec<(Option<Event>, Vec<Event>)> = vec![(None, Vec::new())];
    for (_, e) in events {
        if is_fixed(e, parley, &peer_closed) {
            if matches!(e.kind, EventKind::Close { .. }) {
                parley_closed.push((&e.conn, groups.len()));
            }
            groups.push((Some(e.clone()), Vec::new()));
            continue;
        }
        if matches!(e.kind, EventKind::Close { by } if by != parley) {
            peer_closed.push(&e.conn);
        }
        match parley_closed.iter().find(|(c, _)| *c == e.conn) {
            // The peer's end of a connection parley has closed: its teardown is at the
            // peer's leisure (and parley may have stopped watching), so it is left out;
            // its data goes with parley's close.
            Some(_) if matches!(e.kind, EventKind::Close { .. } | EventKind::Error { .. }) => {}
            Some(&(_, group)) => groups[group].1.push(e.clone()),
            None => {
                if let Some((_, floating)) = groups.last_mut() {
                    floating.push(e.clone());
                }
            }
        }
    }
    let mut ordered: Vec<Event> = Vec::with_capacity(t.events.len());
    for (fixed, mut floating) in groups {
        if let Some(e) = fixed {
            push_joined(&mut ordered, e);
        }
        floating.sort_by_key(|e| position(&e.conn));
        for e in floating {
            push_joined(&mut ordered, e);
        }
    }
    Transcript { events: ordered }
}

/// Pushes `e`, joining it to the last event when both are data going the same way on the
/// same connection.
fn push_joined(ordered: &mut Vec<Event>, e: Event) {
    if let (
        Some(Event {
            conn,
            kind: EventKind::Data { from, bytes },
            ..
        }),
        EventKind::Data { from: f, bytes: b },
    ) = (ordered.last_mut(), &e.kind)
    {
        if *conn == e.conn && from == f {
            bytes.extend_from_slice(b);
            return;
        }
    }
    ordered.push(e);
}

/// One event as a snapshot line, through the filters and `redactions`: no time; data
/// whose filtered text is longer than [`MAX_BYTES`] is cut (never inside an escape), with
/// its length in bytes and a digest of all of its filtered text, so that what the filters
/// hide (a `Date:` header) does not change the digest and a change past the cut does.
fn line(e: &Event, redactions: &[Redaction]) -> String {
    let full = filter(
        &event_line(
            e,
            TranscriptStyle {
                times: false,
                max_bytes: usize::MAX,
            },
        ),
        redactions,
    );
    let EventKind::Data { bytes, .. } = &e.kind else {
        return full;
    };
    // `[conn] C> "` … `"`
    let Some(open) = full.find("> \"").map(|i| i + 3) else {
        return full;
    };
    let inner = full[open..].strip_suffix('"').unwrap_or(&full[open..]);
    if inner.len() <= MAX_BYTES {
        return full;
    }
    let mut cut = 0;
    let mut chars = inner.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let mut end = i + c.len_utf8();
        if c == '\\' {
            // An escape: `\r`, `\n`, `\t`, `\0`, `\\` or `\xHH`, kept whole.
            let width = match inner[end..].chars().next() {
                Some('x') => 3,
                Some(_) => 1,
                None => 0,
            };
            end = (end + width).min(inner.len());
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
        }
        if end > MAX_BYTES {
            break;
        }
        cut = end;
    }
    format!(
        "{}\"… ({} bytes in all, fnv1a {:016x})",
        &full[..open + cut],
        bytes.len(),
        fnv1a(inner.as_bytes())
    )
}

/// 64-bit FNV-1a of `bytes`: a stable digest (the same on every machine and release).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The snapshot text of a play in which parley was `parley`: one line per event of the
/// [`canonical`] transcript, through the [`FILTERS`] and then `redactions`. This is what
/// is stored and compared.
pub fn normalized(t: &Transcript, parley: Party, redactions: &[Redaction]) -> String {
    let mut out = String::new();
    for e in &canonical(t, parley).events {
        out.push_str(&line(e, redactions));
        out.push('\n');
    }
    out
}

/// One line of a snapshot diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine {
    /// The same in both.
    Same(String),
    /// Only in the stored snapshot.
    Removed(String),
    /// Only in the new one.
    Added(String),
    /// `@@ -a,b +c,d @@`: where the next lines are.
    Hunk(String),
}

/// Splits snapshot text into diff lines: each event line, and within a data event a line
/// after each `\n` escape (continuation pieces indented under the opening quote), so a
/// listing whose line ends change shows line by line.
pub fn diff_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for event in text.lines() {
        let indent = event.find("> \"").map(|i| i + 3).unwrap_or(0);
        let mut pieces = super::diff::split_visible_lines(event);
        // The closing quote (and a cut's length) stays on the last protocol line.
        if pieces.len() > 1 && pieces.last().is_some_and(|p| p.starts_with('"')) {
            let tail = pieces.pop().unwrap_or_default();
            if let Some(last) = pieces.last_mut() {
                last.push_str(&tail);
            }
        }
        for (i, piece) in pieces.into_iter().enumerate() {
            if i == 0 {
                out.push(piece);
            } else {
                out.push(format!("{:indent$}{piece}", ""));
            }
        }
    }
    out
}

/// A unified diff of two snapshot texts, `context` lines around each change; empty when
/// they are the same.
pub fn diff(stored: &str, new: &str, context: usize) -> Vec<DiffLine> {
    if stored == new {
        return Vec::new();
    }
    let old = diff_lines(stored).join("\n") + "\n";
    let newer = diff_lines(new).join("\n") + "\n";
    let d = TextDiff::from_lines(&old, &newer);
    let mut out = Vec::new();
    for group in d.grouped_ops(context) {
        let (first, last) = (&group[0], &group[group.len() - 1]);
        let (o, n) = (first.old_range().start, first.new_range().start);
        let (o_len, n_len) = (last.old_range().end - o, last.new_range().end - n);
        out.push(DiffLine::Hunk(format!(
            "@@ -{},{o_len} +{},{n_len} @@",
            o + usize::from(o_len > 0),
            n + usize::from(n_len > 0)
        )));
        for op in &group {
            for change in d.iter_changes(op) {
                let text = change.value().trim_end_matches('\n').to_string();
                out.push(match change.tag() {
                    ChangeTag::Equal => DiffLine::Same(text),
                    ChangeTag::Delete => DiffLine::Removed(text),
                    ChangeTag::Insert => DiffLine::Added(text),
                });
            }
        }
    }
    out
}

/// Counts of removed and added lines.
pub fn changed_lines(diff: &[DiffLine]) -> (usize, usize) {
    diff.iter().fold((0, 0), |(r, a), l| match l {
        DiffLine::Removed(_) => (r + 1, a),
        DiffLine::Added(_) => (r, a + 1),
        _ => (r, a),
    })
}

fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

/// A diff rendered for a terminal or a log, each line after `indent`: `-` stored, `+` new,
/// red and green when `color`.
pub fn render_diff(diff: &[DiffLine], indent: &str, color: bool) -> String {
    let mut out = String::new();
    for l in diff {
        let text = match l {
            DiffLine::Same(t) => format!(" {t}"),
            DiffLine::Removed(t) => paint(color, AnsiColor::Red.on_default(), &format!("-{t}")),
            DiffLine::Added(t) => paint(color, AnsiColor::Green.on_default(), &format!("+{t}")),
            DiffLine::Hunk(t) => paint(color, AnsiColor::Cyan.on_default(), t),
        };
        let _ = writeln!(out, "{indent}{text}");
    }
    out
}

/// The diff under an S-SNAPSHOT finding: the stored snapshot (`expected`) against this
/// run's (`actual`), three lines of context.
pub fn finding_diff(expected: &str, actual: &str, indent: &str, color: bool) -> String {
    let d = diff(expected, actual, 3);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{indent}{}",
        paint(color, Style::new().dimmed(), "--- stored snapshot  +++ this run")
    );
    out.push_str(&render_diff(&d, indent, color));
    out
}

/// What `--snapshot DIR` did, after the report: a line per snapshot recorded, changed or
/// accepted (under `quiet`, changed only), the counts, and how to review.
pub fn summary(checked: &[Checked], dir: &Path, color: bool, quiet: bool) -> String {
    let mut out = String::new();
    let (mut matched, mut recorded, mut changed, mut accepted, mut not_played) = (0, 0, 0, 0, 0);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for c in checked {
        match &c.verdict {
            Verdict::Matched => matched += 1,
            Verdict::NotPlayed => not_played += 1,
            Verdict::Recorded => {
                recorded += 1;
                if quiet {
                    continue;
                }
                rows.push(vec![
                    paint(color, AnsiColor::Cyan.on_default(), "recorded"),
                    c.label.clone(),
                    c.path.display().to_string(),
                ]);
            }
            Verdict::Changed { pending, lines } => {
                changed += 1;
                rows.push(vec![
                    paint(color, AnsiColor::Red.on_default().bold(), "changed"),
                    c.label.clone(),
                    format!("{} (-{} +{} lines)", pending.display(), lines.0, lines.1),
                ]);
            }
            Verdict::Accepted { lines } => {
                accepted += 1;
                if quiet {
                    continue;
                }
                rows.push(vec![
                    paint(color, AnsiColor::Yellow.on_default(), "accepted"),
                    c.label.clone(),
                    format!("{} (-{} +{} lines)", c.path.display(), lines.0, lines.1),
                ]);
            }
        }
    }
    let _ = write!(
        out,
        "\nsnapshots in {}: {matched} unchanged, {recorded} recorded, {changed} changed, {accepted} accepted",
        dir.display()
    );
    if not_played > 0 {
        let _ = write!(out, ", {not_played} not played (no snapshot taken)");
    }
    out.push('\n');
    for line in super::human::columns(&rows, &[]).lines() {
        let _ = writeln!(out, "  {line}");
    }
    if changed > 0 {
        let _ = writeln!(
            out,
            "  review the changes: parley review {} (or rerun with --accept to store them all)",
            dir.display()
        );
    }
    out
}

/// One pending snapshot as `parley review` shows it: which, what produced it, and its
/// diff against the stored one (all of it, as added lines, when none is stored).
pub fn review_entry(
    index: usize,
    total: usize,
    pending: &Pending,
    stored: Option<&SnapFile>,
    new: &SnapFile,
    color: bool,
) -> String {
    let mut out = String::new();
    let bold = Style::new().bold();
    let _ = writeln!(
        out,
        "{}",
        paint(
            color,
            bold,
            &format!("[{index}/{total}] {}", pending.new.display())
        )
    );
    let m = &new.metadata;
    let scenario = m
        .info
        .iter()
        .find(|(k, _)| k == "scenario")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let mut about = Vec::new();
    for (key, value) in [
        ("scenario", Some(scenario).filter(|s| !s.is_empty())),
        ("name", m.description.as_deref()),
        ("source", m.source.as_deref()),
        ("played by", m.expression.as_deref()),
    ] {
        if let Some(v) = value {
            about.push(format!("  {key}: {v}"));
        }
    }
    for (k, v) in &m.info {
        if k != "scenario" {
            about.push(format!("  {k}: {v}"));
        }
    }
    for line in about {
        let _ = writeln!(out, "{}", paint(color, Style::new().dimmed(), &line));
    }
    match stored {
        Some(old) => {
            let d = diff(&old.contents, &new.contents, 3);
            let (removed, added) = changed_lines(&d);
            let _ = writeln!(
                out,
                "  {}",
                paint(
                    color,
                    Style::new().dimmed(),
                    &format!(
                        "--- stored {}  +++ new ({removed} line(s) removed, {added} added)",
                        pending.stored.display()
                    )
                )
            );
            if d.is_empty() {
                let _ = writeln!(out, "  (the same text as the stored one)");
            }
            out.push_str(&render_diff(&d, "  ", color));
        }
        None => {
            let _ = writeln!(
                out,
                "  new snapshot (nothing is stored at {}):",
                pending.stored.display()
            );
            let lines: Vec<DiffLine> = diff_lines(&new.contents)
                .into_iter()
                .map(DiffLine::Added)
                .collect();
            out.push_str(&render_diff(&lines, "  ", color));
        }
    }
    out
}

/// What `parley review` does with a pending snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewAction {
    /// Stored: it replaces the snapshot.
    Accepted,
    /// Removed: the stored snapshot stays.
    Rejected,
    /// Left pending.
    Skipped,
}

/// The line `parley review` prints after acting on `pending`.
pub fn review_done(action: ReviewAction, pending: &Pending) -> String {
    match action {
        ReviewAction::Accepted => format!(
            "accepted {} (now {})",
            pending.new.display(),
            pending.stored.display()
        ),
        ReviewAction::Rejected => format!(
            "rejected {} (removed; the stored snapshot stays)",
            pending.new.display()
        ),
        ReviewAction::Skipped => format!("skipped  {} (still pending)", pending.new.display()),
    }
}

/// The closing line of `parley review`.
pub fn review_summary(dir: &Path, actions: &[ReviewAction]) -> String {
    let count = |a: ReviewAction| actions.iter().filter(|x| **x == a).count();
    format!(
        "review of {}: {} accepted, {} rejected, {} skipped",
        dir.display(),
        count(ReviewAction::Accepted),
        count(ReviewAction::Rejected),
        count(ReviewAction::Skipped)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn close(conn: &str, by: Party) -> Event {
        ev(conn, EventKind::Close { by })
    }

    fn open(conn: &str, by: Party) -> Event {
        ev(
            conn,
            EventKind::Open {
                by,
                client: "127.0.0.1:40000".into(),
                server: "127.0.0.1:2121".into(),
            },
        )
    }

    fn snap(events: Vec<Event>) -> String {
        normalized(&Transcript { events }, Party::Client, &[])
    }

    #[test]
    fn the_bytes_a_transcript_left_out_stay_in_their_place_in_the_snapshot() {
        use Party::{Client, Server};
        let omitted = |from| {
            ev(
                "main",
                EventKind::Omitted {
                    from,
                    bytes: 1_000_000,
                },
            )
        };
        // The peer's omitted run floats with its data; parley's is fixed like its data.
        let text = snap(vec![
            data("main", Client, b"head"),
            omitted(Client),
            data("main", Client, b"tail"),
            data("main", Server, b"echo-head"),
            omitted(Server),
            data("main", Server, b"echo-tail"),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(
            lines[1].contains("1000000") && lines[1].starts_with("[main]"),
            "{text}"
        );
        assert!(lines[4].contains("1000000"), "{text}");
        assert!(lines[5].contains("echo-tail"), "{text}");
    }

    #[test]
    fn snapshots_do_not_depend_on_which_socket_the_peer_was_read_from_first() {
        use Party::{Client, Server};
        let orders = [
            vec![
                data("main", Client, b"LIST\r\n"),
                open("data", Client),
                data("main", Server, b"150 x\r\n"),
                data("data", Server, b"listing"),
                close("data", Server),
                data("main", Server, b"226 y\r\n"),
                data("main", Client, b"QUIT\r\n"),
            ],
            vec![
                data("main", Client, b"LIST\r\n"),
                data("main", Server, b"150 x\r\n"),
                open("data", Client),
                data("data", Server, b"listing"),
                data("main", Server, b"226 y\r\n"),
                close("data", Server),
                data("main", Client, b"QUIT\r\n"),
            ],
        ];
        let texts: Vec<String> = orders.into_iter().map(snap).collect();
        assert_eq!(texts[0], texts[1]);
        assert_eq!(
            texts[0],
            "[main] C> \"LIST\\r\\n\"\n[main] S> \"150 x\\r\\n226 y\\r\\n\"\n\
             [data] client opens 127.0.0.1:[port] -> 127.0.0.1:[port]\n\
             [data] S> \"listing\"\n[data] server closes\n[main] C> \"QUIT\\r\\n\"\n"
        );
    }

    #[test]
    fn the_226_before_or_after_parley_closes_the_data_connection_reads_the_same() {
        use Party::{Client, Server};
        // parley closes its end once it has read the server's end of file: a reaction,
        // which the server's 226 may precede or follow.
        let before = vec![
            data("main", Client, b"RETR f\r\n"),
            data("main", Server, b"150 x\r\n"),
            data("data", Server, b"body"),
            close("data", Server),
            close("data", Client),
            data("main", Server, b"226 y\r\n"),
            data("main", Client, b"QUIT\r\n"),
        ];
        let mut after = before.clone();
        after.swap(4, 5);
        assert_eq!(snap(before.clone()), snap(after));
        assert!(
            snap(before).contains("[data] server closes\n[data] client closes\n[main] C> \"QUIT"),
            "the data connection's events stay together"
        );
    }

    #[test]
    fn a_close_after_parleys_last_action_is_left_out_whether_or_not_it_was_seen() {
        use Party::{Client, Server};
        let seen = vec![
            data("main", Client, b"QUIT\r\n"),
            data("main", Server, b"221 Goodbye.\r\n"),
            close("main", Server),
        ];
        let missed = seen[..2].to_vec();
        assert_eq!(snap(seen.clone()), snap(missed));
        assert_eq!(
            snap(seen),
            "[main] C> \"QUIT\\r\\n\"\n[main] S> \"221 Goodbye.\\r\\n\"\n"
        );
        // A close the peer made before parley's last action stays.
        let earlier = vec![
            data("data", Server, b"x"),
            close("data", Server),
            data("main", Client, b"QUIT\r\n"),
        ];
        assert!(snap(earlier).contains("[data] server closes"));
    }

    #[test]
    fn the_peers_teardown_of_a_connection_parley_closed_is_left_out() {
        use Party::{Client, Server};
        let reset = |conn: &str| {
            ev(
                conn,
                EventKind::Error {
                    message: "Connection reset by peer (os error 104)".into(),
                },
            )
        };
        let base = vec![
            data("main", Client, b"RETR nope\r\n"),
            data("main", Server, b"550 no\r\n"),
            close("data", Client),
            data("main", Client, b"QUIT\r\n"),
            data("main", Server, b"221 bye\r\n"),
        ];
        let mut early = base.clone();
        early.insert(3, reset("data"));
        let mut late = base.clone();
        late.push(reset("data"));
        let mut closed = base.clone();
        closed.insert(3, close("data", Server));
        let expected = snap(base);
        assert_eq!(snap(early), expected);
        assert_eq!(snap(late), expected);
        assert_eq!(snap(closed), expected);
        assert!(
            expected.contains("[data] client closes\n[main] C> \"QUIT"),
            "{expected}"
        );
        // Data the peer still sends goes right after parley's close.
        let mut more = vec![
            data("main", Client, b"x"),
            close("main", Client),
            data("other", Client, b"y"),
        ];
        more.push(data("main", Server, b"x"));
        assert_eq!(
            snap(more),
            "[main] C> \"x\"\n[main] client closes\n[main] S> \"x\"\n[other] C> \"y\"\n"
        );
    }

    #[test]
    fn parleys_own_close_of_an_open_connection_is_a_fixed_point() {
        use Party::{Client, Server};
        let t = vec![
            data("main", Client, b"hello"),
            data("main", Server, b"hello"),
            close("main", Client),
            data("other", Server, b"late"),
            data("other", Client, b"bye"),
        ];
        assert_eq!(
            snap(t),
            "[main] C> \"hello\"\n[main] S> \"hello\"\n[main] client closes\n[other] S> \"late\"\n[other] C> \"bye\"\n"
        );
    }

    #[test]
    fn who_closes_first_after_the_last_message_does_not_matter() {
        use Party::{Client, Server};
        // parley plays the server: its scripted close after 221 races the client's.
        let snap_server = |events| normalized(&Transcript { events }, Server, &[]);
        let mut first = vec![
            data("main", Client, b"QUIT\r\n"),
            data("main", Server, b"221 Goodbye.\r\n"),
            close("main", Server),
            close("main", Client),
        ];
        let expected = "[main] C> \"QUIT\\r\\n\"\n[main] S> \"221 Goodbye.\\r\\n\"\n";
        assert_eq!(snap_server(first.clone()), expected);
        first.swap(2, 3);
        assert_eq!(snap_server(first), expected);
    }

    #[test]
    fn pieces_of_one_reply_are_one_event() {
        use Party::{Client, Server};
        let t = vec![
            data("main", Client, b"NOOP\r\n"),
            data("main", Server, b"200 "),
            data("main", Server, b"ok\r\n"),
        ];
        assert_eq!(snap(t), "[main] C> \"NOOP\\r\\n\"\n[main] S> \"200 ok\\r\\n\"\n");
    }

    #[test]
    fn long_data_is_cut_with_its_length_and_a_digest_of_all_of_it() {
        let a = vec![0x61u8; MAX_BYTES + 100];
        let mut b = a.clone();
        b[MAX_BYTES + 99] = b'b';
        let ta = snap(vec![data("main", Party::Server, &a)]);
        let tb = snap(vec![data("main", Party::Server, &b)]);
        assert!(
            ta.contains(&format!("({} bytes in all, fnv1a ", MAX_BYTES + 100)),
            "{ta}"
        );
        assert_ne!(ta, tb, "a change past the cut shows in the digest");
        // What the filters hide does not change the digest.
        let dated = |date: &str| {
            let mut body = format!("HTTP/1.0 200 OK\r\nDate: {date}\r\n\r\n").into_bytes();
            body.extend(std::iter::repeat_n(b'x', MAX_BYTES));
            snap(vec![data("main", Party::Server, &body)])
        };
        assert_eq!(
            dated("Tue, 02 Dec 2025 01:02:03 GMT"),
            dated("Wed, 03 Dec 2025 04:05:06 GMT")
        );
        // The cut never splits an escape.
        // (One plain byte first, so the cut falls inside a `\xFF`.)
        let mut odd = vec![b'a'];
        odd.extend(std::iter::repeat_n(0xffu8, MAX_BYTES / 3));
        let escapes = snap(vec![data("main", Party::Server, &odd)]);
        assert!(
            escapes.contains(&format!("\\xFF\"… ({} bytes in all", MAX_BYTES / 3 + 1)),
            "{escapes}"
        );
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn greeting_banners_server_headers_and_dates_are_filtered() {
        let t = "[main] S> \"220 (vsFTPd 3.0.3)\\r\\n\"\n\
                 [main] S> \"220-Welcome to\\r\\n220-the box\\r\\n220 ProFTPD 1.3.8 ready\\r\\n\"\n\
                 [main] S> \"HTTP/1.1 200 OK\\r\\nServer: nginx/1.22.1\\r\\nDate: Tue, 02 Dec 2025 01:02:03 GMT\\r\\n\"\n\
                 [main] S> \"226 Transfer complete (0.002 secs)\\r\\n\"\n";
        assert_eq!(
            filter(t, &[]),
            "[main] S> \"220 [banner]\\r\\n\"\n\
             [main] S> \"220-[banner]\\r\\n220-[banner]\\r\\n220 [banner]\\r\\n\"\n\
             [main] S> \"HTTP/1.1 200 OK\\r\\nServer: [server]\\r\\nDate: [date]\\r\\n\"\n\
             [main] S> \"226 Transfer complete ([duration])\\r\\n\"\n"
        );
        // Durations need a fraction: `5ms` in prose is not a measurement.
        assert_eq!(filter("write `5ms` or 1.25 ms", &[]), "write `5ms` or [duration]");
        // A 220 that is not at the start of a line is data, not a greeting.
        assert_eq!(filter("[main] C> \"x 220 y\"", &[]), "[main] C> \"x 220 y\"");
    }

    #[test]
    fn redactions_run_after_the_filters_in_order() {
        let r = parse_redaction(r"session\=\w+=session=[id]").unwrap();
        assert_eq!(r.regex.as_str(), r"session=\w+");
        assert_eq!(r.replacement, "session=[id]");
        let twice = [r, parse_redaction("\\[id\\]=[gone]").unwrap()];
        assert_eq!(filter("Cookie: session=abc123", &twice), "Cookie: session=[gone]");
        assert!(parse_redaction("no-equals").is_err());
        assert!(parse_redaction("=x").is_err());
        assert!(
            parse_redaction("(=x")
                .unwrap_err()
                .contains("invalid regular expression")
        );
    }

    #[test]
    fn a_diff_shows_each_protocol_line_of_a_data_event() {
        let old = "[main] C> \"RETR f\\r\\n\"\n[data] S> \"one\\ntwo\\n\"\n[main] S> \"226 ok\\r\\n\"\n";
        let new =
            "[main] C> \"RETR f\\r\\n\"\n[data] S> \"one\\r\\ntwo\\r\\n\"\n[main] S> \"226 ok\\r\\n\"\n";
        let d = diff(old, new, 3);
        assert_eq!(changed_lines(&d), (2, 2));
        assert!(d.contains(&DiffLine::Removed("[data] S> \"one\\n".into())));
        assert!(d.contains(&DiffLine::Added("           two\\r\\n\"".into())));
        assert!(d.contains(&DiffLine::Same("[main] S> \"226 ok\\r\\n\"".into())));
        assert_eq!(d[0], DiffLine::Hunk("@@ -1,4 +1,4 @@".into()));
        assert!(diff(old, old, 3).is_empty());
        let plain = render_diff(&d, "  ", false);
        assert!(plain.contains("  -[data] S> \"one\\n\n"), "{plain}");
        let coloured = render_diff(&d, "  ", true);
        assert!(coloured.contains("\u{1b}["), "{coloured}");
    }
}
