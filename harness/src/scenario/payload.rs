//! Payloads: the bytes a step sends or expects.
//!
//! A plain string is UTF-8 text with `{{variables}}`. For bytes that text cannot carry,
//! a map says how to build them: `hex`, `base64`, `file` (relative to the scenario),
//! `octets: [lo, hi]` (every value from lo to hi), or `repeat` a payload `times` times.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use super::de::{Scalar, Text, str_or_map_at};
use super::limits::{Limit, bytes};
use super::locate::{self, Pos, Positioned};
use super::template::{MissingVar, Template, Vars};

pub use super::limits::MAX_PAYLOAD;

/// The most bytes one `repeat` may generate. A repeat is sent and compared as it is
/// generated, never built whole, where the message is raw bytes or a data connection's
/// contents; elsewhere (an HTTP body, an FTP command) it is built, and more than
/// [`MAX_PAYLOAD`] is refused when the step runs.
pub const MAX_REPEAT: u64 = 64 * 1024 * 1024 * 1024;

/// Bytes to send or expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// UTF-8 text with variables.
    Text(Template),
    /// Fixed bytes (from hex, base64, a file or an octet range).
    Bytes(Arc<[u8]>),
    /// A payload repeated.
    Repeat(Box<Payload>, usize),
}

impl Payload {
    /// Builds the bytes.
    pub fn render(&self, vars: &dyn Vars) -> Result<Vec<u8>, MissingVar> {
        Ok(match self {
            Payload::Text(t) => t.render(vars)?.into_bytes(),
            Payload::Bytes(b) => b.to_vec(),
            Payload::Repeat(unit, times) => unit.render(vars)?.repeat(*times),
        })
    }

    /// The bytes as a [`ByteStream`]: a repeat keeps its unit once and its count, so a
    /// payload of any size costs the memory of its parts, not of its length.
    pub fn stream(&self, vars: &dyn Vars) -> Result<ByteStream, MissingVar> {
        Ok(match self {
            Payload::Text(t) => ByteStream::from(t.render(vars)?.into_bytes()),
            Payload::Bytes(b) => ByteStream {
                parts: vec![(Arc::clone(b), 1)],
            },
            Payload::Repeat(unit, times) => {
                let unit = unit.stream(vars)?;
                match unit.parts.as_slice() {
                    [(bytes, n)] => ByteStream::repeated(bytes, n.saturating_mul(*times)),
                    _ => ByteStream::repeated(&unit.to_vec().into(), *times),
                }
            }
        })
    }

    /// The templates inside, for variable checks.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Payload::Text(t) => vec![t],
            Payload::Bytes(_) => vec![],
            Payload::Repeat(unit, _) => unit.templates(),
        }
    }

    /// Length when it does not depend on variables.
    pub fn fixed_len(&self) -> Option<usize> {
        match self {
            Payload::Text(t) if t.is_literal() => Some(t.source.len()),
            Payload::Text(_) => None,
            Payload::Bytes(b) => Some(b.len()),
            Payload::Repeat(unit, times) => unit.fixed_len().map(|l| l * times),
        }
    }
}

/// A payload's bytes, built lazily: parts, each a unit and how many times it repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByteStream {
    /// `(unit, times)`, in order.
    pub parts: Vec<(Arc<[u8]>, usize)>,
}

impl From<Vec<u8>> for ByteStream {
    fn from(bytes: Vec<u8>) -> ByteStream {
        ByteStream {
            parts: vec![(bytes.into(), 1)],
        }
    }
}

/// A short unit is repeated into a block of about this many bytes, so that generating
/// or comparing a long repeat moves blocks, not a few bytes at a time.
const BLOCK: usize = 256 * 1024;

impl ByteStream {
    /// `unit` `times` times: a block of whole units, then the units left over.
    fn repeated(unit: &Arc<[u8]>, times: usize) -> ByteStream {
        let per_block = if unit.is_empty() {
            1
        } else {
            (BLOCK / unit.len()).max(1)
        };
        if per_block == 1 || times < 2 * per_block {
            return ByteStream {
                parts: vec![(Arc::clone(unit), times)],
            };
        }
        let block: Arc<[u8]> = unit.repeat(per_block).into();
        let mut parts = vec![(block, times / per_block)];
        if times % per_block > 0 {
            parts.push((Arc::clone(unit), times % per_block));
        }
        ByteStream { parts }
    }

    /// How many bytes in all.
    pub fn len(&self) -> u64 {
        self.parts
            .iter()
            .map(|(u, n)| (u.len() as u64).saturating_mul(*n as u64))
            .fold(0u64, u64::saturating_add)
    }

    /// True when it holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All the bytes (for streams known to be small).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        for (unit, times) in &self.parts {
            for _ in 0..*times {
                out.extend_from_slice(unit);
            }
        }
        out
    }

    /// A cursor at the first byte.
    pub fn cursor(&self) -> StreamCursor {
        StreamCursor::default()
    }
}

/// A position in a [`ByteStream`] (kept apart from it, so both can be owned together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCursor {
    part: usize,
    /// Bytes of the current part already passed.
    offset: u64,
}

