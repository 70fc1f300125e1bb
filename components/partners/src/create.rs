//! `POST /v1/partners` and `POST /v1/companies/{company_id}/partners`: a new
//! partner of one of the token's org's companies (member and up).

use plinth_platform::audit::{self, Event};
use plinth_platform::auth::Permission;
use plinth_platform::domain::CompanyId;
use plinth_platform::etag::respond;
use plinth_platform::{Error, FieldError, HandlerResult, Param, RequestCtx, TenantTx};
use serde::Deserialize;

use crate::input::{self, Address};
use crate::partner::{self, Partner, columns};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    company_id: Option<CompanyId>,
    name: String,
    kind: String,
    email: Option<String>,
    phone: Option<String>,
    tax_id: Option<String>,
    address: Option<Address>,
    external_ref: Option<String>,
    tags: Option<Vec<String>>,
    notes: Option<String>,
    status: Option<String>,
}

/// The request, parsed at the edge.
struct NewPartner {
    company_id: CompanyId,
    name: String,
    kind: &'static str,
    email: Option<String>,
    phone: Option<String>,
    tax_id: Option<String>,
    address: Option<Address>,
    external_ref: Option<String>,
    tags: Vec<String>,
    notes: Option<String>,
    status: &'static str,
}

impl NewPartner {
    /// `company_id` is the path's when there is one (the body may repeat
    /// it), else the body's, where it is then required.
    fn parse(body: Body, path_company: Option<CompanyId>) -> Result<Self, Error> {
        let company_id = match (path_company, body.company_id) {
            (Some(path), Some(given)) if given != path => {
                return Err(Error::field(
                    "company_id",
                    "must be the company of the path (or omitted)",
                ));
            }
            (Some(path), _) => path,
            (None, Some(given)) => given,
            (None, None) => {
                return Err(Error::Malformed(vec![FieldError::new(
                    "company_id",
                    "missing field `company_id`",
                )]));
            }
        };
        Ok(Self {
            company_id,
            name: input::name(&body.name)?,
            kind: input::kind("kind", &body.kind)?,
            email: body.email.as_deref().map(input::email).transpose()?,
            phone: body.phone.as_deref().map(input::phone).transpose()?,
            tax_id: body.tax_id.as_deref().map(input::tax_id).transpose()?,
            address: body.address.map(Address::parse).transpose()?,
            external_ref: body
                .external_ref
                .as_deref()
                .map(input::external_ref)
                .transpose()?,
            tags: input::tags(body.tags.unwrap_or_default())?,
            notes: body.notes.map(input::notes).transpose()?,
            status: body
                .status
                .as_deref()
                .map_or(Ok("active"), |s| input::status("status", s))?,
        })
    }
}

/// `POST /v1/partners` → 201 with the partner and its `ETag`; 422 naming
/// `company_id` when the org has no such company (another org's included),
/// 409 naming `external_ref` when the company already has a partner with it.
pub fn create(ctx: &RequestCtx) -> HandlerResult {
    let new = NewPartner::parse(ctx.json::<Body>()?, None)?;
    insert_and_respond(ctx, new, partner::unknown_company())
}

/// `POST /v1/companies/{company_id}/partners`: the same, with the company
/// from the path, so an unknown one (or another org's) is a 404.
pub fn create_for_company(ctx: &RequestCtx) -> HandlerResult {
    let company: CompanyId = ctx.path_id("company_id")?;
    let new = NewPartner::parse(ctx.json::<Body>()?, Some(company))?;
    insert_and_respond(ctx, new, Error::NotFound)
}

/// Inserts and records it in one transaction; `unknown_company` is the
/// answer when the composite foreign key finds no such company in the org.
fn insert_and_respond(ctx: &RequestCtx, new: NewPartner, unknown_company: Error) -> HandlerResult {
    let partner = ctx
        .tenant_as(Permission::PartnersWrite, |tx, _| {
            let partner = insert(tx, new)?;
            audit::record(
                ctx,
                tx,
                Event::created("partner.created", "partner", &partner.id, &partner)?,
            )?;
            Ok(partner)
        })
        .map_err(|err| partner::if_company_key(err, unknown_company));
    let partner = partner::on_write(partner)?;
    Ok(respond(201, &partner)?.with_header("location", format!("/v1/partners/{}", partner.id)))
}

const INSERT: &str = concat!(
    "INSERT INTO partners \
     (org_id, company_id, name, kind, email, phone, tax_id, address, external_ref, tags, \
      notes, status) \
     VALUES ($1, $2::text::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
    columns!()
);

fn insert(tx: &TenantTx<'_>, new: NewPartner) -> Result<Partner, Error> {
    tx.fetch_one(
        INSERT,
        &[
            Param::Text(new.company_id.as_str().to_owned()),
            Param::from(new.name),
            Param::from(new.kind),
            Param::from(new.email),
            Param::from(new.phone),
            Param::from(new.tax_id),
            new.address.as_ref().map(Param::json).transpose()?.into(),
            Param::from(new.external_ref),
            Param::from(new.tags),
            Param::from(new.notes),
            Param::from(new.status),
        ],
    )
}
