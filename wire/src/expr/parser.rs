//! Recursive-descent parser for conditions, update expressions and projections.
//!
//! Grammar (keywords case-insensitive; precedence from low to high: OR, AND, NOT, then the
//! comparisons, BETWEEN, IN and function calls; so `a OR b AND c` is `a OR (b AND c)`):
//!
//! ```text
//! condition := and { OR and }            and := not { AND not }      not := { NOT } cmp
//! cmp       := term [ comparator operand | BETWEEN operand AND operand
//!                   | IN '(' operand { ',' operand } ')' ]
//! term      := '(' condition ')' | atom  operand := '(' operand ')' | atom
//!              (a parenthesised path may go on: `(a.b).c` is `a.b.c`)
//! atom      := Ident '(' operand { ',' operand } ')' | path | ':value'
//! path      := (Ident | #name) { '.' (Ident | #name) | '[' digits ']' }
//! update    := clause { clause }   clause := SET set { ',' set } | REMOVE path { ',' path }
//!            | (ADD | DELETE) path ':value' { ',' path ':value' }
//! set       := path '=' value      value := vterm [ ('+' | '-') vterm ]
//! vterm     := '(' value ')' | atom (call arguments are single vterms, no arithmetic)
//! projection := path { ',' path }
//! ```
//!
//! Invariant: the parser recurses only through parentheses, function calls and NOT-free
//! grouping, and counts that nesting against `PARSE_NESTING_MAX`, so hostile input such as
//! 2,000 opening parentheses fails cleanly instead of exhausting the stack; NOT chains and
//! AND/OR chains are parsed iteratively. The first token that cannot continue a valid
//! expression is reported as a syntax error; `((x))` is remembered and reported (after
//! syntax) as redundant parentheses.
//! Does not check names, functions or types: see `checks` and `resolve`.

use super::ast::{ArithOp, Comparator};
use super::lexer::{Keyword, TokenKind, Tokens};
use super::limits::PARSE_NESTING_MAX;
use super::syntax::{ClauseKind, RawAction, RawClause, RawElement, RawNode, RawPath, TokenIndex};

/// Why parsing stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Unexpected token at this index.
    Syntax(TokenIndex),
    /// Parentheses or calls nested deeper than `PARSE_NESTING_MAX`.
    TooDeep,
}

/// A parse result plus whether redundant parentheses were seen.
pub(crate) struct Parsed<T> {
    pub tree: T,
    pub redundant_parentheses: bool,
}

type Result<T> = std::result::Result<T, ParseError>;

/// Parses a condition (ConditionExpression, FilterExpression, KeyConditionExpression).
pub(crate) fn parse_condition(tokens: &Tokens<'_>) -> Result<Parsed<RawNode>> {
    let mut parser = Parser::new(tokens);
    let tree = parser.condition()?;
    parser.require_condition(&tree)?;
    parser.expect_end()?;
    Ok(Parsed {
        tree,
        redundant_parentheses: parser.redundant,
    })
}

/// Parses an UpdateExpression into its clauses, in source order.
pub(crate) fn parse_update(tokens: &Tokens<'_>) -> Result<Parsed<Vec<RawClause>>> {
    let mut parser = Parser::new(tokens);
    let mut clauses = Vec::new();
    loop {
        clauses.push(parser.clause()?);
        if parser.kind() == TokenKind::Eof {
            break;
        }
    }
    Ok(Parsed {
        tree: clauses,
        redundant_parentheses: parser.redundant,
    })
}

/// Parses a ProjectionExpression into its paths, in source order.
pub(crate) fn parse_projection(tokens: &Tokens<'_>) -> Result<Vec<RawPath>> {
    let mut parser = Parser::new(tokens);
    let mut paths = vec![parser.path()?];
    while parser.eat(TokenKind::Comma) {
        paths.push(parser.path()?);
    }
    parser.expect_end()?;
    Ok(paths)
}

