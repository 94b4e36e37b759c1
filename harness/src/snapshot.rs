//! Stored snapshots (`--snapshot DIR`, `parley review DIR`): one file per scenario (and
//! variant, and submission) holding its normalized transcript
//! ([`crate::report::snapshot::normalized`]), in insta's `.snap` format, so that the
//! tests' snapshots and parley's are one habit and `cargo insta review` reads these too.
//!
//! A file is a YAML header between two `---` lines (`source:`, `description:`,
//! `expression:`, `info:`, written as insta writes them), then the text. A pending
//! snapshot (a run that differs) is the same file with the extension `.snap.new` next to
//! the stored one; accepting it renames it over the `.snap`, rejecting it removes it.
//! Only the text is compared (as insta does): a header that changed (another port, a
//! renamed scenario) is neither a difference nor a reason to rewrite the file.
//!
//! [`check`] compares each outcome with its stored snapshot and records the verdict in
//! the outcome as a finding of rule `S-SNAPSHOT` (an error when it differs); the report
//! renders it. Nothing here prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::finding::Finding;
use crate::outcome::{Outcome, Party, Status};
use crate::report::snapshot::{changed_lines, diff, filter, normalized};
use crate::rules::{S_SNAPSHOT, Severity};
use crate::scenario::Redaction;

/// The extension of a stored snapshot.
pub const EXTENSION: &str = "snap";
/// The extension of a pending one.
pub const PENDING_EXTENSION: &str = "snap.new";

/// What can go wrong with snapshot files.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file is not in insta's `.snap` format.
    #[error("{path}: not a snapshot in insta's format: {why}")]
    Format {
        /// Which.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Two runs would share one file.
    #[error("`{first}` and `{second}` would both be snapshotted in {path}")]
    Clash {
        /// The file.
        path: PathBuf,
        /// One run.
        first: String,
        /// The other.
        second: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The header of a snapshot file (the fields insta knows that parley writes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The scenario file.
    pub source: Option<String>,
    /// The scenario's name.
    pub description: Option<String>,
    /// The command that plays it.
    pub expression: Option<String>,
    /// More, as `key: value` lines under `info:` (scenario id, target, variant, submission).
    pub info: Vec<(String, String)>,
}

/// A snapshot file: its header and its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapFile {
    /// The header.
    pub metadata: Metadata,
    /// The text, as stored (compared after [`normalize_contents`]).
    pub contents: String,
}

/// The text as insta compares it: trailing white space cut, CRLF read as LF.
pub fn normalize_contents(text: &str) -> String {
    text.trim_end().replace("\r\n", "\n")
}

/// Whether `s` must be quoted in YAML (the rules of insta's emitter, so that a file
/// `cargo insta accept` rewrites keeps its bytes).
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.starts_with(['&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@', '.'])
        || s.contains(|c: char| {
            matches!(
                c,
                ':' | '{'
                    | '}'
                    | '['
                    | ']'
                    | ','
                    | '#'
                    | '`'
                    | '"'
                    | '\''
                    | '\\'
                    | '\0'..='\x06'
                    | '\t'
                    | '\n'
                    | '\r'
                    | '\x0e'..='\x1a'
                    | '\x1c'..='\x1f'
            )
        })
        || [
            "yes", "Yes", "YES", "no", "No", "NO", "True", "TRUE", "true", "False", "FALSE", "false", "on",
            "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
        ]
        .contains(&s)
        || s.starts_with("0x")
        || s.parse::<i64>().is_ok()
        || s.parse::<f64>().is_ok()
}

