//! Embeds the bundled scenario suite (`../scenarios/`), the payload files its scenarios
//! read (`../fixtures/ftp-commands/`) and the trees the bundled mocks serve
//! (`../fixtures/ftp-root/`, `../fixtures/www/`) in the binary: generates
//! `$OUT_DIR/bundled_scenarios.rs`, a table of `(path below the repository, include_bytes!)`,
//! so an installed or copied `parley` plays its suite from any directory. A checkout
//! without them (a packaged crate) gets an empty table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How a directory is walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// The suite: hidden files (editor and VCS droppings) are left out, links followed.
    Suite,
    /// A tree a mock serves, walked as the mock crate's build script walks it (so the
    /// bundle holds the files the mock serves): hidden files kept, links left out.
    Served,
}

fn walk(dir: &Path, rel: &str, how: Walk, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if how == Walk::Suite && name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let (is_dir, is_file) = match how {
            Walk::Suite => (path.is_dir(), path.is_file()),
            // `file_type` does not follow symbolic links.
            Walk::Served => match entry.file_type() {
                Ok(kind) => (kind.is_dir(), kind.is_file()),
                Err(_) => continue,
            },
        };
        if is_dir {
            walk(&path, &rel, how, out);
        } else if is_file {
            out.push((rel, path));
        }
    }
}

/// The directories embedded, below the repository's root, and how each is walked.
const EMBEDDED: &[(&str, Walk)] = &[
    ("scenarios", Walk::Suite),
    ("fixtures/ftp-commands", Walk::Suite),
    ("fixtures/ftp-root", Walk::Served),
    ("fixtures/www", Walk::Served),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut files = Vec::new();
    for (below, how) in EMBEDDED {
        let dir = manifest.join("..").join(below);
        println!("cargo:rerun-if-changed={}", dir.display());
        walk(&dir, below, *how, &mut files);
    }
    let mut code = String::from("/// The bundled files: path below the repository's root, bytes.\n");
    code.push_str("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (rel, path) in &files {
        let abs = path.canonicalize().unwrap_or_else(|_| path.clone());
        let _ = writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("bundled_scenarios.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
