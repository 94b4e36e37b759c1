//! Where there are no network and PID namespaces (not Linux): a sandbox cannot be made,
//! and programs run in parley's own namespaces (the fallback of [`super`]).

use super::Unavailable;

/// Nothing lives in a sandbox here.
#[derive(Debug)]
pub(super) struct Inside;

impl Inside {
    /// Always refused.
    pub(super) fn enter() -> Result<Inside, Unavailable> {
        Err(Unavailable::NotLinux)
    }

    /// Never alive.
    pub(super) fn alive(&self) -> bool {
        false
    }

    /// Nothing to kill.
    pub(super) fn kill_all(&mut self) {}
}