impl StreamCursor {
    /// The next bytes of `stream`, at most `max`, as one slice of one of its parts, moving
    /// past them; empty at the end. Writing or comparing from these slices copies nothing.
    pub fn next<'a>(&mut self, stream: &'a ByteStream, max: usize) -> &'a [u8] {
        loop {
            let Some((unit, times)) = stream.parts.get(self.part) else {
                return &[];
            };
            let part_len = (unit.len() as u64).saturating_mul(*times as u64);
            if unit.is_empty() || self.offset >= part_len {
                self.part += 1;
                self.offset = 0;
                continue;
            }
            let at = (self.offset % unit.len() as u64) as usize;
            let room = max.min((part_len - self.offset).min((unit.len() - at) as u64) as usize);
            self.offset += room as u64;
            return &unit[at..at + room];
        }
    }

    /// Appends the next `max` bytes of `stream` at most to `out`, moving past them;
    /// returns how many (0 at the end).
    pub fn fill(&mut self, stream: &ByteStream, out: &mut Vec<u8>, max: usize) -> usize {
        let mut written = 0;
        while written < max {
            let piece = self.next(stream, max - written);
            if piece.is_empty() {
                break;
            }
            out.extend_from_slice(piece);
            written += piece.len();
        }
        written
    }

    /// Compares `data` with the next bytes of `stream` and moves past them: `None` when
    /// equal, else the index in `data` of the first differing byte (where the stream
    /// ends, when it ends first); then `window` holds up to that many expected bytes
    /// from the difference on.
    pub fn compare(
        &mut self,
        stream: &ByteStream,
        data: &[u8],
        window: &mut Vec<u8>,
        shown: usize,
    ) -> Option<usize> {
        let mut at = 0;
        while at < data.len() {
            let before = *self;
            let expected = self.next(stream, data.len() - at);
            if expected.is_empty() {
                window.clear();
                return Some(at);
            }
            let got = &data[at..at + expected.len()];
            if got != expected {
                let i = got.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(0);
                // The expected bytes from the difference on, for the report.
                let mut from = before;
                let mut skipped = Vec::new();
                from.fill(stream, &mut skipped, i);
                window.clear();
                from.fill(stream, window, shown);
                return Some(at + i);
            }
            at += expected.len();
        }
        None
    }
}

impl Positioned for Payload {
    fn set_pos(&mut self, pos: Pos) {
        if let Payload::Text(t) = self {
            t.set_pos(pos);
        }
    }
}

/// The map form of a payload.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PayloadFields {
    /// UTF-8 text; `{{name}}` inserts a variable.
    pub text: Option<Template>,
    /// Bytes in hexadecimal; spaces, newlines and `:` between octets are ignored.
    pub hex: Option<Text>,
    /// Bytes in standard base64.
    pub base64: Option<Text>,
    /// A regular file whose bytes are the payload (at most 64 MiB), relative to the
    /// scenario file.
    pub file: Option<Text>,
    /// Every octet value from the first number to the second, e.g. `[0, 255]`.
    pub octets: Option<(u8, u8)>,
    /// A payload to repeat `times` times.
    pub repeat: Option<Box<Payload>>,
    /// How many times to repeat (with `repeat`).
    pub times: Option<usize>,
}

/// A payload written as a scalar: text with variables.
pub(crate) fn from_scalar(s: Scalar<'_>) -> Result<Payload, String> {
    let text = match s {
        Scalar::Str(s) => s.to_string(),
        Scalar::Int(i) => i.to_string(),
    };
    Ok(Payload::Text(Template::parse(&text)?))
}

