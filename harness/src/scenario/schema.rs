//! The on-disk scenario format (schema v1), as serde and schemars types.
//!
//! Every struct denies unknown fields. Values that can be written short (`client: "hi"`,
//! `server: 220`, `open: data`) are read by hand-written visitors, so an error inside them
//! still carries its line and column. These types say what a file may contain; `plan`
//! checks how the parts fit together and turns them into the runtime plan.

use crate::rules::RuleId;
use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use super::de::{Codes, Json, Scalar, Text, checked_map, checked_str, str_or_map};
use super::duration::DurationValue;
use super::limits::Limit;
use super::locate::{self, Pos, Positioned};
use super::payload::Payload;
use super::template::{Template, is_var_name};

/// A scenario file: one conversation between a client and a server.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "parley scenario (v1)")]
pub struct ScenarioDoc {
    /// Editor hint (a JSON Schema URL or path); ignored by parley.
    #[serde(rename = "$schema", default)]
    pub schema: Option<Text>,
    /// What the scenario checks, in a few words.
    pub name: Text,
    /// A longer explanation.
    #[serde(default)]
    pub description: Option<Text>,
    /// The protocol spoken: decides the bundled mock server, message framing, the RFC
    /// checks run on every message and the protocol-aware matchers.
    pub protocol: ProtocolName,
    /// RFC sections the scenario exercises, e.g. `["959 §4.1.2"]`.
    #[serde(default)]
    pub rfc: Vec<Text>,
    /// Free labels; `parley run --filter tag:NAME` selects by them.
    #[serde(default)]
    pub tags: Vec<Text>,
    /// Variables and their default values; `--var NAME=VALUE` overrides them. A value
    /// is a string, or `{ value: "...", secret: true }` for one that every report masks.
    #[serde(default)]
    pub vars: BTreeMap<VarName, VarDoc>,
    /// Deadline for the whole scenario (default 60s).
    #[serde(default)]
    pub timeout: Option<DurationValue>,
    /// Default deadline of each step (default 5s); a step's `timeout` overrides it.
    #[serde(default)]
    pub step_timeout: Option<DurationValue>,
    /// HTTP rule profile: `http10` (RFC 1945, default) or `strict11` (RFC 2616).
    #[serde(default)]
    pub profile: Option<ProfileName>,
    /// How the bundled mock server (or parley, when it plays the server) misbehaves.
    #[serde(default)]
    pub faults: Option<FaultsDoc>,
    /// When grading: fault variants, each played after the plain run and reported apart
    /// (`byte-at-a-time: { split_writes: 1 }`).
    #[serde(default)]
    pub variants: BTreeMap<Text, FaultsDoc>,
    /// When grading: the program's stdin and what it must print and exit with.
    #[serde(default)]
    pub program: Option<ProgramDoc>,
    /// When parley plays the FTP server: replies to commands the steps do not expect,
    /// by keyword (`PWD: "257 \"/\"\r\n"`), `"*"` for any other.
    #[serde(default)]
    pub answers: BTreeMap<Text, Payload>,
    /// Grading: points for rules, by id (`H-RL-2: 2`). Each is a check of its own, earned
    /// when the run reaches its end without a finding (warning or error) of that rule; a
    /// step's own `points` are earned when the step passes.
    #[serde(default)]
    pub rule_points: BTreeMap<RuleRef, u32>,
    /// Snapshots (`--snapshot DIR`): what to replace in the normalized transcript before it
    /// is stored or compared, after parley's own filters (ports, dates, banners, ...), e.g.
    /// `{ regex: 'session=\w+', replacement: 'session=[id]' }`. The regex sees the
    /// snapshot's text, where CR and LF are written `\r` and `\n`.
    #[serde(default)]
    pub redact: Vec<RedactDoc>,
    /// The conversation, in order.
    pub steps: Steps,
}

/// One redaction of a snapshot: every match of `regex` becomes `replacement` (which may
/// name groups: `$1`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactDoc {
    /// A regular expression (Rust regex syntax) over the snapshot's text.
    pub regex: TextRegex,
    /// What each match becomes; `$1`, `${name}` insert groups.
    pub replacement: Text,
}

/// A compiled regular expression over text (a snapshot's lines).
#[derive(Debug, Clone)]
pub struct TextRegex(pub regex::Regex);

impl TextRegex {
    /// Compiles `pattern`, with a message that says what is wrong.
    pub fn new(pattern: &str) -> Result<TextRegex, String> {
        locate::take(Limit::LiteralBytes, pattern.len())?;
        regex::Regex::new(pattern)
            .map(TextRegex)
            .map_err(|e| format!("invalid regular expression:\n{e}"))
    }
}

