//! The checked, runtime form of a scenario: what the engine plays.
//!
//! [`build`] turns the on-disk documents into a [`Scenario`]: includes are expanded and
//! every step gets its `file:line:col`; [`check`] then checks the parts against each other
//! — every variable has a value by the time it is used, connections are opened before use
//! and not used after their side closed them, protocol-specific matchers fit the protocol,
//! `when` refers to steps that exist. Each failure becomes a diagnostic at the offending
//! node. [`model`] holds the types the engine consumes.

mod build;
mod check;
mod model;

pub use build::FragmentSummary;
pub(crate) use build::{build, build_fragment, faults_from_yaml, read_yaml};
pub use check::LISTEN_VARS;
pub use model::*;
