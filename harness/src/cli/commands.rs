//! One function per subcommand; each returns the process exit code.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use parley::engine::{self, PlayOptions, RunConfig};
use parley::outcome::Summary;
use parley::proto::Protocol;
use parley::report::{self, ColorChoice, human::HumanOptions};
use parley::rules::{self, Check};
use parley::scenario::{self, duration};

use super::args::{Cli, Color, Command, ExplainArgs, PathsArgs, RunArgs, SchemaArgs};

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
        Command::Check(args) => check(args),
        Command::List(args) => list(args),
        Command::Explain(args) => explain(args),
        Command::Schema(args) => schema(args),
    }
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

fn run(args: RunArgs) -> Result<u8, Usage> {
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
    let vars: BTreeMap<String, String> = parse_pairs(&args.vars, "--var", "NAME=VALUE")?
        .into_iter()
        .collect();
    let step_timeout = args
        .timeout
        .as_deref()
        .map(duration::parse)
        .transpose()
        .map_err(|e| Usage(format!("--timeout: {e}")))?;
    let mut reports = Vec::new();
    for (format, file) in parse_pairs(&args.reports, "--report", "json=FILE or junit=FILE")? {
        if format != "json" && format != "junit" {
            return Err(Usage(format!(
                "--report: unknown format `{format}`; use json=FILE or junit=FILE"
            )));
        }
        reports.push((format, PathBuf::from(file)));
    }
    if args.jobs == Some(0) {
        return Err(Usage("--jobs must be at least 1".into()));
    }
    let config = RunConfig {
        targets,
        jobs: args.jobs.unwrap_or(0),
        filters: args.filters,
        play: PlayOptions {
            vars,
            step_timeout,
            ..PlayOptions::default()
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Usage(format!("cannot start the async runtime: {e}")))?;
    let outcomes = runtime.block_on(engine::run(&files, &config));
    if outcomes.is_empty() {
        return Err(Usage(format!(
            "no scenario matches the filter(s) {}",
            config.filters.join(", ")
        )));
    }
    let opts = HumanOptions {
        color: color(args.color),
        verbose: args.verbose,
        ..HumanOptions::default()
    };
    let against = if config.targets.is_empty() {
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
    println!(
        "parley {}: {} scenario(s) against {against}\n",
        env!("CARGO_PKG_VERSION"),
        outcomes.len()
    );
    print!("{}", report::human::render(&outcomes, &opts));
    for (format, file) in reports {
        let text = match format.as_str() {
            "json" => report::json::render(&outcomes),
            _ => report::junit::render(&outcomes).map_err(|e| Usage(format!("cannot render JUnit: {e}")))?,
        };
        write_report(&file, &text)?;
        println!("wrote {format} report to {}", file.display());
    }
    Ok(Summary::exit_code(&outcomes) as u8)
}

fn write_report(path: &Path, text: &str) -> Result<(), Usage> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text).map_err(|e| Usage(format!("cannot write {}: {e}", path.display())))
}

fn check(args: PathsArgs) -> Result<u8, Usage> {
    let files = discover(args.paths)?;
    let color = color(args.color);
    let mut bad = 0;
    for file in &files {
        match scenario::load(file) {
            Ok(s) => println!(
                "ok    {} ({}, {} steps)",
                file.display(),
                s.protocol,
                s.steps.len()
            ),
            Err(e) => {
                bad += 1;
                println!("{}", e.render(color));
            }
        }
    }
    println!(
        "\n{} file(s) checked: {} valid, {bad} invalid",
        files.len(),
        files.len() - bad
    );
    Ok(if bad > 0 { 2 } else { 0 })
}

fn list(args: PathsArgs) -> Result<u8, Usage> {
    let files = discover(args.paths)?;
    let color = color(args.color);
    let mut bad = 0;
    for file in &files {
        match scenario::load(file) {
            Ok(s) => {
                let tags = if s.tags.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", s.tags.join(", "))
                };
                println!(
                    "{:<36} {:<5} {:>3} steps  {}{tags}",
                    s.id,
                    s.protocol,
                    s.steps.len(),
                    s.name
                );
            }
            Err(e) => {
                bad += 1;
                eprintln!("{}", e.render(color));
            }
        }
    }
    Ok(if bad > 0 { 2 } else { 0 })
}

fn explain(args: ExplainArgs) -> Result<u8, Usage> {
    if args.list {
        for r in rules::RULES {
            println!("{:<9} {:<7} {:<24} {}", r.id, r.severity, r.section, r.summary);
        }
        return Ok(0);
    }
    let id = args.rule.unwrap_or_default();
    let Some(r) = rules::lookup(&id) else {
        return Err(Usage(format!(
            "unknown rule `{id}`; `parley explain --list` lists every rule"
        )));
    };
    println!("{} — {}", r.id, r.section);
    let severity = match r.strict_severity {
        Some(strict) => format!("{} (http10), {} (strict11)", r.severity, strict),
        None => r.severity.to_string(),
    };
    println!("severity: {severity}");
    println!("rule:     {}", r.summary);
    println!("fix:      {}", r.advice);
    let how = match r.check {
        Check::Bytes => {
            "checked on the bytes of every message, whatever the scenario's matchers say".to_string()
        }
        Check::Scenario => {
            "checked by the scenario steps that name it (`rule:`): the peer's behaviour, not the bytes alone"
                .to_string()
        }
        Check::Behaviour(how) => format!("cannot be judged from the bytes alone: {how}"),
    };
    println!("checked:  {how}");
    Ok(0)
}

fn schema(args: SchemaArgs) -> Result<u8, Usage> {
    let value = if args.fragment {
        scenario::fragment_json_schema()
    } else {
        scenario::json_schema()
    };
    println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    Ok(0)
}
