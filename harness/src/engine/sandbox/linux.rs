//! The Linux side of a sandbox, run on its own OS thread: new network and PID namespaces
//! for that thread, a placeholder init process, and the loopback interface brought up.
//!
//! Why it works in a multi-threaded tokio process:
//! - `unshare(CLONE_NEWNET | CLONE_NEWPID)` changes only the calling thread (a task's
//!   namespaces are its own; neither flag needs a single-threaded process, unlike
//!   `CLONE_NEWUSER` or `CLONE_NEWNS`). The thread is then in the new network namespace,
//!   so every socket it creates belongs there (and can be used from any thread after), and
//!   every child it forks lands in the new PID namespace and inherits the network one.
//! - The first child forked after the unshare is pid 1 of the PID namespace. It is a
//!   placeholder (`cat` reading a pipe only parley holds): pid 1 ignores every signal it
//!   has no handler for when sent from inside its namespace, so a program cannot kill it,
//!   and SIGKILL from parley's namespace always lands. When it dies the kernel kills every
//!   process left in the namespace — `setsid()` and double forks included — and no process
//!   can be started in it again. If parley itself dies, the pipe closes, `cat` reads its
//!   end of file and exits, and the namespace goes with it.
//! - A thread whose children go to another PID namespace cannot create threads
//!   (`clone(CLONE_THREAD)` fails with EINVAL): the sandbox thread only creates sockets
//!   and forks; tasks it hands to tokio run on the runtime's existing workers.
//! - A new network namespace has a loopback interface that is down and has no address.
//!   It is brought up with one rtnetlink request (`RTM_NEWLINK`, `IFF_UP`, the same as
//!   `ip link set lo up`), which gives it 127.0.0.1/8 and ::1. No external program is run.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};

use nix::libc;
use nix::sched::{CloneFlags, unshare};
use nix::sys::socket::{AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};

use super::Unavailable;

/// The program that is pid 1 of a sandbox: it reads a pipe parley holds, and does nothing.
const INIT: &str = "cat";

/// What lives in a sandbox thread: its namespace's init process.
#[derive(Debug)]
pub(super) struct Inside {
    init: Option<Child>,
    /// parley's end of the init's stdin: while it is open, the init waits.
    keep_alive: Option<ChildStdin>,
}

impl Inside {
    /// Moves the calling thread into new network and PID namespaces, starts their init
    /// and brings the loopback up; checks that a connection over it works.
    pub(super) fn enter() -> Result<Inside, Unavailable> {
        unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWPID).map_err(Unavailable::Unshare)?;
        let mut init = Command::new(INIT)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| Unavailable::Init {
                program: INIT,
                source,
            })?;
        let keep_alive = init.stdin.take();
        // From here on, dropping `inside` ends the namespace's processes.
        let inside = Inside {
            init: Some(init),
            keep_alive,
        };
        loopback_up().map_err(|e| Unavailable::Loopback(e.to_string()))?;
        loopback_works().map_err(|e| Unavailable::Loopback(format!("a connection over it failed: {e}")))?;
        Ok(inside)
    }

    /// Whether the namespace's processes can still be started (its init is alive).
    pub(super) fn alive(&self) -> bool {
        self.init.is_some()
    }

    /// Kills the init, which makes the kernel kill every process of the namespace, and
    /// waits until it is gone. The kernel lets the init finish only once every process of
    /// the namespace has been reaped — including the program, which is parley's child and
    /// reaped by its [`Program`](crate::engine::program::Program) — so this blocks the
    /// sandbox thread (never a tokio worker) until then.
    pub(super) fn kill_all(&mut self) -> Option<ExitStatus> {
        drop(self.keep_alive.take());
        let mut init = self.init.take()?;
        // SIGKILL from the parent namespace reaches pid 1 whatever it does.
        let _ = init.kill();
        init.wait().ok()
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// `ip link set lo up`, as one rtnetlink request on a socket of this thread's namespace.
fn loopback_up() -> io::Result<()> {
    let fd = nix::sys::socket::socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    // The loopback is interface 1 in every network namespace; ask anyway.
    let index = nix::net::if_::if_nametoindex("lo").unwrap_or(1);
    let request = link_up_request(index as i32, 1);
    nix::sys::socket::sendto(
        fd.as_raw_fd(),
        &request,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )?;
    // rtnetlink answers a request in the send itself: the acknowledgement is already queued.
    let mut reply = [0u8; 512];
    let n = nix::sys::socket::recv(fd.as_raw_fd(), &mut reply, MsgFlags::MSG_DONTWAIT)?;
    match ack_error(&reply[..n]) {
        Some(0) => Ok(()),
        Some(errno) => Err(io::Error::from_raw_os_error(-errno)),
        None => Err(io::Error::other(
            "the kernel's answer to RTM_NEWLINK is not an acknowledgement",
        )),
    }
}

/// An `RTM_NEWLINK` request that sets `IFF_UP` on interface `index`, asking for an
/// acknowledgement: `struct nlmsghdr` then `struct ifinfomsg` (rtnetlink(7)).
fn link_up_request(index: i32, seq: u32) -> Vec<u8> {
    const LEN: u32 = 16 + 16;
    let mut m = Vec::with_capacity(LEN as usize);
    m.extend_from_slice(&LEN.to_ne_bytes()); // nlmsg_len
    m.extend_from_slice(&libc::RTM_NEWLINK.to_ne_bytes()); // nlmsg_type
    m.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes()); // nlmsg_seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it in
    m.push(libc::AF_UNSPEC as u8); // ifi_family
    m.push(0); // padding
    m.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    m.extend_from_slice(&index.to_ne_bytes()); // ifi_index
    m.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes()); // ifi_flags
    m.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes()); // ifi_change: only IFF_UP
    m
}

