//! Operator work across orgs, behind the `admin_token`: an [`Admin`] witness
//! (made only by [`Admin::authorize`], the check the migrate routes use) and
//! [`Admin::tenant`], a [`TenantTx`] for one org chosen from the database's
//! own rows (an [`OrgId`] never comes from a request), for maintenance such
//! as the files sweep that must visit every org's rows under row-level
//! security.

use crate::domain::OrgId;
use crate::error::Error;
use crate::pg::{Db, TenantTx};
use crate::request::RequestCtx;

/// Proof that the request carried the admin token.
#[derive(Debug)]
pub struct Admin(());

impl Admin {
    /// `Authorization: Bearer <admin_token>` (constant-time), else 401.
    pub fn authorize(ctx: &RequestCtx) -> Result<Self, Error> {
        crate::migrate::http::authorize(ctx)?;
        Ok(Self(()))
    }

    /// Runs `f` in a transaction scoped to `org` (`app.org_id` set, the org
    /// bound as `$1` as in every tenant transaction). `org` can only have
    /// come from a row the database returned.
    pub fn tenant<R>(
        &self,
        db: &Db,
        org: OrgId,
        f: impl FnOnce(&TenantTx<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        db.tenant(org, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::Param;
    use crate::pg::fake::FakeBackend;
    use crate::request::Method;
    use crate::services::fake::FakeServices;

    fn ctx(auth: Option<&str>) -> RequestCtx {
        let headers = auth
            .map(|a| vec![("authorization".to_owned(), a.to_owned())])
            .unwrap_or_default();
        RequestCtx::new(Method::Post, "/x", "", headers, vec![]).with_services(std::rc::Rc::new(
            FakeServices::new(&[("admin_token", "s3cret")], 0),
        ))
    }

    #[test]
    fn only_the_admin_token_makes_an_admin() {
        assert!(Admin::authorize(&ctx(Some("Bearer s3cret"))).is_ok());
        for auth in [None, Some("Bearer other"), Some("Basic s3cret")] {
            assert_eq!(
                Admin::authorize(&ctx(auth)).unwrap_err().status(),
                401,
                "{auth:?}"
            );
        }
    }

    #[test]
    fn tenant_sets_the_org_first_and_binds_it() {
        let fake = FakeBackend::new();
        fake.execute_rows("SELECT set_config", 1);
        let db = Db::with_backend(fake.clone());
        let admin = Admin(());
        let org = crate::domain::org_id::decoding_rows(|| {
            serde_json::from_str::<OrgId>("\"3f2504e0-4f89-11d3-9a0c-0305e82c3301\"")
        })
        .unwrap();
        admin
            .tenant(&db, org, |tx| {
                tx.execute("DELETE FROM files WHERE org_id = $1", &[])
            })
            .unwrap();
        let calls = fake.calls();
        assert_eq!(calls[0].0, "BEGIN");
        assert!(calls[1].0.starts_with("SELECT set_config('app.org_id'"));
        assert_eq!(calls[2].1[0], Param::Uuid(org.as_str().into()));
        assert_eq!(calls.last().unwrap().0, "COMMIT");
    }
}