impl<'de> Deserialize<'de> for TextRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a regular expression", TextRegex::new)
    }
}

impl JsonSchema for TextRegex {
    fn schema_name() -> Cow<'static, str> {
        "TextRegex".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "description": "A regular expression (Rust regex syntax)." })
    }
}

/// A fragment file, pulled into scenarios with `include:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "parley scenario fragment (v1)")]
pub struct FragmentDoc {
    /// Editor hint; ignored.
    #[serde(rename = "$schema", default)]
    pub schema: Option<Text>,
    /// What the fragment does.
    #[serde(default)]
    pub description: Option<Text>,
    /// Default values of the variables the fragment uses; the scenario's own variables
    /// and the `include`'s `vars` take precedence. A value is a string, or
    /// `{ value: "...", secret: true }`.
    #[serde(default)]
    pub vars: BTreeMap<VarName, VarDoc>,
    /// The steps to insert.
    pub steps: Steps,
}

/// Protocols parley speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    /// RFC 862 echo.
    Echo,
    /// HTTP/1.0 (RFC 1945), optionally checked against RFC 2616.
    Http,
    /// FTP (RFC 959, RFC 1123 §4.1, RFC 2577).
    Ftp,
}

/// HTTP rule profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProfileName {
    /// RFC 1945 (default).
    Http10,
    /// RFC 2616: Host and Date become errors.
    Strict11,
}

/// A variable name: letters, digits, `_`, `.`, `-`, starting with a letter or `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VarName(pub String);

impl<'de> Deserialize<'de> for VarName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a variable name", |name| {
            locate::take(Limit::LiteralBytes, name.len())?;
            if is_var_name(name) {
                Ok(VarName(name.to_string()))
            } else {
                Err(format!(
                    "`{name}` is not a variable name: use letters, digits, `_`, `.` and `-`, starting with a letter or `_`"
                ))
            }
        })
    }
}

impl JsonSchema for VarName {
    fn schema_name() -> Cow<'static, str> {
        "VarName".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.-]*$" })
    }
}

/// A variable's default value: `name: value`, or `name: { value: ..., secret: true }`
/// for a value every report masks (`****`): a password, a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarDoc {
    /// The value; it may use the builtin variables (`{{host}}`, ...).
    pub value: Template,
    /// Masked in every report.
    pub secret: bool,
}

/// The map form of a variable.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VarFields {
    /// The value.
    pub value: Template,
    /// Mask the value (and any `--var` given for it) in every report: findings,
    /// transcripts, JSON, JUnit. Default `false`.
    #[serde(default)]
    pub secret: bool,
}

impl Positioned for VarDoc {
    fn set_pos(&mut self, pos: Pos) {
        self.value.set_pos(pos);
    }
}

impl<'de> Deserialize<'de> for VarDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = VarDoc;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value (a string), or a map with `value` and `secret`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<VarDoc, E> {
                Ok(VarDoc {
                    value: Template::parse(v).map_err(E::custom)?,
                    secret: false,
                })
            }
            // Numbers and booleans are read as their text, so `vars: { port: 21 }` works.
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<VarDoc, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<VarDoc, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<VarDoc, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<VarDoc, E> {
                self.visit_str(if v { "true" } else { "false" })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<VarDoc, A::Error> {
                let f = VarFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(VarDoc {
                    value: f.value,
                    secret: f.secret,
                })
            }
        }
        locate::positioned(d, V)
    }
}

impl JsonSchema for VarDoc {
    fn schema_name() -> Cow<'static, str> {
        "Var".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let fields = generator.subschema_for::<VarFields>();
        json_schema!({
            "description": "A value (`{{name}}` may use the builtin variables), or `{ value, secret }`.",
            "anyOf": [ { "type": ["string", "number", "boolean"] }, fields ]
        })
    }
}

/// The list of steps; never empty.
#[derive(Debug)]
pub struct Steps(pub Vec<StepDoc>);

impl<'de> Deserialize<'de> for Steps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Steps;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of steps")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Steps, A::Error> {
                let mut steps = Vec::new();
                while let Some(step) = seq.next_element()? {
                    steps.push(step);
                }
                if steps.is_empty() {
                    return Err(serde::de::Error::custom(
                        "`steps` is empty: a scenario needs at least one step, \
                         e.g. `- client: \"hello\\r\\n\"`",
                    ));
                }
                Ok(Steps(steps))
            }
        }
        d.deserialize_seq(V)
    }
}

impl JsonSchema for Steps {
    fn schema_name() -> Cow<'static, str> {
        "Steps".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let step = generator.subschema_for::<StepFields>();
        json_schema!({ "type": "array", "items": step, "minItems": 1 })
    }
}

