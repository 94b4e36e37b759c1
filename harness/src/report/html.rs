//! The HTML report: one self-contained page (inline CSS and a little inline JS, nothing
//! fetched), so it opens from a mail attachment or a course web page.
//!
//! - Every run is an article with a **sequence diagram** of its conversation: a lane per
//!   party (client left, server right), a band per connection (FTP's control `main` and
//!   its `data` connection side by side), one row per event in the order it happened.
//!   Each message is an arrow labelled with its bytes, CR/LF visible, long payloads folded
//!   behind a `<details>` toggle; each finding is pinned under the message it is about
//!   (its connection, the party that sent the bytes, and the bytes it quotes), with rule
//!   id, RFC section, expected vs actual and hint.
//! - A run of scenarios starts with a summary table; a class (`parley grade
//!   --submissions`) with a **gradebook** (submission × scenario × variant: points and the
//!   rules that cost them, each cell linking to that run's diagram; sortable and
//!   filterable) and a **histogram** of how many submissions broke each rule.
//!
//! [`render`] is a pure function of the outcomes. Everything taken from them is escaped;
//! the only script is the constant one below, so no payload can end it early.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::human::duration;
use crate::finding::Finding;
use crate::outcome::{Event, EventKind, Outcome, Party, Status, Summary};
use crate::rules::{RuleId, Severity};
use crate::visible::visible_truncated;

/// Bytes of one message shown in full (behind the fold); the rest is counted.
pub const MESSAGE_BYTES: usize = 16 * 1024;
/// Rows of one diagram; later events are counted, not drawn.
pub const MAX_ROWS: usize = 600;
/// Visible characters of a message shown unfolded.
const FOLD_CHARS: usize = 400;
/// Lines of a message shown unfolded.
const FOLD_LINES: usize = 10;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A visible string (see [`crate::visible`]) as HTML: escapes such as `\r`, `\n`,
/// `\xNN` and the `␠` of a trailing space are marked up so they stand out from the text,
/// and each `\n` ends a line.
fn visible_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut chars = text.chars().peekable();
    let ctl = |out: &mut String, s: &str| {
        let _ = write!(out, "<span class=\"ctl\">{}</span>", escape(s));
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => {
                    ctl(&mut out, "\\n");
                    // A line break after each line end, except the last.
                    if chars.peek().is_some() {
                        out.push('\n');
                    }
                }
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    ctl(&mut out, &format!("\\x{hex}"));
                }
                Some(n @ ('r' | 't' | '0')) => ctl(&mut out, &format!("\\{n}")),
                Some(other) => {
                    out.push_str(&escape(&format!("\\{other}")));
                }
                None => out.push('\\'),
            },
            '\u{2420}' => ctl(&mut out, "\u{2420}"),
            c => out.push_str(&escape(c.encode_utf8(&mut [0u8; 4]))),
        }
    }
    out
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Error => "error",
        Status::NotRun => "not-run",
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "ok",
        Status::Failed => "FAIL",
        Status::Error => "ERROR",
        Status::NotRun => "not run",
    }
}

/// The rules that cost a run points: its error findings, and weighted rules (grading)
/// with a warning or error finding.
pub fn costly_rules(o: &Outcome) -> Vec<RuleId> {
    let mut out = o.failed_rules();
    for r in o.rule_scores() {
        if !r.earned
            && o.findings
                .iter()
                .any(|f| f.rule == r.rule && f.severity >= Severity::Warning)
            && !out.contains(&r.rule)
        {
            out.push(r.rule);
        }
    }
    out
}

/// The title of a run: `submission: id [variant]`.
fn label(o: &Outcome) -> String {
    match &o.submission {
        Some(sub) => format!("{sub}: {}", o.label()),
        None => o.label(),
    }
}

/// Renders `outcomes` as one HTML document.
pub fn render(outcomes: &[Outcome]) -> String {
    let class = outcomes.iter().any(|o| o.submission.is_some());
    let s = Summary::of(outcomes);
    let mut out = String::with_capacity(64 * 1024);
    let title = if class {
        "parley gradebook"
    } else {
        "parley report"
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"parley {}\">\n<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = write!(
        out,
        "<header>\n<h1>{title}</h1>\n<p class=\"summary\" id=\"summary\">{} run(s): \
         <span class=\"passed\">{} passed</span>, <span class=\"failed\">{} failed</span>, \
         <span class=\"error\">{} errors</span>",
        outcomes.len(),
        s.passed,
        s.failed,
        s.errors
    );
    if s.not_run > 0 {
        let _ = write!(out, ", <span class=\"not-run\">{} not run</span>", s.not_run);
    }
    let _ = writeln!(
        out,
        " — exit code {}. Written by parley {}.</p>\n</header>\n<main>",
        Summary::exit_code(outcomes),
        env!("CARGO_PKG_VERSION")
    );
    if class {
        gradebook(&mut out, outcomes);
        histogram(&mut out, outcomes);
    } else {
        overview(&mut out, outcomes);
    }
    let _ = writeln!(out, "<section id=\"runs\">\n<h2>Conversations</h2>");
    for (i, o) in outcomes.iter().enumerate() {
        run(&mut out, i, o);
    }
    let _ = writeln!(
        out,
        "</section>\n</main>\n<script>{JS}</script>\n</body>\n</html>"
    );
    out
}

