//! Variables as a step sees them, and the variables a `listen` sets.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::scenario::plan::{BUILTIN_VARS, LISTEN_VARS, Scope};
use crate::scenario::template::Vars;

/// Lookup order: `--var`, the include's values, the scenario's variables and captures,
/// the fragment's defaults.
pub(super) struct Env<'s> {
    pub(super) cli: &'s BTreeMap<String, String>,
    pub(super) globals: &'s BTreeMap<String, String>,
    pub(super) scope: Option<&'s Scope>,
}

impl Vars for Env<'_> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(v) = self.cli.get(name) {
            return Some(Cow::Borrowed(v));
        }
        if let Some(v) = self.scope.and_then(|s| s.overrides.get(name)) {
            return Some(Cow::Borrowed(v));
        }
        if let Some(v) = self.globals.get(name) {
            return Some(Cow::Borrowed(v));
        }
        let default = self.scope.and_then(|s| s.defaults.get(name))?;
        let outer = Env {
            cli: self.cli,
            globals: self.globals,
            scope: None,
        };
        default.render(&outer).ok().map(Cow::Owned)
    }
}

/// Splits `host:port` (IPv6 hosts in brackets).
pub(super) fn split_host_port(addr: &str) -> (String, String) {
    match addr.rsplit_once(':') {
        Some((h, p)) => (h.trim_matches(['[', ']']).to_string(), p.to_string()),
        None => (addr.to_string(), String::new()),
    }
}

/// The variables every scenario has (`plan::BUILTIN_VARS`, named from that array) for a
/// target at `host` and `port`, with `http_date` at `now`.
pub(super) fn builtin_vars(
    host: &str,
    port: &str,
    now: std::time::SystemTime,
) -> [(&'static str, String); BUILTIN_VARS.len()] {
    let [host_var, port_var, target_var, authority_var, http_date_var] = BUILTIN_VARS;
    // The Host header value: the port only when it is not HTTP's 80 (RFC 2616 §14.23).
    let authority = if port == "80" || port.is_empty() {
        host.to_string()
    } else {
        format!("{host}:{port}")
    };
    [
        (host_var, host.to_string()),
        (port_var, port.to_string()),
        (target_var, format!("{host}:{port}")),
        (authority_var, authority),
        (http_date_var, httpdate::fmt_http_date(now)),
    ]
}

/// The variables a `listen` at `addr` sets, after the connection's name and a dot
/// (`plan::LISTEN_VARS`, named from that array): `host`, `port`, `addr`, `port_args` (FTP
/// PORT form, high byte first) and `eprt_args` (RFC 2428 form).
pub fn listen_vars(addr: SocketAddr) -> [(&'static str, String); LISTEN_VARS.len()] {
    let [host_var, port_var, addr_var, port_args_var, eprt_args_var] = LISTEN_VARS;
    let host = addr.ip().to_string();
    let port = addr.port();
    let port_args = match addr.ip() {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!(
                "{},{},{},{},{},{}",
                o[0],
                o[1],
                o[2],
                o[3],
                port >> 8,
                port & 0xff
            )
        }
        std::net::IpAddr::V6(_) => String::new(),
    };
    let family = if addr.is_ipv4() { 1 } else { 2 };
    [
        (host_var, host.clone()),
        (port_var, port.to_string()),
        (addr_var, addr.to_string()),
        (port_args_var, port_args),
        (eprt_args_var, format!("|{family}|{host}|{port}|")),
    ]
}

/// A reply or status code at the start of a message parley sent (for `when: { last_code }`
/// when parley plays the server, and for the FTP transfer delay).
pub(super) fn leading_code(bytes: &[u8]) -> Option<u16> {
    let digits = bytes.get(..3)?;
    if digits.iter().all(u8::is_ascii_digit)
        && matches!(bytes.get(3), Some(b' ' | b'-' | b'\r' | b'\n') | None)
    {
        std::str::from_utf8(digits).ok()?.parse().ok()
    } else if bytes.starts_with(b"HTTP/") {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(32)]).into_owned();
        text.split(' ').nth(1)?.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_vars_encode_the_port_high_byte_first() {
        let vars: BTreeMap<_, _> = listen_vars("127.0.0.1:39851".parse().unwrap())
            .into_iter()
            .collect();
        assert_eq!(vars["port_args"], "127,0,0,1,155,171");
        assert_eq!(vars["eprt_args"], "|1|127.0.0.1|39851|");
        assert_eq!(vars["addr"], "127.0.0.1:39851");
    }

    #[test]
    fn listen_vars_set_exactly_the_names_the_checker_knows() {
        for addr in ["127.0.0.1:2121", "[::1]:2121"] {
            let names: Vec<&str> = listen_vars(addr.parse().unwrap())
                .iter()
                .map(|(n, _)| *n)
                .collect();
            assert_eq!(names, LISTEN_VARS, "{addr}");
        }
    }

    #[test]
    fn builtin_vars_set_exactly_the_names_the_checker_knows() {
        let vars = builtin_vars("10.0.0.1", "8080", std::time::UNIX_EPOCH);
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, BUILTIN_VARS);
        let vars: BTreeMap<_, _> = vars.into_iter().collect();
        assert_eq!(vars["host"], "10.0.0.1");
        assert_eq!(vars["port"], "8080");
        assert_eq!(vars["target"], "10.0.0.1:8080");
        assert_eq!(vars["authority"], "10.0.0.1:8080");
        assert_eq!(vars["http_date"], "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn builtin_authority_leaves_out_http_port_80() {
        let vars: BTreeMap<_, _> = builtin_vars("example.org", "80", std::time::UNIX_EPOCH)
            .into_iter()
            .collect();
        assert_eq!(vars["authority"], "example.org");
        assert_eq!(vars["target"], "example.org:80");
    }

    #[test]
    fn leading_code_reads_ftp_and_http() {
        assert_eq!(leading_code(b"331 Password\r\n"), Some(331));
        assert_eq!(leading_code(b"HTTP/1.0 418 I'm a teapot\r\n"), Some(418));
        assert_eq!(leading_code(b"hello"), None);
    }

    #[test]
    fn host_and_port_split_at_the_last_colon() {
        assert_eq!(split_host_port("[::1]:21"), ("::1".to_string(), "21".to_string()));
        assert_eq!(
            split_host_port("httpbin.org:80"),
            ("httpbin.org".to_string(), "80".to_string())
        );
    }
}
