//! The newcomer's path: every command the docs show is run as written, and the output
//! they show is the output it prints.
//!
//! Read from `README.md`, `docs/*.md` and `fixtures/programs/README.md`: every fenced
//! block marked ```sh, ```bash, ```shell or ```console. The convention:
//!
//! - A command is run when it is `parley ARGS`, `cargo run [--release] -- ARGS`, or either
//!   after `cd DIR && `; the built `parley` (`CARGO_BIN_EXE_parley`) stands for both.
//!   Every other command (`cargo test`, `cargo bench`, `cargo install`, `apt-get`, ...)
//!   is not run. A line ending in `\` continues on the next; `# ...` is a comment.
//! - ```sh blocks: each command must exit 0, or with the code its comment names
//!   (`# exit 1`, `# ECHO-2, exit 1`). A command whose comment says `on a terminal` is not
//!   run (the test has none).
//! - ```console blocks: `$ COMMAND` lines, each followed by the output it must print,
//!   stdout and stderr together, compared by snapbox: `[..]` matches the rest of a line's
//!   text up to what follows it (times, ports), a line `...` any number of lines.
//! - `parley serve ...` and `parley record` without `-- CMD` run until stopped: the test
//!   starts them, waits (10 s at most) for the line saying where they listen, and stops
//!   them at the end of the section. Every other command has a deadline (60 s).
//! - `<!-- doc-test: stand-in COMMAND -->` on the line before a block: the block talks to
//!   a real server (vsftpd, nginx) on a fixed port; the test starts the bundled mock with
//!   COMMAND (`parley serve ftp --port 2121`) in its place for that block, so the commands
//!   run as pasted — against the mock, whose output may differ from the real server's,
//!   which is why such blocks show none.
//! - `<!-- doc-test: skip REASON -->` on the line before a block: the block is not run
//!   and is reported as ignored, with REASON (a host on the Internet, a long soak).
//! - A command that starts `python3`, `curl` or `lftp` (after `--` or in `--cmd`) needs
//!   it: without it its section is reported as ignored, naming it, and under
//!   `PARLEY_REQUIRE_PEERS=1` it fails.
//! - `> FILE` is dropped (the output is not written anywhere); `NAME*.ext` arguments are
//!   expanded as the shell would.
//!
//! One trial per section of a document (heading to heading): its blocks run in order, one
//! after another (sections too: they bind fixed ports), in a scratch directory under
//! `target/` that mirrors the repository root (a symbolic link per entry), so relative
//! paths resolve as from a checkout and the files commands write (`grades.csv`,
//! `list.yaml`, `snapshots/...`) stay out of the tree.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use snapbox::IntoData;

const DOCUMENTS: &[&str] = &["README.md", "docs/*.md", "fixtures/programs/README.md"];
const COMMAND_DEADLINE: Duration = Duration::from_secs(60);
const READY_DEADLINE: Duration = Duration::from_secs(10);
/// Programs a documented command may need, and how to get them.
const PEERS: &[(&str, &str)] = &[
    ("python3", "apt-get install python3"),
    ("curl", "apt-get install curl"),
    ("lftp", "apt-get install lftp"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// One command as the docs write it.
#[derive(Debug, Clone)]
struct DocCommand {
    file: String,
    line: usize,
    /// The command, continuation lines joined, comment removed.
    text: String,
    /// The comment after it, if any.
    comment: String,
    /// The output a ```console block shows for it.
    output: Option<String>,
}

#[derive(Debug, Clone)]
struct Block {
    file: String,
    line: usize,
    skip: Option<String>,
    stand_in: Option<String>,
    commands: Vec<DocCommand>,
}

#[derive(Debug, Clone)]
struct Section {
    file: String,
    line: usize,
    heading: String,
    blocks: Vec<Block>,
}

/// Splits `line` at a `#` that starts a shell comment (outside quotes, after a space).
fn split_comment(line: &str) -> (&str, &str) {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => {
                return (line[..i].trim_end(), line[i + 1..].trim());
            }
            _ => {}
        }
        prev = c;
    }
    (line.trim_end(), "")
}

