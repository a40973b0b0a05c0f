//! Lexer for all expression kinds: source text to a vector of spanned tokens.
//!
//! Invariant: tokens cover the source in order; whitespace (space, tab, CR, LF) separates tokens
//! and is not a token; the vector always ends with one `Eof` token at the source's end. Every
//! byte that starts no valid token becomes a one-character `Unknown` token, so lexing never
//! fails and the parser reports it as DynamoDB does (`Syntax error; token: "!"`). Lexing is
//! linear in the input, which the caller has already bounded to `EXPRESSION_SIZE_MAX` bytes.
//! Does not know the grammar: keywords are recognised everywhere, and the parser decides.

/// Case-insensitive keywords of the expression languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    Between,
    In,
    Set,
    Remove,
    Add,
    Delete,
}

/// The kinds of token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare name or function name: `[A-Za-z][A-Za-z0-9_]*` that is not a keyword.
    Ident,
    /// `#[A-Za-z0-9_]+`, a reference into ExpressionAttributeNames.
    NameRef,
    /// `:[A-Za-z0-9_]+`, a reference into ExpressionAttributeValues.
    ValueRef,
    /// `[0-9]+`, only valid as a list index.
    Digits,
    Keyword(Keyword),
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    /// One character that starts no token.
    Unknown,
    /// End of input (empty span at the end).
    Eof,
}

/// One token: its kind and byte span in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: u32,
    pub end: u32,
}

/// The token vector of one source text.
#[derive(Debug)]
pub(crate) struct Tokens<'s> {
    pub source: &'s str,
    pub tokens: Vec<Token>,
}

impl<'s> Tokens<'s> {
    /// The text of token `index` (`"<EOF>"` for the end).
    pub fn text(&self, index: usize) -> &'s str {
        let token = self.tokens[index];
        if token.kind == TokenKind::Eof {
            return "<EOF>";
        }
        &self.source[token.start as usize..token.end as usize]
    }

    /// DynamoDB's syntax error for an unexpected token at `index`: the token, and the text from
    /// the previous token through the next one (whitespace in between kept).
    pub fn syntax_error(&self, index: usize) -> String {
        let token = self.tokens[index];
        let near_start = if index == 0 {
            0
        } else {
            self.tokens[index - 1].start as usize
        };
        let near_end = if token.kind == TokenKind::Eof {
            self.source.len()
        } else {
            match self.tokens.get(index + 1) {
                Some(next) if next.kind != TokenKind::Eof => next.end as usize,
                _ => self.source.len(),
            }
        };
        let near = &self.source[near_start..near_end];
        super::messages::detail(
            super::messages::SYNTAX_ERROR,
            &[
                ("token", &format_args!("\"{}\"", self.text(index))),
                ("near", &format_args!("\"{near}\"")),
            ],
        )
    }
}

/// Splits `source` into tokens. Never fails; see the module doc.
pub(crate) fn lex(source: &str) -> Tokens<'_> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::with_capacity(bytes.len() / 2 + 2);
    let mut at = 0usize;
    while at < bytes.len() {
        let byte = bytes[at];
        if matches!(byte, b' ' | b'\t' | b'\r' | b'\n') {
            at += 1;
            continue;
        }
        let (kind, len) = scan_token(source, at);
        tokens.push(Token {
            kind,
            start: at as u32,
            end: (at + len) as u32,
        });
        at += len;
    }
    let end = bytes.len() as u32;
    tokens.push(Token {
        kind: TokenKind::Eof,
        start: end,
        end,
    });
    Tokens { source, tokens }
}

