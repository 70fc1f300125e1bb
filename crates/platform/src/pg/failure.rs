//! What the host reports when a statement fails, and its one mapping to
//! [`Error`] by SQLSTATE.

use crate::error::{Cause, ConstraintKind, Error};
use crate::log;

/// A failure reported by the Postgres host interface, in plain data (so the
/// mapping to [`Error`] is testable natively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgFailure {
    /// Could not connect (unreachable, refused, not allowed, bad credentials).
    ConnectionFailed(String),
    /// A parameter value was malformed (e.g. a bad uuid string).
    BadParameter(String),
    /// Postgres answered with an error (SQLSTATE in `code`).
    Db(DbFailure),
    /// The query failed without structured info.
    Text(String),
    /// A value could not be converted.
    ValueConversion(String),
    Other(String),
}

/// A structured Postgres error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbFailure {
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    /// Further fields (`constraint`, `table`, `column`, …) when the host gives them.
    pub extras: Vec<(String, String)>,
}

impl DbFailure {
    fn extra(&self, key: &str) -> Option<&str> {
        self.extras
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The constraint that fired, as the host reports it.
    pub fn constraint(&self) -> Option<String> {
        self.extra("constraint").map(str::to_owned)
    }
}

/// Maps a host failure to the one [`Error`]. Logs what the client must not see.
pub fn map_failure(failure: PgFailure) -> Error {
    match failure {
        PgFailure::ConnectionFailed(message) => {
            log::warn(format_args!(
                "postgres connection failed: {}",
                log::redact(&message)
            ));
            Error::ServiceUnavailable("database unavailable".into())
        }
        PgFailure::BadParameter(message) => {
            Error::Internal(Cause::new("bind a query parameter").with(message))
        }
        PgFailure::Db(db) => map_db_failure(db),
        PgFailure::Text(message) => {
            let lower = message.to_ascii_lowercase();
            if lower.contains("connection closed")
                || lower.contains("connection reset")
                || lower.contains("timed out")
            {
                log::warn(format_args!(
                    "postgres query failed: {}",
                    log::redact(&message)
                ));
                Error::ServiceUnavailable("database unavailable".into())
            } else {
                Error::Internal(Cause::new("run a query").with(log::redact(&message)))
            }
        }
        PgFailure::ValueConversion(message) => {
            Error::Internal(Cause::new("convert a query value").with(message))
        }
        PgFailure::Other(message) => {
            Error::Internal(Cause::new("postgres").with(log::redact(&message)))
        }
    }
}

fn map_db_failure(db: DbFailure) -> Error {
    let code = db.code.as_str();
    let constraint = |kind| Error::Constraint {
        kind,
        constraint: db.constraint(),
    };
    match code {
        "23505" | "23P01" => constraint(ConstraintKind::Unique),
        "23503" => constraint(ConstraintKind::ForeignKey),
        "23514" => constraint(ConstraintKind::Check),
        // Every required column is the code's to fill: a NULL there is a bug.
        "23502" => {
            Error::Internal(Cause::new("a not-null constraint refused a write").with(db.message))
        }
        "22001" => Error::BadRequest("a value is too long".into()),
        "22003" => Error::BadRequest("a number is out of range".into()),
        "22P02" => Error::BadRequest("a value has an invalid format".into()),
        _ if code.starts_with("22") => Error::BadRequest("a value is invalid".into()),
        // A write the row-level security policies refuse: outside what the
        // caller may touch (a member limited to some companies writing
        // another's). Any other 42501 is a missing grant: a bug.
        "42501" if db.message.contains("row-level security") => Error::Forbidden,
        "40001" | "40P01" => {
            Error::ServiceUnavailable("the database is busy; retry the request".into())
        }
        "57014" => Error::ServiceUnavailable("the database took too long".into()),
        _ if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") => {
            log::warn(format_args!("postgres unavailable: SQLSTATE {code}"));
            Error::ServiceUnavailable("database unavailable".into())
        }
        _ => Error::Internal(
            Cause::new(format!("query failed with SQLSTATE {code}")).with(db.message),
        ),
    }
}
