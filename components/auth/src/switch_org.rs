//! `POST /v1/auth/switch-org` `{org_id}` (bearer): tokens for another of the
//! caller's orgs.
//!
//! The caller is confirmed by the database ([`Db::confirm`]: a live session
//! and a membership in the token's org). If the user is also a member of
//! `org_id`, a **new** session for that org is opened (the current one goes
//! on: a client may hold one per org) and its tokens answer 200, with the
//! org and the role there. Otherwise 404, with nothing minted or written:
//! an org the user is not in, or that does not exist, looks the same.
//!
//! `org_id` is only a choice among the user's own memberships, looked up
//! by the confirmed user's id; nothing is done in that org by this request.
//! The org of tenant work still comes only from a token, here the one this
//! route mints once the database has found the membership.
//!
//! [`Db::confirm`]: plinth_platform::Db::confirm

use plinth_platform::auth::Credentials;
use plinth_platform::domain::{OrgRef, SessionId};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, json};
use serde::{Deserialize, Serialize};

use crate::login::OrgMembership;
use crate::tokens::{self, Grant, Issuer, Tokens};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    org_id: String,
}

#[derive(Serialize)]
struct Switched {
    org: OrgMembership,
    #[serde(flatten)]
    tokens: Tokens,
}

const MEMBERSHIP: &str = "SELECT o.id, o.name, o.slug, m.role FROM memberships m \
     JOIN org o ON o.id = m.org_id WHERE m.user_id = $1 AND m.org_id = $2";

pub fn switch_org(ctx: &RequestCtx) -> HandlerResult {
    let credentials = Credentials::from_request(ctx)?;
    let body: Body = ctx.json()?;
    let org = OrgRef::parse(body.org_id.trim())?;
    let issuer = Issuer::from_request(ctx)?;
    let db = ctx.db()?;
    let caller = db.confirm(&credentials)?;
    let membership: Option<OrgMembership> =
        db.fetch_optional(MEMBERSHIP, &[Param::from(caller.user()), Param::from(org)])?;
    let org = membership.ok_or(Error::NotFound)?;
    let grant = Grant {
        user: caller.user(),
        org: org.id,
        session: SessionId::new_v4(ctx.random()?),
        role: org.role.clone(),
    };
    let tokens = db.transaction(|tx| tokens::open_session(ctx, tx, &issuer, &grant))?;
    Ok(tokens::no_store(json(200, &Switched { org, tokens })?))
}