/// Which side of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SideName {
    /// The side that opened the main connection.
    Client,
    /// The side that accepted it.
    Server,
}

/// One step: exactly one action (`client`, `server`, `open`, `listen`, `close`,
/// `include`) and optional modifiers.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Step")]
pub struct StepFields {
    /// A message from the client. parley sends it when it plays the client, and checks
    /// it when it plays the server. A string is sent as is and matched exactly (echo) or
    /// semantically (HTTP request line and named headers; FTP command).
    pub client: Option<SideDoc>,
    /// A message from the server. parley sends it when it plays the server, and checks
    /// it when it plays the client. A string is sent as is and matched exactly (echo) or
    /// semantically (HTTP status and named headers; FTP reply code); a number is a code.
    pub server: Option<SideDoc>,
    /// Opens a connection: `open: data`, or `{conn, by, to, framing}`. The main
    /// connection opens by itself at its first use.
    pub open: Option<OpenDoc>,
    /// One side starts listening for a connection the other side will open (FTP active
    /// mode: the client listens, announces the address with PORT, the server connects).
    pub listen: Option<ListenDoc>,
    /// One side closes its end of the connection named by `on` (default `main`). When
    /// the peer is to close, parley waits for its end of file.
    pub close: Option<SideName>,
    /// Inserts the steps of a fragment file: `include: _login.yaml` or `{file, vars}`.
    pub include: Option<IncludeDoc>,
    /// Alternatives, each a list of steps; the one played is chosen by what the peer
    /// sends (the first alternative whose first step matches the peer's message), or,
    /// when parley sends first, by the first whose first step's `when:` holds. One
    /// grading scenario can so accept active (PORT, EPRT) and passive (PASV, EPSV) data
    /// connections, TYPE A or TYPE I, with or without optional commands.
    pub one_of: Option<Vec<BranchDoc>>,
    /// A name for the step, used in reports.
    pub id: Option<Text>,
    /// A comment shown in reports.
    pub note: Option<Text>,
    /// The connection this step is about (default `main`).
    pub on: Option<ConnName>,
    /// Run the step only when this holds.
    pub when: Option<WhenDoc>,
    /// Deadline for this step (default: the scenario's `step_timeout`).
    pub timeout: Option<DurationValue>,
    /// The rule a failure of this step breaks, e.g. `ECHO-2` (default: the protocol's
    /// basic rule, or `S-EXPECT`).
    pub rule: Option<RuleRef>,
    /// Variables to set from the message: `name: 'regex with (group)'` or a map.
    pub capture: Option<BTreeMap<VarName, CaptureDoc>>,
    /// Points this step's checks are worth when grading (default 1).
    pub points: Option<u32>,
    /// On a step that waits for the peer's message: no connection may arrive at parley's
    /// listener of this name while the step waits, nor by the time the message is there
    /// (an FTP server must not connect to a bounce address its PORT named; RFC 2577 §3).
    pub no_connection: Option<ConnName>,
    /// On a step that waits for the peer's message: the peer may close the connection
    /// instead (an FTP server that ends the session after failed logins). The step then
    /// passes, and the last code is cleared, so later steps that depend on a reply
    /// (`when: { last_code: ... }`) are skipped.
    pub or_close: Option<bool>,
    /// `continue: true` makes the step informational: when its check fails, the finding
    /// keeps its rule's own severity (a warning or note does not fail the scenario) and
    /// the scenario goes on. By default a step that does not get what it expects fails,
    /// whatever its rule's severity, and ends the scenario.
    #[serde(rename = "continue")]
    pub keep_going: Option<bool>,
}

/// One alternative of a `one_of`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchDoc {
    /// A name for reports (`passive`, `active`).
    #[serde(default)]
    pub name: Option<Text>,
    /// The steps of this alternative.
    pub steps: Steps,
}

/// A checked step.
#[derive(Debug)]
pub struct StepDoc {
    /// The fields as written.
    pub fields: StepFields,
    /// Where it is written: its first key.
    pub pos: Pos,
}

/// The action names, for messages.
pub const ACTIONS: &str = "`client`, `server`, `open`, `listen`, `close`, `include`, `one_of`";

