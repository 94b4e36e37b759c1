//! Deserialization helpers for values written either as a scalar shorthand or as a map.
//!
//! Errors raised inside these visitors are marked by yaml_serde with the line and column
//! of the node being read, which is what makes every scenario error point at its place.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::limits::Limit;
use super::locate::{self, Positioned};

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

/// [`str_or_map`] for a value that records where a scalar form was written.
pub(crate) fn str_or_map_at<'de, D, T, M>(
    d: D,
    expecting: &'static str,
    on_scalar: OnScalar<T>,
    on_map: OnMap<T, M>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    M: Deserialize<'de>,
    T: Positioned,
{
    locate::positioned(
        d,
        StrOrMap {
            expecting,
            on_scalar,
            on_map,
            _m: PhantomData,
        },
    )
}

/// Reads one value of the scenario language from YAML `text` (a payload, a step), as
/// the loader does but outside any scenario's limits; for tests and tools.
pub fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}

/// A string from a scenario file. Every string read takes its length from the scenario's
/// budget of literal bytes, so an alias repeated many times cannot grow without bound.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(pub String);

impl Text {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                locate::take_de::<E>(Limit::LiteralBytes, v.len())?;
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

impl schemars::JsonSchema for Text {
    fn schema_name() -> Cow<'static, str> {
        "String".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

/// Bytes a JSON node is counted as, besides its strings.
const JSON_NODE: usize = 16;

/// A JSON value written in YAML (`json:` matchers), counted against the literal budget
/// node by node while it is read.
#[derive(Debug, Clone, PartialEq)]
pub struct Json(pub serde_json::Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde_json::Value;
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
                locate::take_de::<E>(Limit::LiteralBytes, JSON_NODE)?;
                Ok(Json(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
                locate::take_de::<E>(Limit::LiteralBytes, JSON_NODE)?;
                Ok(Json(Value::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
                locate::take_de::<E>(Limit::LiteralBytes, JSON_NODE)?;
                Ok(Json(Value::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
                locate::take_de::<E>(Limit::LiteralBytes, JSON_NODE)?;
                Ok(Json(
                    serde_json::Number::from_f64(v)
                        .map(Value::Number)
                        .unwrap_or(Value::Null),
                ))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
                locate::take_de::<E>(Limit::LiteralBytes, JSON_NODE + v.len())?;
                Ok(Json(Value::String(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
                locate::take_de::<E>(Limit::LiteralBytes, JSON_NODE)?;
                Ok(Json(Value::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<Json, E> {
                self.visit_unit()
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
                Json::deserialize(d)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                locate::take_de::<A::Error>(Limit::LiteralBytes, JSON_NODE)?;
                let mut items = Vec::new();
                while let Some(Json(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json(Value::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                locate::take_de::<A::Error>(Limit::LiteralBytes, JSON_NODE)?;
                let mut object = serde_json::Map::new();
                while let Some((Text(key), Json(value))) = map.next_entry()? {
                    object.insert(key, value);
                }
                Ok(Json(Value::Object(object)))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for Json {
    fn schema_name() -> Cow<'static, str> {
        <serde_json::Value as schemars::JsonSchema>::schema_name()
    }
    fn inline_schema() -> bool {
        <serde_json::Value as schemars::JsonSchema>::inline_schema()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <serde_json::Value as schemars::JsonSchema>::json_schema(generator)
    }
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
