//! A company as the routes show it: [`Company`], the row every statement
//! returns (its `ETag` and pages are the platform's, `named_row!`).

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

// The trigger sets `updated_at` on each update, so the `ETag` changes on
// every write.
plinth_platform::named_row!(Company);

/// The unique index on `(org_id, lower(name))`.
pub const NAME_KEY: &str = "companies_org_id_name_key";
