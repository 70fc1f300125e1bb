//! Optimistic concurrency: [`ETag`] (a strong entity tag of a row's
//! version), [`Versioned`] rows and their [`respond`], and
//! [`check_if_match`], the `If-Match` precondition of an update or delete
//! (RFC 9110 §8.8.3, §13.1.1).
//!
//! A handler reads the row, computes its `ETag` from what changes on every
//! write (typically `updated_at` text and the id), checks the request's
//! `If-Match` against it, and writes with the version in the `WHERE`
//! clause, so a write racing between the check and the update still loses.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::response::json;
use crate::router::HandlerResult;

/// A strong entity tag: 32 lowercase hex characters (the first 16 bytes of
/// the SHA-256 of the version), so it reveals nothing of the version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    /// The tag of a resource at `version`, e.g. `format!("{updated_at} {id}")`.
    pub fn of(version: &str) -> Self {
        let digest = Sha256::digest(version.as_bytes());
        Self(hex::encode(&digest[..16]))
    }

    /// The opaque tag, without quotes.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `ETag` header value: the tag in double quotes.
    pub fn to_header(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

/// A row whose version is its `updated_at` (set by a trigger on every
/// write) and its id: its [`ETag`] changes with every write.
pub trait Versioned: Serialize {
    fn id(&self) -> &str;
    /// As the row's JSON renders it.
    fn updated_at(&self) -> &str;

    fn etag(&self) -> ETag {
        ETag::of(&format!("{} {}", self.updated_at(), self.id()))
    }
}

/// `status` with `row` and its `ETag`, and no shared caching: a row is the
/// caller's org's, and a cache must ask again before reusing it.
pub fn respond<T: Versioned>(status: u16, row: &T) -> HandlerResult {
    Ok(json(status, row)?
        .with_header("etag", row.etag().to_header())
        .with_header("cache-control", "private, no-cache"))
}

/// The outcome of an `If-Match` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// The write may go ahead.
    Ok,
    /// The resource changed since the client read it (412).
    Failed,
    /// The route requires `If-Match` and the request has none.
    Required,
}

impl Precondition {
    /// `Failed` → 412 Precondition Failed; `Required` → 428 Precondition
    /// Required (RFC 6585), not a 412, which would tell the client that the
    /// resource changed when it has not.
    pub fn into_result(self) -> Result<(), Error> {
        match self {
            Self::Ok => Ok(()),
            Self::Failed => Err(Error::PreconditionFailed),
            Self::Required => Err(Error::PreconditionRequired),
        }
    }
}

/// Checks the `If-Match` header value against the resource's `current` tag.
///
/// Absent: `Ok`, or `Required` when `required`. `*`: `Ok` (the resource
/// exists; call this only for one that does). Otherwise a comma-separated
/// list of entity tags; `Ok` when one is `current` by strong comparison, so
/// a weak tag (`W/"…"`) never matches. An empty or malformed list matches
/// nothing: `Failed`.
pub fn check_if_match(if_match: Option<&str>, current: &ETag, required: bool) -> Precondition {
    let Some(value) = if_match else {
        return if required {
            Precondition::Required
        } else {
            Precondition::Ok
        };
    };
    if value.trim() == "*" {
        return Precondition::Ok;
    }
    let matches = entity_tags(value).is_some_and(|tags| {
        tags.iter()
            .any(|tag| !tag.weak && tag.opaque == current.as_str())
    });
    if matches {
        Precondition::Ok
    } else {
        Precondition::Failed
    }
}

/// One entity tag of a header list.
#[derive(Debug, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    /// Between the quotes.
    opaque: &'a str,
}

