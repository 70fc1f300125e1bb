//! Bounded keyset pagination: [`PageRequest`] (from `?limit=&cursor=`),
//! the opaque [`Cursor`], the response shape [`Page`] and
//! [`TenantTx::fetch_page`], which runs one page of a list query; for lists
//! of named rows, the four [`Order`]s and their queries ([`order_sql!`]),
//! and [`Listing`], a page or a search (`q=`).
//!
//! Lists page on `(sort_key, id)` rather than with `OFFSET`: a page costs
//! the same however deep it is, and rows inserted meanwhile neither repeat
//! nor vanish. Every page is bounded: `limit` is 1–[`MAX_LIMIT`], and a
//! query without the `LIMIT` placeholder is refused before it is sent.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::id::parse_uuid;
use crate::error::{Error, FieldError};
use crate::pg::{Param, TenantTx};
use crate::request::RequestCtx;

/// Items per page when the request does not say.
pub const DEFAULT_LIMIT: u16 = 50;

/// The most items a client may ask for.
pub const MAX_LIMIT: u16 = 200;

/// The longest cursor accepted (and handed out), in characters. This leaves
/// a sort key about 1,480 bytes once JSON-escaped: any 200-character name,
/// even one made of characters JSON writes as `\uXXXX`.
pub const MAX_CURSOR_LEN: usize = 2048;

/// Which page a list request asks for: `limit` items after `after`.
/// Built only by [`PageRequest::parse`], so the limit is always in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    limit: u16,
    after: Option<Cursor>,
}

impl Default for PageRequest {
    /// The first page with the default limit.
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            after: None,
        }
    }
}

impl PageRequest {
    /// Reads the `limit` and `cursor` query parameters.
    pub fn from_query(ctx: &RequestCtx) -> Result<Self, Error> {
        let limit = ctx.query_param("limit")?;
        let cursor = ctx.query_param("cursor")?;
        Self::parse(limit.as_deref(), cursor.as_deref())
    }

    /// Parses the raw parameter values (`None` when absent). A value of the
    /// wrong shape (a limit that is not digits, a cursor this module did not
    /// write, a present but empty value) is a 400; a limit out of 1–200 is
    /// a 422. Both fields are checked; when both kinds occur the 400 is
    /// reported, as a body's shape is checked before its rules.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, Error> {
        let mut malformed = Vec::new();
        let mut invalid = Vec::new();
        let limit = match limit.map(parse_limit).transpose() {
            Ok(limit) => limit.unwrap_or(DEFAULT_LIMIT),
            Err(BadLimit::Malformed(err)) => {
                malformed.push(err);
                DEFAULT_LIMIT
            }
            Err(BadLimit::OutOfRange(err)) => {
                invalid.push(err);
                DEFAULT_LIMIT
            }
        };
        let after = cursor
            .map(Cursor::decode)
            .transpose()
            .unwrap_or_else(|err| {
                malformed.push(err);
                None
            });
        if !malformed.is_empty() {
            return Err(Error::Malformed(malformed));
        }
        if !invalid.is_empty() {
            return Err(Error::Validation(invalid));
        }
        Ok(Self { limit, after })
    }

    pub fn limit(&self) -> u16 {
        self.limit
    }

    /// The cursor of the previous page's last item; `None` for the first page.
    pub fn after(&self) -> Option<&Cursor> {
        self.after.as_ref()
    }
}

enum BadLimit {
    Malformed(FieldError),
    OutOfRange(FieldError),
}

fn parse_limit(value: &str) -> Result<u16, BadLimit> {
    let range = format!("from 1 to {MAX_LIMIT}");
    // Digits only: `u16::from_str` would also take `+5`.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadLimit::Malformed(FieldError::new(
            "limit",
            format!("must be a whole number {range}"),
        )));
    }
    match value.parse::<u16>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        // Zero, too large, or more digits than a u16 holds.
        _ => Err(BadLimit::OutOfRange(FieldError::new(
            "limit",
            format!("must be {range}"),
        ))),
    }
}

/// Where a page starts: the `(sort_key, id)` of the last item of the page
/// before. Clients see only its encoding (base64url, no padding, of
/// `{"k":"<sort key>","id":"<uuid>"}`) and pass it back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    sort_key: String,
    id: String,
}

/// The JSON inside a cursor.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    k: String,
    id: String,
}

impl Cursor {
    /// The cursor after the row `(sort_key, id)`. Fails (500) when `id` is
    /// not a UUID or the cursor would be longer than [`MAX_CURSOR_LEN`]: the
    /// row comes from our own query, so either is a bug, and a cursor the
    /// next request would refuse must not be handed out.
    pub fn after(sort_key: &str, id: &str) -> Result<Self, Error> {
        let id = parse_uuid(id)
            .and_then(|text| String::from_utf8(text.to_vec()).ok())
            .ok_or_else(|| Error::internal(format!("cursor id is not a UUID: {id:?}")))?;
        let cursor = Self {
            sort_key: sort_key.to_owned(),
            id,
        };
        let length = cursor.encode().len();
        if length > MAX_CURSOR_LEN {
            return Err(Error::internal(format!(
                "cursor would be {length} characters, over {MAX_CURSOR_LEN}: sort key too long"
            )));
        }
        Ok(cursor)
    }

