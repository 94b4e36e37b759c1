//! Request targets of the HTTP mock: the path and query of a Request-URI, percent-decoding,
//! and query strings as httpbin shows them (`args`).

use serde_json::{Map, Value};

/// The origin-form part of `target`: an absolute URI (RFC 1945 §5.1.2) loses its
/// scheme and authority, and a fragment (never sent by a correct client) is dropped.
pub fn origin_form(target: &str) -> &str {
    let target = target.split('#').next().unwrap_or(target);
    if target.starts_with('/') || target == "*" {
        return target;
    }
    // `parse_request_line` only lets `http://` and `https://` through besides the above.
    let after_scheme = target.find("://").map_or(target, |i| &target[i + 3..]);
    match after_scheme.find(['/', '?']) {
        Some(i) if after_scheme.as_bytes()[i] == b'/' => &after_scheme[i..],
        _ => "/",
    }
}

/// Splits an origin-form target into its path and query (without the `?`).
pub fn split_query(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

/// Decodes `%XX` escapes, and `+` as a space when `plus_as_space` (query strings, forms).
/// `None` for a `%` not followed by two hex digits.
pub fn percent_decode(text: &[u8], plus_as_space: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'%' => {
                let hi = hex(*text.get(i + 1)?)?;
                let lo = hex(*text.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A `k=v&k2=v2` string (query or urlencoded form) as httpbin shows it: a key seen once
/// maps to a string, a repeated key to an array of strings. Undecodable escapes are kept
/// as sent.
pub fn parse_pairs(text: &str) -> Map<String, Value> {
    let mut map = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_lossy(key);
        let value = Value::String(decode_lossy(value));
        match map.get_mut(&key) {
            None => {
                map.insert(key, value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    map
}

fn decode_lossy(text: &str) -> String {
    match percent_decode(text.as_bytes(), true) {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris_reduce_to_their_path() {
        assert_eq!(origin_form("http://example.com:8080/get?a=1"), "/get?a=1");
        assert_eq!(origin_form("HTTP://example.com"), "/");
        assert_eq!(origin_form("http://example.com?x"), "/");
        assert_eq!(origin_form("/a#frag"), "/a");
    }

    #[test]
    fn percent_decoding_refuses_truncated_escapes() {
        assert_eq!(percent_decode(b"a%20b+c", true).unwrap(), b"a b c");
        assert_eq!(percent_decode(b"a+b", false).unwrap(), b"a+b");
        assert_eq!(percent_decode(b"%2", false), None);
        assert_eq!(percent_decode(b"%zz", false), None);
    }

    #[test]
    fn repeated_query_keys_become_arrays_like_httpbin() {
        let args = parse_pairs("a=1&b=x%20y&a=2&a=3&flag");
        assert_eq!(
            Value::Object(args),
            serde_json::json!({"a": ["1", "2", "3"], "b": "x y", "flag": ""})
        );
    }
}
