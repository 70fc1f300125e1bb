//! The one `PATCH` flow of a tenant row: [`RequestCtx::patch_under_if_match`]
//! locks the row, checks `If-Match` against its [`ETag`](crate::ETag),
//! writes the changed row and records what changed, in one transaction.
//! What a change is (its fields, their parsing) stays the component's;
//! [`nothing_to_change`] is the answer to a change of no field.

use crate::audit::{self, Event};
use crate::error::{Error, FieldError};
use crate::etag::{Versioned, check_if_match};
use crate::permission::Permission;
use crate::pg::TenantTx;
use crate::request::RequestCtx;

/// What a kind of row's `PATCH` needs besides its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Patch {
    pub permission: Permission,
    /// The audit event's action: `company.updated`.
    pub action: &'static str,
    /// The audit event's entity type: `company`.
    pub entity_type: &'static str,
}

impl RequestCtx {
    /// The row `lock` reads (`FOR UPDATE`, so no write comes between the
    /// check and the update; `None` is a 404), checked against the
    /// request's `If-Match` (428 without one, 412 when the row changed
    /// since), `change`d and written by `write`, which returns the row as
    /// stored. The audit event holds the fields that differ, before and
    /// after; a change that changes nothing records none.
    pub fn patch_under_if_match<T: Versioned>(
        &self,
        patch: &Patch,
        lock: impl FnOnce(&TenantTx<'_>) -> Result<Option<T>, Error>,
        change: impl FnOnce(&T) -> T,
        write: impl FnOnce(&TenantTx<'_>, &T) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let if_match = self.header("if-match");
        self.tenant_as(patch.permission, |tx, _| {
            let current = lock(tx)?.ok_or(Error::NotFound)?;
            check_if_match(if_match, &current.etag(), true).into_result()?;
            let next = write(tx, &change(&current))?;
            if let Some(event) =
                Event::changed(patch.action, patch.entity_type, next.id(), &current, &next)?
            {
                audit::record(self, tx, event)?;
            }
            Ok(next)
        })
    }
}

/// The 422 of a `PATCH` body that names no field.
pub fn nothing_to_change() -> Error {
    Error::Validation(vec![FieldError::new(
        "body",
        "give at least one field to change",
    )])
}
