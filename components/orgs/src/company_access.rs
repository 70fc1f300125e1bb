//! Which companies a member may see: `GET|PUT
//! /v1/orgs/current/members/{user_id}/companies` (members.manage).
//!
//! `{"company_ids": null}` gives the member every company of the org (the
//! default); a list limits them to those companies and their partners.
//! The limit is enforced by the row-level security policies of companies
//! and partners (migration 0007) from the member's next request, so it
//! holds in every list, search and write without a handler's help. Owners
//! cannot be limited.

use plinth_platform::audit::{self, Event};
use plinth_platform::auth::{Permission, Role};
use plinth_platform::domain::{CompanyId, UserId};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, ResultExt, TenantTx, json};
use serde::{Deserialize, Serialize};

use crate::org::lock_org;

/// The most companies one member can be limited to.
const MAX_COMPANIES: usize = 1_000;

#[derive(Debug, Serialize, PartialEq)]
struct Access {
    user_id: String,
    /// `null`: every company; else the companies the member is limited to.
    company_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Stored {
    role: String,
    companies_limited: bool,
    company_ids: Vec<String>,
}

const READ: &str = "SELECT m.role, m.companies_limited, \
     coalesce((SELECT array_agg(mc.company_id::text ORDER BY mc.company_id) \
               FROM member_companies mc WHERE mc.org_id = m.org_id AND mc.user_id = m.user_id), \
              '{}') AS company_ids \
     FROM memberships m WHERE m.org_id = $1 AND m.user_id = $2";

fn access(user: UserId, stored: &Stored) -> Access {
    Access {
        user_id: user.to_string(),
        company_ids: stored.companies_limited.then(|| stored.company_ids.clone()),
    }
}

fn target(ctx: &RequestCtx) -> Result<UserId, Error> {
    UserId::parse(ctx.param("user_id")?).map_err(|_| Error::NotFound)
}

/// `GET /v1/orgs/current/members/{user_id}/companies`.
pub fn get(ctx: &RequestCtx) -> HandlerResult {
    let user = target(ctx)?;
    let (_, rows) =
        ctx.tenant_read::<Stored>(Permission::MembersManage, READ, &[Param::from(user)])?;
    let stored = rows.into_iter().next().ok_or(Error::NotFound)?;
    json(200, &access(user, &stored))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    company_ids: Option<Vec<String>>,
}

/// The request's companies, parsed: each a UUID, none twice.
fn parse_ids(ids: Vec<String>) -> Result<Vec<CompanyId>, Error> {
    if ids.len() > MAX_COMPANIES {
        return Err(Error::field(
            "company_ids",
            format!("at most {MAX_COMPANIES} companies"),
        ));
    }
    let mut parsed: Vec<CompanyId> = Vec::with_capacity(ids.len());
    for (index, id) in ids.iter().enumerate() {
        let id = CompanyId::parse(id).map_err(|e| e.at(&format!("company_ids[{index}]")))?;
        if parsed.contains(&id) {
            return Err(Error::field(
                format!("company_ids[{index}]"),
                "is listed twice",
            ));
        }
        parsed.push(id);
    }
    Ok(parsed)
}

/// `PUT /v1/orgs/current/members/{user_id}/companies` `{company_ids}`: 200
/// with the member's access; 422 naming `company_ids` for a company that is
/// not this org's; 409 for an owner.
pub fn put(ctx: &RequestCtx) -> HandlerResult {
    let user = target(ctx)?;
    let ids = ctx.json::<Body>()?.company_ids.map(parse_ids).transpose()?;
    let access = ctx.tenant_as(Permission::MembersManage, |tx, _| {
        lock_org(tx)?;
        let before: Stored = tx
            .fetch_optional(READ, &[Param::from(user)])?
            .ok_or(Error::NotFound)?;
        if before.role == Role::Owner.as_str() && ids.is_some() {
            return Err(Error::conflict(
                Some("company_ids"),
                "owners see every company; they cannot be limited",
            ));
        }
        write(tx, user, ids.as_deref())?;
        // What READ would now answer, without asking: ids in uuid order,
        // which is their lower-case text order.
        let mut company_ids: Vec<String> = ids.iter().flatten().map(ToString::to_string).collect();
        company_ids.sort_unstable();
        let after = Access {
            user_id: user.to_string(),
            company_ids: ids.is_some().then_some(company_ids),
        };
        let before = access(user, &before);
        if let Some(event) = Event::changed(
            "member.companies_changed",
            "member",
            user.to_string(),
            &before,
            &after,
        )? {
            audit::record(ctx, tx, event)?;
        }
        Ok(after)
    })?;
    json(200, &access)
}

const CLEAR: &str = "DELETE FROM member_companies WHERE org_id = $1 AND user_id = $2";
const LIMIT: &str =
    "UPDATE memberships SET companies_limited = $3 WHERE org_id = $1 AND user_id = $2";
const ADD: &str = "INSERT INTO member_companies (org_id, user_id, company_id) \
     SELECT $1, $2, unnest($3::text[])::uuid";

fn write(tx: &TenantTx<'_>, user: UserId, ids: Option<&[CompanyId]>) -> Result<(), Error> {
    tx.execute(CLEAR, &[Param::from(user)])?;
    tx.execute(LIMIT, &[Param::from(user), Param::Bool(ids.is_some())])?;
    if let Some(ids) = ids.filter(|ids| !ids.is_empty()) {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        tx.execute(ADD, &[Param::from(user), Param::from(ids)])
            .on_constraint("member_companies_company_fkey", "company_ids")?;
    }
    Ok(())
}
