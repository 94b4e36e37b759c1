//! One function per subcommand; each returns the process exit code.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parley::engine::batch::{self, Shard, Submission};
use parley::engine::grade::GradeOptions;
use parley::engine::program::split_command;
use parley::engine::{self, PlayOptions, RunConfig};
use parley::outcome::{Outcome, Summary};
use parley::proto::Protocol;
use parley::report::{self, ColorChoice, human::HumanOptions};
use parley::scenario::{self, Scenario, duration};

use super::args::{
    Cli, Color, Command, CompletionsArgs, ExplainArgs, GradeArgs, MergeArgs, PathsArgs, RecordArgs, RunArgs,
    SchemaArgs, ServeArgs,
};
use super::output::{say, say_err, say_err_raw, say_raw};

/// A usage error: exit code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Runs the subcommand.
pub fn dispatch(cli: Cli) -> Result<u8, Usage> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Grade(args) => grade(args),
        Command::Serve(args) => serve(args),
        Command::Record(args) => record(args),
        Command::Review(args) => super::review::review(args),
        Command::Check(args) => check(args),
        Command::List(args) => list(args),
        Command::Explain(args) => explain(args),
        Command::Schema(args) => schema(args),
        Command::Merge(args) => merge(args),
        Command::Completions(args) => completions(args),
        Command::Manpage => manpage(),
    }
}

/// Where the human report goes: stdout, or stderr when a report was asked for on stdout
/// (`--report json=-`), so that stdout carries only that report.
#[derive(Debug, Clone, Copy)]
struct Human {
    to_stderr: bool,
}

impl Human {
    fn for_reports(reports: &[(String, PathBuf)]) -> Human {
        Human {
            to_stderr: reports.iter().any(|(_, f)| f.as_os_str() == "-"),
        }
    }

    /// Writes `text` as is.
    fn raw(self, text: &str) {
        if self.to_stderr {
            say_err_raw!("{text}");
        } else {
            say_raw!("{text}");
        }
    }

    /// Writes `text` and a line end.
    fn line(self, text: &str) {
        self.raw(&format!("{text}\n"));
    }

    /// Whether colour is right for the stream the human report goes to.
    fn color(self, choice: Color) -> bool {
        let choice = match choice {
            Color::Auto => ColorChoice::Auto,
            Color::Always => ColorChoice::Always,
            Color::Never => ColorChoice::Never,
        };
        if self.to_stderr {
            choice.resolve(std::io::stderr().is_terminal())
        } else {
            choice.resolve(std::io::stdout().is_terminal())
        }
    }
}

/// Checks every `--filter` expression before anything runs (exit 2 on a bad one).
fn check_filters(filters: &[String]) -> Result<(), Usage> {
    parley::filter::check_all(filters)
        .map(|_| ())
        .map_err(|e| Usage(e.to_string()))
}

pub(super) fn color(choice: Color) -> bool {
    let choice = match choice {
        Color::Auto => ColorChoice::Auto,
        Color::Always => ColorChoice::Always,
        Color::Never => ColorChoice::Never,
    };
    choice.resolve(std::io::stdout().is_terminal())
}

