//! Durations in scenario files and on the command line (`--timeout`): `5s`, `250ms`,
//! `1.5s`, `2m`, at most an hour. A number needs its unit: `timeout: 5` is refused with a
//! message that says to write `5s` (or `5ms`), since a bare number reads as seconds to
//! some and as milliseconds to others. Any number, however large, is an error and
//! never a panic.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The longest duration a scenario may ask for.
pub const MAX: Duration = Duration::from_secs(3600);

/// A duration written in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationValue(pub Duration);

/// Parses `5s`, `250ms`, `1.5s`, `2m`: a decimal number and its unit.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let shown = shown(text);
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{shown}` is not a duration; write e.g. `5s`, `250ms`, `1.5s` or `2m`"))?;
    let seconds = match unit.trim() {
        "" => return Err(unitless(&shown)),
        "s" | "sec" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        other => {
            return Err(format!(
                "unknown unit `{}` in `{shown}`; use `ms`, `s` or `m`",
                self::shown(other)
            ));
        }
    };
    from_secs(seconds, &shown)
}

/// The message for a number without a unit.
fn unitless(number: &str) -> String {
    format!("`{number}` has no unit: write `{number}s` for seconds or `{number}ms` for milliseconds")
}

/// At most 40 characters of what was written, for messages.
fn shown(text: &str) -> String {
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Checks before converting: `Duration::from_secs_f64` panics past `u64::MAX` seconds.
fn from_secs(seconds: f64, text: &str) -> Result<Duration, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a positive duration"));
    }
    if seconds > MAX.as_secs_f64() {
        return Err(format!("`{text}` is longer than the limit of 1 hour"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Formats a duration the way reports print it: `5.0 s`, `250 ms`.
pub fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `5s` or `250ms`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationValue, E> {
                parse(v).map(DurationValue).map_err(E::custom)
            }
            // A YAML number (`timeout: 5`, `timeout: 1e20`) has no unit.
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationValue, E> {
                Err(E::custom(unitless(&v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationValue, E> {
                Err(E::custom(unitless(&v.to_string())))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<DurationValue, E> {
                Err(E::custom(unitless(&shown(&v.to_string()))))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<DurationValue, E> {
                Err(E::custom(unitless(&shown(&v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DurationValue, E> {
                Err(E::custom(unitless(&shown(&v.to_string()))))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for DurationValue {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration with its unit: `5s`, `250ms`, `1.5s`, `2m` (at most an hour).",
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)?\\s*(ms|s|sec|m|min)$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("5s", 5000)]
    #[case("250ms", 250)]
    #[case("1.5s", 1500)]
    #[case("2m", 120_000)]
    #[case("0s", 0)]
    #[case("1e3ms", 1000)]
    fn durations_parse_in_every_unit(#[case] text: &str, #[case] millis: u128) {
        assert_eq!(parse(text).unwrap().as_millis(), millis);
    }

    #[rstest]
    #[case("five", "is not a duration")]
    #[case("5h", "unknown unit `h`")]
    #[case("2000m", "longer than the limit")]
    #[case("3", "`3` has no unit: write `3s` for seconds or `3ms` for milliseconds")]
    #[case("1e20", "has no unit")]
    #[case("1e20s", "longer than the limit of 1 hour")]
    #[case("99999999999999999999s", "longer than the limit of 1 hour")]
    #[case("1e400s", "not a positive duration")]
    #[case("-5s", "not a positive duration")]
    #[case("nan", "is not a duration")]
    fn bad_durations_say_what_is_allowed(#[case] text: &str, #[case] fragment: &str) {
        let err = parse(text).unwrap_err();
        assert!(err.contains(fragment), "{err}");
    }

    #[rstest]
    #[case("timeout: 5", "`5` has no unit: write `5s`")]
    #[case("timeout: 1e20", "`100000000000000000000` has no unit")]
    #[case("timeout: 99999999999999999999", "has no unit")]
    #[case("timeout: 99999999999999999999s", "longer than the limit of 1 hour")]
    #[case("timeout: .inf", "has no unit")]
    fn yaml_durations_of_any_size_are_errors_not_panics(#[case] yaml: &str, #[case] fragment: &str) {
        #[derive(Debug, serde::Deserialize)]
        struct T {
            #[allow(dead_code)]
            timeout: DurationValue,
        }
        let err = serde_yaml::from_str::<T>(yaml).unwrap_err().to_string();
        assert!(err.contains(fragment), "{yaml}: {err}");
    }

    #[test]
    fn human_prints_seconds_with_one_decimal() {
        assert_eq!(human(Duration::from_secs(5)), "5.0 s");
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
    }
}
