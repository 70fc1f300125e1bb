//! `PATCH /v1/orgs/current`: change the name, slug or settings of the
//! token's org (admin and owner), guarded by `If-Match`.

use plinth_platform::auth::Permission;
use plinth_platform::domain::{Name, Slug};
use plinth_platform::{
    Error, FieldError, Given, HandlerResult, Param, RequestCtx, ResultExt, TenantTx, check_if_match,
};
use serde::Deserialize;

use crate::input::Settings;
use crate::org::{self, Org};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    name: Given<String>,
    #[serde(default)]
    slug: Given<String>,
    #[serde(default)]
    settings: Given<serde_json::Value>,
}

/// The request, parsed at the edge: at least one field changes.
struct Change {
    name: Option<Name>,
    slug: Option<Slug>,
    settings: Option<Settings>,
}

impl TryFrom<Body> for Change {
    type Error = Error;

    fn try_from(body: Body) -> Result<Self, Error> {
        let settings = match body.settings {
            Given::Absent => None,
            Given::Null => return Err(Error::field("settings", "must be a JSON object")),
            Given::Value(value) => Some(Settings::parse(value)?),
        };
        let change = Self {
            name: body
                .name
                .required("name")?
                .map(|name| Name::parse(&name))
                .transpose()?,
            slug: body
                .slug
                .required("slug")?
                .map(|slug| Slug::parse(&slug).map_err(|e| e.at("slug")))
                .transpose()?,
            settings,
        };
        if change.name.is_none() && change.slug.is_none() && change.settings.is_none() {
            let nothing =
                |field| FieldError::new(field, "give at least one of name, slug, settings");
            return Err(Error::Validation(vec![
                nothing("name"),
                nothing("slug"),
                nothing("settings"),
            ]));
        }
        Ok(change)
    }
}

/// `PATCH /v1/orgs/current` `{name?, slug?, settings?}` with `If-Match`:
/// 200 with the changed org and its new `ETag`; 428 without `If-Match`, 412
/// when the org changed since that `ETag`, 409 naming `slug` when it is taken.
pub fn update(ctx: &RequestCtx) -> HandlerResult {
    let change = Change::try_from(ctx.json::<Body>()?)?;
    let if_match = ctx.header("if-match");
    let (org, role) = ctx.tenant_as(Permission::OrgUpdate, |tx, caller| {
        let current = lock_current(tx)?;
        check_if_match(if_match, &current.etag(), true).into_result()?;
        let org = apply(tx, change)?;
        org::audit_change(ctx, tx, &current, &org)?;
        Ok((org, caller.role()))
    })?;
    org::respond(200, &org, role)
}

pub const LOCK_CURRENT: &str = "SELECT id, name, slug, settings_json AS settings, created_at, updated_at \
     FROM org WHERE id = $1 FOR UPDATE";

/// The org as it is now, locked until the transaction ends, so no write can
/// come between the `If-Match` check and the update.
pub fn lock_current(tx: &TenantTx<'_>) -> Result<Org, Error> {
    tx.fetch_one(LOCK_CURRENT, &[])
}

const UPDATE: &str = "UPDATE org SET name = coalesce($2, name), slug = coalesce($3, slug), \
     settings_json = coalesce($4, settings_json) WHERE id = $1 \
     RETURNING id, name, slug, settings_json AS settings, created_at, updated_at";

fn apply(tx: &TenantTx<'_>, change: Change) -> Result<Org, Error> {
    tx.fetch_one(
        UPDATE,
        &[
            Param::from(change.name.as_ref().map(Name::as_str)),
            Param::from(change.slug.as_ref()),
            Param::from(change.settings.map(Settings::into_value)),
        ],
    )
    .on_constraint("org_slug_key", "slug")
}
