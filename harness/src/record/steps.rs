//! From the conversation's items to the steps a person would have written: each message
//! a literal step (its bytes are what parley sends when it plays that side, and what it
//! matches when it checks it), except where the bytes change from run to run. Those are
//! written with what the scenario language already has:
//!
//! - FTP data addresses: `listen` + `PORT {{data.port_args}}` (active mode), `listen` by
//!   the server + `227 ... ({{data.port_args}})` and `open` to `{{pasv.addr}}` (passive);
//! - FTP replies whose text is the server's own (the greeting, SYST, FEAT, anything with
//!   a version or a time): a `code:` matcher, with `send:` keeping the recorded reply;
//! - HTTP: `Host: {{authority}}`; responses matched on status, the headers that do not
//!   vary, and the body (or its length when it varies or is large), with `send:` keeping
//!   the recorded response and a fresh `Date: {{http_date}}`;
//! - FTP listings and large data: `contains:` an entry, or `len:`.
//!
//! With `exact`, every message is matched byte for byte instead (`exact:`), apart from the
//! data addresses and the Host authority, without which nothing could be played again.

use regex::Regex;

use super::items::Item;
use super::yaml::{Seg, Text};
use crate::outcome::Party;
use crate::proto::{MAIN, MessageView, Protocol};

/// Payloads at least this long go to a file next to the scenario (when there is one).
pub const FILE_AT: usize = 16 * 1024;
/// Bodies at most this long are matched byte for byte.
pub const BODY_MATCHED: usize = 4 * 1024;

/// Bytes of a message as the scenario writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bytes {
    /// UTF-8 text, with variables.
    Text(Text),
    /// `{ base64: ... }`.
    Base64(String),
    /// `{ repeat: UNIT, times: N }`.
    Repeat(Text, usize),
    /// `{ file: PATH }`, relative to the scenario.
    File(String),
}

/// A matcher or `send:` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// A string.
    Str(Text),
    /// A word YAML reads as a string without quotes (a command keyword).
    Word(String),
    /// A number.
    Num(usize),
    /// Bytes.
    Bytes(Bytes),
    /// A map of header names to values.
    Headers(Vec<(String, Text)>),
}

/// A message step's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// The shorthand: these bytes, sent and matched the protocol's way.
    Literal(Bytes),
    /// The map form: `send:` and matchers, in this order.
    Fields(Vec<(&'static str, Val)>),
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `client:` or `server:`.
    Side(Party, Msg),
    /// `open:`.
    Open {
        /// The connection.
        conn: String,
        /// Who opens it.
        by: Party,
        /// Where to.
        to: Option<Text>,
    },
    /// `listen:`.
    Listen {
        /// The connection.
        conn: String,
        /// Who listens.
        by: Party,
    },
    /// `close:`.
    Close(Party),
}

/// One step, with a comment above it and the connection it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOut {
    /// A comment line (or a few) above the step.
    pub comment: Option<String>,
    /// The action.
    pub action: Action,
    /// `on:`, when not `main`.
    pub on: Option<String>,
}

/// What the steps need to know besides the items.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Match every message byte for byte.
    pub exact: bool,
    /// The `host:port` the client was given (the relay), as the Host header carries it.
    pub authority: Option<String>,
    /// Where large payloads go: `{stem}.data/NAME`, relative to the scenario; `None`
    /// keeps them inline.
    pub files_stem: Option<String>,
}

/// The steps, the files they refer to, and a few words on what the conversation did.
#[derive(Debug, Clone, Default)]
pub struct Steps {
    /// The steps.
    pub steps: Vec<StepOut>,
    /// Payload files: path relative to the scenario, bytes.
    pub files: Vec<(String, Vec<u8>)>,
    /// What the conversation did, for its name: FTP commands, HTTP requests, echo count.
    pub summary: Vec<String>,
}