/// Joins `\`-continued lines; returns (first line number, joined text, comment).
fn logical_lines(lines: &[(usize, &str)]) -> Vec<(usize, String, String)> {
    let mut out: Vec<(usize, String, String)> = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for &(n, raw) in lines {
        let (code, comment) = split_comment(raw);
        let (code, continues) = match code.strip_suffix('\\') {
            Some(c) => (c.trim_end(), true),
            None => (code, false),
        };
        let entry = open.get_or_insert_with(|| (n, String::new(), String::new()));
        if !code.trim().is_empty() {
            if !entry.1.is_empty() {
                entry.1.push(' ');
            }
            entry.1.push_str(code.trim());
        }
        if !comment.is_empty() {
            if !entry.2.is_empty() {
                entry.2.push(' ');
            }
            entry.2.push_str(comment);
        }
        if !continues {
            let done = open.take().unwrap();
            if !done.1.is_empty() {
                out.push(done);
            }
        }
    }
    out.extend(open.filter(|o| !o.1.is_empty()));
    out
}

/// A console block's `$ COMMAND` (its numbered lines, continuations included) and the
/// output lines shown under it.
type Shown<'a> = (Vec<(usize, &'a str)>, Vec<&'a str>);

fn sections(file: &str, markdown: &str) -> Vec<Section> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = vec![Section {
        file: file.to_string(),
        line: 1,
        heading: "(top)".to_string(),
        blocks: Vec::new(),
    }];
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(heading) = line
            .strip_prefix('#')
            .filter(|_| line.starts_with("# ") || line.starts_with("##"))
        {
            out.push(Section {
                file: file.to_string(),
                line: i + 1,
                heading: heading.trim_start_matches('#').trim().to_string(),
                blocks: Vec::new(),
            });
            i += 1;
            continue;
        }
        let Some(lang) = line.trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let lang = lang.trim().to_string();
        let start = i;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && lines[i].trim() != "```" {
            body.push((i + 1, lines[i]));
            i += 1;
        }
        i += 1;
        if !["sh", "bash", "shell", "console"].contains(&lang.as_str()) {
            continue;
        }
        let directive = start
            .checked_sub(1)
            .and_then(|p| lines[p].trim().strip_prefix("<!-- doc-test:"))
            .and_then(|d| d.strip_suffix("-->"))
            .map(str::trim);
        let mut block = Block {
            file: file.to_string(),
            line: start + 1,
            skip: None,
            stand_in: None,
            commands: Vec::new(),
        };
        match directive {
            None => {}
            Some(d) if d.starts_with("skip ") => block.skip = Some(d["skip ".len()..].trim().to_string()),
            Some(d) if d.starts_with("stand-in ") => {
                block.stand_in = Some(d["stand-in ".len()..].trim().to_string())
            }
            Some(d) => panic!("{file}:{start}: unknown doc-test directive `{d}`"),
        }
        if lang == "console" {
            // (command lines, output lines) of each `$ COMMAND`.
            let mut shown: Vec<Shown<'_>> = Vec::new();
            for (n, l) in body {
                let continued = shown.last().is_some_and(|(cmd, output)| {
                    output.is_empty() && cmd.last().is_some_and(|c| c.1.trim_end().ends_with('\\'))
                });
                if continued {
                    shown.last_mut().unwrap().0.push((n, l));
                } else if let Some(cmd) = l.strip_prefix("$ ") {
                    shown.push((vec![(n, cmd)], Vec::new()));
                } else if let Some(last) = shown.last_mut() {
                    last.1.push(l);
                } else {
                    panic!("{file}:{n}: a ```console block must start with `$ COMMAND`");
                }
            }
            for (cmd, output) in shown {
                let (n, text, comment) = logical_lines(&cmd).remove(0);
                let output = if output.is_empty() {
                    String::new()
                } else {
                    output.join("\n") + "\n"
                };
                block.commands.push(DocCommand {
                    file: file.to_string(),
                    line: n,
                    text,
                    comment,
                    output: Some(output),
                });
            }
        } else {
            for (n, text, comment) in logical_lines(&body) {
                block.commands.push(DocCommand {
                    file: file.to_string(),
                    line: n,
                    text,
                    comment,
                    output: None,
                });
            }
        }
        out.last_mut().unwrap().blocks.push(block);
    }
    out.retain(|s| !s.blocks.is_empty());
    out
}

