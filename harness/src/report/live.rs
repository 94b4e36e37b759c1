//! Live lines for a relayed conversation, as `parley serve` and `parley record` print
//! them: one line per message (bytes made visible) and per connection event, and under a
//! message the findings parley's checker made about it, with their hints.
//!
//! Each line starts with the conversation number, and the connection when it is not
//! `main`: `[#1] C> "USER anonymous\r\n"`, `[#1 data] S> "-rw-r--r-- ..."`.

use crate::engine::relay::RelayEvent;
use crate::finding::Finding;
use crate::outcome::{EventKind, Party};
use crate::proto::MAIN;
use crate::rules::Severity;
use crate::visible::visible_truncated;

/// How many bytes of a message a line shows.
pub const SHOWN: usize = 400;

fn tag(id: u64, conn: &str) -> String {
    if conn == MAIN {
        format!("[#{id}]")
    } else {
        format!("[#{id} {conn}]")
    }
}

fn paint(color: bool, style: anstyle::Style, text: &str) -> String {
    if color {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

fn arrow(from: Party) -> &'static str {
    match from {
        Party::Client => "C>",
        Party::Server => "S>",
    }
}

/// The lines of one finding: rule, severity, section and message, then the hint.
pub fn finding_lines(id: u64, f: &Finding, color: bool) -> Vec<String> {
    let style = match f.severity {
        Severity::Error => anstyle::AnsiColor::Red.on_default().bold(),
        Severity::Warning => anstyle::AnsiColor::Yellow.on_default().bold(),
        Severity::Note => anstyle::AnsiColor::Cyan.on_default(),
    };
    let at = tag(id, f.conn.as_deref().unwrap_or(MAIN));
    vec![
        format!(
            "{at}    {} {} ({}): {}",
            paint(color, style, f.rule.as_str()),
            f.severity,
            f.section,
            f.message
        ),
        format!("{at}    hint: {}", f.hint),
    ]
}

/// The lines for `event` (none for [`RelayEvent::Ready`] and [`RelayEvent::Ended`]: the
/// command says what those mean for it).
pub fn lines(event: &RelayEvent, color: bool) -> Vec<String> {
    match event {
        RelayEvent::Ready { .. } | RelayEvent::Ended { .. } => Vec::new(),
        RelayEvent::Started { id, peer } => vec![format!("{} {peer} connected", tag(*id, MAIN))],
        RelayEvent::Event { id, conn, kind } => {
            let at = tag(*id, conn);
            vec![match kind {
                EventKind::Listen { by, addr } => format!("{at} the {} listens on {addr}", by.name()),
                EventKind::Open { by, client, server } => {
                    format!("{at} the {} opens {client} -> {server}", by.name())
                }
                EventKind::Close { by } => format!("{at} closed by the {}", by.name()),
                EventKind::Omitted { from, bytes } => {
                    format!("{at} {} {bytes} more bytes (not kept)", arrow(*from))
                }
                EventKind::Error { message } => format!("{at} error: {message}"),
                EventKind::Data { from, bytes } => {
                    format!("{at} {} \"{}\"", arrow(*from), visible_truncated(bytes, SHOWN))
                }
            }]
        }
        RelayEvent::Message {
            id,
            conn,
            from,
            bytes,
        } => vec![format!(
            "{} {} \"{}\"",
            tag(*id, conn),
            arrow(*from),
            visible_truncated(bytes, SHOWN)
        )],
        RelayEvent::Finding { id, finding } => finding_lines(*id, finding, color),
        RelayEvent::Trouble { id, message } => vec![format!(
            "{} {} {message}",
            tag(*id, MAIN),
            paint(color, anstyle::AnsiColor::Magenta.on_default(), "relay:")
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    #[test]
    fn lines_name_the_connection_unless_it_is_main() {
        let msg = RelayEvent::Message {
            id: 2,
            conn: "data".into(),
            from: Party::Server,
            bytes: b"a\r\n".to_vec(),
        };
        assert_eq!(lines(&msg, false), vec!["[#2 data] S> \"a\\r\\n\""]);
        let open = RelayEvent::Event {
            id: 1,
            conn: MAIN.into(),
            kind: EventKind::Close { by: Party::Client },
        };
        assert_eq!(lines(&open, false), vec!["[#1] closed by the client"]);
    }

    #[test]
    fn a_finding_shows_its_rule_and_hint() {
        let f = Finding::new(rules::F_RPL_5, "bare LF")
            .by(Party::Server)
            .on("main");
        let out = lines(&RelayEvent::Finding { id: 1, finding: f }, false);
        assert!(
            out[0].starts_with("[#1]    F-RPL-5 warning (RFC 959 §4.2): bare LF"),
            "{out:?}"
        );
        assert!(out[1].starts_with("[#1]    hint: "), "{out:?}");
    }
}
