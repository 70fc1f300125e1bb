//! `GET /v1/companies`: keyset pages in one of four orders, filtered by
//! status, or (`q=`) one page of fuzzy name matches, best first.

use plinth_platform::auth::Permission;
use plinth_platform::page::{MAX_LIMIT, Order};
use plinth_platform::{Error, HandlerResult, Page, PageRequest, Param, RequestCtx, json};

use crate::company::{Company, columns};
use crate::input;

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

/// A page query: `$2` the status filter (NULL for every status), `$3`/`$4`
/// the cursor, `$5` the limit; `$after` is the cursor's sort key as the
/// column's type. Descending orders compare the other way.
macro_rules! list_sql {
    ($key:literal, $after:expr, $cmp:literal, $dir:literal) => {
        concat!(
            "SELECT ",
            columns!(),
            " FROM companies WHERE org_id = $1 AND ($2::text IS NULL OR status = $2::text) \
             AND ($3::text IS NULL OR (",
            $key,
            ", id) ",
            $cmp,
            " (",
            $after,
            ", $4::text::uuid)) ORDER BY ",
            $key,
            " ",
            $dir,
            ", id ",
            $dir,
            " LIMIT $5"
        )
    };
}

const LIST_NAME: &str = list_sql!("name", "$3::text", ">", "ASC");
const LIST_NAME_DESC: &str = list_sql!("name", "$3::text", "<", "DESC");
const LIST_CREATED: &str = list_sql!("created_at", "$3::text::timestamptz", ">", "ASC");
const LIST_CREATED_DESC: &str = list_sql!("created_at", "$3::text::timestamptz", "<", "DESC");

/// `GET /v1/companies?status=&sort=&limit=&cursor=`, or with `q=` the best
/// matches of the name first (one page: no `cursor`).
pub fn list(ctx: &RequestCtx) -> HandlerResult {
    let page = PageRequest::from_query(ctx)?;
    let status = ctx
        .query_param("status")?
        .map(|s| input::status("status", &s))
        .transpose()?;
    let sort = ctx.query_param("sort")?;
    let params = [Param::from(status)];
    let body = match ctx.query_param("q")? {
        Some(q) => {
            if sort.is_some() {
                return Err(Error::field("sort", "search results are ordered by match"));
            }
            if page.after().is_some() {
                return Err(Error::field("cursor", "search results are one page"));
            }
            serde_json::to_value(search(ctx, status, &q, page.limit())?)
        }
        None => {
            let order = Order::parse(sort.as_deref())?;
            serde_json::to_value(ctx.tenant_page_in::<Company>(
                Permission::CompaniesRead,
                order,
                order_sql(order),
                &params,
                &page,
            )?)
        }
    };
    let body = body.map_err(|err| Error::internal_from("serialize the page", &err))?;
    Ok(json(200, &body)?.with_header("cache-control", "private, no-cache"))
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
    q: &str,
    limit: u16,
) -> Result<Page<Company>, Error> {
    let q = q.trim();
    if q.is_empty() || q.chars().count() > MAX_Q_CHARS {
        return Err(Error::field(
            "q",
            format!("must be 1-{MAX_Q_CHARS} characters"),
        ));
    }
    debug_assert!(limit <= MAX_LIMIT);
    let (_, items) = ctx.tenant_read::<Company>(
        Permission::CompaniesRead,
        SEARCH,
        &[
            Param::from(status),
            Param::from(q),
            Param::Int64(i64::from(limit)),
        ],
    )?;
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
            "(created_at, id) < ($3::text::timestamptz, $4::text::uuid)) \
             ORDER BY created_at DESC, id DESC LIMIT $5"
        ));
        assert!(LIST_NAME.ends_with("ORDER BY name ASC, id ASC LIMIT $5"));
    }
}
