//! Variables across scenarios: which names a selection knows (for `--var` typos), and
//! which values are secret (masked in every report, see [`Secrets`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::plan::{Action, BUILTIN_VARS, LISTEN_VARS, Scenario};
use super::suggest;

impl Scenario {
    /// Every variable name the scenario declares or uses: its `vars`, the fragments'
    /// defaults and include values, what its steps capture and listen for, every
    /// `{{name}}` its steps use, and the builtin ones.
    pub fn var_names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.vars.keys().cloned().collect();
        names.extend(BUILTIN_VARS.iter().map(|s| s.to_string()));
        names.extend(self.protocol.provided_vars().iter().map(|s| s.to_string()));
        let mut used = |t: &super::template::Template| names.extend(t.vars().map(str::to_string));
        for t in self.vars.values() {
            used(t);
        }
        for step in &self.steps {
            match &step.action {
                Action::Open { to, .. } => to.iter().for_each(&mut used),
                Action::Message { send, expect, .. } => {
                    if let Some(s) = send {
                        s.templates().into_iter().for_each(&mut used);
                    }
                    expect.templates().into_iter().for_each(&mut used);
                }
                Action::Listen { .. } | Action::Close { .. } => {}
            }
        }
        for step in &self.steps {
            names.extend(step.captures.iter().map(|c| c.name.clone()));
            if let Action::Listen { conn, .. } = &step.action {
                names.extend(LISTEN_VARS.iter().map(|s| format!("{conn}.{s}")));
            }
            if let Some(scope) = &step.scope {
                names.extend(scope.overrides.keys().cloned());
                names.extend(scope.defaults.keys().cloned());
            }
            if let Some(when) = &step.when {
                names.extend(when.vars.keys().cloned());
                names.extend(when.defined.iter().cloned());
                names.extend(when.undefined.iter().cloned());
            }
        }
        names
    }

    /// The values to mask in this scenario's reports: the defaults of its secret
    /// variables (the scenario's and its fragments', and what includes gave them), and
    /// the values given on the command line for them (`cli`).
    pub fn secret_values(&self, cli: &BTreeMap<String, String>) -> Secrets {
        let mut values = Vec::new();
        for name in &self.secrets {
            if let Some(t) = self.vars.get(name) {
                values.push(t.source.clone());
            }
            if let Some(v) = cli.get(name) {
                values.push(v.clone());
            }
            for scope in self.steps.iter().filter_map(|s| s.scope.as_deref()) {
                values.extend(scope.overrides.get(name).cloned());
                values.extend(scope.defaults.get(name).map(|t| t.source.clone()));
            }
        }
        Secrets::new(values)
    }
}

/// Checks `--var` names against the selected scenarios: a name that none of them
/// declares or uses is an error that suggests the closest known one.
pub fn check_var_names<'a, I>(given: I, scenarios: &[Scenario]) -> Result<(), String>
where
    I: IntoIterator<Item = &'a String>,
{
    let known: BTreeSet<String> = scenarios.iter().flat_map(Scenario::var_names).collect();
    let unknown: Vec<&String> = given.into_iter().filter(|n| !known.contains(*n)).collect();
    let Some(first) = unknown.first() else {
        return Ok(());
    };
    let mut declared: Vec<&str> = scenarios
        .iter()
        .flat_map(|s| s.vars.keys().map(String::as_str))
        .collect();
    declared.sort();
    declared.dedup();
    let hint = match suggest::did_you_mean(first, known.iter().map(String::as_str)) {
        Some(s) => s,
        None if declared.is_empty() => "the selected scenarios declare no variables".to_string(),
        None => format!("the selected scenarios declare {}", declared.join(", ")),
    };
    let names: Vec<String> = unknown.iter().map(|n| format!("`{n}`")).collect();
    Err(format!(
        "--var {}: no selected scenario declares or uses {}; {hint}",
        first,
        names.join(", ")
    ))
}

/// What is shown in place of a secret.
pub const MASK: &str = "****";

/// Secret values, masked (`****`) wherever a report would show them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// The values, longest first (a value that contains another is masked whole).
    values: Vec<String>,
}

impl Secrets {
    /// The secrets among `values` (empty ones mask nothing and are left out), with the
    /// forms they take in reports (CR/LF and other bytes made visible).
    pub fn new(values: impl IntoIterator<Item = String>) -> Secrets {
        let mut out: Vec<String> = Vec::new();
        for v in values.into_iter().filter(|v| !v.is_empty()) {
            let shown = crate::visible::visible(v.as_bytes());
            out.push(v);
            out.push(shown);
        }
        out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        out.dedup();
        Secrets { values: out }
    }

    /// True when there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn mask_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.values.iter().any(|v| text.contains(v.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        Cow::Owned(out)
    }

    /// `bytes` with every secret replaced by [`MASK`].
    pub fn mask_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out: Cow<'a, [u8]> = Cow::Borrowed(bytes);
        for v in &self.values {
            let needle = v.as_bytes();
            if memchr::memmem::find(&out, needle).is_none() {
                continue;
            }
            let mut replaced = Vec::with_capacity(out.len());
            let mut rest: &[u8] = &out;
            while let Some(i) = memchr::memmem::find(rest, needle) {
                replaced.extend_from_slice(&rest[..i]);
                replaced.extend_from_slice(MASK.as_bytes());
                rest = &rest[i + needle.len()..];
            }
            replaced.extend_from_slice(rest);
            out = Cow::Owned(replaced);
        }
        out
    }

    /// Masks `text` in place.
    pub fn mask_string(&self, text: &mut String) {
        if let Cow::Owned(masked) = self.mask_str(text) {
            *text = masked;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_text_and_bytes_and_in_their_visible_form() {
        let s = Secrets::new([
            "guest@example.com".to_string(),
            "a\r\nb".to_string(),
            String::new(),
        ]);
        assert_eq!(s.mask_str("PASS guest@example.com\\r\\n"), "PASS ****\\r\\n");
        assert_eq!(&*s.mask_bytes(b"PASS guest@example.com\r\n"), b"PASS ****\r\n");
        assert_eq!(s.mask_str("x a\\r\\nb y"), "x **** y");
        assert_eq!(&*s.mask_bytes(b"xa\r\nby"), b"x****y");
        assert!(matches!(s.mask_str("nothing"), Cow::Borrowed(_)));
        assert!(Secrets::new([String::new()]).is_empty());
    }
}