/// Builds a payload from its map form.
pub(crate) fn from_fields(f: PayloadFields) -> Result<Payload, String> {
    let given: Vec<&str> = [
        ("text", f.text.is_some()),
        ("hex", f.hex.is_some()),
        ("base64", f.base64.is_some()),
        ("file", f.file.is_some()),
        ("octets", f.octets.is_some()),
        ("repeat", f.repeat.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if given.len() != 1 {
        return Err(format!(
            "a payload map needs exactly one of `text`, `hex`, `base64`, `file`, `octets`, `repeat`; \
             this one has {}",
            if given.is_empty() {
                "none".to_string()
            } else {
                format!("`{}`", given.join("`, `"))
            }
        ));
    }
    if f.times.is_some() && f.repeat.is_none() {
        return Err("`times` goes with `repeat`".to_string());
    }
    let payload = if let Some(t) = f.text {
        Payload::Text(t)
    } else if let Some(hex) = f.hex {
        Payload::Bytes(decode_hex(&hex)?.into())
    } else if let Some(b64) = f.base64 {
        let clean: String = b64.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(clean)
            .map_err(|e| format!("`base64` is not valid base64: {e}"))?;
        Payload::Bytes(bytes.into())
    } else if let Some(file) = f.file {
        let path = locate::base_dir().join(file.as_str());
        let bytes = super::source::read(&path, MAX_PAYLOAD, "")
            .map_err(|e| format!("cannot read payload file `{}`: {e}", path.display()))?;
        locate::take(Limit::LiteralBytes, bytes.len())?;
        Payload::Bytes(bytes.into())
    } else if let Some((lo, hi)) = f.octets {
        if lo > hi {
            return Err(format!(
                "`octets: [{lo}, {hi}]` is empty: the first number must not exceed the second"
            ));
        }
        Payload::Bytes((lo..=hi).collect::<Vec<u8>>().into())
    } else if let Some(unit) = f.repeat {
        let times = f.times.ok_or("`repeat` needs `times`, e.g. `times: 4096`")?;
        // A unit whose length depends on variables is at least one byte once filled in
        // (or nothing, which `times` bounds all the same).
        let len = unit.fixed_len().unwrap_or(1).max(1);
        if (len as u64).saturating_mul(times as u64) > MAX_REPEAT {
            return Err(format!(
                "`repeat` builds {} bytes, more than the {} a repeat may generate",
                bytes(len.saturating_mul(times)),
                bytes(MAX_REPEAT as usize)
            ));
        }
        Payload::Repeat(unit, times)
    } else {
        unreachable!("exactly one field was checked above")
    };
    Ok(payload)
}

impl PayloadFields {
    /// True when no field is given.
    pub fn is_empty(&self) -> bool {
        self.text.is_none()
            && self.hex.is_none()
            && self.base64.is_none()
            && self.file.is_none()
            && self.octets.is_none()
            && self.repeat.is_none()
            && self.times.is_none()
    }
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = hex
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if digits.len() % 2 != 0 {
        return Err(format!(
            "`hex` has {} digits; two digits make an octet",
            digits.len()
        ));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).unwrap_or("??");
            u8::from_str_radix(text, 16).map_err(|_| format!("`{text}` in `hex` is not a hexadecimal octet"))
        })
        .collect()
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_or_map_at(
            d,
            "a string, or a map with one of `text`, `hex`, `base64`, `file`, `octets`, `repeat`",
            from_scalar,
            from_fields,
        )
    }
}

impl JsonSchema for Payload {
    fn schema_name() -> Cow<'static, str> {
        "Payload".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let fields = generator.subschema_for::<PayloadFields>();
        json_schema!({
            "description": "Bytes: a string (UTF-8 text with `{{variables}}`), or a map with one of `text`, `hex`, `base64`, `file`, `octets`, `repeat` (+ `times`).",
            "anyOf": [ { "type": "string" }, fields ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn payload(yaml: &str) -> Result<Payload, String> {
        serde_yaml::from_str::<Payload>(yaml).map_err(|e| e.to_string())
    }

    fn bytes(p: &Payload) -> Vec<u8> {
        p.render(&BTreeMap::new()).unwrap()
    }

    #[test]
    fn string_is_text() {
        assert_eq!(bytes(&payload("\"hi\\r\\n\"").unwrap()), b"hi\r\n");
    }

    #[test]
    fn hex_octets_base64_and_repeat_build_bytes() {
        assert_eq!(bytes(&payload("{hex: '00 ff:10'}").unwrap()), [0, 255, 16]);
        assert_eq!(bytes(&payload("{octets: [0, 255]}").unwrap()).len(), 256);
        assert_eq!(bytes(&payload("{base64: aGk=}").unwrap()), b"hi");
        assert_eq!(bytes(&payload("{repeat: ab, times: 3}").unwrap()), b"ababab");
    }

    #[test]
    fn two_kinds_in_one_map_are_refused() {
        let err = payload("{hex: '00', text: x}").unwrap_err();
        assert!(err.contains("exactly one of"), "{err}");
    }

    #[test]
    fn odd_hex_is_refused() {
        assert!(
            payload("{hex: '0'}")
                .unwrap_err()
                .contains("two digits make an octet")
        );
    }

    #[test]
    fn a_streamed_repeat_is_the_rendered_repeat_read_in_any_pieces() {
        for (unit, times) in [
            ("ab", 3),
            ("0123456789abcdef", 5000),
            ("x", 40_000),
            ("seven!!", 9_999),
        ] {
            let p = Payload::Repeat(Box::new(Payload::Text(Template::literal(unit))), times);
            let whole = bytes(&p);
            let stream = p.stream(&BTreeMap::new()).unwrap();
            assert_eq!(stream.len(), whole.len() as u64);
            for piece in [1, 7, 4096, 100_000] {
                let mut cursor = stream.cursor();
                let mut out = Vec::new();
                while cursor.fill(&stream, &mut out, piece) > 0 {}
                assert_eq!(out, whole, "{unit} x {times} in pieces of {piece}");
            }
            // A difference is found where it is, across pieces.
            let mut wrong = whole.clone();
            let at = whole.len() * 2 / 3;
            wrong[at] ^= 1;
            let mut cursor = stream.cursor();
            let mut window = Vec::new();
            let mut seen = 0;
            let mut found = None;
            for chunk in wrong.chunks(1000) {
                if let Some(i) = cursor.compare(&stream, chunk, &mut window, 8) {
                    assert_eq!(window, whole[seen + i..(seen + i + 8).min(whole.len())]);
                    found = Some(seen + i);
                    break;
                }
                seen += chunk.len();
            }
            assert_eq!(found, Some(at), "{unit} x {times}");
        }
    }
}
