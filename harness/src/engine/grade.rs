//! Programs under test: parley as the server for a client program (`parley grade`), and
//! parley as the client of a server program it starts (`parley run ... -- CMD`).
//!
//! Each scenario (and each fault variant) gets its own program instance and its own
//! ports, so scenarios run in parallel and one program's state never leaks into the next.
//! The program's exit, stdout and stderr tail join the outcome; a program that cannot be
//! started is an `unreachable` error (exit code 3); one that never connects, hangs or
//! crashes is graded as such within the deadlines and stopped with its whole process group.

use crate::rules;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use super::program::{Program, ProgramReport, ProgramSpec, fill};
use super::sandbox::{self, Place, SocketFactory};
use super::session::{Endpoint, PlayOptions, play};
use crate::finding::Finding;
use crate::outcome::{ErrorKind, Outcome, Party, ProgramCheck, ProgramSummary, RunError, StepState};
use crate::scenario::plan::Faults;
use crate::scenario::{Scenario, Side};
use crate::visible::visible_truncated;

/// How long a program gets after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// What to grade with.
#[derive(Debug, Clone, Default)]
pub struct GradeOptions {
    /// The command, with `{host}`, `{port}` and `{dir}` placeholders.
    pub command: Vec<String>,
    /// The submission directory (fills `{dir}`), when grading a class.
    pub dir: Option<std::path::PathBuf>,
    /// Play options shared by every scenario.
    pub play: PlayOptions,
}

fn summary(command: &[String], r: &ProgramReport) -> ProgramSummary {
    ProgramSummary {
        command: command.join(" "),
        status: r.describe_status(),
        exit_code: r.status.and_then(|s| s.code()).filter(|_| !r.stopped),
        stdout_bytes: r.stdout_total,
        stderr_tail: r.stderr_tail(8),
        stopped: r.stopped,
        ..ProgramSummary::default()
    }
}

fn cannot_start(scenario: &Scenario, opts: &PlayOptions, argv: &[String], e: &std::io::Error) -> Outcome {
    let mut o = Outcome::error(
        scenario.id.clone(),
        scenario.file.clone(),
        RunError {
            kind: ErrorKind::Unreachable,
            message: format!(
                "cannot start `{}`: {e}",
                argv.first().map(String::as_str).unwrap_or("")
            ),
            diagnostic: None,
        },
    );
    o.name = scenario.name.clone();
    o.protocol = Some(scenario.protocol.name());
    // Nothing ran, but the gradebook still needs what the scenario was worth.
    o.steps = super::session::not_run(scenario);
    o.rule_points = super::session::rule_points(scenario, opts);
    o
}

fn dir_value(dir: Option<&Path>) -> String {
    dir.map(|d| d.display().to_string())
        .unwrap_or_else(|| ".".to_string())
}

/// Grades a client program: parley listens, starts the program with `{host}` and
/// `{port}`, plays the server side of `scenario` (shaped by `variant`'s faults), checks
/// what the program printed and how it ended, and stops it.
pub async fn grade_client(
    scenario: &Scenario,
    variant: Option<(&str, &Faults)>,
    opts: &GradeOptions,
) -> Outcome {
    if let Some(o) = super::unplayable(scenario, Side::Server) {
        return o;
    }
    // --- isolation (engine/sandbox): each run in a sandbox of its own where the OS allows.
    sandbox::isolated(opts.play.isolation, |place| {
        grade_in(place, scenario, variant, opts)
    })
    .await
}