/// `s` as a YAML scalar, quoted and escaped the way insta's emitter does it.
fn yaml_scalar(s: &str) -> String {
    if !needs_quotes(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl SnapFile {
    /// The file's bytes: `---`, the header, `---`, the text and a line end.
    pub fn to_text(&self) -> String {
        let mut out = String::from("---\n");
        let m = &self.metadata;
        for (key, value) in [
            ("source", &m.source),
            ("description", &m.description),
            ("expression", &m.expression),
        ] {
            if let Some(v) = value {
                out.push_str(&format!("{key}: {}\n", yaml_scalar(v)));
            }
        }
        if !m.info.is_empty() {
            out.push_str("info:\n");
            for (k, v) in &m.info {
                out.push_str(&format!("  {}: {}\n", yaml_scalar(k), yaml_scalar(v)));
            }
        }
        out.push_str("---\n");
        out.push_str(&normalize_contents(&self.contents));
        out.push('\n');
        out
    }

    /// Reads a file's text: the YAML header (other keys insta writes, like
    /// `assertion_line`, are ignored) and the text after it.
    pub fn parse(text: &str) -> Result<SnapFile, String> {
        let mut lines = text.split_inclusive('\n');
        if lines.next().map(str::trim_end) != Some("---") {
            return Err("it does not start with a `---` line".into());
        }
        let mut header = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            if line.trim_end() == "---" {
                closed = true;
                break;
            }
            header.push_str(line);
        }
        if !closed {
            return Err("its header has no closing `---` line".into());
        }
        let contents: String = lines.collect();
        let value: serde_yaml::Value = if header.trim().is_empty() {
            serde_yaml::Value::Null
        } else {
            serde_yaml::from_str(&header).map_err(|e| format!("its header is not YAML: {e}"))?
        };
        let scalar = |v: &serde_yaml::Value| match v {
            serde_yaml::Value::String(s) => Some(s.clone()),
            serde_yaml::Value::Number(n) => Some(n.to_string()),
            serde_yaml::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let mut metadata = Metadata::default();
        match &value {
            serde_yaml::Value::Mapping(map) => {
                let field = |k: &str| map.get(k).and_then(scalar);
                metadata.source = field("source");
                metadata.description = field("description");
                metadata.expression = field("expression");
                if let Some(serde_yaml::Value::Mapping(info)) = map.get("info") {
                    for (k, v) in info {
                        if let (Some(k), Some(v)) = (scalar(k), scalar(v)) {
                            metadata.info.push((k, v));
                        }
                    }
                }
            }
            serde_yaml::Value::Null => {}
            _ => return Err("its header is not a YAML map".into()),
        }
        Ok(SnapFile {
            metadata,
            contents: normalize_contents(&contents),
        })
    }

    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<SnapFile, SnapshotError> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        SnapFile::parse(&text).map_err(|why| SnapshotError::Format {
            path: path.to_path_buf(),
            why,
        })
    }

    /// Writes the file, creating its directory.
    pub fn write(&self, path: &Path) -> Result<(), SnapshotError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(path, self.to_text()).map_err(io(path))
    }
}

/// The pending file of a stored one: `x.snap` → `x.snap.new`.
pub fn pending_path(stored: &Path) -> PathBuf {
    let mut name = stored.as_os_str().to_os_string();
    name.push(".new");
    PathBuf::from(name)
}

/// The stored file of a pending one: `x.snap.new` → `x.snap`.
pub fn stored_path(pending: &Path) -> PathBuf {
    pending.with_extension("")
}

/// A file name made of `text`: letters, digits, `.`, `_`, `-` and `@` kept, the rest `_`.
fn file_part(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.');
    if s.is_empty() {
        "_".to_string()
    } else {
        s.to_string()
    }
}

/// Where an outcome's snapshot is kept under `dir`: `ftp__list-active.snap`, with
/// `@VARIANT` for a fault variant, in a folder per submission when `by_submission`.
pub fn path_for(dir: &Path, o: &Outcome, by_submission: bool) -> PathBuf {
    let mut name = o.id.replace("::", "__");
    if let Some(v) = &o.variant {
        name.push('@');
        name.push_str(v);
    }
    let file = format!("{}.{EXTENSION}", file_part(&name));
    match (&o.submission, by_submission) {
        (Some(sub), true) => dir.join(file_part(sub)).join(file),
        _ => dir.join(file),
    }
}

/// How snapshots are taken and compared.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The directory of the snapshots.
    pub dir: PathBuf,
    /// Write the new snapshots over the stored ones instead of failing (`--accept`).
    pub accept: bool,
    /// The side parley played: the client (`run`) or the server (`grade`).
    pub parley: Option<Party>,
    /// `run` or `grade`: how the header's `expression` reads.
    pub verb: &'static str,
    /// `grade --submissions`: a folder per submission.
    pub by_submission: bool,
    /// `--redact` (applied after a scenario's own `redact:`).
    pub redact: Vec<Redaction>,
    /// Each scenario's `redact:`, by scenario id.
    pub scenario_redact: BTreeMap<String, Vec<Redaction>>,
}

