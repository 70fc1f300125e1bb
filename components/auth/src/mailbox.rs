//! The mailed one-time tokens of a user's own address (`email_tokens`):
//! verification (48 h) and password reset (1 h), each single-use and kept
//! only as its SHA-256 ([`OneTimeToken`]); and the messages that carry
//! them or tell of a changed password.
//!
//! A presented token is looked up and locked (`FOR UPDATE`) in the
//! transaction that uses it ([`redeem`]): an unknown one is a 404; one
//! already used, expired, or sent to an address that is no longer the
//! user's is a 410 — so two requests presenting one token never both
//! succeed.

use plinth_platform::domain::UserId;
use plinth_platform::mail::{self, MailKind, Message, OneTimeToken};
use plinth_platform::{Error, Param, RequestCtx, Tx};
use serde::Deserialize;

/// What a token is for (`email_tokens.purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }

    /// The token's prefix, which tells a pasted token's use at a glance.
    fn prefix(self) -> &'static str {
        match self {
            Self::VerifyEmail => "ver",
            Self::ResetPassword => "rst",
        }
    }

    /// How long a token works, in seconds.
    pub fn lifetime(self) -> i64 {
        match self {
            Self::VerifyEmail => 48 * 3600,
            Self::ResetPassword => 3600,
        }
    }
}

const RETIRE: &str = "UPDATE email_tokens SET used_at = now() \
     WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL";

const INSERT: &str = "INSERT INTO email_tokens (digest, user_id, purpose, email, expires_at) \
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))";

/// A new token of `purpose` for `user` at `email`, inside `tx`; the user's
/// earlier unused tokens of that purpose stop working (only the newest
/// link does).
pub fn issue(
    ctx: &RequestCtx,
    tx: &Tx<'_>,
    user: UserId,
    email: &str,
    purpose: Purpose,
) -> Result<OneTimeToken, Error> {
    let token = OneTimeToken::new(ctx, purpose.prefix())?;
    tx.execute(RETIRE, &[Param::from(user), Param::from(purpose.as_str())])?;
    tx.execute(
        INSERT,
        &[
            Param::from(&token.digest),
            Param::from(user),
            Param::from(purpose.as_str()),
            Param::from(email),
            Param::Float64(purpose.lifetime() as f64),
        ],
    )?;
    Ok(token)
}

/// A redeemed token: whose, and the address it was sent to.
#[derive(Deserialize)]
pub struct Redeemed {
    pub user_id: UserId,
    pub email: String,
}

#[derive(Deserialize)]
struct Found {
    user_id: UserId,
    email: String,
    used: bool,
    expired: bool,
    moved: bool,
}

const FIND: &str = "SELECT et.user_id, et.email, et.used_at IS NOT NULL AS used, \
     et.expires_at <= now() AS expired, lower(et.email) <> lower(u.email) AS moved \
     FROM email_tokens et JOIN users u ON u.id = et.user_id \
     WHERE et.digest = $1 AND et.purpose = $2 FOR UPDATE OF et";

const USE: &str = "UPDATE email_tokens SET used_at = now() WHERE digest = $1";

/// Uses the token `presented` for `purpose` inside `tx`: 404 when unknown
/// (or of another purpose), 410 when used, expired or sent to an address
/// the user no longer has; else marks it used and says whose it is.
pub fn redeem(tx: &Tx<'_>, presented: &str, purpose: Purpose) -> Result<Redeemed, Error> {
    let digest = OneTimeToken::digest_of(presented.trim());
    let found: Option<Found> =
        tx.fetch_optional(FIND, &[Param::from(&digest), Param::from(purpose.as_str())])?;
    let found = found.ok_or(Error::NotFound)?;
    if found.used {
        return Err(Error::Gone("this link was already used".into()));
    }
    if found.expired {
        return Err(Error::Gone("this link has expired".into()));
    }
    if found.moved {
        return Err(Error::Gone(
            "this link was sent to an address the account no longer has".into(),
        ));
    }
    tx.execute(USE, &[Param::from(&digest)])?;
    Ok(Redeemed {
        user_id: found.user_id,
        email: found.email,
    })
}

/// The app's public address for links (`public_url`), without a trailing
/// slash; empty when not set (the message then carries the bare token).
fn public_url(ctx: &RequestCtx) -> String {
    mail::optional(ctx.config(), "public_url")
        .trim_end_matches('/')
        .to_owned()
}

/// The lines of a message that hand over `token`: a link to `page` of the
/// app when `public_url` is set, and the token itself for API clients.
fn link(ctx: &RequestCtx, page: &str, token: &str) -> String {
    let base = public_url(ctx);
    let mut text = String::new();
    if !base.is_empty() {
        text.push_str(&format!("{base}/{page}?token={token}\n\n"));
    }
    text.push_str(&format!("token: {token}\n"));
    text
}

/// The verification message for `email`.
pub fn verification(ctx: &RequestCtx, email: &str, token: &OneTimeToken) -> Message {
    Message {
        to: email.to_owned(),
        kind: MailKind::VerifyEmail,
        subject: "Confirm your email address".into(),
        body: format!(
            "Please confirm that {email} is your address:\n\n{}\n\
             The link works once, for 48 hours. If you did not sign up, ignore this message.\n",
            link(ctx, "verify-email", &token.token)
        ),
    }
}

/// The password reset message for `email`.
pub fn reset(ctx: &RequestCtx, email: &str, token: &OneTimeToken) -> Message {
    Message {
        to: email.to_owned(),
        kind: MailKind::ResetPassword,
        subject: "Reset your password".into(),
        body: format!(
            "Someone asked to reset the password of the account of {email}. To choose a new one:\n\n{}\n\
             The link works once, for an hour. If it was not you, ignore this message: \
             your password stays as it is.\n",
            link(ctx, "reset-password", &token.token)
        ),
    }
}

/// The notice that the password of `email`'s account changed.
pub fn password_changed(email: &str) -> Message {
    Message {
        to: email.to_owned(),
        kind: MailKind::PasswordChanged,
        subject: "Your password was changed".into(),
        body: format!(
            "The password of the account of {email} was just changed.\n\n\
             If it was not you, reset it at once with \"forgot password\".\n"
        ),
    }
}