/// What the test does with one documented command.
#[derive(Debug, PartialEq)]
enum Plan {
    /// Not a parley command (`cargo test`, `apt-get`, ...), or one that needs a terminal.
    Excluded(&'static str),
    Run {
        cwd: Option<String>,
        args: Vec<String>,
        discard_stdout: bool,
    },
}

fn plan(cmd: &DocCommand) -> Plan {
    let mut text = cmd.text.as_str();
    let mut cwd = None;
    if let Some(rest) = text.strip_prefix("cd ")
        && let Some((dir, rest)) = rest.split_once(" && ")
    {
        cwd = Some(dir.trim().to_string());
        text = rest.trim();
    }
    let rest = ["parley ", "cargo run --release -- ", "cargo run -- "]
        .iter()
        .find_map(|p| text.strip_prefix(p));
    let Some(rest) = rest else {
        return Plan::Excluded("not a parley command");
    };
    if cmd.comment.contains("on a terminal") {
        return Plan::Excluded("needs a terminal");
    }
    let words = shlex::split(rest)
        .unwrap_or_else(|| panic!("{}:{}: cannot split `{}`", cmd.file, cmd.line, cmd.text));
    let mut args = Vec::new();
    let mut discard_stdout = false;
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        if w == ">" {
            words.next();
            discard_stdout = true;
        } else {
            args.push(w);
        }
    }
    Plan::Run {
        cwd,
        args,
        discard_stdout,
    }
}

/// The exit code a command's comment names (`exit 1`), else 0.
fn expected_exit(comment: &str) -> i32 {
    let words: Vec<&str> = comment.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    words
        .windows(2)
        .find(|w| w[0] == "exit")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(0)
}

fn is_background(args: &[String]) -> bool {
    match args.first().map(String::as_str) {
        Some("serve") => true,
        Some("record") => !args.iter().any(|a| a == "--"),
        _ => false,
    }
}

fn needs(args: &[String]) -> Vec<&'static str> {
    PEERS
        .iter()
        .filter(|(p, _)| args.iter().any(|a| a.split_whitespace().next() == Some(p)))
        .map(|(p, _)| *p)
        .collect()
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// `NAME*.ext` in the last component, matched in `cwd` as the shell would (unchanged
/// when nothing matches).
fn expand(arg: &str, cwd: &Path) -> Vec<String> {
    let Some((prefix, suffix)) = arg.split_once('*') else {
        return vec![arg.to_string()];
    };
    let (dir, prefix) = match prefix.rsplit_once('/') {
        Some((d, p)) => (format!("{d}/"), p),
        None => (String::new(), prefix),
    };
    let mut found: Vec<String> = std::fs::read_dir(cwd.join(if dir.is_empty() { "." } else { &dir }))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix) && n.len() >= prefix.len() + suffix.len())
        .map(|n| format!("{dir}{n}"))
        .collect();
    found.sort();
    if found.is_empty() {
        vec![arg.to_string()]
    } else {
        found
    }
}

/// A command left running until the end of its section (or block, for a stand-in).
struct Background {
    what: String,
    child: Child,
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_background(args: &[String], cwd: &Path, what: &str) -> Result<Background, Failed> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        // Drains the stream for as long as the process lives, so it never blocks on a
        // full pipe; the first line is the readiness event.
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let background = Background {
        what: what.to_string(),
        child,
    };
    match rx.recv_timeout(READY_DEADLINE) {
        Ok(line) if line.contains("listening on") || line.contains("relaying") => Ok(background),
        Ok(line) => Err(format!("{what}: said `{line}` instead of where it listens").into()),
        Err(_) => Err(format!("{what}: said nothing within {READY_DEADLINE:?}").into()),
    }
}

