//! Writes a recorded conversation (`parley record`) as a scenario a person would have
//! written: an ordinary, commented scenario file that `parley check` accepts and that
//! plays back both ways — `parley run --target` against the same server, `parley grade`
//! for the same client.
//!
//! The pieces: `items` (the transcript cut into messages by the protocol's inspector,
//! in the order a scenario plays them), `steps` (what each message is matched on and which
//! values become variables), `yaml` (strings with CR/LF visible that give back exactly
//! the bytes recorded). This module lays the file out. It is pure: a transcript in, text
//! out.

mod items;
mod steps;
mod yaml;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::SystemTime;

use crate::finding::Finding;
use crate::outcome::{Party, Transcript};
use crate::proto::Protocol;
use steps::{Action, Bytes, Context, Msg, StepOut, Val};
use yaml::{Text, quoted};

/// What was recorded, and where and when.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// The protocol.
    pub protocol: Protocol,
    /// What crossed the connections.
    pub transcript: &'a Transcript,
    /// What parley's checker found while recording.
    pub findings: &'a [Finding],
    /// The server, `host:port`.
    pub upstream: &'a str,
    /// Where the client reached the relay (the server address it was given).
    pub relay: Option<SocketAddr>,
    /// The client program's command line as parley ran it, when parley started it.
    pub client: Option<&'a str>,
    /// The same with `{host}` and `{port}` left in, for the grading command.
    pub client_template: Option<&'a str>,
    /// How the client program exited, when it exited by itself.
    pub exit_code: Option<i32>,
    /// When the recording started.
    pub recorded_at: SystemTime,
}

/// How to write it.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Match every message byte for byte (`--exact`).
    pub exact: bool,
    /// The scenario's `name:`; by default a summary of the conversation.
    pub name: Option<String>,
    /// The file the scenario goes to (for the commands in its header, and to name the
    /// files large payloads go to, next to it).
    pub file: Option<std::path::PathBuf>,
}

/// A written scenario.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// The scenario file's text.
    pub yaml: String,
    /// Payload files it refers to: path relative to the scenario file, and bytes.
    pub files: Vec<(String, Vec<u8>)>,
    /// How many steps it has.
    pub steps: usize,
}

/// The scenario for `src`.
pub fn write(src: &Source<'_>, opts: &WriteOptions) -> Written {
    let authority = src.relay.map(|a| {
        if a.port() == 80 {
            a.ip().to_string()
        } else {
            a.to_string()
        }
    });
    let ctx = Context {
        exact: opts.exact,
        authority,
        files_stem: opts
            .file
            .as_ref()
            .and_then(|f| f.file_stem())
            .map(|s| s.to_string_lossy().into_owned()),
    };
    let items = items::items(src.protocol, src.transcript, src.relay);
    let out = steps::steps(src.protocol, items, &ctx);
    let mut yaml = String::new();
    header(&mut yaml, src, opts);
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| summary(src.protocol, &out.summary));
    let _ = writeln!(yaml, "name: {}", quoted(&Text::lit(name), 2));
    let _ = writeln!(yaml, "description: {}", yaml::folded(&description(src), 2));
    let _ = writeln!(yaml, "protocol: {}", src.protocol.name());
    let _ = writeln!(yaml, "tags: [recorded]");
    if let Some(code) = src.exit_code {
        let _ = writeln!(yaml, "program:\n  exit: {code}");
    }
    if out.steps.is_empty() {
        // Nothing went by: a scenario still needs a step, and the client did connect.
        let _ = writeln!(yaml, "steps:\n  - close: client");
    } else {
        let _ = writeln!(yaml, "steps:");
        for step in &out.steps {
            render_step(&mut yaml, step);
        }
    }
    Written {
        yaml,
        files: out.files,
        steps: out.steps.len().max(1),
    }
}

