//! The rule catalogue: every check parley makes, under a stable id (`../shared/RULES.md`).
//!
//! A rule is data: id, severity (per HTTP profile where the RFCs differ), the RFC section,
//! the rule in one sentence, what to change in one sentence, and how parley checks it.
//! `parley explain ID` prints an entry; findings carry the id, severity and section.
//! Ids never change meaning and retired ids are not reused.

use std::fmt;

use serde::Serialize;

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

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, e.g. `ECHO-2`.
    pub id: &'static str,
    /// Severity under the default profile.
    pub severity: Severity,
    /// Severity under `strict11`, where it differs.
    pub strict_severity: Option<Severity>,
    /// The RFC and section, e.g. `RFC 1945 §5.1`.
    pub section: &'static str,
    /// The rule in one sentence.
    pub summary: &'static str,
    /// What to change, in one sentence a student can act on.
    pub advice: &'static str,
    /// How parley checks it.
    pub check: Check,
}

impl Rule {
    /// Severity under `profile`.
    pub fn severity_in(&self, profile: Profile) -> Severity {
        match profile {
            Profile::Strict11 => self.strict_severity.unwrap_or(self.severity),
            Profile::Http10 => self.severity,
        }
    }

    /// The protocol family the id belongs to.
    pub fn family(&self) -> &'static str {
        match self.id.split('-').next().unwrap_or("") {
            "ECHO" => "echo",
            "H" => "http",
            "F" => "ftp",
            _ => "scenario",
        }
    }
}

/// Looks a rule up by id, case-insensitively.
pub fn lookup(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}

