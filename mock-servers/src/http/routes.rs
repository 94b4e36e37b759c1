//! The httpbin-like endpoints of the HTTP mock: from a parsed [`Request`] to a [`Reply`].
//! The table of endpoints and methods is in the parent module's documentation.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Shared;
use super::request::Version;
use super::response::{Response, TEXT};
use super::url::{parse_pairs, split_query};

/// Methods read-only endpoints and static files allow.
const READ: &str = "GET, HEAD, OPTIONS";
/// Methods `/post` allows.
const POST: &str = "POST, OPTIONS";
/// Every method this server implements.
const ANY: &str = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";
/// Standard methods (RFC 7231 §4, RFC 5789) that are known but never allowed here.
const KNOWN_ELSEWHERE: &[&str] = &["TRACE", "CONNECT"];

/// httpbin's teapot, sent with 418 (RFC 2324 §2.3.2).
const TEAPOT: &str = r#"
    -=[ teapot ]=-

       _...._
     .'  _ _ `.
    | ."` ^ `". _,
    \_;`"---"`|//
      |       ;/
      \_     _/
        `"""`
"#;

/// A request, borrowing the connection's buffer.
#[derive(Debug)]
pub struct Request<'a> {
    /// The method token.
    pub method: &'a str,
    /// The request target as sent (origin form or absolute URI).
    pub target: &'a str,
    /// The target in origin form (`/path?query`).
    pub origin_form: &'a str,
    /// The request's version.
    pub version: Version,
    /// Header fields in order: name as sent, value trimmed.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// The body (Content-Length octets).
    pub body: &'a [u8],
    /// The client's address.
    pub peer: SocketAddr,
    /// The address the client connected to (only known when the request has no Host).
    pub local: SocketAddr,
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// What to send for a request.
#[derive(Debug)]
pub struct Reply {
    /// The final response.
    pub response: Response,
    /// Wait this long before sending it (`/delay`).
    pub delay: Duration,
    /// An interim 1xx status to send before it (`/status/1xx` to an HTTP/1.1 client).
    pub interim: Option<u16>,
}

impl From<Response> for Reply {
    fn from(response: Response) -> Reply {
        Reply {
            response,
            delay: Duration::ZERO,
            interim: None,
        }
    }
}

/// Answers `req`.
pub async fn route(req: &Request<'_>, shared: &Shared) -> Reply {
    let (path, query) = split_query(req.origin_form);
    let allow = allowed(path, shared);
    let method = req.method;
    if allow.is_empty() {
        return Response::error(404, "no such endpoint").into();
    }
    if !allow.split(", ").any(|m| m == method) {
        if KNOWN_ELSEWHERE.contains(&method) || ANY.split(", ").any(|m| m == method) {
            return Response::error(405, "the method is not allowed on this path")
                .with_header("Allow", allow)
                .into();
        }
        return Response::error(501, "the method is not implemented by this server").into();
    }
    if method == "OPTIONS" {
        return Response::new(200, TEXT, Vec::new())
            .with_header("Allow", allow)
            .into();
    }
    let cfg = &shared.config;
    match path {
        "/get" => Response::json(200, &get_body(req, query)).into(),
        "/post" => Response::json(200, &post_body(req, query, None)).into(),
        "/headers" => Response::json(200, &json!({ "headers": headers(req) })).into(),
        "/ip" => Response::json(200, &json!({ "origin": req.peer.ip().to_string() })).into(),
        "/user-agent" => {
            let agent = req.header("user-agent").map(String::from_utf8_lossy);
            Response::json(200, &json!({ "user-agent": agent })).into()
        }
        _ if path == "/anything" || path.starts_with("/anything/") => {
            Response::json(200, &post_body(req, query, Some(method))).into()
        }
        _ => {
            if let Some(code) = path.strip_prefix("/status/") {
                status(code, req.version)
            } else if let Some(n) = path.strip_prefix("/bytes/") {
                bytes(n, query, cfg.max_bytes).into()
            } else if let Some(secs) = path.strip_prefix("/delay/") {
                delay(secs, req, query, cfg.max_delay)
            } else if let Some(n) = path.strip_prefix("/generated/") {
                match crate::generated::parse_len(n) {
                    Some(len) => Response::generated(len).into(),
                    None => Response::error(
                        404,
                        "generated content is /generated/N, N a decimal length of at most 64 GiB",
                    )
                    .into(),
                }
            } else {
                match shared.statics.lookup(path).await {
                    Ok(file) => Response::new(200, file.content_type, file.bytes).into(),
                    Err(rejection) => Response::error(rejection.status, rejection.detail).into(),
                }
            }
        }
    }
}

/// The methods `path` allows; empty when nothing is served there.
fn allowed(path: &str, shared: &Shared) -> &'static str {
    match path {
        "/post" => POST,
        "/get" | "/headers" | "/ip" | "/user-agent" => READ,
        "*" => "OPTIONS",
        _ if path == "/anything" || path.starts_with("/anything/") || path.starts_with("/status/") => ANY,
        _ if path.starts_with("/bytes/")
            || path.starts_with("/delay/")
            || path.starts_with("/generated/") =>
        {
            READ
        }
        _ if shared.statics.enabled() => READ,
        _ => "",
    }
}

/// Header fields as httpbin shows them: names in Title-Case, repeated fields joined by
/// commas (RFC 2616 §4.2).
fn headers(req: &Request<'_>) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in &req.headers {
        let value = String::from_utf8_lossy(value);
        match map.get_mut(&title_case(name)) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                map.insert(title_case(name), Value::String(value.into_owned()));
            }
        }
    }
    map
}

fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// The URL the client asked for: the absolute URI if it sent one, else built from Host.
fn url(req: &Request<'_>) -> String {
    if !req.target.starts_with('/') {
        return req.target.to_owned();
    }
    match req.header("host") {
        Some(host) => format!("http://{}{}", String::from_utf8_lossy(host), req.target),
        None => format!("http://{}{}", req.local, req.target),
    }
}

fn get_body(req: &Request<'_>, query: &str) -> Value {
    json!({
        "args": parse_pairs(query),
        "headers": headers(req),
        "origin": req.peer.ip().to_string(),
        "url": url(req),
    })
}

/// `/post` and `/anything`: the body as text in `data`, parsed in `json` when it is JSON
/// (else null), and in `form` when it is urlencoded.
fn post_body(req: &Request<'_>, query: &str, method: Option<&str>) -> Value {
    let data = String::from_utf8_lossy(req.body);
    let parsed: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
    let urlencoded = req.header("content-type").is_some_and(|ct| {
        let media = ct.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
        media.eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
    });
    let form = if urlencoded {
        parse_pairs(&data)
    } else {
        Map::new()
    };
    let mut body = json!({
        "args": parse_pairs(query),
        "data": data,
        "files": {},
        "form": form,
        "headers": headers(req),
        "json": parsed,
        "origin": req.peer.ip().to_string(),
        "url": url(req),
    });
    if let (Some(method), Value::Object(map)) = (method, &mut body) {
        map.insert("method".to_owned(), Value::String(method.to_owned()));
    }
    body
}

/// `/status/{code}`: 100–599. A 1xx is never a final response: an HTTP/1.1 client gets
/// it as an interim response before a final 200, an HTTP/1.0 client only the 200
/// (RFC 2616 §10.1); 101 would claim a protocol switch and is never sent.
fn status(code: &str, version: Version) -> Reply {
    let code = match code.parse::<u16>() {
        Ok(parsed @ 100..=599) if code.len() == 3 => parsed,
        _ => return Response::error(400, "the status code must be a number from 100 to 599").into(),
    };
    let empty = |status| Response::new(status, TEXT, Vec::new());
    match code {
        100..=199 => Reply {
            response: empty(200),
            delay: Duration::ZERO,
            interim: (version == Version::Http11 && code != 101).then_some(code),
        },
        418 => Response::new(418, TEXT, TEAPOT.as_bytes())
            .with_header("X-More-Info", "http://tools.ietf.org/html/rfc2324")
            .into(),
        301 | 302 | 303 | 305 | 307 | 308 => empty(code).with_header("Location", "/get").into(),
        401 => empty(401)
            .with_header("WWW-Authenticate", "Basic realm=\"Fake Realm\"")
            .into(),
        407 => empty(407)
            .with_header("Proxy-Authenticate", "Basic realm=\"Fake Realm\"")
            .into(),
        _ => empty(code).into(),
    }
}

/// `/bytes/{n}`: `n` bytes (at most `max`) of a splitmix64 sequence seeded by `?seed=`
/// (0 by default), so the same request always gets the same bytes.
fn bytes(n: &str, query: &str, max: usize) -> Response {
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Response::error(400, "the byte count must be a decimal number");
    }
    let n = n.parse::<usize>().unwrap_or(usize::MAX).min(max);
    let args = parse_pairs(query);
    let seed = match args.get("seed") {
        None => 0,
        Some(Value::String(s)) => match s.parse::<u64>() {
            Ok(seed) => seed,
            Err(_) => return Response::error(400, "the seed must be a decimal number"),
        },
        Some(_) => return Response::error(400, "give one seed"),
    };
    Response::new(200, "application/octet-stream", pseudo_random(n, seed))
}

/// `n` bytes of splitmix64 output from `seed`.
pub fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// `/delay/{s}`: `s` seconds, fractions allowed, capped at `max`.
fn delay(secs: &str, req: &Request<'_>, query: &str, max: Duration) -> Reply {
    let secs = match secs.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 && secs.bytes().all(|b| b.is_ascii_digit() || b == b'.') => s,
        _ => return Response::error(400, "the delay must be a non-negative number of seconds").into(),
    };
    let delay = Duration::try_from_secs_f64(secs).unwrap_or(max).min(max);
    Reply {
        response: Response::json(200, &get_body(req, query)),
        delay,
        interim: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_title_cased_like_httpbin() {
        assert_eq!(title_case("content-TYPE"), "Content-Type");
        assert_eq!(title_case("x-a-b"), "X-A-B");
        assert_eq!(title_case("HOST"), "Host");
    }

    #[test]
    fn pseudo_random_bytes_are_deterministic_per_seed() {
        assert_eq!(pseudo_random(13, 7), pseudo_random(13, 7));
        assert_ne!(pseudo_random(13, 7), pseudo_random(13, 8));
        assert_eq!(pseudo_random(13, 7)[..8], pseudo_random(8, 7));
        assert_eq!(pseudo_random(0, 1).len(), 0);
    }

    #[test]
    fn status_codes_outside_100_to_599_are_refused() {
        for code in ["99", "600", "abc", "0200", "", "+200"] {
            assert_eq!(status(code, Version::Http10).response.status, 400, "{code}");
        }
        assert_eq!(status("418", Version::Http10).response.status, 418);
    }

    #[test]
    fn informational_status_is_interim_for_11_only() {
        let r = status("100", Version::Http11);
        assert_eq!((r.interim, r.response.status), (Some(100), 200));
        assert_eq!(status("100", Version::Http10).interim, None);
        assert_eq!(status("101", Version::Http11).interim, None);
    }
}
