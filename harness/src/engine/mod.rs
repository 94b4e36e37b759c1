//! Plays scenarios over real sockets.
//!
//! [`run`] is the one entry point the CLI and the test harness share: it loads scenario
//! files, starts a bundled mock server per scenario (or uses a `--target`), plays each
//! scenario as the client with [`session::play`], `jobs` at a time, and returns one
//! [`Outcome`] per file, in file order. Nothing here prints.

pub mod batch;
pub mod conn;
pub mod grade;
pub mod matcher;
pub mod mocks;
pub mod procfs;
pub mod program;
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
    /// `--fail-fast`: after the first scenario that does not pass, start no other; those
    /// already playing finish, the rest are [`Status::NotRun`](crate::outcome::Status).
    pub fail_fast: bool,
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

/// Does `scenario` pass the filters? (Filter expressions: [`crate::filter`].)
pub fn selected(filters: &[String], id: &str, tags: &[String]) -> bool {
    crate::filter::selected(filters, id, tags)
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

/// Plays one scenario as the client against its target: the `--target` for its protocol,
/// or a fresh bundled mock server configured with the scenario's faults.
pub async fn run_one(scenario: &Scenario, config: &RunConfig) -> Outcome {
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

/// Loads and plays every scenario file, `config.jobs` at a time; outcomes in file order.
pub async fn run(files: &[PathBuf], config: &RunConfig) -> Vec<Outcome> {
    let loaded = load_all(files, &config.filters);
    let limit = Arc::new(tokio::sync::Semaphore::new(config.parallelism()));
    // `--fail-fast`: set by the first scenario that does not pass (an invalid file too).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(
        config.fail_fast && loaded.iter().any(|l| l.is_err()),
    ));
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
                let stop = Arc::clone(&stop);
                // Scenarios start in file order, so `--fail-fast` stops all that follow
                // the first failure.
                let permit = limit.acquire_owned().await;
                tasks.spawn(async move {
                    let _permit = permit;
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        let mut o = Outcome::not_run(&scenario, session::not_run(&scenario));
                        o.rule_points = session::rule_points(&scenario, &config.play);
                        return (index, o);
                    }
                    let outcome = run_one(&scenario, &config).await;
                    if config.fail_fast && outcome.status != crate::outcome::Status::Passed {
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    (index, outcome)
                });
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, outcome)) => outcomes[index] = Some(outcome),
            Err(e) => {
                // A panic inside the engine is a parley bug; report it rather than hide it.
                if let Some(slot) = outcomes.iter_mut().find(|o| o.is_none()) {
                    *slot = Some(Outcome::error(
                        "internal".into(),
                        PathBuf::new(),
                        RunError {
                            kind: ErrorKind::Scenario,
                            message: format!("parley failed internally: {e}"),
                            diagnostic: None,
                        },
                    ));
                }
            }
        }
    }
    outcomes.into_iter().flatten().collect()
}
