//! `DELETE /v1/companies/{id}` (admin and up): once nothing refers to the
//! company any more. A company still in use is archived instead
//! (`PATCH {"status": "archived"}`).
//!
//! What blocks a deletion is listed in the 409's `blocking`
//! (`[{"table": "partners", "count": 2}]`), as for an org.

use plinth_platform::audit::{self, Event};
use plinth_platform::auth::Permission;
use plinth_platform::domain::CompanyId;
use plinth_platform::error::Blocking;
use plinth_platform::etag::Versioned;
use plinth_platform::{
    Error, HandlerResult, Param, RequestCtx, Response, TenantTx, check_if_match,
};

use crate::update::lock;

enum Outcome {
    Deleted,
    Blocked(Vec<Blocking>),
}

/// `DELETE /v1/companies/{id}`: 204; 404 for no such company; 412 when an
/// `If-Match` was given and the company changed since; 409 listing what
/// still refers to it.
pub fn delete(ctx: &RequestCtx) -> HandlerResult {
    let id: CompanyId = ctx.path_id("id")?;
    let if_match = ctx.header("if-match");
    let outcome = ctx.tenant_as(Permission::CompaniesDelete, |tx, _| {
        let current = lock(tx, &id)?.ok_or(Error::NotFound)?;
        check_if_match(if_match, &current.etag(), false).into_result()?;
        let blocking = referrers(tx, &id)?;
        if !blocking.is_empty() {
            return Ok(Outcome::Blocked(blocking));
        }
        remove(tx, &id)?;
        audit::record(
            ctx,
            tx,
            Event::deleted("company.deleted", "company", &current.id, &current)?,
        )?;
        Ok(Outcome::Deleted)
    })?;
    match outcome {
        Outcome::Deleted => Ok(Response::empty(204)),
        Outcome::Blocked(blocking) => blocked(&blocking),
    }
}

/// The rows that still refer to the company, by table, with the company row
/// locked (a referrer's foreign key check waits for this transaction). The
/// partners' composite foreign key (`ON DELETE RESTRICT`) is the backstop.
fn referrers(tx: &TenantTx<'_>, id: &CompanyId) -> Result<Vec<Blocking>, Error> {
    let found: Vec<Blocking> = tx.fetch_all(REFERRERS, &[Param::Text(id.as_str().to_owned())])?;
    Ok(found.into_iter().filter(|b| b.count > 0).collect())
}

const REFERRERS: &str = "SELECT 'partners' AS \"table\", count(*) AS count FROM partners \
     WHERE org_id = $1 AND company_id = $2::text::uuid \
     UNION ALL SELECT 'files', count(*) FROM files \
     WHERE org_id = $1 AND entity_type = 'company' AND entity_id = $2::text::uuid";

const DELETE: &str = "DELETE FROM companies WHERE org_id = $1 AND id = $2::text::uuid";

fn remove(tx: &TenantTx<'_>, id: &CompanyId) -> Result<(), Error> {
    match tx.execute(DELETE, &[Param::Text(id.as_str().to_owned())])? {
        1 => Ok(()),
        n => Err(Error::internal(format!(
            "deleting a locked company removed {n} rows"
        ))),
    }
}

/// The 409 of a blocked deletion, listing what blocks it.
fn blocked(blocking: &[Blocking]) -> HandlerResult {
    Err(Error::blocked(
        "the company is still referred to; archive it instead, or remove what refers to it",
        blocking,
    ))
}