/// The paths given; else `scenarios/` when there is one here, else the suite built into
/// parley (`bundled:/scenarios`).
fn scenario_paths(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, Usage> {
    if !paths.is_empty() {
        return Ok(paths);
    }
    let default = PathBuf::from("scenarios");
    Ok(vec![if default.is_dir() {
        default
    } else {
        scenario::source::bundled_scenarios()
    }])
}

fn discover(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, Usage> {
    let paths = scenario_paths(paths)?;
    let files = scenario::discover(&paths).map_err(|e| Usage(e.to_string()))?;
    if files.is_empty() {
        return Err(Usage(format!(
            "no scenario files (*.yaml) under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(files)
}

fn parse_pairs(values: &[String], what: &str, example: &str) -> Result<Vec<(String, String)>, Usage> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) if !k.is_empty() => Ok((k.to_string(), val.to_string())),
            _ => Err(Usage(format!("{what} `{v}` is not of the form {example}"))),
        })
        .collect()
}

/// Reads `--vars-file FILE`: a YAML map of `name: value` (strings, numbers, booleans).
fn vars_file(path: &Path) -> Result<BTreeMap<String, String>, Usage> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Usage(format!("--vars-file {}: cannot read it: {e}", path.display())))?;
    let map: BTreeMap<String, serde_yaml::Value> = serde_yaml::from_str(&text).map_err(|e| {
        Usage(format!(
            "--vars-file {}: {e}; give a YAML map of `name: value`, e.g. `user: alice`",
            path.display()
        ))
    })?;
    let mut out = BTreeMap::new();
    for (name, value) in map {
        let text = match value {
            serde_yaml::Value::String(s) => s,
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(Usage(format!(
                    "--vars-file {}: `{name}` must be a string, a number or a boolean",
                    path.display()
                )));
            }
        };
        out.insert(name, text);
    }
    Ok(out)
}

/// `--vars-file`, `--var`, `--timeout`, `--startup-timeout` and `--jobs`, shared by `run` and `grade`.
fn play_options(
    vars_from: Option<&Path>,
    vars: &[String],
    timeout: Option<&str>,
    startup: Option<&str>,
    jobs: Option<usize>,
) -> Result<(PlayOptions, usize), Usage> {
    let mut all = match vars_from {
        Some(path) => vars_file(path)?,
        None => BTreeMap::new(),
    };
    // `--var` wins over the file.
    all.extend(parse_pairs(vars, "--var", "NAME=VALUE")?);
    let vars = all;
    let step_timeout = timeout
        .map(duration::parse)
        .transpose()
        .map_err(|e| Usage(format!("--timeout: {e}")))?;
    let startup = startup
        .map(duration::parse)
        .transpose()
        .map_err(|e| Usage(format!("--startup-timeout: {e}")))?;
    if jobs == Some(0) {
        return Err(Usage("--jobs must be at least 1".into()));
    }
    let wanted = jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    let (jobs, note) = engine::limits::clamp_jobs(wanted);
    if let Some(note) = note {
        say_err!("note: {note}");
    }
    Ok((
        PlayOptions {
            vars,
            step_timeout,
            startup,
            ..PlayOptions::default()
        },
        jobs,
    ))
}

/// `--var` names that no selected scenario declares or uses are an error (unless a file
/// could not be loaded: it may be the one that declares them). A `--vars-file` may hold
/// a course's variables for many scenarios: its names are not checked.
fn known_vars(vars: &[String], loaded: &[Result<Scenario, Outcome>]) -> Result<(), Usage> {
    let names: Vec<String> = parse_pairs(vars, "--var", "NAME=VALUE")?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    if names.is_empty() || loaded.iter().any(Result::is_err) {
        return Ok(());
    }
    let scenarios: Vec<Scenario> = loaded.iter().filter_map(|l| l.as_ref().ok().cloned()).collect();
    scenario::check_var_names(names.iter(), &scenarios).map_err(Usage)
}

/// The report formats every command that writes reports accepts.
const REPORT_FORMATS: &[&str] = &["json", "junit", "csv", "html"];

