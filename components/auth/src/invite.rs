//! `POST /v1/auth/accept-invite` `{token, name?, password?}`: joins the org
//! of an invitation (made by `POST /v1/orgs/current/invitations`) and
//! answers a session there, with the token response of login.
//!
//! - The token finds the invitation by its digest: unknown → 404; already
//!   accepted, revoked or expired → 410.
//! - **A new address** becomes an account: `name` and `password` are then
//!   required (422 naming each missing one), and the address counts as
//!   verified (the invitation was mailed to it). 201.
//! - **An address that has an account** joins as that user only: the
//!   request carries either that user's bearer token or that user's
//!   `password` (401 when it does not match; counted against the account's
//!   login attempts). 200.
//! - Signed in (bearer) as anyone but the invited address → 409, nothing
//!   changes. Already a member of the org → 409.
//!
//! All of it is one transaction that first locks the invitation row (`FOR
//! UPDATE`): of two concurrent accepts, the second waits, then finds the
//! invitation accepted (410). Limited per client address.

use plinth_platform::audit::{self, Event};
use plinth_platform::auth::Credentials;
use plinth_platform::domain::{Name, OrgId, SessionId, UserId};
use plinth_platform::mail::OneTimeToken;
use plinth_platform::password::{self, Password, Verified};
use plinth_platform::{Error, FieldError, HandlerResult, Param, RequestCtx, Tx, json};
use serde::{Deserialize, Serialize};

use crate::rate_limit::{self, Limits, Route};
use crate::tokens::{self, Grant, Issuer, Tokens};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    token: String,
    name: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize)]
struct Invitation {
    id: String,
    org_id: OrgId,
    email: String,
    role: String,
    accepted: bool,
    revoked: bool,
    expired: bool,
}