/// What became of one outcome's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The same as the stored one; no file was written.
    Matched,
    /// There was none: this run's was stored.
    Recorded,
    /// It differs; the new one waits in `pending` (the outcome failed under S-SNAPSHOT).
    Changed {
        /// The `.snap.new` file.
        pending: PathBuf,
        /// Lines removed and added.
        lines: (usize, usize),
    },
    /// It differed and `--accept` stored the new one.
    Accepted {
        /// Lines removed and added.
        lines: (usize, usize),
    },
    /// Not snapshotted: the scenario was not played (an error, or left out by
    /// `--fail-fast`).
    NotPlayed,
}

/// The snapshot of one outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The outcome's label (`submission: id [variant]`).
    pub label: String,
    /// The stored file.
    pub path: PathBuf,
    /// What became of it.
    pub verdict: Verdict,
}

fn label(o: &Outcome) -> String {
    match &o.submission {
        Some(sub) => format!("{sub}: {}", o.label()),
        None => o.label(),
    }
}

/// A path as shown in a header: relative to the current directory when under it.
fn shown_path(p: &Path) -> String {
    let rel = std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf());
    rel.display().to_string().replace('\\', "/")
}

/// The header of `o`'s snapshot, through the filters (no ports: a program's command line
/// names them as separate arguments too, `client.py 127.0.0.1 40123`).
fn metadata(o: &Outcome, opts: &CheckOptions) -> Metadata {
    static ARGUMENT_PORT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let argument_port = ARGUMENT_PORT.get_or_init(|| {
        regex::Regex::new(r"\b(\d+\.\d+\.\d+\.\d+|localhost)([ =])\d{2,5}\b").expect("a valid regex")
    });
    let f = |s: String| {
        argument_port
            .replace_all(&filter(&s, &[]), "$1$2[port]")
            .into_owned()
    };
    let file = shown_path(&o.file);
    let how = match (&o.program, o.target.starts_with("mock ")) {
        (Some(p), _) => format!(" -- {}", p.command),
        (None, true) => String::new(),
        (None, false) => match o.protocol {
            Some(proto) => format!(" --target {proto}={}", o.target),
            None => String::new(),
        },
    };
    let mut info = vec![("scenario".to_string(), o.id.clone())];
    if !o.target.is_empty() {
        info.push(("target".to_string(), f(o.target.clone())));
    }
    if let Some(v) = &o.variant {
        info.push(("variant".to_string(), v.clone()));
    }
    if let Some(s) = &o.submission {
        info.push(("submission".to_string(), s.clone()));
    }
    Metadata {
        source: Some(file.clone()),
        description: Some(o.name.clone()),
        expression: Some(f(format!("parley {} {file}{how}", opts.verb))),
        info,
    }
}

fn remove_if_there(path: &Path) -> Result<(), SnapshotError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

