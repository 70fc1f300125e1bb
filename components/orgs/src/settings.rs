//! `GET|PATCH /v1/orgs/current/settings`: the org's effective settings
//! (every default applied) and RFC 7396 merge patches of what it set, each
//! write checked against the platform's one schema and guarded by
//! `If-Match` with the org's `ETag`.

use plinth_platform::auth::Permission;
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, check_if_match, json, settings};
use serde_json::Value;

use crate::org::{self, Org};
use crate::update::lock_current;

const CURRENT: &str = "SELECT id, name, slug, settings_json AS settings, created_at, updated_at \
     FROM org WHERE id = $1";

fn respond(org: &Org) -> HandlerResult {
    Ok(json(200, &settings::effective(&org.settings))?
        .with_header("etag", org.etag().to_header())
        .with_header("cache-control", "private, no-cache"))
}

/// `GET /v1/orgs/current/settings` (org.read).
pub fn get(ctx: &RequestCtx) -> HandlerResult {
    let (_, rows) = ctx.tenant_read::<Org>(Permission::OrgRead, CURRENT, &[])?;
    respond(&rows.into_iter().next().ok_or(Error::NotFound)?)
}

const WRITE: &str = "UPDATE org SET settings_json = $2 WHERE id = $1 \
     RETURNING id, name, slug, settings_json AS settings, created_at, updated_at";

/// `PATCH /v1/orgs/current/settings` with a merge patch (org.update,
/// `If-Match` required): 200 with the effective settings and the new
/// `ETag`; 422 naming every wrong key as `settings.<path>`.
pub fn patch(ctx: &RequestCtx) -> HandlerResult {
    let patch: Value = ctx.json()?;
    if !patch.is_object() {
        return Err(Error::field(
            "settings",
            "a merge patch must be a JSON object",
        ));
    }
    let if_match = ctx.header("if-match");
    let org = ctx.tenant_as(Permission::OrgUpdate, |tx, _| {
        let current = lock_current(tx)?;
        check_if_match(if_match, &current.etag(), true).into_result()?;
        let mut next = current.settings.clone();
        settings::merge_patch(&mut next, &patch);
        settings::validate("settings", &next)?;
        let changed: Org = tx.fetch_one(WRITE, &[Param::from(next)])?;
        org::audit_change(ctx, tx, &current, &changed)?;
        Ok(changed)
    })?;
    respond(&org)
}
