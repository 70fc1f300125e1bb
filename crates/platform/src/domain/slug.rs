//! [`Slug`]: a URL-safe short name (`acme`, `acme-east-2`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// Longest slug: one DNS label.
pub const MAX_SLUG_LEN: usize = 63;
/// Shortest slug.
pub const MIN_SLUG_LEN: usize = 3;

/// Names a slug may not take: they read as the service's own pages, hosts
/// or routes (`/v1/orgs/current`).
pub const RESERVED_SLUGS: &[&str] = &[
    "admin",
    "api",
    "app",
    "assets",
    "auth",
    "billing",
    "cdn",
    "current",
    "dashboard",
    "docs",
    "help",
    "internal",
    "login",
    "logout",
    "mail",
    "me",
    "new",
    "plinth",
    "root",
    "settings",
    "signup",
    "static",
    "status",
    "support",
    "system",
    "www",
];

/// Lowercase `a-z`, `0-9` and single hyphens; 3–63 characters; no leading or
/// trailing hyphen; not one of [`RESERVED_SLUGS`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

impl Slug {
    pub fn parse(value: &str) -> Result<Self, Error> {
        let reason = if value.len() < MIN_SLUG_LEN {
            Some("must be at least 3 characters")
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
        } else if RESERVED_SLUGS.contains(&value) {
            Some("is reserved")
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

    /// A slug made from a name (`Acme East, Inc.` → `acme-east-inc`), or
    /// `None` when the name has too few letters and digits for one (the
    /// caller then makes one up). Never reserved.
    pub fn from_name(name: &str) -> Option<Self> {
        let mut out = String::with_capacity(name.len().min(MAX_SLUG_LEN));
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            if out.len() >= MAX_SLUG_LEN {
                break;
            }
        }
        let out = out.trim_end_matches('-');
        Self::parse(out).ok()
    }

    /// This slug with `-<suffix>` appended, shortened to fit 63 characters.
    pub fn with_suffix(&self, suffix: &str) -> Result<Self, Error> {
        let keep = MAX_SLUG_LEN
            .saturating_sub(suffix.len() + 1)
            .min(self.0.len());
        let base = self.0[..keep].trim_end_matches('-');
        Self::parse(&format!("{base}-{suffix}"))
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
            ("abc", true, "three characters"),
            ("ab", false, "two characters"),
            ("a", false, "one character"),
            ("admin", false, "reserved"),
            ("current", false, "reserved: a route"),
            ("admins", true, "only the exact word is reserved"),
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
    fn from_name_and_suffix() {
        let cases = [
            ("Acme East, Inc.", Some("acme-east-inc")),
            ("  ACME  ", Some("acme")),
            ("Überbau GmbH", Some("berbau-gmbh")),
            ("Admin", None),
            ("!!", None),
            ("ab", None),
        ];
        for (name, want) in cases {
            assert_eq!(
                Slug::from_name(name)
                    .map(|s| s.as_str().to_owned())
                    .as_deref(),
                want,
                "{name:?}"
            );
        }
        let long = Slug::from_name(&"x".repeat(80)).unwrap();
        assert_eq!(long.as_str().len(), 63);
        let suffixed = long.with_suffix("k3f9").unwrap();
        assert_eq!(suffixed.as_str().len(), 63);
        assert!(suffixed.as_str().ends_with("-k3f9"));
        assert_eq!(
            Slug::parse("acme")
                .unwrap()
                .with_suffix("2")
                .unwrap()
                .as_str(),
            "acme-2"
        );
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