impl StepFields {
    fn actions(&self) -> Vec<&'static str> {
        [
            ("client", self.client.is_some()),
            ("server", self.server.is_some()),
            ("open", self.open.is_some()),
            ("listen", self.listen.is_some()),
            ("close", self.close.is_some()),
            ("include", self.include.is_some()),
            ("one_of", self.one_of.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

fn check_step(fields: StepFields) -> Result<StepDoc, String> {
    let actions = fields.actions();
    match actions.as_slice() {
        [] => return Err(format!("this step does nothing: give it one of {ACTIONS}")),
        [_] => {}
        many => {
            return Err(format!(
                "this step has {} actions (`{}`); a step has exactly one of {ACTIONS} — split it into one step each",
                many.len(),
                many.join("`, `")
            ));
        }
    }
    let group = match (&fields.include, &fields.one_of) {
        (Some(_), _) => Some("include"),
        (_, Some(_)) => Some("one_of"),
        _ => None,
    };
    if let Some(action) = group {
        let extra: Vec<&str> = [
            ("on", fields.on.is_some()),
            ("when", fields.when.is_some()),
            ("timeout", fields.timeout.is_some()),
            ("rule", fields.rule.is_some()),
            ("capture", fields.capture.is_some()),
            ("points", fields.points.is_some()),
            ("continue", fields.keep_going.is_some()),
            ("no_connection", fields.no_connection.is_some()),
            ("or_close", fields.or_close.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, s)| s.then_some(n))
        .collect();
        if !extra.is_empty() {
            return Err(format!(
                "`{action}` takes no `{}`: put modifiers on the steps inside it",
                extra.join("`, `")
            ));
        }
    }
    if fields.one_of.as_ref().is_some_and(|b| b.len() < 2) {
        return Err("`one_of` needs at least two alternatives to choose from".to_string());
    }
    if fields.no_connection.is_some() && fields.client.is_none() && fields.server.is_none() {
        return Err("`no_connection` watches a listener while a message is awaited: use it on a `client` or `server` step".to_string());
    }
    if fields.or_close.is_some() && fields.client.is_none() && fields.server.is_none() {
        return Err("`or_close` lets the peer close instead of sending a message: use it on a `client` or `server` step".to_string());
    }
    if fields.capture.is_some() && fields.client.is_none() && fields.server.is_none() {
        return Err("`capture` reads a message: use it on a `client` or `server` step".to_string());
    }
    if fields.on.is_some() && (fields.open.is_some() || fields.listen.is_some()) {
        return Err(
            "`open` and `listen` name their connection themselves: write `open: NAME` instead of `on`"
                .to_string(),
        );
    }
    Ok(StepDoc {
        fields,
        pos: Pos::default(),
    })
}

impl<'de> Deserialize<'de> for StepDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StepDoc;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a step: a map with one of {ACTIONS}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<StepDoc, A::Error> {
                locate::take_de::<A::Error>(Limit::Steps, 1)?;
                let (map, pos) = locate::first_key(map)?;
                let fields = StepFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                let mut step = check_step(fields).map_err(serde::de::Error::custom)?;
                step.pos = pos;
                Ok(step)
            }
        }
        d.deserialize_map(V)
    }
}

/// A connection name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnName(pub String);

fn check_conn_name(name: &str) -> Result<ConnName, String> {
    if !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(ConnName(name.to_string()))
    } else {
        Err(format!(
            "`{name}` is not a connection name: use up to 32 letters, digits, `_` or `-`"
        ))
    }
}

impl<'de> Deserialize<'de> for ConnName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a connection name", check_conn_name)
    }
}

impl JsonSchema for ConnName {
    fn schema_name() -> Cow<'static, str> {
        "ConnName".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$" })
    }
}

/// A rule id that exists in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleRef(pub RuleId);

impl<'de> Deserialize<'de> for RuleRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a rule id such as `ECHO-2`", |id| {
            match crate::rules::lookup(id) {
                Some(rule) => Ok(RuleRef(rule.id)),
                None => Err(format!(
                    "unknown rule `{id}`: {}ids look like `ECHO-2`, `H-RL-2`, `F-CMD-3` or `S-EXPECT`; \
                 `parley explain --list` lists them all",
                    super::suggest::did_you_mean(id, crate::rules::RULES.iter().map(|r| r.code))
                        .map(|s| format!("{s} "))
                        .unwrap_or_default()
                )),
            }
        })
    }
}

impl JsonSchema for RuleRef {
    fn schema_name() -> Cow<'static, str> {
        "RuleId".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let ids: Vec<&str> = crate::rules::RULES.iter().map(|r| r.code).collect();
        json_schema!({ "type": "string", "enum": ids })
    }
}

