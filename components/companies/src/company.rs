//! A company as the routes show it: [`Company`], the row every statement
//! returns, its `ETag`, and the response that carries both.

use plinth_platform::domain::CompanyId;
use plinth_platform::{ETag, Error, HandlerResult, RequestCtx, json};
use serde::{Deserialize, Serialize};

use crate::input::Address;

/// The columns of a [`Company`], for every statement that returns one.
macro_rules! columns {
    () => {
        "id, name, legal_name, tax_id, country, currency, address, status, metadata, \
         created_at, updated_at"
    };
}
pub(crate) use columns;

/// A company row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Company {
    pub id: String,
    pub name: String,
    pub legal_name: Option<String>,
    pub tax_id: Option<String>,
    pub country: Option<String>,
    pub currency: String,
    pub address: Option<Address>,
    pub status: String,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
}

impl Company {
    /// Changes on every write: the trigger sets `updated_at` on each update.
    pub fn etag(&self) -> ETag {
        ETag::of(&format!("{} {}", self.updated_at, self.id))
    }
}

/// `status` with the company and its `ETag`, and no shared caching.
pub fn respond(status: u16, company: &Company) -> HandlerResult {
    Ok(json(status, company)?
        .with_header("etag", company.etag().to_header())
        .with_header("cache-control", "private, no-cache"))
}

/// The company id of the route's `:id`; a malformed one is no company
/// (404), like another org's.
pub fn path_id(ctx: &RequestCtx) -> Result<CompanyId, Error> {
    CompanyId::parse(ctx.param("id")?).map_err(|_| Error::NotFound)
}

/// The unique index on `(org_id, lower(name))`.
pub const NAME_KEY: &str = "companies_org_id_name_key";

impl plinth_platform::page::Listed for Company {
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
