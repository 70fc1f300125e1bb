//! The audit log: one `audit_events` row per change, written by
//! [`record`] in the same transaction as the change itself, so a change
//! and its record commit or vanish together.
//!
//! `before` and `after` keep only the fields that changed (an update of a
//! name records `{"name": "old"}` → `{"name": "new"}`); a creation has no
//! `before`, a deletion no `after`. Secrets never belong in either: record
//! the public shape of an entity, never its row.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::{OrgId, UserId};
use crate::error::{Context, Error};
use crate::pg::{Param, TenantTx, Tx};
use crate::request::RequestCtx;

/// One change to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `<entity>.<verb>`: `member.role_changed`, `company.created`.
    pub action: &'static str,
    pub entity_type: &'static str,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Event {
    /// A new entity: `after` is its whole public shape.
    pub fn created(
        action: &'static str,
        entity_type: &'static str,
        entity_id: impl Into<String>,
        after: &impl Serialize,
    ) -> Result<Self, Error> {
        Ok(Self {
            action,
            entity_type,
            entity_id: entity_id.into(),
            before: None,
            after: Some(serde_json::to_value(after).context("serialize an audit event")?),
        })
    }

    /// A removed entity: `before` is its whole public shape.
    pub fn deleted(
        action: &'static str,
        entity_type: &'static str,
        entity_id: impl Into<String>,
        before: &impl Serialize,
    ) -> Result<Self, Error> {
        Ok(Self {
            action,
            entity_type,
            entity_id: entity_id.into(),
            before: Some(serde_json::to_value(before).context("serialize an audit event")?),
            after: None,
        })
    }

    /// A changed entity: only the top-level fields whose values differ.
    /// `None` when nothing changed (nothing to record).
    pub fn changed(
        action: &'static str,
        entity_type: &'static str,
        entity_id: impl Into<String>,
        before: &impl Serialize,
        after: &impl Serialize,
    ) -> Result<Option<Self>, Error> {
        let before = serde_json::to_value(before).context("serialize an audit event")?;
        let after = serde_json::to_value(after).context("serialize an audit event")?;
        let (before, after) = changed_fields(before, after);
        if before.is_empty() && after.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            action,
            entity_type,
            entity_id: entity_id.into(),
            before: Some(Value::Object(before)),
            after: Some(Value::Object(after)),
        }))
    }
}

/// Fields that differ between two objects (`updated_at` aside: it changes
/// on every write and says nothing). Non-objects compare whole.
fn changed_fields(before: Value, after: Value) -> (Map<String, Value>, Map<String, Value>) {
    let (Value::Object(mut before), Value::Object(mut after)) = (before, after) else {
        return (Map::new(), Map::new());
    };
    before.remove("updated_at");
    after.remove("updated_at");
    let keys: Vec<String> = before.keys().chain(after.keys()).cloned().collect();
    let (mut old, mut new) = (Map::new(), Map::new());
    for key in keys {
        let (a, b) = (before.get(&key), after.get(&key));
        if a != b && !old.contains_key(&key) && !new.contains_key(&key) {
            old.insert(key.clone(), a.cloned().unwrap_or(Value::Null));
            new.insert(key, b.cloned().unwrap_or(Value::Null));
        }
    }
    (old, new)
}

const INSERT: &str = "INSERT INTO audit_events \
     (org_id, actor_user_id, action, entity_type, entity_id, before, after, request_id) \
     VALUES ($1, $2::text::uuid, $3, $4, $5, $6, $7, $8)";

/// Appends `event` to the org's audit log, inside `tx` (the change's own
/// transaction), with the caller as the actor and the request's id.
pub fn record(ctx: &RequestCtx, tx: &TenantTx<'_>, event: Event) -> Result<(), Error> {
    let actor = tx.caller().map(|caller| caller.user().to_string());
    tx.execute(
        INSERT,
        &[
            Param::from(actor),
            Param::Text(event.action.to_owned()),
            Param::Text(event.entity_type.to_owned()),
            Param::Text(event.entity_id),
            Param::from(event.before),
            Param::from(event.after),
            Param::Text(ctx.request_id().to_owned()),
        ],
    )
    .map(drop)
}

const INSERT_FOR: &str = "INSERT INTO audit_events \
     (org_id, actor_user_id, action, entity_type, entity_id, before, after, request_id) \
     VALUES ($1::text::uuid, $2::text::uuid, $3, $4, $5, $6, $7, $8)";

/// [`record`] from a transaction that is not a tenant one, for a change to
/// `org` that began outside it (accepting an invitation, found by its
/// token): scopes the rest of `tx` to `org` (row-level security), then
/// appends the event with `actor`. `org` comes from a database row.
pub fn record_for(
    ctx: &RequestCtx,
    tx: &Tx<'_>,
    org: OrgId,
    actor: UserId,
    event: Event,
) -> Result<(), Error> {
    // Unconditionally: the transaction has written already (the change).
    tx.execute(
        "SELECT set_config('app.org_id', $1, true)",
        &[Param::Text(org.as_str().to_owned())],
    )?;
    tx.execute(
        INSERT_FOR,
        &[
            Param::Text(org.as_str().to_owned()),
            Param::Text(actor.to_string()),
            Param::Text(event.action.to_owned()),
            Param::Text(event.entity_type.to_owned()),
            Param::Text(event.entity_id),
            Param::from(event.before),
            Param::from(event.after),
            Param::Text(ctx.request_id().to_owned()),
        ],
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_changed_fields_are_kept() {
        let event = Event::changed(
            "member.role_changed",
            "member",
            "u1",
            &json!({"role": "viewer", "name": "A", "updated_at": "1"}),
            &json!({"role": "admin", "name": "A", "updated_at": "2", "extra": 1}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(event.before, Some(json!({"role": "viewer", "extra": null})));
        assert_eq!(event.after, Some(json!({"role": "admin", "extra": 1})));
        assert_eq!(
            Event::changed("x.y", "x", "1", &json!({"a": 1}), &json!({"a": 1})).unwrap(),
            None
        );
    }
}
