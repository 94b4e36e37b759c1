//! The product's own conformance suite as tests: one trial per scenario file in
//! `scenarios/`, named by its id (`echo::basic`), played against the bundled mock servers.
//!
//! `cargo test echo::` runs the echo scenarios; `cargo nextest run` runs each in its own
//! process. A broken scenario file is a failing trial showing its diagnostic; finding no
//! scenario at all is a failure. Each transcript is an insta snapshot
//! (`tests/snapshots/scenario__<id>.snap`); under `CI=true` a mismatch fails, elsewhere
//! `cargo insta review` shows the diff.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use parley::engine::{self, RunConfig};
use parley::outcome::{Party, Status};
use parley::report::human::{self, HumanOptions};

fn main() {
    let args = Arguments::from_args();
    let dir = parley_tests::scenarios_dir();
    let trials = match parley::scenario::discover(std::slice::from_ref(&dir)) {
        Ok(files) if !files.is_empty() => files.into_iter().map(trial).collect(),
        Ok(_) => vec![Trial::test("no-scenarios-found", move || {
            Err(format!("no scenario files under {}", dir.display()).into())
        })],
        Err(e) => vec![Trial::test("scenario-discovery", move || {
            Err(e.to_string().into())
        })],
    };
    libtest_mimic::run(&args, trials).exit();
}

fn trial(file: PathBuf) -> Trial {
    let id = parley::scenario::scenario_id(&file);
    Trial::test(id, move || play(&file))
}

fn play(file: &Path) -> Result<(), Failed> {
    let scenario = parley::scenario::load(file).map_err(|e| Failed::from(e.render(false)))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("cannot start a runtime: {e}")))?;
    let outcome = runtime.block_on(engine::run_one(&scenario, &RunConfig::default()));
    if outcome.status != Status::Passed {
        let opts = HumanOptions::default();
        return Err(format!(
            "{}\n{}",
            human::status_line(&outcome, &opts),
            human::details(&outcome, &opts)
        )
        .into());
    }
    let name = format!("scenario__{}", scenario.id.replace("::", "__"));
    // Against the mocks parley always plays the client. The text is the one
    // `parley run --snapshot DIR` stores, the scenario's `redact:` included.
    let text = parley::report::snapshot::normalized(&outcome.transcript, Party::Client, &scenario.redact);
    let settings = parley_tests::snapshot_settings();
    settings.bind(|| {
        insta::assert_snapshot!(name, text);
    });
    Ok(())
}
