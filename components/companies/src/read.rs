//! `GET /v1/companies/{id}`: one company, in one statement that also
//! confirms the caller.

use plinth_platform::auth::Permission;
use plinth_platform::domain::CompanyId;
use plinth_platform::etag::respond;
use plinth_platform::{Error, HandlerResult, Param, RequestCtx};

use crate::company::{Company, columns};

const ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM companies WHERE org_id = $1 AND id = $2::text::uuid"
);

/// `GET /v1/companies/{id}`: 200 with the company and its `ETag`; 404 for
/// no such company in the token's org.
pub fn get(ctx: &RequestCtx) -> HandlerResult {
    let id: CompanyId = ctx.path_id("id")?;
    let (_, rows) = ctx.tenant_read::<Company>(
        Permission::CompaniesRead,
        ONE,
        &[Param::Text(id.as_str().to_owned())],
    )?;
    let company = rows.into_iter().next().ok_or(Error::NotFound)?;
    respond(200, &company)
}
