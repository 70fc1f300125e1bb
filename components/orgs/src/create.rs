//! `POST /v1/orgs`: a new org with the caller as its owner, in one
//! transaction. Any confirmed caller may create one, whatever their role in
//! the token's org. The new org is reached with a token for it (switching
//! orgs is the auth component's): no token is minted here.

use plinth_platform::auth::{Credentials, Role};
use plinth_platform::domain::{Name, Slug};
use plinth_platform::orgs::{self, NewOrg};
use plinth_platform::{Error, HandlerResult, RequestCtx};
use serde::Deserialize;

use crate::org;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    name: String,
    slug: Option<String>,
}

/// The request, parsed at the edge.
struct Input {
    name: Name,
    /// `None`: made from the name, suffixed until free.
    slug: Option<Slug>,
}

impl TryFrom<Body> for Input {
    type Error = Error;

    fn try_from(body: Body) -> Result<Self, Error> {
        Ok(Self {
            name: Name::parse(&body.name)?,
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
    let input = Input::try_from(ctx.json::<Body>()?)?;
    let db = ctx.db()?;
    // The org and the membership are not the token's org's rows, so this is
    // no tenant transaction: confirm the caller first, then write.
    let caller = db.confirm(&credentials)?;
    let new = NewOrg {
        name: &input.name,
        slug: input.slug.as_ref(),
        slug_field: "slug",
    };
    let org = db.transaction(|tx| orgs::create_with_owner(ctx, tx, &new, caller.user()))?;
    org::respond(201, &org, Role::Owner)
}
