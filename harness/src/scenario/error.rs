//! Scenario errors: every one points at `file:line:col`, shows the line, and says what
//! is allowed, rendered rustc-style with annotate-snippets.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// A scenario that cannot be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: cannot read the file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid scenario.
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
}

impl ScenarioError {
    /// Renders the error for a terminal or a log, rustc-style.
    pub fn render(&self, color: bool) -> String {
        match self {
            ScenarioError::Read { .. } => format!("error: {self}"),
            ScenarioError::Invalid(d) => d.render(color),
        }
    }

    /// The diagnostic, when there is one.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            ScenarioError::Invalid(d) => Some(d),
            ScenarioError::Read { .. } => None,
        }
    }

    /// The file the error is in.
    pub fn file(&self) -> &Path {
        match self {
            ScenarioError::Read { path, .. } => path,
            ScenarioError::Invalid(d) => &d.file,
        }
    }
}

/// An error at a place in a file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub col: usize,
    /// What is wrong, in one sentence (may say what is allowed).
    pub message: String,
    /// A short label under the offending text.
    pub label: String,
    /// What to do about it.
    pub help: Option<String>,
    /// Further context, e.g. where a fragment was included from.
    pub notes: Vec<String>,
    /// The file's text.
    pub source: Arc<str>,
    /// How many characters of the line to underline (at least 1).
    pub width: usize,
    /// Further errors found in the same scenario (in it or in the fragments it
    /// includes), in the order found; rendered after this one.
    pub more: Vec<Diagnostic>,
    /// Errors found but not kept (past [`MAX_SHOWN`]).
    pub not_shown: usize,
}

/// How many errors of one scenario a diagnostic keeps.
pub const MAX_SHOWN: usize = 50;

/// How many characters of a long line a rendering shows around the error.
const LINE_WINDOW: usize = 120;

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )?;
        match self.count() {
            1 => Ok(()),
            2 => write!(f, " (and 1 more error)"),
            n => write!(f, " (and {} more errors)", n - 1),
        }
    }
}

impl Diagnostic {
    /// A diagnostic at `line:col` of `file`; the underline covers the token there.
    pub fn at(
        file: &Path,
        source: Arc<str>,
        line: usize,
        col: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let width = token_width(&source, line, col);
        Diagnostic {
            file: file.to_path_buf(),
            line: line.max(1),
            col: col.max(1),
            message: message.into(),
            label: String::new(),
            help: None,
            notes: Vec::new(),
            source,
            width,
            more: Vec::new(),
            not_shown: 0,
        }
    }

    /// All the errors: this one, then the ones kept in `more`.
    pub fn count(&self) -> usize {
        1 + self.more.len() + self.not_shown
    }

    /// One diagnostic for several errors (the first holds the others); `None` for none.
    pub fn join(mut all: Vec<Diagnostic>) -> Option<Diagnostic> {
        if all.is_empty() {
            return None;
        }
        let mut first = all.remove(0);
        let extra = all.len().saturating_sub(MAX_SHOWN - 1);
        all.truncate(MAX_SHOWN - 1);
        first.more = all;
        first.not_shown = extra;
        Some(first)
    }

    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Underlines `needle` instead of the token at the column: on the diagnostic's line
    /// after the column, or on one of the next few lines (the rest of the node).
    pub fn underline(mut self, needle: &str) -> Diagnostic {
        let source = Arc::clone(&self.source);
        for (i, text) in source.lines().enumerate().skip(self.line - 1).take(12) {
            let from = if i + 1 == self.line {
                char_to_byte(text, self.col - 1)
            } else {
                0
            };
            if let Some(pos) = text[from..].find(needle).map(|p| p + from) {
                self.line = i + 1;
                self.col = text[..pos].chars().count() + 1;
                self.width = needle.chars().count().max(1);
                break;
            }
        }
        self
    }

    /// Renders it rustc-style: title, `--> file:line:col`, the line, an underline, notes;
    /// then the further errors, and how many there are.
    pub fn render(&self, color: bool) -> String {
        let mut out = self.render_one(color);
        for d in &self.more {
            out.push_str("\n\n");
            out.push_str(&d.render_one(color));
        }
        if self.not_shown > 0 {
            out.push_str(&format!("\n\nerror: {} more error(s) not shown", self.not_shown));
        }
        if self.count() > 1 {
            out.push_str(&format!(
                "\n\nerror: {} errors in {}",
                self.count(),
                self.file.display()
            ));
        }
        out
    }

