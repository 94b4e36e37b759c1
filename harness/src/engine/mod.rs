//! Plays scenarios over real sockets.
//!
//! [`run`] is the one entry point the CLI and the test harness share: it loads scenario
//! files, starts a bundled mock server per scenario (or uses a `--target`), plays each
//! scenario as the client with [`session::play`], `jobs` at a time, and returns one
//! [`Outcome`] per file, in file order. Nothing here prints.
//!
//! [`relay`] is the other way in: parley between two other parties (`parley serve`,
//! `parley record`), feeding what passes to the same inspectors.

pub mod batch;
pub mod conn;
pub mod grade;
pub mod limits;
pub mod matcher;
pub mod mocks;
pub mod procfs;
pub mod program;
pub mod relay;
pub mod sandbox;
pub mod session;
pub mod transcript;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::outcome::{ErrorKind, Outcome, RunError};
use crate::proto::Protocol;
use crate::scenario::{self, Scenario, ScenarioError, Side};

pub use session::{Endpoint, PlayOptions, play};

/// What `parley run` does.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// Real servers per protocol (`host:port`); protocols without one use the bundled mock.
    pub targets: BTreeMap<Protocol, String>,
    /// Scenarios played at once (0 = one per core).
    pub jobs: usize,
    /// Keep scenarios whose id contains one of these, or that have tag `X` for `tag:X`.
    pub filters: Vec<String>,
    /// Play options shared by every scenario.
    pub play: PlayOptions,
    /// A server program to start for each scenario (`{host}`/`{port}` filled in) instead
    /// of a mock or target: `parley run ... -- CMD {port}`.
    pub server_program: Option<Vec<String>>,
}

impl RunConfig {
    /// The number of scenarios played at once.
    pub fn parallelism(&self) -> usize {
        if self.jobs > 0 {
            self.jobs
        } else {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
        }
    }
}

/// Does `scenario` pass the filters?
pub fn selected(filters: &[String], id: &str, tags: &[String]) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| match f.strip_prefix("tag:") {
            Some(tag) => tags.iter().any(|t| t == tag),
            None => id.contains(f.as_str()),
        })
}

/// A scenario file that could not be loaded, as an outcome.
pub fn load_error(path: PathBuf, err: &ScenarioError) -> Outcome {
    Outcome::error(
        scenario::scenario_id(&path),
        path,
        RunError {
            kind: ErrorKind::Scenario,
            message: err.to_string(),
            diagnostic: err.diagnostic().cloned(),
        },
    )
}

/// Loads every file; invalid ones become error outcomes. Filters apply to valid ones
/// (an invalid file is always reported: it may be the one the filter was meant to find).
pub fn load_all(files: &[PathBuf], filters: &[String]) -> Vec<Result<Scenario, Outcome>> {
    files
        .iter()
        .filter_map(|path| match scenario::load(path) {
            Ok(s) if selected(filters, &s.id, &s.tags) => Some(Ok(s)),
            Ok(_) => None,
            Err(e) => Some(Err(load_error(path.clone(), &e))),
        })
        .collect()
}

/// An outcome for a scenario that cannot be played as `me` (found before anything runs).
pub fn unplayable(scenario: &Scenario, me: Side) -> Option<Outcome> {
    let err = scenario.playable_as(me).err()?;
    let mut o = load_error(scenario.file.clone(), &err);
    o.id = scenario.id.clone();
    o.name = scenario.name.clone();
    o.protocol = Some(scenario.protocol.name());
    Some(o)
}

/// Plays one scenario as the client against its target: the `--target` for its protocol,
/// or a fresh bundled mock server configured with the scenario's faults.
pub async fn run_one(scenario: &Scenario, config: &RunConfig) -> Outcome {
    if let Some(o) = unplayable(scenario, Side::Client) {
        return o;
    }
    if let Some(command) = &config.server_program {
        let opts = grade::GradeOptions {
            command: command.clone(),
            dir: None,
            play: config.play.clone(),
        };
        return grade::run_against_program(scenario, &opts).await;
    }
    match config.targets.get(&scenario.protocol) {
        Some(addr) => {
            let opts = PlayOptions {
                target_label: Some(addr.clone()),
                ..config.play.clone()
            };
            play(scenario, Side::Client, Endpoint::Connect(addr.clone()), &opts).await
        }
        None => match mocks::start(scenario).await {
            Ok(mock) => {
                let addr = mock.addr().to_string();
                let opts = PlayOptions {
                    target_label: Some(format!("mock {} {addr}", scenario.protocol)),
                    ..config.play.clone()
                };
                let outcome = play(scenario, Side::Client, Endpoint::Connect(addr), &opts).await;
                mock.shutdown().await;
                outcome
            }
            Err(e) => Outcome::error(
                scenario.id.clone(),
                scenario.file.clone(),
                RunError {
                    kind: ErrorKind::Unreachable,
                    message: format!("cannot start the bundled {} mock server: {e}", scenario.protocol),
                    diagnostic: None,
                },
            ),
        },
    }
}

/// Runs `play` on a task of its own, so that a panic in it (a bug in parley) becomes an
/// internal-error outcome for scenario `id` — its row stays in every report, in its own
/// slot — instead of taking the run down or vanishing.
pub async fn guarded<F>(id: &str, file: &std::path::Path, play: F) -> Outcome
where
    F: std::future::Future<Output = Outcome> + Send + 'static,
{
    match tokio::spawn(play).await {
        Ok(outcome) => outcome,
        Err(e) => {
            let why = if e.is_panic() {
                let panic = e.into_panic();
                panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_string())
            } else {
                "the task was cancelled".to_string()
            };
            Outcome::error(
                id.to_string(),
                file.to_path_buf(),
                RunError {
                    kind: ErrorKind::Internal,
                    message: format!("parley failed internally (a bug in parley; please report it): {why}"),
                    diagnostic: None,
                },
            )
        }
    }
}

/// Loads and plays every scenario file, `config.jobs` at a time; outcomes in file order.
pub async fn run(files: &[PathBuf], config: &RunConfig) -> Vec<Outcome> {
    let loaded = load_all(files, &config.filters);
    let limit = Arc::new(tokio::sync::Semaphore::new(config.parallelism()));
    let config = Arc::new(config.clone());
    let mut tasks = tokio::task::JoinSet::new();
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(loaded.len());
    for (index, item) in loaded.into_iter().enumerate() {
        match item {
            Err(outcome) => outcomes.push(Some(outcome)),
            Ok(scenario) => {
                outcomes.push(None);
                let limit = Arc::clone(&limit);
                let config = Arc::clone(&config);
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let id = scenario.id.clone();
                    let file = scenario.file.clone();
                    let outcome = guarded(&id, &file, async move { run_one(&scenario, &config).await }).await;
                    (index, outcome)
                });
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        // Each task catches its own scenario's panic (`guarded`); this only fails if the
        // runtime itself is going away.
        if let Ok((index, outcome)) = joined {
            outcomes[index] = Some(outcome);
        }
    }
    outcomes.into_iter().flatten().collect()
}
