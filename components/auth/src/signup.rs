//! `POST /v1/auth/signup`: a user, their org and the owner membership, in one
//! transaction, and the first session's tokens.
//!
//! A taken email answers like a new one (201, the same shape, about the same
//! time: the password is hashed either way) and creates nothing, so signup
//! does not tell who has an account. Limited per client address
//! ([`crate::rate_limit`]).

use plinth_platform::domain::{Email, OrgId, SessionId, Slug, UserId};
use plinth_platform::password::{self, Password};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, Tx, json};
use serde::{Deserialize, Serialize};

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
    name: String,
    org_name: String,
    /// `None`: made from the org name, suffixed until free.
    org_slug: Option<Slug>,
}

impl TryFrom<Body> for NewAccount {
    type Error = Error;

    fn try_from(body: Body) -> Result<Self, Error> {
        Ok(Self {
            email: Email::parse(&body.email)?,
            password: Password::parse(body.password)?,
            name: display_name(&body.name, "name")?,
            org_name: display_name(&body.org_name, "org_name")?,
            org_slug: body
                .org_slug
                .map(|slug| Slug::parse(&slug).map_err(|e| e.at("org_slug")))
                .transpose()?,
        })
    }
}

/// 1–200 characters once trimmed.
pub fn display_name(value: &str, field: &str) -> Result<String, Error> {
    let trimmed = value.trim();
    match trimmed.chars().count() {
        1..=200 => Ok(trimmed.to_owned()),
        _ => Err(Error::field(field, "must be 1-200 characters")),
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

#[derive(Serialize, Deserialize)]
struct OrgView {
    id: OrgId,
    name: String,
    slug: String,
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
        let org = insert_org(ctx, tx, &account)?;
        let org_id = org.id;
        tx.execute(INSERT_OWNER, &[Param::from(org_id), Param::from(user.id)])?;
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
            Param::from(&account.name),
            Param::from(hash),
        ],
    )
}

const INSERT_ORG: &str = "INSERT INTO org (name, slug) VALUES ($1, $2) \
     ON CONFLICT ((lower(slug))) DO NOTHING RETURNING id, name, slug";

/// How many suffixed slugs to try when the one made from the name is taken.
const SLUG_ATTEMPTS: usize = 5;

fn insert_org(ctx: &RequestCtx, tx: &Tx<'_>, account: &NewAccount) -> Result<OrgView, Error> {
    let insert = |slug: &Slug| -> Result<Option<OrgView>, Error> {
        tx.fetch_optional(
            INSERT_ORG,
            &[Param::from(&account.org_name), Param::from(slug)],
        )
    };
    if let Some(slug) = &account.org_slug {
        return insert(slug)?
            .ok_or_else(|| Error::conflict(Some("org_slug"), "org_slug is already taken"));
    }
    let base = match Slug::from_name(&account.org_name) {
        Some(slug) => slug,
        None => Slug::parse(&format!("org-{}", hex::encode(ctx.random::<3>()?)))?,
    };
    if let Some(org) = insert(&base)? {
        return Ok(org);
    }
    for _ in 0..SLUG_ATTEMPTS {
        if let Some(org) = insert(&base.with_suffix(&hex::encode(ctx.random::<2>()?))?)? {
            return Ok(org);
        }
    }
    Err(Error::conflict(
        Some("org_slug"),
        "no free slug could be made from org_name; give org_slug",
    ))
}

const INSERT_OWNER: &str =
    "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner')";

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
        None => Slug::from_name(&account.org_name).map_or_else(|| Slug::parse("org-decoy"), Ok)?,
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
            name: account.name.clone(),
        },
        org: OrgView {
            id: org,
            name: account.org_name.clone(),
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
