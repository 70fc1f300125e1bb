//! `PATCH /v1/companies/{id}`: change some fields of a company (member and
//! up), guarded by `If-Match`.

use plinth_platform::auth::Permission;
use plinth_platform::domain::CompanyId;
use plinth_platform::etag::respond;
use plinth_platform::patch::{Patch, nothing_to_change};
use plinth_platform::{Error, Given, HandlerResult, Param, RequestCtx, ResultExt, TenantTx};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::company::{Company, NAME_KEY, columns};
use crate::input::{self, Address};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    name: Given<String>,
    #[serde(default)]
    legal_name: Given<String>,
    #[serde(default)]
    tax_id: Given<String>,
    #[serde(default)]
    country: Given<String>,
    #[serde(default)]
    currency: Given<String>,
    #[serde(default)]
    address: Given<Address>,
    #[serde(default)]
    status: Given<String>,
    #[serde(default)]
    metadata: Given<Map<String, Value>>,
}

/// The request, parsed at the edge: `None` keeps a field; for the fields
/// that may be cleared, `Some(None)` clears it.
#[derive(Default)]
struct Change {
    name: Option<String>,
    legal_name: Option<Option<String>>,
    tax_id: Option<Option<String>>,
    country: Option<Option<String>>,
    currency: Option<String>,
    address: Option<Option<Address>>,
    status: Option<&'static str>,
    metadata: Option<Map<String, Value>>,
}

impl TryFrom<Body> for Change {
    type Error = Error;

    fn try_from(body: Body) -> Result<Self, Error> {
        let change = Self {
            name: body.name.required_with("name", |v| input::name(&v))?,
            legal_name: body.legal_name.clearable_with(|v| input::legal_name(&v))?,
            tax_id: body.tax_id.clearable_with(|v| input::tax_id(&v))?,
            country: body
                .country
                .clearable_with(|v| input::country("country", &v))?,
            currency: body
                .currency
                .required_with("currency", |v| input::currency(&v))?,
            address: body.address.clearable_with(Address::parse)?,
            status: body
                .status
                .required_with("status", |v| input::status("status", &v))?,
            metadata: body.metadata.required_with("metadata", input::metadata)?,
        };
        if change.is_empty() {
            return Err(nothing_to_change());
        }
        Ok(change)
    }
}

impl Change {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.legal_name.is_none()
            && self.tax_id.is_none()
            && self.country.is_none()
            && self.currency.is_none()
            && self.address.is_none()
            && self.status.is_none()
            && self.metadata.is_none()
    }

    /// `current` with this change applied.
    fn apply(self, current: &Company) -> Company {
        let mut next = current.clone();
        if let Some(name) = self.name {
            next.name = name;
        }
        if let Some(legal_name) = self.legal_name {
            next.legal_name = legal_name;
        }
        if let Some(tax_id) = self.tax_id {
            next.tax_id = tax_id;
        }
        if let Some(country) = self.country {
            next.country = country;
        }
        if let Some(currency) = self.currency {
            next.currency = currency;
        }
        if let Some(address) = self.address {
            next.address = address;
        }
        if let Some(status) = self.status {
            next.status = status.to_owned();
        }
        if let Some(metadata) = self.metadata {
            next.metadata = metadata;
        }
        next
    }
}

/// `PATCH /v1/companies/{id}` with `If-Match`: 200 with the changed company
/// and its new `ETag`; 428 without `If-Match`, 412 when the company changed
/// since that `ETag`, 409 naming `name` when another company has the name.
pub fn update(ctx: &RequestCtx) -> HandlerResult {
    let id: CompanyId = ctx.path_id("id")?;
    let change = Change::try_from(ctx.json::<Body>()?)?;
    let company = ctx.patch_under_if_match(
        &PATCH,
        |tx| lock(tx, &id),
        |current| change.apply(current),
        write,
    )?;
    respond(200, &company)
}

const PATCH: Patch = Patch {
    permission: Permission::CompaniesWrite,
    action: "company.updated",
    entity_type: "company",
};

pub const LOCK: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM companies WHERE org_id = $1 AND id = $2::text::uuid FOR UPDATE"
);

/// The company as it is now, locked until the transaction ends, so no write
/// comes between the `If-Match` check and the update.
pub fn lock(tx: &TenantTx<'_>, id: &CompanyId) -> Result<Option<Company>, Error> {
    tx.fetch_optional(LOCK, &[Param::Text(id.as_str().to_owned())])
}

const UPDATE: &str = concat!(
    "UPDATE companies SET name = $3, legal_name = $4, tax_id = $5, country = $6, \
     currency = $7, address = $8, status = $9, metadata = $10 \
     WHERE org_id = $1 AND id = $2::text::uuid RETURNING ",
    columns!()
);

fn write(tx: &TenantTx<'_>, next: &Company) -> Result<Company, Error> {
    tx.fetch_one(
        UPDATE,
        &[
            Param::from(&next.id),
            Param::from(&next.name),
            Param::from(next.legal_name.clone()),
            Param::from(next.tax_id.clone()),
            Param::from(next.country.clone()),
            Param::from(&next.currency),
            next.address.as_ref().map(Param::json).transpose()?.into(),
            Param::from(&next.status),
            Param::json(&next.metadata)?,
        ],
    )
    .on_constraint(NAME_KEY, "name")
}
