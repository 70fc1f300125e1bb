//! The limits an upload must fit: the component's variables ([`Limits`])
//! and the org's own rules from its settings ([`OrgRules`]: quota and
//! content-type allow-list), checked under the org row's lock.

use plinth_platform::config::{self, Source};
use plinth_platform::{Error, TenantTx};
use serde::Deserialize;

use crate::names::ContentType;

/// The component's variables.
pub struct Limits {
    /// `files_max_upload_bytes`: the largest upload through the component.
    pub max_upload: u64,
    /// `files_presign_seconds`: how long a presigned URL is valid.
    pub presign_seconds: u64,
}

impl Limits {
    pub fn load(source: &dyn Source) -> Result<Self, Error> {
        let number = |name: &str| config::parse_u64(name, &source.get(name)?);
        Ok(Self {
            max_upload: number("files_max_upload_bytes")?,
            presign_seconds: number("files_presign_seconds")?.clamp(1, 604_800),
        })
    }
}

/// The largest file a presigned upload may declare (S3's single `PUT` limit).
pub const MAX_PRESIGNED_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// An org's file rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRules {
    pub quota_bytes: u64,
    /// Empty: any type.
    pub allowed_content_types: Vec<String>,
}

/// The org's rules from its stored settings (`settings_json`), defaults
/// filled in: key `files` → `{quota_bytes, allowed_content_types}`.
pub fn org_rules(stored: &serde_json::Value) -> OrgRules {
    let effective = plinth_platform::settings::effective(stored);
    let files = &effective["files"];
    OrgRules {
        quota_bytes: files["quota_bytes"].as_u64().unwrap_or(1_073_741_824),
        allowed_content_types: files["allowed_content_types"]
            .as_array()
            .map(|types| {
                types
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl OrgRules {
    /// 422 naming `content_type` when the allow-list does not admit it.
    pub fn check_type(&self, content_type: &ContentType) -> Result<(), Error> {
        if self.allowed_content_types.is_empty()
            || self
                .allowed_content_types
                .iter()
                .any(|pattern| content_type.matches(pattern))
        {
            Ok(())
        } else {
            Err(Error::field(
                "content_type",
                format!("{} is not allowed in this org", content_type.essence()),
            ))
        }
    }

    /// 409 with `used` and `limit` when `size` more bytes do not fit.
    pub fn check_quota(&self, used: u64, size: u64) -> Result<(), Error> {
        if used.saturating_add(size) <= self.quota_bytes {
            return Ok(());
        }
        let mut members = serde_json::Map::new();
        members.insert("used".into(), used.into());
        members.insert("limit".into(), self.quota_bytes.into());
        Err(Error::conflict(
            None,
            format!(
                "the org's storage quota of {} bytes has no room for {size} more bytes",
                self.quota_bytes
            ),
        )
        .with_members(members))
    }

    /// Both checks.
    pub fn admit(&self, usage: &Usage, content_type: &ContentType, size: u64) -> Result<(), Error> {
        self.check_type(content_type)?;
        self.check_quota(usage.used.max(0) as u64, size)
    }
}

/// The org's settings and the bytes its files take (ready ones, pending
/// uploads until they expire, not those being deleted).
#[derive(Debug, Deserialize)]
pub struct Usage {
    pub settings: serde_json::Value,
    pub used: i64,
}

impl Usage {
    pub fn rules(&self) -> OrgRules {
        org_rules(&self.settings)
    }
}

/// What [`Usage`] reads: the org's settings and the bytes its files take.
pub const USAGE: &str = "SELECT o.settings_json AS settings, \
     (SELECT coalesce(sum(f.size), 0)::int8 FROM files f WHERE f.org_id = $1 \
      AND f.deleting_at IS NULL AND (f.status = 'ready' OR f.expires_at > now())) AS used \
     FROM org o WHERE o.id = $1";

/// Locks the org row until the transaction ends. A statement of its own:
/// under READ COMMITTED the usage must be read by a *later* statement,
/// whose snapshot sees what the transaction that held the lock committed.
const LOCK_ORG: &str = "SELECT o.id FROM org o WHERE o.id = $1 FOR NO KEY UPDATE";

#[derive(Deserialize)]
struct Locked {
    #[allow(dead_code)]
    id: String,
}

/// The usage under the org's lock, inside the transaction that records a
/// file, so two uploads cannot both fit in what is left.
pub fn locked_usage(tx: &TenantTx<'_>) -> Result<Usage, Error> {
    tx.fetch_one::<Locked>(LOCK_ORG, &[])?;
    tx.fetch_one(USAGE, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_from_settings() {
        assert_eq!(
            org_rules(&json!({})),
            OrgRules {
                quota_bytes: 1_073_741_824,
                allowed_content_types: vec![]
            }
        );
        let set =
            org_rules(&json!({"files": {"quota_bytes": 10, "allowed_content_types": ["image/*"]}}));
        assert_eq!(set.quota_bytes, 10);
        let png = ContentType::parse("image/png").unwrap();
        let pdf = ContentType::parse("application/pdf").unwrap();
        assert!(set.check_type(&png).is_ok());
        assert_eq!(set.check_type(&pdf).unwrap_err().status(), 422);
        assert!(set.check_quota(4, 6).is_ok());
        let err = set.check_quota(4, 7).unwrap_err();
        assert_eq!(err.status(), 409);
        let body: serde_json::Value = serde_json::from_slice(err.to_response("r").body()).unwrap();
        assert_eq!(
            (body["used"].as_u64(), body["limit"].as_u64()),
            (Some(4), Some(10))
        );
    }
}