/// Compares each played outcome with its snapshot under `opts.dir`: records it when
/// there is none, writes a `.snap.new` and adds an error finding of rule S-SNAPSHOT (with
/// the stored and the new text as expected and actual) when it differs, or stores it
/// under `--accept`; a recorded or accepted snapshot is a note. Outcomes are settled
/// again. A pending file left by an earlier run is removed once the run matches or is
/// stored.
pub fn check(outcomes: &mut [Outcome], opts: &CheckOptions) -> Result<Vec<Checked>, SnapshotError> {
    let parley = opts.parley.unwrap_or(Party::Client);
    let peer = match parley {
        Party::Client => Party::Server,
        Party::Server => Party::Client,
    };
    let mut seen: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut results = Vec::with_capacity(outcomes.len());
    for o in outcomes.iter_mut() {
        let path = path_for(&opts.dir, o, opts.by_submission);
        if let Some(first) = seen.insert(path.clone(), label(o)) {
            return Err(SnapshotError::Clash {
                path,
                first,
                second: label(o),
            });
        }
        if matches!(o.status, Status::Error | Status::NotRun) {
            results.push(Checked {
                label: label(o),
                path,
                verdict: Verdict::NotPlayed,
            });
            continue;
        }
        let mut redact: Vec<Redaction> = opts.scenario_redact.get(&o.id).cloned().unwrap_or_default();
        redact.extend(opts.redact.iter().cloned());
        let new = SnapFile {
            metadata: metadata(o, opts),
            contents: normalize_contents(&normalized(&o.transcript, parley, &redact)),
        };
        let pending = pending_path(&path);
        let stored = if path.exists() {
            Some(SnapFile::read(&path)?)
        } else {
            None
        };
        let shown = path.display().to_string();
        let verdict = match stored {
            Some(old) if old.contents == new.contents => {
                remove_if_there(&pending)?;
                Verdict::Matched
            }
            None => {
                new.write(&path)?;
                remove_if_there(&pending)?;
                let mut note = Finding::new(S_SNAPSHOT, format!("no snapshot was stored: recorded {shown}"));
                note.severity = Severity::Note;
                o.findings.push(note);
                Verdict::Recorded
            }
            Some(old) => {
                let lines = changed_lines(&diff(&old.contents, &new.contents, 0));
                if opts.accept {
                    new.write(&path)?;
                    remove_if_there(&pending)?;
                    let mut note = Finding::new(
                        S_SNAPSHOT,
                        format!(
                            "the conversation changed ({} line(s) removed, {} added): --accept stored it in {shown}",
                            lines.0, lines.1
                        ),
                    )
                    .expected_text(old.contents.clone())
                    .actual_text(new.contents.clone());
                    note.severity = Severity::Note;
                    o.findings.push(note);
                    Verdict::Accepted { lines }
                } else {
                    new.write(&pending)?;
                    let dir = opts.dir.display();
                    o.findings.push(
                        Finding::new(
                            S_SNAPSHOT,
                            format!(
                                "the conversation differs from the snapshot {shown} ({} line(s) removed, {} added); \
                                 the new one is {}: `parley review {dir}` accepts or rejects it, `--accept` stores it",
                                lines.0,
                                lines.1,
                                pending.display()
                            ),
                        )
                        .by(peer)
                        .expected_text(old.contents.clone())
                        .actual_text(new.contents.clone()),
                    );
                    Verdict::Changed { pending, lines }
                }
            }
        };
        o.settle();
        results.push(Checked {
            label: label(o),
            path,
            verdict,
        });
    }
    Ok(results)
}

/// A pending snapshot, with the stored one it would replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The `.snap.new` file.
    pub new: PathBuf,
    /// The `.snap` file (it may not exist).
    pub stored: PathBuf,
}

/// Every `.snap.new` under `dir` (sub-folders too, symbolic links not followed), sorted.
pub fn pending(dir: &Path) -> Result<Vec<Pending>, SnapshotError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SnapshotError> {
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io(&path))?;
            if kind.is_dir() {
                walk(&path, out)?;
            } else if kind.is_file() && path.to_string_lossy().ends_with(".snap.new") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut found = Vec::new();
    walk(dir, &mut found)?;
    found.sort();
    Ok(found
        .into_iter()
        .map(|new| Pending {
            stored: stored_path(&new),
            new,
        })
        .collect())
}

/// Accepts a pending snapshot: it replaces the stored one. Like `cargo insta accept`, the
/// `assertion_line:` insta writes in the header of a pending snapshot of a test is left
/// out of the stored file; anything else is kept byte for byte.
pub fn accept(p: &Pending) -> Result<(), SnapshotError> {
    let text = std::fs::read_to_string(&p.new).map_err(io(&p.new))?;
    match without_assertion_line(&text) {
        None => std::fs::rename(&p.new, &p.stored).map_err(io(&p.new)),
        Some(trimmed) => {
            std::fs::write(&p.stored, trimmed).map_err(io(&p.stored))?;
            std::fs::remove_file(&p.new).map_err(io(&p.new))
        }
    }
}

/// `text` without the `assertion_line:` of its header, when it has one.
fn without_assertion_line(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut in_header = false;
    let mut dashes = 0;
    let mut found = false;
    for line in text.split_inclusive('\n') {
        if dashes < 2 && line.trim_end() == "---" {
            dashes += 1;
            in_header = dashes == 1;
        } else if in_header && line.starts_with("assertion_line:") {
            found = true;
            continue;
        }
        out.push_str(line);
    }
    found.then_some(out)
}

