//! `GET /v1/audit-events` (audit.read: admins by default): the org's audit
//! log, newest first, optionally for one entity type or one entity.

use plinth_platform::auth::Permission;
use plinth_platform::page::PageRequest;
use plinth_platform::{Error, HandlerResult, Keyed, Param, RequestCtx, json};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct AuditEvent {
    id: String,
    actor_user_id: Option<String>,
    action: String,
    entity_type: String,
    entity_id: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    request_id: Option<String>,
    created_at: String,
}

impl Keyed for AuditEvent {
    fn sort_key(&self) -> String {
        self.created_at.clone()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

const LIST: &str = "SELECT id, actor_user_id, action, entity_type, entity_id, before, after, \
     request_id, created_at FROM audit_events \
     WHERE org_id = $1 AND ($2::text IS NULL OR entity_type = $2) \
       AND ($3::text IS NULL OR entity_id = $3) \
       AND ($4::text IS NULL OR (created_at, id) < ($4::text::timestamptz, $5::text::uuid)) \
     ORDER BY created_at DESC, id DESC LIMIT $6";

/// `?entity_type=&entity_id=&limit=&cursor=`.
pub fn list(ctx: &RequestCtx) -> HandlerResult {
    let page = PageRequest::from_query(ctx)?;
    let entity_type = ctx.query_param("entity_type")?;
    let entity_id = ctx.query_param("entity_id")?;
    if entity_id.is_some() && entity_type.is_none() {
        return Err(Error::field("entity_type", "is required with entity_id"));
    }
    let (_, page) = ctx.tenant_page::<AuditEvent>(
        Permission::AuditRead,
        LIST,
        &[Param::from(entity_type), Param::from(entity_id)],
        &page,
    )?;
    Ok(json(200, &page)?.with_header("cache-control", "private, no-cache"))
}
