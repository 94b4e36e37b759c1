//! The rule catalogue: every check parley makes, under a stable id.
//!
//! A rule is data: id, severity (per HTTP profile where the RFCs differ), the RFC section,
//! the rule in one sentence, what to change — told to the client and to the server apart,
//! since the fix differs with the party that sent the bytes — and how parley checks it.
//! `parley explain ID` prints an entry; findings carry the id, severity and section.
//! Ids never change meaning and retired ids are not reused.
//!
//! The catalogue is one macro invocation: it defines [`RuleId`] (one variant per rule,
//! re-exported as constants such as [`F_CMD_3`]) and [`RULES`] in the same order, so code
//! names rules by constant and a typo does not compile. `../shared/RULES.md` is the floor
//! of this catalogue (a test compares the two); `docs/rules.md` is rendered from it.

use std::fmt;

use serde::{Serialize, Serializer};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Legal, but worth knowing.
    Note,
    /// A SHOULD, or something real peers reject.
    Warning,
    /// A MUST, or the grammar is broken. Fails the scenario.
    Error,
}

impl Severity {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which HTTP profile a check runs under; it changes some severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// RFC 1945, the default.
    #[default]
    Http10,
    /// RFC 2616, stricter.
    Strict11,
}

/// How parley can observe a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Judged from the bytes of every message, whatever the scenario's matchers say.
    Bytes,
    /// Judged by the scenario steps that name the rule (`rule:`), from how the peer behaves.
    Scenario,
    /// Judged when parley plays the other side of a program, from timing or sockets; the
    /// text says how.
    Behaviour(&'static str),
}

/// Whose behaviour a rule constrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The client's bytes or behaviour.
    Client,
    /// The server's.
    Server,
    /// Either side's (header syntax, line ends, parley's own scenario rules).
    Either,
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Typed id.
    pub id: RuleId,
    /// Stable id as written, e.g. `ECHO-2`.
    pub code: &'static str,
    /// Severity under the default profile.
    pub severity: Severity,
    /// Severity under `strict11`, where it differs.
    pub strict_severity: Option<Severity>,
    /// The RFC and section, e.g. `RFC 1945 §5.1`.
    pub section: &'static str,
    /// The rule in one sentence.
    pub summary: &'static str,
    /// What a client that broke it changes, in one sentence a student can act on; empty
    /// when the rule is not about clients.
    pub client: &'static str,
    /// What a server that broke it changes; empty when the rule is not about servers.
    pub server: &'static str,
    /// How parley checks it.
    pub check: Check,
}

impl Rule {
    const BLANK: Rule = Rule {
        id: RuleId::S_EXPECT,
        code: "",
        severity: Severity::Error,
        strict_severity: None,
        section: "",
        summary: "",
        client: "",
        server: "",
        check: Check::Bytes,
    };

    /// Severity under `profile`.
    pub fn severity_in(&self, profile: Profile) -> Severity {
        match profile {
            Profile::Strict11 => self.strict_severity.unwrap_or(self.severity),
            Profile::Http10 => self.severity,
        }
    }

    /// The protocol family the id belongs to.
    pub fn family(&self) -> &'static str {
        match self.code.split('-').next().unwrap_or("") {
            "ECHO" => "echo",
            "H" => "http",
            "F" => "ftp",
            _ => "scenario",
        }
    }

    /// Whose behaviour the rule constrains: the party with a fix.
    pub fn party(&self) -> Party {
        match (self.client.is_empty(), self.server.is_empty()) {
            (false, true) => Party::Client,
            (true, false) => Party::Server,
            _ => Party::Either,
        }
    }

    /// Whether the rule can be broken by `sender` (a client or server).
    pub fn applies_to(&self, sender: crate::outcome::Party) -> bool {
        matches!(
            (self.party(), sender),
            (Party::Either, _)
                | (Party::Client, crate::outcome::Party::Client)
                | (Party::Server, crate::outcome::Party::Server)
        )
    }

    /// The fix told to `sender`, the party whose bytes broke the rule (the other party's
    /// fix when the rule has none for it).
    pub fn fix_for(&self, sender: crate::outcome::Party) -> &'static str {
        let (mine, other) = match sender {
            crate::outcome::Party::Client => (self.client, self.server),
            crate::outcome::Party::Server => (self.server, self.client),
        };
        if mine.is_empty() { other } else { mine }
    }

    /// Whether parley has a check for the rule: code that emits it, or a bundled scenario
    /// that names it (the test `every_rule_is_checked` keeps this list honest).
    pub fn is_checked(&self) -> bool {
        !NOT_CHECKED_YET.contains(&self.id)
    }
}

/// Rules catalogued (they are in RULES.md) that no code emits and no bundled scenario
/// names yet; `parley explain` says so. A test fails when one of them gains a check and
/// stays listed here, or when a rule outside this list has none.
pub const NOT_CHECKED_YET: &[RuleId] = &[];

