//! Where a received message ends, and whether it is what the step expects.
//!
//! Pure functions over buffered bytes: the same bytes give the same decision however they
//! arrived, which is what makes verdicts independent of how the peer split its writes.
//! Framing resumes where the last look stopped ([`Framer::frame`] with a [`Scan`]), so a
//! message arriving in small pieces is read once (a `regex` matcher too: its lazy DFA's
//! walk is kept, see [`crate::proto::regex_scan`]).

use regex::bytes::Regex;

use crate::proto::regex_scan::{self, RegexFrame};
use crate::proto::{Dir, Frame, Framing, Inspector, MessageView, Mismatch, Scan, exact_match, find_lf};
use crate::scenario::Expect;
use crate::scenario::template::{MissingVar, Vars};
use crate::visible::{visible, visible_truncated};

/// A step's expectations with its variables filled in.
#[derive(Debug, Default)]
pub struct Wanted<'a> {
    /// Shorthand literal, compared the protocol's way.
    pub literal: Option<Vec<u8>>,
    /// Exact bytes.
    pub exact: Option<Vec<u8>>,
    /// Contained bytes.
    pub contains: Option<Vec<u8>>,
    /// Bytes that must not appear.
    pub not_contains: Option<Vec<u8>>,
    /// Regex.
    pub regex: Option<&'a Regex>,
    /// Length.
    pub len: Option<usize>,
    /// Codes.
    pub code: Option<&'a [u16]>,
    /// HTTP method.
    pub method: Option<&'a str>,
    /// HTTP target / FTP argument.
    pub path: Option<String>,
    /// FTP command.
    pub command: Option<&'a str>,
    /// HTTP headers.
    pub headers: Vec<(&'a str, String)>,
    /// HTTP body.
    pub body: Option<Vec<u8>>,
    /// HTTP JSON body.
    pub json: Option<serde_json::Value>,
    /// HTTP JSON values at pointers.
    pub json_at: Vec<(&'a str, serde_json::Value)>,
    /// HTTP body length.
    pub body_len: Option<usize>,
}

impl<'a> Wanted<'a> {
    /// Fills in `expect`'s variables.
    pub fn render(expect: &'a Expect, vars: &dyn Vars) -> Result<Wanted<'a>, MissingVar> {
        Wanted::render_with(expect, vars, true)
    }

    fn render_with(expect: &'a Expect, vars: &dyn Vars, body: bool) -> Result<Wanted<'a>, MissingVar> {
        let payload = |p: &Option<crate::scenario::payload::Payload>| -> Result<Option<Vec<u8>>, MissingVar> {
            p.as_ref().map(|p| p.render(vars)).transpose()
        };
        Ok(Wanted {
            literal: payload(&expect.literal)?,
            exact: payload(&expect.exact)?,
            contains: payload(&expect.contains)?,
            not_contains: payload(&expect.not_contains)?,
            regex: expect.regex.as_ref(),
            len: expect.len,
            code: expect.code.as_deref(),
            method: expect.method.as_deref(),
            path: expect.path.as_ref().map(|t| t.render(vars)).transpose()?,
            command: expect.command.as_deref(),
            headers: expect
                .headers
                .iter()
                .map(|(n, t)| Ok((n.as_str(), t.render(vars)?)))
                .collect::<Result<_, MissingVar>>()?,
            body: if body { payload(&expect.body)? } else { None },
            json: expect.json.as_ref().map(|j| render_json(j, vars)).transpose()?,
            json_at: expect
                .json_at
                .iter()
                .map(|(p, v)| Ok((p.as_str(), render_json(v, vars)?)))
                .collect::<Result<_, MissingVar>>()?,
            body_len: expect.body_len,
        })
    }

    /// [`Self::render`] without the `body:` matcher, rendered only once the message is
    /// known to be buffered whole ([`Self::render_body`]): a body that streams is
    /// compared as it arrives, and its expectation may be far larger than memory.
    pub fn render_all_but_body(expect: &'a Expect, vars: &dyn Vars) -> Result<Wanted<'a>, MissingVar> {
        Wanted::render_with(expect, vars, false)
    }

    /// Renders the `body:` matcher left out by [`Self::render_all_but_body`].
    pub fn render_body(&mut self, expect: &Expect, vars: &dyn Vars) -> Result<(), MissingVar> {
        if self.body.is_none() {
            self.body = expect.body.as_ref().map(|p| p.render(vars)).transpose()?;
        }
        Ok(())
    }

    /// What the step waits for, in words, for timeout messages.
    pub fn describe(&self, framing: Framing) -> String {
        if let Some(bytes) = self.literal.as_ref().or(self.exact.as_ref()) {
            if framing == Framing::Raw {
                return format!("{} bytes \"{}\"", bytes.len(), visible_truncated(bytes, 64));
            }
        }
        match framing {
            Framing::Raw => {
                if let Some(n) = self.len {
                    format!("{n} bytes")
                } else if let Some(c) = &self.contains {
                    format!("bytes containing \"{}\"", visible_truncated(c, 64))
                } else if let Some(r) = self.regex {
                    format!("bytes matching /{}/", r.as_str())
                } else {
                    "bytes".to_string()
                }
            }
            Framing::Line => "a line ending in \\n".to_string(),
            Framing::Eof => "the end of the data (the peer closing the connection)".to_string(),
            Framing::Protocol => match self.code {
                Some(codes) => format!(
                    "a complete message with code {}",
                    codes.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
                ),
                None => "a complete message".to_string(),
            },
        }
    }
}

fn render_json(value: &serde_json::Value, vars: &dyn Vars) -> Result<serde_json::Value, MissingVar> {
    use serde_json::Value;
    Ok(match value {
        Value::String(s) => match crate::scenario::template::Template::parse(s) {
            Ok(t) => Value::String(t.render(vars)?),
            Err(_) => Value::String(s.clone()),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_json(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_json(v, vars)?)))
                .collect::<Result<_, MissingVar>>()?,
        ),
        other => other.clone(),
    })
}

/// Decides whether `buf` starts with a whole message.
pub fn frame(
    framing: Framing,
    wanted: &Wanted<'_>,
    inspector: &dyn Inspector,
    dir: Dir,
    conn: &str,
    buf: &[u8],
    eof: bool,
) -> Frame {
    let framer = Framer {
        framing,
        wanted,
        inspector,
        dir,
        conn,
    };
    framer.frame(buf, eof, &mut Scan::default())
}

/// How one step cuts the message it waits for off a connection's buffer.
#[derive(Clone, Copy)]
pub struct Framer<'a> {
    /// The connection's framing.
    pub framing: Framing,
    /// The step's expectations (raw framing reads them).
    pub wanted: &'a Wanted<'a>,
    /// The protocol (protocol framing).
    pub inspector: &'a dyn Inspector,
    /// Which way the message goes.
    pub dir: Dir,
    /// The connection.
    pub conn: &'a str,
}

impl std::fmt::Debug for Framer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Framer")
            .field("framing", &self.framing)
            .field("dir", &self.dir)
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl Framer<'_> {
    /// Whether `buf` starts with a whole message, resuming where `scan` says the last look
    /// at a shorter prefix of it stopped (see [`Scan`]); the answer is the one a fresh scan
    /// gives.
    pub fn frame(&self, buf: &[u8], eof: bool, scan: &mut Scan) -> Frame {
        match self.framing {
            Framing::Raw => raw_frame(self.wanted, buf, scan),
            Framing::Line => match find_lf(buf, scan) {
                Some(pos) => Frame::Complete(pos + 1),
                None if eof && !buf.is_empty() => Frame::Complete(buf.len()),
                None => Frame::Partial,
            },
            Framing::Eof => {
                if eof {
                    Frame::Complete(buf.len())
                } else {
                    Frame::Partial
                }
            }
            Framing::Protocol => self.inspector.frame_resuming(self.dir, self.conn, buf, eof, scan),
        }
    }
}

