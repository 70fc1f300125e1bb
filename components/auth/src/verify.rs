//! Verifying a user's address.
//!
//! - `POST /v1/auth/verify-email` `{token}`: uses a verification token
//!   ([`crate::mailbox`]: 404 unknown, 410 used, expired, or for an address
//!   the user no longer has) and sets `users.email_verified_at`. 200.
//! - `POST /v1/auth/verify-email/resend` (bearer): a new link (the earlier
//!   ones stop working), at most one per address per minute (429 with
//!   `Retry-After`); 409 when the address is already verified. 202.
//!
//! Both are limited per client address.

use plinth_platform::auth::Credentials;
use plinth_platform::mail;
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, json};
use serde::{Deserialize, Serialize};

use crate::mailbox::{self, Purpose};
use crate::rate_limit::{self, Route};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    token: String,
}

#[derive(Serialize)]
struct Verified {
    email: String,
    email_verified: bool,
}

const MARK_VERIFIED: &str =
    "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1";

pub fn verify(ctx: &RequestCtx) -> HandlerResult {
    rate_limit::guarded(ctx, Route::VerifyEmail, |_| {
        let body: Body = ctx.json()?;
        let redeemed = ctx.db()?.transaction(|tx| {
            let redeemed = mailbox::redeem(tx, &body.token, Purpose::VerifyEmail)?;
            tx.execute(MARK_VERIFIED, &[Param::from(redeemed.user_id)])?;
            Ok(redeemed)
        })?;
        json(
            200,
            &Verified {
                email: redeemed.email,
                email_verified: true,
            },
        )
    })
}

#[derive(Deserialize)]
struct Address {
    id: plinth_platform::domain::UserId,
    email: String,
    verified: bool,
}

const ADDRESS: &str =
    "SELECT id, email, email_verified_at IS NOT NULL AS verified FROM users WHERE id = $1";

#[derive(Serialize)]
struct Queued {
    detail: &'static str,
}

pub fn resend(ctx: &RequestCtx) -> HandlerResult {
    rate_limit::guarded(ctx, Route::VerifyResend, |limits| {
        let credentials = Credentials::from_request(ctx)?;
        let db = ctx.db()?;
        let caller = db.confirm(&credentials)?;
        let address: Address = db.fetch_one(ADDRESS, &[Param::from(caller.user())])?;
        if address.verified {
            return Err(Error::conflict(None, "the address is already verified"));
        }
        limits.check_mailbox(&address.email)?;
        db.transaction(|tx| {
            let token = mailbox::issue(ctx, tx, address.id, &address.email, Purpose::VerifyEmail)?;
            mail::enqueue(tx, &mailbox::verification(ctx, &address.email, &token))
        })?;
        // The caller's own address: no one learns anything from the wait.
        mail::deliver_to(ctx, &address.email);
        json(
            202,
            &Queued {
                detail: "a new verification link is on its way",
            },
        )
    })
}
