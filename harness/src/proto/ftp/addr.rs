//! Data-connection addresses in the forms FTP writes them, both ways: the six numbers
//! `h1,h2,h3,h4,p1,p2` of PORT and of the 227 reply (RFC 959 §4.1.2, RFC 1123 §4.1.2.6),
//! EPRT's `|1|host|port|` (RFC 2428 §2) and the 229 reply's `(|||port|)` (RFC 2428 §3).
//!
//! The port travels as two bytes, high byte first: port = p1×256 + p2, so port 39851 is
//! `155,171`. Errors say so with the arithmetic, because a swapped pair is the classic bug.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

/// The two port numbers of PORT and 227, high byte first (RFC 959 §4.1.2):
/// `port_to_args(39851) == "155,171"`.
pub fn port_to_args(port: u16) -> String {
    format!("{},{}", port >> 8, port & 0xff)
}

/// `h1,h2,h3,h4,p1,p2` for `addr` (RFC 959 §4.1.2).
pub fn addr_to_port_args(addr: SocketAddrV4) -> String {
    let [h1, h2, h3, h4] = addr.ip().octets();
    format!("{h1},{h2},{h3},{h4},{}", port_to_args(addr.port()))
}

/// The arithmetic behind a port, for messages: `39851 (155×256+171)`.
pub fn port_arithmetic(port: u16) -> String {
    format!("{port} ({}×256+{})", port >> 8, port & 0xff)
}

/// Why a PORT argument is not `h1,h2,h3,h4,p1,p2` (F-CMD-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortArgsError {
    /// Not six comma-separated fields.
    Count {
        /// How many fields there were.
        found: usize,
        /// The last field read as a number, when it is one (a whole port written as one
        /// number is the usual reason for five fields).
        last: Option<u64>,
    },
    /// A field is not a decimal number (empty, signed, spaces, letters).
    NotDecimal {
        /// 0-based field index.
        index: usize,
        /// The field as written.
        text: String,
    },
    /// A field is a number above 255: each field is one byte.
    OutOfRange {
        /// 0-based field index.
        index: usize,
        /// Its value.
        value: u64,
    },
}

const FIELD_NAMES: [&str; 6] = ["h1", "h2", "h3", "h4", "p1", "p2"];

