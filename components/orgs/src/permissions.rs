//! The org's permission table: `GET /v1/orgs/current/permissions` lists
//! every permission and what each role holds here; `PUT` (owners) sets what
//! admin, member and viewer hold. Owners always hold everything, so no
//! configuration locks the org out of its own administration; the change
//! applies from every member's next request.

use std::collections::BTreeMap;

use plinth_platform::audit::{self, Event};
use plinth_platform::auth::{Permission, PermissionSet, Role};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, TenantTx, json};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Serialize)]
struct PermissionView {
    name: &'static str,
    /// Held by owners only, whatever the org configures.
    owner_only: bool,
    /// The roles that hold it by default.
    default_roles: Vec<&'static str>,
}

#[derive(Serialize)]
struct Table {
    permissions: Vec<PermissionView>,
    /// What each role holds in this org.
    roles: BTreeMap<&'static str, Vec<&'static str>>,
    /// The roles this org configured (the others hold their defaults).
    configured: Vec<&'static str>,
}

fn table(stored: &Map<String, Value>) -> Table {
    let permissions = Permission::ALL
        .into_iter()
        .map(|p| PermissionView {
            name: p.name(),
            owner_only: p.owner_only(),
            default_roles: Role::ALL
                .into_iter()
                .filter(|role| role.defaults().contains(p))
                .map(Role::as_str)
                .collect(),
        })
        .collect();
    let mut roles = BTreeMap::new();
    let mut configured = Vec::new();
    for role in Role::ALL {
        let names = stored
            .get(role.as_str())
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            });
        if names.is_some() && role != Role::Owner {
            configured.push(role.as_str());
        }
        let held = PermissionSet::held_by(role, names.as_deref());
        roles.insert(role.as_str(), held.names());
    }
    Table {
        permissions,
        roles,
        configured,
    }
}

#[derive(Deserialize)]
struct Stored {
    role_permissions: Map<String, Value>,
}

const READ: &str = "SELECT role_permissions FROM org WHERE id = $1";

/// `GET /v1/orgs/current/permissions` (org.read).
pub fn get(ctx: &RequestCtx) -> HandlerResult {
    let (_, rows) = ctx.tenant_read::<Stored>(Permission::OrgRead, READ, &[])?;
    let stored = rows.into_iter().next().ok_or(Error::NotFound)?;
    json(200, &table(&stored.role_permissions))
}

/// `{"roles": {"admin": [...], "member": null, ...}}`: a role given a list
/// holds exactly that list; `null` returns it to its defaults; a role left
/// out keeps what it holds now.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    roles: Map<String, Value>,
}

/// The new configuration, checked: only configurable roles, only names in
/// the registry that are not owner-only (422 naming `roles.<role>[i]`).
fn configure(current: &Map<String, Value>, body: Body) -> Result<Map<String, Value>, Error> {
    let mut next = current.clone();
    let mut errors = Vec::new();
    for (role, value) in body.roles {
        let field = format!("roles.{role}");
        let configurable = Role::CONFIGURABLE.iter().any(|r| r.as_str() == role);
        if !configurable {
            let message = if role == "owner" {
                "owners hold every permission; they cannot be configured"
            } else {
                "must be admin, member or viewer"
            };
            errors.push(plinth_platform::FieldError::new(field, message));
            continue;
        }
        match value {
            Value::Null => {
                next.remove(&role);
            }
            Value::Array(items) => {
                let names: Option<Vec<String>> = items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect();
                let Some(names) = names else {
                    errors.push(plinth_platform::FieldError::new(
                        field,
                        "must be an array of permission names or null",
                    ));
                    continue;
                };
                match PermissionSet::parse_configured(&field, &names) {
                    Ok(set) => {
                        next.insert(role, Value::from(set.names()));
                    }
                    Err(Error::Validation(mut more)) => errors.append(&mut more),
                    Err(other) => return Err(other),
                }
            }
            _ => errors.push(plinth_platform::FieldError::new(
                field,
                "must be an array of permission names or null",
            )),
        }
    }
    if errors.is_empty() {
        Ok(next)
    } else {
        Err(Error::Validation(errors))
    }
}

const LOCK: &str = "SELECT role_permissions FROM org WHERE id = $1 FOR UPDATE";
const WRITE: &str = "UPDATE org SET role_permissions = $2 WHERE id = $1";

/// `PUT /v1/orgs/current/permissions` (permissions.manage: owners).
pub fn put(ctx: &RequestCtx) -> HandlerResult {
    let body = ctx.json::<Body>()?;
    let stored = ctx.tenant_as(Permission::PermissionsManage, |tx, _| {
        let current: Stored = tx.fetch_one(LOCK, &[])?;
        let next = configure(&current.role_permissions, body)?;
        write(ctx, tx, &current.role_permissions, next)
    })?;
    json(200, &table(&stored))
}

fn write(
    ctx: &RequestCtx,
    tx: &TenantTx<'_>,
    before: &Map<String, Value>,
    next: Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    tx.execute(WRITE, &[Param::from(Value::Object(next.clone()))])?;
    if let Some(event) = Event::changed(
        "permissions.changed",
        "org",
        tx.org_id().to_string(),
        before,
        &next,
    )? {
        audit::record(ctx, tx, event)?;
    }
    Ok(next)
}