/// A message: what one side sends, and how the other side's copy is checked.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Message")]
pub struct SideFields {
    /// The bytes parley sends when it plays this side. Without matchers below, they are
    /// also what is expected when parley checks this side.
    pub send: Option<Payload>,
    /// The message is exactly these bytes.
    pub exact: Option<Payload>,
    /// The message contains these bytes.
    pub contains: Option<Payload>,
    /// The message does not contain these bytes.
    pub not_contains: Option<Payload>,
    /// The message matches this regular expression (Rust `regex` syntax, on bytes).
    pub regex: Option<RegexValue>,
    /// The message is this many bytes long.
    pub len: Option<usize>,
    /// FTP reply code, or HTTP status code; a list matches any of them.
    pub code: Option<Codes>,
    /// HTTP: the request method (server role checks what a client sends).
    pub method: Option<Text>,
    /// HTTP: the request target, e.g. `/status/418`; FTP: the command's argument.
    pub path: Option<Template>,
    /// FTP: the command keyword the client sends, e.g. `PORT`.
    pub command: Option<Text>,
    /// HTTP: headers that must be present with these values (names in any case).
    pub headers: Option<BTreeMap<Text, Template>>,
    /// HTTP: the body is exactly these bytes.
    pub body: Option<Payload>,
    /// HTTP: the body is JSON equal to this value (strings may use `{{variables}}`).
    pub json: Option<Json>,
    /// HTTP: the JSON body has these values at these JSON pointers (RFC 6901), e.g.
    /// `{ "/json/name": "parley" }`.
    pub json_at: Option<BTreeMap<Text, Json>>,
    /// HTTP: the body is this many bytes long.
    pub body_len: Option<usize>,
    /// Shorthand for the message's bytes, as in a payload map: UTF-8 text.
    pub text: Option<Template>,
    /// Shorthand: the message's bytes in hexadecimal.
    pub hex: Option<Text>,
    /// Shorthand: the message's bytes in base64.
    pub base64: Option<Text>,
    /// Shorthand: the message's bytes from a regular file (at most 64 MiB), relative to
    /// the scenario.
    pub file: Option<Text>,
    /// Shorthand: every octet value from the first number to the second.
    pub octets: Option<(u8, u8)>,
    /// Shorthand: a payload repeated `times` times.
    pub repeat: Option<Box<Payload>>,
    /// With `repeat`.
    pub times: Option<usize>,
}

/// A side of a message step as written.
#[derive(Debug, Clone)]
pub enum SideDoc {
    /// `client: "text"` — send this, expect this.
    Literal(Payload),
    /// `server: 220` or `server: [230, 331]` — reply or status codes.
    Code(Vec<u16>),
    /// The map form.
    Fields(Box<SideFields>),
}

impl Positioned for SideDoc {
    fn set_pos(&mut self, pos: Pos) {
        if let SideDoc::Literal(p) = self {
            p.set_pos(pos);
        }
    }
}

fn side_from_scalar(s: Scalar<'_>) -> Result<SideDoc, String> {
    match s {
        Scalar::Int(code) => match u16::try_from(code) {
            Ok(c) if (100..=599).contains(&c) => Ok(SideDoc::Code(vec![c])),

            _ => Err(format!(
                "`{code}` is not a code (100-599); quote it (`\"{code}\"`) to send it as text"
            )),
        },
        Scalar::Str(_) => super::payload::from_scalar(s).map(SideDoc::Literal),
    }
}

fn side_from_fields(mut f: SideFields) -> Result<SideDoc, String> {
    let payload = super::payload::PayloadFields {
        text: f.text.take(),
        hex: f.hex.take(),
        base64: f.base64.take(),
        file: f.file.take(),
        octets: f.octets.take(),
        repeat: f.repeat.take(),
        times: f.times.take(),
    };
    if !payload.is_empty() {
        let bytes = super::payload::from_fields(payload)?;
        if f.send.is_some() {
            return Err(
                "give the bytes either as `send:` or directly (`text`, `hex`, ...), not both".to_string(),
            );
        }
        if is_plain(&f) {
            return Ok(SideDoc::Literal(bytes));
        }
        f.send = Some(bytes);
    }
    Ok(SideDoc::Fields(Box::new(f)))
}

/// True when the map has no field besides the payload shorthand.
fn is_plain(f: &SideFields) -> bool {
    f.exact.is_none()
        && f.contains.is_none()
        && f.not_contains.is_none()
        && f.regex.is_none()
        && f.len.is_none()
        && f.code.is_none()
        && f.method.is_none()
        && f.path.is_none()
        && f.command.is_none()
        && f.headers.is_none()
        && f.body.is_none()
        && f.json.is_none()
        && f.json_at.is_none()
        && f.body_len.is_none()
}