struct Session {
    scratch: tempfile::TempDir,
    running: Vec<Background>,
}

impl Session {
    fn new() -> Session {
        let root = root();
        std::fs::create_dir_all(root.join("target")).unwrap();
        let scratch = tempfile::Builder::new()
            .prefix("doc-commands-")
            .tempdir_in(root.join("target"))
            .unwrap();
        for entry in std::fs::read_dir(&root).unwrap().flatten() {
            let name = entry.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            std::os::unix::fs::symlink(entry.path(), scratch.path().join(&name)).unwrap();
        }
        Session {
            scratch,
            running: Vec::new(),
        }
    }

    fn run_block(&mut self, block: &Block) -> Result<(), Failed> {
        let _stand_in = match &block.stand_in {
            Some(command) => {
                let args = shlex::split(command.strip_prefix("parley ").unwrap_or(command)).unwrap();
                Some(start_background(
                    &args,
                    self.scratch.path(),
                    &format!("{}:{}: stand-in `{command}`", block.file, block.line),
                )?)
            }
            None => None,
        };
        for cmd in &block.commands {
            self.run_command(cmd)?;
        }
        Ok(())
    }

    fn run_command(&mut self, cmd: &DocCommand) -> Result<(), Failed> {
        let where_ = format!("{}:{}: `{}`", cmd.file, cmd.line, cmd.text);
        let Plan::Run {
            cwd,
            args,
            discard_stdout,
        } = plan(cmd)
        else {
            if cmd.output.is_some() {
                return Err(format!(
                    "{where_}: a ```console block shows output of a command the test does not run"
                )
                .into());
            }
            return Ok(());
        };
        let cwd = match cwd {
            Some(dir) => self.scratch.path().join(dir),
            None => self.scratch.path().to_path_buf(),
        };
        let args: Vec<String> = args.iter().flat_map(|a| expand(a, &cwd)).collect();
        if is_background(&args) {
            let b = start_background(&args, &cwd, &where_)?;
            self.running.push(b);
            return Ok(());
        }
        let output = snapbox::cmd::Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(&args)
            .current_dir(&cwd)
            .env("NO_COLOR", "1")
            .stderr_to_stdout()
            .timeout(COMMAND_DEADLINE)
            .output()
            .map_err(|e| format!("{where_}: cannot run: {e}"))?;
        let printed = String::from_utf8_lossy(&output.stdout).into_owned();
        let want = expected_exit(&cmd.comment);
        let running: Vec<&str> = self.running.iter().map(|b| b.what.as_str()).collect();
        if output.status.code() != Some(want) {
            return Err(format!(
                "{where_}: exited with {} where the docs say {want}{}; it printed:\n{printed}",
                output.status,
                if running.is_empty() {
                    String::new()
                } else {
                    format!(" (running: {running:?})")
                }
            )
            .into());
        }
        if let Some(expected) = &cmd.output {
            let printed = if discard_stdout { String::new() } else { printed };
            snapbox::Assert::new()
                .action(snapbox::assert::Action::Verify)
                // `\r\n` in parley's output is text, not a Windows path.
                .normalize_paths(false)
                .try_eq(Some(&where_), printed.into_data(), expected.clone().into_data())
                .map_err(|e| {
                    format!("{where_}: the output differs from the docs' (- docs, + printed):\n{e}")
                })?;
        }
        Ok(())
    }
}

