//! Settings from Spin variables, with secrets wrapped in [`Secret`].
//!
//! A component reads only the variables mapped in its
//! `[component.<name>.variables]` table. A missing, undefined or invalid
//! variable is an internal error whose log line names the variable and the
//! reason, never its value; the client sees a generic 500.
//!
//! Composite settings are read through the [`Source`] trait so their parsing
//! unit-tests natively with a [`MapSource`]; in a component the source is
//! [`SpinVariables`].

use std::fmt;

use crate::error::{Cause, Error};

/// A secret value (password, key, URL with credentials). `Debug` prints
/// `Secret(***)` and there is no `Display`: call [`Secret::expose`] at the
/// single point of use.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where settings come from.
pub trait Source {
    /// The value of variable `name`, or an internal error naming it.
    fn get(&self, name: &str) -> Result<String, Error>;

    /// The value of variable `name` as a [`Secret`].
    fn secret(&self, name: &str) -> Result<Secret, Error> {
        self.get(name).map(Secret)
    }
}

/// The component's Spin variables (`spin_sdk::variables::get`).
#[cfg(target_arch = "wasm32")]
pub struct SpinVariables;

#[cfg(target_arch = "wasm32")]
impl Source for SpinVariables {
    fn get(&self, name: &str) -> Result<String, Error> {
        use spin_sdk::variables::Error as E;
        spin_sdk::variables::get(name).map_err(|err| {
            let reason = match err {
                E::Undefined(_) => "is not defined for this component",
                E::InvalidName(_) => "is not a valid variable name",
                E::Provider(_) => "could not be read from the variables provider",
                E::Other(_) => "could not be read",
            };
            missing(name, reason)
        })
    }
}

/// The Spin variable `name` (see [`SpinVariables`]).
#[cfg(target_arch = "wasm32")]
pub fn var(name: &str) -> Result<String, Error> {
    SpinVariables.get(name)
}

/// The Spin variable `name` as a [`Secret`].
#[cfg(target_arch = "wasm32")]
pub fn secret(name: &str) -> Result<Secret, Error> {
    SpinVariables.secret(name)
}

/// A fixed set of variables (tests, native tools).
#[derive(Debug, Default, Clone)]
pub struct MapSource(Vec<(String, String)>);

impl MapSource {
    pub fn new(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }
}

impl Source for MapSource {
    fn get(&self, name: &str) -> Result<String, Error> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| missing(name, "is not defined for this component"))
    }
}

/// The internal error for a variable that cannot be read.
pub fn missing(name: &str, reason: &str) -> Error {
    Error::Internal(Cause::new(format!("setting `{name}` {reason}")))
}

/// The internal error for a variable whose value is unusable. `reason` must
/// not quote the value.
pub fn invalid(name: &str, reason: &str) -> Error {
    Error::Internal(Cause::new(format!("setting `{name}` is invalid: {reason}")))
}

/// Reads a non-empty variable.
pub fn non_empty(source: &dyn Source, name: &str) -> Result<String, Error> {
    let value = source.get(name)?;
    if value.trim().is_empty() {
        return Err(invalid(name, "it is empty"));
    }
    Ok(value)
}

/// Parses a boolean variable: `true`/`false`/`1`/`0`/`yes`/`no` (any case).
pub fn parse_bool(name: &str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(name, "expected true or false")),
    }
}

/// Parses an unsigned integer variable.
pub fn parse_u64(name: &str, value: &str) -> Result<u64, Error> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(name, "expected a non-negative integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_hides_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(Secret(***))");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn missing_variable_names_it_but_not_a_value() {
        let source = MapSource::new(&[("db_url", "postgres://u:pw@h/db")]);
        assert_eq!(source.get("db_url").unwrap(), "postgres://u:pw@h/db");
        match source.get("redis_url") {
            Err(Error::Internal(cause)) => assert!(cause.to_string().contains("`redis_url`")),
            other => panic!("unexpected {other:?}"),
        }
        let empty = MapSource::new(&[("region", " ")]);
        match non_empty(&empty, "region") {
            Err(Error::Internal(cause)) => {
                assert!(cause.to_string().contains("`region` is invalid"))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parse_values() {
        let bools = [
            ("true", Some(true)),
            ("FALSE", Some(false)),
            ("1", Some(true)),
            ("no", Some(false)),
            ("maybe", None),
            ("", None),
        ];
        for (value, expected) in bools {
            assert_eq!(parse_bool("flag", value).ok(), expected, "bool {value:?}");
        }
        let numbers = [
            ("10", Some(10)),
            (" 7 ", Some(7)),
            ("-1", None),
            ("x", None),
        ];
        for (value, expected) in numbers {
            assert_eq!(parse_u64("n", value).ok(), expected, "u64 {value:?}");
        }
        match parse_u64("limit", "s3cr3t") {
            Err(Error::Internal(cause)) => {
                assert!(!cause.to_string().contains("s3cr3t"), "value leaked")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
