//! The served tree, in memory: loaded once from the root directory when the server
//! starts, then read and changed (STOR, MKD, DELE, RMD) only in memory, so a server's
//! writes are its own and the fixtures on disk never change.
//!
//! Paths are [`VPath`]s, lists of names below the virtual root. Resolving a client's path
//! can never leave the root (F-SEC-6): an absolute path starts at the virtual root, and a
//! `..` that would climb above it is refused rather than clamped, so a client sees that
//! the escape failed. Symbolic links and special files in the root are not loaded, so
//! nothing outside it is ever served.
//!
//! Listings are `ls -l` lines with a fixed date, owner and group, so transcripts are the
//! same on every machine and every day.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// Directories deeper than this below the root are loaded empty.
const MAX_DEPTH: usize = 32;

/// A path below the virtual root: `[]` is `/`, `["pub", "a.txt"]` is `/pub/a.txt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct VPath(Vec<String>);

/// A path that would climb above the virtual root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OutsideRoot;

impl VPath {
    /// The virtual root, `/`.
    pub(super) fn root() -> VPath {
        VPath(Vec::new())
    }

    /// The path as the client sees it: `/` or `/a/b`.
    pub(super) fn display(&self) -> String {
        if self.0.is_empty() {
            "/".to_string()
        } else {
            self.0.iter().map(|c| format!("/{c}")).collect()
        }
    }

    /// The names below the root, outermost first.
    pub(super) fn components(&self) -> &[String] {
        &self.0
    }

    /// The last name, `None` for the root.
    pub(super) fn name(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// The containing directory, `None` for the root.
    pub(super) fn parent(&self) -> Option<VPath> {
        let (_, parent) = self.0.split_last()?;
        Some(VPath(parent.to_vec()))
    }

    /// Resolves a client's `arg` against this working directory: `/` starts at the virtual
    /// root, empty and `.` components are skipped, `..` goes up and may not pass the root.
    pub(super) fn resolve(&self, arg: &str) -> Result<VPath, OutsideRoot> {
        let mut parts = if arg.starts_with('/') {
            Vec::new()
        } else {
            self.0.clone()
        };
        for part in arg.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop().ok_or(OutsideRoot)?;
                }
                name => parts.push(name.to_string()),
            }
        }
        Ok(VPath(parts))
    }
}

/// Why a file operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FsError {
    NotFound,
    NotADirectory,
    IsADirectory,
    AlreadyExists,
    NotEmpty,
    IsRoot,
}

impl FsError {
    /// A sentence for the reply text.
    pub(super) fn text(self) -> &'static str {
        match self {
            FsError::NotFound => "No such file or directory.",
            FsError::NotADirectory => "Not a directory.",
            FsError::IsADirectory => "Is a directory, not a plain file.",
            FsError::AlreadyExists => "File exists.",
            FsError::NotEmpty => "Directory not empty.",
            FsError::IsRoot => "The root directory cannot be changed.",
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    File(Arc<[u8]>),
    Dir(BTreeMap<String, Node>),
}

/// What a listing shows of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub name: String,
    pub is_dir: bool,
    pub size: usize,
}

/// The whole served tree.
#[derive(Debug, Clone)]
pub(super) struct Vfs {
    root: Node,
}

impl Default for Vfs {
    fn default() -> Vfs {
        Vfs {
            root: Node::Dir(BTreeMap::new()),
        }
    }
}

impl Vfs {
    /// Reads the tree under `dir` into memory. Symbolic links, special files and names
    /// that are not UTF-8 or hold control characters are left out.
    pub(super) fn load(dir: &Path) -> io::Result<Vfs> {
        Ok(Vfs {
            root: load_dir(dir, 0)?,
        })
    }

    /// The tree built into the crate ([`crate::bundled::FTP_ROOT`]): the files, and the
    /// directories they are in (an empty directory is kept by a `.keep` file in it).
    pub(super) fn bundled() -> Vfs {
        let mut root = BTreeMap::new();
        for (path, bytes) in crate::bundled::FTP_ROOT {
            let names: Vec<&str> = path.split('/').collect();
            let Some((file, dirs)) = names.split_last() else {
                continue;
            };
            insert(&mut root, dirs, file, bytes);
        }
        Vfs {
            root: Node::Dir(root),
        }
    }

    fn node(&self, path: &VPath) -> Option<&Node> {
        let mut node = &self.root;
        for name in path.components() {
            match node {
                Node::Dir(entries) => node = entries.get(name)?,
                Node::File(_) => return None,
            }
        }
        Some(node)
    }

    fn dir_mut(&mut self, path: &VPath) -> Result<&mut BTreeMap<String, Node>, FsError> {
        let mut node = &mut self.root;
        for name in path.components() {
            match node {
                Node::Dir(entries) => node = entries.get_mut(name).ok_or(FsError::NotFound)?,
                Node::File(_) => return Err(FsError::NotFound),
            }
        }
        match node {
            Node::Dir(entries) => Ok(entries),
            Node::File(_) => Err(FsError::NotADirectory),
        }
    }

