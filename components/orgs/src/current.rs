//! Reading orgs: the caller's current org (the hot path: one statement that
//! confirms the token and reads the row) and the list of the caller's orgs.

use plinth_platform::auth::{Credentials, Permission};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, json};
use serde::{Deserialize, Serialize};

use crate::org::{self, Org};

const CURRENT: &str = "SELECT id, name, slug, settings_json AS settings, created_at, updated_at \
     FROM org WHERE id = $1";

/// `GET /v1/orgs/current`.
pub fn get(ctx: &RequestCtx) -> HandlerResult {
    let (caller, rows) = ctx.tenant_read::<Org>(Permission::OrgRead, CURRENT, &[])?;
    let org = rows.into_iter().next().ok_or(Error::NotFound)?;
    org::respond(200, &org, caller.role())
}

#[derive(Serialize, Deserialize)]
struct Membership {
    id: String,
    name: String,
    slug: String,
    role: String,
}

#[derive(Serialize)]
struct Mine {
    items: Vec<Membership>,
}

// The statement confirms the caller in the token's org ($1); the list is the
// user's own, across orgs (memberships is a global table).
const MINE: &str = "SELECT o.id, o.name, o.slug, m.role FROM memberships m \
     JOIN org o ON o.id = m.org_id WHERE m.user_id = $2 AND $1::uuid IS NOT NULL \
     ORDER BY o.slug LIMIT 200";

/// `GET /v1/orgs`: every org the caller is a member of (at most 200).
pub fn mine(ctx: &RequestCtx) -> HandlerResult {
    let credentials = Credentials::from_request(ctx)?;
    let (_, items) = ctx.db()?.member_read::<Membership>(
        &credentials,
        MINE,
        &[Param::from(credentials.user())],
    )?;
    Ok(json(200, &Mine { items })?.with_header("cache-control", "private, no-cache"))
}