/// `--report FORMAT=FILE` values (`FILE` may be `-`, stdout, for one of them), checked
/// against the formats allowed.
fn report_targets(values: &[String], allowed: &[&str]) -> Result<Vec<(String, PathBuf)>, Usage> {
    let forms = allowed
        .iter()
        .map(|f| format!("{f}=FILE"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = Vec::new();
    for (format, file) in parse_pairs(values, "--report", &format!("{forms} (FILE `-` is stdout)"))? {
        if !allowed.contains(&format.as_str()) {
            return Err(Usage(format!("--report: unknown format `{format}`; use {forms}")));
        }
        out.push((format, PathBuf::from(file)));
    }
    if out.iter().filter(|(_, f)| f.as_os_str() == "-").count() > 1 {
        return Err(Usage(
            "--report: only one report can go to stdout (`-`); write the others to files".into(),
        ));
    }
    Ok(out)
}

/// Renders and writes each report; one whose file is `-` goes to stdout. The "wrote …"
/// lines go to stderr, so stdout stays the human report (or the one report asked for).
fn write_reports(
    reports: &[(String, PathBuf)],
    outcomes: &[Outcome],
    started: std::time::SystemTime,
) -> Result<(), Usage> {
    for (format, file) in reports {
        let text = match format.as_str() {
            "json" => report::json::render_started(outcomes, started),
            "junit" => report::junit::render_started(outcomes, started)
                .map_err(|e| Usage(format!("cannot render JUnit: {e}")))?,
            "html" => report::html::render(outcomes),
            _ => report::grades::csv(outcomes).map_err(|e| Usage(format!("cannot render CSV: {e}")))?,
        };
        let dest = file.display().to_string();
        if dest == "-" {
            say_raw!("{text}");
        } else {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Usage(format!("cannot create {}: {e}", dir.display())))?;
            }
            std::fs::write(file, text).map_err(|e| Usage(format!("cannot write {dest}: {e}")))?;
        }
        say_err!("{}", report::human::wrote_report(format, &dest));
    }
    Ok(())
}

/// The human options of `-v`/`-vv`/`-q`.
fn human_options(color: bool, verbose: u8, quiet: bool) -> HumanOptions {
    HumanOptions {
        color,
        verbose: verbose >= 1,
        transcripts: verbose >= 2,
        quiet,
        ..HumanOptions::default()
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Usage> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Usage(format!("cannot start the async runtime: {e}")))
}

// --- isolation (engine/sandbox): begin
/// Says once, before programs are started, when they run without a sandbox, and why.
fn isolation_note(play: &PlayOptions) -> Result<(), Usage> {
    if let Err(why) = runtime()?.block_on(engine::sandbox::availability(play.isolation)) {
        say_err!("note: {}", why.note());
    }
    Ok(())
}
// --- isolation: end

/// Refuses, before anything starts, the scenarios that cannot be played as `me`: prints
/// each one's diagnostic and returns exit code 2 when there is one.
fn refuse_unplayable(files: &[PathBuf], filters: &[String], me: scenario::Side, color: bool) -> Option<u8> {
    let mut refused = 0;
    for loaded in engine::load_all(files, filters).into_iter().flatten() {
        if let Err(e) = loaded.playable_as(me) {
            say_err!("{}", e.render(color));
            refused += 1;
        }
    }
    (refused > 0).then_some(2)
}

