//! Which TCP ports a program (and the processes it started) is listening on, read from
//! Linux's `/proc`. Used to tell a student where their program really listens when the
//! port it announced (FTP PORT) is wrong, and when a spawned server is ready. The
//! tables are the program's own (`/proc/PID/net/tcp*`), so this works for a program in a
//! sandbox's network namespace too. Elsewhere it answers `None`.

use std::collections::BTreeSet;
use std::path::Path;

/// The ports in LISTEN state held by `pid` or its descendants, or `None` when `/proc`
/// cannot tell (not Linux, or the process is gone).
pub fn listening_ports(pid: i32) -> Option<BTreeSet<u16>> {
    let proc = Path::new("/proc");
    if !proc.join("net/tcp").exists() {
        return None;
    }
    let pids = process_tree(proc, pid);
    if pids.is_empty() {
        return None;
    }
    let mut inodes = BTreeSet::new();
    for p in &pids {
        let Ok(fds) = std::fs::read_dir(proc.join(p.to_string()).join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy();
                if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                    if let Ok(n) = inode.parse::<u64>() {
                        inodes.insert(n);
                    }
                }
            }
        }
    }
    let mut ports = BTreeSet::new();
    // --- isolation (engine/sandbox): the tables of the program's own network namespace
    // (`/proc/PID/net`), which is not parley's when the program runs in a sandbox.
    let own = proc.join(pid.to_string());
    for table in ["net/tcp", "net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(own.join(table)) else {
            continue;
        };
        for (port, inode) in parse_listeners(&text) {
            if inodes.contains(&inode) {
                ports.insert(port);
            }
        }
    }
    Some(ports)
}

/// `(port, inode)` of every LISTEN socket in a `/proc/net/tcp` table.
pub fn parse_listeners(table: &str) -> Vec<(u16, u64)> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let state = fields.get(3)?;
            let inode = fields.get(9)?.parse::<u64>().ok()?;
            if *state != "0A" {
                return None;
            }
            let port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            Some((port, inode))
        })
        .collect()
}

/// `pid` and all its descendants.
fn process_tree(proc: &Path, root: i32) -> Vec<i32> {
    let mut parent_of: Vec<(i32, i32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(proc) {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) {
                // The command name is in parentheses and may hold spaces: read after ')'.
                if let Some(ppid) = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<i32>().ok())
                {
                    parent_of.push((pid, ppid));
                }
            }
        }
    }
    if !parent_of.iter().any(|(p, _)| *p == root) {
        return Vec::new();
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    tree
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_are_read_from_the_tcp_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
            0: 0100007F:9BAB 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n   \
            1: 0100007F:9BAB 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 12346 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(parse_listeners(table), [(39851, 12345)]);
    }

    /// parley runs on Linux, where /proc/net/tcp is always there: its absence is a failure,
    /// not a reason to skip.
    #[tokio::test]
    async fn a_listening_child_process_is_found() {
        assert!(
            Path::new("/proc/net/tcp").exists(),
            "/proc/net/tcp is missing: is /proc mounted?"
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // This test process listens: its own tree must show the port.
        let ports = listening_ports(std::process::id() as i32).unwrap();
        assert!(ports.contains(&port), "{port} not in {ports:?}");
    }
}
