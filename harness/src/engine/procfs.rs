//! Which TCP ports a program (and the processes it started) is listening on, read from
//! Linux's `/proc`. Used to tell a student where their program really listens when the
//! port it announced (FTP PORT) is wrong, and when a spawned server is ready. The
//! tables are the program's own (`/proc/PID/net/tcp*`), so this works for a program in a
//! sandbox's network namespace too. Elsewhere it answers `None`.
//!
//! It also tells how many bytes parley sent on a loopback connection the peer has not
//! read yet ([`unread_by_peer`]): a reply written in pieces waits for the peer to take
//! each piece before the next, so a client that takes one read for the whole reply is
//! caught whatever the scheduler does.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
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

/// How many bytes wait unread in the receive queue of the peer's end of the loopback
/// connection `local` ↔ `peer`, read from the TCP tables of `pid`'s network namespace
/// (a sandboxed program's) and of parley's own; `None` when neither lists that socket
/// (another host, not Linux, the socket is gone).
pub fn unread_by_peer(pid: Option<i32>, local: SocketAddr, peer: SocketAddr) -> Option<u64> {
    let proc = Path::new("/proc");
    let mut dirs = Vec::new();
    if let Some(pid) = pid {
        dirs.push(proc.join(pid.to_string()).join("net"));
    }
    dirs.push(proc.join("thread-self/net"));
    for dir in dirs {
        for table in ["tcp", "tcp6"] {
            let Ok(text) = std::fs::read_to_string(dir.join(table)) else {
                continue;
            };
            if let Some(n) = parse_unread(&text, peer, local) {
                return Some(n);
            }
        }
    }
    None
}

/// The receive queue of the socket bound to `local` and connected to `remote` in a
/// `/proc/net/tcp*` table.
pub fn parse_unread(table: &str, local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    let (local, remote) = (canonical(local), canonical(remote));
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if parse_addr(fields.get(1)?)? != local || parse_addr(fields.get(2)?)? != remote {
            return None;
        }
        let (_, rx) = fields.get(4)?.split_once(':')?;
        u64::from_str_radix(rx, 16).ok()
    })
}

fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6): each 32-bit word is the
/// kernel's network-order word printed as a native integer.
fn parse_addr(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut octets = Vec::with_capacity(16);
    for i in (0..ip.len()).step_by(8) {
        let word = u32::from_str_radix(ip.get(i..i + 8)?, 16).ok()?;
        octets.extend_from_slice(&word.to_ne_bytes());
    }
    let ip: IpAddr = match octets.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(octets).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(octets).ok()?),
        _ => return None,
    };
    Some(SocketAddr::new(ip.to_canonical(), port))
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

    #[test]
    fn the_unread_bytes_of_a_connection_are_read_from_the_tcp_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
            0: 0100007F:9BAB 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n   \
            1: 0100007F:C350 0100007F:9BAB 01 00000000:00000004 00:00000000 00000000  1000        0 12346 1 0000000000000000 20 4 30 10 -1\n";
        let a: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:39851".parse().unwrap();
        assert_eq!(parse_unread(table, a, b), Some(4));
        assert_eq!(parse_unread(table, b, a), None);
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:50000".parse().unwrap();
        assert_eq!(parse_unread(table, mapped, b), Some(4));
    }

    /// A real connection: bytes written and not read are counted, and none once read.
    #[test]
    fn unread_bytes_on_a_live_connection_are_seen_until_read() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut theirs, _) = listener.accept().unwrap();
        let (local, peer) = (ours.local_addr().unwrap(), ours.peer_addr().unwrap());
        // What the table shows settles as soon as the kernel has moved the bytes.
        let settles_at = |want: u64| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let got = unread_by_peer(None, local, peer);
                if got == Some(want) || std::time::Instant::now() > deadline {
                    return got;
                }
                std::thread::yield_now();
            }
        };
        assert_eq!(settles_at(0), Some(0));
        ours.write_all(b"hello").unwrap();
        assert_eq!(settles_at(5), Some(5));
        let mut buf = [0u8; 5];
        theirs.read_exact(&mut buf).unwrap();
        assert_eq!(settles_at(0), Some(0));
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
