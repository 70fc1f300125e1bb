//! [`Id`]: the id of one kind of resource (`UserId`, `CompanyId`, …), a
//! UUID in canonical lowercase form.
//!
//! One generic type, so that a `CompanyId` cannot be passed where a
//! `PartnerId` is expected, and a malformed id is a 400 naming the field of
//! its kind (`company_id`). [`OrgId`](super::OrgId) stays a type of its own:
//! it comes only from the verified token, never from request input.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::pg::Param;

/// What an [`Id`] identifies.
pub trait Kind {
    /// The resource, in lower case: `"user"`. `Debug` prints `UserId(…)`.
    const NAME: &'static str;
    /// The field a malformed id is reported on: `"user_id"`.
    const FIELD: &'static str;
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident, $alias:ident, $name:literal, $field:literal;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub enum $kind {}

            impl Kind for $kind {
                const NAME: &'static str = $name;
                const FIELD: &'static str = $field;
            }

            pub type $alias = Id<$kind>;
        )*
    };
}

kinds! {
    /// A user account.
    User, UserId, "user", "user_id";
    /// A login session (one refresh token family).
    Session, SessionId, "session", "session_id";
    /// A company record of an org.
    Company, CompanyId, "company", "company_id";
    /// A partner record of an org.
    Partner, PartnerId, "partner", "partner_id";
    /// A stored file.
    File, FileId, "file", "file_id";
    /// An invitation to join an org.
    Invitation, InvitationId, "invitation", "invitation_id";
    /// An org *named by a request* (switch-org's choice among the caller's
    /// memberships). Not an [`OrgId`](crate::domain::OrgId): nothing can be
    /// scoped by it; the database answers with the org it finds.
    OrgChoice, OrgRef, "org", "org_id";
}

/// The id of a `K`: a UUID parsed from the `8-4-4-4-12` hex form (any case,
/// stored lowercase).
pub struct Id<K: Kind> {
    text: [u8; 36],
    // `fn() -> K`: an id owns no `K`, so it is `Copy`, `Send` and `Sync`
    // whatever `K` is.
    kind: PhantomData<fn() -> K>,
}

impl<K: Kind> Id<K> {
    /// Parses a UUID in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` form; anything
    /// else (braces, `urn:uuid:`, no dashes) is a 400 on `K::FIELD`.
    pub fn parse(value: &str) -> Result<Self, Error> {
        parse_uuid(value)
            .map(Self::from_text)
            .ok_or_else(|| Error::field(K::FIELD, "must be a UUID"))
    }

    /// A version 4 (random) UUID from 16 random bytes. The guest has no
    /// randomness of its own here: the caller supplies it.
    pub fn new_v4(random: [u8; 16]) -> Self {
        let mut bytes = random;
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10xx (RFC 9562)
        Self::from_text(format_uuid(bytes))
    }

    fn from_text(text: [u8; 36]) -> Self {
        Self {
            text,
            kind: PhantomData,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes are ever stored.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }
}

/// The canonical lowercase text of `value` if it is a UUID in
/// `8-4-4-4-12` form.
pub(crate) fn parse_uuid(value: &str) -> Option<[u8; 36]> {
    let bytes = value.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut out = [0u8; 36];
    for (i, &b) in bytes.iter().enumerate() {
        let dash = matches!(i, 8 | 13 | 18 | 23);
        out[i] = match (dash, b) {
            (true, b'-') => b'-',
            (false, b) if b.is_ascii_hexdigit() => b.to_ascii_lowercase(),
            _ => return None,
        };
    }
    Some(out)
}

fn format_uuid(bytes: [u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut at = 0;
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1; // leave the dash
        }
        out[at] = HEX[usize::from(b >> 4)];
        out[at + 1] = HEX[usize::from(b & 0x0f)];
        at += 2;
    }
    out
}

// By hand rather than derived: a derive would demand `K: Clone`, `K: Eq`, …
// of the uninhabited marker types.
impl<K: Kind> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Kind> Copy for Id<K> {}

impl<K: Kind> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<K: Kind> Eq for Id<K> {}

impl<K: Kind> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Kind> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl<K: Kind> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl<K: Kind> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<K: Kind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut name = K::NAME.chars();
        if let Some(first) = name.next() {
            write!(f, "{}", first.to_ascii_uppercase())?;
        }
        write!(f, "{}Id({})", name.as_str(), self.as_str())
    }
}

impl<K: Kind> Serialize for Id<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de, K: Kind> Deserialize<'de> for Id<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .map_err(|_| serde::de::Error::custom(format!("expected a {} id (a UUID)", K::NAME)))
    }
}

impl<K: Kind> From<Id<K>> for Param {
    fn from(id: Id<K>) -> Self {
        Param::Uuid(id.as_str().to_owned())
    }
}