fn raw_frame(wanted: &Wanted<'_>, buf: &[u8], scan: &mut Scan) -> Frame {
    if let Some(expected) = wanted.literal.as_ref().or(wanted.exact.as_ref()) {
        if buf.len() >= expected.len() {
            return Frame::Complete(expected.len());
        }
        // The bytes before `agreed` were compared already and agree.
        let agreed = scan.searched(buf.len());
        if buf[agreed..] != expected[agreed..buf.len()] {
            // It already differs: more bytes cannot make it match.
            return Frame::Complete(buf.len());
        }
        *scan = Scan::Searched(buf.len());
        Frame::Partial
    } else if let Some(n) = wanted.len {
        if buf.len() >= n {
            Frame::Complete(n)
        } else {
            Frame::Partial
        }
    } else if let Some(needle) = &wanted.contains {
        // A match may straddle what was searched and what is new.
        let from = scan
            .searched(buf.len())
            .saturating_sub(needle.len().saturating_sub(1));
        match find(&buf[from..], needle) {
            Some(pos) => Frame::Complete(from + pos + needle.len()),
            None => {
                *scan = Scan::Searched(buf.len());
                Frame::Partial
            }
        }
    } else if let Some(re) = wanted.regex {
        match regex_scan::find_resuming(re, buf, scan) {
            RegexFrame::Match(end) => Frame::Complete(end),
            // It already cannot match: more bytes would not help.
            RegexFrame::Never if !buf.is_empty() => Frame::Complete(buf.len()),
            RegexFrame::Never | RegexFrame::Partial => Frame::Partial,
        }
    } else {
        Frame::Partial
    }
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Every way `msg` falls short of `wanted`.
pub fn check(
    wanted: &Wanted<'_>,
    inspector: &dyn Inspector,
    dir: Dir,
    msg: &[u8],
    view: &MessageView,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if let Some(lit) = &wanted.literal {
        if let Err(m) = inspector.literal_matches(dir, lit, msg, view) {
            out.push(m);
        }
    }
    if let Some(exact) = &wanted.exact {
        if let Err(m) = exact_match(exact, msg) {
            out.push(m);
        }
    }
    if let Some(needle) = &wanted.contains {
        if find(msg, needle).is_none() {
            out.push(mismatch(
                format!("the message does not contain \"{}\"", visible(needle)),
                needle,
                msg,
            ));
        }
    }
    if let Some(needle) = &wanted.not_contains {
        if find(msg, needle).is_some() {
            out.push(mismatch(
                format!("the message contains \"{}\", which it must not", visible(needle)),
                needle,
                msg,
            ));
        }
    }
    if let Some(re) = wanted.regex {
        if !re.is_match(msg) {
            out.push(Mismatch {
                expected: format!("/{}/", re.as_str()),
                actual: visible_truncated(msg, crate::finding::SHOWN_BYTES),
                message: format!("the message does not match /{}/", re.as_str()),
            });
        }
    }
    if let Some(n) = wanted.len {
        if msg.len() != n {
            out.push(Mismatch {
                expected: format!("{n} bytes"),
                actual: format!("{} bytes", msg.len()),
                message: format!("the message is {} bytes long, not {n}", msg.len()),
            });
        }
    }
    if let Some(codes) = wanted.code {
        let list = codes.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ");
        match view.code {
            Some(c) if codes.contains(&c) => {}
            Some(c) => out.push(Mismatch {
                expected: list.clone(),
                actual: c.to_string(),
                message: format!("code {c} arrived where {list} was expected"),
            }),
            None => out.push(Mismatch {
                expected: list.clone(),
                actual: visible_truncated(msg, 200),
                message: format!("no code could be read where {list} was expected"),
            }),
        }
    }
    let field =
        |name: &str, want: &str, got: Option<&str>, out: &mut Vec<Mismatch>, case_insensitive: bool| {
            let same = match got {
                Some(g) if case_insensitive => g.eq_ignore_ascii_case(want),
                Some(g) => g == want,
                None => false,
            };
            if !same {
                out.push(Mismatch {
                    expected: want.to_string(),
                    actual: got.map(visible_str).unwrap_or_else(|| "(none)".to_string()),
                    message: format!("the {name} is not `{want}`"),
                });
            }
        };
    if let Some(m) = wanted.method {
        field("method", m, view.method.as_deref(), &mut out, false);
    }
    if let Some(p) = &wanted.path {
        field("target", p, view.path.as_deref(), &mut out, false);
    }
    if let Some(c) = wanted.command {
        field("command", c, view.command.as_deref(), &mut out, true);
    }
    for (name, value) in &wanted.headers {
        match view.header(name) {
            Some(v) if v.trim() == value.trim() => {}
            Some(v) => out.push(Mismatch {
                expected: format!("{name}: {value}"),
                actual: format!("{name}: {}", visible_str(v)),
                message: format!("header {name} is `{}`, not `{value}`", visible_str(v)),
            }),
            None => out.push(Mismatch {
                expected: format!("{name}: {value}"),
                actual: "(absent)".to_string(),
                message: format!("header {name} is missing"),
            }),
        }
    }
    let body = view.body.as_deref().unwrap_or_default();
    if let Some(want) = &wanted.body {
        if let Err(mut m) = exact_match(want, body) {
            m.message = format!("the body differs: {}", m.message);
            out.push(m);
        }
    }
    if let Some(n) = wanted.body_len {
        if body.len() != n {
            out.push(Mismatch {
                expected: format!("{n} body bytes"),
                actual: format!("{} body bytes", body.len()),
                message: format!("the body is {} bytes long, not {n}", body.len()),
            });
        }
    }
    if !wanted.json_at.is_empty() {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(doc) => {
                for (pointer, want) in &wanted.json_at {
                    match doc.pointer(pointer) {
                        Some(got) if got == want => {}
                        got => out.push(Mismatch {
                            expected: format!("{pointer} = {want}"),
                            actual: format!(
                                "{pointer} = {}",
                                got.map(|g| g.to_string()).unwrap_or_else(|| "(absent)".into())
                            ),
                            message: format!("the JSON body's {pointer} is not {want}"),
                        }),
                    }
                }
            }
            Err(e) => out.push(Mismatch {
                expected: "a JSON body".to_string(),
                actual: visible_truncated(body, 400),
                message: format!("the body is not JSON: {e}"),
            }),
        }
    }
    if let Some(want) = &wanted.json {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(got) if &got == want => {}
            Ok(got) => out.push(Mismatch {
                expected: serde_json::to_string_pretty(want).unwrap_or_default(),
                actual: serde_json::to_string_pretty(&got).unwrap_or_default(),
                message: "the JSON body differs".to_string(),
            }),
            Err(e) => out.push(Mismatch {
                expected: serde_json::to_string_pretty(want).unwrap_or_default(),
                actual: visible_truncated(body, 400),
                message: format!("the body is not JSON: {e}"),
            }),
        }
    }
    out
}

