//! Filter expressions: which scenarios `--filter` selects.
//!
//! An expression combines **terms** with `not`, `and`, `or` and parentheses;
//! `not` binds tightest, then `and`, then `or`:
//!
//! - `tag:NAME` holds for a scenario that has the tag `NAME`;
//! - any other word holds for a scenario whose id contains it (`large`, `ftp::`).
//!
//! `tag:security and not ftp::bounce` selects the security scenarios except the bounce
//! one. Several `--filter` options mean "any of them" ([`selected`]). A malformed
//! expression is a [`FilterError`] that says where and what was expected.

use std::fmt;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The scenario has this tag (`tag:NAME`).
    Tag(String),
    /// The scenario's id contains this text.
    Id(String),
    /// The inner expression does not hold.
    Not(Box<Filter>),
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
}

/// A filter expression that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--filter `{expression}`: {message} (at character {column})")]
pub struct FilterError {
    /// The expression as given.
    pub expression: String,
    /// 1-based character position of the problem.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Not,
    And,
    Or,
    Word(String),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Open => f.write_str("`(`"),
            Token::Close => f.write_str("`)`"),
            Token::Not => f.write_str("`not`"),
            Token::And => f.write_str("`and`"),
            Token::Or => f.write_str("`or`"),
            Token::Word(w) => write!(f, "`{w}`"),
        }
    }
}

/// Splits an expression into tokens with their 1-based character positions.
fn tokens(text: &str) -> Vec<(usize, Token)> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    let column = |byte: usize| text[..byte].chars().count() + 1;
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' || c == ')' {
            chars.next();
            out.push((column(at), if c == '(' { Token::Open } else { Token::Close }));
        } else {
            let mut word = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            let token = match word.as_str() {
                "not" => Token::Not,
                "and" => Token::And,
                "or" => Token::Or,
                _ => Token::Word(word),
            };
            out.push((column(at), token));
        }
    }
    out
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(usize, Token)>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn column(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map(|(c, _)| *c)
            .unwrap_or_else(|| self.text.chars().count() + 1)
    }

    fn error(&self, message: impl Into<String>) -> FilterError {
        FilterError {
            expression: self.text.to_string(),
            column: self.column(),
            message: message.into(),
        }
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.not()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Filter, FilterError> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.not()?)));
        }
        self.term()
    }

    fn term(&mut self) -> Result<Filter, FilterError> {
        match self.peek().cloned() {
            None => Err(self
                .error("the expression ends where a term was expected (a word, `tag:NAME`, `not` or `(`)")),
            Some(Token::Open) => {
                let open = self.column();
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() == Some(&Token::Close) {
                    self.pos += 1;
                    Ok(inner)
                } else {
                    Err(FilterError {
                        expression: self.text.to_string(),
                        column: open,
                        message: "this `(` is never closed".into(),
                    })
                }
            }
            Some(Token::Word(w)) => {
                self.pos += 1;
                match w.strip_prefix("tag:") {
                    Some("") => Err(FilterError {
                        expression: self.text.to_string(),
                        column: self.tokens[self.pos - 1].0,
                        message: "`tag:` needs a tag name, e.g. `tag:smoke`".into(),
                    }),
                    Some(tag) => Ok(Filter::Tag(tag.to_string())),
                    None => Ok(Filter::Id(w)),
                }
            }
            Some(other) => Err(self.error(format!(
                "{other} where a term was expected (a word, `tag:NAME`, `not` or `(`)"
            ))),
        }
    }
}

impl Filter {
    /// Parses an expression such as `tag:security and not ftp::bounce`.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let mut p = Parser {
            text,
            tokens: tokens(text),
            pos: 0,
        };
        let filter = p.or()?;
        match p.peek() {
            None => Ok(filter),
            Some(Token::Close) => Err(p.error("this `)` has no `(` before it")),
            Some(t) => Err(p.error(format!(
                "expected `and`, `or` or the end before {t}; join terms with `and` or `or`"
            ))),
        }
    }

    /// Whether a scenario with this id and these tags is selected.
    pub fn matches(&self, id: &str, tags: &[String]) -> bool {
        match self {
            Filter::Tag(tag) => tags.iter().any(|t| t == tag),
            Filter::Id(text) => id.contains(text.as_str()),
            Filter::Not(inner) => !inner.matches(id, tags),
            Filter::And(a, b) => a.matches(id, tags) && b.matches(id, tags),
            Filter::Or(a, b) => a.matches(id, tags) || b.matches(id, tags),
        }
    }
}

