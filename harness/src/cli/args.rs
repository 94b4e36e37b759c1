//! What the command line accepts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// parley: a protocol conformance harness for echo, HTTP/1.0 and FTP.
///
/// A YAML scenario describes one conversation; parley plays either side of it and reports
/// every deviation under a stable rule id (see `parley explain --list`).
#[derive(Debug, Parser)]
#[command(
    name = "parley",
    version,
    propagate_version = true,
    after_help = "Exit codes:\n  \
        0  every scenario passed\n  \
        1  a check failed (an error finding, or a step that did not get what it expected)\n  \
        2  usage or scenario file error, or a scenario that cannot be played in its role\n  \
        3  the target could not be reached, or the program under test could not start\n  \
        4  parley failed internally (a bug in parley); the reports still have every row"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Play scenarios as the client against servers: the bundled mocks, or --target.
    #[command(after_help = "Examples:\n  \
        # every scenario in scenarios/ against the bundled mocks\n  \
        parley run\n  \
        # one scenario\n  \
        parley run scenarios/echo --filter large\n  \
        # filter expressions: words match ids, tag:NAME tags\n  \
        parley run --filter 'tag:security and not ftp::bounce'\n  \
        # a protocol's scenarios against a real server\n  \
        parley run scenarios/http/httpbin --target http=httpbin.org:80\n  \
        # a server program started for each scenario\n  \
        parley run scenarios/echo -- python3 server.py {port}\n  \
        parley run --report json=report.json --report junit=junit.xml --report html=run.html\n  \
        # a report on stdout (the human report then goes to stderr)\n  \
        parley run --report json=- -q | jq .summary\n  \
        parley run --fail-fast --vars-file vars.yaml -vv\n  \
        # snapshots of a real server's conversations: recorded once, compared after\n  \
        parley run scenarios/ftp --target ftp=127.0.0.1:21 --snapshot snapshots/ftp\n  \
        parley review snapshots/ftp")]
    Run(RunArgs),
    /// Grade client programs: parley plays the server of each scenario for a program it
    /// starts with `{host}` and `{port}` filled in.
    #[command(after_help = "Examples:\n  \
        parley grade scenarios/grading/echo-client.yaml -- python3 client.py {host} {port}\n  \
        parley grade scenarios/grading/ftp-list.yaml --submissions class/ \\\n      \
        --cmd 'python3 {dir}/ftp_client.py {host} {port}' --report csv=grades.csv\n  \
        # one shard of four, merged later with `parley merge`\n  \
        parley grade scenarios/grading/http-get.yaml --submissions class/ \\\n      \
        --cmd 'python3 {dir}/get.py {host} {port}' --shard 1/4 --report json=shard-1.json\n  \
        parley grade scenarios/grading/http-get.yaml --submissions class/ \\\n      \
        --cmd 'python3 {dir}/get.py {host} {port}' --report html=class.html\n  \
        # snapshots of what a client sends, per scenario and variant\n  \
        parley grade scenarios/grading/http-get.yaml --snapshot snapshots/get -- python3 get.py {host} {port}\n\n\
        Placeholders in the command: {host}, {port} (where parley listens) and\n\
        {dir} (the submission folder).\n\
        The program also gets PARLEY_HOST and PARLEY_PORT in its environment.")]
    Grade(GradeArgs),
    /// Run a bundled mock server in the foreground, printing every exchange and what
    /// parley finds wrong in it. Ctrl-C stops it.
    #[command(after_help = "Examples:\n  \
        # on 127.0.0.1:2121\n  \
        parley serve ftp\n  \
        # responses in pieces, 100 ms apart\n  \
        parley serve http --port 8080 --fault split\n  \
        parley serve ftp --fault multiline-greeting --fault delay-226\n\n\
        Faults: byte-at-a-time, split, slow (all); no-content-length, close-delay (http);\n\
        multiline-greeting, bare-lf, delay-226, refuse-data (ftp).\n\
        Each stands for scenario `faults:` knobs: the table in docs/scenarios.md.")]
    Serve(ServeArgs),
    /// Record a real conversation between a client and a server as a scenario that plays
    /// back both ways: parley relays between them, checks every message as it passes, and
    /// writes what it saw as an ordinary scenario file.
    #[command(after_help = "Examples:\n  \
        # parley starts the client with its address; the recording ends when it exits\n  \
        parley record --protocol ftp --upstream 127.0.0.1:2121 -o list.yaml \\\n      \
        -- curl -s ftp://{host}:{port}/\n  \
        parley record --protocol http --upstream 127.0.0.1:8080 -o get.yaml \\\n      \
        -- curl -s http://{host}:{port}/hello.txt\n  \
        # a client you start yourself, pointed at 127.0.0.1:7070; the recording\n  \
        # ends when its connections have closed (Ctrl-C ends it at once)\n  \
        parley record --protocol echo --upstream 127.0.0.1:7007 \\\n      \
        --listen 127.0.0.1:7070 -o echo.yaml\n\n\
        Then the recording plays both ways:\n  \
        parley check list.yaml\n  \
        parley run list.yaml --target ftp=127.0.0.1:2121\n  \
        parley grade list.yaml --no-variants -- curl -s ftp://{host}:{port}/\n\n\
        Placeholders in the client command: {host} and {port} (where the relay\n\
        listens); it also gets PARLEY_HOST and PARLEY_PORT in its environment.\n\
        FTP data connections pass through the relay too (it rewrites PORT/EPRT and\n\
        227/229). The file holds every byte recorded, passwords included.")]
    Record(RecordArgs),
    /// Walk the pending snapshots (`*.snap.new`) of a `--snapshot DIR` one by one: show
    /// each diff and ask to accept, reject or skip it. Needs no cargo-insta.
    #[command(after_help = "Examples:\n  \
        parley review snapshots/ftp                 # on a terminal: a / r / s for each\n  \
        parley review snapshots/ftp --accept-all    # in a script: store every pending one\n  \
        parley review snapshots/ftp --reject-all    # in a script: drop them, keep the stored ones\n\n\
        Accepting renames x.snap.new over x.snap; rejecting removes x.snap.new.")]
    Review(ReviewArgs),
    /// Check scenario files without running them.
    #[command(
        after_help = "Examples:\n  parley check scenarios/ fixtures/my-scenario.yaml\n  parley check --filter 'tag:grading'"
    )]
    Check(PathsArgs),
    /// List the scenarios found, with protocol, steps and tags.
    #[command(
        after_help = "Examples:\n  parley list scenarios/echo\n  parley list --filter 'tag:smoke'\n  parley list --filter 'not tag:grading and (ftp or http)'"
    )]
    List(PathsArgs),
    /// Explain a rule: its RFC section, what it requires and how parley checks it.
    #[command(
        after_help = "Examples:\n  parley explain F-CMD-3\n  parley explain F-SEC\n  parley explain --list\n  parley explain --markdown > docs/rules.md"
    )]
    Explain(ExplainArgs),
    /// Print the JSON Schema of scenario files (for editor completion).
    #[command(after_help = "Example:\n  parley schema > docs/scenario.schema.json")]
    Schema(SchemaArgs),
    /// Combine JSON reports (e.g. of `parley grade --shard K/N`) into one, and render it
    /// as any report: the result is what one run of everything would have written.
    #[command(after_help = "Examples:\n  \
        parley merge shard-1.json shard-2.json --report csv=grades.csv --report html=class.html\n  \
        parley merge reports/*.json --report junit=junit.xml --report json=all.json\n\n\
        The exit code is the one the single run would have had.")]
    Merge(MergeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Examples:\n  \
        parley completions bash > ~/.local/share/bash-completion/completions/parley\n  \
        parley completions zsh > ~/.zfunc/_parley\n  \
        parley completions fish > ~/.config/fish/completions/parley.fish")]
    Completions(CompletionsArgs),
    /// Print the manual page (roff), for `man`.
    #[command(after_help = "Example:\n  parley manpage > parley.1 && man ./parley.1")]
    Manpage,
}

/// Output colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories [default: scenarios/]
    pub paths: Vec<PathBuf>,
    /// Send a protocol's scenarios to a real server instead of the bundled mock
    /// (repeatable), e.g. `ftp=127.0.0.1:2121` or `http=httpbin.org:80`.
    #[arg(long = "target", value_name = "PROTO=HOST:PORT")]
    pub targets: Vec<String>,
    /// The options `run` shares with `grade`.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Play the selection N rounds back to back (a soak) and report every scenario whose
    /// verdict (status and failed rules) is not the same in every round, with the rounds
    /// where it changed; exit 1 if one did. The report shows the first round.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000), conflicts_with = "snapshot")]
    pub repeat: u32,
    /// A server program to start for each scenario instead of a mock or target; `{port}`
    /// (and `{host}`) are filled in: `parley run scenarios/echo -- python3 server.py {port}`.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The options `run` and `grade` share (flattened into both, so they are defined once).
///
/// The help speaks of scenarios, as `run` does; `grade` rewords what differs.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Run only the scenarios this expression selects (repeatable; any may match):
    /// words match ids (`large`), `tag:NAME` tags; combine with `not`, `and`, `or` and
    /// parentheses, e.g. `tag:security and not ftp::bounce`.
    #[arg(long = "filter", value_name = "EXPR")]
    pub filters: Vec<String>,
    /// Scenarios played at once [default: number of cores]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Set a scenario variable (repeatable), e.g. `--var user=alice`.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Set scenario variables from a YAML file of `name: value` pairs (`--var` wins).
    #[arg(long, value_name = "FILE")]
    pub vars_file: Option<PathBuf>,
    /// Default deadline of each step, instead of the scenario's (e.g. `2s`, `500ms`).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// How long a server program started with `-- CMD` may take to listen [default: the
    /// scenario's `program: { startup }`, else 30s].
    #[arg(long, value_name = "DURATION")]
    pub startup_timeout: Option<String>,
    /// Also write a report (repeatable): `json`, `junit`, `csv` or `html`, to FILE or to
    /// stdout with `-` (then the human report goes to stderr).
    #[arg(long = "report", value_name = "FORMAT=FILE")]
    pub reports: Vec<String>,
    /// Colour the output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// `-v`: show warnings and notes of passing scenarios too; `-vv`: also the whole
    /// transcript of every scenario.
    #[arg(long, short = 'v', action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Print only the failures and the summary line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Keep a normalized transcript of each scenario (and variant, and submission) in DIR,
    /// one insta `.snap` file each: the first run records them, later runs fail under
    /// S-SNAPSHOT with a diff where the conversation changed (the new one waits in a
    /// `.snap.new` for `parley review DIR`).
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,
    /// With --snapshot: store the new snapshots over the old ones instead of failing.
    #[arg(long, requires = "snapshot")]
    pub accept: bool,
    /// With --snapshot: also replace what REGEX matches in the snapshot text by TEXT
    /// (repeatable; after the scenario's `redact:`); `\=` is an `=` in REGEX.
    #[arg(long = "redact", value_name = "REGEX=TEXT", requires = "snapshot")]
    pub redact: Vec<String>,
    /// Stop starting scenarios after the first one that does not pass; those already
    /// running finish, the rest are reported as not run.
    #[arg(long)]
    pub fail_fast: bool,
}

/// Options of `grade`.
#[derive(Debug, Args)]
#[command(mut_args(reword_for_grade))]
pub struct GradeArgs {
    /// Scenario files or directories (parley plays their server side).
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Grade every sub-folder of DIR (one submission each) with `--cmd`.
    #[arg(long, value_name = "DIR", requires = "cmd")]
    pub submissions: Option<PathBuf>,
    /// The command for each submission, one string: `'python3 {dir}/client.py {host} {port}'`.
    #[arg(long, value_name = "COMMAND", requires = "submissions")]
    pub cmd: Option<String>,
    /// Grade only the K-th of N equal shares of the submissions (e.g. `2/4`).
    #[arg(long, value_name = "K/N", requires = "submissions")]
    pub shard: Option<String>,
    /// Play only the plain run, not the scenarios' fault variants.
    #[arg(long)]
    pub no_variants: bool,
    /// Weigh rules for a course: a YAML file `rules: { H-RL-2: 2, F-DATA-1: 3 }` whose
    /// rules become checks worth those points in every scenario of their protocol.
    #[arg(long, value_name = "FILE")]
    pub rubric: Option<PathBuf>,
    /// The options `grade` shares with `run`.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The program to grade and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The help of the shared options as `grade` words it: runs where `run` says scenarios.
/// (`mut_args` rewords them in place, so their order in help and completions stays.)
fn reword_for_grade(arg: clap::Arg) -> clap::Arg {
    let help = match arg.get_id().as_str() {
        "jobs" => "Runs at once [default: number of cores]",
        "vars" => "Set a scenario variable (repeatable)",
        "startup_timeout" => {
            "How long a program may take to start and connect [default: the scenario's \
             `program: { startup }`, else 30s]"
        }
        "verbose" => {
            "`-v`: show warnings and notes of passing runs too; `-vv`: also the whole transcript of every run"
        }
        "fail_fast" => {
            "Stop starting runs after the first one that does not pass; those already running finish, \
             the rest are reported as not run"
        }
        _ => return arg,
    };
    arg.help(help)
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The protocol: echo, http or ftp.
    #[arg(value_parser = ["echo", "http", "ftp"])]
    pub protocol: String,
    /// The port on 127.0.0.1 [default: 7007 for echo, 8080 for http, 2121 for ftp; 0 picks a free one]
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Misbehave on purpose (repeatable); see the list below.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// Colour the output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// Options of `record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The protocol spoken: echo, http or ftp.
    #[arg(long, value_parser = ["echo", "http", "ftp"])]
    pub protocol: String,
    /// The real server, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub upstream: String,
    /// Where parley listens for the client [default: 127.0.0.1 and a free port, printed]
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:0",
        hide_default_value = true
    )]
    pub listen: String,
    /// The scenario file to write.
    #[arg(long = "output", short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Keep every byte literal and match it exactly (snapshot-like), instead of matching
    /// what varies (banners, dates, listings) loosely.
    #[arg(long)]
    pub exact: bool,
    /// The scenario's `name:` [default: a summary of the conversation]
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Colour the output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// A client program to start, after `--`, with `{host}` and `{port}` of the relay;
    /// the recording ends when it exits.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Options of `review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The snapshot directory (the `--snapshot DIR` of `run` or `grade`).
    pub dir: PathBuf,
    /// Accept every pending snapshot without asking.
    #[arg(long, conflicts_with = "reject_all")]
    pub accept_all: bool,
    /// Reject every pending snapshot without asking.
    #[arg(long)]
    pub reject_all: bool,
    /// Colour the output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// Paths to scenario files or directories.
#[derive(Debug, Args)]
pub struct PathsArgs {
    /// Scenario files or directories [default: scenarios/]
    pub paths: Vec<PathBuf>,
    /// Only the scenarios this expression selects (repeatable; any may match): words
    /// match ids, `tag:NAME` tags, with `not`, `and`, `or` and parentheses. Invalid files
    /// are always reported.
    #[arg(long = "filter", value_name = "EXPR")]
    pub filters: Vec<String>,
    /// Colour the output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// Options of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The rule id, e.g. `ECHO-2` or `F-CMD-3` (any case), or the start of ids
    /// (`F-SEC`) to list the rules that match.
    #[arg(required_unless_present_any = ["list", "markdown"])]
    pub rule: Option<String>,
    /// List every rule, one per line.
    #[arg(long)]
    pub list: bool,
    /// Print the whole catalogue as Markdown (the page checked in as docs/rules.md).
    #[arg(long, conflicts_with_all = ["list", "rule"])]
    pub markdown: bool,
}

/// Options of `schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the schema of fragment files (used with `include:`) instead.
    #[arg(long)]
    pub fragment: bool,
}

/// Options of `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports to combine (`--report json=FILE` of `run` or `grade`).
    #[arg(required = true, value_name = "REPORT.json")]
    pub inputs: Vec<PathBuf>,
    /// Write the merged report (repeatable): `json`, `junit`, `csv` or `html`, to FILE or
    /// to stdout with `-` (then the human report goes to stderr).
    #[arg(long = "report", value_name = "FORMAT=FILE")]
    pub reports: Vec<String>,
    /// Colour the output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// `-v`: show warnings and notes of passing runs too; `-vv`: also every transcript.
    #[arg(long, short = 'v', action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Print only the failures and the summary line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Options of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