fn overview(out: &mut String, outcomes: &[Outcome]) {
    let _ = writeln!(
        out,
        "<section id=\"overview\">\n<h2>Scenarios</h2>\n<table class=\"overview\">\n\
         <thead><tr><th>scenario</th><th>status</th><th>time</th><th>findings</th><th>target</th></tr></thead>\n<tbody>"
    );
    for (i, o) in outcomes.iter().enumerate() {
        let rules: Vec<String> = o
            .findings
            .iter()
            .map(|f| format!("{} {}", f.rule, f.severity))
            .collect();
        let _ = writeln!(
            out,
            "<tr class=\"{cls}\"><td><a href=\"#run-{i}\">{}</a></td><td><span class=\"badge {cls}\">{}</span></td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&label(o)),
            status_word(o.status),
            escape(&duration(o.duration)),
            escape(&rules.join(", ")),
            escape(&o.target),
            cls = status_class(o.status),
        );
    }
    let _ = writeln!(out, "</tbody>\n</table>\n</section>");
}

/// The gradebook: one row per submission, one column per scenario and variant.
fn gradebook(out: &mut String, outcomes: &[Outcome]) {
    let mut subs: Vec<String> = Vec::new();
    let mut cols: Vec<(String, Option<String>)> = Vec::new();
    let mut cells: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (i, o) in outcomes.iter().enumerate() {
        let Some(sub) = &o.submission else { continue };
        let r = match subs.iter().position(|s| s == sub) {
            Some(r) => r,
            None => {
                subs.push(sub.clone());
                subs.len() - 1
            }
        };
        let key = (o.id.clone(), o.variant.clone());
        let c = match cols.iter().position(|k| *k == key) {
            Some(c) => c,
            None => {
                cols.push(key);
                cols.len() - 1
            }
        };
        cells.insert((r, c), i);
    }
    let _ = writeln!(
        out,
        "<section id=\"gradebook\">\n<h2>Gradebook</h2>\n<div class=\"controls\">\
         <input type=\"search\" id=\"gb-filter\" placeholder=\"filter: submission or rule (e.g. H-RL-2)\" aria-label=\"filter the gradebook\">\
         <label><input type=\"checkbox\" id=\"gb-lost\"> only submissions that lost points</label>\
         <span id=\"gb-count\">{n} of {n} submissions</span></div>\n\
         <table class=\"gradebook\">\n<thead><tr><th data-type=\"text\">submission</th>",
        n = subs.len()
    );
    for (id, variant) in &cols {
        let _ = write!(
            out,
            "<th data-type=\"num\">{}<br><small>{}</small></th>",
            escape(id),
            escape(variant.as_deref().unwrap_or("plain"))
        );
    }
    let _ = writeln!(
        out,
        "<th data-type=\"num\">total</th><th data-type=\"text\">rules that cost points</th></tr></thead>\n<tbody>"
    );
    for (r, sub) in subs.iter().enumerate() {
        let (mut earned, mut total) = (0u32, 0u32);
        let mut rules: Vec<RuleId> = Vec::new();
        let mut row = String::new();
        for c in 0..cols.len() {
            match cells.get(&(r, c)) {
                Some(&i) => {
                    let o = &outcomes[i];
                    let (e, t) = o.points();
                    earned += e;
                    total += t;
                    let cost = costly_rules(o);
                    for rule in &cost {
                        if !rules.contains(rule) {
                            rules.push(*rule);
                        }
                    }
                    let cost_text: Vec<String> = cost
                        .iter()
                        .map(|r| format!("<span class=\"rule\">{}</span>", r.as_str()))
                        .collect();
                    let extra = match o.status {
                        Status::Error => " <span class=\"rule\">error</span>".to_string(),
                        Status::NotRun => " <span class=\"rule\">not run</span>".to_string(),
                        _ => String::new(),
                    };
                    let _ = write!(
                        row,
                        "<td class=\"cell {}\" data-sort=\"{e}\"><a href=\"#run-{i}\" title=\"{}\">{e}/{t}</a> {}{extra}</td>",
                        status_class(o.status),
                        escape(&format!("{} — open the conversation", label(o))),
                        cost_text.join(" ")
                    );
                }
                None => row.push_str("<td class=\"cell none\" data-sort=\"-1\">—</td>"),
            }
        }
        let lost = earned < total;
        let rule_text: Vec<&str> = rules.iter().map(|r| r.as_str()).collect();
        let _ = writeln!(
            out,
            "<tr data-lost=\"{}\"><td data-sort=\"{}\">{}</td>{row}<td class=\"total\" data-sort=\"{earned}\">{earned}/{total}</td>\
             <td>{}</td></tr>",
            if lost { 1 } else { 0 },
            escape(sub),
            escape(sub),
            escape(&rule_text.join(" "))
        );
    }
    let _ = writeln!(
        out,
        "</tbody>\n</table>\n<p class=\"help\">Click a column to sort; each cell opens that run's conversation.</p>\n</section>"
    );
}