/// Checks every expression, so a bad one is reported before anything runs.
pub fn check_all(filters: &[String]) -> Result<Vec<Filter>, FilterError> {
    filters.iter().map(|f| Filter::parse(f)).collect()
}

/// Whether a scenario passes the `--filter` options: no filters select everything,
/// several select a scenario any of them selects. An expression that does not parse
/// selects nothing (the CLI refuses it first with [`check_all`]).
pub fn selected(filters: &[String], id: &str, tags: &[String]) -> bool {
    filters.is_empty()
        || filters
            .iter()
            .any(|f| Filter::parse(f).is_ok_and(|f| f.matches(id, tags)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    fn sel(expr: &str, id: &str, t: &[&str]) -> bool {
        Filter::parse(expr).unwrap().matches(id, &tags(t))
    }

    #[test]
    fn a_plain_word_matches_ids_that_contain_it() {
        assert!(sel("large", "echo::large", &[]));
        assert!(sel("ftp::", "ftp::bounce", &[]));
        assert!(!sel("large", "echo::basic", &[]));
    }

    #[test]
    fn tag_terms_match_tags_exactly() {
        assert!(sel("tag:smoke", "echo::basic", &["smoke"]));
        assert!(!sel("tag:smo", "echo::basic", &["smoke"]));
    }

    #[test]
    fn not_and_or_combine_with_not_tightest_then_and_then_or() {
        let expr = "tag:security and not ftp::bounce";
        assert!(sel(expr, "ftp::multiline", &["security"]));
        assert!(!sel(expr, "ftp::bounce", &["security"]));
        assert!(!sel(expr, "ftp::login", &[]));
        // `a or b and c` is `a or (b and c)`.
        assert!(sel("echo or ftp and tag:x", "echo::basic", &[]));
        assert!(!sel("echo or ftp and tag:x", "ftp::login", &[]));
        assert!(sel("(echo or ftp) and tag:x", "ftp::login", &["x"]));
        assert!(!sel("(echo or ftp) and tag:x", "echo::basic", &[]));
        assert!(sel("not not echo", "echo::basic", &[]));
    }

    #[test]
    fn parentheses_group() {
        assert_eq!(
            Filter::parse("not (a or b)").unwrap(),
            Filter::Not(Box::new(Filter::Or(
                Box::new(Filter::Id("a".into())),
                Box::new(Filter::Id("b".into()))
            )))
        );
    }

    #[test]
    fn bad_expressions_say_where_and_what() {
        let cases = [
            ("", 1, "ends where a term was expected"),
            ("echo and", 9, "ends where a term was expected"),
            ("echo ftp", 6, "expected `and`, `or` or the end before `ftp`"),
            ("(echo or ftp", 1, "never closed"),
            ("echo)", 5, "has no `(`"),
            ("and echo", 1, "`and` where a term was expected"),
            ("tag: x", 1, "needs a tag name"),
            ("not", 4, "ends where a term was expected"),
        ];
        for (expr, column, says) in cases {
            let err = Filter::parse(expr).unwrap_err();
            assert_eq!(err.column, column, "{expr:?}: {err}");
            assert!(err.to_string().contains(says), "{expr:?}: {err}");
        }
    }

    #[test]
    fn several_filters_mean_any_of_them() {
        let filters = vec!["large".to_string(), "tag:smoke".to_string()];
        assert!(selected(&filters, "echo::large", &[]));
        assert!(selected(&filters, "echo::basic", &tags(&["smoke"])));
        assert!(!selected(&filters, "echo::binary", &[]));
        assert!(selected(&[], "anything", &[]));
        assert!(check_all(&["a and".to_string()]).is_err());
    }
}
