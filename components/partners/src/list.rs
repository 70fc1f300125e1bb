//! `GET /v1/partners` and `GET /v1/companies/{company_id}/partners`: keyset
//! pages in one of four orders, filtered by kind, status, company and tag,
//! or (`q=`) one page of fuzzy name matches, best first.

use plinth_platform::auth::Permission;
use plinth_platform::domain::CompanyId;
use plinth_platform::order_sql;
use plinth_platform::page::{OrderSql, Search};
use plinth_platform::{Error, HandlerResult, Page, PageRequest, Param, RequestCtx};
use serde::de::IgnoredAny;

use crate::input;
use crate::partner::{Partner, columns};

/// The filters, `$2`–`$5`, each NULL when not asked for. `kind=customer`
/// (or `supplier`) also finds the partners that are `both`.
macro_rules! filters {
    () => {
        "org_id = $1 AND ($2::text IS NULL OR kind = $2::text OR kind = 'both') \
         AND ($3::text IS NULL OR status = $3::text) \
         AND ($4::text IS NULL OR company_id = $4::text::uuid) \
         AND ($5::text IS NULL OR tags @> ARRAY[$5::text])"
    };
}

/// The page queries: the filters, `$6`/`$7` the cursor, `$8` the limit.
const PAGES: OrderSql = order_sql!(columns!(), "partners", filters!(), 6, 7, 8);

/// The filter parameters of a request, as `$2`–`$5`.
fn filter_params(ctx: &RequestCtx, company: Option<CompanyId>) -> Result<[Param; 4], Error> {
    let kind = ctx
        .query_param("kind")?
        .map(|s| input::kind("kind", &s))
        .transpose()?;
    let status = ctx
        .query_param("status")?
        .map(|s| input::status("status", &s))
        .transpose()?;
    let given = ctx.query_param("company_id")?;
    let company = match (company, given) {
        (Some(_), Some(_)) => {
            return Err(Error::field("company_id", "is given by the path"));
        }
        (Some(path), None) => Some(path),
        (None, given) => given.as_deref().map(CompanyId::parse).transpose()?,
    };
    let tag = ctx
        .query_param("tag")?
        .map(|t| input::tag("tag", &t))
        .transpose()?;
    Ok([
        Param::from(kind),
        Param::from(status),
        Param::from(company.map(|c| c.as_str().to_owned())),
        Param::from(tag),
    ])
}

/// `GET /v1/partners?kind=&status=&company_id=&tag=&sort=&limit=&cursor=`,
/// or with `q=` the best matches of the name first (one page: no `cursor`).
pub fn list(ctx: &RequestCtx) -> HandlerResult {
    page(ctx, None)?.respond()
}

/// `GET /v1/companies/{company_id}/partners`: the list of one company; 404
/// when the org has no such company. An empty page is the one case that
/// needs a second look, to tell a company without (more) partners from none.
pub fn list_for_company(ctx: &RequestCtx) -> HandlerResult {
    let company: CompanyId = ctx.path_id("company_id")?;
    let page = page(ctx, Some(company))?;
    if page.items.is_empty() {
        let (_, found) = ctx.tenant_read::<IgnoredAny>(
            Permission::PartnersRead,
            COMPANY,
            &[Param::Text(company.as_str().to_owned())],
        )?;
        if found.is_empty() {
            return Err(Error::NotFound);
        }
    }
    page.respond()
}

const COMPANY: &str = "SELECT id FROM companies WHERE org_id = $1 AND id = $2::text::uuid";

/// The page: in one of the four orders, or the matches of `q`.
fn page(ctx: &RequestCtx, company: Option<CompanyId>) -> Result<Page<Partner>, Error> {
    let page = PageRequest::from_query(ctx)?;
    let params = filter_params(ctx, company)?;
    ctx.tenant_list(
        Permission::PartnersRead,
        page.listing(ctx)?,
        &PAGES,
        &params,
        |found| search(ctx, params.clone(), found),
    )
}

/// How many names holding every word of `q` are ranked (and any name equal
/// to `q`): a query that broad is ranked among that many of its names.
const MAX_WORD_MATCHES: i32 = 500;

// Names holding every word of `q` (as typed, as a prefix, or as a typo of a
// word in the org's names: `plinth_partner_matches`, migration 0008, reads a
// GIN word index the app role could not use under row-level security), best
// match first. When no name holds them all, the `$7` names nearest to `q` by
// trigram distance (`<->`, read in that order from the GiST index on
// (org_id, lower(name))) that are similar enough (`%`:
// `pg_trgm.similarity_threshold`, 0.3 by default). The rows are read under
// the caller's row-level security either way.
const SEARCH: &str = concat!(
    "WITH matched AS (SELECT ",
    columns!(),
    ", similarity(lower(name), lower($6::text)) AS score FROM partners WHERE ",
    filters!(),
    " AND id IN (SELECT m FROM plinth_partner_matches($6::text, $8) AS m)) \
     SELECT ",
    columns!(),
    " FROM (SELECT * FROM matched UNION ALL SELECT ",
    columns!(),
    ", similarity(lower(name), lower($6::text)) FROM (SELECT ",
    columns!(),
    " FROM partners WHERE ",
    filters!(),
    " ORDER BY lower(name) <-> lower($6::text) LIMIT $7) nearest \
     WHERE NOT EXISTS (SELECT 1 FROM matched) AND lower(name) % lower($6::text)) found \
     ORDER BY score DESC, name, id LIMIT $7"
);

/// The `limit` best matches of `q` among the names the filters leave.
fn search(ctx: &RequestCtx, filters: [Param; 4], found: &Search) -> Result<Page<Partner>, Error> {
    let mut params = Vec::from(filters);
    params.push(Param::from(found.q()));
    params.push(Param::Int64(i64::from(found.limit())));
    params.push(Param::Int32(MAX_WORD_MATCHES));
    let (_, items) = ctx.tenant_read::<Partner>(Permission::PartnersRead, SEARCH, &params)?;
    Ok(Page::only(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert!(PAGES.created_at_desc.contains(
            "(created_at, id) < ($6::text::timestamptz, $7::text::uuid)) \
             ORDER BY created_at DESC, id DESC LIMIT $8"
        ));
        assert!(PAGES.name.ends_with("ORDER BY name ASC, id ASC LIMIT $8"));
        assert!(SEARCH.contains("ORDER BY lower(name) <-> lower($6::text) LIMIT $7) nearest"));
        assert!(SEARCH.contains("plinth_partner_matches($6::text, $8)"));
    }
}
