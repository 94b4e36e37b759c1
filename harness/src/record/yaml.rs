//! YAML text for recorded scenarios: double-quoted strings that give back exactly the
//! bytes recorded, CR and LF written visibly as `\r` and `\n`, long messages folded after
//! each line end (an escaped line break, which YAML drops), and `{{` in recorded text
//! written so the scenario's templates do not read it as a variable.

use std::fmt::Write as _;

/// A piece of a string value: recorded text, or a variable reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// Text as recorded.
    Lit(String),
    /// `{{name}}`.
    Var(String),
}

/// A string value of the scenario: text with variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub Vec<Seg>);

impl Text {
    /// Recorded text without variables.
    pub fn lit(s: impl Into<String>) -> Text {
        Text(vec![Seg::Lit(s.into())])
    }

    /// Appends recorded text.
    pub fn push(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Seg::Lit(last)) = self.0.last_mut() {
            last.push_str(s);
        } else {
            self.0.push(Seg::Lit(s.to_string()));
        }
    }

    /// Appends a variable reference.
    pub fn var(&mut self, name: &str) {
        self.0.push(Seg::Var(name.to_string()));
    }

    /// `text` with every occurrence of `needle` replaced by variable `name`.
    pub fn with_var(text: &str, needle: &str, name: &str) -> Text {
        let mut out = Text::default();
        if needle.is_empty() {
            out.push(text);
            return out;
        }
        let mut rest = text;
        while let Some(at) = rest.find(needle) {
            out.push(&rest[..at]);
            out.var(name);
            rest = &rest[at + needle.len()..];
        }
        out.push(rest);
        out
    }

    /// The template source: recorded `{{` written as `{{ "{{" }}`.
    pub fn source(&self) -> String {
        let mut out = String::new();
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Lit(s) => {
                    let escaped = s.replace("{{", "{{ \"{{\" }}");
                    // A `{` just before a variable would make `{{{`: write it apart.
                    match escaped.strip_suffix('{') {
                        Some(head) if matches!(self.0.get(i + 1), Some(Seg::Var(_))) => {
                            out.push_str(head);
                            out.push_str("{{ \"{\" }}");
                        }
                        _ => out.push_str(&escaped),
                    }
                }
                Seg::Var(name) => {
                    let _ = write!(out, "{{{{{name}}}}}");
                }
            }
        }
        out
    }

    /// The length of the source, for layout decisions.
    pub fn width(&self) -> usize {
        self.source().chars().count()
    }

    /// True when it spans several lines.
    pub fn is_multiline(&self) -> bool {
        let s = self.source();
        s.trim_end_matches('\n').contains('\n')
    }
}

/// One character inside a YAML double-quoted scalar.
fn escape_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        // C1 controls, the Unicode line separators and the BOM: escaped, so that no YAML
        // reader takes them for line breaks or drops them.
        c if (0x80..=0x9f).contains(&(c as u32)) || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => out.push(c),
    }
}

/// Longest string kept on one line.
pub const FOLD_AT: usize = 72;

/// `text` as a YAML double-quoted scalar. A string of several lines longer than
/// [`FOLD_AT`] is folded after each `\n`, continuation lines indented by `indent` spaces.
pub fn quoted(text: &Text, indent: usize) -> String {
    let source = text.source();
    let fold = source.chars().count() > FOLD_AT && source.trim_end_matches('\n').contains('\n');
    let mut out = String::from("\"");
    let pad = " ".repeat(indent);
    let mut at_line_start = false;
    let chars: Vec<char> = source.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if at_line_start {
            out.push_str("\\\n");
            out.push_str(&pad);
            // YAML drops the leading white space of a continuation line: escape it.
            if c == ' ' {
                out.push_str("\\ ");
                at_line_start = false;
                continue;
            }
            if c == '\t' {
                out.push_str("\\t");
                at_line_start = false;
                continue;
            }
            at_line_start = false;
        }
        escape_char(c, &mut out);
        if fold && c == '\n' && i + 1 < chars.len() {
            at_line_start = true;
        }
    }
    out.push('"');
    out
}

