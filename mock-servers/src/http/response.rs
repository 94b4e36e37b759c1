//! Responses of the HTTP mock and their encoding into bytes, apart from any I/O.
//!
//! Every response carries Date in the rfc1123 form (RFC 2616 §3.3.1, §14.18), Server,
//! Content-Type and Content-Length, except where the RFCs forbid them: 1xx and 204 carry
//! no Content-Length (RFC 7230 §3.3.2), and 1xx, 204, 304 and responses to HEAD carry no
//! body (RFC 1945 §7.2, RFC 2616 §4.3). A response is encoded into one buffer, so the
//! connection can send it with a single write.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::request::Version;

/// `text/plain; charset=utf-8`.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// `application/json`.
pub const JSON: &str = "application/json";

/// A response before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Content-Type of the body.
    pub content_type: &'static str,
    /// Headers besides Date, Server, Content-Type, Content-Length and Connection.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// The body as it would be sent to GET (a HEAD response sends its length only).
    pub body: Cow<'static, [u8]>,
}

impl Response {
    /// A response with `status`, `content_type` and `body`, and no other headers.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Cow<'static, [u8]>>) -> Response {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A pretty-printed JSON body (as httpbin sends), ending in a newline.
    pub fn json(status: u16, value: &impl serde::Serialize) -> Response {
        let mut body = Vec::with_capacity(512);
        // Serialising maps of strings into a Vec cannot fail.
        let _ = serde_json::to_writer_pretty(&mut body, value);
        body.push(b'\n');
        Response::new(status, JSON, body)
    }

    /// An error response: `{"status": 404, "error": "Not Found", "detail": "..."}`.
    pub fn error(status: u16, detail: &str) -> Response {
        Response::json(
            status,
            &serde_json::json!({ "status": status, "error": reason(status), "detail": detail }),
        )
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// Appends the encoded response to `out`.
    pub fn encode(&self, opts: &Encoding<'_>, out: &mut Vec<u8>) {
        let bodiless = bodiless(self.status);
        out.reserve(256 + self.body.len());
        let _ = write!(
            out,
            "{} {} {}\r\n",
            opts.version.as_str(),
            self.status,
            reason(self.status)
        );
        out.extend_from_slice(b"Date: ");
        push_date(out);
        out.extend_from_slice(b"\r\nServer: ");
        out.extend_from_slice(opts.server.as_bytes());
        out.extend_from_slice(b"\r\n");
        let no_length_allowed = self.status < 200 || self.status == 204;
        if !(no_length_allowed || self.status == 304) {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(self.content_type.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if opts.content_length && !no_length_allowed && self.status != 304 {
            let _ = write!(out, "Content-Length: {}\r\n", self.body.len());
        }
        for (name, value) in &self.headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        if self.status >= 200 {
            out.extend_from_slice(if opts.keep_alive {
                b"Connection: keep-alive\r\n"
            } else {
                b"Connection: close\r\n"
            });
        }
        out.extend_from_slice(b"\r\n");
        if !bodiless && !opts.head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

/// How a response is encoded for the request it answers.
#[derive(Debug, Clone, Copy)]
pub struct Encoding<'a> {
    /// The version of the status line: the request's, or 1.0 when unknown.
    pub version: Version,
    /// The request was HEAD: headers as for GET, no body.
    pub head_only: bool,
    /// The connection stays open after this response.
    pub keep_alive: bool,
    /// Send Content-Length (false: the body ends when the connection closes).
    pub content_length: bool,
    /// The Server header's value.
    pub server: &'a str,
}

/// 1xx, 204 and 304 never have a body (RFC 1945 §7.2, RFC 2616 §4.3).
pub fn bodiless(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

/// The reason phrase for `status`: the registered one, or a generic one for its class.
pub fn reason(status: u16) -> &'static str {
    registered_reason(status).unwrap_or(match status / 100 {
        1 => "Informational",
        2 => "Success",
        3 => "Redirection",
        4 => "Client Error",
        _ => "Server Error",
    })
}

/// The reason phrase registered for `status` (RFC 9110 §15 and the IANA registry).
fn registered_reason(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

thread_local! {
    /// The formatted date of the current second, per thread: formatting it once a second
    /// instead of once a response.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Appends the current time as an rfc1123 date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn push_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(cached_secs, text)| {
        if *cached_secs != secs {
            let formatted = httpdate::fmt_http_date(now);
            if formatted.len() == text.len() {
                text.copy_from_slice(formatted.as_bytes());
                *cached_secs = secs;
            } else {
                out.extend_from_slice(formatted.as_bytes());
                return;
            }
        }
        out.extend_from_slice(text);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(response: &Response, head_only: bool) -> String {
        let mut out = Vec::new();
        let opts = Encoding {
            version: Version::Http10,
            head_only,
            keep_alive: false,
            content_length: true,
            server: "test",
        };
        response.encode(&opts, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encoded_response_has_date_server_type_length_and_body() {
        let text = encode(&Response::new(200, TEXT, b"hi".as_slice()), false);
        assert!(text.starts_with("HTTP/1.0 200 OK\r\nDate: "), "{text}");
        let date = text.split("Date: ").nth(1).unwrap().split("\r\n").next().unwrap();
        assert!(
            httpdate::parse_http_date(date).is_ok() && date.ends_with(" GMT"),
            "{date}"
        );
        assert!(text.contains("\r\nServer: test\r\n"));
        assert!(text.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
        assert!(text.contains("\r\nContent-Length: 2\r\n"));
        assert!(text.ends_with("\r\nConnection: close\r\n\r\nhi"), "{text}");
    }

    #[test]
    fn head_keeps_the_length_and_drops_the_body() {
        let text = encode(&Response::new(200, TEXT, b"hello".as_slice()), true);
        assert!(
            text.contains("Content-Length: 5\r\n") && text.ends_with("\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn no_content_status_has_neither_length_nor_body() {
        let text = encode(&Response::new(204, TEXT, b"x".as_slice()), false);
        assert!(
            !text.contains("Content-Length") && text.ends_with("\r\n\r\n"),
            "{text}"
        );
        let text = encode(&Response::new(304, TEXT, b"x".as_slice()), false);
        assert!(
            !text.contains("Content-Length") && text.ends_with("\r\n\r\n"),
            "{text}"
        );
    }

    #[test]
    fn unknown_codes_get_the_phrase_of_their_class() {
        assert_eq!(reason(418), "I'm a teapot");
        assert_eq!(reason(299), "Success");
        assert_eq!(reason(599), "Server Error");
    }
}
