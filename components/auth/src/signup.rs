//! `POST /v1/auth/signup`: a user, their org and the owner membership, in one
//! transaction, and the first session's tokens.
//!
//! A taken email answers like a new one (201, the same shape, about the same
//! time: the password is hashed either way) and creates nothing, so signup
//! does not tell who has an account. Limited per client address
//! ([`crate::rate_limit`]).
//!
//! A new account's transaction also queues the verification message (a
//! 48-hour link, [`crate::mailbox`]); the taken-email path queues nothing.
//! Neither tries to deliver it during the request: how long that took
//! would tell the two apart (the mailer sends it: `docs/identity.md`).

use plinth_platform::domain::{Email, Name, OrgId, SessionId, Slug, UserId};
use plinth_platform::mail;
use plinth_platform::orgs::{self, NewOrg, OrgRow};
use plinth_platform::password::{self, Password};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, Tx, json};
use serde::{Deserialize, Serialize};

use crate::mailbox::{self, Purpose};
use crate::rate_limit::{self, Route};
use crate::tokens::{self, Grant, Issuer, Tokens};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    email: String,
    password: String,
    name: String,
    org_name: String,
    org_slug: Option<String>,
}

/// The request, parsed at the edge.
struct NewAccount {
    email: Email,
    password: Password,
    name: Name,
    org_name: Name,
    /// `None`: made from the org name, suffixed until free.
    org_slug: Option<Slug>,
}

impl TryFrom<Body> for NewAccount {
    type Error = Error;

    fn try_from(body: Body) -> Result<Self, Error> {
        Ok(Self {
            email: Email::parse(&body.email)?,
            password: Password::parse(body.password)?,
            name: Name::parse(&body.name)?,
            org_name: Name::parse(&body.org_name).map_err(|e| e.at("org_name"))?,
            org_slug: body
                .org_slug
                .map(|slug| Slug::parse(&slug).map_err(|e| e.at("org_slug")))
                .transpose()?,
        })
    }
}

#[derive(Serialize)]
struct Account {
    user: UserView,
    org: OrgView,
    role: &'static str,
    #[serde(flatten)]
    tokens: Tokens,
}

#[derive(Serialize, Deserialize)]
struct UserView {
    id: UserId,
    email: String,
    name: String,
}

#[derive(Serialize)]
struct OrgView {
    id: OrgId,
    name: String,
    slug: String,
}

impl From<OrgRow> for OrgView {
    fn from(org: OrgRow) -> Self {
        Self {
            id: org.id,
            name: org.name,
            slug: org.slug,
        }
    }
}

pub fn signup(ctx: &RequestCtx) -> HandlerResult {
    rate_limit::guarded(ctx, Route::Signup, |_| create(ctx))
}

fn create(ctx: &RequestCtx) -> HandlerResult {
    let account = NewAccount::try_from(ctx.json::<Body>()?)?;
    let issuer = Issuer::from_request(ctx)?;
    let hash = password::hash(&account.password, ctx.random()?)?;
    let user = UserId::new_v4(ctx.random()?);
    let session = SessionId::new_v4(ctx.random()?);
    let created = ctx.db()?.transaction(|tx| {
        let Some(user) = insert_user(tx, user, &account, &hash)? else {
            return Ok(None);
        };
        let new_org = NewOrg {
            name: &account.org_name,
            slug: account.org_slug.as_ref(),
            slug_field: "org_slug",
        };
        let org = OrgView::from(orgs::create_with_owner(ctx, tx, &new_org, user.id)?);
        let org_id = org.id;
        tx.execute(
            SET_DEFAULT_ORG,
            &[Param::from(user.id), Param::from(org_id)],
        )?;
        let grant = Grant {
            user: user.id,
            org: org_id,
            session,
            role: "owner".into(),
        };
        let tokens = tokens::open_session(ctx, tx, &issuer, &grant)?;
        let verify = mailbox::issue(ctx, tx, user.id, &user.email, Purpose::VerifyEmail)?;
        mail::enqueue(tx, &mailbox::verification(ctx, &user.email, &verify))?;
        Ok(Some(Account {
            user,
            org,
            role: "owner",
            tokens,
        }))
    })?;
    let account = match created {
        Some(account) => account,
        None => decoy(ctx, &issuer, &account, user, session)?,
    };
    Ok(tokens::no_store(json(201, &account)?))
}

const INSERT_USER: &str = "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4) \
     ON CONFLICT ((lower(email))) DO NOTHING RETURNING id, email, name";

/// The new user, or `None` when the email is taken.
fn insert_user(
    tx: &Tx<'_>,
    id: UserId,
    account: &NewAccount,
    hash: &str,
) -> Result<Option<UserView>, Error> {
    tx.fetch_optional(
        INSERT_USER,
        &[
            Param::from(id),
            Param::from(account.email.as_str()),
            Param::from(account.name.as_str()),
            Param::from(hash),
        ],
    )
}

const SET_DEFAULT_ORG: &str = "UPDATE users SET default_org_id = $2 WHERE id = $1";

/// The answer for a taken email: the shape of a real one, with tokens that
/// no session backs, so it works nowhere.
fn decoy(
    ctx: &RequestCtx,
    issuer: &Issuer,
    account: &NewAccount,
    user: UserId,
    session: SessionId,
) -> Result<Account, Error> {
    let org = OrgId::new_v4(ctx.random()?);
    let slug = match &account.org_slug {
        Some(slug) => slug.clone(),
        None => Slug::from_name(account.org_name.as_str())
            .map_or_else(|| Slug::parse("org-decoy"), Ok)?,
    };
    let grant = Grant {
        user,
        org,
        session,
        role: "owner".into(),
    };
    Ok(Account {
        user: UserView {
            id: user,
            email: account.email.to_string(),
            name: account.name.to_string(),
        },
        org: OrgView {
            id: org,
            name: account.org_name.to_string(),
            slug: slug.to_string(),
        },
        role: "owner",
        tokens: Tokens {
            access_token: issuer.access_token(&grant, ctx.now()),
            token_type: "Bearer",
            expires_in: tokens::ACCESS_TTL_SECS,
            refresh_token: tokens::new_refresh_token(ctx)?,
        },
    })
}
