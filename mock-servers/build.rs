//! Embeds the mocks' fixtures (`../fixtures/ftp-root/` and `../fixtures/www/`) in the
//! crate: generates `$OUT_DIR/bundled.rs` with one `(path, include_bytes!)` table per
//! tree, so the mock servers serve them from memory wherever the binary is. A checkout
//! without them gets empty tables.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        // `file_type` does not follow symbolic links: links are left out, as on disk.
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            walk(&path, &rel, out);
        } else if kind.is_file() {
            out.push((rel, path));
        }
    }
}

fn table(code: &mut String, name: &str, doc: &str, dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    walk(dir, "", &mut files);
    let _ = writeln!(code, "/// {doc}");
    let _ = writeln!(code, "pub static {name}: &[(&str, &[u8])] = &[");
    for (rel, path) in &files {
        let abs = path.canonicalize().unwrap_or_else(|_| path.clone());
        let _ = writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        );
    }
    code.push_str("];\n");
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let fixtures = manifest.join("../fixtures");
    let mut code = String::new();
    table(
        &mut code,
        "FTP_ROOT",
        "The FTP mock's tree (`fixtures/ftp-root/`): path below the root, bytes.",
        &fixtures.join("ftp-root"),
    );
    table(
        &mut code,
        "WWW",
        "The HTTP mock's document root (`fixtures/www/`): path below the root, bytes.",
        &fixtures.join("www"),
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("bundled.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
