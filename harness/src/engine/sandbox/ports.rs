//! The machine's ports, shared by every program run without a sandbox — in this parley
//! process and in any other on the machine (two graders at once, parallel test binaries).
//! An ordinary run takes a shared turn; a run retried after a collision takes the only
//! turn, so that nothing else without a sandbox runs while it does.
//!
//! Two locks, taken in this order: one in the process (a tokio `RwLock`, which queues new
//! shared turns behind a waiting retry, so a retry is not starved by a busy class), and
//! one for the machine, `flock(2)` on [`lock_file`] (shared or exclusive). Where the lock
//! file cannot be opened, the process's lock alone is used.

use std::fs::File;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static IN_PROCESS: RwLock<()> = RwLock::const_new(());

/// A turn on the machine's ports, held for one program run.
#[derive(Debug)]
pub(super) struct Turn {
    _machine: Option<Flock<File>>,
    _process: Process,
}

#[derive(Debug)]
#[allow(dead_code)] // held, never read
enum Process {
    Shared(RwLockReadGuard<'static, ()>),
    Alone(RwLockWriteGuard<'static, ()>),
}

/// The file every parley on the machine locks for the ports.
pub(super) fn lock_file() -> PathBuf {
    std::env::temp_dir().join("parley-ports.lock")
}

/// A turn alongside other runs without a sandbox.
pub(super) async fn shared() -> Turn {
    let process = Process::Shared(IN_PROCESS.read().await);
    Turn {
        _machine: machine(FlockArg::LockShared).await,
        _process: process,
    }
}

/// The only turn: no other run without a sandbox, here or in another parley, meanwhile.
pub(super) async fn alone() -> Turn {
    let process = Process::Alone(IN_PROCESS.write().await);
    Turn {
        _machine: machine(FlockArg::LockExclusive).await,
        _process: process,
    }
}

/// The machine's lock (`flock` blocks: on the blocking pool), or `None` without one.
async fn machine(how: FlockArg) -> Option<Flock<File>> {
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::OpenOptionsExt;
        let path = lock_file();
        // Anyone may lock it; a file another user created is locked read-only.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o666)
            .open(&path)
            .or_else(|_| File::open(&path))
            .ok()?;
        Flock::lock(file, how).ok()
    })
    .await
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_turn_alone_waits_for_the_shared_ones_and_keeps_others_out() {
        let first = shared().await;
        let second = shared().await; // shared turns go together
        let alone_task = tokio::spawn(async { alone().await });
        // The retry cannot have its turn while shared ones are held.
        tokio::task::yield_now().await;
        assert!(!alone_task.is_finished());
        drop((first, second));
        let turn = tokio::time::timeout(Duration::from_secs(300), alone_task)
            .await
            .expect("the turn alone comes once the shared ones end")
            .unwrap();
        // Another process holding the machine lock is kept out meanwhile.
        let f = File::open(lock_file()).unwrap();
        let other = Flock::lock(f, FlockArg::LockSharedNonblock);
        assert!(other.is_err(), "the machine lock is exclusive");
        drop(turn);
    }
}