    /// Parses a cursor from the query, strictly: at most
    /// [`MAX_CURSOR_LEN`] characters of base64url without padding, the JSON
    /// `{"k","id"}` with a UUID id, in exactly the form [`Cursor::encode`]
    /// writes. Anything else is a 400 (malformed) on `cursor`.
    pub fn parse(value: &str) -> Result<Self, Error> {
        Self::decode(value).map_err(|err| Error::Malformed(vec![err]))
    }

    fn decode(value: &str) -> Result<Self, FieldError> {
        let invalid = || FieldError::new("cursor", "is not a valid cursor");
        if value.is_empty() || value.len() > MAX_CURSOR_LEN {
            return Err(invalid());
        }
        let json = URL_SAFE_NO_PAD.decode(value).map_err(|_| invalid())?;
        let wire: Wire = serde_json::from_slice(&json).map_err(|_| invalid())?;
        let id = parse_uuid(&wire.id)
            .and_then(|text| String::from_utf8(text.to_vec()).ok())
            .ok_or_else(invalid)?;
        let cursor = Self {
            sort_key: wire.k,
            id,
        };
        // One encoding per cursor: no other spelling of the same JSON
        // (spacing, key order, escapes, upper-case id) is accepted.
        if cursor.encode() != value {
            return Err(invalid());
        }
        Ok(cursor)
    }

    /// The opaque text handed to clients as `next_cursor`.
    pub fn encode(&self) -> String {
        let wire = Wire {
            k: self.sort_key.clone(),
            id: self.id.clone(),
        };
        // Serializing two strings cannot fail; an empty object would only
        // make the next request's cursor invalid.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn sort_key(&self) -> &str {
        &self.sort_key
    }

