//! The Falco condition language, parsed to an AST: `and`, `or`, `not`, parentheses, macro
//! references, and checks `field[arg] op value`, with `tolower(..)`/`toupper(..)` transformers.

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Pmatch,
    In,
    Intersects,
    Exists,
    Regex,
}

impl Op {
    pub(crate) fn is_set(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }

    pub(crate) fn from_word(w: &str) -> Option<Op> {
        Some(match w {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "pmatch" => Op::Pmatch,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "exists" => Op::Exists,
            "regex" => Op::Regex,
            _ => return None,
        })
    }
}

/// A field as written: name, optional `[arg]`, optional transformer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldRef {
    pub(crate) name: String,
    pub(crate) arg: Option<String>,
    /// `Some(true)`: `tolower`, `Some(false)`: `toupper`.
    pub(crate) lower: Option<bool>,
}

/// The right-hand side of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rhs {
    None,
    One(String),
    /// List items; unexpanded (an item may name a list).
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ast {
    And(Vec<Ast>),
    Or(Vec<Ast>),
    Not(Box<Ast>),
    Macro(String),
    Check { field: FieldRef, op: Op, rhs: Rhs },
}

/// A syntax error at a byte offset of the condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

pub(crate) fn parse(src: &str) -> Result<Ast, SyntaxError> {
    let mut p = Parser {
        s: src.as_bytes(),
        src,
        i: 0,
    };
    let ast = p.or()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err(format!("unexpected `{}`", p.rest_word())));
    }
    Ok(ast)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-'
}

fn is_bare(c: u8) -> bool {
    !(c.is_ascii_whitespace() || c == b'(' || c == b')' || c == b',' || c == b'"' || c == b'\'')
}