impl<'de> Deserialize<'de> for SideDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTING: &str =
            "a string (the bytes), a code such as 220, a list of codes, or a map of `send` and matchers";
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SideDoc;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(EXPECTING)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SideDoc, E> {
                side_from_scalar(Scalar::Str(v)).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SideDoc, E> {
                side_from_scalar(Scalar::Int(i64::try_from(v).unwrap_or(i64::MAX))).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SideDoc, E> {
                side_from_scalar(Scalar::Int(v)).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<SideDoc, A::Error> {
                let codes = Codes::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(SideDoc::Code(codes.0))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<SideDoc, A::Error> {
                let fields = SideFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                side_from_fields(fields).map_err(serde::de::Error::custom)
            }
        }
        locate::positioned(d, V)
    }
}

impl JsonSchema for SideDoc {
    fn schema_name() -> Cow<'static, str> {
        "Side".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let fields = generator.subschema_for::<SideFields>();
        json_schema!({
            "description": "A string (bytes to send and expect), a code or list of codes (FTP reply / HTTP status), or a map of `send` and matchers.",
            "anyOf": [
                { "type": "string" },
                { "type": "integer", "minimum": 100, "maximum": 599 },
                { "type": "array", "items": { "type": "integer", "minimum": 100, "maximum": 599 }, "minItems": 1 },
                fields
            ]
        })
    }
}

/// How a connection's bytes are cut into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FramingName {
    /// The step's matcher decides how many bytes a message is (echo).
    Raw,
    /// One line, ending in LF.
    Line,
    /// Everything until the peer closes (an FTP data connection).
    Eof,
    /// The protocol's own framing (HTTP messages, FTP replies and commands).
    Protocol,
}

/// The map form of `open`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenFields {
    /// The connection's name.
    pub conn: ConnName,
    /// Which side opens it (default `client`).
    #[serde(default)]
    pub by: Option<SideName>,
    /// `host:port` to connect to; by default the target for `main`, the address the
    /// other side listens on (see `listen`) for the others.
    #[serde(default)]
    pub to: Option<Template>,
    /// How its bytes are cut into messages (default: the protocol's choice).
    #[serde(default)]
    pub framing: Option<FramingName>,
}

/// `open: NAME` or its map form.
#[derive(Debug, Clone)]
pub struct OpenDoc(pub OpenFields);

impl<'de> Deserialize<'de> for OpenDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_or_map(
            d,
            "a connection name, or a map with `conn`, `by`, `to`, `framing`",
            |s| match s {
                Scalar::Str(name) => Ok(OpenDoc(OpenFields {
                    conn: check_conn_name(name)?,
                    by: None,
                    to: None,
                    framing: None,
                })),
                Scalar::Int(_) => Err("expected a connection name".to_string()),
            },
            |f: OpenFields| Ok(OpenDoc(f)),
        )
    }
}

impl JsonSchema for OpenDoc {
    fn schema_name() -> Cow<'static, str> {
        "Open".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let fields = generator.subschema_for::<OpenFields>();
        json_schema!({ "anyOf": [ { "type": "string" }, fields ] })
    }
}

/// The map form of `listen`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListenFields {
    /// The connection that will be opened to this listener.
    pub conn: ConnName,
    /// Which side listens (default `client`, as in FTP active mode).
    #[serde(default)]
    pub by: Option<SideName>,
    /// When parley listens: the IP address to listen on (default: the address of its end
    /// of `main`), e.g. another loopback address `127.0.0.2` for a bounce check.
    #[serde(default)]
    pub host: Option<IpValue>,
    /// When parley listens: the port (default: one the kernel picks), or `privileged` for a
    /// free port below 1024. A port below 1024 needs root; without it the listen step is
    /// skipped and sets no variables.
    #[serde(default)]
    pub port: Option<PortValue>,
}

/// A port to listen on: a number, or `privileged` (a free port below 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortValue {
    /// This port.
    Number(u16),
    /// Any free port below 1024.
    Privileged,
}

impl<'de> Deserialize<'de> for PortValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_or_map(
            d,
            "a port number, or `privileged`",
            |s| match s {
                Scalar::Int(n) => u16::try_from(n)
                    .ok()
                    .filter(|p| *p > 0)
                    .map(PortValue::Number)
                    .ok_or_else(|| format!("`{n}` is not a TCP port: ports are numbers from 1 to 65535")),
                Scalar::Str("privileged") => Ok(PortValue::Privileged),
                Scalar::Str(other) => Err(format!("`{other}` is not a port: give a number or `privileged`")),
            },
            |_: BTreeMap<String, String>| Err("expected a port number or `privileged`".to_string()),
        )
    }
}

impl JsonSchema for PortValue {
    fn schema_name() -> Cow<'static, str> {
        "Port".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [
            { "type": "integer", "minimum": 1, "maximum": 65535 },
            { "const": "privileged" }
        ] })
    }
}

/// An IP address, v4 or v6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpValue(pub std::net::IpAddr);

