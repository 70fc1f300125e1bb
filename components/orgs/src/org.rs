//! The org as the orgs routes show it: the row every statement returns, its
//! `ETag`, and the response that carries both with the caller's role.

use plinth_platform::audit::{self, Event};
use plinth_platform::auth::Role;
use plinth_platform::{Error, HandlerResult, RequestCtx, TenantTx, json};
use serde::Serialize;

/// An org row (the platform's: the `org` table is its own).
pub use plinth_platform::orgs::OrgRow as Org;

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

/// Records a change of the org's own fields in its audit log.
pub fn audit_change(
    ctx: &RequestCtx,
    tx: &TenantTx<'_>,
    before: &Org,
    after: &Org,
) -> Result<(), Error> {
    match Event::changed("org.updated", "org", after.id.to_string(), before, after)? {
        Some(event) => audit::record(ctx, tx, event),
        None => Ok(()),
    }
}

const LOCK_ORG: &str = "SELECT id FROM org WHERE id = $1 FOR UPDATE";

/// Locks the org row until the transaction ends: every membership change
/// and the org's deletion take it first, so what they count stays true.
pub fn lock_org(tx: &TenantTx<'_>) -> Result<(), Error> {
    tx.fetch_one::<serde_json::Value>(LOCK_ORG, &[]).map(drop)
}