    /// Whether `path` is a directory (CWD's check).
    pub(super) fn check_dir(&self, path: &VPath) -> Result<(), FsError> {
        match self.node(path) {
            Some(Node::Dir(_)) => Ok(()),
            Some(Node::File(_)) => Err(FsError::NotADirectory),
            None => Err(FsError::NotFound),
        }
    }

    /// A file's contents (shared, not copied).
    pub(super) fn read(&self, path: &VPath) -> Result<Arc<[u8]>, FsError> {
        match self.node(path) {
            Some(Node::File(data)) => Ok(Arc::clone(data)),
            Some(Node::Dir(_)) => Err(FsError::IsADirectory),
            None => Err(FsError::NotFound),
        }
    }

    /// The entries of a directory in name order (dot-names only if `all`), or the one
    /// entry of a file.
    pub(super) fn list(&self, path: &VPath, all: bool) -> Result<Vec<Entry>, FsError> {
        match self.node(path).ok_or(FsError::NotFound)? {
            Node::File(data) => Ok(vec![Entry {
                name: path.name().unwrap_or("/").to_string(),
                is_dir: false,
                size: data.len(),
            }]),
            Node::Dir(entries) => Ok(entries
                .iter()
                .filter(|(name, _)| all || !name.starts_with('.'))
                .map(|(name, node)| Entry {
                    name: name.clone(),
                    is_dir: matches!(node, Node::Dir(_)),
                    size: match node {
                        Node::File(data) => data.len(),
                        Node::Dir(_) => 4096,
                    },
                })
                .collect()),
        }
    }

    /// Whether a file may be stored at `path`: its directory exists and `path` is not a
    /// directory. Checked before the data connection opens.
    pub(super) fn check_store(&self, path: &VPath) -> Result<(), FsError> {
        let parent = path.parent().ok_or(FsError::IsRoot)?;
        self.check_dir(&parent)?;
        match self.node(path) {
            Some(Node::Dir(_)) => Err(FsError::IsADirectory),
            _ => Ok(()),
        }
    }

    /// Stores (creates or replaces) a file.
    pub(super) fn store(&mut self, path: &VPath, data: Vec<u8>) -> Result<(), FsError> {
        let (parent, name) = split(path)?;
        let entries = self.dir_mut(&parent)?;
        if let Some(Node::Dir(_)) = entries.get(name) {
            return Err(FsError::IsADirectory);
        }
        entries.insert(name.to_string(), Node::File(data.into()));
        Ok(())
    }

    /// Creates an empty directory.
    pub(super) fn mkdir(&mut self, path: &VPath) -> Result<(), FsError> {
        let (parent, name) = split(path)?;
        let entries = self.dir_mut(&parent)?;
        if entries.contains_key(name) {
            return Err(FsError::AlreadyExists);
        }
        entries.insert(name.to_string(), Node::Dir(BTreeMap::new()));
        Ok(())
    }

    /// Removes an empty directory.
    pub(super) fn rmdir(&mut self, path: &VPath) -> Result<(), FsError> {
        let (parent, name) = split(path)?;
        let entries = self.dir_mut(&parent)?;
        match entries.get(name) {
            None => Err(FsError::NotFound),
            Some(Node::File(_)) => Err(FsError::NotADirectory),
            Some(Node::Dir(children)) if !children.is_empty() => Err(FsError::NotEmpty),
            Some(Node::Dir(_)) => {
                entries.remove(name);
                Ok(())
            }
        }
    }

    /// Deletes a file.
    pub(super) fn delete(&mut self, path: &VPath) -> Result<(), FsError> {
        let (parent, name) = split(path)?;
        let entries = self.dir_mut(&parent)?;
        match entries.get(name) {
            None => Err(FsError::NotFound),
            Some(Node::Dir(_)) => Err(FsError::IsADirectory),
            Some(Node::File(_)) => {
                entries.remove(name);
                Ok(())
            }
        }
    }
}

/// Puts `bytes` at `dirs/file` below `dir`, making the directories on the way.
fn insert(dir: &mut BTreeMap<String, Node>, dirs: &[&str], file: &str, bytes: &[u8]) {
    match dirs.split_first() {
        None => {
            dir.insert(file.to_string(), Node::File(Arc::from(bytes)));
        }
        Some((name, rest)) => {
            let node = dir
                .entry((*name).to_string())
                .or_insert_with(|| Node::Dir(BTreeMap::new()));
            if let Node::Dir(entries) = node {
                insert(entries, rest, file, bytes);
            }
        }
    }
}

fn split(path: &VPath) -> Result<(VPath, &str), FsError> {
    match (path.parent(), path.name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(FsError::IsRoot),
    }
}