impl<'de> Deserialize<'de> for IpValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "an IP address such as `127.0.0.2`", |s| {
            s.parse()
                .map(IpValue)
                .map_err(|_| format!("`{s}` is not an IP address: write it as `127.0.0.2` or `::1`"))
        })
    }
}

impl JsonSchema for IpValue {
    fn schema_name() -> Cow<'static, str> {
        "IpAddress".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "description": "An IPv4 or IPv6 address." })
    }
}

/// `listen: NAME` or its map form.
#[derive(Debug, Clone)]
pub struct ListenDoc(pub ListenFields);

impl<'de> Deserialize<'de> for ListenDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_or_map(
            d,
            "a connection name, or a map with `conn` and `by`",
            |s| match s {
                Scalar::Str(name) => Ok(ListenDoc(ListenFields {
                    conn: check_conn_name(name)?,
                    by: None,
                    host: None,
                    port: None,
                })),
                Scalar::Int(_) => Err("expected a connection name".to_string()),
            },
            |f: ListenFields| Ok(ListenDoc(f)),
        )
    }
}

impl JsonSchema for ListenDoc {
    fn schema_name() -> Cow<'static, str> {
        "Listen".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let fields = generator.subschema_for::<ListenFields>();
        json_schema!({ "anyOf": [ { "type": "string" }, fields ] })
    }
}

/// The map form of `include`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncludeFields {
    /// The fragment file, relative to the including file.
    pub file: Text,
    /// Values for the fragment's variables, for these steps only.
    #[serde(default)]
    pub vars: BTreeMap<VarName, Text>,
}

/// `include: PATH` or its map form.
#[derive(Debug, Clone)]
pub struct IncludeDoc(pub IncludeFields);

impl<'de> Deserialize<'de> for IncludeDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_or_map(
            d,
            "a fragment path, or a map with `file` and `vars`",
            |s| match s {
                Scalar::Str(file) => Ok(IncludeDoc(IncludeFields {
                    file: Text(file.to_string()),
                    vars: BTreeMap::new(),
                })),
                Scalar::Int(_) => Err("expected a file path".to_string()),
            },
            |f: IncludeFields| Ok(IncludeDoc(f)),
        )
    }
}

impl JsonSchema for IncludeDoc {
    fn schema_name() -> Cow<'static, str> {
        "Include".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let fields = generator.subschema_for::<IncludeFields>();
        json_schema!({ "anyOf": [ { "type": "string" }, fields ] })
    }
}

/// A condition on earlier results; every field given must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhenFields {
    /// The last reply or status code seen (FTP, HTTP) is one of these.
    pub last_code: Option<Codes>,
    /// These variables have these values.
    pub vars: Option<BTreeMap<VarName, Text>>,
    /// This variable has a value (e.g. was captured).
    pub defined: Option<VarName>,
    /// This variable has no value.
    pub undefined: Option<VarName>,
    /// The step with this `id` ran and passed.
    pub passed: Option<Text>,
    /// The step with this `id` ran and failed.
    pub failed: Option<Text>,
}

/// A checked `when`.
#[derive(Debug, Clone)]
pub struct WhenDoc(pub WhenFields);

impl<'de> Deserialize<'de> for WhenDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_map(
            d,
            "a condition map, e.g. `{ last_code: 331 }`",
            |f: WhenFields| {
                let given = [
                    f.last_code.is_some(),
                    f.vars.is_some(),
                    f.defined.is_some(),
                    f.undefined.is_some(),
                    f.passed.is_some(),
                    f.failed.is_some(),
                ];
                if given.iter().any(|g| *g) {
                    Ok(WhenDoc(f))
                } else {
                    Err("an empty `when` is always true: give `last_code`, `vars`, `defined`, `undefined`, `passed` or `failed`".to_string())
                }
            },
        )
    }
}

impl JsonSchema for WhenDoc {
    fn schema_name() -> Cow<'static, str> {
        "When".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        WhenFields::json_schema(generator)
    }
}

/// The map form of a capture.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureFields {
    /// A regular expression; the first group (or the whole match) is the value.
    pub regex: Option<RegexValue>,
    /// HTTP: take the value of this header (then `regex`, if given, applies to it).
    pub header: Option<Text>,
    /// HTTP: take this JSON pointer (RFC 6901) from the body, e.g. `/json/name`.
    pub json: Option<Text>,
}

/// `name: 'regex'` or its map form.
#[derive(Debug, Clone)]
pub struct CaptureDoc(pub CaptureFields);