/// Looks up a rule that the code names; panics in tests if the id is not in the catalogue.
pub fn rule(id: &'static str) -> &'static Rule {
    match lookup(id) {
        Some(rule) => rule,
        None => {
            debug_assert!(false, "rule {id} is not in the catalogue");
            &RULES[0]
        }
    }
}

const fn r(
    id: &'static str,
    severity: Severity,
    section: &'static str,
    summary: &'static str,
    advice: &'static str,
    check: Check,
) -> Rule {
    Rule {
        id,
        severity,
        strict_severity: None,
        section,
        summary,
        advice,
        check,
    }
}

const fn strict(mut rule: Rule, severity: Severity) -> Rule {
    rule.strict_severity = Some(severity);
    rule
}

use Check::{Behaviour, Bytes, Scenario};
use Severity::{Error, Note, Warning};

/// The whole catalogue, in the order of RULES.md, then parley's own scenario rules.
pub static RULES: &[Rule] = &[
    // Scenario rules: what a step expected did not happen. Not RFC rules.
    r(
        "S-EXPECT",
        Error,
        "scenario",
        "What a step expects arrives within its deadline.",
        "Compare the expected and actual bytes below; the step's file:line says which exchange it is.",
        Scenario,
    ),
    r(
        "S-CONNECT",
        Error,
        "scenario",
        "A connection the scenario opens can be opened.",
        "Check the address: a client connects to the host and port it was given; a server listens where it said it would.",
        Scenario,
    ),
    r(
        "S-PROGRAM",
        Error,
        "scenario",
        "The program under test exits by itself, with the status and output the scenario expects.",
        "Print the result, close the connection and exit (status 0) once the exchange is done.",
        Scenario,
    ),
    r(
        "S-IO",
        Error,
        "scenario",
        "A connection does not fail with a reset or write error mid-scenario.",
        "The peer reset the connection; look at what it received last.",
        Scenario,
    ),
    r(
        "S-LIMIT",
        Error,
        "scenario",
        "A peer does not send more than parley buffers for one connection (16 MiB).",
        "The peer kept sending without the expected end; check its framing.",
        Scenario,
    ),
    r(
        "S-CLOSE",
        Error,
        "scenario",
        "A side closes the connection when the scenario says it does, and not before.",
        "Close the connection at the point the protocol says, and not earlier.",
        Scenario,
    ),
    // Echo, RFC 862.
    r(
        "ECHO-1",
        Error,
        "RFC 862",
        "Every octet received is sent back unchanged and in order.",
        "Send back exactly the bytes you received, in the order received, without adding or dropping any.",
        Scenario,
    ),
    r(
        "ECHO-2",
        Error,
        "RFC 862",
        "Nothing is lost past one read buffer: a 64 KiB message comes back whole.",
        "Loop: keep calling recv and sending what it returns until the client closes; one recv is not the whole message.",
        Scenario,
    ),
    r(
        "ECHO-3",
        Error,
        "RFC 862",
        "The server keeps echoing until the client closes; it does not close first.",
        "Close the connection only when recv returns 0 (the client closed), not after the first message.",
        Scenario,
    ),
    r(
        "ECHO-4",
        Error,
        "RFC 862",
        "Concurrent clients are served independently; one idle client blocks nobody.",
        "Serve each connection on its own thread or task (or with select/poll), so an idle client does not block the others.",
        Scenario,
    ),
    // HTTP, RFC 1945 and RFC 2616.
    r(
        "H-RL-1",
        Error,
        "RFC 1945 §5.1",
        "Request-Line is `Method SP Request-URI SP HTTP-Version CRLF`.",
        "Send the request line as `METHOD /path HTTP/1.0` followed by \\r\\n.",
        Bytes,
    ),
    r(
        "H-RL-2",
        Error,
        "RFC 1945 §5.1",
        "Exactly one SP between the three parts and none before CRLF; a trailing space breaks the version token.",
        "Put exactly one space between method, path and version, and none before \\r\\n.",
        Bytes,
    ),
    r(
        "H-RL-3",
        Error,
        "RFC 1945 §5.1.1",
        "Method is a case-sensitive token: `GET`, not `get`.",
        "Write the method in upper case, exactly as the RFC spells it.",
        Bytes,
    ),
    r(
        "H-RL-4",
        Error,
        "RFC 1945 §3.1",
        "Version is `HTTP/` DIGIT+ `.` DIGIT+.",
        "Write the version as `HTTP/1.0`.",
        Bytes,
    ),
    r(
        "H-RL-5",
        Error,
        "RFC 1945 §5.1.2",
        "Request-URI is an abs_path to an origin server, absoluteURI only to a proxy.",
        "Send only the path (`/status/418`) in the request line; the host goes in the Host header.",
        Bytes,
    ),
    r(
        "H-RL-6",
        Warning,
        "RFC 1945 §2.2, §4.1",
        "Lines end in CRLF; bare LF is tolerated by some servers only.",
        "End every line with \\r\\n, not just \\n.",
        Bytes,
    ),
    r(
        "H-RL-7",
        Error,
        "RFC 1945 §4.1",
        "An HTTP/1.0 client never sends a Simple-Request (HTTP/0.9 form).",
        "Add the version to the request line: `GET /path HTTP/1.0`.",
        Bytes,
    ),
    r(
        "H-HD-1",
        Error,
        "RFC 1945 §4.2",
        "A header is `field-name \":\" field-value CRLF`; field-name is a token, no space before the colon.",
        "Write headers as `Name: value` with no space before the colon.",
        Bytes,
    ),
    r(
        "H-HD-2",
        Note,
        "RFC 1945 §4.2",
        "Field names are case-insensitive; `HOST:` works but `Host:` is conventional.",
        "Spell header names the conventional way, e.g. `Host`, `Content-Type`.",
        Bytes,
    ),
    r(
        "H-HD-3",
        Error,
        "RFC 1945 §4.1",
        "The header section ends with one empty line, CRLF CRLF.",
        "End the headers with an empty line: \\r\\n\\r\\n after the last header.",
        Bytes,
    ),
    r(
        "H-HD-4",
        Note,
        "RFC 1945 §2.2, RFC 2616 §4.2",
        "Whitespace around a field value is not part of it.",
        "Trim the whitespace around header values when you read them.",
        Bytes,
    ),
    r(
        "H-HD-5",
        Warning,
        "RFC 1945 §4.2",
        "Continuation lines (obsolete folding) are legal in 1.0 but rejected by modern peers.",
        "Put each header on one line.",
        Bytes,
    ),
    r(
        "H-HD-6",
        Error,
        "RFC 1945 §4.2, RFC 2616 §4.4",
        "No CR, LF or NUL inside a field value; no two differing Content-Length headers.",
        "Send one Content-Length, and no control characters inside header values.",
        Bytes,
    ),
    r(
        "H-HD-7",
        Warning,
        "RFC 1945 §10",
        "Header names the client sends are spelled as registered (Content-Type, not ContentType).",
        "Use the registered spelling of the header name.",
        Bytes,
    ),
    strict(
        r(
            "H-HOST-1",
            Warning,
            "RFC 2616 §14.23",
            "A request carries Host; HTTP/1.1 requires it, virtual hosts such as httpbin.org need it in 1.0 too.",
            "Send `Host: <server name>` in every request.",
            Bytes,
        ),
        Error,
    ),
    r(
        "H-HOST-2",
        Warning,
        "RFC 2616 §14.23",
        "Host names the server actually contacted (host, and port when not 80).",
        "Put the host you connected to, and the port when it is not 80, in the Host header.",
        Bytes,
    ),
    r(
        "H-LEN-1",
        Error,
        "RFC 1945 §7.2.2, §8.3",
        "A 1.0 request with a body carries a valid Content-Length; POST always does.",
        "Send `Content-Length: <number of body bytes>` with every POST.",
        Bytes,
    ),
    r(
        "H-LEN-2",
        Error,
        "RFC 1945 §7.2.2",
        "Content-Length equals the number of body octets actually sent.",
        "Compute Content-Length from the encoded body bytes (len(body.encode())), not from the string.",
        Bytes,
    ),
    r(
        "H-LEN-3",
        Warning,
        "RFC 1945 §7.2.1",
        "A body comes with Content-Type.",
        "Send `Content-Type:` with every body, e.g. `application/json`.",
        Bytes,
    ),
    r(
        "H-LEN-4",
        Error,
        "RFC 8259",
        "A body labelled `application/json` is valid JSON.",
        "Serialise the body with a JSON library (json.dumps) instead of building the string by hand.",
        Bytes,
    ),
    r(
        "H-LEN-5",
        Error,
        "RFC 1945 §7.2.2",
        "A client reads a response until Content-Length octets or until the server closes; one read is not a response.",
        "Keep calling recv until you have Content-Length body bytes or recv returns 0.",
        Behaviour(
            "graded with the response split into several writes: a client that stops after one read misses the rest",
        ),
    ),
    r(
        "H-LEN-6",
        Error,
        "RFC 1945 §7.2, RFC 2616 §4.3",
        "No body on HEAD responses, 1xx, 204 and 304.",
        "Send headers only for HEAD, 1xx, 204 and 304.",
        Bytes,
    ),
    r(
        "H-LEN-7",
        Error,
        "RFC 2616 §3.6",
        "A server sends no chunked transfer-coding to an HTTP/1.0 client.",
        "Answer an HTTP/1.0 request with Content-Length or a close-delimited body, not chunked.",
        Bytes,
    ),
    r(
        "H-SL-1",
        Error,
        "RFC 1945 §6.1",
        "Status-Line is `HTTP-Version SP Status-Code SP Reason-Phrase CRLF`.",
        "Send the status line as `HTTP/1.0 200 OK` followed by \\r\\n.",
        Bytes,
    ),
    r(
        "H-SL-2",
        Error,
        "RFC 1945 §6.1.1",
        "Status-Code is three digits, first digit 1-5; an unknown code is read as x00 of its class.",
        "Use a three-digit status code from 100 to 599.",
        Bytes,
    ),
    r(
        "H-SL-3",
        Note,
        "RFC 2616 §3.1, §19.6",
        "A server may answer a 1.0 request with `HTTP/1.1` in its status line.",
        "Nothing to change: clients must accept either version.",
        Bytes,
    ),
    r(
        "H-SL-4",
        Error,
        "RFC 1945 §6.1",
        "Reason-Phrase holds no CR or LF.",
        "Keep the reason phrase on the status line.",
        Bytes,
    ),
    r(
        "H-SL-5",
        Error,
        "RFC 2616 §10.1",
        "No 1xx response to an HTTP/1.0 client.",
        "Do not send 100 Continue or other 1xx responses to HTTP/1.0 clients.",
        Bytes,
    ),
    strict(
        r(
            "H-DATE-1",
            Warning,
            "RFC 2616 §14.18",
            "An origin server sends Date.",
            "Send `Date:` in the rfc1123 form with every response.",
            Bytes,
        ),
        Error,
    ),
    r(
        "H-DATE-2",
        Error,
        "RFC 2616 §3.3.1",
        "Generated dates use the rfc1123 form `Sun, 06 Nov 1994 08:49:37 GMT`.",
        "Format dates as `%a, %d %b %Y %H:%M:%S GMT`.",
        Bytes,
    ),
    r(
        "H-DATE-3",
        Error,
        "RFC 2616 §3.3.1",
        "HTTP dates are in GMT.",
        "Convert the time to GMT and write `GMT` as the zone.",
        Bytes,
    ),
    r(
        "H-CONN-1",
        Error,
        "RFC 1945 §1.3",
        "In 1.0 without keep-alive, the server closes after the response.",
        "Close the connection after sending the response to an HTTP/1.0 request.",
        Behaviour(
            "a `close: server` step waits for the server to close after the response; a response without \
             Content-Length that never ends (the server keeps the connection open) is reported under it too",
        ),
    ),
    r(
        "H-CONN-2",
        Error,
        "RFC 2616 §14.10",
        "After `Connection: close` the sender closes after this message.",
        "Close the connection after a message that says `Connection: close`.",
        Scenario,
    ),
    r(
        "H-CONN-3",
        Error,
        "RFC 2616 §14.10",
        "A client sends nothing more on a connection it declared `close`.",
        "Open a new connection for the next request after sending `Connection: close`.",
        Behaviour(
            "parley as server, at a `close: client` step: bytes that look like a new request after one that said \
             `Connection: close` (or an HTTP/1.0 request without keep-alive)",
        ),
    ),
    // FTP, RFC 959, RFC 1123 §4.1, RFC 2577.
    r(
        "F-RPL-1",
        Error,
        "RFC 959 §4.2",
        "A reply line is three digits, then SP (last line) or `-` (first line of a multi-line reply), text, CRLF.",
        "Send replies as `NNN text\\r\\n`, or `NNN-text` ... `NNN text` for several lines.",
        Bytes,
    ),
    r(
        "F-RPL-2",
        Error,
        "RFC 959 §4.2",
        "A multi-line reply ends at the first line that starts with the same code followed by SP; the reader must consume all of it.",
        "Read reply lines until one starts with the same three digits and a space.",
        Bytes,
    ),
    r(
        "F-RPL-3",
        Error,
        "RFC 959 §4.2.1",
        "First digit 1-5, second digit 0-5.",
        "Use reply codes whose first digit is 1-5 and second 0-5.",
        Bytes,
    ),
    r(
        "F-RPL-4",
        Error,
        "RFC 959 §5.4",
        "The code is one the command may receive.",
        "Answer each command with one of the codes RFC 959 §5.4 lists for it.",
        Bytes,
    ),
    r(
        "F-RPL-5",
        Warning,
        "RFC 959 §4.2",
        "Reply lines end in CRLF, not bare LF.",
        "End reply lines with \\r\\n.",
        Bytes,
    ),
    r(
        "F-CMD-1",
        Error,
        "RFC 959 §5.3",
        "A command is a keyword, SP and arguments where it takes them, then CRLF.",
        "Send commands as `KEYWORD argument\\r\\n`, with one space and \\r\\n at the end.",
        Bytes,
    ),
    r(
        "F-CMD-2",
        Error,
        "RFC 959 §5.4",
        "The client waits for the final reply before its next command; it does not pipeline.",
        "Read the whole reply to each command before sending the next one.",
        Behaviour(
            "graded with delayed replies: a command that arrives before parley's reply was sent is pipelined",
        ),
    ),
    r(
        "F-CMD-3",
        Error,
        "RFC 959 §4.1.2",
        "PORT argument is six decimals 0-255, `h1,h2,h3,h4,p1,p2`, port = p1*256+p2, high byte first. Port 39851 is `155,171`.",
        "Send PORT h1,h2,h3,h4,p1,p2 with p1 = port // 256 and p2 = port % 256.",
        Bytes,
    ),
    r(
        "F-CMD-4",
        Error,
        "RFC 959 §4.1.2",
        "TYPE takes `A`, `E`, `I` or `L n`, with optional format for A/E.",
        "Send `TYPE I` for binary or `TYPE A` for ASCII.",
        Bytes,
    ),
    r(
        "F-SEQ-1",
        Error,
        "RFC 959 §5.4",
        "The client waits for the 220 greeting (after any 120) before its first command.",
        "Read the server's 220 greeting before sending USER.",
        Behaviour("graded with a delayed greeting: a command before the 220 was sent is early"),
    ),
    r(
        "F-SEQ-2",
        Error,
        "RFC 959 §4.1.1",
        "PASS follows a 331 reply to USER; elsewhere it earns 503.",
        "Send PASS only after USER was answered with 331.",
        Bytes,
    ),
    r(
        "F-SEQ-3",
        Error,
        "RFC 959 §4.1.1",
        "LIST, NLST, RETR and STOR need a logged-in session; otherwise 530.",
        "Log in (USER, PASS) before transfer commands.",
        Bytes,
    ),
    r(
        "F-SEQ-4",
        Error,
        "RFC 959 §3.2",
        "Each transfer is preceded by its own PORT or PASV.",
        "Send a fresh PORT or PASV before every LIST, NLST, RETR or STOR.",
        Bytes,
    ),
    r(
        "F-SEQ-5",
        Error,
        "RFC 959 §4.1.1",
        "QUIT is answered with 221 and the server closes the control connection; the client reads 221 before it closes.",
        "After QUIT, read the 221 reply, then close.",
        Scenario,
    ),
    r(
        "F-DATA-1",
        Error,
        "RFC 959 §4.1.2",
        "The host and port that PORT announces are where the client is actually listening.",
        "Announce in PORT the address and port your data socket is bound to (getsockname()).",
        Behaviour(
            "parley connects to the announced address; on Linux it also reads the program's listening ports from /proc",
        ),
    ),
    r(
        "F-DATA-2",
        Error,
        "RFC 959 §3.2",
        "The client listens before it sends the transfer command; a server may connect at once.",
        "Call listen() on the data socket before sending LIST/RETR.",
        Behaviour(
            "parley connects as soon as the transfer command arrives and retries within a short grace window",
        ),
    ),
    r(
        "F-DATA-3",
        Error,
        "RFC 959 §3.4",
        "The client reads the data connection until the server closes it (stream mode end of file); one read is not a listing.",
        "Keep reading the data connection until recv returns 0.",
        Behaviour("graded with a listing larger than 64 KiB"),
    ),
    r(
        "F-DATA-4",
        Error,
        "RFC 959 §5.4",
        "After 125/150 the client reads the closing 226/250 (or 425/426/451) before its next command.",
        "After the data transfer, read the 226 reply before sending the next command.",
        Behaviour("graded with a delayed 226: a command that arrives before it was sent is early"),
    ),
    r(
        "F-DATA-5",
        Error,
        "RFC 959 §5.4",
        "A data connection that cannot be opened gives 425, never 226.",
        "Reply 425 when the data connection cannot be opened.",
        Scenario,
    ),
    r(
        "F-DATA-6",
        Error,
        "RFC 1123 §4.1.2.6",
        "227 carries `h1,h2,h3,h4,p1,p2`; a client finds the six numbers anywhere in the text.",
        "Put the six numbers in the 227 text; as a client, search the whole text for them.",
        Bytes,
    ),
    r(
        "F-DATA-7",
        Warning,
        "RFC 959 §3.1.1.1",
        "A listing sent in ASCII type ends its lines in CRLF.",
        "Send listing lines ending in \\r\\n in ASCII type.",
        Bytes,
    ),
    r(
        "F-TYPE-1",
        Note,
        "RFC 959 §3.1.1",
        "The default type is ASCII non-print; `TYPE I` answers 200.",
        "Send `TYPE I` before binary transfers.",
        Bytes,
    ),
    r(
        "F-1123-1",
        Error,
        "RFC 1123 §4.1.2.6",
        "A server implements PASV.",
        "Implement PASV.",
        Scenario,
    ),
    r(
        "F-1123-2",
        Error,
        "RFC 1123 §4.1.2.10",
        "Reads on the control connection do not line up with replies: never assume one read = one reply.",
        "Buffer what recv returns and split it into lines; a reply can arrive in pieces or several at once.",
        Behaviour("graded with replies written a byte at a time and with several replies in one write"),
    ),
    r(
        "F-1123-3",
        Warning,
        "RFC 1123 §4.1.2.11",
        "A client decides on the first digit of a code and does not parse reply text.",
        "Branch on the reply code's first digit, not on the reply text.",
        Behaviour("graded with unusual reply texts"),
    ),
    r(
        "F-1123-4",
        Error,
        "RFC 1123 §4.1.2.13",
        "A server offers the minimum command set.",
        "Implement USER, PASS, TYPE, MODE, STRU, PORT, PASV, RETR, STOR, NOOP, QUIT and the rest of the minimum set.",
        Scenario,
    ),
    r(
        "F-SEC-1",
        Error,
        "RFC 2577 §3",
        "A server refuses PORT to a host other than the client's own (bounce attack; reply 504 or 501).",
        "Reject PORT addresses that differ from the control connection's peer.",
        Scenario,
    ),
    r(
        "F-SEC-2",
        Warning,
        "RFC 2577 §3",
        "A server refuses PORT to a privileged port below 1024.",
        "Reject PORT to ports below 1024.",
        Scenario,
    ),
    r(
        "F-SEC-3",
        Warning,
        "RFC 2577 §5",
        "A server limits failed logins and closes the connection after a few.",
        "Close the connection after a few failed logins.",
        Scenario,
    ),
    r(
        "F-SEC-4",
        Warning,
        "RFC 2577 §7",
        "USER answers alike for known and unknown names, so names cannot be probed.",
        "Answer 331 to every USER, known or not.",
        Scenario,
    ),
    r(
        "F-SEC-5",
        Note,
        "RFC 2577 §8",
        "PASV ports are not predictable.",
        "Let the kernel choose PASV ports.",
        Scenario,
    ),
    r(
        "F-SEC-6",
        Error,
        "RFC 959 §4.1.1",
        "Paths stay inside the served root; `..` and absolute paths cannot escape it.",
        "Resolve paths against the root and refuse any that leave it.",
        Scenario,
    ),
];

/// The ids of the reply codes table: which codes each FTP command may receive lives in
/// `proto::ftp`; the catalogue only names the rule.
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn rule_ids_are_unique() {
        let mut seen = HashSet::new();
        for rule in RULES {
            assert!(seen.insert(rule.id), "duplicate id {}", rule.id);
        }
    }

    #[test]
    fn every_rule_of_rules_md_is_in_the_catalogue() {
        // The ids RULES.md lists, copied here so a deletion from the catalogue fails.
        let ids = "ECHO-1 ECHO-2 ECHO-3 ECHO-4 H-RL-1 H-RL-2 H-RL-3 H-RL-4 H-RL-5 H-RL-6 H-RL-7 \
                   H-HD-1 H-HD-2 H-HD-3 H-HD-4 H-HD-5 H-HD-6 H-HD-7 H-HOST-1 H-HOST-2 H-LEN-1 \
                   H-LEN-2 H-LEN-3 H-LEN-4 H-LEN-5 H-LEN-6 H-LEN-7 H-SL-1 H-SL-2 H-SL-3 H-SL-4 \
                   H-SL-5 H-DATE-1 H-DATE-2 H-DATE-3 H-CONN-1 H-CONN-2 H-CONN-3 F-RPL-1 F-RPL-2 \
                   F-RPL-3 F-RPL-4 F-RPL-5 F-CMD-1 F-CMD-2 F-CMD-3 F-CMD-4 F-SEQ-1 F-SEQ-2 F-SEQ-3 \
                   F-SEQ-4 F-SEQ-5 F-DATA-1 F-DATA-2 F-DATA-3 F-DATA-4 F-DATA-5 F-DATA-6 F-DATA-7 \
                   F-TYPE-1 F-1123-1 F-1123-2 F-1123-3 F-1123-4 F-SEC-1 F-SEC-2 F-SEC-3 F-SEC-4 \
                   F-SEC-5 F-SEC-6";
        for id in ids.split_whitespace() {
            assert!(lookup(id).is_some(), "{id} missing from the catalogue");
        }
    }

    #[test]
    fn host_and_date_rules_are_errors_only_under_strict11() {
        for id in ["H-HOST-1", "H-DATE-1"] {
            let rule = lookup(id).unwrap();
            assert_eq!(rule.severity_in(Profile::Http10), Severity::Warning);
            assert_eq!(rule.severity_in(Profile::Strict11), Severity::Error);
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup("echo-2").unwrap().id, "ECHO-2");
        assert!(lookup("ECHO-9").is_none());
    }
}