/// Rejects a pending snapshot: it is removed, the stored one stays.
pub fn reject(p: &Pending) -> Result<(), SnapshotError> {
    std::fs::remove_file(&p.new).map_err(io(&p.new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_read_back_what_they_wrote_with_insta_quoting() {
        let f = SnapFile {
            metadata: Metadata {
                source: Some("scenarios/ftp/login.yaml".into()),
                description: Some("log in: USER, PASS".into()),
                expression: Some("parley run scenarios/ftp/login.yaml --target ftp=127.0.0.1:[port]".into()),
                info: vec![
                    ("scenario".into(), "ftp::login".into()),
                    ("variant".into(), "true".into()),
                ],
            },
            contents: "[main] S> \"220 [banner]\\r\\n\"\n".into(),
        };
        let text = f.to_text();
        assert_eq!(
            text,
            "---\nsource: scenarios/ftp/login.yaml\ndescription: \"log in: USER, PASS\"\n\
             expression: \"parley run scenarios/ftp/login.yaml --target ftp=127.0.0.1:[port]\"\n\
             info:\n  scenario: \"ftp::login\"\n  variant: \"true\"\n---\n[main] S> \"220 [banner]\\r\\n\"\n"
        );
        let back = SnapFile::parse(&text).unwrap();
        assert_eq!(back.metadata, f.metadata);
        assert_eq!(back.contents, normalize_contents(&f.contents));
    }

    #[test]
    fn a_file_insta_wrote_is_read_and_its_extra_fields_ignored() {
        let text = "---\nsource: tests/scenarios.rs\nassertion_line: 58\nexpression: text\n---\nline one\nline two\n\n";
        let f = SnapFile::parse(text).unwrap();
        assert_eq!(f.metadata.source.as_deref(), Some("tests/scenarios.rs"));
        assert_eq!(f.contents, "line one\nline two");
        assert!(SnapFile::parse("no header").is_err());
        assert!(SnapFile::parse("---\nsource: x\n").is_err());
    }

    #[test]
    fn accepting_a_pending_test_snapshot_drops_its_assertion_line_as_cargo_insta_does() {
        let dir = tempfile::tempdir().unwrap();
        let p = Pending {
            new: dir.path().join("a.snap.new"),
            stored: dir.path().join("a.snap"),
        };
        std::fs::write(
            &p.new,
            "---\nsource: tests/scenarios.rs\nassertion_line: 58\n---\nassertion_line: text\n",
        )
        .unwrap();
        accept(&p).unwrap();
        assert!(!p.new.exists());
        assert_eq!(
            std::fs::read_to_string(&p.stored).unwrap(),
            "---\nsource: tests/scenarios.rs\n---\nassertion_line: text\n"
        );
        // A file parley wrote is moved as it is.
        std::fs::write(&p.new, "---\nsource: x\n---\ny\n").unwrap();
        accept(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p.stored).unwrap(),
            "---\nsource: x\n---\ny\n"
        );
    }

    #[test]
    fn names_carry_the_variant_and_the_submission_folder() {
        let mut o = Outcome::error(
            "grading::http-get".into(),
            "x.yaml".into(),
            crate::outcome::RunError {
                kind: crate::outcome::ErrorKind::Internal,
                message: String::new(),
                diagnostic: None,
            },
        );
        let dir = Path::new("snaps");
        assert_eq!(path_for(dir, &o, true), Path::new("snaps/grading__http-get.snap"));
        o.variant = Some("byte-at-a-time".into());
        o.submission = Some("alice smith".into());
        assert_eq!(
            path_for(dir, &o, true),
            Path::new("snaps/alice_smith/grading__http-get@byte-at-a-time.snap")
        );
        assert_eq!(
            path_for(dir, &o, false),
            Path::new("snaps/grading__http-get@byte-at-a-time.snap")
        );
        assert_eq!(pending_path(Path::new("a/b.snap")), Path::new("a/b.snap.new"));
        assert_eq!(stored_path(Path::new("a/b.snap.new")), Path::new("a/b.snap"));
    }
}
