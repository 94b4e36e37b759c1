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
pub mod repeat;
pub mod sandbox;
pub mod session;
pub mod stream;
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
/// Ids are unique in the run ([`scenario::ids`]).
pub fn load_all(files: &[PathBuf], filters: &[String]) -> Vec<Result<Scenario, Outcome>> {
    files
        .iter()
        .zip(scenario::ids(files))
        .filter_map(
            |(path, id)| match id.map(|id| (scenario::load_as(path, id.clone()), id)) {
                Ok((Ok(s), _)) if selected(filters, &s.id, &s.tags) => Some(Ok(s)),
                Ok((Ok(_), _)) => None,
                Ok((Err(e), id)) => {
                    let mut o = load_error(path.clone(), &e);
                    o.name = id.clone();
                    o.id = id;
                    Some(Err(o))
                }
                Err(clash) => Some(Err(load_error(
                    path.clone(),
                    &ScenarioError::Read {
                        path: path.clone(),
                        source: std::io::Error::other(clash),
                    },
                ))),
            },
        )
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
/// Secret variables are masked in the outcome.
pub async fn run_one(scenario: &Scenario, config: &RunConfig) -> Outcome {
    if let Some(o) = unplayable(scenario, Side::Client) {
        return o;
    }
    let mut outcome = run_unmasked(scenario, config).await;
    outcome.mask(&scenario.secret_values(&config.play.vars));
    outcome
}

async fn run_unmasked(scenario: &Scenario, config: &RunConfig) -> Outcome {
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
                    let id = scenario.id.clone();
                    let file = scenario.file.clone();
                    let fail_fast = config.fail_fast;
                    let outcome = guarded(&id, &file, async move { run_one(&scenario, &config).await }).await;
                    if fail_fast && outcome.status != crate::outcome::Status::Passed {
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Status, Summary};

    #[tokio::test]
    async fn a_panic_while_playing_is_an_internal_error_in_its_own_row() {
        let o = guarded(
            "echo::basic",
            std::path::Path::new("scenarios/echo/basic.yaml"),
            async { panic!("the engine tripped") },
        )
        .await;
        assert_eq!(o.id, "echo::basic");
        assert_eq!(o.status, Status::Error);
        let e = o.error.as_ref().unwrap();
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(e.message.contains("a bug in parley") && e.message.contains("the engine tripped"));
        assert_eq!(Summary::exit_code(&[o]), 4);
    }
}
