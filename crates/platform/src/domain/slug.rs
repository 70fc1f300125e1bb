//! [`Slug`]: a URL-safe short name (`acme`, `acme-east-2`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// Longest slug: one DNS label.
pub const MAX_SLUG_LEN: usize = 63;

/// Lowercase `a-z`, `0-9` and single hyphens; 1–63 characters; no leading or
/// trailing hyphen.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

impl Slug {
    pub fn parse(value: &str) -> Result<Self, Error> {
        let reason = if value.is_empty() {
            Some("must not be empty")
        } else if value.len() > MAX_SLUG_LEN {
            Some("must be at most 63 characters")
        } else if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            Some("may contain only lowercase letters a-z, digits and hyphens")
        } else if value.starts_with('-') || value.ends_with('-') {
            Some("must not start or end with a hyphen")
        } else if value.contains("--") {
            Some("must not contain two hyphens in a row")
        } else {
            None
        };
        match reason {
            Some(message) => Err(Error::field("slug", message)),
            None => Ok(Self(value.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Slug({})", self.0)
    }
}

impl Serialize for Slug {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(|err| serde::de::Error::custom(err.detail()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let max = "a".repeat(63);
        let over = "a".repeat(64);
        let cases = [
            ("acme", true, "plain"),
            ("a", true, "one character"),
            ("acme-east-2", true, "hyphens between parts"),
            ("2fast", true, "leading digit"),
            (max.as_str(), true, "63 characters"),
            ("", false, "empty"),
            (over.as_str(), false, "64 characters"),
            ("Acme", false, "uppercase"),
            ("-acme", false, "leading hyphen"),
            ("acme-", false, "trailing hyphen"),
            ("ac--me", false, "double hyphen"),
            ("ac_me", false, "underscore"),
            ("ac me", false, "space"),
            ("acmé", false, "non-ascii"),
            ("-", false, "only a hyphen"),
        ];
        for (input, ok, case) in cases {
            let parsed = Slug::parse(input);
            assert_eq!(parsed.is_ok(), ok, "{case}: {input:?}");
            if let Err(Error::Validation(errors)) = parsed {
                assert_eq!(errors[0].field, "slug", "{case}");
            }
        }
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let slug: Slug = serde_json::from_str("\"acme\"").unwrap();
        assert_eq!(slug.as_str(), "acme");
        assert_eq!(serde_json::to_string(&slug).unwrap(), "\"acme\"");
        let err = serde_json::from_str::<Slug>("\"Bad\"").unwrap_err();
        assert!(err.to_string().contains("lowercase"), "{err}");
    }
}
