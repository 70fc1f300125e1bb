//! Splitting a migration file into single SQL statements.
//!
//! Spin's Postgres `execute` sends one statement per call (extended protocol), so a
//! migration file is cut at top-level `;`. The splitter knows enough of Postgres's
//! lexical rules not to cut inside a string (`'…'`, `E'…'`), a quoted identifier
//! (`"…"`), a dollar-quoted body (`$$…$$`, `$tag$…$tag$`) or a comment (`-- …`,
//! nested `/* … */`). Statements that hold only comments and whitespace are dropped.

/// An unterminated construct found while splitting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    /// 1-based line where the unterminated construct starts.
    pub line: usize,
    pub what: &'static str,
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: unterminated {}", self.line, self.what)
    }
}

impl std::error::Error for SplitError {}

/// Splits `sql` into statements, each trimmed and without its trailing `;`.
pub fn split_statements(sql: &str) -> Result<Vec<String>, SplitError> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut has_code = false; // anything besides whitespace and comments since `start`
    let mut i = 0;
    let line_at = |pos: usize| sql[..pos].bytes().filter(|b| *b == b'\n').count() + 1;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let open = i;
                let mut depth = 0usize;
                loop {
                    if i + 1 >= bytes.len() {
                        return Err(SplitError {
                            line: line_at(open),
                            what: "block comment",
                        });
                    }
                    if bytes[i] == b'/' && bytes[i + 1] == b'*' {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' => {
                has_code = true;
                let escapes = i > 0
                    && matches!(bytes[i - 1], b'E' | b'e')
                    && (i < 2 || !is_ident_byte(bytes[i - 2]));
                i = skip_quoted(bytes, i, b'\'', escapes).ok_or(SplitError {
                    line: line_at(i),
                    what: "string literal",
                })?;
            }
            b'"' => {
                has_code = true;
                i = skip_quoted(bytes, i, b'"', false).ok_or(SplitError {
                    line: line_at(i),
                    what: "quoted identifier",
                })?;
            }
            b'$' if i == 0 || !is_ident_byte(bytes[i - 1]) => {
                has_code = true;
                match dollar_tag(&sql[i..]) {
                    Some(tag) => {
                        let body = i + tag.len();
                        let close = sql[body..].find(tag).ok_or(SplitError {
                            line: line_at(i),
                            what: "dollar-quoted string",
                        })?;
                        i = body + close + tag.len();
                    }
                    None => i += 1,
                }
            }
            b';' => {
                if has_code {
                    out.push(sql[start..i].trim().to_owned());
                }
                has_code = false;
                i += 1;
                start = i;
            }
            _ => {
                if !b.is_ascii_whitespace() {
                    has_code = true;
                }
                i += 1;
            }
        }
    }
    if has_code {
        out.push(sql[start..].trim().to_owned());
    }
    Ok(out)
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Returns the index just past the closing quote. A doubled quote is an escaped quote.
fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslash_escapes: bool) -> Option<usize> {
    let mut i = open + 1;
    while i < bytes.len() {
        if backslash_escapes && bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return Some(i + 1);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// `$$` or `$tag$` at the start of `s` (a tag is an identifier not starting with a digit).
fn dollar_tag(s: &str) -> Option<&str> {
    let rest = &s[1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let valid = tag.is_empty()
        || (!tag.as_bytes()[0].is_ascii_digit()
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80));
    valid.then(|| &s[..end + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_way_postgres_reads_it() {
        let cases: &[(&str, &[&str])] = &[
            ("SELECT 1; SELECT 2;", &["SELECT 1", "SELECT 2"]),
            ("SELECT 1", &["SELECT 1"]),
            ("  ;; \n ; ", &[]),
            ("-- only a comment;\n/* and; another */", &[]),
            (
                "SELECT 'a;b''c'; SELECT 2",
                &["SELECT 'a;b''c'", "SELECT 2"],
            ),
            (
                r"SELECT E'it\'s;'; SELECT 2",
                &[r"SELECT E'it\'s;'", "SELECT 2"],
            ),
            (r"SELECT 'a\'; SELECT 2", &[r"SELECT 'a\'", "SELECT 2"]),
            (
                r#"CREATE TABLE "a;""b" (x int); X"#,
                &[r#"CREATE TABLE "a;""b" (x int)"#, "X"],
            ),
            (
                "DO $$ BEGIN PERFORM 1; END $$; X",
                &["DO $$ BEGIN PERFORM 1; END $$", "X"],
            ),
            (
                "CREATE FUNCTION f() RETURNS int AS $fn$ SELECT $$;$$; $fn$ LANGUAGE sql; X",
                &[
                    "CREATE FUNCTION f() RETURNS int AS $fn$ SELECT $$;$$; $fn$ LANGUAGE sql",
                    "X",
                ],
            ),
            (
                "SELECT $1; SELECT a$b; X",
                &["SELECT $1", "SELECT a$b", "X"],
            ),
            (
                "SELECT 1 -- tail; comment\n; X",
                &["SELECT 1 -- tail; comment", "X"],
            ),
            (
                "/* a /* nested; */ still; */ SELECT 1; X",
                &["/* a /* nested; */ still; */ SELECT 1", "X"],
            ),
        ];
        for (sql, want) in cases {
            let got = split_statements(sql).unwrap();
            assert_eq!(got, *want, "splitting {sql:?}");
        }
    }

    #[test]
    fn unterminated_constructs_are_errors() {
        let cases = [
            ("SELECT 'abc", "string literal"),
            ("SELECT \"abc", "quoted identifier"),
            ("DO $$ BEGIN", "dollar-quoted string"),
            ("SELECT 1;\n/* open", "block comment"),
        ];
        for (sql, what) in cases {
            let err = split_statements(sql).unwrap_err();
            assert_eq!(err.what, what, "{sql:?}");
        }
        assert_eq!(split_statements("SELECT 1;\n\nDO $x$").unwrap_err().line, 3);
    }
}
