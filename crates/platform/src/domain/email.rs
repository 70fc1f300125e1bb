//! [`Email`]: an email address as users type it, compared case-insensitively.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::Error;

/// Longest address (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// A plausible address: trimmed, 3–254 characters, one `@` with something on
/// both sides, a dot in the domain, no spaces or control characters. Whether
/// it receives mail is for a verification message to find out. Stored as
/// given; unique case-insensitively in the database (`lower(email)`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Result<Self, Error> {
        let value = value.trim();
        let bad = |message: &str| Err(Error::field("email", message));
        if value.len() < 3 || value.len() > MAX_EMAIL_LEN {
            return bad("must be 3-254 characters");
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("must not contain spaces or control characters");
        }
        let Some((local, domain)) = value.split_once('@') else {
            return bad("must contain @");
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return bad("must be one name, @, and a domain");
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return bad("must have a domain with a dot");
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let long = format!("{}@example.com", "a".repeat(250));
        let cases = [
            ("ada@example.com", true, "plain"),
            ("  Ada.Lovelace+x@Example.COM ", true, "trimmed, case kept"),
            ("a@b.c", true, "short"),
            ("", false, "empty"),
            ("ada", false, "no @"),
            ("@example.com", false, "no local part"),
            ("ada@", false, "no domain"),
            ("ada@example", false, "no dot in the domain"),
            ("ada@@example.com", false, "two @"),
            ("ada lovelace@example.com", false, "space"),
            ("ada@example.com.", false, "trailing dot"),
            (long.as_str(), false, "too long"),
        ];
        for (input, ok, case) in cases {
            let parsed = Email::parse(input);
            assert_eq!(parsed.is_ok(), ok, "{case}: {input:?}");
            if let Err(err) = parsed {
                assert_eq!(err.status(), 422, "{case}");
            }
        }
        assert_eq!(
            Email::parse("  Ada@Example.com ").unwrap().as_str(),
            "Ada@Example.com"
        );
    }
}
