//! `DELETE /v1/orgs/current`: the owner deletes the token's org, once
//! nothing but the owner's own membership and sessions is left in it.
//!
//! What blocks a deletion is listed in the 409's `blocking`
//! (`[{"table": "memberships", "count": 2}]`, `Error::blocked`).

use plinth_platform::auth::{Caller, Permission};
use plinth_platform::error::Blocking;
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, Response, TenantTx};
use serde::Deserialize;

use crate::org;

enum Outcome {
    Deleted,
    Blocked(Vec<Blocking>),
}

/// `DELETE /v1/orgs/current`: 204, or 409 listing what blocks it; the
/// caller's sessions in the org end with it (their tokens answer 401).
pub fn delete(ctx: &RequestCtx) -> HandlerResult {
    let outcome = ctx.tenant_as(Permission::OrgDelete, |tx, caller| {
        // A membership being added meanwhile (its foreign key check takes a
        // share lock on the org row) waits, so the count below stays true.
        org::lock_org(tx)?;
        let blocking = blockers(tx, caller)?;
        if !blocking.is_empty() {
            return Ok(Outcome::Blocked(blocking));
        }
        delete_org(tx, caller)?;
        Ok(Outcome::Deleted)
    })?;
    match outcome {
        Outcome::Deleted => Ok(Response::empty(204)),
        Outcome::Blocked(blocking) => blocked(&blocking),
    }
}

#[derive(Deserialize)]
struct Count {
    count: i64,
}

const OTHER_MEMBERS: &str =
    "SELECT count(*) AS count FROM memberships WHERE org_id = $1 AND user_id <> $2";

const COMPANIES: &str = "SELECT count(*) AS count FROM companies WHERE org_id = $1";

/// Rows that would outlive the org: every membership but the caller's, and
/// its companies (both refer to the org with `ON DELETE RESTRICT`).
fn blockers(tx: &TenantTx<'_>, caller: &Caller) -> Result<Vec<Blocking>, Error> {
    let members: Count = tx.fetch_one(OTHER_MEMBERS, &[Param::from(caller.user())])?;
    let companies: Count = tx.fetch_one(COMPANIES, &[])?;
    Ok([
        ("memberships", members.count),
        ("companies", companies.count),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .map(|(table, count)| Blocking {
        table: table.to_owned(),
        count,
    })
    .collect())
}

const DELETE_OWN_MEMBERSHIP: &str = "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2";

// The org's audit log goes with it (its rows refer to the org with
// `ON DELETE RESTRICT`, as every tenant table's do).
const DELETE_AUDIT: &str = "DELETE FROM audit_events WHERE org_id = $1";

// The org's sessions (and their refresh tokens) cascade with it; a user
// whose default org it was keeps no default (`ON DELETE SET NULL`).
const DELETE_ORG: &str = "DELETE FROM org WHERE id = $1";

fn delete_org(tx: &TenantTx<'_>, caller: &Caller) -> Result<(), Error> {
    tx.execute(DELETE_OWN_MEMBERSHIP, &[Param::from(caller.user())])?;
    tx.execute(DELETE_AUDIT, &[])?;
    match tx.execute(DELETE_ORG, &[])? {
        1 => Ok(()),
        n => Err(Error::internal(format!(
            "deleting the org removed {n} rows"
        ))),
    }
}

/// The 409 of a blocked deletion, listing what blocks it.
fn blocked(blocking: &[Blocking]) -> HandlerResult {
    Err(Error::blocked(
        "the org still has other members or business data; remove them before deleting it",
        blocking,
    ))
}
