//! The model the engine plays: a checked [`Scenario`], its steps, what each step does and
//! how a received message is checked. Built by `build`, checked by `check`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::super::payload::Payload;
use super::super::schema::SideName;
use super::super::template::Template;
use crate::proto::{Framing, Protocol};
use crate::rules::{Profile, RuleId};

/// Default deadline of one step.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// Default deadline of a whole scenario.
pub const DEFAULT_SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);
pub use super::super::limits::MAX_INCLUDE_DEPTH;
/// Variables every scenario has: the target's address (`host`, `port`, `target` is
/// `host:port`, `authority` the Host header value) and `http_date` (when the play began).
///
/// The one list of their names: the checker accepts these, and the engine destructures
/// this array to name what it sets (`engine::session::env::builtin_vars`), so a name added
/// here does not compile until the engine gives it a value.
pub const BUILTIN_VARS: [&str; 5] = ["host", "port", "target", "authority", "http_date"];

/// A scenario, checked and ready to play.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Stable id from the path, e.g. `echo::basic`.
    pub id: String,
    /// The `name:` of the file.
    pub name: String,
    /// The `description:`.
    pub description: Option<String>,
    /// The file.
    pub file: PathBuf,
    /// The protocol.
    pub protocol: Protocol,
    /// RFC references.
    pub rfc: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Declared variables and their defaults (they may use the builtin variables).
    pub vars: BTreeMap<String, Template>,
    /// The variables declared `secret: true` (in the scenario or a fragment it
    /// includes): their values are masked in every report (see
    /// [`Scenario::secret_values`]).
    pub secrets: BTreeSet<String>,
    /// Deadline of the whole scenario.
    pub timeout: Duration,
    /// Default deadline of a step.
    pub step_timeout: Duration,
    /// HTTP profile.
    pub profile: Profile,
    /// Fault knobs for whoever plays the server.
    pub faults: Faults,
    /// Fault variants for grading, by name.
    pub variants: Vec<(String, Faults)>,
    /// What the program under test gets and must do (grading).
    pub program: ProgramExpect,
    /// Server role: answers to unexpected client commands, by keyword (`*` for any).
    pub answers: Vec<(String, Payload)>,
    /// Grading: points for rules, by id.
    pub rule_points: BTreeMap<RuleId, u32>,
    /// The steps, includes expanded, the alternatives of each `one_of` one after another.
    pub steps: Vec<Step>,
    /// The `one_of` groups, by index.
    pub groups: Vec<Group>,
    /// Snapshots: the scenario's `redact:` replacements, in order.
    pub redact: Vec<Redaction>,
}

/// One replacement made in a snapshot's text (a scenario's `redact:`, or `--redact`).
#[derive(Debug, Clone)]
pub struct Redaction {
    /// What to find.
    pub regex: regex::Regex,
    /// What each match becomes (`$1` inserts a group).
    pub replacement: String,
}

/// Fault knobs, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Write replies in pieces of at most this many bytes.
    pub split_writes: Option<std::num::NonZeroUsize>,
    /// Pause between pieces.
    pub write_delay: Duration,
    /// Pause before each reply.
    pub reply_delay: Duration,
    /// HTTP mock: close-delimited bodies.
    pub no_content_length: bool,
    /// HTTP mock: pause before closing.
    pub close_delay: Duration,
    /// FTP: multi-line greeting.
    pub multiline_greeting: bool,
    /// FTP mock: bare-LF replies.
    pub bare_lf: bool,
    /// FTP: pause before the 226 that ends a transfer.
    pub transfer_delay: Duration,
    /// FTP mock: refuse data connections.
    pub refuse_data: bool,
    /// parley as server: pad data-connection payloads to at least this many bytes.
    pub pad_data: Option<usize>,
    /// FTP, parley as the server: 227 replies without parentheses.
    pub pasv_without_parentheses: bool,
    /// FTP, parley as server: replies keep their codes and get unusual texts.
    pub odd_texts: bool,
}

