//! [`Name`]: a display name (a person's, an org's), as the `*_name_check`
//! constraints of the schema allow it.

use std::fmt;

use crate::error::Error;

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// 1–200 characters once trimmed; stored trimmed.
#[derive(Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// 422 naming `name` otherwise (rename with [`Error::at`] for another field).
    pub fn parse(value: &str) -> Result<Self, Error> {
        let trimmed = value.trim();
        match trimmed.chars().count() {
            1..=MAX_NAME_CHARS => Ok(Self(trimmed.to_owned())),
            _ => Err(Error::field("name", "must be 1-200 characters")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let max = "é".repeat(200);
        let over = "é".repeat(201);
        let cases = [
            ("Acme", Some("Acme")),
            ("  Acme East  ", Some("Acme East")),
            (max.as_str(), Some(max.as_str())),
            (over.as_str(), None),
            ("", None),
            ("   ", None),
        ];
        for (input, want) in cases {
            let parsed = Name::parse(input);
            assert_eq!(parsed.as_ref().ok().map(Name::as_str), want, "{input:?}");
            if let Err(err) = parsed {
                assert_eq!(err, Error::field("name", "must be 1-200 characters"));
            }
        }
    }
}
