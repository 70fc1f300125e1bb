//! The outbox behind the `admin_token` (the check of the migration routes,
//! `plinth_platform::admin::Admin`):
//!
//! - `GET /v1/auth/admin/outbox?to=<address>`: the newest 100 messages
//!   (to one address when `to` is given), bodies included — they hold the
//!   one-time links, which is what local development and the tests read.
//! - `POST /v1/auth/admin/outbox/deliver?to=<address>`: sends up to 100
//!   unsent messages over SMTP now (`smtp_url`); 503 when no relay is
//!   configured. Run it on a schedule: it is how the messages the requests
//!   do not deliver themselves (sign-up, forgot-password) go out.

use plinth_platform::admin::Admin;
use plinth_platform::mail::{self, Mailer, OutboxEntry};
use plinth_platform::{Error, HandlerResult, RequestCtx, json};
use serde::Serialize;

/// Messages per listing or delivery run.
const BATCH: u32 = 100;

#[derive(Serialize)]
struct Listing {
    items: Vec<OutboxEntry>,
}

pub fn list(ctx: &RequestCtx) -> HandlerResult {
    Admin::authorize(ctx)?;
    let to = ctx.query_param("to")?;
    let items = mail::outbox(&ctx.db()?, to.as_deref(), BATCH)?;
    Ok(json(200, &Listing { items })?.with_header("cache-control", "no-store"))
}

pub fn deliver(ctx: &RequestCtx) -> HandlerResult {
    Admin::authorize(ctx)?;
    let to = ctx.query_param("to")?;
    let mailer = Mailer::from_config(ctx.config())?;
    if !mailer.enabled() {
        return Err(Error::ServiceUnavailable(
            "mail delivery is not configured (smtp_url)".into(),
        ));
    }
    let delivery = mail::deliver(&ctx.db()?, &mailer, ctx.now(), to.as_deref(), BATCH)?;
    json(200, &delivery)
}
