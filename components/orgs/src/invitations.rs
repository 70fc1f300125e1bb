//! Invitations to the token's org: create, list, revoke, resend
//! (members.manage). Accepting one is the auth component's
//! (`POST /v1/auth/accept-invite`), from the mailed token alone.
//!
//! The token is 256 random bits, mailed once (queued in the outbox in the
//! same transaction as the row) and stored only as its digest: no response
//! carries it. Nobody invites above their own role. A resend makes a new
//! token (the old one stops working) and a new expiry, at most once a
//! minute per invitation.

use plinth_platform::audit::{self, Event};
use plinth_platform::auth::{Caller, Permission};
use plinth_platform::domain::{Email, InvitationId};
use plinth_platform::mail::{self, MailKind, Message, OneTimeToken};
use plinth_platform::page::PageRequest;
use plinth_platform::{Error, HandlerResult, Keyed, Param, RequestCtx, Response, TenantTx, json};
use serde::{Deserialize, Serialize};

use crate::org::Org;
use crate::update::lock_current;

/// Days an invitation stays valid unless the request says otherwise.
pub const DEFAULT_DAYS: i64 = 7;
const MAX_DAYS: i64 = 30;
/// Seconds between two sends of one invitation.
const RESEND_SECS: i64 = 60;

/// An invitation as the API shows it (never its token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invitation {
    id: String,
    email: String,
    role: String,
    /// pending, accepted, revoked or expired.
    state: String,
    invited_by: Option<String>,
    expires_at: String,
    sent_at: String,
    accepted_at: Option<String>,
    revoked_at: Option<String>,
    created_at: String,
}

impl Keyed for Invitation {
    fn sort_key(&self) -> String {
        self.created_at.clone()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

/// The columns of [`Invitation`], with the state computed as of now (also
/// what writes return).
macro_rules! columns {
    () => {
        "id, email, role, CASE WHEN accepted_at IS NOT NULL THEN 'accepted' \
         WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired' \
         ELSE 'pending' END AS state, invited_by, expires_at, sent_at, accepted_at, revoked_at, \
         created_at"
    };
}

const VIEW: &str = concat!("SELECT ", columns!(), " FROM invitations WHERE org_id = $1");

const INSERT: &str = concat!(
    "INSERT INTO invitations (org_id, email, role, token_digest, invited_by, expires_at) \
     VALUES ($1, $2, $3, $4, $5::text::uuid, now() + make_interval(days => $6::int)) RETURNING ",
    columns!()
);

// The same lifetime as before, counted from now.
const RENEW: &str = concat!(
    "UPDATE invitations SET token_digest = $3, expires_at = now() + (expires_at - sent_at), \
     sent_at = now() WHERE org_id = $1 AND id = $2 RETURNING ",
    columns!()
);

const LOCK: &str = concat!(
    "SELECT ",
    columns!(),
    ", extract(epoch FROM now() - sent_at)::int8 AS sent_secs_ago \
     FROM invitations WHERE org_id = $1 AND id = $2 FOR UPDATE"
);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    email: String,
    role: String,
    expires_in_days: Option<i64>,
}

/// `POST /v1/orgs/current/invitations` `{email, role, expires_in_days?}`:
/// 201 with the invitation; 409 naming `email` when the address is
/// already a member or has a pending invitation; 403 for a role above the
/// caller's own.
pub fn create(ctx: &RequestCtx) -> HandlerResult {
    let body: CreateBody = ctx.json()?;
    let email = Email::parse(&body.email)?;
    let role = plinth_platform::auth::Role::parse(&body.role)?;
    let days = body.expires_in_days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(Error::field(
            "expires_in_days",
            format!("must be from 1 to {MAX_DAYS}"),
        ));
    }
    let invitation = ctx.tenant_as(Permission::MembersManage, |tx, caller| {
        if role > caller.role() {
            return Err(Error::Forbidden);
        }
        let org = lock_current(tx)?;
        refuse_existing(tx, &email)?;
        let token = OneTimeToken::new(ctx, "inv")?;
        let row: Invitation = tx.fetch_one(
            INSERT,
            &[
                Param::from(email.as_str()),
                role.as_str().into(),
                Param::Text(token.digest.clone()),
                Param::from(caller.user().to_string()),
                Param::Int32(days as i32),
            ],
        )?;
        send(ctx, tx, &org, &row, &token)?;
        audit::record(
            ctx,
            tx,
            Event::created("invitation.created", "invitation", row.id.clone(), &row)?,
        )?;
        Ok(row)
    })?;
    json(201, &invitation)
}

#[derive(Deserialize)]
struct Existing {
    member: bool,
    pending: bool,
}

const EXISTING: &str = "SELECT \
     EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND lower(u.email) = lower($2)) AS member, \
     EXISTS (SELECT 1 FROM invitations WHERE org_id = $1 AND lower(email) = lower($2) \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()) AS pending";

/// 409 when `email` is already a member, or already has a pending
/// invitation (resend that one instead).
fn refuse_existing(tx: &TenantTx<'_>, email: &Email) -> Result<(), Error> {
    let existing: Existing = tx.fetch_one(EXISTING, &[Param::from(email.as_str())])?;
    if existing.member {
        return Err(Error::conflict(
            Some("email"),
            "this address is already a member",
        ));
    }
    if existing.pending {
        return Err(Error::conflict(
            Some("email"),
            "this address already has a pending invitation; resend it instead",
        ));
    }
    Ok(())
}

