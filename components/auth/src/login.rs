//! `POST /v1/auth/login`: the user's password, then a session for one of
//! their orgs (`org_slug`, else their default org, else their first).
//!
//! An unknown email and a wrong password get the same 401 in about the same
//! time: an unknown email is checked against a dummy hash.

use plinth_platform::domain::{OrgId, SessionId, UserId};
use plinth_platform::password::{self, Password, Verified};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, json, log};
use serde::{Deserialize, Serialize};

use crate::tokens::{self, Grant, Issuer, Tokens};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    email: String,
    password: String,
    org_slug: Option<String>,
}

#[derive(Deserialize)]
struct StoredUser {
    id: UserId,
    email: String,
    name: String,
    password_hash: String,
    default_org_id: Option<String>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct OrgMembership {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub role: String,
}

#[derive(Serialize)]
struct UserView<'a> {
    id: UserId,
    email: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct LoggedIn<'a> {
    user: UserView<'a>,
    org: &'a OrgMembership,
    orgs: &'a [OrgMembership],
    #[serde(flatten)]
    tokens: Tokens,
}

const FIND_USER: &str = "SELECT id, email, name, password_hash, default_org_id \
     FROM users WHERE lower(email) = lower($1)";

const USER_ORGS: &str = "SELECT o.id, o.name, o.slug, m.role FROM memberships m \
     JOIN org o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY m.created_at, o.slug LIMIT 200";

const REHASH: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";

pub fn login(ctx: &RequestCtx) -> HandlerResult {
    let body: Body = ctx.json()?;
    // A password that could never have been set cannot match: same answer.
    let Ok(password) = Password::parse(body.password) else {
        return Err(Error::Unauthorized);
    };
    let issuer = Issuer::from_request(ctx)?;
    let db = ctx.db()?;
    let user: Option<StoredUser> =
        db.fetch_optional(FIND_USER, &[Param::from(body.email.trim())])?;
    let Some(user) = user else {
        let _ = password::verify_absent(&password);
        return Err(Error::Unauthorized);
    };
    match password::verify(&password, &user.password_hash) {
        Verified::Mismatch => return Err(Error::Unauthorized),
        Verified::Ok { needs_rehash: true } => {
            let hash = password::hash(&password, ctx.random()?)?;
            if let Err(err) = db.execute(REHASH, &[Param::from(user.id), Param::from(hash)]) {
                // The login still succeeds; the next one tries again.
                log::warn(format_args!("rehash of a password failed: {err}"));
            }
        }
        Verified::Ok {
            needs_rehash: false,
        } => {}
    }
    let orgs: Vec<OrgMembership> = db.fetch_all(USER_ORGS, &[Param::from(user.id)])?;
    let org = match &body.org_slug {
        Some(slug) => orgs
            .iter()
            .find(|o| o.slug == *slug)
            .ok_or(Error::NotFound)?,
        None => orgs
            .iter()
            .find(|o| Some(&o.id) == user.default_org_id.as_ref())
            .or_else(|| orgs.first())
            .ok_or(Error::Forbidden)?,
    };
    let grant = Grant {
        user: user.id,
        org: OrgId::parse(&org.id)?,
        session: SessionId::new_v4(ctx.random()?),
        role: org.role.clone(),
    };
    let tokens = db.transaction(|tx| tokens::open_session(ctx, tx, &issuer, &grant))?;
    let answer = LoggedIn {
        user: UserView {
            id: user.id,
            email: &user.email,
            name: &user.name,
        },
        org,
        orgs: &orgs,
        tokens,
    };
    Ok(tokens::no_store(json(200, &answer)?))
}
