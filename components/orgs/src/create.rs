//! `POST /v1/orgs`: a new org with the caller as its owner, in one
//! transaction. Any confirmed caller may create one, whatever their role in
//! the token's org. The new org is reached with a token for it (switching
//! orgs is the auth component's): no token is minted here.

use plinth_platform::auth::{Credentials, Role};
use plinth_platform::domain::{Slug, UserId};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, Tx};
use serde::Deserialize;

use crate::input::OrgName;
use crate::org::{self, Org};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    name: String,
    slug: Option<String>,
}

/// The request, parsed at the edge.
struct NewOrg {
    name: OrgName,
    /// `None`: made from the name, suffixed until free.
    slug: Option<Slug>,
}

impl TryFrom<Body> for NewOrg {
    type Error = Error;

    fn try_from(body: Body) -> Result<Self, Error> {
        Ok(Self {
            name: OrgName::parse(&body.name)?,
            slug: body
                .slug
                .map(|slug| Slug::parse(&slug).map_err(|e| e.at("slug")))
                .transpose()?,
        })
    }
}

/// `POST /v1/orgs` `{name, slug?}`: 201 with the org, `role: "owner"` and
/// its `ETag`; 409 naming `slug` when the slug is taken.
pub fn create(ctx: &RequestCtx) -> HandlerResult {
    let credentials = Credentials::from_request(ctx)?;
    let new = NewOrg::try_from(ctx.json::<Body>()?)?;
    let db = ctx.db()?;
    // The org and the membership are not the token's org's rows, so this is
    // no tenant transaction: confirm the caller first, then write.
    let caller = db.confirm(&credentials)?;
    let org = db.transaction(|tx| {
        let org = insert_org(ctx, tx, &new)?;
        insert_owner(tx, &org, caller.user())?;
        Ok(org)
    })?;
    org::respond(201, &org, Role::Owner)
}

const INSERT_ORG: &str = "INSERT INTO org (name, slug) VALUES ($1, $2) \
     ON CONFLICT ((lower(slug))) DO NOTHING \
     RETURNING id, name, slug, settings_json AS settings, created_at, updated_at";

/// How many suffixed slugs to try when the one made from the name is taken.
const SLUG_ATTEMPTS: usize = 5;

/// The new org; 409 naming `slug` when a given slug is taken (or no free
/// one could be made from the name).
fn insert_org(ctx: &RequestCtx, tx: &Tx<'_>, new: &NewOrg) -> Result<Org, Error> {
    let insert = |slug: &Slug| -> Result<Option<Org>, Error> {
        tx.fetch_optional(
            INSERT_ORG,
            &[Param::from(new.name.as_str()), Param::from(slug)],
        )
    };
    if let Some(slug) = &new.slug {
        return insert(slug)?.ok_or_else(|| Error::conflict(Some("slug"), "slug is already taken"));
    }
    let base = match Slug::from_name(new.name.as_str()) {
        Some(slug) => slug,
        None => Slug::parse(&format!("org-{}", hex(&ctx.random::<3>()?)))?,
    };
    if let Some(org) = insert(&base)? {
        return Ok(org);
    }
    for _ in 0..SLUG_ATTEMPTS {
        if let Some(org) = insert(&base.with_suffix(&hex(&ctx.random::<2>()?))?)? {
            return Ok(org);
        }
    }
    Err(Error::conflict(
        Some("slug"),
        "no free slug could be made from name; give slug",
    ))
}

const INSERT_OWNER: &str =
    "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner')";

fn insert_owner(tx: &Tx<'_>, org: &Org, user: UserId) -> Result<(), Error> {
    tx.execute(INSERT_OWNER, &[Param::from(org.id), Param::from(user)])
        .map(drop)
}

/// Lowercase hex of `bytes` (slug suffixes).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