fn visible_str(s: &str) -> String {
    visible(s.as_bytes())
}

fn mismatch(message: String, expected: &[u8], msg: &[u8]) -> Mismatch {
    Mismatch {
        expected: visible_truncated(expected, crate::finding::SHOWN_BYTES),
        actual: visible_truncated(msg, crate::finding::SHOWN_BYTES),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::echo::EchoInspector;

    fn exact(bytes: &[u8]) -> Wanted<'static> {
        Wanted {
            exact: Some(bytes.to_vec()),
            ..Wanted::default()
        }
    }

    /// Frames `data` on `framing` for `w` as it would arrive cut at `cuts` (modulo its
    /// length, sorted), keeping one scan as the session does, and checks every answer
    /// against framing that prefix whole.
    fn check_in_pieces(framing: Framing, w: &Wanted<'_>, data: &[u8], cuts: &[usize]) {
        let framer = Framer {
            framing,
            wanted: w,
            inspector: &EchoInspector,
            dir: Dir::ToClient,
            conn: "main",
        };
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        ends.push(data.len());
        ends.sort_unstable();
        let mut scan = Scan::default();
        for end in ends {
            for eof in [false, true] {
                let got = framer.frame(&data[..end], eof, &mut scan);
                let whole = frame(
                    framing,
                    w,
                    &EchoInspector,
                    Dir::ToClient,
                    "main",
                    &data[..end],
                    eof,
                );
                assert_eq!(got, whole, "{framing:?} {:?} at {end} bytes", visible(data));
            }
        }
    }

    fn wanted_each_way(expected: &[u8]) -> Vec<(Framing, Wanted<'static>)> {
        vec![
            (Framing::Raw, exact(expected)),
            (
                Framing::Raw,
                Wanted {
                    contains: Some(expected.to_vec()),
                    ..Wanted::default()
                },
            ),
            (
                Framing::Raw,
                Wanted {
                    regex: Some(Box::leak(Box::new(
                        Regex::new(&format!(
                            "{}$|x",
                            regex::escape(&String::from_utf8_lossy(expected))
                        ))
                        .unwrap(),
                    ))),
                    ..Wanted::default()
                },
            ),
            (Framing::Line, Wanted::default()),
        ]
    }

    #[test]
    fn raw_and_line_framing_byte_by_byte_with_one_scan_frame_as_each_prefix_does_whole() {
        let data = b"abcabcabd\r\nabcabd tail";
        for expected in [
            &b"abcabd"[..],
            b"abcabcabd\r\n",
            b"d",
            b"x",
            b"abcabcabd\r\nabcabd tail and more",
        ] {
            for (framing, w) in wanted_each_way(expected) {
                let every_byte: Vec<usize> = (0..data.len()).collect();
                check_in_pieces(framing, &w, data, &every_byte);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn raw_and_line_framing_in_random_pieces_frame_as_each_prefix_does_whole(
            data in proptest::collection::vec(proptest::sample::select(&b"ab\n"[..]), 0..60),
            expected in proptest::collection::vec(proptest::sample::select(&b"ab\n"[..]), 1..6),
            cuts in proptest::collection::vec(0usize..4096, 0..12),
        ) {
            for (framing, w) in wanted_each_way(&expected) {
                check_in_pieces(framing, &w, &data, &cuts);
            }
        }
    }

    #[test]
    fn exact_waits_for_all_bytes_then_takes_just_them() {
        let w = exact(b"hello");
        let i = EchoInspector;
        assert_eq!(
            frame(Framing::Raw, &w, &i, Dir::ToClient, "main", b"hel", false),
            Frame::Partial
        );
        assert_eq!(
            frame(Framing::Raw, &w, &i, Dir::ToClient, "main", b"hello world", false),
            Frame::Complete(5)
        );
    }

    #[test]
    fn exact_decides_early_when_the_prefix_differs() {
        let w = exact(b"hello");
        assert_eq!(
            frame(
                Framing::Raw,
                &w,
                &EchoInspector,
                Dir::ToClient,
                "main",
                b"hex",
                false
            ),
            Frame::Complete(3)
        );
    }

    #[test]
    fn contains_and_regex_take_through_the_match() {
        let w = Wanted {
            contains: Some(b"\r\n".to_vec()),
            ..Wanted::default()
        };
        assert_eq!(
            frame(
                Framing::Raw,
                &w,
                &EchoInspector,
                Dir::ToClient,
                "main",
                b"ab\r\ncd",
                false
            ),
            Frame::Complete(4)
        );
        let re = Regex::new(r"\d+;").unwrap();
        let w = Wanted {
            regex: Some(&re),
            ..Wanted::default()
        };
        assert_eq!(
            frame(
                Framing::Raw,
                &w,
                &EchoInspector,
                Dir::ToClient,
                "main",
                b"x12;y",
                false
            ),
            Frame::Complete(4)
        );
    }

    #[test]
    fn eof_framing_waits_for_the_close() {
        let w = Wanted::default();
        assert_eq!(
            frame(
                Framing::Eof,
                &w,
                &EchoInspector,
                Dir::ToClient,
                "main",
                b"abc",
                false
            ),
            Frame::Partial
        );
        assert_eq!(
            frame(
                Framing::Eof,
                &w,
                &EchoInspector,
                Dir::ToClient,
                "main",
                b"abc",
                true
            ),
            Frame::Complete(3)
        );
    }

    #[test]
    fn every_split_of_a_message_gives_the_same_frame() {
        // Feeding the bytes one at a time, the first complete frame is the same as all at once.
        let w = exact(b"hello\r\n");
        let data = b"hello\r\nmore";
        let whole = frame(
            Framing::Raw,
            &w,
            &EchoInspector,
            Dir::ToClient,
            "main",
            data,
            false,
        );
        let first = (1..=data.len())
            .map(|n| {
                frame(
                    Framing::Raw,
                    &w,
                    &EchoInspector,
                    Dir::ToClient,
                    "main",
                    &data[..n],
                    false,
                )
            })
            .find(|f| *f != Frame::Partial)
            .unwrap();
        assert_eq!(first, whole);
    }

    #[test]
    fn checks_report_each_failed_matcher() {
        let w = Wanted {
            contains: Some(b"zz".to_vec()),
            len: Some(3),
            ..Wanted::default()
        };
        let m = check(
            &w,
            &EchoInspector,
            Dir::ToClient,
            b"abcd",
            &MessageView::default(),
        );
        assert_eq!(m.len(), 2);
        assert!(m[0].message.contains("does not contain"));
        assert!(m[1].message.contains("4 bytes long, not 3"));
    }
}