impl<K: Kind> From<&Id<K>> for Param {
    fn from(id: &Id<K>) -> Self {
        Param::Uuid(id.as_str().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

    #[test]
    fn id_parse_table() {
        // (input, canonical form if accepted, case)
        let cases = [
            (ID, Some(ID), "canonical lowercase"),
            (
                "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
                Some(ID),
                "upper case is accepted and lowercased",
            ),
            (
                "3f2504E0-4f89-11D3-9a0c-0305E82c3301",
                Some(ID),
                "mixed case",
            ),
            (
                "00000000-0000-0000-0000-000000000000",
                Some("00000000-0000-0000-0000-000000000000"),
                "nil uuid",
            ),
            ("", None, "empty"),
            ("3f2504e0-4f89-11d3-9a0c-0305e82c330", None, "too short"),
            ("3f2504e0-4f89-11d3-9a0c-0305e82c33011", None, "too long"),
            ("3f2504e04f8911d39a0c0305e82c3301", None, "no dashes"),
            (
                "3f2504e0-4f89-11d3-9a0c0-305e82c3301",
                None,
                "dash in the wrong place",
            ),
            (
                "3f2504e0-4f89-11d3-9a0c-0305e82c330g",
                None,
                "non-hex digit",
            ),
            (
                "3f2504e0_4f89_11d3_9a0c_0305e82c3301",
                None,
                "underscores for dashes",
            ),
            ("{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", None, "braces"),
            (
                "urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                None,
                "urn: prefix",
            ),
            (
                " 3f2504e0-4f89-11d3-9a0c-0305e82c330",
                None,
                "leading space",
            ),
            ("3f2504e0-4f89-11d3-9a0c-0305e82c33é", None, "non-ascii"),
        ];
        for (input, canonical, case) in cases {
            match (UserId::parse(input), canonical) {
                (Ok(id), Some(expected)) => assert_eq!(id.as_str(), expected, "{case}"),
                (Err(Error::Validation(errors)), None) => {
                    assert_eq!(errors[0].field, "user_id", "{case}");
                    assert_eq!(errors[0].message, "must be a UUID", "{case}");
                }
                (other, _) => panic!("{case}: {input:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn id_field_error_names_the_kind() {
        let field = |err: Error| match err {
            Error::Validation(errors) => errors[0].field.clone(),
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(field(CompanyId::parse("x").unwrap_err()), "company_id");
        assert_eq!(field(PartnerId::parse("x").unwrap_err()), "partner_id");
        assert_eq!(field(SessionId::parse("x").unwrap_err()), "session_id");
        assert_eq!(field(FileId::parse("x").unwrap_err()), "file_id");
    }

    #[test]
    fn id_new_v4_sets_version_and_variant() {
        for random in [[0u8; 16], [0xff; 16], *b"0123456789abcdef"] {
            let id = FileId::new_v4(random);
            let text = id.as_str();
            assert!(parse_uuid(text).is_some(), "{text} is a canonical UUID");
            assert_eq!(&text[14..15], "4", "version nibble of {text}");
            let variant = u8::from_str_radix(&text[19..20], 16).unwrap();
            assert_eq!(variant & 0b1100, 0b1000, "variant bits 10xx of {text}");
        }
        assert_eq!(
            UserId::new_v4([0; 16]).as_str(),
            "00000000-0000-4000-8000-000000000000"
        );
        assert_eq!(
            UserId::new_v4([0xff; 16]).as_str(),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        let bytes = [
            0x3f, 0x25, 0x04, 0xe0, 0x4f, 0x89, 0x11, 0xd3, 0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c,
            0x33, 0x01,
        ];
        assert_eq!(
            UserId::new_v4(bytes).as_str(),
            "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
            "only the version and variant bits change"
        );
    }

    #[test]
    fn id_display_debug_serde_and_param() {
        let id = CompanyId::parse(&ID.to_ascii_uppercase()).unwrap();
        assert_eq!(id.to_string(), ID);
        assert_eq!(format!("{id:?}"), format!("CompanyId({ID})"));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{ID}\""));
        assert_eq!(serde_json::from_str::<CompanyId>(&json).unwrap(), id);
        let err = serde_json::from_str::<CompanyId>("\"nope\"").unwrap_err();
        assert!(err.to_string().contains("company id"), "{err}");
        assert!(serde_json::from_str::<CompanyId>("7").is_err());
        assert_eq!(Param::from(id), Param::Uuid(ID.into()));
        assert_eq!(Param::from(&id), Param::Uuid(ID.into()));
        assert_eq!(Param::from(Some(id)), Param::Uuid(ID.into()));
    }

    #[test]
    fn id_equality_order_and_hash_follow_the_text() {
        use std::collections::HashSet;
        let a = UserId::parse("00000000-0000-0000-0000-00000000000a").unwrap();
        let b = UserId::parse("00000000-0000-0000-0000-00000000000B").unwrap();
        assert!(a < b);
        assert_eq!(
            b,
            UserId::parse("00000000-0000-0000-0000-00000000000b").unwrap()
        );
        let set: HashSet<UserId> = [a, b, a].into_iter().collect();
        assert_eq!(set.len(), 2);
    }
}