fn run(args: RunArgs) -> Result<u8, Usage> {
    let started = std::time::SystemTime::now();
    check_filters(&args.common.filters)?;
    if !args.command.is_empty() && args.paths.is_empty() {
        return Err(Usage(format!(
            "say which scenarios to play against the server program, e.g. \
             `parley run scenarios/echo -- {}`: every bundled scenario (HTTP and FTP too) would be sent to it",
            args.command.join(" ")
        )));
    }
    let files = discover(args.paths)?;
    let mut targets = BTreeMap::new();
    for (proto, addr) in parse_pairs(
        &args.targets,
        "--target",
        "PROTO=HOST:PORT, e.g. ftp=127.0.0.1:2121",
    )? {
        let protocol = Protocol::from_name(&proto).ok_or_else(|| {
            Usage(format!(
                "--target: unknown protocol `{proto}`; use echo, http or ftp"
            ))
        })?;
        let addr = engine::limits::check_target(&addr)
            .map_err(|why| Usage(format!("--target {proto}={addr}: {why}")))?;
        targets.insert(protocol, addr);
    }
    if !args.command.is_empty() && !targets.is_empty() {
        return Err(Usage(
            "give either --target or a server program after `--`, not both".into(),
        ));
    }
    let (play, jobs) = play_options(
        args.common.vars_file.as_deref(),
        &args.common.vars,
        args.common.timeout.as_deref(),
        args.common.startup_timeout.as_deref(),
        args.common.jobs,
    )?;
    if !args.common.vars.is_empty() {
        known_vars(&args.common.vars, &engine::load_all(&files, &args.common.filters))?;
    }
    let reports = report_targets(&args.common.reports, REPORT_FORMATS)?;
    let human = Human::for_reports(&reports);
    let config = RunConfig {
        targets,
        jobs,
        filters: args.common.filters,
        play,
        server_program: (!args.command.is_empty()).then_some(args.command),
        fail_fast: args.common.fail_fast,
    };
    if config.server_program.is_some() {
        if let Some(code) = refuse_unplayable(
            &files,
            &config.filters,
            scenario::Side::Client,
            color(args.common.color),
        ) {
            return Ok(code);
        }
    }
    if config.server_program.is_some() {
        isolation_note(&config.play)?;
    }
    let snapshots = snapshot_options(
        args.common.snapshot.as_deref(),
        &args.common.redact,
        args.common.accept,
        "run",
    )?;
    let rt = runtime()?;
    let round = std::time::Instant::now();
    let mut outcomes = rt.block_on(engine::run(&files, &config));
    let soak = (args.repeat > 1 && !outcomes.is_empty()).then(|| {
        let mut soak = engine::repeat::Soak::default();
        soak.observe(&outcomes, round.elapsed());
        for _ in 1..args.repeat {
            let round = std::time::Instant::now();
            let again = rt.block_on(engine::run(&files, &config));
            soak.observe(&again, round.elapsed());
        }
        soak
    });
    if outcomes.is_empty() {
        return Err(Usage(format!(
            "no scenario matches the filter(s) {}",
            config.filters.join(", ")
        )));
    }
    let snapshotted = match snapshots {
        Some(mut snap) => {
            snap.parley = Some(parley::outcome::Party::Client);
            snap.scenario_redact = engine::load_all(&files, &config.filters)
                .into_iter()
                .flatten()
                .map(|s| (s.id.clone(), s.redact.clone()))
                .collect();
            let checked = parley::snapshot::check(&mut outcomes, &snap).map_err(|e| Usage(e.to_string()))?;
            Some((snap.dir, checked))
        }
        None => None,
    };
    let opts = human_options(
        human.color(args.common.color),
        args.common.verbose,
        args.common.quiet,
    );
    let against = report::human::run_against(config.server_program.as_deref(), &config.targets);
    if !opts.quiet {
        human.line(&report::human::run_header(outcomes.len(), &against));
    }
    human.raw(&report::human::render(&outcomes, &opts));
    if let Some((dir, checked)) = &snapshotted {
        human.raw(&report::snapshot::summary(checked, dir, opts.color, opts.quiet));
    }
    if let Some(soak) = &soak {
        human.raw(&report::human::soak(soak, opts.color));
    }
    write_reports(&reports, &outcomes, started)?;
    let code = Summary::exit_code(&outcomes) as u8;
    // A verdict that changes between rounds is a failure, whatever the first round said.
    Ok(match &soak {
        Some(soak) if !soak.is_stable() => code.max(1),
        _ => code,
    })
}