/// The token starting at byte `at` (not whitespace) and its length in bytes.
fn scan_token(source: &str, at: usize) -> (TokenKind, usize) {
    let bytes = source.as_bytes();
    let next = bytes.get(at + 1).copied();
    match bytes[at] {
        b'A'..=b'Z' | b'a'..=b'z' => {
            let len = 1 + run_len(&bytes[at + 1..], is_name_byte);
            (word_kind(&source[at..at + len]), len)
        }
        b'0'..=b'9' => (
            TokenKind::Digits,
            run_len(&bytes[at..], |b| b.is_ascii_digit()),
        ),
        marker @ (b'#' | b':') => match run_len(&bytes[at + 1..], is_name_byte) {
            0 => (TokenKind::Unknown, 1),
            len if marker == b'#' => (TokenKind::NameRef, len + 1),
            len => (TokenKind::ValueRef, len + 1),
        },
        b'=' => (TokenKind::Eq, 1),
        b'<' => match next {
            Some(b'=') => (TokenKind::Le, 2),
            Some(b'>') => (TokenKind::Ne, 2),
            _ => (TokenKind::Lt, 1),
        },
        b'>' => match next {
            Some(b'=') => (TokenKind::Ge, 2),
            _ => (TokenKind::Gt, 1),
        },
        b'+' => (TokenKind::Plus, 1),
        b'-' => (TokenKind::Minus, 1),
        b'(' => (TokenKind::LParen, 1),
        b')' => (TokenKind::RParen, 1),
        b'[' => (TokenKind::LBracket, 1),
        b']' => (TokenKind::RBracket, 1),
        b',' => (TokenKind::Comma, 1),
        b'.' => (TokenKind::Dot, 1),
        _ => {
            let len = source[at..].chars().next().map_or(1, char::len_utf8);
            (TokenKind::Unknown, len)
        }
    }
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn run_len(bytes: &[u8], accept: impl Fn(u8) -> bool) -> usize {
    bytes.iter().take_while(|&&b| accept(b)).count()
}

/// Keyword or identifier: keywords match case-insensitively.
fn word_kind(word: &str) -> TokenKind {
    const KEYWORDS: [(&str, Keyword); 9] = [
        ("AND", Keyword::And),
        ("OR", Keyword::Or),
        ("NOT", Keyword::Not),
        ("BETWEEN", Keyword::Between),
        ("IN", Keyword::In),
        ("SET", Keyword::Set),
        ("REMOVE", Keyword::Remove),
        ("ADD", Keyword::Add),
        ("DELETE", Keyword::Delete),
    ];
    KEYWORDS
        .iter()
        .find(|(text, _)| text.eq_ignore_ascii_case(word))
        .map_or(TokenKind::Ident, |&(_, keyword)| {
            TokenKind::Keyword(keyword)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        lex(source).tokens.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn tokens_of_a_condition() {
        use TokenKind::*;
        assert_eq!(
            kinds("a.b[12] <> :v AND #n>=size(x)"),
            vec![
                Ident,
                Dot,
                Ident,
                LBracket,
                Digits,
                RBracket,
                Ne,
                ValueRef,
                Keyword(super::Keyword::And),
                NameRef,
                Ge,
                Ident,
                LParen,
                Ident,
                RParen,
                Eof
            ]
        );
        assert_eq!(
            kinds("# : _a ü"),
            vec![Unknown, Unknown, Unknown, Ident, Unknown, Eof]
        );
        assert_eq!(
            kinds("between Between"),
            vec![
                Keyword(super::Keyword::Between),
                Keyword(super::Keyword::Between),
                Eof
            ]
        );
    }

    fn check(source: &str, index: usize, expected: &str) {
        assert_eq!(lex(source).syntax_error(index), expected, "{source}");
    }

    #[test]
    fn near_spans_previous_through_next_token() {
        check("foo", 1, "Syntax error; token: \"<EOF>\", near: \"foo\"");
        check(
            "SET MyStr = myNum + 1",
            5,
            "Syntax error; token: \"1\", near: \"+ 1\"",
        );
        check(
            "#k = :hashId a and",
            3,
            "Syntax error; token: \"a\", near: \":hashId a and\"",
        );
        check("a < ", 2, "Syntax error; token: \"<EOF>\", near: \"< \"");
        check("!a", 0, "Syntax error; token: \"!\", near: \"!a\"");
    }
}
