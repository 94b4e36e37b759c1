//! The mocks' fixtures built into the crate: the FTP tree (`fixtures/ftp-root/`) and the
//! HTTP document root (`fixtures/www/`) as they were at build time, so a mock serves them
//! from memory wherever the binary runs (an installed `parley` has no checkout next to
//! it). Paths are relative to each tree's root, `/`-separated.

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The bytes of `path` in `tree`.
pub fn lookup(tree: &'static [(&'static str, &'static [u8])], path: &str) -> Option<&'static [u8]> {
    tree.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// Whether `path` is a directory of `tree` (the root, `""`, always is).
pub fn is_dir(tree: &'static [(&'static str, &'static [u8])], path: &str) -> bool {
    path.is_empty()
        || tree
            .iter()
            .any(|(p, _)| p.strip_prefix(path).is_some_and(|rest| rest.starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trees_are_the_fixtures() {
        for (path, bytes) in FTP_ROOT {
            let disk = std::fs::read(crate::fixtures_dir().join("ftp-root").join(path)).unwrap();
            assert_eq!(disk, *bytes, "{path}");
        }
        assert!(lookup(FTP_ROOT, "readme.txt").is_some());
        assert!(lookup(WWW, "hello.txt").is_some());
        assert!(is_dir(WWW, "nested"));
        assert!(!is_dir(WWW, "hello.txt"));
        assert!(!is_dir(WWW, "nest"));
    }
}
