//! `POST /v1/auth/password/change` (bearer) `{current_password,
//! new_password, end_other_sessions?}`: a signed-in user's new password.
//!
//! A wrong `current_password` is a **403** (the token is fine, so not a
//! 401 that would send a client to sign in again), counted against the
//! account's login attempts (`rate_limit::PER_ACCOUNT_PER_MINUTE`), so a
//! stolen access token cannot be used to guess the password. The other
//! sessions of the user end unless `end_other_sessions` is `false`; the
//! caller's own session never does. A `password_changed` notice is queued
//! and delivered after the commit. 204.

use plinth_platform::auth::Credentials;
use plinth_platform::domain::UserId;
use plinth_platform::mail;
use plinth_platform::password::{self, Password, Verified};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, Response};
use serde::Deserialize;

use crate::mailbox;
use crate::rate_limit::{self, Route};
use crate::session;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    current_password: String,
    new_password: String,
    end_other_sessions: Option<bool>,
}

#[derive(Deserialize)]
struct StoredUser {
    id: UserId,
    email: String,
    password_hash: String,
}

const USER: &str = "SELECT id, email, password_hash FROM users WHERE id = $1";

const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";

pub fn change(ctx: &RequestCtx) -> HandlerResult {
    rate_limit::guarded(ctx, Route::ChangePassword, |limits| {
        let credentials = Credentials::from_request(ctx)?;
        let body: Body = ctx.json()?;
        let db = ctx.db()?;
        let caller = db.confirm(&credentials)?;
        let user: StoredUser = db.fetch_one(USER, &[Param::from(caller.user())])?;
        // A new password that could not be set is no guess of the current one.
        let new = Password::parse(body.new_password).map_err(|e| e.at("new_password"))?;
        limits.check_account(&user.email)?;
        let current = Password::parse(body.current_password).map_err(|_| Error::Forbidden)?;
        if let Verified::Mismatch = password::verify(&current, &user.password_hash) {
            return Err(Error::Forbidden);
        }
        let hash = password::hash(&new, ctx.random()?)?;
        db.transaction(|tx| {
            tx.execute(
                SET_PASSWORD,
                &[Param::from(user.id), Param::from(hash.as_str())],
            )?;
            if body.end_other_sessions.unwrap_or(true) {
                tx.execute(
                    session::END_OTHERS,
                    &[Param::from(user.id), Param::from(caller.session())],
                )?;
            }
            mail::enqueue(tx, &mailbox::password_changed(&user.email))
        })?;
        mail::deliver_to(ctx, &user.email);
        Ok(Response::empty(204))
    })
}
