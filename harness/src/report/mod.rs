//! Renders outcomes: human text for terminals and logs, a versioned JSON document, JUnit
//! XML for CI viewers, and plain transcripts for snapshots. Rendering is apart from the
//! engine: these functions take finished [`Outcome`](crate::outcome::Outcome)s and
//! return strings; only `main.rs` writes them anywhere.

pub mod diff;
pub mod grades;
pub mod human;
pub mod json;
pub mod junit;
pub mod live;
pub mod transcript;

/// Whether to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Resolves the choice for a stream that is (or is not) a terminal; `NO_COLOR` (any
    /// non-empty value) turns `Auto` off.
    pub fn resolve(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}
