//! Shared helpers for parley's integration tests.
