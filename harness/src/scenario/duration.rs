//! Durations in scenario files: `5s`, `250ms`, `1.5s`, `2m`, or a plain number of seconds.

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

/// Parses `5s`, `250ms`, `1.5s`, `2m`, `0.5` (seconds).
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. `5s`, `250ms`, `1.5s` or `2m`"))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`; use `ms`, `s` or `m`"
            ));
        }
    };
    from_secs(seconds, text)
}

fn from_secs(seconds: f64, text: &str) -> Result<Duration, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a positive duration"));
    }
    let duration = Duration::from_secs_f64(seconds);
    if duration > MAX {
        return Err(format!("`{text}` is longer than the limit of 1 hour"));
    }
    Ok(duration)
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
                f.write_str("a duration such as `5s`, `250ms` or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationValue, E> {
                parse(v).map(DurationValue).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationValue, E> {
                from_secs(v as f64, &v.to_string())
                    .map(DurationValue)
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationValue, E> {
                from_secs(v as f64, &v.to_string())
                    .map(DurationValue)
                    .map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DurationValue, E> {
                from_secs(v, &v.to_string()).map(DurationValue).map_err(E::custom)
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
            "description": "A duration: `5s`, `250ms`, `1.5s`, `2m`, or a number of seconds.",
            "anyOf": [
                { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?\\s*(ms|s|sec|m|min)?$" },
                { "type": "number", "minimum": 0 }
            ]
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
    #[case("3", 3000)]
    fn durations_parse_in_every_unit(#[case] text: &str, #[case] millis: u128) {
        assert_eq!(parse(text).unwrap().as_millis(), millis);
    }

    #[rstest]
    #[case("five", "is not a duration")]
    #[case("5h", "unknown unit `h`")]
    #[case("2000m", "longer than the limit")]
    fn bad_durations_say_what_is_allowed(#[case] text: &str, #[case] fragment: &str) {
        let err = parse(text).unwrap_err();
        assert!(err.contains(fragment), "{err}");
    }

    #[test]
    fn human_prints_seconds_with_one_decimal() {
        assert_eq!(human(Duration::from_secs(5)), "5.0 s");
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
    }
}