impl Parser<'_> {
    fn err(&self, message: String) -> SyntaxError {
        SyntaxError {
            offset: self.i,
            message,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn rest_word(&self) -> String {
        let rest = self.src.get(self.i..).unwrap_or("");
        rest.split_whitespace()
            .next()
            .unwrap_or("end of condition")
            .chars()
            .take(40)
            .collect()
    }

    /// Consumes `kw` if it is the next word (followed by a space, `(` or the end).
    fn keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let end = self.i + kw.len();
        if self.s.get(self.i..end) == Some(kw.as_bytes()) {
            let next = self.s.get(end).copied();
            if next.is_none_or(|c| c.is_ascii_whitespace() || c == b'(') {
                self.i = end;
                return true;
            }
        }
        false
    }

    fn or(&mut self) -> Result<Ast, SyntaxError> {
        let mut items = vec![self.and()?];
        while self.keyword("or") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Ast::Or(Vec::new()))
        } else {
            Ast::Or(items)
        })
    }

    fn and(&mut self) -> Result<Ast, SyntaxError> {
        let mut items = vec![self.not()?];
        while self.keyword("and") {
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Ast::And(Vec::new()))
        } else {
            Ast::And(items)
        })
    }

    fn not(&mut self) -> Result<Ast, SyntaxError> {
        if self.keyword("not") {
            return Ok(Ast::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn ident(&mut self) -> &str {
        let start = self.i;
        if self.peek().is_some_and(is_ident_start) {
            while self.peek().is_some_and(is_ident) {
                self.i += 1;
            }
        }
        self.src.get(start..self.i).unwrap_or("")
    }

    fn primary(&mut self) -> Result<Ast, SyntaxError> {
        self.ws();
        if self.peek() == Some(b'(') {
            self.i += 1;
            let inner = self.or()?;
            self.ws();
            if self.peek() != Some(b')') {
                return Err(self.err(format!("expected `)`, found `{}`", self.rest_word())));
            }
            self.i += 1;
            return Ok(inner);
        }
        let start = self.i;
        let name = self.ident().to_string();
        if name.is_empty() {
            return Err(self.err(format!(
                "expected a field, a macro or `(`, found `{}`",
                self.rest_word()
            )));
        }
        // A transformer: tolower(field) / toupper(field).
        if (name == "tolower" || name == "toupper") && self.peek() == Some(b'(') {
            self.i += 1;
            self.ws();
            let mut f = self.field_ref()?;
            self.ws();
            if self.peek() != Some(b')') {
                return Err(self.err(format!("expected `)` after the field of `{name}`")));
            }
            self.i += 1;
            f.lower = Some(name == "tolower");
            return self.check(f);
        }
        if !name.contains('.') {
            if matches!(name.as_str(), "and" | "or" | "not") {
                self.i = start;
                return Err(self.err(format!("unexpected `{name}`")));
            }
            return Ok(Ast::Macro(name));
        }
        self.i = start;
        let f = self.field_ref()?;
        self.check(f)
    }

    fn field_ref(&mut self) -> Result<FieldRef, SyntaxError> {
        let name = self.ident().to_string();
        if name.is_empty() {
            return Err(self.err("expected a field name".to_string()));
        }
        let mut arg = None;
        if self.peek() == Some(b'[') {
            let open = self.i;
            let close = self
                .src
                .get(open..)
                .and_then(|r| r.find(']'))
                .map(|c| open + c);
            let Some(close) = close else {
                return Err(self.err(format!("unterminated `[` after `{name}`")));
            };
            arg = Some(self.src.get(open + 1..close).unwrap_or("").to_string());
            self.i = close + 1;
        }
        Ok(FieldRef {
            name,
            arg,
            lower: None,
        })
    }

    fn op(&mut self) -> Result<Op, SyntaxError> {
        self.ws();
        for sym in ["<=", ">=", "==", "!=", "=", "<", ">"] {
            if self.s.get(self.i..self.i + sym.len()) == Some(sym.as_bytes()) {
                self.i += sym.len();
                return Op::from_word(sym).ok_or_else(|| self.err("bad operator".into()));
            }
        }
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        let word = self.src.get(start..self.i).unwrap_or("");
        match Op::from_word(word) {
            Some(op) => Ok(op),
            None => {
                self.i = start;
                Err(self.err(format!(
                    "expected an operator, found `{}`",
                    self.rest_word()
                )))
            }
        }
    }

    fn check(&mut self, field: FieldRef) -> Result<Ast, SyntaxError> {
        let op = self.op()?;
        let rhs = match op {
            Op::Exists => Rhs::None,
            Op::In | Op::Intersects | Op::Pmatch => {
                self.ws();
                if self.peek() == Some(b'(') {
                    self.i += 1;
                    Rhs::List(self.list_items()?)
                } else {
                    // A bare list name.
                    Rhs::List(vec![self.value()?])
                }
            }
            _ => {
                self.ws();
                Rhs::One(self.value()?)
            }
        };
        Ok(Ast::Check { field, op, rhs })
    }

    fn list_items(&mut self) -> Result<Vec<String>, SyntaxError> {
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b')') {
            self.i += 1;
            return Ok(items);
        }
        loop {
            self.ws();
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(items);
                }
                _ => {
                    return Err(self.err(format!(
                        "expected `,` or `)` in a list, found `{}`",
                        self.rest_word()
                    )));
                }
            }
        }
    }

    fn value(&mut self) -> Result<String, SyntaxError> {
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek() {
                        None => return Err(self.err("unterminated string".to_string())),
                        Some(c) if c == q => {
                            self.i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let esc = self.s.get(self.i + 1).copied();
                            match esc {
                                Some(b'n') => out.push(b'\n'),
                                Some(b't') => out.push(b'\t'),
                                Some(b'r') => out.push(b'\r'),
                                Some(c @ (b'\\' | b'"' | b'\'')) => out.push(c),
                                Some(c) => {
                                    out.push(b'\\');
                                    out.push(c);
                                }
                                None => return Err(self.err("unterminated string".to_string())),
                            }
                            self.i += 2;
                        }
                        Some(c) => {
                            out.push(c);
                            self.i += 1;
                        }
                    }
                }
                Ok(String::from_utf8_lossy(&out).into_owned())
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(is_bare) {
                    self.i += 1;
                }
                if start == self.i {
                    return Err(self.err(format!("expected a value, found `{}`", self.rest_word())));
                }
                Ok(self.src.get(start..self.i).unwrap_or("").to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precedence_and_values() {
        let a =
            parse("kevt and not ka.verb in (create, \"update\") or jevt.value[/a~1b]=x").unwrap();
        let Ast::Or(items) = a else { panic!("{a:?}") };
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[0], Ast::And(v) if v.len() == 2));
        assert!(parse("ka.verb=").is_err());
        assert!(parse("(ka.verb=get").is_err());
        assert_eq!(
            parse("tolower(ka.user.name) startswith admin").unwrap(),
            Ast::Check {
                field: FieldRef {
                    name: "ka.user.name".into(),
                    arg: None,
                    lower: Some(true)
                },
                op: Op::StartsWith,
                rhs: Rhs::One("admin".into())
            }
        );
    }
}
