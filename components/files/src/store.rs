//! Where a file's bytes live: the object key (`orgs/{org_id}/files/{id}`,
//! nothing of the user's name), the store's settings, presigned URLs and
//! the mapping of store failures to a 503.

use plinth_platform::Error;
use plinth_platform::config::Source;
use plinth_platform::domain::{FileId, OrgId};
use plinth_platform::s3::{self, AmzTime, S3Failure, S3Settings};

/// The prefix of every object this component writes.
pub const PREFIX: &str = "orgs/";

/// The object key of a file.
pub fn key(org: &OrgId, file: &FileId) -> String {
    format!("{PREFIX}{}/files/{}", org.as_str(), file.as_str())
}

/// `(org, file id)` of a key this component wrote; `None` for any other.
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (org, rest) = rest.split_once('/')?;
    let file = rest.strip_prefix("files/")?;
    let uuid = |s: &str| s.len() == 36 && FileId::parse(s).is_ok();
    (uuid(org) && uuid(file)).then_some((org, file))
}

pub fn settings(source: &dyn Source) -> Result<S3Settings, Error> {
    S3Settings::load(source)
}

/// The 503 every store failure answers (the cause is logged where it happened).
pub fn unavailable(_: S3Failure) -> Error {
    Error::ServiceUnavailable("object store unavailable".into())
}

/// A presigned URL and when it stops working (RFC 3339).
pub struct Presigned {
    pub url: String,
    pub expires_at: String,
}

/// A presigned `method` on `key` for `seconds` from `now`.
pub fn presign(
    settings: &S3Settings,
    method: &str,
    key: &str,
    extra: &[(&str, &str)],
    seconds: u64,
    now: i64,
) -> Presigned {
    let now = u64::try_from(now).unwrap_or(0);
    Presigned {
        url: s3::presigned_url(
            settings,
            method,
            key,
            extra,
            seconds,
            &AmzTime::from_unix(now),
        ),
        expires_at: rfc3339(now + seconds),
    }
}

/// `2026-12-01T21:02:45Z`.
pub fn rfc3339(secs: u64) -> String {
    let t = AmzTime::from_unix(secs);
    let d = t.date_time();
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[9..11],
        &d[11..13],
        &d[13..15]
    )
}

/// Seconds since the epoch of an ISO 8601 UTC time
/// (`2026-12-01T21:02:45.123Z`); `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if text.get(4..5) != Some("-") || text.get(10..11) != Some("T") {
        return None;
    }
    // Days from the civil date (the inverse of the store's calendar).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let org = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
        let file = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
        let k = format!("orgs/{org}/files/{file}");
        assert_eq!(parse_key(&k), Some((org, file)));
        for other in [
            "orgs/x/files/y",
            "other/a",
            &format!("orgs/{org}/files/{file}/x"),
        ] {
            assert_eq!(parse_key(other), None, "{other}");
        }
    }

    #[test]
    fn times_round_trip() {
        for secs in [0_u64, 951_868_799, 1_795_763_304, 4_107_542_400] {
            let text = rfc3339(secs);
            assert_eq!(parse_rfc3339(&text), Some(secs as i64), "{text}");
        }
        assert_eq!(
            parse_rfc3339("2026-11-27T07:08:24.630Z"),
            Some(1_795_763_304)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