    /// Renders this error alone. Only its line is shown, and of a long line (a file that
    /// is not YAML, a minified blob) only a window around the column.
    fn render_one(&self, color: bool) -> String {
        let (line_text, start, end) = self.line_span();
        let path = self.file.display().to_string();
        let snippet = Snippet::source(line_text)
            .line_start(self.line)
            .path(&path)
            .fold(true)
            .annotation(AnnotationKind::Primary.span(start..end).label(&*self.label));
        let mut groups = vec![Level::ERROR.primary_title(&*self.message).element(snippet)];
        for note in &self.notes {
            groups.push(Group::with_title(Level::NOTE.secondary_title(note.as_str())));
        }
        if let Some(help) = &self.help {
            groups.push(Group::with_title(Level::HELP.secondary_title(help.as_str())));
        }
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        renderer.render(&groups)
    }

    /// The diagnostic's line (cropped to a window around the column when long) and the
    /// byte span to underline in it.
    fn line_span(&self) -> (String, usize, usize) {
        let text = self
            .source
            .split('\n')
            .nth(self.line - 1)
            .unwrap_or("")
            .trim_end_matches('\r');
        let chars = text.chars().count();
        let col = self.col - 1;
        let (from, to) = if chars > 2 * LINE_WINDOW {
            let from = col.saturating_sub(LINE_WINDOW / 2).min(chars);
            (from, (from + LINE_WINDOW).min(chars))
        } else {
            (0, chars)
        };
        let window: String = text.chars().skip(from).take(to - from).collect();
        let mut shown = String::new();
        if from > 0 {
            shown.push('…');
        }
        shown.push_str(&window);
        if to < chars {
            shown.push('…');
        }
        let lead = if from > 0 { '…'.len_utf8() } else { 0 };
        let start_char = col.saturating_sub(from).min(to - from);
        let end_char = (start_char + self.width).min((to - from).max(start_char));
        let start = lead + char_to_byte(&window, start_char);
        let end = lead + char_to_byte(&window, end_char);
        (shown, start, end.max(start))
    }
}

fn char_to_byte(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map(|(b, _)| b)
        .unwrap_or(text.len())
}

/// Width of the YAML token starting at `line:col`: a quoted string to its closing quote,
/// a key to its colon, a plain scalar to the end of the line.
fn token_width(source: &str, line: usize, col: usize) -> usize {
    let Some(text) = source.lines().nth(line.saturating_sub(1)) else {
        return 1;
    };
    let rest: String = text.chars().skip(col.saturating_sub(1)).collect();
    let rest = rest.trim_end();
    if rest.is_empty() {
        return 1;
    }
    let first = rest.chars().next().unwrap_or(' ');
    let width = if first == '"' || first == '\'' {
        let mut escaped = false;
        let mut n = 1;
        for c in rest.chars().skip(1) {
            n += 1;
            if c == first && !escaped {
                break;
            }
            escaped = c == '\\' && !escaped;
        }
        n
    } else if first == '-' {
        1
    } else if let Some(colon) = rest
        .find(": ")
        .or_else(|| rest.strip_suffix(':').map(|s| s.len()))
    {
        rest[..colon].chars().count()
    } else {
        rest.chars().count()
    };
    width.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_file_line_col_the_line_and_an_underline() {
        let source: Arc<str> = "name: x\nsteps:\n  - clent: hi\n".into();
        let d = Diagnostic::at(Path::new("a.yaml"), source, 3, 5, "unknown field `clent`")
            .label("not a step field")
            .help("did you mean `client`?");
        let out = d.render(false);
        assert!(out.contains("error: unknown field `clent`"), "{out}");
        assert!(out.contains("--> a.yaml:3:5"), "{out}");
        assert!(out.contains("  - clent: hi"), "{out}");
        assert!(out.contains("^^^^^ not a step field"), "{out}");
        assert!(out.contains("help: did you mean `client`?"), "{out}");
    }

    #[test]
    fn underline_moves_to_the_needle() {
        let source: Arc<str> = "  - client: \"USER {{usr}}\"\n".into();
        let d = Diagnostic::at(Path::new("a.yaml"), source, 1, 13, "m").underline("{{usr}}");
        assert_eq!((d.col, d.width), (19, 7));
    }
}