/// [`grade_client`] at `place`: parley's sockets and the program are there.
async fn grade_in(
    place: Place,
    scenario: &Scenario,
    variant: Option<(&str, &Faults)>,
    opts: &GradeOptions,
) -> Outcome {
    let sockets = place.sockets();
    let listener = match sockets.bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
        Ok(l) => l,
        Err(e) => return cannot_start(scenario, &opts.play, &opts.command, &e),
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let port = listener
        .local_addr()
        .map(|a| a.port().to_string())
        .unwrap_or_default();
    let dir = dir_value(opts.dir.as_deref());
    let argv = fill(
        &opts.command,
        &[("host", "127.0.0.1"), ("port", &port), ("dir", &dir)],
    );
    let vars = &opts.play.vars;
    let stdin = scenario
        .program
        .stdin
        .as_ref()
        .and_then(|p| p.render(&scenario_vars(scenario, vars)).ok());
    let spec = ProgramSpec {
        argv: argv.clone(),
        env: vec![
            ("PARLEY_HOST".into(), "127.0.0.1".into()),
            ("PARLEY_PORT".into(), port.clone()),
        ],
        stdin,
        cwd: None,
    };
    let mut program = match place.spawn(&spec).await {
        Ok(p) => p,
        Err(e) => return cannot_start(scenario, &opts.play, &argv, &e),
    };
    let exited = tokio_util::sync::CancellationToken::new();
    let play_opts = PlayOptions {
        server_faults: variant.map(|(_, f)| f.clone()),
        target_label: Some(format!("{} (parley serving at {addr})", argv.join(" "))),
        program_pid: Some(program.pid()),
        program_exited: Some(exited.clone()),
        sockets: Some(sockets),
        ..opts.play.clone()
    };
    let mut outcome = {
        let played = play(scenario, Side::Server, Endpoint::Accept(listener), &play_opts);
        tokio::pin!(played);
        loop {
            tokio::select! {
                o = &mut played => break o,
                _ = program.exited(), if !exited.is_cancelled() => exited.cancel(),
            }
        }
    };
    // A conversation that failed ends the run: the program is stopped at once and its
    // own checks are not run. One that passed gives it its grace to finish.
    outcome.settle();
    let conversation_passed = outcome.status == crate::outcome::Status::Passed;
    let grace = scenario.program.grace;
    let report = if conversation_passed {
        program.stop(grace).await
    } else if sandbox::program_left(&outcome) {
        // A program that closed its end gave up and is on its way out: it is let exit by
        // itself, so that its status and last words (without a sandbox: a port another
        // run holds) are its own.
        program.stop(STOP_GRACE).await
    } else {
        // Still connected when the conversation failed: whether it then exits by itself
        // (on the last bytes parley sent, on its close) or dies of the SIGTERM is a race,
        // so it is "stopped by parley" either way, also when its exit was seen before the
        // play ended. Only one that exited before it connected keeps its status.
        let mut r = program.terminate(STOP_GRACE).await;
        r.stopped |= !exited.is_cancelled() || sandbox::program_connected(&outcome);
        r
    };
    outcome.program_checks = check_program(
        scenario,
        &mut outcome.findings,
        &report,
        grace,
        conversation_passed,
    );
    outcome.variant = variant.map(|(name, _)| name.to_string());
    outcome.program = Some(summary(&argv, &report));
    outcome.settle();
    settle_place(place, &mut outcome, &report).await;
    outcome.mask(&scenario.secret_values(&opts.play.vars));
    outcome
}

// --- isolation (engine/sandbox): begin
/// Ends the run at `place` (nothing of the program is left when this returns) and notes
/// whether its program failed because a port it binds was taken; without a sandbox that
/// is another run's doing.
async fn settle_place(place: Place, outcome: &mut Outcome, report: &ProgramReport) {
    let isolated = place.isolated();
    place.close().await;
    outcome.port_in_use = outcome.status != crate::outcome::Status::Passed && sandbox::collided(report);
    if outcome.port_in_use && !isolated {
        sandbox::mark_collision(outcome);
    }
}
// --- isolation: end

fn scenario_vars(
    scenario: &Scenario,
    cli: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    let mut vars: std::collections::BTreeMap<String, String> = scenario
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.source.clone()))
        .collect();
    vars.extend(cli.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars
}

/// The checks of the program itself — it exits by itself within `grace`, its exit status,
/// its output — each worth the scenario's `program: { points }`; a failed one adds its
/// finding. After a failed conversation they are not run (`ran` false).
fn check_program(
    scenario: &Scenario,
    findings: &mut Vec<Finding>,
    r: &ProgramReport,
    grace: Duration,
    ran: bool,
) -> Vec<ProgramCheck> {
    let expect = &scenario.program;
    let rule = expect.rule.unwrap_or(rules::S_PROGRAM);
    let stdout = String::from_utf8_lossy(&r.stdout);
    let vars = scenario_vars(scenario, &Default::default());
    let mut checks = Vec::new();
    let mut check = |what: String, failure: Option<Finding>| {
        let state = match (&failure, ran) {
            (_, false) => StepState::NotRun,
            (None, true) => StepState::Passed,
            (Some(_), true) => StepState::Failed,
        };
        if let (Some(f), true) = (failure, ran) {
            findings.push(f.by(Party::Client));
        }
        checks.push(ProgramCheck {
            what,
            points: expect.points,
            state,
        });
    };
    let hung = r.stopped.then(|| {
        Finding::new(
            rule,
            format!(
                "the program did not exit within {} after the conversation; parley stopped it{}",
                crate::scenario::duration::human(grace),
                if r.killed {
                    " (it ignored SIGTERM and was killed)"
                } else {
                    ""
                }
            ),
        )
    });
    check("exits by itself".to_string(), hung);
    if let Some(want) = expect.exit {
        let got = r.status.and_then(|s| s.code());
        let failure = (got != Some(want) && !r.stopped).then(|| {
            Finding::new(
                rule,
                format!(
                    "the program ended with {}, not exit status {want}",
                    r.describe_status()
                ),
            )
            .expected_text(format!("exit status {want}"))
            .actual_text(r.describe_status())
        });
        // A program parley had to stop has no exit status of its own.
        let failure = failure.or_else(|| {
            r.stopped.then(|| {
                Finding::new(
                    rule,
                    format!("the program did not exit by itself, so it did not exit with status {want}"),
                )
            })
        });
        check(format!("exit status {want}"), failure);
    }
    if let Some(t) = &expect.stdout_contains {
        let want = t.render(&vars).unwrap_or_else(|_| t.source.clone());
        let failure = (!stdout.contains(&want)).then(|| {
            Finding::new(rule, format!("the program's output does not contain \"{want}\""))
                .expected_text(want.clone())
                .actual(&r.stdout[..r.stdout.len().min(2048)])
        });
        check(format!("stdout contains \"{want}\""), failure);
    }
    if let Some(t) = &expect.stdout_not_contains {
        let want = t.render(&vars).unwrap_or_else(|_| t.source.clone());
        let failure = stdout.contains(&want).then(|| {
            Finding::new(
                rule,
                format!("the program's output contains \"{want}\", which it must not"),
            )
        });
        check(format!("stdout does not contain \"{want}\""), failure);
    }
    checks
}