/// Queues the invitation's message in the transaction that made its token.
fn send(
    ctx: &RequestCtx,
    tx: &TenantTx<'_>,
    org: &Org,
    invitation: &Invitation,
    token: &OneTimeToken,
) -> Result<(), Error> {
    let base = ctx.config().get("public_url").unwrap_or_default();
    let link = match base.trim_end_matches('/') {
        "" => String::new(),
        base => format!(
            "Accept the invitation: {base}/accept-invite?token={}\n",
            token.token
        ),
    };
    let body = format!(
        "You are invited to join {org} as {role}.\n\n{link}\
         To accept through the API, send this token to POST /v1/auth/accept-invite: {token}\n\n\
         It expires at {expires}.\n",
        org = org.name,
        role = invitation.role,
        token = token.token,
        expires = invitation.expires_at,
    );
    mail::enqueue_for_org(
        tx,
        &Message {
            to: invitation.email.clone(),
            kind: MailKind::Invitation,
            subject: format!("Join {} on Plinth", org.name),
            body,
        },
    )
}

fn list_sql() -> String {
    format!(
        "SELECT * FROM ({VIEW}) v WHERE ($2::text IS NULL OR state = $2) \
         AND ($3::text IS NULL OR (created_at, id) < ($3::text::timestamptz, $4::text::uuid)) \
         ORDER BY created_at DESC, id DESC LIMIT $5"
    )
}

/// `GET /v1/orgs/current/invitations?state=&limit=&cursor=`: newest first.
pub fn list(ctx: &RequestCtx) -> HandlerResult {
    let page = PageRequest::from_query(ctx)?;
    let state = ctx.query_param("state")?;
    const STATES: [&str; 4] = ["pending", "accepted", "revoked", "expired"];
    if state.as_deref().is_some_and(|s| !STATES.contains(&s)) {
        return Err(Error::field(
            "state",
            "must be pending, accepted, revoked or expired",
        ));
    }
    let (_, page) = ctx.tenant_page::<Invitation>(
        Permission::MembersManage,
        &list_sql(),
        &[Param::from(state)],
        &page,
    )?;
    Ok(json(200, &page)?.with_header("cache-control", "private, no-cache"))
}

fn target(ctx: &RequestCtx) -> Result<InvitationId, Error> {
    InvitationId::parse(ctx.param("id")?).map_err(|_| Error::NotFound)
}

/// The invitation, locked, or 404 (none of this org's).
fn lock(tx: &TenantTx<'_>, id: InvitationId) -> Result<Locked, Error> {
    tx.fetch_optional(LOCK, &[Param::from(id)])?
        .ok_or(Error::NotFound)
}

/// A locked invitation, and how long ago it was last sent.
#[derive(Deserialize)]
struct Locked {
    #[serde(flatten)]
    invitation: Invitation,
    sent_secs_ago: i64,
}

/// `DELETE /v1/orgs/current/invitations/{id}`: 204 (again 204 when it was
/// already revoked); 409 once it was accepted.
pub fn revoke(ctx: &RequestCtx) -> HandlerResult {
    let id = target(ctx)?;
    ctx.tenant_as(Permission::MembersManage, |tx, caller| {
        let before = lock(tx, id)?.invitation;
        match before.state.as_str() {
            "revoked" => return Ok(()),
            "accepted" => {
                return Err(Error::conflict(None, "the invitation was already accepted"));
            }
            _ => {}
        }
        refuse_above(caller, &before)?;
        tx.execute(
            "UPDATE invitations SET revoked_at = now() WHERE org_id = $1 AND id = $2",
            &[Param::from(id)],
        )?;
        audit::record(
            ctx,
            tx,
            Event::deleted(
                "invitation.revoked",
                "invitation",
                before.id.clone(),
                &before,
            )?,
        )
    })?;
    Ok(Response::empty(204))
}

/// Nobody acts on an invitation to a role above their own.
fn refuse_above(caller: &Caller, invitation: &Invitation) -> Result<(), Error> {
    let role = plinth_platform::auth::Role::parse(&invitation.role)
        .map_err(|_| Error::internal("an invitation has an unknown role"))?;
    if role > caller.role() {
        return Err(Error::Forbidden);
    }
    Ok(())
}

/// `POST /v1/orgs/current/invitations/{id}/resend`: a new token and
/// expiry, mailed; 409 once accepted or revoked; 429 within a minute of the
/// last send.
pub fn resend(ctx: &RequestCtx) -> HandlerResult {
    let id = target(ctx)?;
    let invitation = ctx.tenant_as(Permission::MembersManage, |tx, caller| {
        let org = lock_current(tx)?;
        let Locked {
            invitation: before,
            sent_secs_ago,
        } = lock(tx, id)?;
        if matches!(before.state.as_str(), "accepted" | "revoked") {
            return Err(Error::conflict(
                None,
                format!(
                    "the invitation was {}; it cannot be sent again",
                    before.state
                ),
            ));
        }
        refuse_above(caller, &before)?;
        if sent_secs_ago < RESEND_SECS {
            return Err(Error::TooManyRequests {
                retry_after: (RESEND_SECS - sent_secs_ago).max(1) as u64,
                policy: None,
            });
        }
        let token = OneTimeToken::new(ctx, "inv")?;
        let after: Invitation =
            tx.fetch_one(RENEW, &[Param::from(id), Param::Text(token.digest.clone())])?;
        send(ctx, tx, &org, &after, &token)?;
        if let Some(event) = Event::changed(
            "invitation.resent",
            "invitation",
            after.id.clone(),
            &before,
            &after,
        )? {
            audit::record(ctx, tx, event)?;
        }
        Ok(after)
    })?;
    json(200, &invitation)
}