/// What the program under test gets and must do.
#[derive(Debug, Clone, Default)]
pub struct ProgramExpect {
    /// Its stdin.
    pub stdin: Option<Payload>,
    /// Its exit status.
    pub exit: Option<i32>,
    /// Its stdout contains this.
    pub stdout_contains: Option<Template>,
    /// Its stdout does not contain this.
    pub stdout_not_contains: Option<Template>,
    /// The rule a failed check breaks.
    pub rule: Option<RuleId>,
    /// How long it may take to finish after the conversation.
    pub grace: Duration,
    /// How long it may take to start (connect, or listen), when the scenario says.
    pub startup: Option<Duration>,
    /// Points each of its checks is worth.
    pub points: u32,
}

/// A place in a scenario or fragment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: Arc<Path>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// One side of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Opened the main connection.
    Client,
    /// Accepted it.
    Server,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// `client` or `server`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl From<SideName> for Side {
    fn from(s: SideName) -> Side {
        match s {
            SideName::Client => Side::Client,
            SideName::Server => Side::Server,
        }
    }
}

/// Variables an included fragment sees in addition to the scenario's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Values the `include:` gave; they win over the scenario's variables.
    pub overrides: BTreeMap<String, String>,
    /// The fragment's defaults; the scenario's variables win over them.
    pub defaults: BTreeMap<String, Template>,
}

/// One step, ready to play.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based position in the expanded list.
    pub number: usize,
    /// Where it is written.
    pub location: Location,
    /// The include sites it came through, innermost first.
    pub included_from: Vec<Location>,
    /// `id:`.
    pub id: Option<String>,
    /// `note:`.
    pub note: Option<String>,
    /// Runs only when this holds.
    pub when: Option<Condition>,
    /// Its own deadline.
    pub timeout: Option<Duration>,
    /// The rule its failure breaks.
    pub rule: Option<RuleId>,
    /// Variables to set from its message.
    pub captures: Vec<Capture>,
    /// Points its checks are worth.
    pub points: u32,
    /// `continue: true`: a failed check keeps its rule's severity and does not end the
    /// scenario.
    pub keep_going: bool,
    /// No connection may arrive at parley's listener of this name while the step waits.
    pub no_connection: Option<String>,
    /// The alternatives (`one_of`) the step is inside, outermost first: it is played
    /// only when each of them was chosen.
    pub branch: Vec<BranchAt>,
    /// The peer may close the connection instead of sending the step's message.
    pub or_close: bool,
    /// Include scope.
    pub scope: Option<Arc<Scope>>,
    /// What it does.
    pub action: Action,
}

/// A step's place in a `one_of`: group `group` (an index into [`Scenario::groups`]),
/// alternative `alt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchAt {
    /// The group.
    pub group: usize,
    /// The alternative.
    pub alt: usize,
}

/// A `one_of`: its alternatives, each a run of consecutive steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Where the `one_of` is written.
    pub location: Location,
    /// The alternatives, in the order written.
    pub alternatives: Vec<Alternative>,
}

impl Scenario {
    /// The step that chooses each alternative of `one_of` group `group`: its first
    /// message (only `listen` steps may come before it).
    pub fn group_heads(&self, group: usize) -> Vec<&Step> {
        self.groups[group]
            .alternatives
            .iter()
            .filter_map(|a| {
                self.steps
                    .get(a.first.saturating_sub(1)..a.last.min(self.steps.len()))?
                    .iter()
                    .find(|s| matches!(s.action, Action::Message { .. }))
            })
            .collect()
    }
}

