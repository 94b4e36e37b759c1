//! Deserialization helpers for values written either as a scalar shorthand or as a map.
//!
//! Errors raised inside these visitors are marked by yaml_serde with the line and column
//! of the node being read, which is what makes every scenario error point at its place.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// A scalar as written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    Int(i64),
}

type OnScalar<T> = fn(Scalar<'_>) -> Result<T, String>;
type OnMap<T, M> = fn(M) -> Result<T, String>;

struct StrOrMap<T, M> {
    expecting: &'static str,
    on_scalar: OnScalar<T>,
    on_map: OnMap<T, M>,
    _m: PhantomData<M>,
}

impl<'de, T, M: Deserialize<'de>> Visitor<'de> for StrOrMap<T, M> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.on_scalar)(Scalar::Str(v)).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        let v = i64::try_from(v).map_err(|_| E::custom("number too large"))?;
        (self.on_scalar)(Scalar::Int(v)).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.on_scalar)(Scalar::Int(v)).map_err(E::custom)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        let fields = M::deserialize(MapAccessDeserializer::new(map))?;
        (self.on_map)(fields).map_err(de::Error::custom)
    }
}

/// Reads a value written as a scalar or as a map of fields `M`, converting either with the
/// given functions. Their `Err(message)` becomes an error at the node's location.
pub(crate) fn str_or_map<'de, D, T, M>(
    d: D,
    expecting: &'static str,
    on_scalar: OnScalar<T>,
    on_map: OnMap<T, M>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    M: Deserialize<'de>,
{
    d.deserialize_any(StrOrMap {
        expecting,
        on_scalar,
        on_map,
        _m: PhantomData,
    })
}

/// Reads a map of fields `M` and checks it with `check`; a failed check is an error at the
/// map's location.
pub(crate) fn checked_map<'de, D, T, M>(
    d: D,
    expecting: &'static str,
    check: OnMap<T, M>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    M: Deserialize<'de>,
{
    fn no_scalar<T>(_: Scalar<'_>) -> Result<T, String> {
        Err("expected a map of fields here".to_string())
    }
    d.deserialize_map(StrOrMap {
        expecting,
        on_scalar: no_scalar,
        on_map: check,
        _m: PhantomData,
    })
}

struct StrChecked<T> {
    expecting: &'static str,
    check: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for StrChecked<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.check)(v).map_err(E::custom)
    }
}

/// Reads a string and checks it with `check`; a failed check is an error at the string's
/// own location (not at the map around it).
pub(crate) fn checked_str<'de, D, T>(
    d: D,
    expecting: &'static str,
    check: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    d.deserialize_str(StrChecked { expecting, check })
}

/// Reply or status codes: `code: 220` or `code: [230, 331]`; each 100-599.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codes(pub Vec<u16>);

fn check_code<E: de::Error>(v: u64) -> Result<u16, E> {
    match u16::try_from(v) {
        Ok(code) if (100..=599).contains(&code) => Ok(code),
        _ => Err(E::custom(format!(
            "`{v}` is not a reply code: codes are three digits from 100 to 599"
        ))),
    }
}

impl<'de> Deserialize<'de> for Codes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Codes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a code such as `220`, or a list such as `[230, 331]`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Codes, E> {
                Ok(Codes(vec![check_code(v)?]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Codes, E> {
                Ok(Codes(vec![check_code(u64::try_from(v).unwrap_or(0))?]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Codes, A::Error> {
                let mut codes = Vec::new();
                while let Some(v) = seq.next_element::<u64>()? {
                    codes.push(check_code(v)?);
                }
                if codes.is_empty() {
                    return Err(de::Error::custom("an empty list of codes matches nothing"));
                }
                Ok(Codes(codes))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for Codes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Codes".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A code (100-599) or a list of codes, any of which matches.",
            "anyOf": [
                { "type": "integer", "minimum": 100, "maximum": 599 },
                { "type": "array", "items": { "type": "integer", "minimum": 100, "maximum": 599 }, "minItems": 1 }
            ]
        })
    }
}