/// How many submissions broke each rule (a rule that cost them points in any run).
fn histogram(out: &mut String, outcomes: &[Outcome]) {
    let mut subs: Vec<&str> = Vec::new();
    let mut broke: BTreeMap<RuleId, Vec<&str>> = BTreeMap::new();
    for o in outcomes {
        let Some(sub) = o.submission.as_deref() else {
            continue;
        };
        if !subs.contains(&sub) {
            subs.push(sub);
        }
        for rule in costly_rules(o) {
            let list = broke.entry(rule).or_default();
            if !list.contains(&sub) {
                list.push(sub);
            }
        }
    }
    let mut rows: Vec<(RuleId, Vec<&str>)> = broke.into_iter().collect();
    rows.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let _ = writeln!(
        out,
        "<section id=\"histogram\">\n<h2>Rules broken</h2>\n<p class=\"help\">How many of the {} submission(s) lost points to each rule: what to re-teach.</p>\n<div class=\"hist\">",
        subs.len()
    );
    if rows.is_empty() {
        let _ = writeln!(out, "<p>No rule cost any submission points.</p>");
    }
    for (rule, who) in rows {
        let entry = rule.rule();
        let pct = if subs.is_empty() {
            0.0
        } else {
            who.len() as f64 * 100.0 / subs.len() as f64
        };
        let _ = writeln!(
            out,
            "<div class=\"hist-row\" data-rule=\"{id}\" data-count=\"{n}\"><span class=\"rule\">{id}</span>\
             <span class=\"bar-box\"><span class=\"bar\" style=\"width:{pct:.1}%\"></span></span>\
             <span class=\"count\">{n} of {total}</span><span class=\"what\">{} — {}<br><small>{}</small></span></div>",
            escape(entry.section),
            escape(entry.summary),
            escape(&who.join(", ")),
            id = rule.as_str(),
            n = who.len(),
            total = subs.len(),
        );
    }
    let _ = writeln!(out, "</div>\n</section>");
}

/// Who played which side, for the lane headings.
fn roles(o: &Outcome) -> (String, String) {
    if o.submission.is_some() || o.target.contains("(parley serving at") {
        let program = o
            .program
            .as_ref()
            .map(|p| p.command.as_str())
            .unwrap_or("program");
        (format!("client · {program}"), "server · parley".to_string())
    } else if let Some(p) = &o.program {
        ("client · parley".to_string(), format!("server · {}", p.command))
    } else {
        ("client · parley".to_string(), format!("server · {}", o.target))
    }
}

/// One arrow or note of the diagram.
struct Message<'a> {
    event: &'a Event,
    /// For data: the message's bytes (an FTP control event may hold several replies).
    bytes: &'a [u8],
}

/// Splits FTP control-connection data into its lines (a multi-line reply stays one
/// message, RFC 959 §4.2); everything else is one message per event.
fn split_messages<'a>(protocol: Option<&str>, conn: &str, from: Party, bytes: &'a [u8]) -> Vec<&'a [u8]> {
    if protocol != Some("ftp") || conn != crate::proto::MAIN {
        return vec![bytes];
    }
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            lines.push(&bytes[start..=i]);
            start = i + 1;
        }
    }
    if start < bytes.len() {
        lines.push(&bytes[start..]);
    }
    if from == Party::Client {
        return lines;
    }
    // Group `ddd-` ... `ddd ` into one reply.
    let mut out: Vec<&[u8]> = Vec::new();
    let mut open: Option<(usize, [u8; 3])> = None;
    let mut offset = 0;
    for line in lines {
        let begin = offset;
        offset += line.len();
        match open {
            Some((from_at, code)) => {
                if line.len() >= 4 && line[..3] == code && line[3] == b' ' {
                    out.push(&bytes[from_at..offset]);
                    open = None;
                }
            }
            None => {
                if line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit) && line[3] == b'-' {
                    open = Some((begin, [line[0], line[1], line[2]]));
                } else {
                    out.push(line);
                }
            }
        }
    }
    if let Some((from_at, _)) = open {
        out.push(&bytes[from_at..]);
    }
    out
}

