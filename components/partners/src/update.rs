//! `PATCH /v1/partners/{id}`: change some fields of a partner (member and
//! up), guarded by `If-Match`.

use plinth_platform::auth::Permission;
use plinth_platform::domain::{CompanyId, PartnerId};
use plinth_platform::etag::respond;
use plinth_platform::patch::{Patch, nothing_to_change};
use plinth_platform::{Error, Given, HandlerResult, Param, RequestCtx, TenantTx};
use serde::Deserialize;

use crate::input::{self, Address};
use crate::partner::{self, Partner, columns};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    company_id: Given<CompanyId>,
    #[serde(default)]
    name: Given<String>,
    #[serde(default)]
    kind: Given<String>,
    #[serde(default)]
    email: Given<String>,
    #[serde(default)]
    phone: Given<String>,
    #[serde(default)]
    tax_id: Given<String>,
    #[serde(default)]
    address: Given<Address>,
    #[serde(default)]
    external_ref: Given<String>,
    #[serde(default)]
    tags: Given<Vec<String>>,
    #[serde(default)]
    notes: Given<String>,
    #[serde(default)]
    status: Given<String>,
}

/// The request, parsed at the edge: `None` keeps a field; for the fields
/// that may be cleared, `Some(None)` clears it.
#[derive(Default)]
struct Change {
    company_id: Option<CompanyId>,
    name: Option<String>,
    kind: Option<&'static str>,
    email: Option<Option<String>>,
    phone: Option<Option<String>>,
    tax_id: Option<Option<String>>,
    address: Option<Option<Address>>,
    external_ref: Option<Option<String>>,
    tags: Option<Vec<String>>,
    notes: Option<Option<String>>,
    status: Option<&'static str>,
}

impl TryFrom<Body> for Change {
    type Error = Error;

    fn try_from(body: Body) -> Result<Self, Error> {
        let change = Self {
            company_id: body.company_id.required("company_id")?,
            name: body.name.required_with("name", |v| input::name(&v))?,
            kind: body
                .kind
                .required_with("kind", |v| input::kind("kind", &v))?,
            email: body.email.clearable_with(|v| input::email(&v))?,
            phone: body.phone.clearable_with(|v| input::phone(&v))?,
            tax_id: body.tax_id.clearable_with(|v| input::tax_id(&v))?,
            address: body.address.clearable_with(Address::parse)?,
            external_ref: body
                .external_ref
                .clearable_with(|v| input::external_ref(&v))?,
            tags: body.tags.required_with("tags", input::tags)?,
            notes: body.notes.clearable_with(input::notes)?,
            status: body
                .status
                .required_with("status", |v| input::status("status", &v))?,
        };
        if change.is_empty() {
            return Err(nothing_to_change());
        }
        Ok(change)
    }
}

impl Change {
    fn is_empty(&self) -> bool {
        self.company_id.is_none()
            && self.name.is_none()
            && self.kind.is_none()
            && self.email.is_none()
            && self.phone.is_none()
            && self.tax_id.is_none()
            && self.address.is_none()
            && self.external_ref.is_none()
            && self.tags.is_none()
            && self.notes.is_none()
            && self.status.is_none()
    }

    /// `current` with this change applied.
    fn apply(self, current: &Partner) -> Partner {
        let mut next = current.clone();
        if let Some(company_id) = self.company_id {
            next.company_id = company_id.as_str().to_owned();
        }
        if let Some(name) = self.name {
            next.name = name;
        }
        if let Some(kind) = self.kind {
            next.kind = kind.to_owned();
        }
        if let Some(email) = self.email {
            next.email = email;
        }
        if let Some(phone) = self.phone {
            next.phone = phone;
        }
        if let Some(tax_id) = self.tax_id {
            next.tax_id = tax_id;
        }
        if let Some(address) = self.address {
            next.address = address;
        }
        if let Some(external_ref) = self.external_ref {
            next.external_ref = external_ref;
        }
        if let Some(tags) = self.tags {
            next.tags = tags;
        }
        if let Some(notes) = self.notes {
            next.notes = notes;
        }
        if let Some(status) = self.status {
            next.status = status.to_owned();
        }
        next
    }
}

/// `PATCH /v1/partners/{id}` with `If-Match`: 200 with the changed partner
/// and its new `ETag`; 428 without `If-Match`, 412 when the partner changed
/// since that `ETag`, 422 naming `company_id` for a company the org does
/// not have, 409 naming `external_ref` when the company has it already.
pub fn update(ctx: &RequestCtx) -> HandlerResult {
    let id: PartnerId = ctx.path_id("id")?;
    let change = Change::try_from(ctx.json::<Body>()?)?;
    let partner = partner::on_write(ctx.patch_under_if_match(
        &PATCH,
        |tx| lock(tx, &id),
        |current| change.apply(current),
        write,
    ))?;
    respond(200, &partner)
}

const PATCH: Patch = Patch {
    permission: Permission::PartnersWrite,
    action: "partner.updated",
    entity_type: "partner",
};

pub const LOCK: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM partners WHERE org_id = $1 AND id = $2::text::uuid FOR UPDATE"
);

/// The partner as it is now, locked until the transaction ends, so no write
/// comes between the `If-Match` check and the update.
pub fn lock(tx: &TenantTx<'_>, id: &PartnerId) -> Result<Option<Partner>, Error> {
    tx.fetch_optional(LOCK, &[Param::Text(id.as_str().to_owned())])
}

const UPDATE: &str = concat!(
    "UPDATE partners SET company_id = $3::text::uuid, name = $4, kind = $5, email = $6, \
     phone = $7, tax_id = $8, address = $9, external_ref = $10, tags = $11, notes = $12, \
     status = $13 \
     WHERE org_id = $1 AND id = $2::text::uuid RETURNING ",
    columns!()
);

fn write(tx: &TenantTx<'_>, next: &Partner) -> Result<Partner, Error> {
    tx.fetch_one(
        UPDATE,
        &[
            Param::from(&next.id),
            Param::from(&next.company_id),
            Param::from(&next.name),
            Param::from(&next.kind),
            Param::from(next.email.clone()),
            Param::from(next.phone.clone()),
            Param::from(next.tax_id.clone()),
            next.address.as_ref().map(Param::json).transpose()?.into(),
            Param::from(next.external_ref.clone()),
            Param::from(next.tags.clone()),
            Param::from(next.notes.clone()),
            Param::from(&next.status),
        ],
    )
}
