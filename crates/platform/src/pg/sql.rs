//! The SQL the wrapper builds around the caller's: the one-row JSON read, the
//! write that keeps its rows for a one-row read-back, and the checks on it.

use serde::de::DeserializeOwned;

use crate::error::{Cause, Error};

/// Whether `sql` mentions the parameter `$1` (and not only `$10`, `$11`, …).
pub fn uses_param_one(sql: &str) -> bool {
    sql.match_indices("$1")
        .any(|(at, _)| !sql[at + 2..].starts_with(|c: char| c.is_ascii_digit()))
}

/// Builds the one-row JSON query around `sql` (see the module docs).
pub fn wrap_read(sql: &str) -> String {
    let sql = statement_body(sql);
    // The newline ends a trailing `-- comment` in `sql` before the wrapper goes on.
    format!("WITH t AS ({sql}\n) SELECT coalesce(json_agg(t), '[]')::text FROM t")
}

/// Builds the `execute` half of a write's fetch: it runs `sql` and keeps
/// its rows, as JSON, in a session setting that [`WRITE_RESULT_SQL`] reads.
pub fn wrap_write(sql: &str) -> String {
    let sql = statement_body(sql);
    format!(
        "WITH t AS ({sql}\n) SELECT set_config('plinth.write_result', \
         (SELECT coalesce(json_agg(t), '[]')::text FROM t), false)"
    )
}

/// The `query` half of a write's fetch: always exactly one row.
pub const WRITE_RESULT_SQL: &str = "SELECT current_setting('plinth.write_result')";

fn statement_body(sql: &str) -> &str {
    sql.trim().trim_end_matches(';').trim_end()
}

/// Whether `sql` is a data-modifying statement (its first keyword, after
/// comments and opening parentheses, is `INSERT`, `UPDATE`, `DELETE` or
/// `MERGE`): a fetch of it goes through `execute` (see the module docs).
pub fn is_write(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_uppercase();
    matches!(word.as_str(), "INSERT" | "UPDATE" | "DELETE" | "MERGE")
}

/// Decodes the JSON array text of a wrapped read into rows.
pub fn decode_rows<T: DeserializeOwned>(json: &str) -> Result<Vec<T>, Error> {
    crate::domain::org_id::decoding_rows(|| serde_json::from_str(json)).map_err(|err| {
        Error::Internal(
            Cause::new(format!(
                "decode query rows into {}",
                std::any::type_name::<T>()
            ))
            .with(err.to_string()),
        )
    })
}
