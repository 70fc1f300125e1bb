//! `GET /v1/partners` and `GET /v1/companies/{company_id}/partners`: keyset
//! pages in one of four orders, filtered by kind, status, company and tag,
//! or (`q=`) one page of fuzzy name matches, best first.

use plinth_platform::auth::Permission;
use plinth_platform::domain::CompanyId;
use plinth_platform::page::{MAX_LIMIT, Order};
use plinth_platform::{Error, HandlerResult, Page, PageRequest, Param, RequestCtx, json};
use serde::Serialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::input;
use crate::partner::{self, Partner, columns};

/// Longest search text, in characters.
const MAX_Q_CHARS: usize = 200;

/// The page query of `order`.
fn order_sql(order: Order) -> &'static str {
    match order {
        Order::Name => LIST_NAME,
        Order::NameDesc => LIST_NAME_DESC,
        Order::CreatedAt => LIST_CREATED,
        Order::CreatedAtDesc => LIST_CREATED_DESC,
    }
}

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

/// A page query: the filters, `$6`/`$7` the cursor, `$8` the limit;
/// `$after` is the cursor's sort key as the column's type. Descending
/// orders compare the other way.
macro_rules! list_sql {
    ($key:literal, $after:expr, $cmp:literal, $dir:literal) => {
        concat!(
            "SELECT ",
            columns!(),
            " FROM partners WHERE ",
            filters!(),
            " AND ($6::text IS NULL OR (",
            $key,
            ", id) ",
            $cmp,
            " (",
            $after,
            ", $7::text::uuid)) ORDER BY ",
            $key,
            " ",
            $dir,
            ", id ",
            $dir,
            " LIMIT $8"
        )
    };
}

const LIST_NAME: &str = list_sql!("name", "$6::text", ">", "ASC");
const LIST_NAME_DESC: &str = list_sql!("name", "$6::text", "<", "DESC");
const LIST_CREATED: &str = list_sql!("created_at", "$6::text::timestamptz", ">", "ASC");
const LIST_CREATED_DESC: &str = list_sql!("created_at", "$6::text::timestamptz", "<", "DESC");

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
    let (body, _) = page(ctx, None)?;
    respond(&body)
}

/// `GET /v1/companies/{company_id}/partners`: the list of one company; 404
/// when the org has no such company. An empty page is the one case that
/// needs a second look, to tell a company without (more) partners from none.
pub fn list_for_company(ctx: &RequestCtx) -> HandlerResult {
    let company = partner::path_company(ctx)?;
    let (body, empty) = page(ctx, Some(company))?;
    if empty {
        let (_, found) = ctx.tenant_read::<IgnoredAny>(
            Permission::PartnersRead,
            COMPANY,
            &[Param::Text(company.as_str().to_owned())],
        )?;
        if found.is_empty() {
            return Err(Error::NotFound);
        }
    }
    respond(&body)
}

const COMPANY: &str = "SELECT id FROM companies WHERE org_id = $1 AND id = $2::text::uuid";

fn respond(body: &Value) -> HandlerResult {
    Ok(json(200, body)?.with_header("cache-control", "private, no-cache"))
}

/// The page (one of the four orders, or the matches of `q`) as JSON, and
/// whether it has no items.
fn page(ctx: &RequestCtx, company: Option<CompanyId>) -> Result<(Value, bool), Error> {
    let page = PageRequest::from_query(ctx)?;
    let params = filter_params(ctx, company)?;
    let sort = ctx.query_param("sort")?;
    match ctx.query_param("q")? {
        Some(q) => {
            if sort.is_some() {
                return Err(Error::field("sort", "search results are ordered by match"));
            }
            if page.after().is_some() {
                return Err(Error::field("cursor", "search results are one page"));
            }
            to_json(search(ctx, params, &q, page.limit())?)
        }
        None => {
            let order = Order::parse(sort.as_deref())?;
            to_json(ctx.tenant_page_in::<Partner>(
                Permission::PartnersRead,
                order,
                order_sql(order),
                &params,
                &page,
            )?)
        }
    }
}

/// The page as JSON, and whether it has no items.
fn to_json<T: Serialize>(page: Page<T>) -> Result<(Value, bool), Error> {
    let empty = page.items.is_empty();
    let body = serde_json::to_value(page)
        .map_err(|err| Error::internal_from("serialize the page", &err))?;
    Ok((body, empty))
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
fn search(
    ctx: &RequestCtx,
    filters: [Param; 4],
    q: &str,
    limit: u16,
) -> Result<Page<Partner>, Error> {
    let q = q.trim();
    if q.is_empty() || q.chars().count() > MAX_Q_CHARS {
        return Err(Error::field(
            "q",
            format!("must be 1-{MAX_Q_CHARS} characters"),
        ));
    }
    debug_assert!(limit <= MAX_LIMIT);
    let mut params = Vec::from(filters);
    params.push(Param::from(q));
    params.push(Param::Int64(i64::from(limit)));
    params.push(Param::Int32(MAX_WORD_MATCHES));
    let (_, items) = ctx.tenant_read::<Partner>(Permission::PartnersRead, SEARCH, &params)?;
    Ok(Page {
        items,
        next_cursor: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts() {
        assert_eq!(Order::parse(None).unwrap(), Order::Name);
        assert_eq!(
            Order::parse(Some("-created_at")).unwrap(),
            Order::CreatedAtDesc
        );
        assert_eq!(Order::parse(Some("name desc")).unwrap_err().status(), 422);
        assert!(LIST_CREATED_DESC.contains(
            "(created_at, id) < ($6::text::timestamptz, $7::text::uuid)) \
             ORDER BY created_at DESC, id DESC LIMIT $8"
        ));
        assert!(LIST_NAME.ends_with("ORDER BY name ASC, id ASC LIMIT $8"));
        assert!(SEARCH.contains("ORDER BY lower(name) <-> lower($6::text) LIMIT $7) nearest"));
        assert!(SEARCH.contains("plinth_partner_matches($6::text, $8)"));
    }
}
