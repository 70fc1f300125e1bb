//! [`OrgId`]: the id of an org (the tenant), a UUID in canonical lowercase form.
//!
//! **Architecture Invariant**: an `OrgId` never comes from a request. Code
//! outside the platform cannot parse one from text (`parse` is the
//! platform's), and it deserializes only from rows the database returned
//! (inside [`decoding_rows`]): a request body that holds one is refused. An
//! org named by a request is a [`OrgRef`](crate::domain::OrgRef), which
//! scopes nothing.

use std::cell::Cell;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// The id of an org. Parsed from the canonical `8-4-4-4-12` hex form (any
/// case, stored lowercase). Comes from the verified token or the database,
/// never from a request body.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId([u8; 36]);

thread_local! {
    /// Set while the platform decodes rows the database returned.
    static DECODING_ROWS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `decode` with org ids deserializable: for rows the database returned.
pub(crate) fn decoding_rows<R>(decode: impl FnOnce() -> R) -> R {
    let before = DECODING_ROWS.with(|flag| flag.replace(true));
    let result = decode();
    DECODING_ROWS.with(|flag| flag.set(before));
    result
}

impl OrgId {
    /// Parses a UUID in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` form (the
    /// platform's, for the claims of a token and its tests).
    pub(crate) fn parse(value: &str) -> Result<Self, Error> {
        crate::domain::id::parse_uuid(value)
            .map(Self)
            .ok_or_else(|| Error::field("org_id", "must be a UUID"))
    }

    /// A new random (version 4) org id, e.g. for an answer that must look
    /// like a real one.
    pub fn new_v4(random: [u8; 16]) -> Self {
        let id = crate::domain::OrgRef::new_v4(random);
        let mut out = [0u8; 36];
        out.copy_from_slice(id.as_str().as_bytes());
        Self(out)
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
        if !DECODING_ROWS.with(Cell::get) {
            return Err(serde::de::Error::custom(
                "an org id is never taken from a request: the org is the token's",
            ));
        }
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
        let from_row = |text: &str| decoding_rows(|| serde_json::from_str::<OrgId>(text));
        assert_eq!(from_row(&json).unwrap(), id);
        assert!(from_row("\"nope\"").is_err());
    }

    #[test]
    fn a_request_body_cannot_hold_one() {
        let json = "\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\"";
        let err = serde_json::from_str::<OrgId>(json).unwrap_err();
        assert!(
            err.to_string().contains("never taken from a request"),
            "{err}"
        );
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            org_id: OrgId,
        }
        let body = format!("{{\"org_id\":{json}}}");
        let err = crate::request::parse_json_body::<Body>(body.as_bytes(), 1000).unwrap_err();
        assert_eq!(err.status(), 400, "{err:?}");
        assert!(decoding_rows(|| serde_json::from_str::<Body>(&body)).is_ok());
    }

    #[test]
    fn new_v4_is_a_version_4_uuid() {
        let id = OrgId::new_v4([0xab; 16]);
        assert_eq!(id.as_str().as_bytes()[14], b'4');
        assert_eq!(OrgId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn invalid_is_a_field_error() {
        assert_eq!(OrgId::parse("x").unwrap_err().status(), 422);
    }
}