fn header(out: &mut String, src: &Source<'_>, opts: &WriteOptions) {
    let file = opts
        .file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "FILE".to_string());
    let proto = src.protocol.name();
    let _ = writeln!(
        out,
        "# Recorded with `parley record`. An ordinary scenario: edit it freely. It plays both ways:"
    );
    let _ = writeln!(out, "#   parley check {file}");
    let _ = writeln!(out, "#   parley run {file} --target {proto}={}", src.upstream);
    // A command of several lines (a script given with `python3 -c`) cannot sit in a comment.
    let grade = src
        .client_template
        .filter(|c| !c.chars().any(char::is_control))
        .unwrap_or("CLIENT {host} {port}");
    let _ = writeln!(out, "#   parley grade {file} --no-variants -- {grade}");
    out.push_str(&yaml::comment(
        &format!(
            "Messages are as recorded (passwords too). What changes from run to run is written with variables: {}.",
            match src.protocol {
                Protocol::Ftp => "data addresses ({{data.port_args}}, {{pasv.addr}}, {{port.addr}})",
                Protocol::Http => "the server's address in Host ({{authority}}) and the Date parley sends ({{http_date}})",
                Protocol::Echo => "none for echo",
            }
        ),
        0,
    ));
}

fn description(src: &Source<'_>) -> String {
    let when = httpdate::fmt_http_date(src.recorded_at);
    let relay = src
        .relay
        .map(|a| format!(" through parley's relay at {a}"))
        .unwrap_or_default();
    let client = match src.client {
        Some(c) => format!("the client `{c}`"),
        None => "a client".to_string(),
    };
    let mut text = format!(
        "Recorded by parley {} on {when}: {client}{relay}, talking to the {} server at {}.",
        env!("CARGO_PKG_VERSION"),
        src.protocol.name(),
        src.upstream
    );
    let mut rules: Vec<String> = Vec::new();
    for f in src.findings {
        let label = format!("{} ({})", f.rule, f.severity);
        if !rules.contains(&label) {
            rules.push(label);
        }
    }
    if !rules.is_empty() {
        let _ = write!(text, " While recording, parley found {}.", rules.join(", "));
    }
    text
}

/// A name from what the conversation did.
fn summary(protocol: Protocol, parts: &[String]) -> String {
    match protocol {
        Protocol::Echo => format!("echo: {} message(s) (recorded)", parts.len()),
        Protocol::Http if parts.is_empty() => "HTTP conversation (recorded)".to_string(),
        Protocol::Http => format!("HTTP: {} (recorded)", parts.join(", ")),
        Protocol::Ftp if parts.is_empty() => "FTP conversation (recorded)".to_string(),
        Protocol::Ftp => format!("FTP: {} (recorded)", parts.join(", ")),
    }
}

fn side_key(party: Party) -> &'static str {
    match party {
        Party::Client => "client",
        Party::Server => "server",
    }
}

/// A value that fits on one line, or `None`.
fn inline_value(v: &Val) -> Option<String> {
    let one = |t: &Text| (!t.is_multiline() || t.width() <= yaml::FOLD_AT).then(|| quoted(t, 0));
    match v {
        Val::Str(t) | Val::Bytes(Bytes::Text(t)) => one(t),
        Val::Num(n) => Some(n.to_string()),
        Val::Word(w) => Some(yaml::key(w)),
        Val::Bytes(b) => inline_bytes(b),
        Val::Headers(h) => {
            let parts: Vec<String> = h
                .iter()
                .map(|(n, v)| format!("{}: {}", yaml::key(n), quoted(v, 0)))
                .collect();
            let joined = format!("{{ {} }}", parts.join(", "));
            (joined.chars().count() <= 90).then_some(joined)
        }
    }
}