/// `--snapshot DIR`, `--redact` and `--accept`, checked before anything runs.
fn snapshot_options(
    dir: Option<&Path>,
    redact: &[String],
    accept: bool,
    verb: &'static str,
) -> Result<Option<parley::snapshot::CheckOptions>, Usage> {
    let Some(dir) = dir else {
        return Ok(None);
    };
    if dir.exists() && !dir.is_dir() {
        return Err(Usage(format!("--snapshot {}: not a directory", dir.display())));
    }
    let redact = redact
        .iter()
        .map(|r| report::snapshot::parse_redaction(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Usage)?;
    Ok(Some(parley::snapshot::CheckOptions {
        dir: dir.to_path_buf(),
        accept,
        verb,
        redact,
        ..Default::default()
    }))
}

/// A progress bar on a terminal, none when piped or under CI.
fn progress(total: usize) -> Option<indicatif::ProgressBar> {
    let interactive = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !interactive {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {elapsed_precise}  {msg}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

fn grade(args: GradeArgs) -> Result<u8, Usage> {
    let started = std::time::SystemTime::now();
    check_filters(&args.common.filters)?;
    let files = scenario::discover(&args.scenarios).map_err(|e| Usage(e.to_string()))?;
    if files.is_empty() {
        return Err(Usage("no scenario files (*.yaml) in the paths given".into()));
    }
    let (mut play, jobs) = play_options(
        args.common.vars_file.as_deref(),
        &args.common.vars,
        args.common.timeout.as_deref(),
        args.common.startup_timeout.as_deref(),
        args.common.jobs,
    )?;
    let reports = report_targets(&args.common.reports, REPORT_FORMATS)?;
    let human = Human::for_reports(&reports);
    if let Some(path) = &args.rubric {
        match scenario::rubric::load(path) {
            Ok(rubric) => play.rubric = Some(Arc::new(rubric)),
            Err(e) => {
                say_err!("{}", e.render(color(args.common.color)));
                return Ok(2);
            }
        }
    }
    let (submissions, command): (Vec<Submission>, Vec<String>) = match (&args.submissions, &args.cmd) {
        (Some(dir), Some(cmd)) => {
            if !args.command.is_empty() {
                return Err(Usage(
                    "give either --submissions with --cmd, or a program after `--`, not both".into(),
                ));
            }
            let shard = args
                .shard
                .as_deref()
                .map(str::parse::<Shard>)
                .transpose()
                .map_err(|e| Usage(format!("--shard: {e}")))?;
            let subs = batch::submissions(dir, shard)
                .map_err(|e| Usage(format!("--submissions {}: {e}", dir.display())))?;
            if subs.is_empty() {
                return Err(Usage(format!(
                    "--submissions {}: no sub-folders to grade",
                    dir.display()
                )));
            }
            let argv =
                split_command(cmd).ok_or_else(|| Usage(format!("--cmd `{cmd}` is not a command line")))?;
            (subs, argv)
        }
        _ if args.command.is_empty() => {
            return Err(Usage(
                "nothing to grade: give the program after `--` (parley grade SCENARIO -- python3 client.py {host} {port}) \
                 or --submissions DIR --cmd 'COMMAND'"
                    .into(),
            ));
        }
        _ => (
            vec![Submission {
                // Name it after the script it runs (`python3 client.py` is `client.py`).
                name: args
                    .command
                    .iter()
                    .skip(1)
                    .find(|a| Path::new(a).is_file())
                    .unwrap_or(&args.command[0])
                    .clone(),
                dir: PathBuf::from("."),
            }],
            args.command.clone(),
        ),
    };
    let single = args.submissions.is_none();
    // Scenario files are loaded once; an invalid one is reported and graded as an error.
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut invalid: Vec<Outcome> = Vec::new();
    let loaded = engine::load_all(&files, &args.common.filters);
    known_vars(&args.common.vars, &loaded)?;
    for item in loaded {
        match item {
            Ok(s) => scenarios.push(s),
            Err(o) => invalid.push(o),
        }
    }
    if scenarios.is_empty() && invalid.is_empty() {
        return Err(Usage(format!(
            "no scenario matches the filter(s) {}",
            args.common.filters.join(", ")
        )));
    }
    // A scenario parley cannot play as the server is refused before any program starts.
    let mut unplayable = 0;
    for s in &scenarios {
        if let Err(e) = s.playable_as(scenario::Side::Server) {
            say_err!("{}", e.render(color(args.common.color)));
            unplayable += 1;
        }
    }
    if unplayable > 0 {
        return Ok(2);
    }
    let snapshots = snapshot_options(
        args.common.snapshot.as_deref(),
        &args.common.redact,
        args.common.accept,
        "grade",
    )?;
    let runs: usize = scenarios
        .iter()
        .map(|s| batch::runs(s, !args.no_variants).len())
        .sum::<usize>()
        * submissions.len();
    isolation_note(&play)?;
    let bar = progress(runs).map(Arc::new);
    let tick = bar.clone();
    let base = GradeOptions {
        command,
        dir: None,
        play,
    };
    let mut outcomes = runtime()?.block_on(batch::grade_all_with(
        &submissions,
        &scenarios,
        &base,
        !args.no_variants,
        jobs,
        args.common.fail_fast,
        move |o: &Outcome| {
            if let Some(bar) = &tick {
                bar.inc(1);
                bar.set_message(format!("{} {}", o.submission.as_deref().unwrap_or(""), o.label()));
            }
        },
    ));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    outcomes.splice(0..0, invalid);
    let snapshotted = match snapshots {
        Some(mut snap) => {
            snap.parley = Some(parley::outcome::Party::Server);
            snap.by_submission = !single;
            snap.scenario_redact = scenarios
                .iter()
                .map(|s| (s.id.clone(), s.redact.clone()))
                .collect();
            let checked = parley::snapshot::check(&mut outcomes, &snap).map_err(|e| Usage(e.to_string()))?;
            Some((snap.dir, checked))
        }
        None => None,
    };
    let opts = human_options(
        human.color(args.common.color),
        args.common.verbose,
        args.common.quiet,
    );
    human.raw(&report::human::grade_report(&outcomes, &opts, single));
    if let Some((dir, checked)) = &snapshotted {
        human.raw(&report::snapshot::summary(checked, dir, opts.color, opts.quiet));
    }
    write_reports(&reports, &outcomes, started)?;
    Ok(Summary::exit_code(&outcomes) as u8)
}

fn merge(args: MergeArgs) -> Result<u8, Usage> {
    let reports = report_targets(&args.reports, REPORT_FORMATS)?;
    let human = Human::for_reports(&reports);
    let mut shards = Vec::new();
    for path in &args.inputs {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))?;
        let read = report::json::parse(&text).map_err(|e| Usage(format!("{}: {e}", path.display())))?;
        shards.push((path.display().to_string(), read));
    }
    let merged = report::merge::merge(shards).map_err(|e| Usage(e.to_string()))?;
    let opts = human_options(human.color(args.color), args.verbose, args.quiet);
    let class = merged.outcomes.iter().any(|o| o.submission.is_some());
    human.raw(&report::human::merge_report(&merged.outcomes, &opts, class));
    write_reports(&reports, &merged.outcomes, merged.started)?;
    Ok(Summary::exit_code(&merged.outcomes) as u8)
}

fn completions(args: CompletionsArgs) -> Result<u8, Usage> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "parley", &mut out);
    say_raw!("{}", String::from_utf8_lossy(&out));
    Ok(0)
}

