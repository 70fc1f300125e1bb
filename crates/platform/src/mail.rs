//! Mail: messages are written to the `email_outbox` table by [`enqueue`]
//! (or [`enqueue_for_org`]) in the same transaction as the change that
//! causes them, so a rolled-back change sends nothing and a committed one
//! is never lost. Delivery drains the outbox afterwards ([`deliver`]):
//! over SMTP ([`crate::smtp`]) to the relay of the `smtp_url` variable,
//! each message at least once (a message the relay accepted is marked sent
//! in the transaction that claimed it; should that commit fail, it goes out
//! again), up to [`MAX_ATTEMPTS`] tries. [`outbox`] lists the messages for
//! the admin route of development and tests.
//!
//! Also the one-time tokens mailed links carry ([`OneTimeToken`]): 256
//! random bits, shown once, stored only as their SHA-256.

use serde::{Deserialize, Serialize};

use crate::config::Source;
use crate::error::Error;
use crate::log;
use crate::pg::{Db, Param, TenantTx, Tx};
use crate::request::RequestCtx;
use crate::smtp::{self, Outgoing, Session, SmtpError, SmtpUrl};

/// Why a message is sent (`email_outbox.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    VerifyEmail,
    ResetPassword,
    Invitation,
    PasswordChanged,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::Invitation => "invitation",
            Self::PasswordChanged => "password_changed",
        }
    }
}

/// One message to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub kind: MailKind,
    pub subject: String,
    pub body: String,
}

const INSERT: &str =
    "INSERT INTO email_outbox (to_address, kind, subject, body) VALUES ($1, $2, $3, $4)";

// The same insert inside a tenant transaction, whose `$1` is the org.
const INSERT_FOR_ORG: &str = "INSERT INTO email_outbox (to_address, kind, subject, body) \
     SELECT $2, $3, $4, $5 WHERE $1::uuid IS NOT NULL";

fn params(message: &Message) -> [Param; 4] {
    [
        Param::Text(message.to.clone()),
        Param::Text(message.kind.as_str().to_owned()),
        Param::Text(message.subject.clone()),
        Param::Text(message.body.clone()),
    ]
}

/// Queues `message` inside `tx`.
pub fn enqueue(tx: &Tx<'_>, message: &Message) -> Result<(), Error> {
    tx.execute(INSERT, &params(message)).map(drop)
}

/// Queues `message` inside a tenant transaction.
pub fn enqueue_for_org(tx: &TenantTx<'_>, message: &Message) -> Result<(), Error> {
    tx.execute(INSERT_FOR_ORG, &params(message)).map(drop)
}

/// A single-use token for a mailed link (an invitation, a verification, a
/// password reset): the token, shown once, and its digest, the only form
/// stored.
pub struct OneTimeToken {
    pub token: String,
    pub digest: String,
}

impl OneTimeToken {
    /// 256 random bits, URL-safe, with a prefix that says what it is for
    /// (`inv`, `ver`, `rst`), so a token pasted in the wrong place is told
    /// apart at once.
    pub fn new(ctx: &RequestCtx, prefix: &str) -> Result<Self, Error> {
        let token = format!("{prefix}_{}", hex::encode(ctx.random::<32>()?));
        let digest = Self::digest_of(&token);
        Ok(Self { token, digest })
    }

    /// The stored form of a token a client presents.
    pub fn digest_of(token: &str) -> String {
        crate::token::token_digest(token)
    }
}

/// Tries per message before the mailer leaves it (with its `last_error`).
pub const MAX_ATTEMPTS: i32 = 5;

/// How the app mails: the relay (`smtp_url`; empty: messages stay in the
/// outbox) and the sender (`mail_from`). Both variables are optional: a
/// manifest that does not define them mails nothing.
#[derive(Debug, Clone)]
pub struct Mailer {
    relay: Option<SmtpUrl>,
    from: String,
}

/// The sender when `mail_from` is empty.
pub const DEFAULT_FROM: &str = "plinth@localhost";

impl Mailer {
    pub fn from_config(config: &dyn Source) -> Result<Self, Error> {
        let url = optional(config, "smtp_url");
        let relay = if url.is_empty() {
            None
        } else {
            Some(SmtpUrl::parse(&url).map_err(|why| crate::config::invalid("smtp_url", &why))?)
        };
        let from = optional(config, "mail_from");
        Ok(Self {
            relay,
            from: if from.is_empty() {
                DEFAULT_FROM.to_owned()
            } else {
                from
            },
        })
    }

    /// Whether a relay is configured.
    pub fn enabled(&self) -> bool {
        self.relay.is_some()
    }
}

/// A variable that may be missing from a manifest: its value, or empty.
pub fn optional(config: &dyn Source, name: &str) -> String {
    config
        .get(name)
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

/// What one [`deliver`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Accepted by the relay.
    pub sent: u32,
    /// Refused, or not sent because the relay could not be reached; each
    /// counts one attempt.
    pub failed: u32,
}

#[derive(Deserialize)]
struct Pending {
    id: String,
    to_address: String,
    subject: String,
    body: String,
}

// Oldest first; a message another delivery holds is skipped, not waited for.
const CLAIM: &str = "SELECT id, to_address, subject, body FROM email_outbox \
     WHERE sent_at IS NULL AND attempts < $1 AND ($2::text IS NULL OR lower(to_address) = lower($2)) \
     ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED";

const MARK_SENT: &str = "UPDATE email_outbox SET sent_at = now(), attempts = attempts + 1, \
     last_error = NULL WHERE id = $1::text::uuid";

const MARK_FAILED: &str = "UPDATE email_outbox SET attempts = attempts + 1, last_error = $2 \
     WHERE id = $1::text::uuid";