fn load_dir(dir: &Path, depth: usize) -> io::Result<Node> {
    let mut entries = BTreeMap::new();
    if depth >= MAX_DEPTH {
        return Ok(Node::Dir(entries));
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.chars().any(char::is_control) {
            continue;
        }
        // `file_type` does not follow symbolic links: a link is neither dir nor file here.
        let kind = entry.file_type()?;
        if kind.is_dir() {
            entries.insert(name, load_dir(&entry.path(), depth + 1)?);
        } else if kind.is_file() {
            entries.insert(name, Node::File(std::fs::read(entry.path())?.into()));
        }
    }
    Ok(Node::Dir(entries))
}

/// One `ls -l` line for a listing, without its CRLF, with a fixed date, owner and group:
/// `-rw-r--r--    1 ftp      ftp           265 Jan 01  2024 readme.txt`.
pub(super) fn long_line(entry: &Entry) -> String {
    let (mode, links) = if entry.is_dir {
        ("drwxr-xr-x", 2)
    } else {
        ("-rw-r--r--", 1)
    };
    format!(
        "{mode} {links:>4} {:<8} {:<8} {:>8} Jan 01  2024 {}",
        "ftp", "ftp", entry.size, entry.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> VPath {
        VPath::root().resolve(s).unwrap()
    }

    #[test]
    fn resolve_relative_absolute_dot_and_dotdot() {
        let cwd = p("/pub/sub");
        assert_eq!(cwd.resolve("a.txt").unwrap().display(), "/pub/sub/a.txt");
        assert_eq!(cwd.resolve("/readme.txt").unwrap().display(), "/readme.txt");
        assert_eq!(cwd.resolve("../x/./y//z").unwrap().display(), "/pub/x/y/z");
        assert_eq!(cwd.resolve("../..").unwrap().display(), "/");
    }

    #[test]
    fn dotdot_above_the_root_is_refused_not_clamped() {
        assert_eq!(p("/pub").resolve("../../etc/passwd"), Err(OutsideRoot));
        assert_eq!(VPath::root().resolve(".."), Err(OutsideRoot));
        assert_eq!(VPath::root().resolve("/../etc"), Err(OutsideRoot));
    }

    #[test]
    fn absolute_paths_start_at_the_virtual_root() {
        let v = Vfs::load(&crate::fixtures_dir().join("ftp-root")).unwrap();
        assert_eq!(v.read(&p("/etc/passwd")), Err(FsError::NotFound));
        assert!(v.read(&p("/readme.txt")).is_ok());
    }

    #[test]
    fn the_bundled_tree_is_the_fixture_tree() {
        let disk = Vfs::load(&crate::fixtures_dir().join("ftp-root")).unwrap();
        let bundled = Vfs::bundled();
        for dir in ["/", "/pub", "/incoming"] {
            assert_eq!(bundled.list(&p(dir), true), disk.list(&p(dir), true), "{dir}");
        }
        assert_eq!(bundled.read(&p("/readme.txt")), disk.read(&p("/readme.txt")));
    }

    #[test]
    fn writes_stay_in_memory_and_follow_the_tree_rules() {
        let mut v = Vfs::default();
        v.mkdir(&p("d")).unwrap();
        assert_eq!(v.mkdir(&p("d")), Err(FsError::AlreadyExists));
        v.store(&p("d/f"), b"x".to_vec()).unwrap();
        assert_eq!(v.store(&p("nope/f"), vec![]), Err(FsError::NotFound));
        assert_eq!(v.store(&p("d"), vec![]), Err(FsError::IsADirectory));
        assert_eq!(v.rmdir(&p("d")), Err(FsError::NotEmpty));
        assert_eq!(v.delete(&p("d")), Err(FsError::IsADirectory));
        v.delete(&p("d/f")).unwrap();
        v.rmdir(&p("d")).unwrap();
        assert_eq!(v.rmdir(&VPath::root()), Err(FsError::IsRoot));
        assert_eq!(v.list(&VPath::root(), true).unwrap(), vec![]);
    }

    #[test]
    fn listing_hides_dot_names_unless_asked() {
        let mut v = Vfs::default();
        v.store(&p(".keep"), vec![]).unwrap();
        v.store(&p("a"), vec![1, 2]).unwrap();
        let names = |all| {
            v.list(&VPath::root(), all)
                .unwrap()
                .into_iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(false), ["a"]);
        assert_eq!(names(true), [".keep", "a"]);
    }

    #[test]
    fn long_line_has_fixed_date_owner_and_group() {
        let e = Entry {
            name: "readme.txt".into(),
            is_dir: false,
            size: 265,
        };
        assert_eq!(
            long_line(&e),
            "-rw-r--r--    1 ftp      ftp           265 Jan 01  2024 readme.txt"
        );
        let d = Entry {
            name: "pub".into(),
            is_dir: true,
            size: 4096,
        };
        assert_eq!(
            long_line(&d),
            "drwxr-xr-x    2 ftp      ftp          4096 Jan 01  2024 pub"
        );
    }
}