/// One alternative of a [`Group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    /// Its `name:`, or `alternative N` (1-based).
    pub name: String,
    /// The number of its first step.
    pub first: usize,
    /// The number of its last step.
    pub last: usize,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// A side opens a connection.
    Open {
        /// Its name.
        conn: String,
        /// Who opens it.
        by: Side,
        /// Where to, when not the default.
        to: Option<Template>,
        /// How its bytes are cut into messages.
        framing: Framing,
    },
    /// A side listens for a connection the other will open.
    Listen {
        /// The connection's name.
        conn: String,
        /// Who listens.
        by: Side,
        /// Where parley listens, when not at its end of `main`.
        host: Option<std::net::IpAddr>,
        /// The port parley listens on, when not the kernel's choice.
        port: Option<super::super::schema::PortValue>,
    },
    /// A side sends a message.
    Message {
        /// Who sends it.
        from: Side,
        /// On which connection.
        conn: String,
        /// The bytes parley sends when it plays `from`.
        send: Option<Payload>,
        /// How parley checks it when the peer plays `from`.
        expect: Box<Expect>,
    },
    /// A side closes its end.
    Close {
        /// Which connection.
        conn: String,
        /// Who closes.
        by: Side,
    },
}

/// How a received message is checked.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The message as written in the shorthand: compared the protocol's way.
    pub literal: Option<Payload>,
    /// Exactly these bytes.
    pub exact: Option<Payload>,
    /// Contains these bytes.
    pub contains: Option<Payload>,
    /// Does not contain these bytes.
    pub not_contains: Option<Payload>,
    /// Matches this regex.
    pub regex: Option<regex::bytes::Regex>,
    /// Is this long.
    pub len: Option<usize>,
    /// Has one of these codes.
    pub code: Option<Vec<u16>>,
    /// HTTP method.
    pub method: Option<String>,
    /// HTTP target or FTP argument.
    pub path: Option<Template>,
    /// FTP command keyword.
    pub command: Option<String>,
    /// HTTP headers.
    pub headers: Vec<(String, Template)>,
    /// HTTP body.
    pub body: Option<Payload>,
    /// HTTP JSON body.
    pub json: Option<serde_json::Value>,
    /// HTTP JSON body values at pointers.
    pub json_at: Vec<(String, serde_json::Value)>,
    /// HTTP body length.
    pub body_len: Option<usize>,
}

impl Expect {
    /// True when a matcher reads the message through the protocol (a code, a method, a
    /// path, a command, headers, the body, JSON, the body's length), not as raw bytes.
    pub fn reads_the_protocol(&self) -> bool {
        self.code.is_some()
            || self.method.is_some()
            || self.path.is_some()
            || self.command.is_some()
            || !self.headers.is_empty()
            || self.body.is_some()
            || self.json.is_some()
            || !self.json_at.is_empty()
            || self.body_len.is_some()
    }

    /// True when the matchers fix how many raw bytes the message is.
    pub fn frames_raw(&self) -> bool {
        self.literal.is_some()
            || self.exact.is_some()
            || self.len.is_some()
            || self.contains.is_some()
            || self.regex.is_some()
    }

    pub(crate) fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        for p in [
            &self.literal,
            &self.exact,
            &self.contains,
            &self.not_contains,
            &self.body,
        ]
        .into_iter()
        .flatten()
        {
            out.extend(p.templates());
        }
        out.extend(self.path.iter());
        out.extend(self.headers.iter().map(|(_, t)| t));
        out
    }
}

/// The bytes parley sends for a message it plays: `send:`, else the literal or exact
/// bytes the step would check on the other side. `None`: the step only says how to check.
pub fn outgoing<'s>(send: Option<&'s Payload>, expect: &'s Expect) -> Option<&'s Payload> {
    send.or(expect.literal.as_ref()).or(expect.exact.as_ref())
}

/// A variable set from a message.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The variable.
    pub name: String,
    /// Regex; first group or whole match.
    pub regex: Option<regex::bytes::Regex>,
    /// HTTP header to read.
    pub header: Option<String>,
    /// JSON pointer into the body.
    pub json: Option<String>,
}

/// A `when:` condition; all given parts must hold.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    /// The last code seen is one of these.
    pub last_code: Option<Vec<u16>>,
    /// Variables equal these values.
    pub vars: BTreeMap<String, String>,
    /// This variable has a value.
    pub defined: Option<String>,
    /// This variable has no value.
    pub undefined: Option<String>,
    /// The step with this id passed.
    pub passed: Option<String>,
    /// The step with this id failed.
    pub failed: Option<String>,
}
