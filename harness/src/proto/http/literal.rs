//! Semantic comparison of a message with a literal one from a scenario (DESIGN: "an HTTP
//! response matches on status and the headers the step names, in any order and case").
//!
//! A response literal matches on its status code, on each header it names (names
//! case-insensitive, values trimmed; `Date` and `Server` need only be present, their
//! values vary) and on its body when it has one. A request literal matches on method,
//! target, version, the headers it names and its body when it has one. A literal that
//! is not an HTTP message at all is compared byte for byte.

use super::body::{Chunks, decode_chunked, is_chunked};
use super::head::Head;
use super::request::RequestLine;
use super::response::StatusLine;
use crate::proto::{Dir, MessageView, Mismatch, exact_match};
use crate::visible::{visible, visible_truncated};

/// Headers whose value varies from run to run: a literal naming them asks only that
/// they be there.
const PRESENCE_ONLY: &[&str] = &["Date", "Server"];

/// Compares `msg` (understood as `view`) with the literal `expected`.
pub fn compare(dir: Dir, expected: &[u8], msg: &[u8], view: &MessageView) -> Result<(), Mismatch> {
    let want = Head::parse(expected);
    let mut diffs: Vec<String> = Vec::new();
    match dir {
        Dir::ToClient => {
            let line = StatusLine::parse(want.start.text);
            let Some(code) = line.code() else {
                return exact_match(expected, msg);
            };
            match view.code {
                Some(got) if got == code => {}
                Some(got) => diffs.push(format!("status {got} arrived where {code} was expected")),
                None => diffs.push(format!("no status line arrived where status {code} was expected")),
            }
        }
        Dir::ToServer => {
            let line = RequestLine::parse(want.start.text);
            if line.words.len() < 2 {
                return exact_match(expected, msg);
            }
            let got_head = Head::parse(msg);
            let got = RequestLine::parse(got_head.start.text);
            let method = line.method();
            match view.method.as_deref() {
                Some(m) if m == method => {}
                Some(m) => diffs.push(format!("the method is `{m}`, not `{method}`")),
                None => diffs.push(format!("no method arrived where `{method}` was expected")),
            }
            if let Some(target) = line.target() {
                match view.path.as_deref() {
                    Some(p) if p == target => {}
                    Some(p) => diffs.push(format!(
                        "the target is `{}`, not `{target}`",
                        visible(p.as_bytes())
                    )),
                    None => diffs.push(format!("no target arrived where `{target}` was expected")),
                }
            }
            if let Some(version) = line.version_word() {
                let got_version = got.version_word().unwrap_or_default();
                if got_version != version {
                    diffs.push(format!(
                        "the version is `{}`, not `{}`",
                        visible(got_version),
                        visible(version)
                    ));
                }
            }
        }
    }
    for field in &want.fields {
        let name = field.name_text();
        let name = name.trim();
        let got: Vec<&str> = view
            .headers
            .iter()
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        if got.is_empty() {
            diffs.push(format!("header {name} is missing"));
        } else if PRESENCE_ONLY.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            // Present: enough.
        } else if !got.iter().any(|v| v.trim() == field.value) {
            diffs.push(format!(
                "header {name} is `{}`, not `{}`",
                visible(got.join(", ").as_bytes()),
                field.value
            ));
        }
    }
    if want.ended {
        let rest = &expected[want.len..];
        let body = if is_chunked(&want) {
            let mut out = Vec::new();
            match decode_chunked(rest, Some(&mut out)) {
                Chunks::Complete { .. } => out,
                _ => rest.to_vec(),
            }
        } else {
            rest.to_vec()
        };
        if !body.is_empty() {
            let got = view.body.as_deref().unwrap_or_default();
            if let Err(m) = exact_match(&body, got) {
                diffs.push(format!("the body differs: {}", m.message));
            }
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Mismatch {
            expected: visible_truncated(expected, crate::finding::SHOWN_BYTES),
            actual: visible_truncated(msg, crate::finding::SHOWN_BYTES),
            message: diffs.join("; "),
        })
    }
}