    /// The row's id, canonical lowercase UUID text.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// One page of a list, as sent: `{"items": [...], "next_cursor": "…" | null}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A row that can be paged: its position in the list's order.
pub trait Keyed {
    /// The value of the list's sort column, as text (as the row's JSON
    /// renders it: a `timestamptz` as its ISO text).
    fn sort_key(&self) -> String;
    /// The row's id (a UUID), the tie-breaker of the order.
    fn id(&self) -> String;
}

/// Whether `sql` ends with `LIMIT $k` (any case, any spacing), so the limit
/// is the statement's own and not a subquery's. Not a parser: it guards
/// against a forgotten limit, not against a deliberate trick.
fn limit_clause_ok(sql: &str, k: usize) -> bool {
    let body = sql.trim().trim_end_matches(';').trim_end();
    // A trailing `-- LIMIT $k` comment is not a limit.
    if body
        .lines()
        .next_back()
        .is_none_or(|line| line.contains("--"))
    {
        return false;
    }
    let Some(rest) = body.strip_suffix(format!("${k}").as_str()) else {
        return false;
    };
    let before_placeholder = rest.trim_end();
    if before_placeholder.len() == rest.len() {
        return false; // `LIMIT$k` is one identifier to Postgres.
    }
    let Some(at) = before_placeholder.len().checked_sub("LIMIT".len()) else {
        return false;
    };
    let keyword_ok = before_placeholder
        .get(at..)
        .is_some_and(|word| word.eq_ignore_ascii_case("LIMIT"));
    let separated = before_placeholder
        .get(..at)
        .is_some_and(|head| head.ends_with(|c: char| c.is_whitespace() || c == ')'));
    keyword_ok && separated
}

/// Whether `sql` mentions `$n` (and not only `$n0`, `$n1`, …).
fn uses_param(sql: &str, n: usize) -> bool {
    let placeholder = format!("${n}");
    sql.match_indices(&placeholder)
        .any(|(at, _)| !sql[at + placeholder.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

impl TenantTx<'_> {
    /// One page of a tenant list query.
    ///
    /// `sql` is a complete `SELECT` ordered by `(sort_key, id)` that ends
    /// with `LIMIT $k`. After the org id (`$1`) and the caller's `params`
    /// (`$2` … `$(p+1)` for `p` params), this binds three more:
    ///
    /// - `$(p+2)`: the cursor's sort key as text, `NULL` on the first page;
    /// - `$(p+3)`: the cursor's id as text, `NULL` on the first page;
    /// - `$(p+4)` = `$k`: `limit + 1` (int8), one extra row to tell whether
    ///   there is a next page.
    ///
    /// With one caller param (`$2`), a list by name:
    ///
    /// ```sql
    /// SELECT id, name FROM companies
    /// WHERE org_id = $1 AND status = $2
    ///   AND ($3::text IS NULL OR (name, id) > ($3::text, $4::text::uuid))
    /// ORDER BY name, id
    /// LIMIT $5
    /// ```
    ///
    /// Cast `$(p+2)` to the sort column's type (`$3::text::timestamptz` for
    /// `created_at`); the sort column must be `NOT NULL`, and
    /// [`Keyed::sort_key`] must return it as the row's JSON renders it.
    ///
    /// Refused with a 500 before anything is sent: SQL that does not end with
    /// `LIMIT $k` for the right `k`, or that leaves a cursor parameter
    /// unused. The next cursor is built from the last item when the query
    /// returned `limit + 1` rows.
    pub fn fetch_page<T: DeserializeOwned + Keyed>(
        &self,
        sql: &str,
        params: &[Param],
        page: &PageRequest,
    ) -> Result<Page<T>, Error> {
        let all = page_params(sql, params, page)?;
        finish_page(self.fetch_all(sql, &all)?, page)
    }
}

/// [`TenantTx::fetch_page`] for reads that need no transaction: one
/// statement with the credential check ([`RequestCtx::tenant_read`]).
impl RequestCtx {
    pub fn tenant_page<T: DeserializeOwned + Keyed>(
        &self,
        permission: crate::auth::Permission,
        sql: &str,
        params: &[Param],
        page: &PageRequest,
    ) -> Result<(crate::auth::Caller, Page<T>), Error> {
        let all = page_params(sql, params, page)?;
        let (caller, rows) = self.tenant_read(permission, sql, &all)?;
        Ok((caller, finish_page(rows, page)?))
    }
}

/// The orders of a list of named things: `sort=name|-name|created_at|-created_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Name,
    NameDesc,
    CreatedAt,
    CreatedAtDesc,
}

impl Order {
    /// Absent: by name, A first. Anything else is a 422 naming `sort`.
    pub fn parse(value: Option<&str>) -> Result<Self, Error> {
        match value {
            None | Some("name") => Ok(Self::Name),
            Some("-name") => Ok(Self::NameDesc),
            Some("created_at") => Ok(Self::CreatedAt),
            Some("-created_at") => Ok(Self::CreatedAtDesc),
            Some(_) => Err(Error::field(
                "sort",
                "must be one of name, -name, created_at, -created_at",
            )),
        }
    }
}

/// A row a list can order by name or by creation time.
pub trait Listed {
    fn id(&self) -> &str;
    fn name(&self) -> &str;
    /// As the row's JSON renders it.
    fn created_at(&self) -> &str;
}

/// A row in a page ordered by name: its cursor holds the name.
#[derive(Deserialize)]
#[serde(transparent)]
struct ByName<T>(T);

impl<T: Listed> Keyed for ByName<T> {
    fn sort_key(&self) -> String {
        self.0.name().to_owned()
    }
    fn id(&self) -> String {
        self.0.id().to_owned()
    }
}

/// A row in a page ordered by creation time.
#[derive(Deserialize)]
#[serde(transparent)]
struct ByCreated<T>(T);

impl<T: Listed> Keyed for ByCreated<T> {
    fn sort_key(&self) -> String {
        self.0.created_at().to_owned()
    }
    fn id(&self) -> String {
        self.0.id().to_owned()
    }
}

impl RequestCtx {
    /// [`RequestCtx::tenant_page`] in `order`, whose SQL is `sql` (see
    /// [`TenantTx::fetch_page`] for its shape): the cursor holds the name
    /// or the creation time as the order needs.
    pub fn tenant_page_in<T: DeserializeOwned + Listed>(
        &self,
        permission: crate::auth::Permission,
        order: Order,
        sql: &str,
        params: &[Param],
        page: &PageRequest,
    ) -> Result<Page<T>, Error> {
        fn unwrap<W, T>(page: Page<W>, f: impl Fn(W) -> T) -> Page<T> {
            Page {
                items: page.items.into_iter().map(f).collect(),
                next_cursor: page.next_cursor,
            }
        }
        Ok(match order {
            Order::Name | Order::NameDesc => unwrap(
                self.tenant_page::<ByName<T>>(permission, sql, params, page)?
                    .1,
                |row| row.0,
            ),
            Order::CreatedAt | Order::CreatedAtDesc => unwrap(
                self.tenant_page::<ByCreated<T>>(permission, sql, params, page)?
                    .1,
                |row| row.0,
            ),
        })
    }
}

/// The page query of each [`Order`] of one list, as [`order_sql!`] makes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSql {
    pub name: &'static str,
    pub name_desc: &'static str,
    pub created_at: &'static str,
    pub created_at_desc: &'static str,
}

impl OrderSql {
    /// The query of `order`.
    pub fn of(&self, order: Order) -> &'static str {
        match order {
            Order::Name => self.name,
            Order::NameDesc => self.name_desc,
            Order::CreatedAt => self.created_at,
            Order::CreatedAtDesc => self.created_at_desc,
        }
    }
}

