//! How much one scenario may make parley read and build.
//!
//! A scenario file is small, but YAML aliases repeat a node wherever they are written and
//! includes repeat a whole file: a 1 MB file with one aliased string, or ten includes per
//! level eight levels deep, would otherwise expand to gigabytes. Every scenario is
//! therefore loaded against a [`Budget`] that counts, over the file and everything it
//! includes (each include and each alias counted again):
//!
//! - the steps (`PARLEY_MAX_STEPS`, default 100,000);
//! - the bytes of its strings and payloads (`PARLEY_MAX_LITERAL_BYTES`, default 128 MiB);
//! - the bytes of YAML parsed (`PARLEY_MAX_YAML_BYTES`, default 64 MiB; also the size cap
//!   of one scenario or fragment file);
//! - the includes expanded (`PARLEY_MAX_INCLUDES`, default 10,000) and how deep they nest
//!   ([`MAX_INCLUDE_DEPTH`], fixed).
//!
//! Past a limit, loading stops with an error that names the limit and the variable that
//! raises it.

use std::fmt;

/// How deep includes may nest.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// The largest one payload (`file:`, `repeat`) may be.
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// The limits a scenario is loaded against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Steps, after includes and aliases.
    pub max_steps: usize,
    /// Bytes of strings and payloads, after includes and aliases.
    pub max_literal_bytes: usize,
    /// Bytes of YAML parsed (every include counted again); also the largest file.
    pub max_yaml_bytes: usize,
    /// Includes expanded.
    pub max_includes: usize,
}

/// One of the limits, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`Limits::max_steps`].
    Steps,
    /// [`Limits::max_literal_bytes`].
    LiteralBytes,
    /// [`Limits::max_yaml_bytes`].
    YamlBytes,
    /// [`Limits::max_includes`].
    Includes,
}

impl Limit {
    /// The environment variable that sets it.
    pub fn variable(self) -> &'static str {
        match self {
            Limit::Steps => "PARLEY_MAX_STEPS",
            Limit::LiteralBytes => "PARLEY_MAX_LITERAL_BYTES",
            Limit::YamlBytes => "PARLEY_MAX_YAML_BYTES",
            Limit::Includes => "PARLEY_MAX_INCLUDES",
        }
    }

    fn value(self, limits: &Limits) -> usize {
        match self {
            Limit::Steps => limits.max_steps,
            Limit::LiteralBytes => limits.max_literal_bytes,
            Limit::YamlBytes => limits.max_yaml_bytes,
            Limit::Includes => limits.max_includes,
        }
    }
}

impl Limits {
    /// The defaults, each overridden by its environment variable when that is set to a
    /// number (`PARLEY_MAX_STEPS=500000`).
    pub fn from_env() -> Limits {
        let mut limits = Limits::default();
        for (limit, slot) in [
            (Limit::Steps, &mut limits.max_steps),
            (Limit::LiteralBytes, &mut limits.max_literal_bytes),
            (Limit::YamlBytes, &mut limits.max_yaml_bytes),
            (Limit::Includes, &mut limits.max_includes),
        ] {
            if let Some(n) = std::env::var(limit.variable())
                .ok()
                .and_then(|v| v.trim().replace('_', "").parse::<usize>().ok())
            {
                *slot = n;
            }
        }
        limits
    }
}

/// A limit that was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    /// Which.
    pub limit: Limit,
    /// Its value.
    pub max: usize,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.limit {
            Limit::Steps => format!(
                "the scenario has more than {} steps (counting every include and every YAML alias again)",
                self.max
            ),
            Limit::LiteralBytes => format!(
                "the scenario's strings and payloads add up to more than {} (counting every include and every YAML alias again)",
                bytes(self.max)
            ),
            Limit::YamlBytes => format!(
                "the scenario and its includes are more than {} of YAML (counting every include again)",
                bytes(self.max)
            ),
            Limit::Includes => format!("the scenario expands more than {} includes", self.max),
        };
        write!(
            f,
            "{what}; this limit keeps a small file from expanding without bound: set {}=N to raise it",
            self.limit.variable()
        )
    }
}

/// `64 MiB`, `1000 bytes`.
pub fn bytes(n: usize) -> String {
    if n >= 1024 * 1024 && n % (1024 * 1024) == 0 {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 && n % 1024 == 0 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// What a scenario has used of its [`Limits`] so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Budget {
    /// The limits.
    pub limits: Limits,
    /// Steps read.
    pub steps: usize,
    /// Bytes of strings and payloads read.
    pub literal_bytes: usize,
    /// Bytes of YAML parsed.
    pub yaml_bytes: usize,
    /// Includes expanded.
    pub includes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

impl Limits {
    /// The defaults.
    pub const DEFAULT: Limits = Limits {
        max_steps: 100_000,
        max_literal_bytes: 128 * 1024 * 1024,
        max_yaml_bytes: 64 * 1024 * 1024,
        max_includes: 10_000,
    };
}

impl Budget {
    /// A fresh budget.
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            ..Budget::default()
        }
    }

    /// True once any limit was exceeded.
    pub fn is_exhausted(&self) -> bool {
        self.steps > self.limits.max_steps
            || self.literal_bytes > self.limits.max_literal_bytes
            || self.yaml_bytes > self.limits.max_yaml_bytes
            || self.includes > self.limits.max_includes
    }

    /// Takes `n` of `limit`; an error once it is exceeded.
    pub fn take(&mut self, limit: Limit, n: usize) -> Result<(), Exceeded> {
        let used = match limit {
            Limit::Steps => &mut self.steps,
            Limit::LiteralBytes => &mut self.literal_bytes,
            Limit::YamlBytes => &mut self.yaml_bytes,
            Limit::Includes => &mut self.includes,
        };
        *used = used.saturating_add(n);
        let max = limit.value(&self.limits);
        if *used > max {
            Err(Exceeded { limit, max })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_fails_past_its_limit_and_names_the_variable() {
        let mut b = Budget::new(Limits {
            max_steps: 2,
            ..Limits::default()
        });
        assert!(b.take(Limit::Steps, 1).is_ok());
        assert!(b.take(Limit::Steps, 1).is_ok());
        let err = b.take(Limit::Steps, 1).unwrap_err().to_string();
        assert!(err.contains("more than 2 steps"), "{err}");
        assert!(err.contains("PARLEY_MAX_STEPS=N"), "{err}");
    }

    #[test]
    fn sizes_are_written_in_mib_when_round() {
        assert_eq!(bytes(64 * 1024 * 1024), "64 MiB");
        assert_eq!(bytes(2048), "2 KiB");
        assert_eq!(bytes(1000), "1000 bytes");
    }
}
