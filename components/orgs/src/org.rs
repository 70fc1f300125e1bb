//! The org as the orgs routes show it: the row every statement returns, its
//! `ETag`, and the response that carries both with the caller's role.

use plinth_platform::auth::Role;
use plinth_platform::domain::OrgId;
use plinth_platform::etag::ETag;
use plinth_platform::{HandlerResult, json};
use serde::{Deserialize, Serialize};

/// An org row, as `SELECT id, name, slug, settings_json AS settings,
/// created_at, updated_at` returns it (timestamps as JSON renders them).
#[derive(Serialize, Deserialize)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub settings: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

impl Org {
    /// The version tag of the row: `updated_at` changes on every write (the
    /// `org_set_updated_at` trigger), so any write gives a new tag.
    pub fn etag(&self) -> ETag {
        ETag::of(&format!("{}:{}", self.id, self.updated_at))
    }
}

#[derive(Serialize)]
struct OrgView<'a> {
    #[serde(flatten)]
    org: &'a Org,
    role: &'static str,
}

/// `status` with the org and the caller's `role` in it, its `ETag`, and no
/// shared caching.
pub fn respond(status: u16, org: &Org, role: Role) -> HandlerResult {
    Ok(json(
        status,
        &OrgView {
            org,
            role: role.as_str(),
        },
    )?
    .with_header("etag", org.etag().to_header())
    .with_header("cache-control", "private, no-cache"))
}
