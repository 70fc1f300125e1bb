//! The members of the token's org: list, change a role, remove (or leave).
//!
//! Rules between people, beyond the route's permission: nobody grants a
//! role above their own; only an owner grants `owner` or changes or removes
//! an owner; the last owner can be neither demoted, nor removed, nor leave
//! (409). Every change takes the org row's lock first, so owners are
//! counted with no change in between: two concurrent demotions of the last
//! two owners cannot both pass. A removed member's sessions in the org end
//! at once; a changed role applies from the member's next request (the
//! credential check reads it every time).

use plinth_platform::audit::{self, Event};
use plinth_platform::auth::{Caller, Permission, Role};
use plinth_platform::domain::UserId;
use plinth_platform::page::PageRequest;
use plinth_platform::{Error, HandlerResult, Keyed, Param, RequestCtx, Response, TenantTx, json};
use serde::{Deserialize, Serialize};

use crate::org;

/// A member as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub joined_at: String,
}

impl Keyed for Member {
    fn sort_key(&self) -> String {
        self.joined_at.clone()
    }
    fn id(&self) -> String {
        self.user_id.clone()
    }
}

const LIST: &str = "SELECT m.user_id, u.email, u.name, m.role, m.created_at AS joined_at \
     FROM memberships m JOIN users u ON u.id = m.user_id \
     WHERE m.org_id = $1 \
       AND ($2::text IS NULL OR (m.created_at, m.user_id) > ($2::text::timestamptz, $3::text::uuid)) \
     ORDER BY m.created_at, m.user_id \
     LIMIT $4";

/// `GET /v1/orgs/current/members?limit=&cursor=`: oldest members first.
pub fn list(ctx: &RequestCtx) -> HandlerResult {
    let page = PageRequest::from_query(ctx)?;
    let (_, page) = ctx.tenant_page::<Member>(Permission::MembersRead, LIST, &[], &page)?;
    Ok(json(200, &page)?.with_header("cache-control", "private, no-cache"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

/// `PATCH /v1/orgs/current/members/{user_id}` `{role}` (members.manage).
pub fn change_role(ctx: &RequestCtx) -> HandlerResult {
    let target = target(ctx)?;
    let role = Role::parse(&ctx.json::<RoleBody>()?.role)?;
    let member = ctx.tenant_as(Permission::MembersManage, |tx, caller| {
        org::lock_org(tx)?;
        let before = find(tx, target)?;
        let current = role_of(&before)?;
        if role > caller.role() {
            // Nobody grants more than they hold.
            return Err(Error::Forbidden);
        }
        if (current == Role::Owner || role == Role::Owner) && caller.role() != Role::Owner {
            return Err(Error::Forbidden);
        }
        if current == Role::Owner && role != Role::Owner {
            ensure_another_owner(tx)?;
        }
        tx.execute(UPDATE_ROLE, &[Param::from(target), role.as_str().into()])?;
        let after = Member {
            role: role.as_str().to_owned(),
            ..before.clone()
        };
        if let Some(event) = Event::changed(
            "member.role_changed",
            "member",
            target.to_string(),
            &before,
            &after,
        )? {
            audit::record(ctx, tx, event)?;
        }
        Ok(after)
    })?;
    json(200, &member)
}

/// `DELETE /v1/orgs/current/members/{user_id}`: an admin removes a member
/// (members.manage), or any member leaves (their own id). 204.
pub fn remove(ctx: &RequestCtx) -> HandlerResult {
    let target = target(ctx)?;
    let work = |tx: &TenantTx<'_>, caller: &Caller| {
        let leaving = caller.user() == target;
        if !leaving && !caller.can(Permission::MembersManage) {
            return Err(Error::Forbidden);
        }
        org::lock_org(tx)?;
        let before = find(tx, target)?;
        if role_of(&before)? == Role::Owner {
            if !leaving && caller.role() != Role::Owner {
                return Err(Error::Forbidden);
            }
            ensure_another_owner(tx)?;
        }
        tx.execute(DELETE_MEMBERSHIP, &[Param::from(target)])?;
        tx.execute(END_SESSIONS, &[Param::from(target)])?;
        let action = if leaving {
            "member.left"
        } else {
            "member.removed"
        };
        audit::record(
            ctx,
            tx,
            Event::deleted(action, "member", target.to_string(), &before)?,
        )
    };
    // Leaving needs no permission; removing someone else is checked above,
    // against what the caller's role holds in this org.
    ctx.member_as(work)?;
    Ok(Response::empty(204))
}

/// The `{user_id}` of the path; one that is not a UUID names no member.
fn target(ctx: &RequestCtx) -> Result<UserId, Error> {
    UserId::parse(ctx.param("user_id")?).map_err(|_| Error::NotFound)
}

fn role_of(member: &Member) -> Result<Role, Error> {
    Role::parse(&member.role)
        .map_err(|_| Error::internal(format!("a membership has the role {:?}", member.role)))
}

const FIND: &str = "SELECT m.user_id, u.email, u.name, m.role, m.created_at AS joined_at \
     FROM memberships m JOIN users u ON u.id = m.user_id \
     WHERE m.org_id = $1 AND m.user_id = $2";

/// The member, or 404 (not a member of this org, whoever they are).
fn find(tx: &TenantTx<'_>, user: UserId) -> Result<Member, Error> {
    tx.fetch_optional(FIND, &[Param::from(user)])?
        .ok_or(Error::NotFound)
}

#[derive(Deserialize)]
struct Count {
    count: i64,
}

const OWNERS: &str =
    "SELECT count(*) AS count FROM memberships WHERE org_id = $1 AND role = 'owner'";

/// 409 unless the org has an owner besides the one about to go.
fn ensure_another_owner(tx: &TenantTx<'_>) -> Result<(), Error> {
    let owners: Count = tx.fetch_one(OWNERS, &[])?;
    if owners.count > 1 {
        Ok(())
    } else {
        Err(Error::conflict(
            Some("role"),
            "an org must keep at least one owner: make another member owner first",
        ))
    }
}

const UPDATE_ROLE: &str = "UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2";

const DELETE_MEMBERSHIP: &str = "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2";

const END_SESSIONS: &str = "UPDATE sessions SET revoked_at = now() \
     WHERE org_id = $1 AND user_id = $2 AND revoked_at IS NULL";
