//! A partner as the routes show it: [`Partner`], the row every statement
//! returns (its `ETag` and pages are the platform's, `named_row!`), and the
//! constraints its writes map to fields.

use plinth_platform::error::ConstraintKind;
use plinth_platform::{Error, ResultExt};
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

// The trigger sets `updated_at` on each update, so the `ETag` changes on
// every write.
plinth_platform::named_row!(Partner);

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