/// Picks a free port on 127.0.0.1 where `sockets` are (the kernel's choice; the listener
/// is closed again).
async fn free_port(sockets: &dyn SocketFactory) -> std::io::Result<u16> {
    let listener = sockets.bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    Ok(listener.local_addr()?.port())
}

/// Waits until the program (or a process it started) listens on `addr`'s port, it exits,
/// or `wait` passes. Readiness is read from `/proc` (the program's own sockets), so the
/// program's first connection is the scenario's; where `/proc` cannot tell, a connection
/// probe decides. There is no event for "a process started listening": the check repeats
/// with a growing pause, or at once when the program exits.
async fn wait_until_listening(
    addr: SocketAddr,
    program: &mut Program,
    wait: Duration,
    sockets: &dyn SocketFactory,
) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    let mut backoff = Duration::from_millis(2);
    loop {
        if let Some(status) = program.try_status() {
            return Err(format!("it exited ({status}) before listening on {addr}"));
        }
        let ready = match super::procfs::listening_ports(program.pid()) {
            Some(ports) => ports.contains(&addr.port()),
            None => matches!(
                tokio::time::timeout(Duration::from_millis(500), sockets.connect(&addr.to_string())).await,
                Ok(Ok(_))
            ),
        };
        if ready {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "it did not listen on {addr} within {}, its start-up time (`program: {{ startup }}` or --startup-timeout changes it)",
                crate::scenario::duration::human(wait)
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.min(deadline - Instant::now())) => {}
            _ = program.exited() => {}
        }
        backoff = (backoff * 2).min(Duration::from_millis(50));
    }
}

/// Starts a server program on a free port, waits until it accepts, plays `scenario` as
/// the client against it, and stops it; its stderr tail joins the outcome.
pub async fn run_against_program(scenario: &Scenario, opts: &GradeOptions) -> Outcome {
    if let Some(o) = super::unplayable(scenario, Side::Client) {
        return o;
    }
    // --- isolation (engine/sandbox): the server in a sandbox of its own where possible.
    sandbox::isolated(opts.play.isolation, |place| run_in(place, scenario, opts)).await
}

/// [`run_against_program`] at `place`.
async fn run_in(place: Place, scenario: &Scenario, opts: &GradeOptions) -> Outcome {
    let sockets = place.sockets();
    let port = match free_port(sockets.as_ref()).await {
        Ok(p) => p,
        Err(e) => return cannot_start(scenario, &opts.play, &opts.command, &e),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let dir = dir_value(opts.dir.as_deref());
    let argv = fill(
        &opts.command,
        &[("host", "127.0.0.1"), ("port", &port.to_string()), ("dir", &dir)],
    );
    let spec = ProgramSpec {
        argv: argv.clone(),
        env: vec![
            ("PARLEY_HOST".into(), "127.0.0.1".into()),
            ("PARLEY_PORT".into(), port.to_string()),
        ],
        stdin: None,
        cwd: None,
    };
    let mut program = match place.spawn(&spec).await {
        Ok(p) => p,
        Err(e) => return cannot_start(scenario, &opts.play, &argv, &e),
    };
    let startup = super::session::startup(scenario, &opts.play);
    let mut outcome = match wait_until_listening(addr, &mut program, startup, sockets.as_ref()).await {
        Ok(()) => {
            let play_opts = PlayOptions {
                target_label: Some(format!("{} (on {addr})", argv.join(" "))),
                sockets: Some(sockets.clone()),
                ..opts.play.clone()
            };
            play(
                scenario,
                Side::Client,
                Endpoint::Connect(addr.to_string()),
                &play_opts,
            )
            .await
        }
        Err(why) => {
            let mut o = Outcome::error(
                scenario.id.clone(),
                scenario.file.clone(),
                RunError {
                    kind: ErrorKind::Unreachable,
                    message: format!("the server program `{}`: {why}", argv.join(" ")),
                    diagnostic: None,
                },
            );
            o.name = scenario.name.clone();
            o.protocol = Some(scenario.protocol.name());
            o
        }
    };
    // A server never exits by itself: it is stopped as soon as its scenario is done.
    let report = program.terminate(STOP_GRACE).await;
    let mut summary = summary(&argv, &report);
    if summary.stderr_tail.is_empty() && report.stdout_total > 0 {
        summary.stdout_head = visible_truncated(&report.stdout, 300);
    }
    outcome.program = Some(summary);
    settle_place(place, &mut outcome, &report).await;
    outcome
}