impl fmt::Display for PortArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortArgsError::Count { found, last } => {
                write!(
                    f,
                    "PORT takes six numbers h1,h2,h3,h4,p1,p2 (RFC 959 §4.1.2); this has {found}"
                )?;
                if let Some(n) = last.and_then(|n| u16::try_from(n).ok()).filter(|n| *n > 255) {
                    write!(
                        f,
                        ": the port is two numbers, high byte first, so port {n} is {} ({})",
                        port_to_args(n),
                        port_arithmetic(n)
                    )?;
                }
                Ok(())
            }
            PortArgsError::NotDecimal { index, text } => write!(
                f,
                "{} is `{text}`, not a decimal number 0-255 (RFC 959 §4.1.2)",
                FIELD_NAMES.get(*index).unwrap_or(&"a field")
            ),
            PortArgsError::OutOfRange { index, value } => {
                let name = FIELD_NAMES.get(*index).unwrap_or(&"a field");
                write!(
                    f,
                    "{name} is {value}, more than 255: each of the six numbers is one byte"
                )?;
                if *index >= 4 {
                    write!(
                        f,
                        "; the port is p1×256+p2, so for port N send N//256,N%256 (39851 is 155,171)"
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Reads one decimal field of 1–3 digits... or more (reported as out of range).
fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses PORT's argument `h1,h2,h3,h4,p1,p2` (RFC 959 §4.1.2), strictly: six decimal
/// numbers 0–255, no spaces.
pub fn parse_port_args(arg: &str) -> Result<SocketAddrV4, PortArgsError> {
    let fields: Vec<&str> = arg.split(',').collect();
    if fields.len() != 6 {
        return Err(PortArgsError::Count {
            found: fields.len(),
            last: fields.last().and_then(|t| decimal(t.trim())),
        });
    }
    let mut bytes = [0u8; 6];
    for (index, text) in fields.iter().enumerate() {
        let value = decimal(text).ok_or_else(|| PortArgsError::NotDecimal {
            index,
            text: (*text).to_string(),
        })?;
        bytes[index] = u8::try_from(value).map_err(|_| PortArgsError::OutOfRange { index, value })?;
    }
    let [h1, h2, h3, h4, p1, p2] = bytes;
    Ok(SocketAddrV4::new(
        Ipv4Addr::new(h1, h2, h3, h4),
        u16::from(p1) << 8 | u16::from(p2),
    ))
}

/// Finds the six numbers of a 227 reply anywhere in its text, as RFC 1123 §4.1.2.6 tells
/// clients to (the parentheses of 959 §4.1.2 are not required, and servers vary): the
/// first run of six comma-separated decimals 0–255, spaces allowed after a comma.
pub fn find_pasv_numbers(text: &str) -> Option<SocketAddrV4> {
    find_pasv_span(text).map(|(_, addr)| addr)
}

/// Where [`find_pasv_numbers`] found the six numbers in `text` (a byte range), and the
/// address they name: what a relay replaces to announce its own address instead.
pub fn find_pasv_span(text: &str) -> Option<(std::ops::Range<usize>, SocketAddrV4)> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let begins = bytes[start].is_ascii_digit() && (start == 0 || !bytes[start - 1].is_ascii_digit());
        if begins {
            if let Some((addr, len)) = six_numbers_at(&bytes[start..]) {
                return Some((start..start + len, addr));
            }
        }
        start += 1;
    }
    None
}

/// The six numbers at the start of `bytes`, and how many bytes they take.
fn six_numbers_at(bytes: &[u8]) -> Option<(SocketAddrV4, usize)> {
    let mut numbers = [0u8; 6];
    let mut at = 0;
    for (i, slot) in numbers.iter_mut().enumerate() {
        if i > 0 {
            if bytes.get(at) != Some(&b',') {
                return None;
            }
            at += 1;
            while bytes.get(at) == Some(&b' ') {
                at += 1;
            }
        }
        let digits = bytes[at.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > 3 {
            return None;
        }
        let text = std::str::from_utf8(&bytes[at..at + digits]).ok()?;
        *slot = text.parse::<u16>().ok().and_then(|v| u8::try_from(v).ok())?;
        at += digits;
    }
    // A seventh number glued on means this was not the address.
    if bytes.get(at) == Some(&b',') && bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let [h1, h2, h3, h4, p1, p2] = numbers;
    Some((
        SocketAddrV4::new(Ipv4Addr::new(h1, h2, h3, h4), u16::from(p1) << 8 | u16::from(p2)),
        at,
    ))
}

/// The port of a 229 reply, `(<d><d><d><port><d>)` with any printable delimiter `d`
/// (RFC 2428 §3), found anywhere in the text.
pub fn find_epsv_port(text: &str) -> Option<u16> {
    find_epsv_span(text).map(|(_, port)| port)
}

/// Where [`find_epsv_port`] found the port's digits in `text` (a byte range), and the port.
pub fn find_epsv_span(text: &str) -> Option<(std::ops::Range<usize>, u16)> {
    let bytes = text.as_bytes();
    for (open, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'(') {
        let rest = &bytes[open + 1..];
        let Some(&d) = rest.first() else { continue };
        if !(33..=126).contains(&d)
            || d.is_ascii_digit()
            || rest.get(1) != Some(&d)
            || rest.get(2) != Some(&d)
        {
            continue;
        }
        let digits = rest[3..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 5 {
            continue;
        }
        if rest.get(3 + digits) != Some(&d) || rest.get(4 + digits) != Some(&b')') {
            continue;
        }
        let port = std::str::from_utf8(&rest[3..3 + digits])
            .ok()?
            .parse::<u16>()
            .ok();
        if let Some(port) = port {
            let at = open + 1 + 3;
            return Some((at..at + digits, port));
        }
    }
    None
}

/// Parses EPRT's argument `<d><proto><d><addr><d><port><d>` (RFC 2428 §2): protocol 1 is
/// IPv4, 2 is IPv6; the delimiter is any printable character, usually `|`.
pub fn parse_eprt(arg: &str) -> Result<SocketAddr, String> {
    let mut chars = arg.chars();
    let Some(d) = chars.next() else {
        return Err("EPRT needs an argument |proto|address|port| (RFC 2428 §2)".to_string());
    };
    if !(33..=126).contains(&(d as u32)) || d.is_ascii_digit() {
        return Err(format!(
            "EPRT's first character `{d}` must be a printable delimiter such as `|` (RFC 2428 §2)"
        ));
    }
    let fields: Vec<&str> = arg.split(d).collect();
    // "|1|h|p|" splits into ["", "1", "h", "p", ""].
    if fields.len() != 5 || !fields[0].is_empty() || !fields[4].is_empty() {
        return Err(format!(
            "EPRT's argument is {d}proto{d}address{d}port{d} (RFC 2428 §2); `{arg}` is not"
        ));
    }
    let ip: IpAddr = match fields[1] {
        "1" => fields[2].parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| {
            format!(
                "EPRT protocol 1 is IPv4, but `{}` is not an IPv4 address",
                fields[2]
            )
        })?,
        "2" => fields[2]
            .parse::<std::net::Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| {
                format!(
                    "EPRT protocol 2 is IPv6, but `{}` is not an IPv6 address",
                    fields[2]
                )
            })?,
        other => {
            return Err(format!(
                "EPRT's protocol is 1 (IPv4) or 2 (IPv6), not `{other}` (RFC 2428 §2)"
            ));
        }
    };
    let port = fields[3]
        .parse::<u16>()
        .ok()
        .filter(|_| fields[3].bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("EPRT's port `{}` is not a decimal number 0-65535", fields[3]))?;
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn port_args_encode_high_byte_first() {
        assert_eq!(port_to_args(39851), "155,171");
        assert_eq!(port_to_args(21), "0,21");
        assert_eq!(port_to_args(256), "1,0");
        assert_eq!(port_to_args(65535), "255,255");
        assert_eq!(
            addr_to_port_args("127.0.0.1:39851".parse().unwrap()),
            "127,0,0,1,155,171"
        );
    }

    #[test]
    fn port_args_decode_high_byte_first() {
        let addr = parse_port_args("127,0,0,1,155,171").unwrap();
        assert_eq!(addr, "127.0.0.1:39851".parse().unwrap());
        // The swapped pair names another port: 171×256+155.
        assert_eq!(parse_port_args("127,0,0,1,171,155").unwrap().port(), 43931);
    }

    #[test]
    fn port_args_round_trip_for_every_port_byte() {
        for port in [0u16, 1, 255, 256, 1023, 1024, 39851, 65534, 65535] {
            let addr = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 7), port);
            assert_eq!(parse_port_args(&addr_to_port_args(addr)), Ok(addr));
        }
    }

    #[rstest]
    #[case::five_numbers(
        "127,0,0,1,39851",
        "this has 5: the port is two numbers, high byte first, so port 39851 is 155,171 (39851 (155×256+171))"
    )]
    #[case::byte_too_big("127,0,0,1,300,1", "p1 is 300, more than 255")]
    #[case::host_too_big("256,0,0,1,1,1", "h1 is 256, more than 255")]
    #[case::spaces("127, 0,0,1,1,1", "h2 is ` 0`, not a decimal number")]
    #[case::empty_field("127,,0,1,1,1", "h2 is ``")]
    #[case::negative("127,0,0,1,-1,1", "p1 is `-1`")]
    #[case::seven("1,2,3,4,5,6,7", "this has 7")]
    fn port_args_errors_say_what_is_wrong(#[case] arg: &str, #[case] says: &str) {
        let err = parse_port_args(arg).unwrap_err().to_string();
        assert!(err.contains(says), "{arg}: {err}");
    }

    #[rstest]
    #[case::rfc959_form("Entering Passive Mode (127,0,0,1,155,171).", Some("127.0.0.1:39851"))]
    #[case::no_parentheses("Entering Passive Mode 127,0,0,1,155,171", Some("127.0.0.1:39851"))]
    #[case::equals_form("=127,0,0,1,155,171", Some("127.0.0.1:39851"))]
    #[case::spaces_after_commas("Entering Passive Mode (10, 1, 2, 3, 4, 5)", Some("10.1.2.3:1029"))]
    #[case::numbers_before("Mode 3 ok (192,168,1,2,7,208)", Some("192.168.1.2:2000"))]
    #[case::out_of_range("Entering Passive Mode (127,0,0,1,300,1)", None)]
    #[case::five_numbers("Entering Passive Mode (127,0,0,1,39851)", None)]
    #[case::none("Entering Passive Mode", None)]
    fn pasv_numbers_are_found_anywhere_in_the_text(#[case] text: &str, #[case] want: Option<&str>) {
        assert_eq!(find_pasv_numbers(text), want.map(|w| w.parse().unwrap()));
    }

    #[rstest]
    #[case::rfc2428("Entering Extended Passive Mode (|||39851|)", Some(39851))]
    #[case::other_delimiter("Entering Extended Passive Mode (!!!6446!)", Some(6446))]
    #[case::mixed_delimiters("(|||6446!)", None)]
    #[case::no_port("Entering Extended Passive Mode (||||)", None)]
    #[case::too_big("(|||70000|)", None)]
    #[case::nothing("EPSV ok", None)]
    fn epsv_port_is_read_between_the_delimiters(#[case] text: &str, #[case] want: Option<u16>) {
        assert_eq!(find_epsv_port(text), want);
    }

    #[rstest]
    #[case::ipv4("|1|127.0.0.1|39851|", Ok("127.0.0.1:39851"))]
    #[case::ipv6("|2|::1|6446|", Ok("[::1]:6446"))]
    #[case::other_delimiter("!1!10.0.0.1!2000!", Ok("10.0.0.1:2000"))]
    #[case::bad_protocol("|3|127.0.0.1|1|", Err("protocol is 1 (IPv4) or 2 (IPv6)"))]
    #[case::v4_with_v6("|1|::1|1|", Err("not an IPv4 address"))]
    #[case::bad_port("|1|127.0.0.1|x|", Err("port `x`"))]
    #[case::missing_end("|1|127.0.0.1|1", Err("is not"))]
    #[case::empty("", Err("needs an argument"))]
    fn eprt_arguments_parse_per_rfc_2428(#[case] arg: &str, #[case] want: Result<&str, &str>) {
        match (parse_eprt(arg), want) {
            (Ok(addr), Ok(w)) => assert_eq!(addr, w.parse().unwrap()),
            (Err(e), Err(w)) => assert!(e.contains(w), "{arg}: {e}"),
            (got, want) => panic!("{arg}: got {got:?}, want {want:?}"),
        }
    }
}