/// The [`OrderSql`] of a list of named rows:
/// `order_sql!(columns, "table", "filters", key, id, limit)` gives, for each
/// [`Order`], `SELECT columns FROM table WHERE filters` and the keyset
/// condition after the cursor, the order and `LIMIT $limit`. `key`, `id`
/// and `limit` are the numbers of the parameters [`TenantTx::fetch_page`]
/// binds after the filters' (`3, 4, 5` after one filter). The cursor's key
/// is cast to the sort column's type; descending orders compare the other
/// way. Literals all, so the queries are constants.
#[macro_export]
macro_rules! order_sql {
    (@one $columns:expr, $table:literal, $filters:expr, $key:literal, $id:literal,
     $limit:literal, $sort:literal, $cast:literal, $cmp:literal, $dir:literal) => {
        concat!(
            "SELECT ", $columns, " FROM ", $table, " WHERE ", $filters,
            " AND ($", $key, "::text IS NULL OR (", $sort, ", id) ", $cmp,
            " ($", $key, "::text", $cast, ", $", $id, "::text::uuid)) ORDER BY ",
            $sort, " ", $dir, ", id ", $dir, " LIMIT $", $limit
        )
    };
    ($columns:expr, $table:literal, $filters:expr, $key:literal, $id:literal, $limit:literal) => {
        $crate::page::OrderSql {
            name: $crate::order_sql!(
                @one $columns, $table, $filters, $key, $id, $limit, "name", "", ">", "ASC"
            ),
            name_desc: $crate::order_sql!(
                @one $columns, $table, $filters, $key, $id, $limit, "name", "", "<", "DESC"
            ),
            created_at: $crate::order_sql!(
                @one $columns, $table, $filters, $key, $id, $limit,
                "created_at", "::timestamptz", ">", "ASC"
            ),
            created_at_desc: $crate::order_sql!(
                @one $columns, $table, $filters, $key, $id, $limit,
                "created_at", "::timestamptz", "<", "DESC"
            ),
        }
    };
}

/// [`Listed`] and [`Versioned`](crate::etag::Versioned) for a row struct
/// with the text fields `id`, `name`, `created_at` and `updated_at`, as
/// every named tenant row has.
#[macro_export]
macro_rules! named_row {
    ($row:ty) => {
        impl $crate::page::Listed for $row {
            fn id(&self) -> &str {
                &self.id
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn created_at(&self) -> &str {
                &self.created_at
            }
        }
        impl $crate::etag::Versioned for $row {
            fn id(&self) -> &str {
                &self.id
            }
            fn updated_at(&self) -> &str {
                &self.updated_at
            }
        }
    };
}

/// The longest search text (`q=`), in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// What a list request asks for: a page in one of the orders, or with
/// `q=` one page of the best matches of a search text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    Ordered(Order, PageRequest),
    Search(Search),
}

/// A search: the text of `q=`, trimmed, of 1–[`MAX_SEARCH_CHARS`]
/// characters, and how many matches to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    q: String,
    limit: u16,
}

impl Search {
    pub fn q(&self) -> &str {
        &self.q
    }

    pub fn limit(&self) -> u16 {
        self.limit
    }
}

impl PageRequest {
    /// This page in the order of `sort=`, or with `q=` the search asked
    /// for instead: its results are ordered by match (no `sort`) and one
    /// page (no `cursor`), each a 422 naming the parameter. Read after the
    /// list's filters, so that their errors come first.
    pub fn listing(self, ctx: &RequestCtx) -> Result<Listing, Error> {
        let sort = ctx.query_param("sort")?;
        let Some(q) = ctx.query_param("q")? else {
            return Ok(Listing::Ordered(Order::parse(sort.as_deref())?, self));
        };
        if sort.is_some() {
            return Err(Error::field("sort", "search results are ordered by match"));
        }
        if self.after().is_some() {
            return Err(Error::field("cursor", "search results are one page"));
        }
        let q = q.trim();
        if q.is_empty() || q.chars().count() > MAX_SEARCH_CHARS {
            return Err(Error::field(
                "q",
                format!("must be 1-{MAX_SEARCH_CHARS} characters"),
            ));
        }
        Ok(Listing::Search(Search {
            q: q.to_owned(),
            limit: self.limit,
        }))
    }
}

impl<T> Page<T> {
    /// All there is: a page with no next.
    pub fn only(items: Vec<T>) -> Self {
        Self {
            items,
            next_cursor: None,
        }
    }
}

impl<T: Serialize> Page<T> {
    /// 200 with the page, and no shared caching (the rows are the org's).
    pub fn respond(&self) -> crate::router::HandlerResult {
        let body = serde_json::to_value(self)
            .map_err(|err| Error::internal_from("serialize the page", &err))?;
        Ok(crate::response::json(200, &body)?.with_header("cache-control", "private, no-cache"))
    }
}

impl RequestCtx {
    /// The page `listing` asks for: in its order, one of `pages` with the
    /// filters' `params` ([`RequestCtx::tenant_page_in`]), or the matches
    /// `search` finds.
    pub fn tenant_list<T: DeserializeOwned + Listed>(
        &self,
        permission: crate::auth::Permission,
        listing: Listing,
        pages: &OrderSql,
        params: &[Param],
        search: impl FnOnce(&Search) -> Result<Page<T>, Error>,
    ) -> Result<Page<T>, Error> {
        match listing {
            Listing::Ordered(order, page) => {
                self.tenant_page_in(permission, order, pages.of(order), params, &page)
            }
            Listing::Search(found) => search(&found),
        }
    }
}