impl<'de> Deserialize<'de> for CaptureDoc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_or_map(
            d,
            "a regular expression, or a map with `regex`, `header`, `json`",
            |s| match s {
                Scalar::Str(re) => Ok(CaptureDoc(CaptureFields {
                    regex: Some(RegexValue::new(re)?),
                    header: None,
                    json: None,
                })),
                Scalar::Int(_) => Err("expected a regular expression".to_string()),
            },
            |f: CaptureFields| {
                if f.regex.is_none() && f.header.is_none() && f.json.is_none() {
                    return Err("a capture needs `regex`, `header` or `json`".to_string());
                }
                if f.json
                    .as_deref()
                    .is_some_and(|p| !p.is_empty() && !p.starts_with('/'))
                {
                    return Err("a JSON pointer starts with `/`, e.g. `/json/name`".to_string());
                }
                Ok(CaptureDoc(f))
            },
        )
    }
}

impl JsonSchema for CaptureDoc {
    fn schema_name() -> Cow<'static, str> {
        "Capture".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let fields = generator.subschema_for::<CaptureFields>();
        json_schema!({ "anyOf": [ { "type": "string" }, fields ] })
    }
}

/// A compiled regular expression over bytes.
#[derive(Debug, Clone)]
pub struct RegexValue(pub regex::bytes::Regex);

impl RegexValue {
    /// Compiles `pattern`, with a message that says what is wrong.
    pub fn new(pattern: &str) -> Result<RegexValue, String> {
        locate::take(Limit::LiteralBytes, pattern.len())?;
        regex::bytes::Regex::new(pattern)
            .map(RegexValue)
            .map_err(|e| format!("invalid regular expression:\n{e}"))
    }
}

impl<'de> Deserialize<'de> for RegexValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_str(d, "a regular expression", RegexValue::new)
    }
}

impl JsonSchema for RegexValue {
    fn schema_name() -> Cow<'static, str> {
        "Regex".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "description": "A regular expression (Rust regex syntax)." })
    }
}

/// Fault knobs: how the server side misbehaves, on purpose.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultsDoc {
    /// Write every reply in pieces of at most this many bytes (1 = a byte per write).
    pub split_writes: Option<usize>,
    /// Pause between the pieces of a split write.
    pub write_delay: Option<DurationValue>,
    /// Pause before each reply.
    pub reply_delay: Option<DurationValue>,
    /// HTTP mock: send bodies without Content-Length (the body ends when the server closes).
    pub no_content_length: Option<bool>,
    /// HTTP mock: wait this long after a response before closing.
    pub close_delay: Option<DurationValue>,
    /// FTP: the greeting is a multi-line `220-` reply.
    pub multiline_greeting: Option<bool>,
    /// FTP mock: replies end in a bare LF instead of CRLF.
    pub bare_lf: Option<bool>,
    /// FTP: wait this long before the 226 that ends a transfer.
    pub transfer_delay: Option<DurationValue>,
    /// FTP mock: never open the data connection (the transfer gets 425).
    pub refuse_data: Option<bool>,
    /// When parley plays the server: repeat the last line of what it sends on a data
    /// connection until that is at least this many bytes (a listing larger than 64 KiB).
    pub pad_data: Option<usize>,
    /// FTP, parley as the server: 227 replies carry their six numbers without the
    /// parentheses (legal: RFC 1123 §4.1.2.6 has clients find the numbers anywhere).
    pub pasv_without_parentheses: Option<bool>,
    /// FTP, when parley plays the server: every reply keeps its code and gets an unusual
    /// text (the data address of 227/229 and the path of 257 kept), so that a client that
    /// parses reply text instead of codes fails (RFC 1123 §4.1.2.11).
    pub odd_texts: Option<bool>,
}

/// What the program under test gets and must do (`parley grade`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramDoc {
    /// Bytes written to the program's standard input, which is then closed
    /// (an interactive echo client gets `"hello\nexit\n"`).
    pub stdin: Option<Payload>,
    /// The exit status the program must end with.
    pub exit: Option<i32>,
    /// What its standard output must contain.
    pub stdout_contains: Option<Template>,
    /// What its standard output must not contain.
    pub stdout_not_contains: Option<Template>,
    /// The rule a failed stdout or exit check breaks (default `S-PROGRAM`).
    pub rule: Option<RuleRef>,
    /// How long the program may take to finish after the conversation (default 5s).
    pub grace: Option<DurationValue>,
    /// How long the program may take to start: to connect to parley (a client) or to
    /// listen on its port (a server). Default 30s: generous for an interpreter on a loaded
    /// machine, and apart from the step deadlines.
    pub startup: Option<DurationValue>,
    /// Points each check of the program is worth (it exits by itself; `exit`;
    /// `stdout_contains`; `stdout_not_contains`), default 1.
    pub points: Option<u32>,
}
