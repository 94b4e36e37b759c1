//! Where nodes are, found while the file is parsed, and the context of that parse.
//!
//! yaml_serde has no spans for values, but it marks every error raised while a node is
//! deserialized with the node's line and column. A located node therefore *probes*: its
//! visitor builds the value, keeps it aside and returns a probe error; yaml_serde marks
//! the error with the node's position on its way out of the node, and the node's
//! `Deserialize` catches it, reads the position from it and returns the value it kept.
//! A scalar is consumed whole before its visitor runs, so the parse goes on exactly as if
//! nothing had happened. A map cannot be probed that way (an error inside it would leave
//! the rest of it unread), so a step — a map — probes its first key instead and replays
//! that key to the step's own fields ([`first_key`]).
//!
//! Every step and every string thus gets its `line:col` in the one parse that reads it:
//! loading is linear in the size of the file. The same thread-local context carries the
//! directory `file:` payloads resolve against and the [`Budget`] of the scenario being
//! loaded, which every step, string and payload takes from.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::limits::{Budget, Limit};

/// A 1-based line and column in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

impl Default for Pos {
    fn default() -> Pos {
        Pos { line: 1, col: 1 }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// The message of the probe error.
const PROBE: &str = "\u{0}parley-probe";

/// The position yaml_serde appended to an error's message (` at line N column M`);
/// line 1 column 1 when it appended none (it leaves out the very first position).
pub(crate) fn pos_in_message(message: &str) -> Pos {
    let Some(at) = message.rfind(" at line ") else {
        return Pos::default();
    };
    let rest = &message[at + " at line ".len()..];
    let mut words = rest.split_whitespace();
    let line = words.next().and_then(|w| w.parse().ok());
    let col = match (words.next(), words.next()) {
        (Some("column"), Some(c)) => c.parse().ok(),
        _ => None,
    };
    match (line, col) {
        (Some(line), Some(col)) => Pos { line, col },
        _ => Pos::default(),
    }
}

#[derive(Debug)]
struct Context {
    dir: PathBuf,
    budget: Budget,
}

thread_local! {
    static CONTEXT: RefCell<Vec<Context>> = const { RefCell::new(Vec::new()) };
}

/// Runs `parse` with `dir` as the directory relative paths resolve against and `budget`
/// as what the scenario may still use; returns the result and the budget after it.
pub(crate) fn with_context<R>(dir: &Path, budget: Budget, parse: impl FnOnce() -> R) -> (R, Budget) {
    CONTEXT.with(|c| {
        c.borrow_mut().push(Context {
            dir: dir.to_path_buf(),
            budget,
        })
    });
    let result = parse();
    let budget = CONTEXT
        .with(|c| c.borrow_mut().pop())
        .map(|ctx| ctx.budget)
        .unwrap_or_default();
    (result, budget)
}

/// Takes `n` of `limit` from the budget of the scenario being parsed (nothing outside a
/// parse); the error says which limit was reached and how to raise it.
pub(crate) fn take(limit: Limit, n: usize) -> Result<(), String> {
    CONTEXT.with(|c| match c.borrow_mut().last_mut() {
        Some(ctx) => ctx.budget.take(limit, n).map_err(|e| e.to_string()),
        None => Ok(()),
    })
}

/// [`take`] with a serde error.
pub(crate) fn take_de<E: de::Error>(limit: Limit, n: usize) -> Result<(), E> {
    take(limit, n).map_err(E::custom)
}

/// The directory of the file being parsed (for `file:` payloads).
pub(crate) fn base_dir() -> PathBuf {
    CONTEXT.with(|c| c.borrow().last().map(|ctx| ctx.dir.clone()).unwrap_or_default())
}

/// A value that remembers where it was written.
pub(crate) trait Positioned {
    /// Records `pos` as the value's place (a scalar written where a map was allowed).
    fn set_pos(&mut self, pos: Pos);
}

/// Wraps a visitor: a scalar's value is kept in `slot` and a probe error returned, so
/// that yaml_serde marks it with the scalar's position. Maps and sequences go through
/// unprobed.
struct Probe<'s, 'de, V: Visitor<'de>> {
    inner: V,
    slot: &'s Cell<Option<V::Value>>,
    _de: PhantomData<&'de ()>,
}

macro_rules! probe_scalar {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            let value = self.inner.$method(v)?;
            self.slot.set(Some(value));
            Err(E::custom(PROBE))
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Probe<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    probe_scalar!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_i128(i128),
        visit_u128(u128),
        visit_f64(f64),
        visit_str(&str),
        visit_string(String),
        visit_bytes(&[u8]),
    );

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        let value = self.inner.visit_borrowed_str(v)?;
        self.slot.set(Some(value));
        Err(E::custom(PROBE))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        let value = self.inner.visit_unit()?;
        self.slot.set(Some(value));
        Err(E::custom(PROBE))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(d)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(map)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

/// Deserializes any node with `visitor`; for a scalar, also where it is.
pub(crate) fn with_pos<'de, D, V>(d: D, visitor: V) -> Result<(V::Value, Option<Pos>), D::Error>
where
    D: Deserializer<'de>,
    V: Visitor<'de>,
{
    let slot = Cell::new(None);
    let probe = Probe {
        inner: visitor,
        slot: &slot,
        _de: PhantomData,
    };
    match d.deserialize_any(probe) {
        Ok(value) => Ok((value, None)),
        Err(err) => match slot.take() {
            Some(value) => Ok((value, Some(pos_in_message(&err.to_string())))),
            None => Err(err),
        },
    }
}

/// [`with_pos`], recording the position in the value.
pub(crate) fn positioned<'de, D, V>(d: D, visitor: V) -> Result<V::Value, D::Error>
where
    D: Deserializer<'de>,
    V: Visitor<'de>,
    V::Value: Positioned,
{
    let (mut value, pos) = with_pos(d, visitor)?;
    if let Some(pos) = pos {
        value.set_pos(pos);
    }
    Ok(value)
}

/// Reads the first key of a map as a string and where it is.
struct KeyProbe<'s>(&'s Cell<Option<String>>);

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        struct V<'s>(&'s Cell<Option<String>>);
        impl Visitor<'_> for V<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
                self.0.set(Some(v.to_string()));
                Err(E::custom(PROBE))
            }
        }
        d.deserialize_str(V(self.0))
    }
}