/// The caller's params followed by the cursor's and the limit's, once the
/// SQL is known to use them (a 500 before anything is sent otherwise).
fn page_params(sql: &str, params: &[Param], page: &PageRequest) -> Result<Vec<Param>, Error> {
    let key_param = params.len() + 2;
    let id_param = key_param + 1;
    let limit_param = id_param + 1;
    if !limit_clause_ok(sql, limit_param) {
        return Err(Error::internal(format!(
            "page SQL must end with `LIMIT ${limit_param}`: {sql}"
        )));
    }
    if !uses_param(sql, key_param) || !uses_param(sql, id_param) {
        return Err(Error::internal(format!(
            "page SQL must use the cursor parameters ${key_param} and ${id_param}: {sql}"
        )));
    }
    let (key, id) = match page.after() {
        Some(cursor) => (
            Param::Text(cursor.sort_key.clone()),
            Param::Text(cursor.id.clone()),
        ),
        None => (Param::Null, Param::Null),
    };
    let mut all = Vec::with_capacity(params.len() + 3);
    all.extend_from_slice(params);
    all.push(key);
    all.push(id);
    all.push(Param::Int64(i64::from(page.limit) + 1));
    Ok(all)
}

/// The page of `limit + 1` fetched rows: the first `limit`, and a cursor
/// after the last of them when there was one more.
fn finish_page<T: Keyed>(mut items: Vec<T>, page: &PageRequest) -> Result<Page<T>, Error> {
    let limit = usize::from(page.limit);
    if items.len() > limit + 1 {
        return Err(Error::internal(format!(
            "page query returned {} rows, more than limit + 1 = {}",
            items.len(),
            limit + 1
        )));
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        match items.last() {
            Some(last) => Some(Cursor::after(&last.sort_key(), &last.id())?.encode()),
            // `limit` is at least 1, so a truncated page has a last item.
            None => None,
        }
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrgId;
    use crate::pg::Db;
    use crate::pg::fake::FakeBackend;
    use crate::request::Method;

    const ORG: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
    const ID_A: &str = "00000000-0000-4000-8000-00000000000a";
    const ID_B: &str = "00000000-0000-4000-8000-00000000000b";

    /// A list of companies by name with one caller parameter (`$2`).
    const LIST: &str = "SELECT id, name FROM companies \
        WHERE org_id = $1 AND status = $2 \
        AND ($3::text IS NULL OR (name, id) > ($3::text, $4::text::uuid)) \
        ORDER BY name, id LIMIT $5";

    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    struct Company {
        id: String,
        name: String,
    }

    impl Keyed for Company {
        fn sort_key(&self) -> String {
            self.name.clone()
        }
        fn id(&self) -> String {
            self.id.clone()
        }
    }

    /// The status and the fields named by a field error.
    fn fields(err: Error) -> (u16, Vec<String>) {
        let status = err.status();
        match err {
            Error::Validation(errors) | Error::Malformed(errors) => {
                (status, errors.into_iter().map(|e| e.field).collect())
            }
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    fn rows(n: usize) -> String {
        let rows: Vec<Company> = (0..n)
            .map(|i| Company {
                id: format!("00000000-0000-4000-8000-{i:012x}"),
                name: format!("company {i:03}"),
            })
            .collect();
        serde_json::to_string(&rows).unwrap()
    }

    fn run_page(fake: &FakeBackend, sql: &str, page: &PageRequest) -> Result<Page<Company>, Error> {
        let db = Db::with_backend(fake.clone());
        db.tenant(OrgId::parse(ORG).unwrap(), |tx| {
            tx.fetch_page(sql, &["active".into()], page)
        })
    }

    #[test]
    fn page_limit_table() {
        // (input, the limit or the status of the refusal, case)
        let cases = [
            (None, Ok(DEFAULT_LIMIT), "absent: the default"),
            (Some("1"), Ok(1), "smallest"),
            (Some("200"), Ok(200), "largest"),
            (Some("050"), Ok(50), "leading zero"),
            (Some("0"), Err(422), "zero"),
            (Some("201"), Err(422), "over the maximum"),
            (Some("65536"), Err(422), "over u16"),
            (Some("99999999999"), Err(422), "very long"),
            (Some("-1"), Err(400), "negative"),
            (Some("+5"), Err(400), "plus sign"),
            (Some(" 5"), Err(400), "space"),
            (Some("5.0"), Err(400), "decimal"),
            (Some("ten"), Err(400), "not a number"),
            (Some(""), Err(400), "present but empty"),
        ];
        for (input, expected, case) in cases {
            match (PageRequest::parse(input, None), expected) {
                (Ok(page), Ok(limit)) => {
                    assert_eq!(page.limit(), limit, "{case}");
                    assert_eq!(page.after(), None, "{case}");
                }
                (Err(err), Err(status)) => {
                    assert_eq!(fields(err), (status, vec!["limit".into()]), "{case}")
                }
                (other, _) => panic!("{case}: {input:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn page_cursor_round_trips() {
        let cursor = Cursor::after("Acme \"East\" ü", ID_A).unwrap();
        let text = cursor.encode();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "base64url without padding: {text}"
        );
        let parsed = Cursor::parse(&text).unwrap();
        assert_eq!(parsed, cursor);
        assert_eq!(parsed.sort_key(), "Acme \"East\" ü");
        assert_eq!(parsed.id(), ID_A);
        let json = URL_SAFE_NO_PAD.decode(&text).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            format!(r#"{{"k":"Acme \"East\" ü","id":"{ID_A}"}}"#)
        );
        let upper = Cursor::after("x", &ID_A.to_ascii_uppercase()).unwrap();
        assert_eq!(upper.id(), ID_A, "the id is stored lowercase");
    }

    #[test]
    fn page_cursor_table() {
        let b64 = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let good = b64(&format!(r#"{{"k":"acme","id":"{ID_A}"}}"#));
        let long_key = "k".repeat(1600);
        // Nine `?` hold a 3-byte group of 0x3f, which the standard alphabet writes `Pz8/`.
        let standard = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(format!(r#"{{"k":"?????????","id":"{ID_A}"}}"#));
        assert!(standard.contains('/'), "{standard}");
        let cases = [
            (good.clone(), true, "well formed"),
            (
                b64(&format!(r#"{{"k":"","id":"{ID_A}"}}"#)),
                true,
                "empty sort key",
            ),
            (String::new(), false, "empty"),
            (format!("{good}="), false, "padding"),
            (format!("{good}!"), false, "not base64"),
            (standard.clone(), false, "standard alphabet (/)"),
            (format!("{good}A"), false, "a dangling character"),
            (b64("not json"), false, "not JSON"),
            (b64(r#"["acme","x"]"#), false, "an array"),
            (b64(r#"{"k":"acme"}"#), false, "no id"),
            (b64(&format!(r#"{{"id":"{ID_A}"}}"#)), false, "no sort key"),
            (b64(r#"{"k":"acme","id":"nope"}"#), false, "id not a UUID"),
            (
                b64(&format!(r#"{{"k":1,"id":"{ID_A}"}}"#)),
                false,
                "sort key not a string",
            ),
            (
                b64(&format!(r#"{{"k":"acme","id":"{ID_A}","x":1}}"#)),
                false,
                "unknown field",
            ),
            (
                b64(&format!(r#"{{"k":"acme","k":"b","id":"{ID_A}"}}"#)),
                false,
                "duplicate field",
            ),
            (
                b64(&format!(r#"{{"id":"{ID_A}","k":"acme"}}"#)),
                false,
                "keys in another order",
            ),
            (
                b64(&format!(r#"{{"k": "acme", "id": "{ID_A}"}}"#)),
                false,
                "spaces",
            ),
            (
                b64(&format!(
                    r#"{{"k":"acme","id":"{}"}}"#,
                    ID_A.to_ascii_uppercase()
                )),
                false,
                "upper-case id",
            ),
            (
                b64(&format!(r#"{{"k":"{long_key}","id":"{ID_A}"}}"#)),
                false,
                "over 2048 characters",
            ),
        ];
        for (input, ok, case) in cases {
            match PageRequest::parse(None, Some(&input)) {
                Ok(page) => {
                    assert!(ok, "{case}: {input:?} was accepted");
                    assert_eq!(page.limit(), DEFAULT_LIMIT, "{case}");
                    assert!(page.after().is_some(), "{case}");
                }
                Err(err) => {
                    assert!(!ok, "{case}: {input:?} was refused: {err:?}");
                    assert_eq!(fields(err), (400, vec!["cursor".into()]), "{case}");
                }
            }
        }
    }

    #[test]
    fn page_cursor_after_refuses_what_it_could_not_read_back() {
        assert_eq!(Cursor::after("x", "not-a-uuid").unwrap_err().status(), 500);
        let too_long = "k".repeat(1600);
        assert_eq!(Cursor::after(&too_long, ID_A).unwrap_err().status(), 500);
        let longest = "k".repeat(1484);
        let cursor = Cursor::after(&longest, ID_A).unwrap();
        assert!(cursor.encode().len() <= MAX_CURSOR_LEN);
        assert_eq!(Cursor::parse(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn every_200_character_name_fits_in_a_cursor() {
        for long in [
            "Ж".repeat(200),
            "\"".repeat(200),
            "\u{1}".repeat(200),
            "漢".repeat(200),
        ] {
            let cursor = Cursor::after(&long, ID_A).expect("fits");
            assert_eq!(cursor.sort_key(), long, "the whole name is the key");
        }
    }

    #[test]
    fn orders_parse() {
        assert_eq!(Order::parse(None).unwrap(), Order::Name);
        assert_eq!(
            Order::parse(Some("-created_at")).unwrap(),
            Order::CreatedAtDesc
        );
        assert_eq!(Order::parse(Some("name desc")).unwrap_err().status(), 422);
    }

    #[test]
    fn order_sql_makes_the_four_keyset_queries() {
        let pages = crate::order_sql!(
            "id, name",
            "companies",
            "org_id = $1 AND status = $2",
            3,
            4,
            5
        );
        assert_eq!(
            pages.of(Order::Name),
            "SELECT id, name FROM companies WHERE org_id = $1 AND status = $2 \
             AND ($3::text IS NULL OR (name, id) > ($3::text, $4::text::uuid)) \
             ORDER BY name ASC, id ASC LIMIT $5"
        );
        assert_eq!(
            pages.of(Order::CreatedAtDesc),
            "SELECT id, name FROM companies WHERE org_id = $1 AND status = $2 \
             AND ($3::text IS NULL OR (created_at, id) < ($3::text::timestamptz, $4::text::uuid)) \
             ORDER BY created_at DESC, id DESC LIMIT $5"
        );
        assert!(
            pages
                .of(Order::NameDesc)
                .contains("(name, id) < ($3::text, ")
        );
        assert!(
            pages
                .of(Order::NameDesc)
                .ends_with("ORDER BY name DESC, id DESC LIMIT $5")
        );
        assert!(
            pages
                .of(Order::CreatedAt)
                .contains("(created_at, id) > ($3::text::timestamptz, ")
        );
        for order in [
            Order::Name,
            Order::NameDesc,
            Order::CreatedAt,
            Order::CreatedAtDesc,
        ] {
            let sql = pages.of(order);
            assert!(
                page_params(sql, &[Param::Null], &PageRequest::default()).is_ok(),
                "{sql}"
            );
        }
    }

    #[test]
    fn a_listing_is_a_page_or_a_search_of_one_page() {
        let listing = |query: &str| {
            let ctx = RequestCtx::new(Method::Get, "/v1/companies", query, vec![], vec![]);
            PageRequest::from_query(&ctx)?.listing(&ctx)
        };
        assert_eq!(
            listing("sort=-name&limit=5").unwrap(),
            Listing::Ordered(
                Order::NameDesc,
                PageRequest::parse(Some("5"), None).unwrap()
            )
        );
        let Listing::Search(search) = listing("q=%20Acme%20&limit=7").unwrap() else {
            panic!("a search");
        };
        assert_eq!((search.q(), search.limit()), ("Acme", 7));
        let cursor = Cursor::after("a", ID_A).unwrap().encode();
        for (query, field) in [
            ("q=a&sort=name".to_owned(), "sort"),
            (format!("q=a&cursor={cursor}"), "cursor"),
            ("q=%20".to_owned(), "q"),
            (format!("q={}", "x".repeat(MAX_SEARCH_CHARS + 1)), "q"),
            ("sort=size".to_owned(), "sort"),
        ] {
            let err = listing(&query).unwrap_err();
            assert_eq!(err.invalid_field(), Some(field), "{query}");
        }
        let longest = format!("q={}", "x".repeat(MAX_SEARCH_CHARS));
        assert!(matches!(listing(&longest), Ok(Listing::Search(_))));
    }

    #[test]
    fn page_request_lists_every_bad_field() {
        let both =
            |limit, cursor| fields(PageRequest::parse(Some(limit), Some(cursor)).unwrap_err());
        let named = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            both("x", "%%%"),
            (400, named(&["limit", "cursor"])),
            "both malformed"
        );
        assert_eq!(both("0", "%%%"), (400, named(&["cursor"])), "the 400 first");
        let cursor = Cursor::after("a", ID_A).unwrap().encode();
        assert_eq!(
            both("0", &cursor),
            (422, named(&["limit"])),
            "only out of range"
        );
    }

    #[test]
    fn page_request_from_query() {
        let cursor = Cursor::after("acme", ID_A).unwrap().encode();
        let ctx =
            |query: &str| RequestCtx::new(Method::Get, "/v1/companies", query, vec![], vec![]);
        let page = PageRequest::from_query(&ctx(&format!("limit=20&cursor={cursor}"))).unwrap();
        assert_eq!(page.limit(), 20);
        assert_eq!(page.after().map(Cursor::sort_key), Some("acme"));
        assert_eq!(
            PageRequest::from_query(&ctx("")).unwrap(),
            PageRequest::default()
        );
        let err = PageRequest::from_query(&ctx("limit=500")).unwrap_err();
        assert_eq!(fields(err), (422, vec!["limit".into()]));
        let err = PageRequest::from_query(&ctx("cursor=%FF")).unwrap_err();
        assert_eq!(
            fields(err),
            (400, vec!["cursor".into()]),
            "not UTF-8 after decoding"
        );
    }

    #[test]
    fn page_first_page_binds_nulls_and_limit_plus_one() {
        let fake = FakeBackend::new();
        fake.answer(&rows(2));
        let page = PageRequest::parse(Some("2"), None).unwrap();
        let result = run_page(&fake, LIST, &page).unwrap();
        let (sql, params) = &fake.calls()[2];
        assert!(sql.contains("LIMIT $5"), "{sql}");
        assert_eq!(
            params,
            &vec![
                Param::Uuid(ORG.into()),
                Param::Text("active".into()),
                Param::Null,
                Param::Null,
                Param::Int64(3),
            ]
        );
        assert_eq!(result.items.len(), 2);
        assert_eq!(
            result.next_cursor, None,
            "two rows for a limit of two: the last page"
        );
    }

    #[test]
    fn page_has_next_when_limit_plus_one_rows_come_back() {
        let fake = FakeBackend::new();
        fake.answer(&rows(3));
        let page = PageRequest::parse(Some("2"), None).unwrap();
        let result = run_page(&fake, LIST, &page).unwrap();
        assert_eq!(result.items.len(), 2, "the extra row is not returned");
        assert_eq!(result.items[1].name, "company 001");
        let next = Cursor::parse(result.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next.sort_key(), "company 001");
        assert_eq!(next.id(), "00000000-0000-4000-8000-000000000001");

        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["items"][0]["name"], "company 000");
        assert_eq!(json["next_cursor"], result.next_cursor.clone().unwrap());
    }

    #[test]
    fn page_after_a_cursor_binds_its_key_and_id() {
        let fake = FakeBackend::new();
        fake.answer(&format!(r#"[{{"id":"{ID_B}","name":"zeta"}}]"#));
        let cursor = Cursor::after("acme", ID_A).unwrap().encode();
        let page = PageRequest::parse(None, Some(&cursor)).unwrap();
        let result = run_page(&fake, LIST, &page).unwrap();
        let (_, params) = &fake.calls()[2];
        assert_eq!(
            params[2..],
            [
                Param::Text("acme".into()),
                Param::Text(ID_A.into()),
                Param::Int64(i64::from(DEFAULT_LIMIT) + 1),
            ]
        );
        assert_eq!(result.items.len(), 1);
        assert_eq!(result.next_cursor, None);
        let json = serde_json::to_value(&result).unwrap();
        assert!(
            json["next_cursor"].is_null(),
            "the last page says null: {json}"
        );
    }

    #[test]
    fn page_empty_result() {
        let fake = FakeBackend::new();
        fake.answer("[]");
        let result = run_page(&fake, LIST, &PageRequest::default()).unwrap();
        assert_eq!(
            result,
            Page {
                items: vec![],
                next_cursor: None
            }
        );
    }

    #[test]
    fn page_sql_without_the_right_limit_is_refused_before_it_is_sent() {
        let cases = [
            (LIST.replace(" LIMIT $5", ""), "no limit"),
            (
                LIST.replace("LIMIT $5", "LIMIT $4"),
                "limit on the wrong parameter",
            ),
            (
                LIST.replace("LIMIT $5", "LIMIT $50"),
                "limit on a longer number",
            ),
            (LIST.replace("LIMIT $5", "LIMIT 1000"), "a literal limit"),
            (
                LIST.replace("LIMIT $5", "LIMIT $5 OFFSET 0"),
                "something after the limit",
            ),
            (
                LIST.replace(
                    "ORDER BY name, id LIMIT $5",
                    "ORDER BY name, id\n-- LIMIT $5",
                ),
                "the limit in a comment",
            ),
            (
                LIST.replace("$3::text IS NULL OR", "true OR")
                    .replace("($3::text,", "('',"),
                "the cursor key is not used",
            ),
            (
                LIST.replace("$4::text::uuid", "id"),
                "the cursor id is not used",
            ),
        ];
        for (sql, case) in cases {
            let fake = FakeBackend::new();
            let err = run_page(&fake, &sql, &PageRequest::default()).unwrap_err();
            assert_eq!(err.status(), 500, "{case}");
            let statements = fake.statements();
            assert!(
                !statements.iter().any(|s| s.contains("companies")),
                "{case}: the query was sent: {statements:?}"
            );
            assert_eq!(
                statements.last().map(String::as_str),
                Some("ROLLBACK"),
                "{case}"
            );
        }
        // Any case and spacing, a trailing semicolon and a final newline are fine.
        for sql in [
            LIST.replace("LIMIT $5", "limit $5;\n"),
            LIST.replace("LIMIT $5", "LIMIT\n  $5"),
            LIST.replace(" LIMIT $5", ")LIMIT $5")
                .replace("SELECT", "(SELECT"),
        ] {
            let fake = FakeBackend::new();
            assert!(
                run_page(&fake, &sql, &PageRequest::default()).is_ok(),
                "{sql}"
            );
        }
        let fake = FakeBackend::new();
        let glued = LIST.replace("LIMIT $5", "LIMIT$5");
        assert!(
            run_page(&fake, &glued, &PageRequest::default()).is_err(),
            "one identifier"
        );
    }

    #[test]
    fn page_more_rows_than_limit_plus_one_is_a_bug() {
        let fake = FakeBackend::new();
        fake.answer(&rows(4));
        let page = PageRequest::parse(Some("2"), None).unwrap();
        assert_eq!(run_page(&fake, LIST, &page).unwrap_err().status(), 500);
    }
}
