//! `POST /v1/companies`: a new company of the token's org (member and up).

use plinth_platform::audit::{self, Event};
use plinth_platform::auth::Permission;
use plinth_platform::etag::respond;
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, ResultExt, TenantTx};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::company::{Company, NAME_KEY, columns};
use crate::input::{self, Address};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    name: String,
    legal_name: Option<String>,
    tax_id: Option<String>,
    country: Option<String>,
    currency: Option<String>,
    address: Option<Address>,
    status: Option<String>,
    metadata: Option<Map<String, Value>>,
}

/// The request, parsed at the edge. `currency: None` takes the org's
/// `default_currency`.
struct NewCompany {
    name: String,
    legal_name: Option<String>,
    tax_id: Option<String>,
    country: Option<String>,
    currency: Option<String>,
    address: Option<Address>,
    status: &'static str,
    metadata: Map<String, Value>,
}

impl TryFrom<Body> for NewCompany {
    type Error = Error;

    fn try_from(body: Body) -> Result<Self, Error> {
        Ok(Self {
            name: input::name(&body.name)?,
            legal_name: body
                .legal_name
                .as_deref()
                .map(input::legal_name)
                .transpose()?,
            tax_id: body.tax_id.as_deref().map(input::tax_id).transpose()?,
            country: body
                .country
                .as_deref()
                .map(|code| input::country("country", code))
                .transpose()?,
            currency: body.currency.as_deref().map(input::currency).transpose()?,
            address: body.address.map(Address::parse).transpose()?,
            status: body
                .status
                .as_deref()
                .map_or(Ok("active"), |s| input::status("status", s))?,
            metadata: input::metadata(body.metadata.unwrap_or_default())?,
        })
    }
}

/// `POST /v1/companies` → 201 with the company and its `ETag`; 409 naming
/// `name` when the org already has a company of that name (any case).
pub fn create(ctx: &RequestCtx) -> HandlerResult {
    let new = NewCompany::try_from(ctx.json::<Body>()?)?;
    let company = ctx.tenant_as(Permission::CompaniesWrite, |tx, _| {
        let company = insert(tx, new)?;
        audit::record(
            ctx,
            tx,
            Event::created("company.created", "company", &company.id, &company)?,
        )?;
        Ok(company)
    })?;
    Ok(respond(201, &company)?.with_header("location", format!("/v1/companies/{}", company.id)))
}

// The org's default currency, as `settings::effective` reads it.
const INSERT: &str = concat!(
    "INSERT INTO companies \
     (org_id, name, legal_name, tax_id, country, currency, address, status, metadata) \
     VALUES ($1, $2, $3, $4, $5, coalesce($6::text, \
       (SELECT coalesce(settings_json ->> 'default_currency', 'EUR') FROM org WHERE id = $1)), \
     $7, $8, $9) RETURNING ",
    columns!()
);

fn insert(tx: &TenantTx<'_>, new: NewCompany) -> Result<Company, Error> {
    tx.fetch_one(
        INSERT,
        &[
            Param::from(new.name),
            Param::from(new.legal_name),
            Param::from(new.tax_id),
            Param::from(new.country),
            Param::from(new.currency),
            new.address.as_ref().map(Param::json).transpose()?.into(),
            Param::from(new.status),
            Param::json(&new.metadata)?,
        ],
    )
    .on_constraint(NAME_KEY, "name")
}