fn manpage() -> Result<u8, Usage> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| Usage(format!("cannot render the manual page: {e}")))?;
    say_raw!("{}", String::from_utf8_lossy(&out));
    Ok(0)
}

fn serve(args: ServeArgs) -> Result<u8, Usage> {
    let protocol = Protocol::from_name(&args.protocol)
        .ok_or_else(|| Usage(format!("unknown protocol `{}`", args.protocol)))?;
    let faults = parley::serve::faults(protocol, &args.faults).map_err(Usage)?;
    let port = args.port.unwrap_or(match protocol {
        Protocol::Echo => 7007,
        Protocol::Http => 8080,
        Protocol::Ftp => 2121,
    });
    let color = color(args.color);
    runtime()?.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = tokio_util::sync::CancellationToken::new();
        let server = tokio::spawn(parley::serve::serve(protocol, port, faults, tx, stop.clone()));
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                _ = &mut ctrl_c => {
                    say!("{}", report::serve::STOPPING);
                    stop.cancel();
                    break;
                }
                event = rx.recv() => match event {
                    None => break,
                    Some(event) => {
                        for line in report::serve::event_lines(&event, protocol, &args.faults, color) {
                            say!("{line}");
                        }
                    }
                },
            }
        }
        match server.await {
            Ok(Ok(())) => Ok(0),
            Ok(Err(e)) => Err(Usage(format!("cannot serve {protocol} on 127.0.0.1:{port}: {e}"))),
            Err(e) => Err(Usage(format!("the server failed: {e}"))),
        }
    })
}