/// Sends up to `limit` unsent messages (only those to `to`, when given)
/// over one SMTP connection, in one transaction that holds their rows, so
/// that two deliveries never send one message twice. Without a relay it
/// sends nothing. A relay that cannot be reached costs each claimed
/// message one attempt (and its `last_error`); the database failing is
/// the error.
pub fn deliver(
    db: &Db,
    mailer: &Mailer,
    now: i64,
    to: Option<&str>,
    limit: u32,
) -> Result<Delivery, Error> {
    let Some(relay) = &mailer.relay else {
        return Ok(Delivery::default());
    };
    db.transaction(|tx| {
        let pending: Vec<Pending> = tx.fetch_all(
            CLAIM,
            &[
                Param::Int32(MAX_ATTEMPTS),
                Param::from(to),
                Param::Int64(i64::from(limit)),
            ],
        )?;
        let mut delivery = Delivery::default();
        if pending.is_empty() {
            return Ok(delivery);
        }
        let mut session = match relay
            .connect()
            .map_err(|err| SmtpError::Io(err.to_string()))
            .and_then(|stream| Session::open(stream, "plinth"))
        {
            Ok(session) => Some(session),
            Err(err) => {
                log::warn(format_args!("mail relay unavailable: {err}"));
                for message in &pending {
                    mark_failed(tx, &message.id, &err)?;
                    delivery.failed += 1;
                }
                None
            }
        };
        for message in &pending {
            let Some(open) = session.as_mut() else {
                break;
            };
            let sent = smtp::compose(&Outgoing {
                from: &mailer.from,
                to: &message.to_address,
                subject: &message.subject,
                body: &message.body,
                date: now,
                id: &message.id,
            })
            .and_then(|data| open.send(&mailer.from, &message.to_address, &data));
            match sent {
                Ok(()) => {
                    tx.execute(MARK_SENT, &[Param::Text(message.id.clone())])?;
                    delivery.sent += 1;
                }
                Err(err) => {
                    log::warn(format_args!("a message was not delivered: {err}"));
                    mark_failed(tx, &message.id, &err)?;
                    delivery.failed += 1;
                    if !err.session_usable() {
                        session = None;
                    }
                }
            }
        }
        // Those the broken connection did not reach keep their attempts.
        if let Some(open) = session {
            open.quit();
        }
        Ok(delivery)
    })
}

fn mark_failed(tx: &Tx<'_>, id: &str, err: &SmtpError) -> Result<(), Error> {
    let mut text = err.to_string();
    text.truncate(500);
    tx.execute(
        MARK_FAILED,
        &[Param::Text(id.to_owned()), Param::Text(text)],
    )
    .map(drop)
}

/// After the request's change committed: sends what waits for `to`, if a
/// relay is configured. Best effort: a failure is logged, the request
/// still succeeds, and the message stays queued for the next delivery.
///
/// Only for routes whose callers may learn that `to` has mail waiting
/// (the account's own notices): the time an SMTP conversation takes would
/// otherwise tell whether an address has an account.
pub fn deliver_to(ctx: &RequestCtx, to: &str) {
    let delivered = Mailer::from_config(ctx.config()).and_then(|mailer| {
        if !mailer.enabled() {
            return Ok(Delivery::default());
        }
        deliver(&ctx.db()?, &mailer, ctx.now(), Some(to), 10)
    });
    if let Err(err) = delivered {
        log::warn(format_args!("mail delivery after the change failed: {err}"));
    }
}

/// One message of the outbox, as the admin listing shows it (the body
/// included: it holds the one-time links, which is what tests read).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: String,
    pub to: String,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

const LIST: &str = "SELECT id, to_address AS \"to\", kind, subject, body, created_at, sent_at, \
     attempts, last_error FROM email_outbox \
     WHERE ($1::text IS NULL OR lower(to_address) = lower($1)) \
     ORDER BY created_at DESC, id DESC LIMIT $2";

/// The newest `limit` messages, only those to `to` when given.
pub fn outbox(db: &Db, to: Option<&str>, limit: u32) -> Result<Vec<OutboxEntry>, Error> {
    db.fetch_all(LIST, &[Param::from(to), Param::Int64(i64::from(limit))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::Services;
    use crate::services::fake::FakeServices;

    #[test]
    fn the_mailer_reads_optional_variables() {
        let none = FakeServices::new(&[], 0);
        let mailer = Mailer::from_config(none.config()).unwrap();
        assert!(!mailer.enabled(), "undefined: no relay");
        assert_eq!(mailer.from, DEFAULT_FROM);

        let set = FakeServices::new(
            &[
                ("smtp_url", "smtp://10.0.0.25:25"),
                ("mail_from", "no-reply@example.com"),
            ],
            0,
        );
        let mailer = Mailer::from_config(set.config()).unwrap();
        assert_eq!(
            mailer.relay,
            Some(SmtpUrl {
                host: "10.0.0.25".into(),
                port: 25
            })
        );
        assert_eq!(mailer.from, "no-reply@example.com");

        let bad = FakeServices::new(&[("smtp_url", "http://relay")], 0);
        let err = Mailer::from_config(bad.config()).unwrap_err();
        assert_eq!(err.status(), 500, "a misconfiguration");
    }

    #[test]
    fn without_a_relay_delivery_touches_nothing() {
        let fake = crate::pg::fake::FakeBackend::new();
        let db = Db::with_backend(fake.clone());
        let mailer = Mailer::from_config(FakeServices::new(&[], 0).config()).unwrap();
        assert_eq!(
            deliver(&db, &mailer, 0, None, 10).unwrap(),
            Delivery::default()
        );
        assert!(fake.calls().is_empty());
    }
}
