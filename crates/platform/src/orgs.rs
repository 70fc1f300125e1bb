//! The org table's own rows: [`OrgRow`], and [`create_with_owner`], the one
//! way an org is made (sign-up and `POST /v1/orgs` alike).

use serde::{Deserialize, Serialize};

use crate::domain::{Name, OrgId, Slug, UserId};
use crate::error::Error;
use crate::etag::ETag;
use crate::pg::{Param, Tx};
use crate::request::RequestCtx;

/// The columns every statement that returns an org selects, in [`OrgRow`]'s
/// shape.
pub const ORG_COLUMNS: &str = "id, name, slug, settings_json AS settings, created_at, updated_at";

/// An org row (timestamps as JSON renders them).
#[derive(Debug, Serialize, Deserialize)]
pub struct OrgRow {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub settings: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

impl OrgRow {
    /// The version tag of the row: `updated_at` changes on every write (the
    /// `org_set_updated_at` trigger), so any write gives a new tag.
    pub fn etag(&self) -> ETag {
        ETag::of(&format!("{}:{}", self.id, self.updated_at))
    }
}

/// What a new org is made from.
pub struct NewOrg<'a> {
    pub name: &'a Name,
    /// `None`: made from the name, suffixed until free.
    pub slug: Option<&'a Slug>,
    /// The request field a taken slug is reported on (`slug`, `org_slug`).
    pub slug_field: &'static str,
}

/// How many suffixed slugs to try when the one made from the name is taken.
const SLUG_ATTEMPTS: usize = 5;

fn insert_org_sql() -> String {
    format!(
        "INSERT INTO org (name, slug) VALUES ($1, $2) \
         ON CONFLICT ((lower(slug))) DO NOTHING RETURNING {ORG_COLUMNS}"
    )
}

const INSERT_OWNER: &str =
    "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner')";

/// Inserts the org and `owner`'s owner membership inside `tx`. A given slug
/// that is taken is a 409 naming `slug_field`; a slug made from the name is
/// suffixed with random hex until it is free (a few tries, then that 409).
/// Concurrent creates with one slug: one wins, the others wait for it and
/// get the 409 (`ON CONFLICT DO NOTHING`).
pub fn create_with_owner(
    ctx: &RequestCtx,
    tx: &Tx<'_>,
    new: &NewOrg<'_>,
    owner: UserId,
) -> Result<OrgRow, Error> {
    let org = insert_org(ctx, tx, new)?;
    tx.execute(INSERT_OWNER, &[Param::from(org.id), Param::from(owner)])?;
    Ok(org)
}

fn insert_org(ctx: &RequestCtx, tx: &Tx<'_>, new: &NewOrg<'_>) -> Result<OrgRow, Error> {
    let sql = insert_org_sql();
    let insert = |slug: &Slug| -> Result<Option<OrgRow>, Error> {
        tx.fetch_optional(&sql, &[Param::from(new.name.as_str()), Param::from(slug)])
    };
    let taken = |detail: String| Error::conflict(Some(new.slug_field), detail);
    if let Some(slug) = new.slug {
        return insert(slug)?.ok_or_else(|| taken(format!("{} is already taken", new.slug_field)));
    }
    let base = match Slug::from_name(new.name.as_str()) {
        Some(slug) => slug,
        None => Slug::parse(&format!("org-{}", hex::encode(ctx.random::<3>()?)))?,
    };
    if let Some(org) = insert(&base)? {
        return Ok(org);
    }
    for _ in 0..SLUG_ATTEMPTS {
        if let Some(org) = insert(&base.with_suffix(&hex::encode(ctx.random::<2>()?))?)? {
            return Ok(org);
        }
    }
    Err(taken(format!(
        "no free slug could be made from the name; give {}",
        new.slug_field
    )))
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::request::Method;
    use crate::services::fake::FakeServices;

    const ORG: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
    const USER: &str = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";

    fn row(slug: &str) -> String {
        format!(
            r#"[{{"id":"{ORG}","name":"Acme","slug":"{slug}","settings":{{}},"created_at":"t","updated_at":"t"}}]"#
        )
    }

    #[test]
    fn a_taken_name_slug_is_suffixed_and_the_owner_added() {
        let services = Rc::new(FakeServices::new(&[], 0));
        let fake = services.backend.clone();
        fake.answer("[]").answer(&row("acme-0102"));
        let ctx =
            RequestCtx::new(Method::Post, "/", "", vec![], vec![]).with_services(services.clone());
        let db = ctx.db().unwrap();
        let name = Name::parse("Acme").unwrap();
        let new = NewOrg {
            name: &name,
            slug: None,
            slug_field: "slug",
        };
        let org = db
            .transaction(|tx| create_with_owner(&ctx, tx, &new, UserId::parse(USER)?))
            .unwrap();
        assert_eq!(org.slug, "acme-0102");
        let calls = fake.calls();
        let slugs: Vec<&Param> = calls
            .iter()
            .filter(|(sql, _)| sql.contains("INSERT INTO org"))
            .map(|(_, p)| &p[1])
            .collect();
        assert_eq!(
            slugs,
            [
                &Param::Text("acme".into()),
                &Param::Text("acme-0102".into())
            ]
        );
        assert!(
            calls
                .iter()
                .any(|(sql, p)| sql == INSERT_OWNER && p[1] == Param::Uuid(USER.into()))
        );
    }

    #[test]
    fn a_taken_given_slug_is_a_409_naming_the_field() {
        let services = Rc::new(FakeServices::new(&[], 0));
        services.backend.answer("[]");
        let ctx =
            RequestCtx::new(Method::Post, "/", "", vec![], vec![]).with_services(services.clone());
        let name = Name::parse("Acme").unwrap();
        let slug = Slug::parse("acme").unwrap();
        let new = NewOrg {
            name: &name,
            slug: Some(&slug),
            slug_field: "org_slug",
        };
        let err = ctx
            .db()
            .unwrap()
            .transaction(|tx| create_with_owner(&ctx, tx, &new, UserId::parse(USER)?))
            .unwrap_err();
        assert_eq!(
            err,
            Error::conflict(Some("org_slug"), "org_slug is already taken")
        );
    }
}