/// Waits for SIGTERM (never, where there is none).
async fn sigterm() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

fn record(args: RecordArgs) -> Result<u8, Usage> {
    use parley::engine::relay::{self, RecordError, RecordOptions, RelayEvent};
    let protocol = Protocol::from_name(&args.protocol)
        .ok_or_else(|| Usage(format!("unknown protocol `{}`", args.protocol)))?;
    if !args.upstream.contains(':') {
        return Err(Usage(format!(
            "--upstream {}: give HOST:PORT, e.g. 127.0.0.1:2121",
            args.upstream
        )));
    }
    let listen: std::net::SocketAddr = args.listen.parse().map_err(|_| {
        Usage(format!(
            "--listen {}: give an IP address and a port, e.g. 127.0.0.1:2100",
            args.listen
        ))
    })?;
    let color = color(args.color);
    let command = (!args.command.is_empty()).then(|| args.command.clone());
    let opts = RecordOptions {
        protocol,
        profile: parley::rules::Profile::Http10,
        upstream: args.upstream.clone(),
        listen,
        command: command.clone(),
    };
    let upstream = args.upstream.clone();
    let recorded = runtime()?.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = tokio_util::sync::CancellationToken::new();
        let task_stop = stop.clone();
        let recording = tokio::spawn(async move { relay::record(&opts, tx, task_stop).await });
        tokio::pin!(recording);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let term = sigterm();
        tokio::pin!(term);
        let show = |event: RelayEvent| {
            for line in report::record::event_lines(&event, protocol, &upstream, command.as_deref(), color) {
                say!("{line}");
            }
        };
        let result = loop {
            tokio::select! {
                done = &mut recording => break done,
                _ = &mut ctrl_c, if !stop.is_cancelled() => {
                    say!("{}", report::record::STOPPING);
                    stop.cancel();
                }
                _ = &mut term, if !stop.is_cancelled() => stop.cancel(),
                Some(event) = rx.recv() => show(event),
            }
        };
        while let Ok(event) = rx.try_recv() {
            show(event);
        }
        result
    });
    let recording = match recorded {
        Ok(Ok(r)) => r,
        Ok(Err(e @ RecordError::Listen { .. })) => return Err(Usage(e.to_string())),
        Ok(Err(e @ RecordError::Start { .. })) => {
            say_err!("error: {e}");
            return Ok(3);
        }
        Err(e) => return Err(Usage(format!("the recording failed: {e}"))),
    };
    if let Some(p) = &recording.program {
        say!("{}", report::record::client_ended(&p.command, &p.status));
    }
    let conversation = &recording.conversation;
    let carried = conversation
        .transcript
        .events
        .iter()
        .any(|e| matches!(e.kind, parley::outcome::EventKind::Data { .. }));
    if !carried {
        let why = if conversation.transcript.events.is_empty() {
            "no client connected".to_string()
        } else if let Some(t) = conversation.trouble.first() {
            t.clone()
        } else {
            "nothing went by".to_string()
        };
        say_err!("{}", report::record::nothing_to_write(&args.output, &why));
        let unreachable = conversation.trouble.iter().any(|t| t.starts_with("cannot reach"));
        return Ok(if unreachable { 3 } else { 1 });
    }
    let template = (!args.command.is_empty()).then(|| {
        shlex::try_join(args.command.iter().map(String::as_str)).unwrap_or_else(|_| args.command.join(" "))
    });
    let source = parley::record::Source {
        protocol,
        transcript: &conversation.transcript,
        findings: &conversation.findings,
        upstream: &recording.upstream,
        relay: conversation.relay,
        client: recording.program.as_ref().map(|p| p.command.as_str()),
        client_template: template.as_deref(),
        exit_code: recording
            .program
            .as_ref()
            .filter(|p| !p.stopped)
            .and_then(|p| p.exit_code),
        recorded_at: recording.started,
    };
    let written = parley::record::write(
        &source,
        &parley::record::WriteOptions {
            exact: args.exact,
            name: args.name.clone(),
            file: Some(args.output.clone()),
        },
    );
    let dir = args
        .output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let write = |path: &Path, bytes: &[u8]| -> Result<(), Usage> {
        if let Some(parent) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Usage(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(path, bytes).map_err(|e| Usage(format!("cannot write {}: {e}", path.display())))
    };
    write(&args.output, written.yaml.as_bytes())?;
    for (name, bytes) in &written.files {
        write(&dir.join(name), bytes)?;
    }
    // What parley writes, parley must read: a file that does not load is a parley bug.
    if let Err(e) = scenario::load(&args.output) {
        say_err!("{}", e.render(color));
        say_err!("{}", report::record::UNREADABLE);
        return Ok(1);
    }
    let client = template
        .as_deref()
        .filter(|c| !c.chars().any(char::is_control))
        .unwrap_or("CLIENT {host} {port}");
    say!(
        "{}",
        report::record::written(
            &args.output,
            written.steps,
            recording.interrupted,
            protocol,
            &recording.upstream,
            client
        )
    );
    Ok(0)
}

