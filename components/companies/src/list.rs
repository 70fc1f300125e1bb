//! `GET /v1/companies`: keyset pages in one of four orders, filtered by
//! status, or (`q=`) one page of fuzzy name matches, best first.

use plinth_platform::auth::Permission;
use plinth_platform::order_sql;
use plinth_platform::page::{OrderSql, Search};
use plinth_platform::{Error, HandlerResult, Page, PageRequest, Param, RequestCtx};

use crate::company::{Company, columns};
use crate::input;

/// The page queries: `$2` the status filter (NULL for every status), `$3`/`$4`
/// the cursor, `$5` the limit.
const PAGES: OrderSql = order_sql!(
    columns!(),
    "companies",
    "org_id = $1 AND ($2::text IS NULL OR status = $2::text)",
    3,
    4,
    5
);

/// `GET /v1/companies?status=&sort=&limit=&cursor=`, or with `q=` the best
/// matches of the name first (one page: no `cursor`).
pub fn list(ctx: &RequestCtx) -> HandlerResult {
    let page = PageRequest::from_query(ctx)?;
    let status = ctx
        .query_param("status")?
        .map(|s| input::status("status", &s))
        .transpose()?;
    ctx.tenant_list::<Company>(
        Permission::CompaniesRead,
        page.listing(ctx)?,
        &PAGES,
        &[Param::from(status)],
        |found| search(ctx, status, found),
    )?
    .respond()
}

// `%` is pg_trgm's similarity operator (threshold `pg_trgm.similarity_threshold`,
// 0.3 by default), served by the trigram index on lower(name).
const SEARCH: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM companies WHERE org_id = $1 AND ($2::text IS NULL OR status = $2::text) \
     AND lower(name) % lower($3::text) \
     ORDER BY similarity(lower(name), lower($3::text)) DESC, name, id LIMIT $4"
);

/// The `limit` best matches of `q` among the org's company names.
fn search(
    ctx: &RequestCtx,
    status: Option<&'static str>,
    found: &Search,
) -> Result<Page<Company>, Error> {
    let (_, items) = ctx.tenant_read::<Company>(
        Permission::CompaniesRead,
        SEARCH,
        &[
            Param::from(status),
            Param::from(found.q()),
            Param::Int64(i64::from(found.limit())),
        ],
    )?;
    Ok(Page::only(items))
}
