//! Static files of the HTTP mock: paths that are not httpbin endpoints are looked up
//! under the document root (`HttpConfig::www_root`), read with `tokio::fs` so a request
//! never blocks the runtime.
//!
//! A path is percent-decoded and normalised first (`.` dropped, `..` removes the segment
//! before it); one that would climb above the root is refused with 400, as nginx does.
//! The resolved file is canonicalised and must still lie under the root, so a symbolic
//! link cannot lead out of it either. A directory serves its `index.html`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::request::Rejection;
use super::url::percent_decode;

/// A file found under the root.
#[derive(Debug)]
pub struct File {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its Content-Type, from the extension.
    pub content_type: &'static str,
}

/// The document root, canonicalised once at start; or the one built into the crate.
#[derive(Debug, Clone)]
pub struct Statics {
    root: Option<PathBuf>,
    bundled: bool,
}

impl Statics {
    /// Serves `root` (none: every lookup is 404). A root that cannot be resolved serves
    /// nothing either.
    pub async fn new(root: Option<&Path>) -> Statics {
        let root = match root {
            Some(root) => tokio::fs::canonicalize(root).await.ok(),
            None => None,
        };
        Statics { root, bundled: false }
    }

    /// Serves the document root built into the crate ([`crate::bundled::WWW`]).
    pub fn bundled() -> Statics {
        Statics {
            root: None,
            bundled: true,
        }
    }

    /// Whether a document root is being served.
    pub fn enabled(&self) -> bool {
        self.root.is_some() || self.bundled
    }

    /// Reads the file for the request path `path` (still percent-encoded).
    pub async fn lookup(&self, path: &str) -> Result<File, Rejection> {
        const NOT_FOUND: Rejection = Rejection {
            status: 404,
            detail: "no such file under the document root",
        };
        if self.bundled {
            return bundled_lookup(path);
        }
        let root = self.root.as_ref().ok_or(NOT_FOUND)?;
        let (relative, wants_dir) = normalise(path)?;
        let mut file = root.join(relative);
        let meta = tokio::fs::metadata(&file).await.map_err(io_rejection)?;
        if meta.is_dir() {
            file.push("index.html");
        } else if wants_dir {
            return Err(NOT_FOUND);
        }
        let file = tokio::fs::canonicalize(&file).await.map_err(io_rejection)?;
        if !file.starts_with(root) {
            return Err(NOT_FOUND);
        }
        let bytes = tokio::fs::read(&file).await.map_err(io_rejection)?;
        Ok(File {
            bytes,
            content_type: content_type(&file),
        })
    }
}

/// [`Statics::lookup`] in the document root built into the crate.
fn bundled_lookup(path: &str) -> Result<File, Rejection> {
    use crate::bundled::{WWW, is_dir, lookup};
    const NOT_FOUND: Rejection = Rejection {
        status: 404,
        detail: "no such file under the document root",
    };
    let (relative, wants_dir) = normalise(path)?;
    let mut name = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    if is_dir(WWW, &name) {
        name = if name.is_empty() {
            "index.html".to_string()
        } else {
            format!("{name}/index.html")
        };
    } else if wants_dir {
        return Err(NOT_FOUND);
    }
    let bytes = lookup(WWW, &name).ok_or(NOT_FOUND)?;
    Ok(File {
        bytes: bytes.to_vec(),
        content_type: content_type(Path::new(&name)),
    })
}

/// The request path as a relative path under the root, and whether it named a directory
/// (ends in `/`).
fn normalise(path: &str) -> Result<(PathBuf, bool), Rejection> {
    const BAD: Rejection = Rejection {
        status: 400,
        detail: "the path is not a valid file path",
    };
    let decoded = percent_decode(path.as_bytes(), false).ok_or(BAD)?;
    let decoded = String::from_utf8(decoded).map_err(|_| BAD)?;
    if decoded.contains(['\0', '\\']) {
        return Err(BAD);
    }
    let mut segments = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(Rejection {
                        status: 400,
                        detail: "the path climbs above the document root",
                    });
                }
            }
            name => segments.push(name),
        }
    }
    Ok((segments.iter().collect(), decoded.ends_with('/')))
}

fn io_rejection(e: std::io::Error) -> Rejection {
    match e.kind() {
        ErrorKind::PermissionDenied => Rejection {
            status: 403,
            detail: "the file is not readable",
        },
        ErrorKind::NotFound
        | ErrorKind::NotADirectory
        | ErrorKind::IsADirectory
        | ErrorKind::InvalidInput => Rejection {
            status: 404,
            detail: "no such file under the document root",
        },
        _ => Rejection {
            status: 500,
            detail: "the file could not be read",
        },
    }
}

/// Content-Type by file extension; `application/octet-stream` when unknown.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" | "md" => "text/plain; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_resolved_inside_the_root() {
        let (path, dir) = normalise("/nested/../hello.txt").unwrap();
        assert_eq!((path, dir), (PathBuf::from("hello.txt"), false));
        assert_eq!(normalise("/./nested/").unwrap(), (PathBuf::from("nested"), true));
        assert_eq!(normalise("/").unwrap(), (PathBuf::new(), true));
    }

    #[test]
    fn paths_climbing_above_the_root_are_refused() {
        for path in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/%2E%2E%2Fetc",
            "/a%00",
            "/a\\b",
            "/%zz",
        ] {
            assert_eq!(normalise(path).unwrap_err().status, 400, "{path}");
        }
    }

    #[test]
    fn the_bundled_root_serves_what_the_fixture_root_does() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let disk = rt.block_on(Statics::new(Some(&crate::fixtures_dir().join("www"))));
        let bundled = Statics::bundled();
        for path in [
            "/",
            "/hello.txt",
            "/nested/deep.txt",
            "/nested/",
            "/nope",
            "/hello.txt/",
            "/../x",
        ] {
            let a = rt.block_on(disk.lookup(path)).map(|f| (f.bytes, f.content_type));
            let b = rt
                .block_on(bundled.lookup(path))
                .map(|f| (f.bytes, f.content_type));
            assert_eq!(
                a.as_ref().map_err(|e| e.status),
                b.as_ref().map_err(|e| e.status),
                "{path}"
            );
        }
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(
            content_type(Path::new("a/index.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("logo.png")), "image/png");
        assert_eq!(content_type(Path::new("blob")), "application/octet-stream");
    }
}
