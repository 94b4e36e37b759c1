//! parley: a protocol conformance harness.
//!
//! A YAML scenario describes one conversation byte for byte; parley plays either side of
//! it and reports every deviation under a stable rule id.
//!
//! Map of the crate:
//! - [`scenario`]: the file format (schema, diagnostics) and the checked plan;
//! - [`proto`]: sans-I/O framing, parsing and RFC checks per protocol;
//! - [`engine`]: plays a plan over tokio sockets, as client or server, with deadlines;
//! - [`outcome`]: what a run produced (status, findings, transcript);
//! - [`report`]: renders outcomes as human text, JSON, JUnit, CSV and HTML, and reads JSON
//!   reports back for `parley merge`, and every other command's text (the engine and the
//!   CLI's argument handling never format output);
//! - [`filter`]: `--filter` expressions (`tag:security and not ftp::bounce`);
//! - [`secrets`]: secret variables masked in every outcome;
//! - [`serve`]: a bundled mock in the foreground behind the engine's relay, which reports every exchange;
//! - [`record`]: a recorded conversation written as a scenario that plays back both ways;
//! - [`snapshot`]: normalized transcripts stored in insta's `.snap` format (`--snapshot DIR`),
//!   compared under rule S-SNAPSHOT, and their pending updates (`parley review`);
//! - [`rules`]: the rule catalogue; [`finding`]: one deviation; [`visible`]: bytes made readable.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod engine;
pub mod filter;
pub mod finding;
pub mod outcome;
pub mod proto;
pub mod record;
pub mod report;
pub mod rules;
pub mod scenario;
pub mod secrets;
pub mod serve;
pub mod snapshot;
pub mod visible;
