//! Grading many programs: one submission folder each, every scenario plain and under each
//! fault variant, `jobs` at a time, each run with its own program instance and ports.
//! `--shard K/N` takes every N-th submission so a class can be split across machines.
//! Each run is in a sandbox of its own where the OS allows (`engine::sandbox`); without
//! one, the runs of one submission go one after another.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::grade::{GradeOptions, grade_client};
use crate::outcome::{Outcome, Status};
use crate::scenario::Scenario;

/// One submission: its name (the folder name) and folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The folder's name.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
}

/// A shard: the `index`-th (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not K/N (e.g. 2/4)"))?;
        let index: usize = k
            .trim()
            .parse()
            .map_err(|_| format!("`{k}` in `{s}` is not a number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` in `{s}` is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("shard `{s}`: K must be between 1 and N"));
        }
        Ok(Shard { index, count })
    }
}

/// The sub-folders of `dir`, sorted by name, `shard` applied.
pub fn submissions(dir: &Path, shard: Option<Shard>) -> std::io::Result<Vec<Submission>> {
    let mut all: Vec<Submission> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| Submission {
            name: e.file_name().to_string_lossy().into_owned(),
            dir: e.path(),
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(match shard {
        Some(s) => all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % s.count == s.index - 1)
            .map(|(_, sub)| sub)
            .collect(),
        None => all,
    })
}

/// The runs of one scenario: plain, then each variant (unless `variants` is false).
pub fn runs(scenario: &Scenario, variants: bool) -> Vec<Option<usize>> {
    let mut out = vec![None];
    if variants {
        out.extend((0..scenario.variants.len()).map(Some));
    }
    out
}

/// Grades every submission with every scenario (and variant), `jobs` at a time; calls
/// `on_done` as each run finishes; returns outcomes ordered by submission, scenario, run.
pub async fn grade_all<F>(
    submissions: &[Submission],
    scenarios: &[Scenario],
    base: &GradeOptions,
    variants: bool,
    jobs: usize,
    on_done: F,
) -> Vec<Outcome>
where
    F: Fn(&Outcome) + Send + Sync + 'static,
{
    grade_all_with(submissions, scenarios, base, variants, jobs, false, on_done).await
}

/// [`grade_all`] with `--fail-fast`: when `fail_fast` is set, the first run that does not
/// pass stops the scheduling of new runs; those already started finish, the others are
/// reported as [`Status::NotRun`](crate::outcome::Status).
pub async fn grade_all_with<F>(
    submissions: &[Submission],
    scenarios: &[Scenario],
    base: &GradeOptions,
    variants: bool,
    jobs: usize,
    fail_fast: bool,
    on_done: F,
) -> Vec<Outcome>
where
    F: Fn(&Outcome) + Send + Sync + 'static,
{
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let limit = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let on_done = Arc::new(on_done);
    let scenarios = Arc::new(scenarios.to_vec());
    let mut tasks = tokio::task::JoinSet::new();
    let mut order = 0usize;
    // --- isolation (engine/sandbox): without a sandbox, the runs of one submission would
    // share its fixed ports, so they go one after another (submissions still in parallel).
    let serial = super::sandbox::availability(base.play.isolation).await.is_err();
    for sub in submissions {
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        for (si, scenario) in scenarios.iter().enumerate() {
            for run in runs(scenario, variants) {
                let turn = serial.then(|| Arc::clone(&turn));
                let limit = Arc::clone(&limit);
                let on_done = Arc::clone(&on_done);
                let scenarios = Arc::clone(&scenarios);
                let opts = GradeOptions {
                    dir: Some(sub.dir.clone()),
                    ..base.clone()
                };
                let name = sub.name.clone();
                let index = order;
                order += 1;
                let stop = Arc::clone(&stop);
                // Runs start in order (submission, scenario, run): `--fail-fast` then stops
                // everything after the first failure, whatever the scheduler does.
                let permit = limit.acquire_owned().await;
                tasks.spawn(async move {
                    let _permit = permit;
                    let _turn = match turn {
                        Some(t) => Some(t.lock_owned().await),
                        None => None,
                    };
                    let (id, file) = (scenarios[si].id.clone(), scenarios[si].file.clone());
                    let variant_name = run.map(|v| scenarios[si].variants[v].0.clone());
                    let mut outcome = if stop.load(Ordering::SeqCst) {
                        let scenario = &scenarios[si];
                        let mut o = Outcome::not_run(scenario, super::session::not_run(scenario));
                        o.rule_points = super::session::rule_points(scenario, &opts.play);
                        o
                    } else {
                        let o = super::guarded(&id, &file, async move {
                            let scenario = &scenarios[si];
                            let variant =
                                run.map(|v| (scenario.variants[v].0.as_str(), &scenario.variants[v].1));
                            grade_client(scenario, variant, &opts).await
                        })
                        .await;
                        if fail_fast && o.status != Status::Passed {
                            stop.store(true, Ordering::SeqCst);
                        }
                        o
                    };
                    outcome.submission = Some(name);
                    outcome.variant = variant_name;
                    on_done(&outcome);
                    (index, outcome)
                });
            }
        }
    }
    let mut done: Vec<(usize, Outcome)> = Vec::with_capacity(order);
    while let Some(joined) = tasks.join_next().await {
        // Each run catches its own panic (`guarded`), so every run has its row.
        if let Ok(pair) = joined {
            done.push(pair);
        }
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, o)| o).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_take_every_nth_submission() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a", "b", "c", "d", "e"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        let names = |shard: Option<Shard>| -> Vec<String> {
            submissions(dir.path(), shard)
                .unwrap()
                .into_iter()
                .map(|s| s.name)
                .collect()
        };
        assert_eq!(names(None), ["a", "b", "c", "d", "e"]);
        assert_eq!(names(Some("1/2".parse().unwrap())), ["a", "c", "e"]);
        assert_eq!(names(Some("2/2".parse().unwrap())), ["b", "d"]);
    }

    #[test]
    fn bad_shards_are_refused() {
        assert!("0/2".parse::<Shard>().is_err());
        assert!("3/2".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().unwrap_err().contains("K/N"));
    }
}