macro_rules! catalogue {
    ($( $name:ident = $code:literal, $sev:ident, $section:literal { $($field:ident : $value:expr),* $(,)? } )*) => {
        /// A rule's typed id: one variant per catalogue entry, in catalogue order. The
        /// variants are re-exported as constants of this module (`rules::F_CMD_3`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(non_camel_case_types)]
        #[repr(u16)]
        pub enum RuleId {
            $( #[doc = $code] $name, )*
        }

        /// The whole catalogue, in the order of RULES.md, parley's own scenario rules first.
        pub static RULES: &[Rule] = &[
            $( Rule { id: RuleId::$name, code: $code, severity: Severity::$sev, section: $section, $($field: $value,)* ..Rule::BLANK }, )*
        ];
    };
}

pub use RuleId::*;

impl RuleId {
    /// The catalogue entry.
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }

    /// The id as written: `F-CMD-3`.
    pub fn as_str(self) -> &'static str {
        self.rule().code
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<RuleId> for &str {
    fn eq(&self, other: &RuleId) -> bool {
        *self == other.as_str()
    }
}

/// Looks a rule up by its written id, case-insensitively.
pub fn lookup(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code.eq_ignore_ascii_case(id))
}

use Check::{Behaviour, Bytes, Scenario};

catalogue! {
    // parley's own rules: what a step expected did not happen. Not RFC rules.
    S_EXPECT = "S-EXPECT", Error, "scenario" {
        summary: "What a step expects arrives within its deadline.",
        client: "Send what the step at the file:line shown expects at this point of the conversation (the expected line says what).",
        server: "Answer what the step at the file:line shown expects at this point of the conversation (the expected line says what).",
        check: Scenario,
    }
    S_CONNECT = "S-CONNECT", Error, "scenario" {
        summary: "A connection the scenario opens can be opened.",
        client: "Connect to the host and port your program was given on its command line.",
        server: "Listen (and accept) on the address the scenario connects to.",
        check: Scenario,
    }
    S_PROGRAM = "S-PROGRAM", Error, "scenario" {
        summary: "The program under test exits by itself, with the status and output the scenario expects.",
        client: "Print the result, close the connection and exit with status 0 once the exchange is done.",
        server: "Keep serving until you are stopped; exit with status 0 on SIGTERM.",
        check: Scenario,
    }
    S_IO = "S-IO", Error, "scenario" {
        summary: "A connection does not fail with a reset or write error mid-scenario.",
        client: "Do not reset the connection: read what the server sent before you close the socket.",
        server: "Do not reset the connection: read what the client sent before you close the socket.",
        check: Scenario,
    }
    S_LIMIT = "S-LIMIT", Error, "scenario" {
        summary: "A peer does not send more than a step can hold (16 MiB) without the message ending, and stops sending where it should close.",
        client: "Stop sending once the message is complete; frame it the way the protocol says.",
        server: "Stop sending once the message is complete; frame it the way the protocol says.",
        check: Scenario,
    }
    S_CLOSE = "S-CLOSE", Error, "scenario" {
        summary: "A side closes the connection when the scenario says it does, and not before.",
        client: "Close the connection at the point the protocol says, and not earlier.",
        server: "Close the connection at the point the protocol says, and not earlier.",
        check: Scenario,
    }
    S_SNAPSHOT = "S-SNAPSHOT", Error, "scenario" {
        summary: "The normalized conversation is the one stored in the snapshot (`--snapshot DIR`).",
        client: "Review the diff: accept it (`parley review DIR`) if the change is intended, else find what changed in the client.",
        server: "Review the diff: accept it (`parley review DIR`) if the change is intended, else find what changed in the server.",
        check: Scenario,
    }

    // Echo, RFC 862.
    ECHO_1 = "ECHO-1", Error, "RFC 862" {
        summary: "Every octet received is sent back unchanged and in order.",
        server: "Send back exactly the bytes you received, in the order received, without adding or dropping any.",
        check: Scenario,
    }
    ECHO_2 = "ECHO-2", Error, "RFC 862" {
        summary: "Nothing is lost past one read buffer: a 64 KiB message comes back whole.",
        server: "Loop: keep calling recv and sending what it returns until the client closes; one recv is not the whole message.",
        check: Scenario,
    }
    ECHO_3 = "ECHO-3", Error, "RFC 862" {
        summary: "The server keeps echoing until the client closes; it does not close first.",
        server: "Close the connection only when recv returns 0 (the client closed), not after the first message.",
        check: Scenario,
    }
    ECHO_4 = "ECHO-4", Error, "RFC 862" {
        summary: "Concurrent clients are served independently; one idle client blocks nobody.",
        server: "Serve each connection on its own thread or task (or with select/poll), so an idle client does not block the others.",
        check: Scenario,
    }

    // HTTP, RFC 1945 and RFC 2616.
    H_RL_1 = "H-RL-1", Error, "RFC 1945 §5.1" {
        summary: "Request-Line is `Method SP Request-URI SP HTTP-Version CRLF`.",
        client: "Send the request line as `METHOD /path HTTP/1.0` followed by \\r\\n.",
        check: Bytes,
    }
    H_RL_2 = "H-RL-2", Error, "RFC 1945 §5.1" {
        summary: "Exactly one SP between the three parts and none before CRLF; a trailing space breaks the version token.",
        client: "Put exactly one space between method, path and version, and none before \\r\\n.",
        check: Bytes,
    }
    H_RL_3 = "H-RL-3", Error, "RFC 1945 §5.1.1" {
        summary: "Method is a case-sensitive token: `GET`, not `get`.",
        client: "Write the method in upper case, exactly as the RFC spells it.",
        check: Bytes,
    }
    H_RL_4 = "H-RL-4", Error, "RFC 1945 §3.1" {
        summary: "Version is `HTTP/` DIGIT+ `.` DIGIT+.",
        client: "Write the version as `HTTP/1.0`.",
        check: Bytes,
    }
    H_RL_5 = "H-RL-5", Error, "RFC 1945 §5.1.2" {
        summary: "Request-URI is an abs_path to an origin server, absoluteURI only to a proxy.",
        client: "Send only the path (`/status/418`) in the request line; the host goes in the Host header.",
        check: Bytes,
    }
    H_RL_6 = "H-RL-6", Warning, "RFC 1945 §2.2, §4.1" {
        summary: "Lines end in CRLF; bare LF is tolerated by some servers only.",
        client: "End every line of the request, and the empty line after the headers, with \\r\\n, not just \\n.",
        server: "End every line of the response head, and the empty line after it, with \\r\\n, not just \\n.",
        check: Bytes,
    }
    H_RL_7 = "H-RL-7", Error, "RFC 1945 §4.1" {
        summary: "An HTTP/1.0 client never sends a Simple-Request (HTTP/0.9 form).",
        client: "Add the version to the request line: `GET /path HTTP/1.0`.",
        check: Bytes,
    }
    H_RL_8 = "H-RL-8", Warning, "RFC 9112 §3" {
        summary: "A server answers a request line it cannot parse (an extra word, no version) with 400 Bad Request.",
        server: "Answer a malformed request line with 400 Bad Request instead of guessing what was meant.",
        check: Scenario,
    }
    H_HD_1 = "H-HD-1", Error, "RFC 1945 §4.2" {
        summary: "A header is `field-name \":\" field-value CRLF`; field-name is a token, no space before the colon.",
        client: "Write each request header as `Name: value` with no space before the colon.",
        server: "Write each response header as `Name: value` with no space before the colon.",
        check: Bytes,
    }
    H_HD_2 = "H-HD-2", Note, "RFC 1945 §4.2" {
        summary: "Field names are case-insensitive; `HOST:` works but `Host:` is conventional.",
        client: "Spell header names the conventional way, e.g. `Host`, `Content-Type`.",
        server: "Spell header names the conventional way, e.g. `Content-Type`, `Content-Length`.",
        check: Bytes,
    }
    H_HD_3 = "H-HD-3", Error, "RFC 1945 §4.1" {
        summary: "The header section ends with one empty line, CRLF CRLF.",
        client: "End the request headers with an empty line: \\r\\n\\r\\n after the last header, and nothing after it but the body.",
        server: "End the response headers with an empty line: \\r\\n\\r\\n after the last header.",
        check: Bytes,
    }
    H_HD_4 = "H-HD-4", Note, "RFC 1945 §2.2, RFC 2616 §4.2" {
        summary: "Whitespace around a field value is not part of it.",
        client: "Write `Name: value` with one space after the colon and no whitespace after the value; receivers drop the padding.",
        server: "Write `Name: value` with one space after the colon and no whitespace after the value; receivers drop the padding.",
        check: Bytes,
    }
    H_HD_5 = "H-HD-5", Warning, "RFC 1945 §4.2" {
        summary: "Continuation lines (obsolete folding) are legal in 1.0 but rejected by modern peers.",
        client: "Put each header on one line.",
        server: "Put each header on one line.",
        check: Bytes,
    }
    H_HD_6 = "H-HD-6", Error, "RFC 1945 §4.2, RFC 2616 §4.4" {
        summary: "No CR, LF or NUL inside a field value; no two differing Content-Length headers.",
        client: "Send one Content-Length, and no control characters inside header values.",
        server: "Send one Content-Length, and no control characters inside header values.",
        check: Bytes,
    }
    H_HD_7 = "H-HD-7", Warning, "RFC 1945 §10" {
        summary: "Header names the client sends are spelled as registered (Content-Type, not ContentType).",
        client: "Use the registered spelling of the header name.",
        check: Bytes,
    }
    H_HOST_1 = "H-HOST-1", Warning, "RFC 2616 §14.23" {
        strict_severity: Some(Severity::Error),
        summary: "A request carries Host; HTTP/1.1 requires it, virtual hosts such as httpbin.org need it in 1.0 too.",
        client: "Send `Host: <server name>` in every request.",
        check: Bytes,
    }
    H_HOST_2 = "H-HOST-2", Warning, "RFC 2616 §14.23" {
        summary: "Host names the server actually contacted (host, and port when not 80).",
        client: "Put the host you connected to, and the port when it is not 80, in the Host header.",
        check: Bytes,
    }
    H_LEN_1 = "H-LEN-1", Error, "RFC 1945 §7.2.2, §8.3" {
        summary: "A 1.0 request with a body carries a valid Content-Length; POST always does.",
        client: "Send `Content-Length: <number of body bytes>` with every POST.",
        check: Bytes,
    }
    H_LEN_2 = "H-LEN-2", Error, "RFC 1945 §7.2.2" {
        summary: "Content-Length equals the number of body octets actually sent.",
        client: "Compute Content-Length from the encoded body bytes (len(body.encode())), not from the string.",
        server: "Compute Content-Length from the encoded body bytes, and send exactly that many octets.",
        check: Bytes,
    }
    H_LEN_3 = "H-LEN-3", Warning, "RFC 1945 §7.2.1" {
        summary: "A body comes with Content-Type.",
        client: "Send `Content-Type:` with every body, e.g. `application/json`.",
        server: "Send `Content-Type:` with every body, e.g. `text/html`.",
        check: Bytes,
    }
    H_LEN_4 = "H-LEN-4", Error, "RFC 8259" {
        summary: "A body labelled `application/json` is valid JSON.",
        client: "Serialise the body with a JSON library (json.dumps) instead of building the string by hand.",
        server: "Serialise the body with a JSON library instead of building the string by hand.",
        check: Bytes,
    }
    H_LEN_5 = "H-LEN-5", Error, "RFC 1945 §7.2.2" {
        summary: "A client reads a response until Content-Length octets or until the server closes; one read is not a response.",
        client: "Keep calling recv until you have Content-Length body bytes or recv returns 0.",
        check: Behaviour("graded with the response split into several writes: a client that stops after one read misses the rest"),
    }
    H_LEN_6 = "H-LEN-6", Error, "RFC 1945 §7.2, RFC 2616 §4.3" {
        summary: "No body on HEAD responses, 1xx, 204 and 304.",
        server: "Send headers only for HEAD, 1xx, 204 and 304.",
        check: Bytes,
    }
    H_LEN_7 = "H-LEN-7", Error, "RFC 2616 §3.6" {
        summary: "A server sends no chunked transfer-coding to an HTTP/1.0 client.",
        server: "Answer an HTTP/1.0 request with Content-Length or a close-delimited body, not chunked.",
        check: Bytes,
    }
    H_LEN_8 = "H-LEN-8", Error, "RFC 1945 §10.4, RFC 2616 §14.13" {
        summary: "Content-Length is one decimal number of octets: a negative, non-numeric, repeated-and-different or overflowing value is malformed.",
        client: "Write Content-Length as the decimal number of body octets, e.g. `Content-Length: 59`.",
        server: "Write Content-Length as the decimal number of body octets, e.g. `Content-Length: 59`.",
        check: Bytes,
    }
    H_LEN_9 = "H-LEN-9", Note, "RFC 1945 §7.2.2" {
        summary: "A 1.0 response without Content-Length ends its body by closing the connection: legal, but the client cannot tell a whole body from a cut one.",
        server: "Send Content-Length when the body's size is known, so a client can tell a whole body from a cut one.",
        check: Bytes,
    }
    H_SL_1 = "H-SL-1", Error, "RFC 1945 §6.1" {
        summary: "Status-Line is `HTTP-Version SP Status-Code SP Reason-Phrase CRLF`.",
        server: "Send the status line as `HTTP/1.0 200 OK` followed by \\r\\n.",
        check: Bytes,
    }
    H_SL_2 = "H-SL-2", Error, "RFC 1945 §6.1.1" {
        summary: "Status-Code is three digits, first digit 1-5; an unknown code is read as x00 of its class.",
        server: "Use a three-digit status code from 100 to 599.",
        check: Bytes,
    }
    H_SL_3 = "H-SL-3", Note, "RFC 2616 §3.1, §19.6" {
        summary: "A server may answer a 1.0 request with `HTTP/1.1` in its status line.",
        server: "Nothing to change: clients must accept either version.",
        check: Bytes,
    }
    H_SL_4 = "H-SL-4", Error, "RFC 1945 §6.1" {
        summary: "Reason-Phrase holds no CR or LF.",
        server: "Keep the reason phrase on the status line.",
        check: Bytes,
    }
    H_SL_5 = "H-SL-5", Error, "RFC 2616 §10.1" {
        summary: "No 1xx response to an HTTP/1.0 client.",
        server: "Do not send 100 Continue or other 1xx responses to HTTP/1.0 clients.",
        check: Bytes,
    }
    H_DATE_1 = "H-DATE-1", Warning, "RFC 2616 §14.18" {
        strict_severity: Some(Severity::Error),
        summary: "An origin server sends Date.",
        server: "Send `Date:` in the rfc1123 form with every response.",
        check: Bytes,
    }
    H_DATE_2 = "H-DATE-2", Error, "RFC 2616 §3.3.1" {
        summary: "Generated dates use the rfc1123 form `Sun, 06 Nov 1994 08:49:37 GMT`.",
        client: "Format dates as `%a, %d %b %Y %H:%M:%S GMT`.",
        server: "Format dates as `%a, %d %b %Y %H:%M:%S GMT`.",
        check: Bytes,
    }
    H_DATE_3 = "H-DATE-3", Error, "RFC 2616 §3.3.1" {
        summary: "HTTP dates are in GMT.",
        client: "Convert the time to GMT and write `GMT` as the zone.",
        server: "Convert the time to GMT and write `GMT` as the zone.",
        check: Bytes,
    }
    H_CONN_1 = "H-CONN-1", Error, "RFC 1945 §1.3" {
        summary: "In 1.0 without keep-alive, the server closes after the response.",
        server: "Close the connection after sending the response to an HTTP/1.0 request.",
        check: Behaviour("a `close: server` step waits for the server to close after the response; a response without Content-Length that never ends (the server keeps the connection open) is reported under it too"),
    }
    H_CONN_2 = "H-CONN-2", Error, "RFC 2616 §14.10" {
        summary: "After `Connection: close` the sender closes after this message.",
        server: "Close the connection after a response that says `Connection: close`.",
        check: Behaviour("after a response that says `Connection: close` (or an HTTP/1.1 request that asked for it), parley waits for the server to close; bytes or a connection kept open break it"),
    }
    H_CONN_3 = "H-CONN-3", Error, "RFC 2616 §14.10" {
        summary: "A client sends nothing more on a connection it declared `close`.",
        client: "Open a new connection for the next request after sending `Connection: close`.",
        check: Behaviour("parley as server, at a `close: client` step: bytes that look like a new request after one that said `Connection: close` (or an HTTP/1.0 request without keep-alive)"),
    }

    // FTP, RFC 959, RFC 1123 §4.1, RFC 2577, RFC 2428.
    F_RPL_1 = "F-RPL-1", Error, "RFC 959 §4.2" {
        summary: "A reply line is three digits, then SP (last line) or `-` (first line of a multi-line reply), text, CRLF.",
        server: "Send replies as `NNN text\\r\\n`, or `NNN-text` ... `NNN text` for several lines.",
        check: Bytes,
    }
    F_RPL_2 = "F-RPL-2", Error, "RFC 959 §4.2" {
        summary: "A multi-line reply ends at the first line that starts with the same code followed by SP; the reader must consume all of it.",
        client: "Read reply lines until one starts with the same three digits and a space.",
        server: "End a multi-line reply with a line that starts with the same code and a space: `211 End`.",
        check: Bytes,
    }
    F_RPL_3 = "F-RPL-3", Error, "RFC 959 §4.2.1" {
        summary: "First digit 1-5, second digit 0-5.",
        server: "Use reply codes whose first digit is 1-5 and second 0-5.",
        check: Bytes,
    }
    F_RPL_4 = "F-RPL-4", Error, "RFC 959 §5.4" {
        summary: "The code is one the command may receive.",
        server: "Answer each command with one of the codes RFC 959 §5.4 lists for it.",
        check: Bytes,
    }
    F_RPL_5 = "F-RPL-5", Warning, "RFC 959 §4.2" {
        summary: "Reply lines end in CRLF, not bare LF.",
        server: "End reply lines with \\r\\n.",
        check: Bytes,
    }
    F_CMD_1 = "F-CMD-1", Error, "RFC 959 §5.3" {
        summary: "A command is a keyword, SP and arguments where it takes them, then CRLF.",
        client: "Send commands as `KEYWORD argument\\r\\n`, with one space and \\r\\n at the end.",
        server: "Answer a command line that breaks the grammar (no CRLF, a missing argument, an overlong line) with 500 or 501.",
        check: Bytes,
    }
    F_CMD_2 = "F-CMD-2", Error, "RFC 959 §5.4" {
        summary: "The client waits for the final reply before its next command; it does not pipeline.",
        client: "Read the whole reply to each command before sending the next one.",
        check: Behaviour("graded with delayed replies: a command that arrives before parley's reply was sent is pipelined"),
    }
    F_CMD_3 = "F-CMD-3", Error, "RFC 959 §4.1.2" {
        summary: "PORT argument is six decimals 0-255, `h1,h2,h3,h4,p1,p2`, port = p1*256+p2, high byte first. Port 39851 is `155,171`.",
        client: "Send PORT h1,h2,h3,h4,p1,p2 with p1 = port // 256 and p2 = port % 256 (integer division).",
        server: "Answer a PORT whose argument is not six decimal numbers 0-255 with 501.",
        check: Bytes,
    }
    F_CMD_4 = "F-CMD-4", Error, "RFC 959 §4.1.2" {
        summary: "TYPE takes `A`, `E`, `I` or `L n`, with optional format for A/E.",
        client: "Send `TYPE I` for binary or `TYPE A` for ASCII.",
        server: "Answer a TYPE you do not know with 504 (or 501 for bad syntax), not 200.",
        check: Bytes,
    }
    F_SEQ_1 = "F-SEQ-1", Error, "RFC 959 §5.4" {
        summary: "The client waits for the 220 greeting (after any 120) before its first command.",
        client: "Read the server's 220 greeting before sending USER.",
        check: Behaviour("graded with a delayed greeting: a command before the 220 was sent is early"),
    }
    F_SEQ_2 = "F-SEQ-2", Error, "RFC 959 §4.1.1" {
        summary: "PASS follows a 331 reply to USER; elsewhere it earns 503.",
        client: "Send PASS only after USER was answered with 331.",
        server: "Answer PASS without a USER before it with 503.",
        check: Bytes,
    }
    F_SEQ_3 = "F-SEQ-3", Error, "RFC 959 §4.1.1" {
        summary: "LIST, NLST, RETR and STOR need a logged-in session; otherwise 530.",
        client: "Log in (USER, PASS) before transfer commands.",
        server: "Answer transfer commands before login with 530.",
        check: Bytes,
    }
    F_SEQ_4 = "F-SEQ-4", Error, "RFC 959 §3.2" {
        summary: "Each transfer is preceded by its own PORT or PASV.",
        client: "Send a fresh PORT or PASV before every LIST, NLST, RETR or STOR.",
        check: Bytes,
    }
    F_SEQ_5 = "F-SEQ-5", Error, "RFC 959 §4.1.1" {
        summary: "QUIT is answered with 221 and the server closes the control connection; the client reads 221 before it closes.",
        client: "After QUIT, read the 221 reply, then close.",
        server: "Answer QUIT with 221, then close the control connection.",
        check: Scenario,
    }
    F_DATA_1 = "F-DATA-1", Error, "RFC 959 §4.1.2" {
        summary: "The host and port that PORT announces are where the client is actually listening.",
        client: "Announce in PORT the address and port your data socket is bound to (getsockname()).",
        check: Behaviour("parley connects to the announced address; on Linux it also reads the program's listening ports from /proc"),
    }
    F_DATA_2 = "F-DATA-2", Error, "RFC 959 §3.2" {
        summary: "The client listens before it sends the transfer command; a server may connect at once.",
        client: "Call listen() on the data socket before sending LIST/RETR.",
        check: Behaviour("parley connects as soon as the transfer command arrives and retries within a short grace window"),
    }
    F_DATA_3 = "F-DATA-3", Error, "RFC 959 §3.4" {
        summary: "The client reads the data connection until the server closes it (stream mode end of file); one read is not a listing.",
        client: "Keep reading the data connection until recv returns 0.",
        check: Behaviour("graded with a listing larger than 64 KiB"),
    }
    F_DATA_4 = "F-DATA-4", Error, "RFC 959 §5.4" {
        summary: "After 125/150 the client reads the closing 226/250 (or 425/426/451) before its next command.",
        client: "After the data transfer, read the 226 reply before sending the next command.",
        check: Behaviour("graded with a delayed 226: a command that arrives before it was sent is early"),
    }
    F_DATA_5 = "F-DATA-5", Error, "RFC 959 §5.4" {
        summary: "A data connection that cannot be opened gives 425, never 226.",
        server: "Reply 425 when the data connection cannot be opened, and 226 only after the data was sent and the connection closed.",
        check: Bytes,
    }
    F_DATA_6 = "F-DATA-6", Error, "RFC 1123 §4.1.2.6" {
        summary: "227 carries `h1,h2,h3,h4,p1,p2`; a client finds the six numbers anywhere in the text.",
        client: "Search the whole 227 text for the six numbers; do not rely on the parentheses.",
        server: "Put the six numbers h1,h2,h3,h4,p1,p2 (each 0-255) in the 227 text.",
        check: Bytes,
    }
    F_DATA_7 = "F-DATA-7", Warning, "RFC 959 §3.1.1.1" {
        summary: "A listing sent in ASCII type ends its lines in CRLF.",
        server: "Send listing lines ending in \\r\\n in ASCII type.",
        check: Bytes,
    }
    F_TYPE_1 = "F-TYPE-1", Note, "RFC 959 §3.1.1" {
        summary: "The default type is ASCII non-print; `TYPE I` answers 200.",
        client: "Send `TYPE I` before binary transfers.",
        server: "Answer `TYPE I` with 200.",
        check: Bytes,
    }
    F_TYPE_2 = "F-TYPE-2", Warning, "RFC 959 §3.1.1.1" {
        summary: "A file sent in ASCII type travels with its line ends as CRLF (the NVT form).",
        server: "Convert line ends to \\r\\n when sending a file in ASCII type (vsftpd: ascii_download_enable=YES).",
        check: Scenario,
    }
    F_1123_1 = "F-1123-1", Error, "RFC 1123 §4.1.2.6" {
        summary: "A server implements PASV.",
        server: "Implement PASV: answer 227 with the address of a listening data socket.",
        check: Scenario,
    }
    F_1123_2 = "F-1123-2", Error, "RFC 1123 §4.1.2.10" {
        summary: "Reads on the control connection do not line up with replies: never assume one read = one reply.",
        client: "Buffer what recv returns and split it into lines; a reply can arrive in pieces or several at once.",
        check: Behaviour("graded with replies written a byte at a time and with several replies in one write"),
    }
    F_1123_3 = "F-1123-3", Warning, "RFC 1123 §4.1.2.11" {
        summary: "A client decides on the first digit of a code and does not parse reply text.",
        client: "Branch on the reply code's first digit, not on the reply text.",
        check: Behaviour("graded with unusual reply texts (the `odd-texts` variant): a client that parses the text fails where one that reads codes passes"),
    }
    F_1123_4 = "F-1123-4", Error, "RFC 1123 §4.1.2.13" {
        summary: "A server offers the minimum command set.",
        server: "Implement USER, PASS, TYPE, MODE, STRU, PORT, PASV, RETR, STOR, NOOP, QUIT and the rest of the minimum set (not 500/502).",
        check: Bytes,
    }
    F_SEC_1 = "F-SEC-1", Error, "RFC 2577 §3" {
        summary: "A server refuses PORT to a host other than the client's own (bounce attack; reply 504 or 501).",
        server: "Reject PORT addresses that differ from the control connection's peer, and never connect there.",
        check: Behaviour("parley announces another loopback address it listens on; the rule fails only if the server connects there"),
    }
    F_SEC_2 = "F-SEC-2", Warning, "RFC 2577 §3" {
        summary: "A server refuses PORT to a privileged port below 1024.",
        server: "Reject PORT to ports below 1024.",
        check: Behaviour("parley announces a port below 1024 where it can listen (as root), or checks the reply where it cannot"),
    }
    F_SEC_3 = "F-SEC-3", Warning, "RFC 2577 §5" {
        summary: "A server limits failed logins and closes the connection after a few.",
        server: "Close the connection (421) after a few failed logins.",
        check: Scenario,
    }
    F_SEC_4 = "F-SEC-4", Warning, "RFC 2577 §7" {
        summary: "USER answers alike for known and unknown names, so names cannot be probed.",
        server: "Answer 331 to every USER, known or not, and refuse at PASS.",
        check: Bytes,
    }
    F_SEC_5 = "F-SEC-5", Note, "RFC 2577 §8" {
        summary: "PASV ports are not predictable.",
        server: "Let the kernel choose PASV ports, or pick them at random.",
        check: Bytes,
    }
    F_SEC_6 = "F-SEC-6", Error, "RFC 959 §4.1.1" {
        summary: "Paths stay inside the served root; `..` and absolute paths cannot escape it.",
        server: "Resolve paths against the root and refuse any that leave it (vsftpd: chroot).",
        check: Scenario,
    }
    F_SEC_7 = "F-SEC-7", Error, "RFC 2577 §3" {
        summary: "A client's PORT/EPRT names the host its control connection comes from, and a port of 1024 or above: a grader never connects elsewhere.",
        client: "Announce in PORT the address of your own control connection (getsockname() of it) and a data port of 1024 or above.",
        check: Bytes,
    }
    F_SEC_8 = "F-SEC-8", Warning, "RFC 2577 §3" {
        summary: "A server's 227/229 names the address of its own control connection; clients (curl, ftplib) dial the control host instead of another one.",
        server: "Announce in 227 the address the client reached you at.",
        check: Bytes,
    }
    F_2428_1 = "F-2428-1", Error, "RFC 2428 §2" {
        summary: "EPRT's argument is `<d>proto<d>addr<d>port<d>` with proto 1 (IPv4) or 2 (IPv6).",
        client: "Send EPRT |1|127.0.0.1|PORT| (1 for IPv4, 2 for IPv6).",
        server: "Answer an EPRT whose argument is malformed with 501, or an unknown protocol with 522.",
        check: Bytes,
    }
    F_2428_2 = "F-2428-2", Error, "RFC 2428 §3" {
        summary: "EPSV is answered `229 ... (<d><d><d>port<d>)`; a server with PASV should offer EPSV too.",
        server: "Answer EPSV with `229 Entering Extended Passive Mode (|||port|)`.",
        check: Bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn rule_ids_are_unique_and_index_the_catalogue() {
        let mut seen = HashSet::new();
        for (i, rule) in RULES.iter().enumerate() {
            assert!(seen.insert(rule.code), "duplicate id {}", rule.code);
            assert_eq!(rule.id as usize, i, "{} is out of place", rule.code);
            assert!(
                !rule.summary.is_empty() && !rule.section.is_empty(),
                "{}",
                rule.code
            );
            assert!(
                !(rule.client.is_empty() && rule.server.is_empty()),
                "{} tells nobody what to change",
                rule.code
            );
        }
    }

    /// The catalogue floor, `../shared/RULES.md` beside the project, checked in as
    /// `rules_floor.md` so that any clone can test against it.
    const FLOOR: &str = include_str!("rules_floor.md");

    /// Where the shared floor sits beside the checkout, the checked-in copy is that file.
    #[test]
    fn the_checked_in_floor_is_the_shared_rules_md_where_that_is_present() {
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/RULES.md");
        if let Ok(text) = std::fs::read_to_string(&shared) {
            assert!(
                text == FLOOR,
                "{} changed: copy it to harness/src/rules_floor.md and bring the catalogue up to it",
                shared.display()
            );
        }
    }

    /// The catalogue is a superset of the floor (`rules_floor.md`, a copy of
    /// `../shared/RULES.md`): every id there, with its section and severity.
    #[test]
    fn every_rule_of_rules_md_is_in_the_catalogue_with_its_section_and_severity() {
        let text = FLOOR;
        let mut rows = 0;
        for line in text.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 5 || !cells[1].contains('-') || cells[1] == "id" || cells[1].starts_with("--") {
                continue;
            }
            let (id, sev, text) = (cells[1], cells[2], cells[3]);
            let rule = lookup(id).unwrap_or_else(|| panic!("{id} of RULES.md is missing from the catalogue"));
            rows += 1;
            // `error (strict11) / warning (http10)` names both profiles.
            let want_default = if sev.contains("http10") {
                sev.split('/')
                    .find(|p| p.contains("http10"))
                    .map(|p| p.split_whitespace().next().unwrap_or(""))
                    .unwrap_or("")
                    .to_string()
            } else {
                sev.to_string()
            };
            assert_eq!(rule.severity.as_str(), want_default, "{id}: severity");
            if sev.contains("strict11") {
                let strict = sev
                    .split('/')
                    .find(|p| p.contains("strict11"))
                    .and_then(|p| p.split_whitespace().next())
                    .unwrap_or("");
                assert_eq!(
                    rule.severity_in(Profile::Strict11).as_str(),
                    strict,
                    "{id}: strict11 severity"
                );
            }
            // The section RULES.md gives in parentheses (or the RFC of its heading) is
            // the section the catalogue names.
            if let Some(open) = text.rfind('(') {
                let inside = &text[open + 1..text.rfind(')').unwrap_or(text.len())];
                for part in inside.split(';') {
                    if let Some(sec) = part.split_whitespace().find(|w| w.starts_with('§')) {
                        let sec = sec.trim_end_matches([',', '.', ':']);
                        assert!(
                            rule.section.contains(sec),
                            "{id}: section {} lacks {sec} ({inside})",
                            rule.section
                        );
                    }
                }
            }
        }
        assert!(rows >= 76, "only {rows} rules read from rules_floor.md");
    }

    #[test]
    fn host_and_date_rules_are_errors_only_under_strict11() {
        for id in [H_HOST_1, H_DATE_1] {
            let rule = id.rule();
            assert_eq!(rule.severity_in(Profile::Http10), Severity::Warning);
            assert_eq!(rule.severity_in(Profile::Strict11), Severity::Error);
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup("echo-2").unwrap().id, ECHO_2);
        assert!(lookup("ECHO-9").is_none());
    }

    #[test]
    fn fixes_are_told_to_the_party_that_sent_the_bytes() {
        use crate::outcome::Party as P;
        assert!(H_HD_4.rule().fix_for(P::Client).contains("Write `Name: value`"));
        assert_eq!(ECHO_1.rule().party(), Party::Server);
        assert!(!ECHO_1.rule().applies_to(P::Client));
        assert_eq!(F_DATA_4.rule().party(), Party::Client);
        assert!(F_CMD_3.rule().fix_for(P::Server).contains("501"));
        assert!(F_CMD_3.rule().fix_for(P::Client).contains("//"));
        // A rule with one party's fix still tells the other something.
        assert_eq!(F_RPL_4.rule().fix_for(P::Client), F_RPL_4.rule().server);
    }

    /// Non-test source of the crate, and every bundled scenario file.
    fn sources() -> (String, String) {
        fn walk(dir: &std::path::Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, ext, out);
                } else if p.extension().is_some_and(|x| x == ext) {
                    out.push(p);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        walk(&root.join("src"), "rs", &mut files);
        let mut code = String::new();
        for f in files {
            if f.ends_with("rules.rs") || f.ends_with("tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            let cut = text.find("#[cfg(test)]\nmod tests {").unwrap_or(text.len());
            code.push_str(&text[..cut]);
        }
        let mut yamls = Vec::new();
        walk(&root.join("../scenarios"), "yaml", &mut yamls);
        let scenarios = yamls
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        (code, scenarios)
    }

    /// Every rule is emitted by code or named by a bundled scenario (`rule: ID`, or a
    /// `rule_points` key), unless it is listed in [`NOT_CHECKED_YET`] — and a listed rule
    /// really has no check.
    #[test]
    fn every_rule_is_checked_or_said_not_to_be() {
        let (code, scenarios) = sources();
        let emitted = |r: &Rule| {
            let name = format!("rules::{}", r.code.replace('-', "_"));
            code.match_indices(&name).any(|(i, _)| {
                !code[i + name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            })
        };
        let named = |r: &Rule| {
            let re = regex::Regex::new(&format!(
                r"(?m)(rule:\s*{0}\s*$|^\s+{0}:\s*\d)",
                regex::escape(r.code)
            ))
            .unwrap();
            re.is_match(&scenarios)
        };
        let mut unchecked = Vec::new();
        for r in RULES {
            let checked = emitted(r) || named(r);
            if r.is_checked() {
                if !checked {
                    unchecked.push(r.code);
                }
            } else {
                assert!(
                    !checked,
                    "{} has a check now: remove it from NOT_CHECKED_YET",
                    r.code
                );
            }
        }
        assert!(
            unchecked.is_empty(),
            "no code emits and no scenario names: {unchecked:?}; check them or list them in NOT_CHECKED_YET"
        );
    }

    #[test]
    fn typed_ids_compare_with_their_written_form() {
        assert!(F_CMD_3 == "F-CMD-3");
        assert_eq!(F_CMD_3.to_string(), "F-CMD-3");
        assert_eq!(serde_json::to_string(&F_CMD_3).unwrap(), "\"F-CMD-3\"");
    }
}
