//! [`OrgId`]: the id of an org (the tenant), a UUID in canonical lowercase form.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// The id of an org. Parsed from the canonical `8-4-4-4-12` hex form (any
/// case, stored lowercase). Comes from the verified token or the database,
/// never from a request body.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId([u8; 36]);

impl OrgId {
    /// Parses a UUID in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` form.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let bytes = value.as_bytes();
        if bytes.len() != 36 {
            return Err(Error::field("org_id", "must be a UUID"));
        }
        let mut out = [0u8; 36];
        for (i, &b) in bytes.iter().enumerate() {
            let dash = matches!(i, 8 | 13 | 18 | 23);
            out[i] = match (dash, b) {
                (true, b'-') => b'-',
                (false, b) if b.is_ascii_hexdigit() => b.to_ascii_lowercase(),
                _ => return Err(Error::field("org_id", "must be a UUID")),
            };
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgId({})", self.as_str())
    }
}

impl Serialize for OrgId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OrgId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(|_| serde::de::Error::custom("expected a UUID"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases = [
            (
                "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                true,
                "canonical lowercase",
            ),
            (
                "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
                true,
                "uppercase is accepted",
            ),
            ("00000000-0000-0000-0000-000000000000", true, "nil uuid"),
            ("3f2504e04f8911d39a0c0305e82c3301", false, "no dashes"),
            ("{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", false, "braces"),
            ("3f2504e0-4f89-11d3-9a0c-0305e82c330", false, "too short"),
            ("3f2504e0-4f89-11d3-9a0c-0305e82c33011", false, "too long"),
            (
                "3f2504e0-4f89-11d3-9a0c-0305e82c330g",
                false,
                "non-hex digit",
            ),
            (
                "3f2504e0-4f8911-d3-9a0c-0305e82c3301",
                false,
                "dash in the wrong place",
            ),
            ("", false, "empty"),
            ("3f2504e0-4f89-11d3-9a0c-0305e82c33é", false, "non-ascii"),
        ];
        for (input, ok, case) in cases {
            assert_eq!(OrgId::parse(input).is_ok(), ok, "{case}: {input:?}");
        }
    }

    #[test]
    fn normalises_to_lowercase_and_round_trips_serde() {
        let id = OrgId::parse("3F2504E0-4F89-11D3-9A0C-0305E82C3301").unwrap();
        assert_eq!(id.to_string(), "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\"");
        assert_eq!(serde_json::from_str::<OrgId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<OrgId>("\"nope\"").is_err());
    }

    #[test]
    fn invalid_is_a_field_error() {
        assert_eq!(OrgId::parse("x").unwrap_err().status(), 422);
    }
}