struct Writer<'a> {
    protocol: Protocol,
    ctx: &'a Context,
    out: Steps,
    /// The data connection the next PORT/EPRT announces (the client listens for it).
    client_listen: Option<String>,
    /// The data connection the next 227/229 announces (the server listens for it).
    server_listen: Option<String>,
    /// Said once: what the comments explain once.
    told: Vec<&'static str>,
    /// A comment waiting for the next step.
    pending_comment: Option<String>,
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern}: {e}"))
}

/// Text that looks like it changes: a time, a year, a version.
fn looks_volatile(text: &str) -> bool {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex(r"\b\d{1,2}:\d\d\b|\b(19|20)\d\d\b|\b\d+\.\d+\.\d+\b|\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun),")
    })
    .is_match(text)
}

/// Text that carries a time of day or a date: what a body that changes from run to run
/// usually has (a year alone is not enough: bodies are full of numbers).
fn looks_timed(text: &str) -> bool {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex(r"\b\d{1,2}:\d\d:\d\d\b|\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d|\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
    })
    .is_match(text)
}

/// An `ls -l` line.
fn listing_line(line: &str) -> bool {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex(r"^[-dlcbps][-rwxsStT]{9}[+@.]?\s"))
        .is_match(line)
}

/// HTTP headers whose value changes from response to response.
const VOLATILE_HEADERS: &[&str] = &[
    "Date",
    "Server",
    "Last-Modified",
    "ETag",
    "Expires",
    "Age",
    "Set-Cookie",
    "Keep-Alive",
    "X-Request-Id",
];

