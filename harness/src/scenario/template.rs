//! Strings with `{{variables}}`, parsed once when the YAML is read and filled in when a
//! step runs. The YAML text itself is never templated: only string values are.
//!
//! Syntax: `{{ name }}` inserts a variable (`[A-Za-z_][A-Za-z0-9_.-]*`); `{{ "text" }}`
//! inserts `text` literally, which is how a scenario writes a literal `{{`.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::limits::Limit;
use super::locate::{self, Pos, Positioned};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as is.
    Text(String),
    /// A variable reference.
    Var(String),
}

/// A parsed template string.
#[derive(Debug, Clone)]
pub struct Template {
    /// The string as written in the file.
    pub source: String,
    /// Its pieces.
    pub parts: Vec<Part>,
    /// Where it is written in its file (line 1 column 1 when not read from a file).
    pub pos: Pos,
}

/// Two templates are equal when they say the same, wherever they are written.
impl PartialEq for Template {
    fn eq(&self, other: &Template) -> bool {
        self.source == other.source && self.parts == other.parts
    }
}

impl Eq for Template {}

impl Positioned for Template {
    fn set_pos(&mut self, pos: Pos) {
        self.pos = pos;
    }
}

/// Where to look variables up.
pub trait Vars {
    /// The value of `name`, if it has one.
    fn get(&self, name: &str) -> Option<Cow<'_, str>>;
}

impl Vars for std::collections::BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        std::collections::BTreeMap::get(self, name).map(|v| Cow::Borrowed(v.as_str()))
    }
}

/// A variable that had no value when a template was filled in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable `{name}` has no value here")]
pub struct MissingVar {
    /// Its name.
    pub name: String,
}

impl Template {
    /// Parses `source`. While a scenario is loaded, its length is taken from the
    /// scenario's budget of literal bytes.
    pub fn parse(source: &str) -> Result<Template, String> {
        locate::take(Limit::LiteralBytes, source.len())?;
        Ok(Template {
            source: source.to_string(),
            parts: parse_parts(source)?,
            pos: Pos::default(),
        })
    }

    /// A template without variables.
    pub fn literal(text: &str) -> Template {
        Template {
            source: text.to_string(),
            parts: vec![Part::Text(text.to_string())],
            pos: Pos::default(),
        }
    }

    /// The variable names it uses, in order.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// True when it uses no variable.
    pub fn is_literal(&self) -> bool {
        self.vars().next().is_none()
    }

    /// Fills the variables in.
    pub fn render(&self, vars: &dyn Vars) -> Result<String, MissingVar> {
        let mut out = String::with_capacity(self.source.len());
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(name) => match vars.get(name) {
                    Some(value) => out.push_str(&value),
                    None => return Err(MissingVar { name: name.clone() }),
                },
            }
        }
        Ok(out)
    }
}

/// True for a valid variable name.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn parse_parts(source: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        text.push_str(&rest[..open]);
        let inner_start = &rest[open + 2..];
        let Some(close) = inner_start.find("}}") else {
            return Err(format!(
                "`{{{{` at byte {} opens a variable that is never closed with `}}}}`; \
                 write `{{{{ \"{{{{\" }}}}` for a literal `{{{{`",
                source.len() - rest.len() + open
            ));
        };
        let inner = inner_start[..close].trim();
        if let Some(literal) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            text.push_str(literal);
        } else if is_var_name(inner) {
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Var(inner.to_string()));
        } else {
            return Err(format!(
                "`{{{{{}}}}}` is not a variable reference: a name is letters, digits, `_`, `.` \
                 and `-`, starting with a letter or `_`",
                &inner_start[..close]
            ));
        }
        rest = &inner_start[close + 2..];
    }
    text.push_str(rest);
    if !text.is_empty() || parts.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Template;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string (it may use `{{variables}}`)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Template, E> {
                Template::parse(v).map_err(E::custom)
            }
            // Numbers and booleans are read as their text, so `vars: { port: 21 }` works.
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Template, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Template, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Template, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Template, E> {
                self.visit_str(if v { "true" } else { "false" })
            }
        }
        locate::positioned(d, V)
    }
}

impl JsonSchema for Template {
    fn schema_name() -> Cow<'static, str> {
        "Template".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A string; `{{name}}` inserts a variable.",
            "type": ["string", "number", "boolean"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_are_filled_in() {
        let t = Template::parse("USER {{user}}\r\n").unwrap();
        assert_eq!(
            t.render(&vars(&[("user", "anonymous")])).unwrap(),
            "USER anonymous\r\n"
        );
        assert_eq!(t.vars().collect::<Vec<_>>(), ["user"]);
    }

    #[test]
    fn spaces_inside_braces_are_allowed() {
        let t = Template::parse("{{ a.b }}-{{c}}").unwrap();
        assert_eq!(t.render(&vars(&[("a.b", "1"), ("c", "2")])).unwrap(), "1-2");
    }

    #[test]
    fn quoted_literal_writes_braces() {
        let t = Template::parse(r#"{{ "{{" }}x}}"#).unwrap();
        assert!(t.is_literal());
        assert_eq!(t.render(&vars(&[])).unwrap(), "{{x}}");
    }

    #[test]
    fn missing_variable_is_named() {
        let t = Template::parse("{{nope}}").unwrap();
        assert_eq!(t.render(&vars(&[])).unwrap_err().name, "nope");
    }

    #[test]
    fn unclosed_and_invalid_references_are_errors() {
        assert!(Template::parse("a {{b").unwrap_err().contains("never closed"));
        assert!(
            Template::parse("{{1x}}")
                .unwrap_err()
                .contains("not a variable reference")
        );
    }
}
