//! `POST /v1/auth/refresh`: rotates a refresh token.
//!
//! Each token is used once: the first request to present it rotates it (in
//! one transaction: marks it, stores its successor, moves the session's
//! access digest on). Requests presenting it within [`GRACE_SECS`] after
//! that (parallel refreshes of one client) get the same successor and the
//! same access token, both derived from what the rotation stored. Presented
//! later, it was stolen or replayed: the whole session is revoked, and that
//! revocation commits although the answer is a 401.
//!
//! Limited per client address ([`crate::rate_limit`]). [`rotate`] is the
//! rotation of both this route and the token endpoint's `refresh_token`
//! grant.

use plinth_platform::domain::{OrgId, SessionId, UserId};
use plinth_platform::token::token_digest;
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, Tx, json, log};
use serde::Deserialize;

use crate::rate_limit::{self, Route};
use crate::tokens::{self, Grant, Issuer, Tokens};

/// How long a rotated token still returns its successor.
pub const GRACE_SECS: i64 = 30;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    refresh_token: String,
}

const ROTATE: &str = "UPDATE refresh_tokens SET rotated_at = now(), successor_digest = $2 \
     WHERE digest = $1 AND rotated_at IS NULL AND expires_at > now() \
     RETURNING session_id, extract(epoch from rotated_at)::int8 AS at";

const PRESENTED: &str = "SELECT session_id, successor_digest, \
     extract(epoch from rotated_at)::int8 AS at, \
     (rotated_at IS NOT NULL AND now() - rotated_at < make_interval(secs => $2)) AS in_grace \
     FROM refresh_tokens WHERE digest = $1";

const LIVE_SESSION: &str = "SELECT s.user_id, s.org_id, m.role FROM sessions s \
     JOIN memberships m ON m.user_id = s.user_id AND m.org_id = s.org_id \
     WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()";

const INSERT_SUCCESSOR: &str = "INSERT INTO refresh_tokens (digest, session_id, expires_at) \
     SELECT $1, $2, expires_at FROM sessions WHERE id = $2";

const MOVE_ACCESS: &str = "UPDATE sessions SET prev_access_digest = access_digest, \
     access_digest = $2 WHERE id = $1";

const REVOKE: &str = "UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL";

#[derive(Deserialize)]
struct Rotated {
    session_id: SessionId,
    at: i64,
}

#[derive(Deserialize)]
struct Presented {
    session_id: SessionId,
    successor_digest: Option<String>,
    at: Option<i64>,
    in_grace: bool,
}

#[derive(Deserialize)]
struct Live {
    user_id: UserId,
    org_id: OrgId,
    role: String,
}

enum Outcome {
    Tokens(Tokens),
    /// A rotated token came back after the grace: its session is revoked.
    Reused,
    Refused,
}

pub fn refresh(ctx: &RequestCtx) -> HandlerResult {
    rate_limit::guarded(ctx, Route::Refresh, |_| {
        let body: Body = ctx.json()?;
        let tokens = rotate(ctx, &body.refresh_token)?;
        Ok(tokens::no_store(json(200, &tokens)?))
    })
}

/// Rotates the refresh token `presented`: its successor's tokens, or 401
/// for a token that is unknown, expired, of a dead session, or rotated
/// before the grace (which revokes its session). This route and the token
/// endpoint's `refresh_token` grant.
pub fn rotate(ctx: &RequestCtx, presented: &str) -> Result<Tokens, Error> {
    let issuer = Issuer::from_request(ctx)?;
    let presented = presented.trim();
    let digest = token_digest(presented);
    let successor = issuer.successor(presented)?;
    let successor_digest = token_digest(&successor);
    let outcome = ctx.db()?.transaction(|tx| {
        let rotated: Option<Rotated> = tx.fetch_optional(
            ROTATE,
            &[Param::from(&digest), Param::from(&successor_digest)],
        )?;
        if let Some(rotated) = rotated {
            let Some(grant) = live_grant(tx, rotated.session_id)? else {
                return Ok(Outcome::Refused);
            };
            let access_token = issuer.access_token(&grant, rotated.at);
            tx.execute(
                INSERT_SUCCESSOR,
                &[
                    Param::from(&successor_digest),
                    Param::from(rotated.session_id),
                ],
            )?;
            tx.execute(
                MOVE_ACCESS,
                &[
                    Param::from(rotated.session_id),
                    Param::Text(token_digest(&access_token)),
                ],
            )?;
            return Ok(Outcome::Tokens(tokens_of(access_token, successor.clone())));
        }
        let seen: Option<Presented> = tx.fetch_optional(
            PRESENTED,
            &[Param::from(&digest), Param::Float64(GRACE_SECS as f64)],
        )?;
        let Some(seen) = seen else {
            return Ok(Outcome::Refused);
        };
        match (seen.at, seen.in_grace) {
            (Some(at), true) if seen.successor_digest.as_deref() == Some(&successor_digest) => {
                let Some(grant) = live_grant(tx, seen.session_id)? else {
                    return Ok(Outcome::Refused);
                };
                let access_token = issuer.access_token(&grant, at);
                Ok(Outcome::Tokens(tokens_of(access_token, successor.clone())))
            }
            (Some(_), _) => {
                tx.execute(REVOKE, &[Param::from(seen.session_id)])?;
                Ok(Outcome::Reused)
            }
            // Not rotated, so expired.
            (None, _) => Ok(Outcome::Refused),
        }
    })?;
    match outcome {
        Outcome::Tokens(tokens) => Ok(tokens),
        Outcome::Reused => {
            log::warn(format_args!(
                "a rotated refresh token was presented again; its session is revoked"
            ));
            Err(Error::Unauthorized)
        }
        Outcome::Refused => Err(Error::Unauthorized),
    }
}

/// Who the session is for now (its org and the current role there), if it
/// is live and the membership still exists.
fn live_grant(tx: &Tx<'_>, session: SessionId) -> Result<Option<Grant>, Error> {
    let live: Option<Live> = tx.fetch_optional(LIVE_SESSION, &[Param::from(session)])?;
    live.map(|live| {
        Ok(Grant {
            user: live.user_id,
            org: live.org_id,
            session,
            role: live.role,
        })
    })
    .transpose()
}

fn tokens_of(access_token: String, refresh_token: String) -> Tokens {
    Tokens {
        access_token,
        token_type: "Bearer",
        expires_in: tokens::ACCESS_TTL_SECS,
        refresh_token,
    }
}