/// A map whose first key was already read: yields it again, then the rest.
pub(crate) struct Replay<A> {
    first: Option<String>,
    rest: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(key) => seed
                .deserialize(de::value::StringDeserializer::<A::Error>::new(key))
                .map(Some),
            None => self.rest.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.rest.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.rest.size_hint()
    }
}

/// Reads the first key of `map` to learn where the map is (the position of its first
/// key; line 1 column 1 for an empty map) and gives back a map that still has every key.
pub(crate) fn first_key<'de, A: MapAccess<'de>>(mut map: A) -> Result<(Replay<A>, Pos), A::Error> {
    let slot = Cell::new(None);
    match map.next_key_seed(KeyProbe(&slot)) {
        Ok(_) => Ok((
            Replay {
                first: None,
                rest: map,
            },
            Pos::default(),
        )),
        Err(err) => match slot.take() {
            Some(key) => {
                let pos = pos_in_message(&err.to_string());
                Ok((
                    Replay {
                        first: Some(key),
                        rest: map,
                    },
                    pos,
                ))
            }
            None => Err(err),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq)]
    struct At(String, Option<Pos>);

    impl<'de> Deserialize<'de> for At {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<At, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = String;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                    Ok(v.to_string())
                }
            }
            let (s, pos) = with_pos(d, V)?;
            Ok(At(s, pos))
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        a: At,
        list: Vec<At>,
        b: At,
    }

    #[test]
    fn a_probed_scalar_knows_its_line_and_column_and_the_parse_goes_on() {
        let doc: Doc =
            serde_yaml::from_str("a: one\nlist:\n  - two\n  - &x three\n  - *x\nb:   \"four\"\n").unwrap();
        assert_eq!(doc.a, At("one".into(), Some(Pos { line: 1, col: 4 })));
        assert_eq!(doc.list[0], At("two".into(), Some(Pos { line: 3, col: 5 })));
        assert_eq!(doc.list[1], At("three".into(), Some(Pos { line: 4, col: 5 })));
        // An alias is the anchored node: its position is the anchor's.
        assert_eq!(doc.list[2].0, "three");
        assert_eq!(doc.b, At("four".into(), Some(Pos { line: 6, col: 6 })));
    }

    #[test]
    fn an_error_after_a_probe_is_still_reported_at_its_place() {
        let err = serde_yaml::from_str::<Doc>("a: one\nlist: []\nb: x\nc: 1\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `c`"), "{err}");
        assert_eq!(err.location().map(|l| l.line()), Some(4));
    }

    #[test]
    fn the_position_is_read_from_yaml_serde_messages() {
        assert_eq!(
            pos_in_message("steps[3].client: x at line 12 column 7"),
            Pos { line: 12, col: 7 }
        );
        assert_eq!(pos_in_message("no position"), Pos::default());
    }
}
