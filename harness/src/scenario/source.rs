//! Reading scenario files, fragments and payload files: from disk, or from the suite
//! built into the binary.
//!
//! On disk only regular files are read, and no more than a cap: a FIFO, a device such as
//! `/dev/zero`, a socket or a directory is refused before it is opened (a FIFO would
//! block forever, `/dev/zero` never ends), and so is a file larger than the cap.
//!
//! The bundled suite — `scenarios/`, `fixtures/ftp-commands/` and the trees the mocks
//! serve, `fixtures/ftp-root/` and `fixtures/www/`, as they were when parley was built
//! (all embedded by `harness/build.rs`) — lives under the virtual root
//! `bundled:` (`bundled:/scenarios/echo/basic.yaml`), with the layout of the repository,
//! so the relative paths a bundled scenario uses (`../../fixtures/ftp-root/readme.txt`)
//! resolve inside the bundle. `parley run` with no paths plays `bundled:/scenarios` when
//! there is no `scenarios/` directory where it runs.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use super::limits::bytes;

/// The first component of a path inside the bundled suite.
pub const BUNDLED: &str = "bundled:";

mod generated {
    include!(concat!(env!("OUT_DIR"), "/bundled_scenarios.rs"));
}

/// Every bundled file: its path below the bundle's root and its bytes. The build script
/// (`harness/build.rs`) embeds them; the mocks' trees are embedded here too, on their
/// own, so reading scenarios never depends on the mock crate.
pub fn bundled_files() -> impl Iterator<Item = (String, &'static [u8])> {
    generated::FILES
        .iter()
        .map(|(path, bytes)| (path.to_string(), *bytes))
}

/// `bundled:/scenarios`, the bundled suite.
pub fn bundled_scenarios() -> PathBuf {
    Path::new(BUNDLED).join("scenarios")
}

/// Whether `path` is inside the bundle (starts with `bundled:`).
pub fn is_bundled(path: &Path) -> bool {
    matches!(path.components().next(), Some(Component::Normal(c)) if c == BUNDLED)
}