/// Picks, for each finding, the message it is about: on its connection, sent by the
/// party that broke the rule, preferring the one whose bytes it quotes, at or after the
/// message the previous finding of the connection was pinned to. `None`: not pinned.
fn pin(findings: &[Finding], messages: &[Message<'_>]) -> Vec<Option<usize>> {
    let mut cursor: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(findings.len());
    for f in findings {
        let Some(conn) = f.conn.as_deref() else {
            out.push(None);
            continue;
        };
        let on_conn: Vec<usize> = (0..messages.len())
            .filter(|&i| messages[i].event.conn == conn)
            .collect();
        if on_conn.is_empty() {
            out.push(None);
            continue;
        }
        let data_from = |i: usize, party: Option<Party>| match &messages[i].event.kind {
            EventKind::Data { from, .. } => party.is_none_or(|p| p == *from),
            _ => false,
        };
        let mut candidates: Vec<usize> = on_conn
            .iter()
            .copied()
            .filter(|&i| data_from(i, f.sent_by))
            .collect();
        if candidates.is_empty() {
            candidates = on_conn.iter().copied().filter(|&i| data_from(i, None)).collect();
        }
        let start = cursor.get(conn).copied().unwrap_or(0);
        let quoted = f.actual.as_deref().map(|a| {
            let a = match a.rfind("… (") {
                Some(at) => &a[..at],
                None => a,
            };
            a.chars().take(80).collect::<String>()
        });
        let quotes = |i: usize| match &quoted {
            Some(q) if !q.is_empty() => {
                let shown = crate::visible::visible(messages[i].bytes);
                shown.contains(q.as_str()) || q.contains(shown.as_str())
            }
            _ => false,
        };
        let chosen = candidates
            .iter()
            .copied()
            .find(|&i| i >= start && quotes(i))
            .or_else(|| candidates.iter().copied().find(|&i| quotes(i)))
            .or_else(|| candidates.iter().copied().find(|&i| i >= start))
            .or_else(|| on_conn.last().copied());
        if let Some(i) = chosen {
            cursor.insert(conn, i);
        }
        out.push(chosen);
    }
    out
}

fn finding_html(out: &mut String, id: &str, f: &Finding) {
    let sev = f.severity.as_str();
    let _ = write!(
        out,
        "<div class=\"finding sev-{sev}\" id=\"{id}\" data-rule=\"{rule}\"><div class=\"fh\">\
         <span class=\"rule\">{rule}</span> <span class=\"sev\">{sev}</span> · {}",
        escape(f.section),
        rule = f.rule.as_str()
    );
    if let Some(step) = f.step {
        let _ = write!(out, " · step {step}");
        if let Some(loc) = &f.location {
            let _ = write!(out, " at <code>{}</code>", escape(loc));
        }
    }
    if let Some(conn) = &f.conn {
        let _ = write!(out, " · on <code>{}</code>", escape(conn));
    }
    let _ = write!(out, "</div><div class=\"fmsg\">{}</div>", escape(&f.message));
    if f.expected.is_some() || f.actual.is_some() {
        out.push_str("<dl class=\"ea\">");
        if let Some(e) = &f.expected {
            let _ = write!(out, "<dt>expected</dt><dd><code>{}</code></dd>", visible_html(e));
        }
        if let Some(a) = &f.actual {
            let _ = write!(out, "<dt>actual</dt><dd><code>{}</code></dd>", visible_html(a));
        }
        out.push_str("</dl>");
    }
    let _ = writeln!(
        out,
        "<div class=\"hint\"><b>hint:</b> {}</div></div>",
        escape(&f.hint)
    );
}

/// The label of a message: its bytes, folded when long.
fn payload_html(bytes: &[u8]) -> String {
    let full = visible_truncated(bytes, MESSAGE_BYTES);
    let lines = full.matches("\\n").count();
    if full.chars().count() <= FOLD_CHARS && lines <= FOLD_LINES {
        return format!("<code class=\"payload\">{}</code>", visible_html(&full));
    }
    // The first line (or the first characters) stays visible.
    let first: String = match full.find("\\n") {
        Some(at) if at + 2 <= FOLD_CHARS => full[..at + 2].to_string(),
        _ => full.chars().take(FOLD_CHARS / 2).collect(),
    };
    format!(
        "<details class=\"fold\"><summary><code class=\"payload\">{}</code> <span class=\"more\">… {} bytes in all</span></summary>\
         <code class=\"payload\">{}</code></details>",
        visible_html(&first),
        bytes.len(),
        visible_html(&full)
    )
}

fn run(out: &mut String, i: usize, o: &Outcome) {
    let cls = status_class(o.status);
    let _ = write!(
        out,
        "<article class=\"run {cls}\" id=\"run-{i}\" data-id=\"{}\" data-status=\"{}\"",
        escape(&o.id),
        o.status.as_str()
    );
    if let Some(sub) = &o.submission {
        let _ = write!(out, " data-submission=\"{}\"", escape(sub));
    }
    if let Some(v) = &o.variant {
        let _ = write!(out, " data-variant=\"{}\"", escape(v));
    }
    let _ = writeln!(
        out,
        ">\n<h3><span class=\"badge {cls}\">{}</span> {} <small>{}</small></h3>",
        status_word(o.status),
        escape(&label(o)),
        escape(&o.name)
    );
    let (earned, total) = o.points();
    let _ = write!(
        out,
        "<p class=\"meta\"><code>{}</code> · {} · target {}",
        escape(&o.file.display().to_string()),
        escape(&duration(o.duration)),
        escape(&o.target)
    );
    if o.submission.is_some() || !o.rule_points.is_empty() {
        let _ = write!(out, " · <b>{earned}/{total} points</b>");
    }
    out.push_str("</p>\n");
    if let Some(e) = &o.error {
        let text = match &e.diagnostic {
            Some(d) => d.render(false),
            None => e.message.clone(),
        };
        let _ = writeln!(out, "<pre class=\"error-box\">{}</pre>", escape(&text));
    }
    if o.status == Status::NotRun {
        let _ = writeln!(
            out,
            "<p class=\"note\">Not run: <code>--fail-fast</code> stopped the run after an earlier failure.</p>"
        );
    }
    if let Some(p) = &o.program {
        let _ = write!(
            out,
            "<p class=\"meta\">program <code>{}</code> — {}</p>",
            escape(&p.command),
            escape(&p.status)
        );
        if !p.stderr_tail.is_empty() {
            let _ = write!(
                out,
                "<details class=\"stderr\"><summary>its stderr (last lines)</summary><pre>{}</pre></details>",
                escape(&p.stderr_tail)
            );
        }
        if !p.stdout_head.is_empty() {
            let _ = write!(
                out,
                "<details class=\"stderr\"><summary>its stdout (first bytes)</summary><pre>{}</pre></details>",
                escape(&p.stdout_head)
            );
        }
        out.push('\n');
    }
    diagram(out, i, o);
    let _ = writeln!(out, "</article>");
}

fn diagram(out: &mut String, run: usize, o: &Outcome) {
    // Connections in the order they first appear; `main` first.
    let mut conns: Vec<&str> = Vec::new();
    for e in &o.transcript.events {
        if !conns.contains(&e.conn.as_str()) {
            conns.push(&e.conn);
        }
    }
    if let Some(at) = conns.iter().position(|c| *c == crate::proto::MAIN) {
        let main = conns.remove(at);
        conns.insert(0, main);
    }
    let mut messages: Vec<Message<'_>> = Vec::new();
    for e in &o.transcript.events {
        match &e.kind {
            EventKind::Data { from, bytes } => {
                for piece in split_messages(o.protocol, &e.conn, *from, bytes) {
                    messages.push(Message {
                        event: e,
                        bytes: piece,
                    });
                }
            }
            _ => messages.push(Message { event: e, bytes: &[] }),
        }
    }
    let pinned = pin(&o.findings, &messages);
    let loose: Vec<(usize, &Finding)> = o
        .findings
        .iter()
        .enumerate()
        .filter(|(k, _)| pinned[*k].is_none())
        .collect();
    if !loose.is_empty() {
        out.push_str("<div class=\"loose\">");
        for (k, f) in loose {
            finding_html(out, &format!("run-{run}-f{k}"), f);
        }
        out.push_str("</div>\n");
    }
    if messages.is_empty() {
        let _ = writeln!(out, "<p class=\"note\">Nothing crossed the wire.</p>");
        return;
    }
    let (client, server) = roles(o);
    let bands = conns.len();
    let shown = messages.len().min(MAX_ROWS);
    let rows = shown + o.findings.len()
        - o.findings
            .iter()
            .zip(&pinned)
            .filter(|(_, p)| p.is_none())
            .count();
    let last = bands + 2;
    let _ = writeln!(
        out,
        "<div class=\"diagram\" data-bands=\"{}\" style=\"grid-template-columns: 7.5em repeat({bands}, minmax(20em, 1fr)) 7.5em\">",
        escape(&conns.join(" "))
    );
    let _ = write!(
        out,
        "<div class=\"lane-head\" title=\"{c}\" style=\"grid-row:1;grid-column:1\">{c}</div>\
         <div class=\"lane-head\" title=\"{s}\" style=\"grid-row:1;grid-column:{last}\">{s}</div>\
         <div class=\"lane client\" style=\"grid-row:2 / span {rows};grid-column:1\"></div>\
         <div class=\"lane server\" style=\"grid-row:2 / span {rows};grid-column:{last}\"></div>",
        c = escape(&client),
        s = escape(&server)
    );
    for (b, conn) in conns.iter().enumerate() {
        let role = match (o.protocol, *conn == crate::proto::MAIN) {
            (Some("ftp"), true) => " <small>control</small>",
            (Some("ftp"), false) if *conn != "data" => " <small>data</small>",
            _ => "",
        };
        let _ = write!(
            out,
            "<div class=\"band-head\" data-conn=\"{c}\" style=\"grid-row:1;grid-column:{col}\"><code>{c}</code>{role}</div>\
             <div class=\"band\" data-conn=\"{c}\" style=\"grid-row:2 / span {rows};grid-column:{col}\"></div>",
            c = escape(conn),
            col = b + 2
        );
    }
    out.push('\n');
    let mut row = 2;
    for (m, msg) in messages.iter().take(shown).enumerate() {
        let e = msg.event;
        let col = conns.iter().position(|c| *c == e.conn).unwrap_or(0) + 2;
        let at = format!("{:.3} ms", e.at.as_secs_f64() * 1000.0);
        let place = format!("grid-row:{row};grid-column:{col}");
        let conn = escape(&e.conn);
        match &e.kind {
            EventKind::Data { from, .. } => {
                let dir = match from {
                    Party::Client => "to-server",
                    Party::Server => "to-client",
                };
                let _ = writeln!(
                    out,
                    "<div class=\"ev arrow data {dir}\" data-kind=\"data\" data-conn=\"{conn}\" data-from=\"{}\" data-len=\"{}\" style=\"{place}\">\
                     <span class=\"t\">{at} · {} B</span>{}<div class=\"line\"></div></div>",
                    from.name(),
                    msg.bytes.len(),
                    msg.bytes.len(),
                    payload_html(msg.bytes)
                );
            }
            EventKind::Open { by, client, server } => {
                let dir = match by {
                    Party::Client => "to-server",
                    Party::Server => "to-client",
                };
                let _ = writeln!(
                    out,
                    "<div class=\"ev arrow open {dir}\" data-kind=\"open\" data-conn=\"{conn}\" data-from=\"{}\" style=\"{place}\">\
                     <span class=\"t\">{at}</span><span class=\"what\">{} connects: {} → {}</span><div class=\"line\"></div></div>",
                    by.name(),
                    by.name(),
                    escape(client),
                    escape(server)
                );
            }
            EventKind::Close { by } => {
                let dir = match by {
                    Party::Client => "to-server",
                    Party::Server => "to-client",
                };
                let _ = writeln!(
                    out,
                    "<div class=\"ev arrow close {dir}\" data-kind=\"close\" data-conn=\"{conn}\" data-from=\"{}\" style=\"{place}\">\
                     <span class=\"t\">{at}</span><span class=\"what\">{} closes</span><div class=\"line\"></div></div>",
                    by.name(),
                    by.name()
                );
            }
            EventKind::Listen { by, addr } => {
                let _ = writeln!(
                    out,
                    "<div class=\"ev note-ev {}\" data-kind=\"listen\" data-conn=\"{conn}\" data-from=\"{}\" style=\"{place}\">\
                     <span class=\"t\">{at}</span><span class=\"what\">{} listens on {}</span></div>",
                    by.name(),
                    by.name(),
                    by.name(),
                    escape(addr)
                );
            }
            EventKind::Error { message } => {
                let _ = writeln!(
                    out,
                    "<div class=\"ev note-ev failure\" data-kind=\"error\" data-conn=\"{conn}\" style=\"{place}\">\
                     <span class=\"t\">{at}</span><span class=\"what\">error: {}</span></div>",
                    escape(message)
                );
            }
            EventKind::Omitted { from, bytes } => {
                let _ = writeln!(
                    out,
                    "<div class=\"ev note-ev {}\" data-kind=\"omitted\" data-conn=\"{conn}\" style=\"{place}\">\
                     <span class=\"t\">{at}</span><span class=\"what\">… {bytes} more bytes from the {}, not kept …</span></div>",
                    from.name(),
                    from.name()
                );
            }
        }
        row += 1;
        for (k, f) in o.findings.iter().enumerate() {
            if pinned[k] == Some(m) {
                let _ = write!(
                    out,
                    "<div class=\"pin\" style=\"grid-row:{row};grid-column:{col}\">"
                );
                finding_html(out, &format!("run-{run}-f{k}"), f);
                out.push_str("</div>\n");
                row += 1;
            }
        }
    }
    // Findings pinned to messages past the drawn rows.
    for (k, f) in o.findings.iter().enumerate() {
        if pinned[k].is_some_and(|m| m >= shown) {
            let _ = write!(
                out,
                "<div class=\"pin\" style=\"grid-row:{row};grid-column:2 / span {bands}\">"
            );
            finding_html(out, &format!("run-{run}-f{k}"), f);
            out.push_str("</div>\n");
            row += 1;
        }
    }
    out.push_str("</div>\n");
    if messages.len() > shown {
        let _ = writeln!(
            out,
            "<p class=\"note\">… and {} more event(s), in the JSON report.</p>",
            messages.len() - shown
        );
    }
}

const CSS: &str = r#"
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--note:#0969da;--line:#57606a;--bg:#fff;--soft:#f6f8fa;--border:#d0d7de}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:var(--bg)}
header{padding:16px 24px;background:var(--soft);border-bottom:1px solid var(--border)}
h1{margin:0 0 4px;font-size:22px}
main{padding:8px 24px 48px}
h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid var(--border);padding-bottom:4px}
h3{font-size:15px;margin:0 0 4px}
h3 small{font-weight:normal;color:var(--line)}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.summary .passed{color:var(--ok)}.summary .failed,.summary .error{color:var(--bad)}.summary .not-run{color:var(--line)}
.badge{display:inline-block;padding:0 6px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:var(--line)}
.badge.passed{background:var(--ok)}.badge.failed,.badge.error{background:var(--bad)}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid var(--border);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.cell.passed a{color:var(--ok)}td.cell.failed a,td.cell.error a{color:var(--bad);font-weight:600}
td.total{font-weight:600}
.rule{font-family:ui-monospace,monospace;font-size:12px;background:#fff1e5;border:1px solid #ffd8b5;border-radius:4px;padding:0 4px}
.controls{display:flex;gap:16px;align-items:center;margin:8px 0}
.controls input[type=search]{width:22em;padding:4px 8px}
.help{color:var(--line);font-size:12px}
.hist-row{display:grid;grid-template-columns:7em 16em 5em 1fr;gap:8px;align-items:center;margin:4px 0}
.bar-box{background:var(--soft);border:1px solid var(--border);height:14px;border-radius:3px;overflow:hidden}
.bar{display:block;height:100%;background:var(--bad)}
.count{font-weight:600}
.what small{color:var(--line)}
article.run{border:1px solid var(--border);border-radius:6px;padding:12px;margin:16px 0}
article.run.failed,article.run.error{border-left:4px solid var(--bad)}
article.run.passed{border-left:4px solid var(--ok)}
.meta{margin:2px 0;color:var(--line)}
.note{color:var(--line);font-style:italic}
.error-box{background:#ffebe9;border:1px solid #ffcecb;padding:8px;white-space:pre-wrap}
.diagram{display:grid;column-gap:0;row-gap:2px;overflow-x:auto;margin-top:8px;padding-bottom:8px}
.lane-head,.band-head{font-weight:600;text-align:center;padding:4px;background:var(--soft);border:1px solid var(--border);overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.band-head small{font-weight:normal;color:var(--line)}
.lane.client{border-right:3px solid var(--line)}
.lane.server{border-left:3px solid var(--line)}
.band{border-left:1px dashed var(--border);border-right:1px dashed var(--border);background:repeating-linear-gradient(180deg,transparent,transparent 40px,#fafbfc 40px,#fafbfc 80px)}
.ev{position:relative;padding:2px 14px 12px;min-width:0}
.ev .t{display:block;font-size:10px;color:var(--line)}
.ev .what{font-size:12px;color:var(--line)}
.ev.to-client{text-align:right}
.ev .line{position:absolute;left:6px;right:6px;bottom:5px;border-top:2px solid var(--line)}
.ev.data .line{border-top-color:#1f2328}
.ev.open .line{border-top-style:dashed}
.ev.close .line{border-top-style:dotted}
.ev.to-server .line::after{content:"";position:absolute;right:-3px;top:-7px;border-style:solid;border-width:6px 0 6px 10px;border-color:transparent transparent transparent currentColor}
.ev.to-client .line::before{content:"";position:absolute;left:-3px;top:-7px;border-style:solid;border-width:6px 10px 6px 0;border-color:transparent currentColor transparent transparent}
.ev.note-ev{padding:4px 14px}
.ev.note-ev.server{text-align:right}
.ev.failure .what{color:var(--bad)}
.payload{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;border-radius:3px;padding:1px 4px;display:inline-block;max-width:100%;text-align:left}
.ctl{color:#8250df;font-weight:600}
details.fold summary{cursor:pointer}
details.fold[open] summary .payload,details.fold[open] summary .more{display:none}
.more{font-size:11px;color:var(--line)}
.pin{padding:0 10px 4px}
.finding{border:1px solid var(--border);border-left:4px solid var(--line);border-radius:4px;background:#fff;padding:6px 8px;margin:4px 0;text-align:left}
.finding.sev-error{border-left-color:var(--bad);background:#fff8f7}
.finding.sev-warning{border-left-color:var(--warn);background:#fffbf0}
.finding.sev-note{border-left-color:var(--note)}
.finding .sev{font-weight:600}
.sev-error .sev{color:var(--bad)}.sev-warning .sev{color:var(--warn)}.sev-note .sev{color:var(--note)}
.fmsg{margin:2px 0}
.ea{display:grid;grid-template-columns:5em 1fr;margin:4px 0;gap:2px 6px}
.ea dt{color:var(--line)}.ea dd{margin:0}
.ea code{white-space:pre-wrap;word-break:break-all}
.hint{color:#0a3069}
.loose .finding{max-width:60em}
tr[hidden]{display:none}
"#;

const JS: &str = r#"
(function () {
  "use strict";
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message));
    document.body.setAttribute("data-js-errors", errors.join(" | "));
  });
  var book = document.getElementById("gradebook");
  if (book) {
    var table = book.querySelector("table");
    var body = table.tBodies[0];
    var heads = table.tHead.rows[0].cells;
    var all = Array.prototype.slice.call(body.rows);
    var key = function (row, i) {
      var cell = row.cells[i];
      var v = cell.getAttribute("data-sort");
      if (v === null) { v = cell.textContent; }
      var n = parseFloat(v);
      return heads[i].getAttribute("data-type") === "num" && !isNaN(n) ? n : String(v).toLowerCase();
    };
    var sortBy = function (i) {
      var th = heads[i];
      var asc = th.getAttribute("aria-sort") !== "ascending";
      for (var j = 0; j < heads.length; j++) { heads[j].removeAttribute("aria-sort"); }
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, i), y = key(b, i);
        if (x < y) { return asc ? -1 : 1; }
        if (x > y) { return asc ? 1 : -1; }
        return 0;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    };
    Array.prototype.forEach.call(heads, function (th, i) {
      th.addEventListener("click", function () { sortBy(i); });
    });
    var input = document.getElementById("gb-filter");
    var lost = document.getElementById("gb-lost");
    var count = document.getElementById("gb-count");
    var apply = function () {
      var q = input.value.trim().toLowerCase();
      var shown = 0;
      all.forEach(function (r) {
        var ok = (!q || r.textContent.toLowerCase().indexOf(q) >= 0) &&
          (!lost.checked || r.getAttribute("data-lost") === "1");
        r.hidden = !ok;
        if (ok) { shown++; }
      });
      count.textContent = shown + " of " + all.length + " submissions";
    };
    input.addEventListener("input", apply);
    lost.addEventListener("change", apply);
  }
  document.body.setAttribute("data-ready", "1");
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Transcript;
    use crate::rules::{F_CMD_3, S_EXPECT};
    use std::path::PathBuf;
    use std::time::Duration;

    fn ev(conn: &str, kind: EventKind) -> Event {
        Event {
            at: Duration::from_micros(10),
            conn: conn.into(),
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

    fn outcome(events: Vec<Event>, findings: Vec<Finding>) -> Outcome {
        let mut o = Outcome::error(
            "ftp::x".into(),
            PathBuf::from("x.yaml"),
            crate::outcome::RunError {
                kind: crate::outcome::ErrorKind::Unreachable,
                message: String::new(),
                diagnostic: None,
            },
        );
        o.error = None;
        o.status = Status::Failed;
        o.protocol = Some("ftp");
        o.transcript = Transcript { events };
        o.findings = findings;
        o
    }

    /// Checks that every element opened is closed, in order (void elements aside), and
    /// returns the number of elements seen.
    pub(crate) fn balanced(html: &str) -> usize {
        const VOID: &[&str] = &["meta", "br", "input", "link", "hr", "img", "wbr"];
        let mut stack: Vec<String> = Vec::new();
        let mut rest = html;
        let mut seen = 0;
        while let Some(at) = rest.find('<') {
            rest = &rest[at + 1..];
            if rest.starts_with('!') {
                continue;
            }
            let end = rest.find('>').expect("a tag ends");
            let tag = &rest[..end];
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                !name.is_empty(),
                "a bare `<` in the text: {}",
                &rest[..end.min(40)]
            );
            rest = &rest[end + 1..];
            if closing {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name.as_str()),
                    "mismatched </{name}>"
                );
            } else if !VOID.contains(&name.as_str()) {
                seen += 1;
                if name == "script" || name == "style" {
                    let close = format!("</{name}>");
                    let at = rest.find(&close).expect("script/style closed");
                    rest = &rest[at + close.len()..];
                    continue;
                }
                stack.push(name);
            }
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        seen
    }

    #[test]
    fn hostile_payloads_are_escaped_and_the_document_stays_balanced() {
        let hostile = b"</script><script>alert(1)</script><b onload='x'>&amp;\"\r\n";
        let o = outcome(
            vec![
                data("main", Party::Client, hostile),
                data("data", Party::Server, b"</details></div></article>\r\n"),
            ],
            vec![
                Finding::new(S_EXPECT, "<img src=x onerror=alert(1)>")
                    .actual(hostile)
                    .expected(b"</code>")
                    .on("main")
                    .by(Party::Client),
            ],
        );
        let html = render(&[o]);
        assert_eq!(html.matches("<script").count(), 1, "only parley's own script");
        assert_eq!(html.matches("</script>").count(), 1);
        assert!(!html.contains("<img") && !html.contains("<b onload"));
        assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
        assert!(balanced(&html) > 20);
    }

    #[test]
    fn cr_and_lf_are_visible_and_long_payloads_fold() {
        let short = payload_html(b"USER anonymous\r\n");
        assert!(short.contains("<span class=\"ctl\">\\r</span><span class=\"ctl\">\\n</span>"));
        assert!(!short.contains("<details"));
        let long = payload_html(&b"0123456789abcdef".repeat(100));
        assert!(long.contains("<details class=\"fold\">") && long.contains("1600 bytes in all"));
        assert!(visible_html("a\u{2420}\\r\\n").contains("<span class=\"ctl\">\u{2420}</span>"));
    }

    #[test]
    fn ftp_control_data_splits_into_replies_keeping_multiline_ones_whole() {
        let bytes = b"220-Welcome\r\n220-more\r\n220 ready\r\n331 Password\r\n";
        let parts = split_messages(Some("ftp"), "main", Party::Server, bytes);
        assert_eq!(parts, [&bytes[..34], &bytes[34..]]);
        let http = split_messages(Some("http"), "main", Party::Server, bytes);
        assert_eq!(http.len(), 1);
    }

    #[test]
    fn findings_are_pinned_to_the_message_they_quote() {
        let o = outcome(
            vec![
                data("main", Party::Client, b"USER a\r\n"),
                data("main", Party::Server, b"331 ok\r\n"),
                data("main", Party::Client, b"PORT 127,0,0,1,171,155\r\n"),
                data("main", Party::Server, b"200 ok\r\n"),
            ],
            vec![
                Finding::new(F_CMD_3, "swapped")
                    .actual(b"PORT 127,0,0,1,171,155\r\n")
                    .on("main")
                    .by(Party::Client),
                Finding::new(S_EXPECT, "no conn"),
            ],
        );
        let mut messages = Vec::new();
        for e in &o.transcript.events {
            if let EventKind::Data { bytes, .. } = &e.kind {
                messages.push(Message { event: e, bytes });
            }
        }
        assert_eq!(pin(&o.findings, &messages), [Some(2), None]);
        let html = render(&[o]);
        // The pinned finding comes right after the PORT arrow.
        let port = html.find("PORT 127,0,0,1,171,155").unwrap();
        let finding = html.find("data-rule=\"F-CMD-3\"").unwrap();
        let next_arrow = html[port..].find("200 ok").unwrap() + port;
        assert!(port < finding && finding < next_arrow);
    }
}
