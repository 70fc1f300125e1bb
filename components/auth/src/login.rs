//! `POST /v1/auth/login`: the user's password, then a session for one of
//! their orgs (`org_slug`, else their default org, else their first).
//!
//! An unknown email and a wrong password get the same 401 in about the same
//! time: an unknown email is checked against a dummy hash. Limited per
//! client address and per account ([`crate::rate_limit`]).
//!
//! [`sign_in`] is the password check and session of both this route and the
//! token endpoint's password grant.

use plinth_platform::domain::{OrgId, SessionId, UserId};
use plinth_platform::password::{self, Password, Verified};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, json, log};
use serde::{Deserialize, Serialize};

use crate::rate_limit::{self, Limits, Route};
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
    default_org_id: Option<OrgId>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct OrgMembership {
    pub id: OrgId,
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
    rate_limit::guarded(ctx, Route::Login, |limits| {
        let body: Body = ctx.json()?;
        let signed_in = sign_in(
            ctx,
            limits,
            &body.email,
            body.password,
            body.org_slug.as_deref(),
        )?;
        let org = &signed_in.orgs[signed_in.org];
        let answer = LoggedIn {
            user: UserView {
                id: signed_in.user.id,
                email: &signed_in.user.email,
                name: &signed_in.user.name,
            },
            org,
            orgs: &signed_in.orgs,
            tokens: signed_in.tokens,
        };
        Ok(tokens::no_store(json(200, &answer)?))
    })
}

/// A password sign-in: the user, their orgs, which of them the session is
/// for, and its tokens.
pub struct SignedIn {
    user: StoredUser,
    orgs: Vec<OrgMembership>,
    /// Index into `orgs`.
    org: usize,
    pub tokens: Tokens,
}

/// Checks `password` for `email` (counted against the account's rate
/// limit first) and opens a session in the org named by `org_slug`, else
/// the user's default org, else their first. 401 for a wrong password and
/// an unknown email alike, 404 for an `org_slug` the user is not in, 403
/// for a user in no org. Login and the token endpoint's password grant.
pub fn sign_in(
    ctx: &RequestCtx,
    limits: &mut Limits,
    email: &str,
    password: String,
    org_slug: Option<&str>,
) -> Result<SignedIn, Error> {
    limits.check_account(email)?;
    // A password that could never have been set cannot match: same answer.
    let Ok(password) = Password::parse(password) else {
        return Err(Error::Unauthorized);
    };
    let issuer = Issuer::from_request(ctx)?;
    let db = ctx.db()?;
    let user: Option<StoredUser> = db.fetch_optional(FIND_USER, &[Param::from(email.trim())])?;
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
    let org = match org_slug {
        Some(slug) => orgs
            .iter()
            .position(|o| o.slug == slug)
            .ok_or(Error::NotFound)?,
        None => orgs
            .iter()
            .position(|o| Some(&o.id) == user.default_org_id.as_ref())
            .or_else(|| (!orgs.is_empty()).then_some(0))
            .ok_or(Error::Forbidden)?,
    };
    let grant = Grant {
        user: user.id,
        org: orgs[org].id,
        session: SessionId::new_v4(ctx.random()?),
        role: orgs[org].role.clone(),
    };
    let tokens = db.transaction(|tx| tokens::open_session(ctx, tx, &issuer, &grant))?;
    Ok(SignedIn {
        user,
        orgs,
        org,
        tokens,
    })
}
