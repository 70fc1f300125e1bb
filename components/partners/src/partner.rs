//! A partner as the routes show it: [`Partner`], the row every statement
//! returns, its `ETag`, and the response that carries both.

use plinth_platform::domain::{CompanyId, PartnerId};
use plinth_platform::error::ConstraintKind;
use plinth_platform::{ETag, Error, HandlerResult, RequestCtx, ResultExt, json};
use serde::{Deserialize, Serialize};

use crate::input::Address;

/// The columns of a [`Partner`], for every statement that returns one.
macro_rules! columns {
    () => {
        "id, company_id, name, kind, email, phone, tax_id, address, external_ref, tags, \
         notes, status, created_at, updated_at"
    };
}
pub(crate) use columns;

/// A partner row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partner {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub kind: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tax_id: Option<String>,
    pub address: Option<Address>,
    pub external_ref: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl Partner {
    /// Changes on every write: the trigger sets `updated_at` on each update.
    pub fn etag(&self) -> ETag {
        ETag::of(&format!("{} {}", self.updated_at, self.id))
    }
}

/// `status` with the partner and its `ETag`, and no shared caching.
pub fn respond(status: u16, partner: &Partner) -> HandlerResult {
    Ok(json(status, partner)?
        .with_header("etag", partner.etag().to_header())
        .with_header("cache-control", "private, no-cache"))
}

/// The partner id of the route's `:id`; a malformed one is no partner
/// (404), like another org's.
pub fn path_id(ctx: &RequestCtx) -> Result<PartnerId, Error> {
    PartnerId::parse(ctx.param("id")?).map_err(|_| Error::NotFound)
}

/// The company of the route's `:company_id`; a malformed one is no company.
pub fn path_company(ctx: &RequestCtx) -> Result<CompanyId, Error> {
    CompanyId::parse(ctx.param("company_id")?).map_err(|_| Error::NotFound)
}

/// The composite foreign key `(org_id, company_id)` → `companies (org_id, id)`:
/// it refuses a company of another org as firmly as an unknown one.
pub const COMPANY_KEY: &str = "partners_company_id_fkey";

/// The partial unique index on `(org_id, company_id, external_ref)`.
pub const EXTERNAL_REF_KEY: &str = "partners_external_ref_key";

/// The 422 of a `company_id` that names no company of the org.
pub fn unknown_company() -> Error {
    Error::field("company_id", "does not refer to a company of the org")
}

/// `replacement` when `err` is the company foreign key's violation.
pub fn if_company_key(err: Error, replacement: Error) -> Error {
    match err {
        Error::Constraint {
            kind: ConstraintKind::ForeignKey,
            constraint: Some(name),
        } if name == COMPANY_KEY => replacement,
        other => other,
    }
}

/// The constraint mapping of every write: the company and the external
/// reference, each named by its field.
pub fn on_write<T>(result: Result<T, Error>) -> Result<T, Error> {
    result
        .map_err(|err| if_company_key(err, unknown_company()))
        .on_constraint(EXTERNAL_REF_KEY, "external_ref")
}

impl plinth_platform::page::Listed for Partner {
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn created_at(&self) -> &str {
        &self.created_at
    }
}