fn is_volatile_header(name: &str) -> bool {
    VOLATILE_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// The shortest unit `bytes` repeat (at most 256 bytes, at least 8 repeats), if any.
fn repetition(bytes: &[u8]) -> Option<(&[u8], usize)> {
    if bytes.len() < 256 {
        return None;
    }
    (1..=256usize)
        .filter(|p| bytes.len() % p == 0 && bytes.len() / p >= 8)
        .find(|p| bytes.chunks(*p).all(|c| c == &bytes[..*p]))
        .map(|p| (&bytes[..p], bytes.len() / p))
}

impl Writer<'_> {
    fn push(&mut self, action: Action, conn: &str, comment: Option<String>) {
        let comment = match (self.pending_comment.take(), comment) {
            (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
            (a, b) => a.or(b),
        };
        self.out.steps.push(StepOut {
            comment,
            action,
            on: (conn != MAIN).then(|| conn.to_string()),
        });
    }

    /// A comment the first time `what` comes up.
    fn once(&mut self, what: &'static str, text: impl Into<String>) -> Option<String> {
        if self.told.contains(&what) {
            None
        } else {
            self.told.push(what);
            Some(text.into())
        }
    }

    /// `bytes` as the scenario writes them: repeated text as `repeat`, large payloads in
    /// a file, text as text, the rest in base64.
    fn bytes(&mut self, bytes: &[u8]) -> Bytes {
        if let Some((unit, times)) = repetition(bytes) {
            if let Ok(text) = std::str::from_utf8(unit) {
                return Bytes::Repeat(Text::lit(text), times);
            }
        }
        if bytes.len() >= FILE_AT {
            if let Some(stem) = &self.ctx.files_stem {
                let name = format!("{stem}.data/{}.bin", self.out.steps.len() + 1);
                self.out.files.push((name.clone(), bytes.to_vec()));
                return Bytes::File(name);
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Bytes::Text(Text::lit(text)),
            Err(_) => {
                use base64::Engine as _;
                Bytes::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        }
    }

    /// A message matched byte for byte (`--exact`) or the protocol's way (the shorthand).
    fn plain(&mut self, bytes: Bytes) -> Msg {
        if self.ctx.exact {
            Msg::Fields(vec![("exact", Val::Bytes(bytes))])
        } else {
            Msg::Literal(bytes)
        }
    }

    fn item(&mut self, item: Item) {
        match item {
            Item::Listen { conn, by, .. } => {
                let comment = match by {
                    Party::Client => {
                        self.client_listen = Some(conn.clone());
                        self.once(
                            "listen-client",
                            format!(
                                "Active mode: the client listens for `{conn}` and names the address in its PORT/EPRT \
                                 ({{{{{conn}.port_args}}}}); the server connects to it."
                            ),
                        )
                    }
                    Party::Server => {
                        self.server_listen = Some(conn.clone());
                        self.once(
                            "listen-server",
                            format!(
                                "Passive mode: the server listens for `{conn}` and names the address in its 227 \
                                 ({{{{{conn}.port_args}}}}) or 229 ({{{{{conn}.port}}}}) reply; the client connects to it."
                            ),
                        )
                    }
                };
                self.push(
                    Action::Listen {
                        conn: conn.clone(),
                        by,
                    },
                    MAIN,
                    comment,
                );
            }
            Item::Open { conn, by } => {
                if conn == MAIN {
                    return;
                }
                let to = match (self.protocol, by) {
                    (Protocol::Ftp, Party::Server) => Some(Text(vec![Seg::Var("port.addr".into())])),
                    (Protocol::Ftp, Party::Client) => Some(Text(vec![Seg::Var("pasv.addr".into())])),
                    _ => None,
                };
                self.push(
                    Action::Open {
                        conn: conn.clone(),
                        by,
                        to,
                    },
                    MAIN,
                    None,
                );
            }
            Item::Close { conn, by } => self.push(Action::Close(by), &conn, None),
            Item::Error { conn, message } => {
                let note = format!("On `{conn}`: {message}.");
                self.pending_comment = Some(match self.pending_comment.take() {
                    Some(c) => format!("{c}\n{note}"),
                    None => note,
                });
            }
            Item::Message {
                conn,
                from,
                bytes,
                view,
            } => {
                let (msg, comment) = match (self.protocol, conn == MAIN) {
                    (Protocol::Ftp, true) => self.ftp_control(from, &bytes, &view),
                    (Protocol::Ftp, false) => self.ftp_data(&bytes),
                    (Protocol::Http, _) => match from {
                        Party::Client => self.http_request(&bytes, &view),
                        Party::Server => self.http_response(&bytes, &view),
                    },
                    (Protocol::Echo, _) => {
                        if from == Party::Client {
                            self.out.summary.push("echo".into());
                        }
                        let b = self.bytes(&bytes);
                        (self.plain(b), None)
                    }
                };
                self.push(Action::Side(from, msg), &conn, comment);
            }
        }
    }

    fn ftp_control(&mut self, from: Party, bytes: &[u8], view: &MessageView) -> (Msg, Option<String>) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            let b = self.bytes(bytes);
            return (self.plain(b), None);
        };
        match from {
            Party::Client => {
                let keyword = view.command.clone().unwrap_or_default();
                if !keyword.is_empty() && !self.out.summary.contains(&keyword) {
                    self.out.summary.push(keyword.clone());
                }
                let announce = matches!(keyword.as_str(), "PORT" | "EPRT");
                match (announce, self.client_listen.take()) {
                    (true, Some(conn)) => {
                        let spelled = text.split(' ').next().unwrap_or(&keyword);
                        let suffix = if keyword == "PORT" {
                            "port_args"
                        } else {
                            "eprt_args"
                        };
                        let mut send = Text::lit(format!("{spelled} "));
                        send.var(&format!("{conn}.{suffix}"));
                        send.push(line_end(text));
                        let fields = vec![
                            ("command", Val::Word(keyword)),
                            ("send", Val::Bytes(Bytes::Text(send))),
                        ];
                        (Msg::Fields(fields), None)
                    }
                    (_, listen) => {
                        self.client_listen = listen;
                        (self.plain(Bytes::Text(Text::lit(text))), None)
                    }
                }
            }
            Party::Server => {
                let code = view.code.unwrap_or(0);
                if matches!(code, 227 | 229) {
                    if let Some(conn) = self.server_listen.take() {
                        let send = announced_reply(code, text, &conn);
                        return (
                            Msg::Fields(vec![
                                ("code", Val::Num(code.into())),
                                ("send", Val::Bytes(Bytes::Text(send))),
                            ]),
                            None,
                        );
                    }
                }
                let own_text = matches!(code, 211 | 213 | 214 | 215 | 220) || looks_volatile(text);
                if own_text && !self.ctx.exact && code != 0 {
                    let comment = self.once(
                        "ftp-code",
                        "Replies whose text is the server's own (a banner, a version, a time) are matched on their \
                         code; `send:` keeps the text recorded.",
                    );
                    return (
                        Msg::Fields(vec![
                            ("code", Val::Num(code.into())),
                            ("send", Val::Bytes(Bytes::Text(Text::lit(text)))),
                        ]),
                        comment,
                    );
                }
                (self.plain(Bytes::Text(Text::lit(text))), None)
            }
        }
    }

    fn ftp_data(&mut self, bytes: &[u8]) -> (Msg, Option<String>) {
        let text = std::str::from_utf8(bytes).ok();
        let first = text.and_then(|t| t.lines().next()).unwrap_or_default();
        let payload = self.bytes(bytes);
        if self.ctx.exact {
            return (Msg::Fields(vec![("exact", Val::Bytes(payload))]), None);
        }
        if listing_line(first) {
            // The entry's name is the last field of the line (a symlink's target aside).
            let line = first.trim_end();
            let name = line.split(" -> ").next().unwrap_or(line);
            let name = name.split_whitespace().last().unwrap_or_default().to_string();
            let comment = self.once(
                "listing",
                "A listing's dates and sizes are the server's: it is matched on an entry it has, and sent as recorded.",
            );
            return (
                Msg::Fields(vec![
                    ("contains", Val::Str(Text::lit(name))),
                    ("send", Val::Bytes(payload)),
                ]),
                comment,
            );
        }
        if bytes.len() > BODY_MATCHED {
            return (
                Msg::Fields(vec![
                    ("len", Val::Num(bytes.len())),
                    ("send", Val::Bytes(payload)),
                ]),
                Some(format!(
                    "{} bytes: matched on their length, sent as recorded.",
                    bytes.len()
                )),
            );
        }
        (Msg::Literal(payload), None)
    }

    fn http_request(&mut self, bytes: &[u8], view: &MessageView) -> (Msg, Option<String>) {
        if let (Some(method), Some(path)) = (&view.method, &view.path) {
            self.out.summary.push(format!("{method} {path}"));
        }
        let authority = self.ctx.authority.clone().unwrap_or_default();
        let head_len = memchr::memmem::find(bytes, b"\r\n\r\n")
            .map(|p| p + 4)
            .or_else(|| memchr::memmem::find(bytes, b"\n\n").map(|p| p + 2))
            .unwrap_or(bytes.len());
        let (head, body) = bytes.split_at(head_len);
        match (std::str::from_utf8(head), std::str::from_utf8(body)) {
            (Ok(head), Ok(body)) => {
                let mut text = if authority.is_empty() {
                    Text::lit(head)
                } else {
                    Text::with_var(head, &authority, "authority")
                };
                let templated = text.0.iter().any(|s| matches!(s, Seg::Var(_)));
                text.push(body);
                let comment = if templated {
                    self.once(
                        "authority",
                        "The client was given parley's address: Host is `{{authority}}`, the address of the server \
                         parley plays or checks.",
                    )
                } else {
                    None
                };
                (self.plain(Bytes::Text(text)), comment)
            }
            _ => {
                let payload = self.bytes(bytes);
                let mut fields = Vec::new();
                if let Some(m) = &view.method {
                    fields.push(("method", Val::Str(Text::lit(m.clone()))));
                }
                if let Some(p) = &view.path {
                    fields.push(("path", Val::Str(Text::lit(p.clone()))));
                }
                fields.push(("send", Val::Bytes(payload)));
                (Msg::Fields(fields), None)
            }
        }
    }

    fn http_response(&mut self, bytes: &[u8], view: &MessageView) -> (Msg, Option<String>) {
        let Some(code) = view.code else {
            let b = self.bytes(bytes);
            return (self.plain(b), None);
        };
        if let Some(last) = self.out.summary.last_mut() {
            last.push_str(&format!(" ({code})"));
        }
        if self.ctx.exact {
            let b = self.bytes(bytes);
            return (Msg::Fields(vec![("exact", Val::Bytes(b))]), None);
        }
        let authority = self.ctx.authority.clone().unwrap_or_default();
        // What is sent: as recorded, with a fresh Date.
        let send = match std::str::from_utf8(bytes) {
            Ok(text) if bytes.len() < FILE_AT => Bytes::Text(fresh_date(text)),
            _ => self.bytes(bytes),
        };
        let mut fields: Vec<(&'static str, Val)> = vec![("code", Val::Num(code.into()))];
        let mut headers: Vec<(String, Text)> = Vec::new();
        let mut varying: Vec<String> = Vec::new();
        for (name, value) in &view.headers {
            if is_volatile_header(name) {
                if !varying.iter().any(|v| v.eq_ignore_ascii_case(name)) {
                    varying.push(name.clone());
                }
            } else if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                headers.push((name.clone(), Text::lit(value.trim())));
            }
        }
        if !headers.is_empty() {
            fields.push(("headers", Val::Headers(headers)));
        }
        let body = view.body.clone().unwrap_or_default();
        let mut notes: Vec<String> = Vec::new();
        if !body.is_empty() {
            let text = std::str::from_utf8(&body).ok();
            let echoes_authority = text.is_some_and(|t| !authority.is_empty() && t.contains(&authority));
            let timed = text.is_some_and(looks_timed);
            match text {
                Some(t) if !timed && body.len() <= BODY_MATCHED => {
                    if echoes_authority {
                        // The body names the server's address (an echo of Host): the
                        // address parley plays or checks, whose length may differ.
                        fields.push((
                            "body",
                            Val::Bytes(Bytes::Text(Text::with_var(t, &authority, "authority"))),
                        ));
                        drop_header(&mut fields, "Content-Length");
                        notes.push("its body names the server's address: `{{authority}}`".to_string());
                    } else {
                        fields.push(("body", Val::Bytes(Bytes::Text(Text::lit(t)))));
                    }
                }
                _ => {
                    if !echoes_authority {
                        fields.push(("body_len", Val::Num(body.len())));
                    }
                    let first = text
                        .and_then(|t| t.lines().map(str::trim).find(|l| !l.is_empty()))
                        .filter(|l| {
                            (4..=60).contains(&l.len())
                                && !looks_timed(l)
                                && (authority.is_empty() || !l.contains(&authority))
                        });
                    if let Some(first) = first {
                        fields.push(("contains", Val::Str(Text::lit(first))));
                    }
                    notes.push(if timed {
                        "its body carries dates or times: matched on its length".to_string()
                    } else {
                        format!("its {}-byte body is matched on its length", body.len())
                    });
                }
            }
        }
        fields.push(("send", Val::Bytes(send)));
        let mut comment = None;
        if !varying.is_empty() {
            comment = self.once(
                "varying-headers",
                format!(
                    "{} vary from response to response: not matched (Date is sent fresh, `{{{{http_date}}}}`).",
                    varying.join(", ")
                ),
            );
        }
        if !notes.is_empty() {
            let note = format!("This response: {}.", notes.join("; "));
            comment = Some(match comment {
                Some(c) => format!("{c}\n{note}"),
                None => note,
            });
        }
        (Msg::Fields(fields), comment)
    }
}

/// Removes header `name` from the `headers:` matcher, if it is there.
fn drop_header(fields: &mut Vec<(&'static str, Val)>, name: &str) {
    for (key, value) in fields.iter_mut() {
        if let (&mut "headers", Val::Headers(h)) = (key, value) {
            h.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
    }
    fields.retain(|(k, v)| !(*k == "headers" && matches!(v, Val::Headers(h) if h.is_empty())));
}

/// The line end of `text` as sent.
fn line_end(text: &str) -> &str {
    if text.ends_with("\r\n") {
        "\r\n"
    } else if text.ends_with('\n') {
        "\n"
    } else {
        ""
    }
}

/// A 227 or 229 reply with its address replaced by the listening connection's variables.
fn announced_reply(code: u16, text: &str, conn: &str) -> Text {
    let span = if code == 227 {
        crate::proto::ftp::addr::find_pasv_span(&text[3..]).map(|(r, _)| (r, "port_args"))
    } else {
        crate::proto::ftp::addr::find_epsv_span(&text[3..]).map(|(r, _)| (r, "port"))
    };
    let Some((range, suffix)) = span else {
        return Text::lit(text);
    };
    let mut out = Text::lit(&text[..range.start + 3]);
    out.var(&format!("{conn}.{suffix}"));
    out.push(&text[range.end + 3..]);
    out
}

/// The response's head with its Date value replaced by `{{http_date}}`.
fn fresh_date(text: &str) -> Text {
    let head_end = text
        .find("\r\n\r\n")
        .or_else(|| text.find("\n\n"))
        .unwrap_or(text.len());
    let mut out = Text::default();
    let mut at = 0;
    for line in text[..head_end].split_inclusive('\n') {
        let start = at;
        at += line.len();
        let Some((name, _)) = line.split_once(':') else {
            out.push(line);
            continue;
        };
        if start > 0 && name.trim().eq_ignore_ascii_case("Date") {
            out.push(&format!("{name}: "));
            out.var("http_date");
            out.push(line_end(line));
        } else {
            out.push(line);
        }
    }
    out.push(&text[at..]);
    out
}

/// The steps for `items`.
pub fn steps(protocol: Protocol, items: Vec<Item>, ctx: &Context) -> Steps {
    let mut w = Writer {
        protocol,
        ctx,
        out: Steps::default(),
        client_listen: None,
        server_listen: None,
        told: Vec::new(),
        pending_comment: None,
    };
    for item in items {
        w.item(item);
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_payload_is_written_as_repeat() {
        let bytes = "0123456789abcdef".repeat(4096);
        assert_eq!(
            repetition(bytes.as_bytes()),
            Some((&b"0123456789abcdef"[..], 4096))
        );
        assert_eq!(repetition(b"short"), None);
    }

    #[test]
    fn the_date_header_is_sent_fresh_and_nothing_else_changes() {
        let t = fresh_date(
            "HTTP/1.1 200 OK\r\nServer: x\r\nDate: Mon, 01 Dec 2025 10:00:00 GMT\r\n\r\nDate: body\n",
        );
        assert_eq!(
            t.source(),
            "HTTP/1.1 200 OK\r\nServer: x\r\nDate: {{http_date}}\r\n\r\nDate: body\n"
        );
    }

    #[test]
    fn pasv_and_epsv_replies_announce_the_listening_connection() {
        assert_eq!(
            announced_reply(227, "227 Entering Passive Mode (127,0,0,1,155,171).\r\n", "data").source(),
            "227 Entering Passive Mode ({{data.port_args}}).\r\n"
        );
        assert_eq!(
            announced_reply(229, "229 Entering Extended Passive Mode (|||40000|)\r\n", "data2").source(),
            "229 Entering Extended Passive Mode (|||{{data2.port}}|)\r\n"
        );
    }

    #[test]
    fn volatile_text_is_told_apart() {
        assert!(looks_volatile("220 (vsFTPd 3.0.3)"));
        assert!(looks_volatile("-rw-r--r-- 1 ftp ftp 265 Dec 01 10:59 readme.txt"));
        assert!(!looks_volatile("230 Login successful."));
        assert!(looks_timed("{\"date\": \"2025-12-01T10:00:00Z\"}"));
        assert!(!looks_timed("{\"rfc\": { \"http\": 1945 }}"));
        assert!(listing_line(
            "-rw-r--r--    1 1000     1000          265 Jan 01  2024 readme.txt"
        ));
        assert!(listing_line("drwxr-xr-x 2 ftp ftp 4096 Jan 01 2024 pub"));
        assert!(!listing_line("readme.txt"));
    }
}