fn check(args: PathsArgs) -> Result<u8, Usage> {
    check_filters(&args.filters)?;
    let files = discover(args.paths)?;
    let color = color(args.color);
    let mut bad = 0;
    let mut checked = 0;
    for file in &files {
        checked += 1;
        match scenario::check_file(file) {
            Ok(scenario::Checked::Scenario(s)) if !engine::selected(&args.filters, &s.id, &s.tags) => {
                checked -= 1
            }
            Ok(scenario::Checked::Scenario(s)) => {
                say!(
                    "{}",
                    report::human::check_ok(file, &s.protocol.to_string(), s.steps.len())
                )
            }
            Ok(scenario::Checked::Fragment(f)) => {
                say!("{}", report::human::check_ok(file, "fragment", f.steps))
            }
            Err(e) => {
                bad += 1;
                say!("{}", e.render(color));
            }
        }
    }
    if checked == 0 {
        return Err(Usage(format!(
            "no scenario matches the filter(s) {}",
            args.filters.join(", ")
        )));
    }
    say!("\n{}", report::human::check_summary(checked, bad));
    Ok(if bad > 0 { 2 } else { 0 })
}

fn list(args: PathsArgs) -> Result<u8, Usage> {
    check_filters(&args.filters)?;
    let files = discover(args.paths)?;
    let color = color(args.color);
    let mut bad = 0;
    let mut shown = Vec::new();
    for (file, id) in files.iter().zip(scenario::ids(&files)) {
        let loaded = id.map_err(|clash| scenario::ScenarioError::Read {
            path: file.clone(),
            source: std::io::Error::other(clash),
        });
        match loaded.and_then(|id| scenario::load_as(file, id)) {
            Ok(s) if engine::selected(&args.filters, &s.id, &s.tags) => shown.push(s),
            Ok(_) => {}
            Err(e) => {
                bad += 1;
                say_err!("{}", e.render(color));
            }
        }
    }
    if shown.is_empty() && bad == 0 {
        return Err(Usage(format!(
            "no scenario matches the filter(s) {}",
            args.filters.join(", ")
        )));
    }
    say_raw!("{}", report::human::scenario_list(&shown));
    Ok(if bad > 0 { 2 } else { 0 })
}

fn explain(args: ExplainArgs) -> Result<u8, Usage> {
    let text = if args.markdown {
        report::explain::markdown()
    } else if args.list {
        report::explain::list()
    } else {
        report::explain::explain(&args.rule.unwrap_or_default()).map_err(Usage)?
    };
    say_raw!("{text}");
    Ok(0)
}

fn schema(args: SchemaArgs) -> Result<u8, Usage> {
    let value = if args.fragment {
        scenario::fragment_json_schema()
    } else {
        scenario::json_schema()
    };
    say!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    Ok(0)
}