fn inline_bytes(b: &Bytes) -> Option<String> {
    match b {
        Bytes::Text(t) => (!t.is_multiline() || t.width() <= yaml::FOLD_AT).then(|| quoted(t, 0)),
        Bytes::Base64(s) if s.len() <= 60 => Some(format!("{{ base64: \"{s}\" }}")),
        Bytes::Base64(_) => None,
        Bytes::Repeat(unit, times) => Some(format!("{{ repeat: {}, times: {times} }}", quoted(unit, 0))),
        Bytes::File(f) => Some(format!("{{ file: {} }}", quoted(&Text::lit(f.clone()), 0))),
    }
}

/// Writes `v` after `key:` at `indent`, on one line or as a block below.
fn block_value(out: &mut String, key: &str, v: &Val, indent: usize) {
    let pad = " ".repeat(indent);
    if let Some(line) = inline_value(v) {
        let _ = writeln!(out, "{pad}{key}: {line}");
        return;
    }
    match v {
        Val::Str(t) | Val::Bytes(Bytes::Text(t)) => {
            let _ = writeln!(out, "{pad}{key}: {}", quoted(t, indent + 2));
        }
        Val::Bytes(Bytes::Base64(s)) => {
            let _ = writeln!(out, "{pad}{key}: {{ base64: \"{s}\" }}");
        }
        Val::Headers(h) => {
            let _ = writeln!(out, "{pad}{key}:");
            for (n, v) in h {
                let _ = writeln!(out, "{pad}  {}: {}", yaml::key(n), quoted(v, indent + 4));
            }
        }
        Val::Num(_) | Val::Word(_) | Val::Bytes(Bytes::Repeat(..) | Bytes::File(_)) => {}
    }
}

fn render_step(out: &mut String, step: &StepOut) {
    if let Some(c) = &step.comment {
        out.push_str(&yaml::comment(c, 2));
    }
    match &step.action {
        Action::Side(party, msg) => {
            let key = side_key(*party);
            match msg {
                Msg::Literal(bytes) => match inline_bytes(bytes) {
                    Some(line) => {
                        let _ = writeln!(out, "  - {key}: {line}");
                    }
                    None => match bytes {
                        Bytes::Text(t) => {
                            let _ = writeln!(out, "  - {key}: {}", quoted(t, 6));
                        }
                        other => {
                            let _ = writeln!(out, "  - {key}:");
                            block_value(out, "send", &Val::Bytes(other.clone()), 6);
                        }
                    },
                },
                Msg::Fields(fields) => {
                    let inline: Option<Vec<String>> = fields
                        .iter()
                        .map(|(k, v)| inline_value(v).map(|l| format!("{k}: {l}")))
                        .collect();
                    let flow = inline
                        .map(|parts| format!("{{ {} }}", parts.join(", ")))
                        .filter(|f| f.chars().count() + key.len() + 6 <= 110);
                    match flow {
                        Some(flow) => {
                            let _ = writeln!(out, "  - {key}: {flow}");
                        }
                        None => {
                            let _ = writeln!(out, "  - {key}:");
                            for (k, v) in fields {
                                block_value(out, k, v, 6);
                            }
                        }
                    }
                }
            }
        }
        Action::Open { conn, by, to } => {
            let mut parts = vec![format!("conn: {conn}")];
            if *by == Party::Server {
                parts.push("by: server".into());
            }
            if let Some(to) = to {
                parts.push(format!("to: {}", quoted(to, 0)));
            }
            if parts.len() == 1 {
                let _ = writeln!(out, "  - open: {conn}");
            } else {
                let _ = writeln!(out, "  - open: {{ {} }}", parts.join(", "));
            }
        }
        Action::Listen { conn, by } => match by {
            Party::Client => {
                let _ = writeln!(out, "  - listen: {conn}");
            }
            Party::Server => {
                let _ = writeln!(out, "  - listen: {{ conn: {conn}, by: server }}");
            }
        },
        Action::Close(by) => {
            let _ = writeln!(out, "  - close: {}", side_key(*by));
        }
    }
    if let Some(conn) = &step.on {
        let _ = writeln!(out, "    on: {conn}");
    }
}

#[cfg(test)]
mod tests;