/// A plain key when it is safe as one, else double-quoted.
pub fn key(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !matches!(
            name.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        )
        && !name.starts_with('-');
    if plain {
        name.to_string()
    } else {
        quoted(&Text::lit(name), 0)
    }
}

/// A comment of one or more lines at `indent`, wrapped at about 88 columns.
pub fn comment(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for para in text.lines() {
        let mut line = String::new();
        for word in para.split_whitespace() {
            if !line.is_empty() && pad.len() + 2 + line.len() + 1 + word.len() > 88 {
                let _ = writeln!(out, "{pad}# {line}");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        let _ = writeln!(out, "{pad}# {line}");
    }
    out
}

/// A folded block scalar (`>-`) for prose, lines at `indent`, wrapped at about 88
/// columns; control characters become spaces.
pub fn folded(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = String::from(">-\n");
    let mut line = String::new();
    for word in clean.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > 88 {
            let _ = writeln!(out, "{pad}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let _ = writeln!(out, "{pad}{line}");
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a YAML string back.
    fn read(yaml: &str) -> String {
        let doc = format!("v: {yaml}\n");
        let value: serde_yaml::Value = serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{e}:\n{doc}"));
        value["v"]
            .as_str()
            .unwrap_or_else(|| panic!("not a string:\n{doc}"))
            .to_string()
    }

    #[test]
    fn quoted_strings_give_back_exactly_the_recorded_text() {
        let samples = [
            "USER anonymous\r\n",
            "211-Features:\r\n EPRT\r\n EPSV\r\n\tMDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n",
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n",
            "quote \" backslash \\ nul \0 bell \x07 del \x7f ünïcödé \u{85} \u{2028} end",
            "  leading spaces\n  on every line of a long text that is folded by the writer\n   indeed\n",
            "trailing spaces   \nand a line that ends in spaces   \n   and one that starts with them   \n",
            "\n\n\nonly line ends at the start of a long enough string to be folded by it\n\n",
        ];
        for s in samples {
            for indent in [0, 6] {
                let y = quoted(&Text::lit(s), indent);
                assert_eq!(read(&y), s, "as written:\n{y}");
            }
        }
    }

    #[test]
    fn long_messages_are_folded_after_each_line_end() {
        let s = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello!";
        let y = quoted(&Text::lit(s), 4);
        assert_eq!(
            y,
            "\"HTTP/1.1 200 OK\\r\\n\\\n    Server: nginx\\r\\n\\\n    Content-Type: text/plain\\r\\n\\\n    \
             Content-Length: 14\\r\\n\\\n    \\r\\n\\\n    Hello!\""
        );
    }

    #[test]
    fn recorded_braces_are_not_variables_and_variables_are() {
        let mut t = Text::lit("x {{y}} ");
        t.var("authority");
        assert_eq!(t.source(), "x {{ \"{{\" }}y}} {{authority}}");
        let mut brace = Text::lit("{");
        brace.var("v");
        assert_eq!(brace.source(), "{{ \"{\" }}{{v}}");
        assert_eq!(
            Text::with_var("Host: 127.0.0.1:80\r\n", "127.0.0.1:80", "authority").source(),
            "Host: {{authority}}\r\n"
        );
    }

    #[test]
    fn keys_are_quoted_when_yaml_would_misread_them() {
        assert_eq!(key("Content-Type"), "Content-Type");
        assert_eq!(key("on"), "\"on\"");
        assert_eq!(key("X*Y"), "\"X*Y\"");
    }

    #[test]
    fn prose_is_a_folded_block() {
        let y = folded("recorded: `curl -s ftp://127.0.0.1:1/` and\tmore", 2);
        let value: serde_yaml::Value = serde_yaml::from_str(&format!("d: {y}\n")).unwrap();
        assert_eq!(
            value["d"].as_str().unwrap(),
            "recorded: `curl -s ftp://127.0.0.1:1/` and more"
        );
    }
}
