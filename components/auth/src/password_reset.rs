//! Resetting a forgotten password.
//!
//! - `POST /v1/auth/password/forgot` `{email}`: always 202 with the same
//!   body. For an address with an account, a reset token (1 hour, the
//!   earlier ones retired) and its message are written; for any other
//!   address nothing is. Both paths do the same work: the same mailbox
//!   cooldown in Redis (429 alike), one token drawn and one message
//!   composed, and **one** statement whose writes happen only when the
//!   address has an account, committed without waiting for the WAL flush
//!   (which only a write would wait for). Nothing is delivered during the request
//!   (an SMTP conversation would show in its time).
//! - `POST /v1/auth/password/reset` `{token, password}`: uses the token
//!   ([`crate::mailbox`]: 404 unknown, 410 used or expired), sets the new
//!   argon2id hash, counts the address as verified (the token came
//!   through it), ends **every** session of the user (their refresh tokens
//!   are refused from then on, their access tokens on the next request in
//!   every component), and queues a `password_changed` notice. 204.
//!
//! Both are limited per client address.

use plinth_platform::domain::Email;
use plinth_platform::mail::{self, OneTimeToken};
use plinth_platform::password::{self, Password};
use plinth_platform::{HandlerResult, Param, RequestCtx, Response, json};
use serde::{Deserialize, Serialize};

use crate::mailbox::{self, Purpose};
use crate::rate_limit::{self, Route};
use crate::session;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgotBody {
    email: String,
}

#[derive(Serialize)]
struct Accepted {
    detail: &'static str,
}

/// One statement for both paths: the writes run only when `u` found the
/// account, so an unknown address costs the same round trip and plan.
const FORGOT: &str = "WITH u AS (SELECT id, email FROM users WHERE lower(email) = lower($1)), \
     retired AS (UPDATE email_tokens SET used_at = now() \
       WHERE user_id IN (SELECT id FROM u) AND purpose = 'reset_password' AND used_at IS NULL), \
     issued AS (INSERT INTO email_tokens (digest, user_id, purpose, email, expires_at) \
       SELECT $2::text, id, 'reset_password', email, now() + make_interval(secs => $3) FROM u) \
     INSERT INTO email_outbox (to_address, kind, subject, body) \
     SELECT email, $4::text, $5::text, $6::text FROM u";

/// The commit of a transaction that wrote waits for its WAL to reach the
/// disk, that of one that wrote nothing does not: with that wait, a known
/// address would answer later by the time of a flush. Without it both
/// commit alike; a crash in the next fraction of a second can lose the
/// link, and the user asks again.
const NO_FLUSH_WAIT: &str = "SELECT set_config('synchronous_commit', 'off', true)";

pub fn forgot(ctx: &RequestCtx) -> HandlerResult {
    rate_limit::guarded(ctx, Route::ForgotPassword, |limits| {
        let body: ForgotBody = ctx.json()?;
        let email = Email::parse(&body.email)?;
        limits.check_mailbox(email.as_str())?;
        let token = OneTimeToken::new(ctx, "rst")?;
        let message = mailbox::reset(ctx, email.as_str(), &token);
        ctx.db()?.transaction(|tx| {
            tx.execute(NO_FLUSH_WAIT, &[])?;
            tx.execute(
                FORGOT,
                &[
                    Param::from(email.as_str()),
                    Param::from(&token.digest),
                    Param::Float64(Purpose::ResetPassword.lifetime() as f64),
                    Param::from(message.kind.as_str()),
                    Param::from(message.subject.as_str()),
                    Param::from(message.body.as_str()),
                ],
            )
        })?;
        json(
            202,
            &Accepted {
                detail: "if an account uses this address, a reset link is on its way",
            },
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    token: String,
    password: String,
}

const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2, \
     email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1";

pub fn reset(ctx: &RequestCtx) -> HandlerResult {
    rate_limit::guarded(ctx, Route::ResetPassword, |_| {
        let body: ResetBody = ctx.json()?;
        let password = Password::parse(body.password)?;
        let hash = password::hash(&password, ctx.random()?)?;
        let email = ctx.db()?.transaction(|tx| {
            let redeemed = mailbox::redeem(tx, &body.token, Purpose::ResetPassword)?;
            let user = Param::from(redeemed.user_id);
            tx.execute(SET_PASSWORD, &[user.clone(), Param::from(hash.as_str())])?;
            tx.execute(session::END_ALL, &[user])?;
            mail::enqueue(tx, &mailbox::password_changed(&redeemed.email))?;
            Ok(redeemed.email)
        })?;
        // The holder of the token knows the address: the wait tells nothing.
        mail::deliver_to(ctx, &email);
        Ok(Response::empty(204))
    })
}
