//! `GET /v1/partners/{id}`: one partner, in one statement that also
//! confirms the caller.

use plinth_platform::auth::Permission;
use plinth_platform::domain::PartnerId;
use plinth_platform::etag::respond;
use plinth_platform::{Error, HandlerResult, Param, RequestCtx};

use crate::partner::{Partner, columns};

const ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM partners WHERE org_id = $1 AND id = $2::text::uuid"
);

/// `GET /v1/partners/{id}`: 200 with the partner and its `ETag`; 404 for
/// no such partner in the token's org.
pub fn get(ctx: &RequestCtx) -> HandlerResult {
    let id: PartnerId = ctx.path_id("id")?;
    let (_, rows) = ctx.tenant_read::<Partner>(
        Permission::PartnersRead,
        ONE,
        &[Param::Text(id.as_str().to_owned())],
    )?;
    let partner = rows.into_iter().next().ok_or(Error::NotFound)?;
    respond(200, &partner)
}