fn documents() -> Vec<(String, String)> {
    let root = root();
    let mut files = Vec::new();
    for pattern in DOCUMENTS {
        for rel in expand(pattern, &root) {
            let text = std::fs::read_to_string(root.join(&rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
            files.push((rel, text));
        }
    }
    files
}

fn require_peers() -> bool {
    std::env::var("PARLEY_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

fn section_trial(section: Section) -> Trial {
    let name = format!("{}:{} {}", section.file, section.line, section.heading);
    Trial::ignorable_test(name, move || {
        let mut missing: Vec<String> = Vec::new();
        for block in section.blocks.iter().filter(|b| b.skip.is_none()) {
            for cmd in &block.commands {
                if let Plan::Run { args, .. } = plan(cmd) {
                    for need in needs(&args) {
                        if !on_path(need) {
                            let how = PEERS.iter().find(|p| p.0 == need).unwrap().1;
                            missing.push(format!("{need} ({how}), for {}:{}", cmd.file, cmd.line));
                        }
                    }
                }
            }
        }
        if !missing.is_empty() {
            let why = format!("needs {}", missing.join(", "));
            if require_peers() {
                return Err(format!("PARLEY_REQUIRE_PEERS=1: {why}").into());
            }
            return Ok(Completion::ignored_with(why));
        }
        let runs = section
            .blocks
            .iter()
            .filter(|b| b.skip.is_none())
            .flat_map(|b| &b.commands)
            .any(|c| matches!(plan(c), Plan::Run { .. }));
        if !runs {
            return Ok(Completion::ignored_with(
                "no command here is run: only `parley` and `cargo run --` commands are",
            ));
        }
        let mut session = Session::new();
        for block in section.blocks.iter().filter(|b| b.skip.is_none()) {
            session.run_block(block)?;
        }
        Ok(Completion::Completed)
    })
}

fn main() {
    let mut trials = Vec::new();
    let mut all = Vec::new();
    for (file, text) in documents() {
        for section in sections(&file, &text) {
            for block in section.blocks.iter().filter(|b| b.skip.is_some()) {
                let reason = block.skip.clone().unwrap();
                trials.push(Trial::ignorable_test(
                    format!(
                        "{}:{} {} (block not run)",
                        block.file, block.line, section.heading
                    ),
                    move || Ok(Completion::ignored_with(reason)),
                ));
            }
            all.push(section.clone());
            if section.blocks.iter().any(|b| b.skip.is_none()) {
                trials.push(section_trial(section));
            }
        }
    }
    trials.push(Trial::test(
        "every_readme_block_that_runs_parley_is_exercised",
        move || every_readme_block_that_runs_parley_is_exercised(&all),
    ));
    let mut args = Arguments::from_args();
    // Sections bind fixed ports (2121, 8080, 7007): one at a time.
    args.test_threads = Some(1);
    libtest_mimic::run(&args, trials).exit();
}

/// Counts what the docs hold, so that a block the extraction misses (a new fence
/// language, a directive misspelt) fails instead of passing unseen.
fn every_readme_block_that_runs_parley_is_exercised(all: &[Section]) -> Result<(), Failed> {
    let readme: Vec<&Block> = all
        .iter()
        .filter(|s| s.file == "README.md")
        .flat_map(|s| &s.blocks)
        .collect();
    let raw = std::fs::read_to_string(root().join("README.md")).unwrap();
    let fences = raw
        .lines()
        .filter(|l| ["```sh", "```bash", "```shell", "```console"].contains(&l.trim()))
        .count();
    if fences != readme.len() {
        return Err(format!(
            "README.md has {fences} command blocks, the test read {}",
            readme.len()
        )
        .into());
    }
    let runs_parley = |b: &Block| b.commands.iter().any(|c| matches!(plan(c), Plan::Run { .. }));
    let exercised = readme
        .iter()
        .filter(|b| runs_parley(b) && b.skip.is_none())
        .count();
    let skipped: Vec<String> = readme
        .iter()
        .filter(|b| runs_parley(b))
        .filter_map(|b| b.skip.as_ref().map(|r| format!("README.md:{} ({r})", b.line)))
        .collect();
    let compared = readme
        .iter()
        .flat_map(|b| &b.commands)
        .filter(|c| c.output.is_some())
        .count();
    if exercised < 15 || compared < 5 || skipped.len() > 3 {
        return Err(format!(
            "README.md: {exercised} blocks that run parley exercised, {compared} outputs compared, skipped: {skipped:?}"
        )
        .into());
    }
    Ok(())
}