#[derive(Deserialize)]
struct StoredUser {
    id: UserId,
    email: String,
    name: String,
    password_hash: String,
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

#[derive(Serialize)]
struct Joined {
    user: UserView,
    org: OrgView,
    role: String,
    /// Whether this request created the account.
    created: bool,
    #[serde(flatten)]
    tokens: Tokens,
}

const FIND_INVITATION: &str = "SELECT id, org_id, email, role, \
     accepted_at IS NOT NULL AS accepted, revoked_at IS NOT NULL AS revoked, \
     expires_at <= now() AS expired \
     FROM invitations WHERE token_digest = $1 FOR UPDATE";

const FIND_USER: &str =
    "SELECT id, email, name, password_hash FROM users WHERE lower(email) = lower($1)";

const INSERT_USER: &str = "INSERT INTO users (id, email, name, password_hash, default_org_id, email_verified_at) \
     VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT ((lower(email))) DO NOTHING \
     RETURNING id, email, name";

// The invitation reached this address: that proves it as a link would.
const MARK_VERIFIED: &str =
    "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1";

const INSERT_MEMBERSHIP: &str = "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3) \
     ON CONFLICT (org_id, user_id) DO NOTHING";

const MARK_ACCEPTED: &str = "UPDATE invitations SET accepted_at = now(), accepted_by = $2 \
     WHERE id = $1::text::uuid";

const ORG: &str = "SELECT id, name, slug FROM org WHERE id = $1";

pub fn accept(ctx: &RequestCtx) -> HandlerResult {
    rate_limit::guarded(ctx, Route::AcceptInvite, |limits| {
        let body: Body = ctx.json()?;
        let issuer = Issuer::from_request(ctx)?;
        let db = ctx.db()?;
        // Who is signed in, if anyone: confirmed by the database, like
        // every bearer token.
        let signed_in = match ctx.header("authorization") {
            Some(_) => Some(db.confirm(&Credentials::from_request(ctx)?)?.user()),
            None => None,
        };
        let digest = OneTimeToken::digest_of(body.token.trim());
        let joined = db.transaction(|tx| {
            let invitation: Invitation = tx
                .fetch_optional(FIND_INVITATION, &[Param::from(&digest)])?
                .ok_or(Error::NotFound)?;
            refuse_spent(&invitation)?;
            let existing: Option<StoredUser> =
                tx.fetch_optional(FIND_USER, &[Param::from(invitation.email.as_str())])?;
            let (user, created) = match (existing, signed_in) {
                (Some(user), Some(me)) if user.id == me => (user_view(user), false),
                (_, Some(_)) => {
                    return Err(Error::conflict(
                        None,
                        "you are signed in as another user than the one invited; \
                         sign out, or sign in as the invited address",
                    ));
                }
                (Some(user), None) => (existing_user(limits, user, body.password.clone())?, false),
                (None, None) => (new_user(ctx, tx, &invitation, &body)?, true),
            };
            join(ctx, tx, &issuer, &invitation, user, created)
        })?;
        let status = if joined.created { 201 } else { 200 };
        Ok(tokens::no_store(json(status, &joined)?))
    })
}

/// 410 for an invitation that can no longer be accepted.
fn refuse_spent(invitation: &Invitation) -> Result<(), Error> {
    let why = if invitation.accepted {
        "this invitation was already accepted"
    } else if invitation.revoked {
        "this invitation was revoked"
    } else if invitation.expired {
        "this invitation has expired"
    } else {
        return Ok(());
    };
    Err(Error::Gone(why.into()))
}

fn user_view(user: StoredUser) -> UserView {
    UserView {
        id: user.id,
        email: user.email,
        name: user.name,
    }
}

/// The invited address has an account and no one is signed in: its
/// password, or 401 (422 when none is given).
fn existing_user(
    limits: &mut Limits,
    user: StoredUser,
    password: Option<String>,
) -> Result<UserView, Error> {
    let Some(password) = password else {
        return Err(Error::field(
            "password",
            "the invited address has an account: give its password, or sign in first",
        ));
    };
    limits.check_account(&user.email)?;
    let Ok(password) = Password::parse(password) else {
        return Err(Error::Unauthorized);
    };
    match password::verify(&password, &user.password_hash) {
        Verified::Mismatch => Err(Error::Unauthorized),
        Verified::Ok { .. } => Ok(user_view(user)),
    }
}

/// The account for a new address: `name` and `password` required.
fn new_user(
    ctx: &RequestCtx,
    tx: &Tx<'_>,
    invitation: &Invitation,
    body: &Body,
) -> Result<UserView, Error> {
    let mut missing = Vec::new();
    if body.name.is_none() {
        missing.push(FieldError::new("name", "is required for a new account"));
    }
    if body.password.is_none() {
        missing.push(FieldError::new("password", "is required for a new account"));
    }
    let (Some(name), Some(password)) = (&body.name, &body.password) else {
        return Err(Error::Validation(missing));
    };
    let name = Name::parse(name)?;
    let password = Password::parse(password.clone())?;
    let hash = password::hash(&password, ctx.random()?)?;
    let id = UserId::new_v4(ctx.random()?);
    let created: Option<UserView> = tx.fetch_optional(
        INSERT_USER,
        &[
            Param::from(id),
            Param::from(invitation.email.as_str()),
            Param::from(name.as_str()),
            Param::from(hash),
            Param::from(invitation.org_id),
        ],
    )?;
    // Another request created the account meanwhile (another invitation,
    // a sign-up): it is now an existing account, which needs its password.
    created.ok_or_else(|| {
        Error::conflict(
            None,
            "an account with this address was just created; accept again with its password",
        )
    })
}

/// Adds the membership, marks the invitation accepted and opens the
/// session.
fn join(
    ctx: &RequestCtx,
    tx: &Tx<'_>,
    issuer: &Issuer,
    invitation: &Invitation,
    user: UserView,
    created: bool,
) -> Result<Joined, Error> {
    let added = tx.execute(
        INSERT_MEMBERSHIP,
        &[
            Param::from(invitation.org_id),
            Param::from(user.id),
            Param::from(invitation.role.as_str()),
        ],
    )?;
    if added == 0 {
        return Err(Error::conflict(
            None,
            "you are already a member of this org",
        ));
    }
    tx.execute(MARK_VERIFIED, &[Param::from(user.id)])?;
    tx.execute(
        MARK_ACCEPTED,
        &[Param::from(invitation.id.as_str()), Param::from(user.id)],
    )?;
    let org: OrgView = tx.fetch_one(ORG, &[Param::from(invitation.org_id)])?;
    audit::record_for(
        ctx,
        tx,
        invitation.org_id,
        user.id,
        Event {
            action: "invitation.accepted",
            entity_type: "invitation",
            entity_id: invitation.id.clone(),
            before: None,
            after: Some(serde_json::json!({
                "user_id": user.id,
                "email": user.email,
                "role": invitation.role,
                "new_account": created,
            })),
        },
    )?;
    let grant = Grant {
        user: user.id,
        org: invitation.org_id,
        session: SessionId::new_v4(ctx.random()?),
        role: invitation.role.clone(),
    };
    let tokens = tokens::open_session(ctx, tx, issuer, &grant)?;
    Ok(Joined {
        user,
        org,
        role: invitation.role.clone(),
        created,
        tokens,
    })
}