/// The error of a netlink acknowledgement (`NLMSG_ERROR`: 0 is success, else `-errno`),
/// `None` when `reply` is something else.
fn ack_error(reply: &[u8]) -> Option<i32> {
    let kind = u16::from_ne_bytes(reply.get(4..6)?.try_into().ok()?);
    if i32::from(kind) != libc::NLMSG_ERROR {
        return None;
    }
    Some(i32::from_ne_bytes(reply.get(16..20)?.try_into().ok()?))
}

/// A byte over a loopback connection of this thread's namespace, both ways, that leaves
/// nothing behind: its accepted end is reset, not closed, so no TIME_WAIT holds the
/// listener's port. A closed probe kept that port (one the kernel picked anywhere in the
/// ephemeral range) for a minute, and a program that binds a fixed port — the course's FTP
/// client binds 39851 — failed with "Address already in use" about once in 14,000 runs.
/// The probe is parley's own connection, not a protocol's: no peer expects its close.
fn loopback_works() -> io::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    client.write_all(b"!")?;
    let mut byte = [0u8; 1];
    server.read_exact(&mut byte)?;
    let reset = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    nix::sys::socket::setsockopt(&server, nix::sys::socket::sockopt::Linger, &reset)?;
    drop(server);
    drop(client);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_up_request_is_an_rtm_newlink_with_iff_up_and_an_ack() {
        let m = link_up_request(1, 7);
        assert_eq!(m.len(), 32);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 32);
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), libc::RTM_NEWLINK);
        assert_eq!(u16::from_ne_bytes(m[6..8].try_into().unwrap()), 1 | 4);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 1);
        assert_eq!(u32::from_ne_bytes(m[24..28].try_into().unwrap()), 1);
        assert_eq!(u32::from_ne_bytes(m[28..32].try_into().unwrap()), 1);
    }

    #[test]
    fn acknowledgements_are_told_from_other_replies() {
        let mut ack = vec![0u8; 36];
        ack[4..6].copy_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
        assert_eq!(ack_error(&ack), Some(0));
        ack[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert_eq!(ack_error(&ack), Some(-libc::EPERM));
        ack[4..6].copy_from_slice(&libc::RTM_NEWLINK.to_ne_bytes());
        assert_eq!(ack_error(&ack), None);
        assert_eq!(ack_error(&[0u8; 3]), None);
    }
}
