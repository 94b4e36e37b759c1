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
use parley::rules;
use parley::scenario::{self, Scenario, duration};

use super::args::{
    Cli, Color, Command, CompletionsArgs, ExplainArgs, GradeArgs, MergeArgs, PathsArgs, RunArgs, SchemaArgs,
    ServeArgs,
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

fn color(choice: Color) -> bool {
    let choice = match choice {
        Color::Auto => ColorChoice::Auto,
        Color::Always => ColorChoice::Always,
        Color::Never => ColorChoice::Never,
    };
    choice.resolve(std::io::stdout().is_terminal())
}

/// The paths given, or `scenarios/` when none were.
fn scenario_paths(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, Usage> {
    if !paths.is_empty() {
        return Ok(paths);
    }
    let default = PathBuf::from("scenarios");
    if default.is_dir() {
        Ok(vec![default])
    } else {
        Err(Usage(
            "no scenario paths given and there is no scenarios/ directory here; \
             run from the parley checkout or pass paths, e.g. `parley run my-scenarios/`"
                .into(),
        ))
    }
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

/// `--vars-file`, `--var`, `--timeout` and `--jobs`, shared by `run` and `grade`.
fn play_options(
    vars_from: Option<&Path>,
    vars: &[String],
    timeout: Option<&str>,
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
    if jobs == Some(0) {
        return Err(Usage("--jobs must be at least 1".into()));
    }
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    Ok((
        PlayOptions {
            vars,
            step_timeout,
            ..PlayOptions::default()
        },
        jobs,
    ))
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

fn run(args: RunArgs) -> Result<u8, Usage> {
    let started = std::time::SystemTime::now();
    check_filters(&args.filters)?;
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
        if !addr.contains(':') {
            return Err(Usage(format!(
                "--target {proto}={addr}: give HOST:PORT, e.g. {proto}=127.0.0.1:2121"
            )));
        }
        targets.insert(protocol, addr);
    }
    if !args.command.is_empty() && !targets.is_empty() {
        return Err(Usage(
            "give either --target or a server program after `--`, not both".into(),
        ));
    }
    let (play, jobs) = play_options(
        args.vars_file.as_deref(),
        &args.vars,
        args.timeout.as_deref(),
        args.jobs,
    )?;
    let reports = report_targets(&args.reports, REPORT_FORMATS)?;
    let human = Human::for_reports(&reports);
    let config = RunConfig {
        targets,
        jobs,
        filters: args.filters,
        play,
        server_program: (!args.command.is_empty()).then_some(args.command),
        fail_fast: args.fail_fast,
    };
    let outcomes = runtime()?.block_on(engine::run(&files, &config));
    if outcomes.is_empty() {
        return Err(Usage(format!(
            "no scenario matches the filter(s) {}",
            config.filters.join(", ")
        )));
    }
    let opts = human_options(human.color(args.color), args.verbose, args.quiet);
    let against = if let Some(cmd) = &config.server_program {
        format!(
            "the server program `{}` (a fresh one per scenario)",
            cmd.join(" ")
        )
    } else if config.targets.is_empty() {
        "the bundled mock servers".to_string()
    } else {
        config
            .targets
            .iter()
            .map(|(p, a)| format!("{p}={a}"))
            .collect::<Vec<_>>()
            .join(", ")
            + " (bundled mocks for the other protocols)"
    };
    if !opts.quiet {
        human.line(&report::human::run_header(outcomes.len(), &against));
    }
    human.raw(&report::human::render(&outcomes, &opts));
    write_reports(&reports, &outcomes, started)?;
    Ok(Summary::exit_code(&outcomes) as u8)
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
    check_filters(&args.filters)?;
    let files = scenario::discover(&args.scenarios).map_err(|e| Usage(e.to_string()))?;
    if files.is_empty() {
        return Err(Usage("no scenario files (*.yaml) in the paths given".into()));
    }
    let (mut play, jobs) = play_options(
        args.vars_file.as_deref(),
        &args.vars,
        args.timeout.as_deref(),
        args.jobs,
    )?;
    let reports = report_targets(&args.reports, REPORT_FORMATS)?;
    let human = Human::for_reports(&reports);
    if let Some(path) = &args.rubric {
        match scenario::rubric::load(path) {
            Ok(rubric) => play.rubric = Some(Arc::new(rubric)),
            Err(e) => {
                say_err!("{}", e.render(color(args.color)));
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
    for item in engine::load_all(&files, &args.filters) {
        match item {
            Ok(s) => scenarios.push(s),
            Err(o) => invalid.push(o),
        }
    }
    if scenarios.is_empty() && invalid.is_empty() {
        return Err(Usage(format!(
            "no scenario matches the filter(s) {}",
            args.filters.join(", ")
        )));
    }
    let runs: usize = scenarios
        .iter()
        .map(|s| batch::runs(s, !args.no_variants).len())
        .sum::<usize>()
        * submissions.len();
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
        args.fail_fast,
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
    let opts = human_options(human.color(args.color), args.verbose, args.quiet);
    human.raw(&report::human::grade_report(&outcomes, &opts, single));
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
    use parley::serve::ServeEvent;
    let protocol = Protocol::from_name(&args.protocol)
        .ok_or_else(|| Usage(format!("unknown protocol `{}`", args.protocol)))?;
    let faults = parley::serve::faults(protocol, &args.faults).map_err(Usage)?;
    let port = args.port.unwrap_or(match protocol {
        Protocol::Echo => 7007,
        Protocol::Http => 8080,
        Protocol::Ftp => 2121,
    });
    let color = color(args.color);
    let paint = |style: anstyle::Style, text: &str| {
        if color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    };
    let fault_list = if args.faults.is_empty() {
        "none".to_string()
    } else {
        args.faults.join(", ")
    };
    runtime()?.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = tokio_util::sync::CancellationToken::new();
        let server = tokio::spawn(parley::serve::serve(protocol, port, faults, tx, stop.clone()));
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                _ = &mut ctrl_c => {
                    say!("stopping");
                    stop.cancel();
                    break;
                }
                event = rx.recv() => match event {
                    None => break,
                    Some(ServeEvent::Listening { addr }) => say!(
                        "parley serve {protocol}: listening on {addr} (faults: {fault_list}); Ctrl-C stops it"
                    ),
                    Some(ServeEvent::Connected { id, peer }) => say!("[#{id}] {peer} connected"),
                    Some(ServeEvent::Message { id, from, bytes }) => {
                        let arrow = if from == parley::outcome::Party::Client { "C>" } else { "S>" };
                        say!("[#{id}] {arrow} \"{}\"", parley::visible::visible_truncated(&bytes, 400));
                    }
                    Some(ServeEvent::Finding { id, finding }) => {
                        let style = match finding.severity {
                            rules::Severity::Error => anstyle::AnsiColor::Red.on_default().bold(),
                            rules::Severity::Warning => anstyle::AnsiColor::Yellow.on_default().bold(),
                            rules::Severity::Note => anstyle::AnsiColor::Cyan.on_default(),
                        };
                        say!(
                            "[#{id}]    {} {} ({}): {}",
                            paint(style, finding.rule.as_str()),
                            finding.severity,
                            finding.section,
                            finding.message
                        );
                        say!("[#{id}]    hint: {}", finding.hint);
                    }
                    Some(ServeEvent::Closed { id, by }) => say!("[#{id}] closed by the {}", by.name()),
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

fn check(args: PathsArgs) -> Result<u8, Usage> {
    check_filters(&args.filters)?;
    let files = discover(args.paths)?;
    let color = color(args.color);
    let mut bad = 0;
    let mut checked = 0;
    for file in &files {
        checked += 1;
        match scenario::load(file) {
            Ok(s) if !engine::selected(&args.filters, &s.id, &s.tags) => checked -= 1,
            Ok(s) => say!(
                "ok    {} ({}, {} steps)",
                file.display(),
                s.protocol,
                s.steps.len()
            ),
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
    say!(
        "\n{checked} file(s) checked: {} valid, {bad} invalid",
        checked - bad
    );
    Ok(if bad > 0 { 2 } else { 0 })
}

fn list(args: PathsArgs) -> Result<u8, Usage> {
    check_filters(&args.filters)?;
    let files = discover(args.paths)?;
    let color = color(args.color);
    let mut bad = 0;
    let mut shown = Vec::new();
    for file in &files {
        match scenario::load(file) {
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
    if args.list {
        let all: Vec<&rules::Rule> = rules::RULES.iter().collect();
        say_raw!("{}", report::human::rule_list(&all));
        return Ok(0);
    }
    let id = args.rule.unwrap_or_default();
    if let Some(r) = rules::lookup(&id) {
        say_raw!("{}", report::human::explain_rule(r));
        return Ok(0);
    }
    // A prefix (`F-SEC`, `h-rl-`) lists the rules it starts.
    let prefix = id.to_ascii_uppercase();
    let matching: Vec<&rules::Rule> = rules::RULES
        .iter()
        .filter(|r| !prefix.is_empty() && r.code.starts_with(&prefix))
        .collect();
    if matching.is_empty() {
        return Err(Usage(format!(
            "unknown rule `{id}`; `parley explain --list` lists every rule"
        )));
    }
    say_raw!("{}", report::human::rule_list(&matching));
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
