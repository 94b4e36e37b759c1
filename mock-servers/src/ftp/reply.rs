//! FTP replies, sans-I/O: the reply codes this server sends, each documented with its
//! meaning from RFC 959 §4.2.2 (or the RFC that adds it), and the rendering of a reply as
//! a single-line or multi-line reply (959 §4.2).
//!
//! Which code answers which command follows the command–reply table of 959 §5.4; the
//! session module picks the code, this module only knows how a reply is written.

use std::fmt;

/// A three-digit reply code (959 §4.2): the first digit says good/bad/incomplete, the
/// second what it is about, the third refines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code(pub u16);

impl Code {
    /// 150 File status okay; about to open data connection (959 §4.2.2).
    pub const OPENING_DATA: Code = Code(150);
    /// 200 Command okay.
    pub const OK: Code = Code(200);
    /// 202 Command not implemented, superfluous at this site (ACCT, ALLO).
    pub const SUPERFLUOUS: Code = Code(202);
    /// 211 System status, or system help reply; the multi-line FEAT reply (RFC 2389 §3.2).
    pub const SYSTEM_STATUS: Code = Code(211);
    /// 214 Help message.
    pub const HELP: Code = Code(214);
    /// 215 NAME system type (NAME from the Assigned Numbers list, here `UNIX`).
    pub const SYSTEM_TYPE: Code = Code(215);
    /// 220 Service ready for new user.
    pub const READY: Code = Code(220);
    /// 221 Service closing control connection.
    pub const CLOSING: Code = Code(221);
    /// 226 Closing data connection. Requested file action successful.
    pub const TRANSFER_COMPLETE: Code = Code(226);
    /// 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).
    pub const PASSIVE: Code = Code(227);
    /// 229 Entering Extended Passive Mode (|||port|) (RFC 2428 §3).
    pub const EXTENDED_PASSIVE: Code = Code(229);
    /// 230 User logged in, proceed.
    pub const LOGGED_IN: Code = Code(230);
    /// 250 Requested file action okay, completed.
    pub const FILE_ACTION_OK: Code = Code(250);
    /// 257 "PATHNAME" created (also the PWD answer, 959 Appendix II).
    pub const PATHNAME: Code = Code(257);
    /// 331 User name okay, need password.
    pub const NEED_PASSWORD: Code = Code(331);
    /// 421 Service not available, closing control connection. May answer any command.
    pub const NOT_AVAILABLE: Code = Code(421);
    /// 425 Can't open data connection.
    pub const CANT_OPEN_DATA: Code = Code(425);
    /// 426 Connection closed; transfer aborted.
    pub const TRANSFER_ABORTED: Code = Code(426);
    /// 450 Requested file action not taken. File unavailable (LIST/NLST of a missing path).
    pub const FILE_BUSY: Code = Code(450);
    /// 451 Requested action aborted: local error in processing.
    pub const LOCAL_ERROR: Code = Code(451);
    /// 500 Syntax error, command unrecognized (also: command line too long).
    pub const UNRECOGNIZED: Code = Code(500);
    /// 501 Syntax error in parameters or arguments.
    pub const BAD_ARGUMENTS: Code = Code(501);
    /// 502 Command not implemented.
    pub const NOT_IMPLEMENTED: Code = Code(502);
    /// 503 Bad sequence of commands.
    pub const BAD_SEQUENCE: Code = Code(503);
    /// 504 Command not implemented for that parameter (also PORT refused, RFC 2577 §3).
    pub const NOT_FOR_PARAMETER: Code = Code(504);
    /// 522 Network protocol not supported (EPRT/EPSV, RFC 2428 §2).
    pub const PROTOCOL_NOT_SUPPORTED: Code = Code(522);
    /// 530 Not logged in.
    pub const NOT_LOGGED_IN: Code = Code(530);
    /// 550 Requested action not taken. File unavailable (not found, no access).
    pub const FILE_UNAVAILABLE: Code = Code(550);
    /// 552 Requested file action aborted. Exceeded storage allocation.
    pub const STORAGE_EXCEEDED: Code = Code(552);
    /// 553 Requested action not taken. File name not allowed.
    pub const NAME_NOT_ALLOWED: Code = Code(553);
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// One reply: a code and its text lines. One line is a single-line reply; more make a
/// multi-line reply whose first line is `code-text` and last line `code SP text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: Code,
    lines: Vec<String>,
}

impl Reply {
    /// A single-line reply `code SP text`.
    pub fn new(code: Code, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply: `code-first`, the `middle` lines as they are (959 §4.2 lets
    /// them be any text; one that starts with a digit is padded with a space so it cannot
    /// be mistaken for the last line), then `code SP last`.
    pub fn multi(code: Code, first: impl Into<String>, middle: &[&str], last: impl Into<String>) -> Reply {
        let mut lines = vec![first.into()];
        lines.extend(middle.iter().map(|l| l.to_string()));
        lines.push(last.into());
        Reply { code, lines }
    }

    /// The reply code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The bytes on the wire, every line ended by `eol` (CRLF, or LF for the `bare_lf`
    /// fault). CR, LF and other control characters inside the text become spaces, so a
    /// file name can never end a reply early.
    pub fn render(&self, eol: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let text = clean(line);
            if i == 0 || i == last {
                let sep = if i == last { ' ' } else { '-' };
                out.extend_from_slice(format!("{}{}{}", self.code, sep, text).as_bytes());
            } else {
                let own_prefix = format!("{}-", self.code);
                if text.starts_with(|c: char| c.is_ascii_digit()) && !text.starts_with(&own_prefix) {
                    out.push(b' ');
                }
                out.extend_from_slice(text.as_bytes());
            }
            out.extend_from_slice(eol);
        }
        out
    }
}

fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Quotes a pathname for a 257 reply: enclosed in double quotes, an embedded quote doubled
/// (959 Appendix II).
pub fn quote_path(path: &str) -> String {
    format!("\"{}\"", path.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_reply_is_code_space_text_crlf() {
        assert_eq!(
            Reply::new(Code::OK, "Command okay.").render(b"\r\n"),
            b"200 Command okay.\r\n"
        );
    }

    #[test]
    fn multi_line_reply_uses_hyphen_first_and_space_last() {
        let r = Reply::multi(Code::SYSTEM_STATUS, "Features:", &[" EPRT", " EPSV"], "End");
        assert_eq!(
            r.render(b"\r\n"),
            b"211-Features:\r\n EPRT\r\n EPSV\r\n211 End\r\n"
        );
    }

    #[test]
    fn middle_line_starting_with_digits_is_padded_unless_it_repeats_the_code() {
        let r = Reply::multi(Code::READY, "a", &["220 not the end", "220-fine"], "b");
        assert_eq!(r.render(b"\n"), b"220-a\n 220 not the end\n220-fine\n220 b\n");
    }

    #[test]
    fn control_characters_in_text_cannot_end_a_reply() {
        let r = Reply::new(Code::FILE_UNAVAILABLE, "x\r\n200 y");
        assert_eq!(r.render(b"\r\n"), b"550 x  200 y\r\n");
    }

    #[test]
    fn pwd_path_doubles_embedded_quotes() {
        assert_eq!(quote_path("/a\"b"), "\"/a\"\"b\"");
    }
}