/// The path of a bundled `path` below the bundle's root, `.` and `..` resolved
/// (`scenarios/ftp/_login.yaml`); `None` when it is not bundled or climbs out.
fn bundled_rel(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut components = path.components();
    match components.next() {
        Some(Component::Normal(c)) if c == BUNDLED => {}
        _ => return None,
    }
    for c in components {
        match c {
            Component::Normal(name) => parts.push(name.to_str()?.to_string()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// A path with `.` and `..` resolved lexically for bundled paths, canonicalised on disk
/// (what include cycles are detected on).
pub fn canonical(path: &Path) -> PathBuf {
    match bundled_rel(path) {
        Some(rel) => Path::new(BUNDLED).join(rel),
        None => path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file.
    File,
    /// A directory.
    Dir,
}

/// Whether `path` is a file or a directory (bundled or on disk).
pub fn kind(path: &Path) -> io::Result<Kind> {
    if let Some(rel) = bundled_rel(path) {
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        let mut found = None;
        for (file, _) in bundled_files() {
            if file == rel {
                found = Some(Kind::File);
                break;
            }
            if file.starts_with(&prefix) {
                found = Some(Kind::Dir);
            }
        }
        return found.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no such file in the suite built into parley",
            )
        });
    }
    let meta = std::fs::metadata(path)?;
    Ok(if meta.is_dir() { Kind::Dir } else { Kind::File })
}

/// The entries of directory `dir`: name, path, and whether it is a directory.
pub fn read_dir(dir: &Path) -> io::Result<Vec<(String, PathBuf, bool)>> {
    if let Some(rel) = bundled_rel(dir) {
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        let mut out: Vec<(String, PathBuf, bool)> = Vec::new();
        for (file, _) in bundled_files() {
            let Some(rest) = file.strip_prefix(&prefix) else {
                continue;
            };
            let (name, is_dir) = match rest.split_once('/') {
                Some((name, _)) => (name, true),
                None => (rest, false),
            };
            if !out.iter().any(|(n, _, _)| n == name) {
                out.push((name.to_string(), dir.join(name), is_dir));
            }
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            path.clone(),
            path.is_dir(),
        ));
    }
    Ok(out)
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The OS said no.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Not a regular file.
    #[error("it is {0}, not a regular file: parley reads only regular files")]
    NotRegular(&'static str),
    /// Larger than the cap.
    #[error("it is larger than {}{}", bytes(*.max), .hint)]
    TooLarge {
        /// The cap.
        max: usize,
        /// How to raise it, when it can be raised.
        hint: &'static str,
    },
    /// Not UTF-8.
    #[error("it is not UTF-8 text")]
    NotText,
}

fn describe(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads the regular file (or bundled file) `path`, at most `max` bytes; `hint` says
/// how to raise the cap (appended to the error).
pub fn read(path: &Path, max: usize, hint: &'static str) -> Result<Vec<u8>, ReadError> {
    if let Some(rel) = bundled_rel(path) {
        let bytes = bundled_files()
            .find(|(file, _)| *file == rel)
            .map(|(_, bytes)| bytes)
            .ok_or_else(|| {
                ReadError::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    "no such file in the suite built into parley",
                ))
            })?;
        if bytes.len() > max {
            return Err(ReadError::TooLarge { max, hint });
        }
        return Ok(bytes.to_vec());
    }
    // Look before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(describe(&meta.file_type())));
    }
    if meta.len() > max as u64 {
        return Err(ReadError::TooLarge { max, hint });
    }
    let file = open_nonblocking(path)?;
    // The path may have been replaced between the look and the open.
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(describe(&meta.file_type())));
    }
    let mut out = Vec::with_capacity((meta.len() as usize).min(max));
    file.take(max as u64 + 1).read_to_end(&mut out)?;
    if out.len() > max {
        return Err(ReadError::TooLarge { max, hint });
    }
    Ok(out)
}

/// Reads a text file (see [`read`]).
pub fn read_text(path: &Path, max: usize, hint: &'static str) -> Result<String, ReadError> {
    String::from_utf8(read(path, max, hint)?).map_err(|_| ReadError::NotText)
}

fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_has_the_suite_and_the_fixtures_it_refers_to() {
        let files: Vec<String> = bundled_files().map(|(p, _)| p).collect();
        assert!(
            files.contains(&"scenarios/echo/basic.yaml".to_string()),
            "{files:?}"
        );
        assert!(files.contains(&"scenarios/ftp/_login.yaml".to_string()));
        assert!(files.contains(&"fixtures/ftp-root/readme.txt".to_string()));
        assert!(files.contains(&"fixtures/www/hello.txt".to_string()));
    }

    #[test]
    fn bundled_paths_resolve_dot_dot_inside_the_bundle() {
        let p = Path::new("bundled:/scenarios/ftp/../../fixtures/ftp-root/readme.txt");
        assert_eq!(bundled_rel(p).as_deref(), Some("fixtures/ftp-root/readme.txt"));
        assert!(read(p, 1 << 20, "").is_ok());
        assert_eq!(bundled_rel(Path::new("bundled:/../etc/passwd")), None);
        assert_eq!(kind(Path::new("bundled:/scenarios")).unwrap(), Kind::Dir);
        assert_eq!(kind(Path::new("bundled:")).unwrap(), Kind::Dir);
    }

    #[test]
    fn devices_and_directories_are_refused_before_they_are_opened() {
        let err = read(Path::new("/dev/zero"), 1024, "").unwrap_err();
        assert!(err.to_string().contains("a character device"), "{err}");
        let err = read(Path::new("/"), 1024, "").unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");
    }

    #[test]
    fn a_file_over_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        let err = read(&path, 10, "; raise it with X").unwrap_err();
        assert_eq!(err.to_string(), "it is larger than 10 bytes; raise it with X");
        assert_eq!(read(&path, 100, "").unwrap().len(), 100);
    }
}