/// The entity tags of a list like `"a", W/"b"`; `None` when any element is
/// malformed. Tags are scanned quote to quote rather than split on commas,
/// because a comma is a legal character inside a tag.
fn entity_tags(list: &str) -> Option<Vec<EntityTag<'_>>> {
    let mut tags = Vec::new();
    let mut rest = list.trim_start_matches([' ', '\t', ',']);
    while !rest.is_empty() {
        let (weak, tag) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let inner = tag.strip_prefix('"')?;
        let end = inner.find('"')?;
        tags.push(EntityTag {
            weak,
            opaque: &inner[..end],
        });
        let after = inner[end + 1..].trim_start_matches([' ', '\t']);
        // The next element must follow a comma.
        if !(after.is_empty() || after.starts_with(',')) {
            return None;
        }
        rest = after.trim_start_matches([' ', '\t', ',']);
    }
    Some(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_of_is_stable_hex_of_sha256() {
        let tag = ETag::of("2026-11-27T07:08:24.630285+00:00 3f2504e0");
        assert_eq!(tag.as_str().len(), 32);
        assert!(
            tag.as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(tag, ETag::of("2026-11-27T07:08:24.630285+00:00 3f2504e0"));
        assert_ne!(tag, ETag::of("2026-11-27T07:08:24.630286+00:00 3f2504e0"));
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223 b00361a3…
        assert_eq!(ETag::of("abc").as_str(), "ba7816bf8f01cfea414140de5dae2223");
        assert_eq!(
            ETag::of("abc").to_header(),
            "\"ba7816bf8f01cfea414140de5dae2223\""
        );
    }

    #[test]
    fn etag_if_match_table() {
        let current = ETag::of("v2");
        let ours = current.to_header();
        let other = ETag::of("v1").to_header();
        let weak = format!("W/{ours}");
        let bare = current.as_str().to_owned();
        let list = format!("{other}, {ours}");
        let list_tight = format!("{other},{ours}");
        let list_weak_first = format!("{weak}, {ours}");
        let list_weak_only = format!("{other}, {weak}");
        let with_comma = format!("\"a,b\", {ours}");
        let junk_first = format!("junk, {ours}");
        let glued = format!("{other}{ours}");
        let spaced = format!("  {ours}  ");
        let ours_then_junk = format!("{ours}, junk");

        use Precondition::{Failed, Ok as Holds, Required};
        let cases: Vec<(Option<&str>, bool, Precondition, &str)> = vec![
            (None, false, Holds, "absent, not required"),
            (None, true, Required, "absent, required"),
            (Some("*"), true, Holds, "any"),
            (Some(" * "), true, Holds, "any with spaces"),
            (Some(&ours), true, Holds, "the current tag"),
            (Some(&spaced), true, Holds, "the current tag with spaces"),
            (Some(&other), true, Failed, "an old tag"),
            (Some(&list), true, Holds, "a list holding the current tag"),
            (Some(&list_tight), true, Holds, "a list without spaces"),
            (
                Some(&list_weak_first),
                true,
                Holds,
                "a weak tag, then the strong one",
            ),
            (Some(&weak), true, Failed, "weak never matches"),
            (
                Some(&list_weak_only),
                true,
                Failed,
                "only a weak current tag",
            ),
            (Some(&with_comma), true, Holds, "a comma inside a tag"),
            (Some(&bare), true, Failed, "unquoted tag"),
            (Some(&junk_first), true, Failed, "malformed element first"),
            (Some(&glued), true, Failed, "tags not separated by a comma"),
            (
                Some(&ours_then_junk),
                true,
                Failed,
                "a malformed element after the current tag",
            ),
            (Some(""), true, Failed, "empty"),
            (
                Some(""),
                false,
                Failed,
                "empty, not required: still present",
            ),
            (Some("\"unterminated"), true, Failed, "unterminated quote"),
            (Some("*, \"x\""), true, Failed, "a star in a list"),
        ];
        for (header, required, expected, case) in cases {
            assert_eq!(
                check_if_match(header, &current, required),
                expected,
                "{case}: {header:?}"
            );
        }
    }

    #[test]
    fn etag_precondition_into_result() {
        assert_eq!(Precondition::Ok.into_result(), Ok(()));
        assert_eq!(
            Precondition::Failed.into_result(),
            Err(Error::PreconditionFailed)
        );
        assert_eq!(
            Precondition::Required.into_result(),
            Err(Error::PreconditionRequired)
        );
        assert_eq!(Error::PreconditionRequired.status(), 428);
        assert_eq!(Error::PreconditionFailed.status(), 412);
    }
}