struct Parser<'t, 's> {
    tokens: &'t Tokens<'s>,
    at: usize,
    nesting: u32,
    redundant: bool,
    /// The open and close token indexes of the group most recently closed.
    last_group: Option<(usize, TokenIndex)>,
}

impl<'t, 's> Parser<'t, 's> {
    fn new(tokens: &'t Tokens<'s>) -> Self {
        Parser {
            tokens,
            at: 0,
            nesting: 0,
            redundant: false,
            last_group: None,
        }
    }

    fn kind(&self) -> TokenKind {
        self.tokens.tokens[self.at].kind
    }

    fn index(&self) -> TokenIndex {
        self.at as TokenIndex
    }

    fn unexpected<T>(&self) -> Result<T> {
        Err(ParseError::Syntax(self.index()))
    }

    fn advance(&mut self) -> TokenIndex {
        let index = self.index();
        if self.kind() != TokenKind::Eof {
            self.at += 1;
        }
        index
    }

    fn eat(&mut self, kind: TokenKind) -> bool {
        let matched = self.kind() == kind;
        if matched {
            self.advance();
        }
        matched
    }

    fn expect(&mut self, kind: TokenKind) -> Result<TokenIndex> {
        if self.kind() == kind {
            Ok(self.advance())
        } else {
            self.unexpected()
        }
    }

    fn expect_end(&self) -> Result<()> {
        if self.kind() == TokenKind::Eof {
            Ok(())
        } else {
            self.unexpected()
        }
    }

    fn is_keyword(&self, keyword: Keyword) -> bool {
        self.kind() == TokenKind::Keyword(keyword)
    }

