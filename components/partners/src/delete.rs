//! `DELETE /v1/partners/{id}` (admin and up), once no file is attached to
//! it (409 listing them otherwise). A partner no longer in use can also be
//! archived instead (`PATCH {"status": "archived"}`).

use plinth_platform::audit::{self, Event};
use plinth_platform::auth::Permission;
use plinth_platform::domain::PartnerId;
use plinth_platform::error::Blocking;
use plinth_platform::etag::Versioned;
use plinth_platform::{
    Error, HandlerResult, Param, RequestCtx, Response, TenantTx, check_if_match,
};

use crate::update::lock;

/// `DELETE /v1/partners/{id}`: 204; 404 for no such partner; 412 when an
/// `If-Match` was given and the partner changed since.
pub fn delete(ctx: &RequestCtx) -> HandlerResult {
    let id: PartnerId = ctx.path_id("id")?;
    let if_match = ctx.header("if-match");
    ctx.tenant_as(Permission::PartnersDelete, |tx, _| {
        let current = lock(tx, &id)?.ok_or(Error::NotFound)?;
        check_if_match(if_match, &current.etag(), false).into_result()?;
        let files: Vec<Blocking> = tx.fetch_all(FILES, &[Param::Text(id.as_str().to_owned())])?;
        if files.iter().any(|b| b.count > 0) {
            return Err(Error::blocked(
                "files are still attached to the partner; delete them, or archive the partner",
                &files,
            ));
        }
        remove(tx, &id)?;
        audit::record(
            ctx,
            tx,
            Event::deleted("partner.deleted", "partner", &current.id, &current)?,
        )
    })?;
    Ok(Response::empty(204))
}

const FILES: &str = "SELECT 'files' AS \"table\", count(*) AS count FROM files \
     WHERE org_id = $1 AND entity_type = 'partner' AND entity_id = $2::text::uuid";

const DELETE: &str = "DELETE FROM partners WHERE org_id = $1 AND id = $2::text::uuid";

fn remove(tx: &TenantTx<'_>, id: &PartnerId) -> Result<(), Error> {
    match tx.execute(DELETE, &[Param::Text(id.as_str().to_owned())])? {
        1 => Ok(()),
        n => Err(Error::internal(format!(
            "deleting a locked partner removed {n} rows"
        ))),
    }
}