    fn enter(&mut self) -> Result<()> {
        self.nesting += 1;
        if self.nesting > PARSE_NESTING_MAX {
            Err(ParseError::TooDeep)
        } else {
            Ok(())
        }
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    /// A node standing where a condition is required must not be a bare operand; the error
    /// points at the token after it, where a comparator was expected.
    fn require_condition(&self, node: &RawNode) -> Result<()> {
        if node.is_operand() {
            self.unexpected()
        } else {
            Ok(())
        }
    }

    /// Remembers `((x))`: the group opened at `open` directly wraps another group. A group
    /// closing right before ours is the last one closed, so no pairing table is needed.
    fn note_group(&mut self, open: usize, close: TokenIndex) {
        if self.last_group == Some((open + 1, close - 1)) {
            self.redundant = true;
        }
        self.last_group = Some((open, close));
    }

    // ----- conditions -----

    fn condition(&mut self) -> Result<RawNode> {
        self.enter()?;
        let mut left = self.conjunction()?;
        while self.is_keyword(Keyword::Or) {
            self.require_condition(&left)?;
            self.advance();
            let right = self.conjunction()?;
            self.require_condition(&right)?;
            left = RawNode::Or(Box::new(left), Box::new(right));
        }
        self.leave();
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<RawNode> {
        let mut left = self.negation()?;
        while self.is_keyword(Keyword::And) {
            self.require_condition(&left)?;
            self.advance();
            let right = self.negation()?;
            self.require_condition(&right)?;
            left = RawNode::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn negation(&mut self) -> Result<RawNode> {
        let mut count = 0usize;
        while self.is_keyword(Keyword::Not) {
            self.advance();
            count += 1;
        }
        let mut node = self.comparison()?;
        if count > 0 {
            self.require_condition(&node)?;
        }
        for _ in 0..count {
            node = RawNode::Not(Box::new(node));
        }
        Ok(node)
    }

    fn comparison(&mut self) -> Result<RawNode> {
        let left = self.term()?;
        let op = match self.kind() {
            TokenKind::Eq => Comparator::Eq,
            TokenKind::Ne => Comparator::Ne,
            TokenKind::Lt => Comparator::Lt,
            TokenKind::Le => Comparator::Le,
            TokenKind::Gt => Comparator::Gt,
            TokenKind::Ge => Comparator::Ge,
            TokenKind::Keyword(Keyword::Between) => return self.between(left),
            TokenKind::Keyword(Keyword::In) => return self.in_list(left),
            _ => return Ok(left),
        };
        self.require_operand(&left)?;
        self.advance();
        let right = self.operand()?;
        Ok(RawNode::Compare {
            op,
            left: Box::new(left),
            right: Box::new(right),
        })
    }

    fn require_operand(&self, node: &RawNode) -> Result<()> {
        if node.is_condition() {
            self.unexpected()
        } else {
            Ok(())
        }
    }

    fn between(&mut self, subject: RawNode) -> Result<RawNode> {
        self.require_operand(&subject)?;
        self.advance();
        let lower = self.operand()?;
        if !self.is_keyword(Keyword::And) {
            return self.unexpected();
        }
        self.advance();
        let upper = self.operand()?;
        Ok(RawNode::Between {
            subject: Box::new(subject),
            lower: Box::new(lower),
            upper: Box::new(upper),
        })
    }

    fn in_list(&mut self, subject: RawNode) -> Result<RawNode> {
        self.require_operand(&subject)?;
        self.advance();
        self.expect(TokenKind::LParen)?;
        let mut list = vec![self.operand()?];
        while self.eat(TokenKind::Comma) {
            list.push(self.operand()?);
        }
        self.expect(TokenKind::RParen)?;
        Ok(RawNode::In {
            subject: Box::new(subject),
            list,
        })
    }

    /// First term of a comparison: a parenthesised condition or operand, or an atom.
    fn term(&mut self) -> Result<RawNode> {
        if self.kind() != TokenKind::LParen {
            return self.atom(Self::operand);
        }
        let open = self.at;
        self.advance();
        let inner = self.condition()?;
        let close = self.expect(TokenKind::RParen)?;
        self.note_group(open, close);
        self.grouped_path_tail(inner)
    }

    /// An operand: a parenthesised operand or an atom (used wherever only an operand fits).
    fn operand(&mut self) -> Result<RawNode> {
        if self.kind() != TokenKind::LParen {
            return self.atom(Self::operand);
        }
        self.enter()?;
        let open = self.at;
        self.advance();
        let inner = self.operand()?;
        let close = self.expect(TokenKind::RParen)?;
        self.note_group(open, close);
        self.leave();
        self.grouped_path_tail(inner)
    }

    /// DynamoDB lets a parenthesised path go on: `(a.b).c[1]` is the path `a.b.c[1]`.
    fn grouped_path_tail(&mut self, node: RawNode) -> Result<RawNode> {
        match node {
            RawNode::Path(mut path) => {
                self.path_tail(&mut path.elements)?;
                Ok(RawNode::Path(path))
            }
            other => Ok(other),
        }
    }

    /// A function call, path or value reference; `argument` parses call arguments.
    fn atom(&mut self, argument: fn(&mut Self) -> Result<RawNode>) -> Result<RawNode> {
        match self.kind() {
            TokenKind::ValueRef => Ok(RawNode::Value(self.advance())),
            TokenKind::NameRef => Ok(RawNode::Path(self.path()?)),
            TokenKind::Ident => {
                let next = self.tokens.tokens[self.at + 1].kind;
                if next == TokenKind::LParen {
                    self.call(argument)
                } else {
                    Ok(RawNode::Path(self.path()?))
                }
            }
            _ => self.unexpected(),
        }
    }

    fn call(&mut self, argument: fn(&mut Self) -> Result<RawNode>) -> Result<RawNode> {
        self.enter()?;
        let name = self.advance();
        self.advance(); // the '('
        let mut args = vec![argument(self)?];
        while self.eat(TokenKind::Comma) {
            args.push(argument(self)?);
        }
        self.expect(TokenKind::RParen)?;
        self.leave();
        Ok(RawNode::Call { name, args })
    }

    fn path(&mut self) -> Result<RawPath> {
        let first = match self.kind() {
            TokenKind::Ident => RawElement::Name(self.advance()),
            TokenKind::NameRef => RawElement::NameRef(self.advance()),
            _ => return self.unexpected(),
        };
        let mut elements = vec![first];
        self.path_tail(&mut elements)?;
        Ok(RawPath { elements })
    }

    /// The `.name` and `[index]` steps after a path's first element.
    fn path_tail(&mut self, elements: &mut Vec<RawElement>) -> Result<()> {
        loop {
            match self.kind() {
                TokenKind::Dot => {
                    self.advance();
                    elements.push(match self.kind() {
                        TokenKind::Ident => RawElement::Name(self.advance()),
                        TokenKind::NameRef => RawElement::NameRef(self.advance()),
                        _ => return self.unexpected(),
                    });
                }
                TokenKind::LBracket => {
                    self.advance();
                    let digits = self.expect(TokenKind::Digits)?;
                    self.expect(TokenKind::RBracket)?;
                    elements.push(RawElement::Index(digits));
                }
                _ => return Ok(()),
            }
        }
    }

    // ----- updates -----

    fn clause(&mut self) -> Result<RawClause> {
        let kind = match self.kind() {
            TokenKind::Keyword(Keyword::Set) => ClauseKind::Set,
            TokenKind::Keyword(Keyword::Remove) => ClauseKind::Remove,
            TokenKind::Keyword(Keyword::Add) => ClauseKind::Add,
            TokenKind::Keyword(Keyword::Delete) => ClauseKind::Delete,
            _ => return self.unexpected(),
        };
        self.advance();
        let mut actions = vec![self.action(kind)?];
        while self.eat(TokenKind::Comma) {
            actions.push(self.action(kind)?);
        }
        Ok(RawClause { kind, actions })
    }

    fn action(&mut self, kind: ClauseKind) -> Result<RawAction> {
        let path = self.path()?;
        match kind {
            ClauseKind::Set => {
                self.expect(TokenKind::Eq)?;
                let value = self.set_value()?;
                Ok(RawAction::Set { path, value })
            }
            ClauseKind::Remove => Ok(RawAction::Remove { path }),
            ClauseKind::Add | ClauseKind::Delete => {
                let value = self.expect(TokenKind::ValueRef)?;
                Ok(RawAction::Operand { path, value })
            }
        }
    }

    fn set_value(&mut self) -> Result<RawNode> {
        let left = self.set_term(true)?;
        let op = match self.kind() {
            TokenKind::Plus => ArithOp::Add,
            TokenKind::Minus => ArithOp::Subtract,
            _ => return Ok(left),
        };
        if matches!(left, RawNode::Arith { .. }) {
            return self.unexpected();
        }
        self.advance();
        let right = self.set_term(false)?;
        Ok(RawNode::Arith {
            op,
            left: Box::new(left),
            right: Box::new(right),
        })
    }

    /// An operand of a SET value; `whole` allows `(a + b)` when it is the entire value.
    fn set_term(&mut self, whole: bool) -> Result<RawNode> {
        if self.kind() != TokenKind::LParen {
            return self.atom(|parser| parser.set_term(false));
        }
        self.enter()?;
        let open = self.at;
        self.advance();
        let inner = if whole {
            self.set_value()?
        } else {
            self.set_term(false)?
        };
        let close = self.expect(TokenKind::RParen)?;
        self.note_group(open, close);
        self.leave();
        Ok(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::lexer::lex;

    fn condition_error(source: &str) -> Option<String> {
        let tokens = lex(source);
        match parse_condition(&tokens) {
            Ok(parsed) if parsed.redundant_parentheses => Some("redundant".into()),
            Ok(_) => None,
            Err(ParseError::Syntax(index)) => Some(tokens.text(index as usize).to_string()),
            Err(ParseError::TooDeep) => Some("too deep".into()),
        }
    }

    fn check(source: &str, expected: Option<&str>) {
        assert_eq!(condition_error(source).as_deref(), expected, "{source}");
    }

    #[test]
    fn conditions_that_parse() {
        for source in [
            "a = b",
            "a < :v AND NOT b = c OR attribute_exists(x.y[3])",
            "(a)between(b.c.d)and(c)",
            "a in (b, c, :d)",
            "NOT NOT (a = b)",
            "size(a) > :v",
            "begins_with(#p, :x) and (c <> d)",
            "((a = b) AND c = d)",
            "size(a)",
            "whatever((:things), (a))",
        ] {
            check(source, None);
        }
    }

    #[test]
    fn syntax_errors_name_the_offending_token() {
        check("foo", Some("<EOF>"));
        check("a > 4", Some("4"));
        check("things are not gonna be ok", Some("are"));
        check("a in b", Some("b"));
        check("a in (b,c,)", Some(")"));
        check("a.:a < b", Some(":a"));
        check("b[:a] > a", Some(":a"));
        check("#$.b > a", Some("#"));
        check("ü > a", Some("ü"));
        check("size(a).b > a", Some("."));
        check("(a = b) = c", Some("="));
        check("a = (b = c)", Some("="));
        check("a AND b = c", Some("AND"));
        check("NOT a", Some("<EOF>"));
        check("a = b = c", Some("="));
        check("f()", Some(")"));
        check("", Some("<EOF>"));
    }

    #[test]
    fn redundant_parentheses_are_noticed() {
        check("((a = b))", Some("redundant"));
        check("a=a and a > ((views))", Some("redundant"));
        check("a=a AND ((a=a AND a=a)) AND a=a", Some("redundant"));
        check("a > whatever((:things), ((a)))", Some("redundant"));
        check("((a=a) OR (a=a))", None);
    }

    #[test]
    fn deep_nesting_fails_cleanly() {
        let source = format!("{}a < b{}", "(".repeat(2000), ")".repeat(2000));
        check(&source, Some("too deep"));
        check(&"(".repeat(4096), Some("too deep"));
        let calls = format!("a < {}b{}", "f(".repeat(1300), ")".repeat(1300));
        check(&calls, Some("too deep"));
        let nots = format!("{}a < b", "not ".repeat(1000));
        check(&nots, None);
    }

    fn update_error(source: &str) -> Option<String> {
        let tokens = lex(source);
        match parse_update(&tokens) {
            Ok(_) => None,
            Err(ParseError::Syntax(index)) => Some(tokens.text(index as usize).to_string()),
            Err(ParseError::TooDeep) => Some("too deep".into()),
        }
    }

    #[test]
    fn update_syntax() {
        for source in [
            "SET a = :v, b.c[2] = b + :one REMOVE x, y[1] ADD n :n DELETE s :s",
            "set c = if_not_exists(c, :zero) + :inc",
            "SET l = list_append(if_not_exists(l, :e), :v)",
            "SET a = (b + c)",
            "SET a = (b) - (:c)",
        ] {
            assert_eq!(update_error(source), None, "{source}");
        }
        assert_eq!(update_error("SET MyStr = myNum + 1").as_deref(), Some("1"));
        assert_eq!(update_error("SET a = b + c + d").as_deref(), Some("+"));
        assert_eq!(update_error("SET a = f(x + y)").as_deref(), Some("+"));
        assert_eq!(update_error("SET a = :v b = :w").as_deref(), Some("b"));
        assert_eq!(update_error("ADD a b").as_deref(), Some("b"));
        assert_eq!(update_error("UPSERT a = :v").as_deref(), Some("UPSERT"));
        assert_eq!(update_error("   ").as_deref(), Some("<EOF>"));
    }
}
