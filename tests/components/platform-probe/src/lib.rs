//! Platform probe: the platform's Postgres write paths, driven by the e2e
//! tests under each Spin behaviour devhost reproduces.
//!
//! Tables (made by the test in its scratch database): `probe_parent (id)`,
//! `probe_item (id, slug UNIQUE, parent_id → probe_parent)` and
//! `probe_tenant_item (org_id, slug, UNIQUE (org_id, slug))` with forced
//! row-level security on `app.org_id`.
//!
//! - `POST /probe/items` `{"how": "fetch"|"transaction", "slug", "parent_id"?}`:
//!   `INSERT … RETURNING` through `Db::fetch_one`, alone or inside
//!   `Db::transaction`; 201 with the row, or the platform's problem, with the
//!   constraints named as fields the way a real handler names them.
//! - `POST /probe/trap-in-transaction` `{"slug"}`: inserts inside
//!   `Db::transaction`, then traps before `COMMIT`.
//! - `GET /probe/tenant-items` (bearer): every `probe_tenant_item` row the
//!   statement can see through `Db::tenant_read`, whose SQL deliberately
//!   has no org filter: row-level security alone must keep other orgs out.
//! - `POST /probe/tenant-items/as-caller` `{"slug"}` (bearer): inserts
//!   through `Db::tenant_as` for the caller's org.

use plinth_platform::auth::{Credentials, Permission};
use plinth_platform::pg::{Db, Param};
use plinth_platform::response::json;
use plinth_platform::{Error, HandlerResult, RequestCtx, ResultExt, Router, config};
use serde::Deserialize;
use serde_json::Value;

#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let router = Router::new()
        .post("/probe/items", insert_item)
        .post("/probe/trap-in-transaction", trap_in_transaction)
        .get("/probe/tenant-items", read_unfiltered)
        .post("/probe/tenant-items/as-caller", insert_as_caller);
    plinth_platform::handle(&router, req).await
}

fn db() -> Result<Db, Error> {
    Db::connect(&config::secret("db_url")?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewItem {
    how: String,
    slug: String,
    parent_id: Option<String>,
}

const INSERT_ITEM: &str = "INSERT INTO probe_item (slug, parent_id) VALUES ($1, $2::text::uuid) \
     RETURNING id, slug, parent_id";

fn insert_item(ctx: &RequestCtx) -> HandlerResult {
    let item: NewItem = ctx.json()?;
    let params = [Param::from(&item.slug), Param::from(item.parent_id)];
    let db = db()?;
    let row: Result<Value, Error> = match item.how.as_str() {
        "fetch" => db.fetch_one(INSERT_ITEM, &params),
        "transaction" => db.transaction(|tx| tx.fetch_one(INSERT_ITEM, &params)),
        _ => return Err(Error::field("how", "must be fetch or transaction")),
    };
    let row = row
        .on_constraint("probe_item_slug_key", "slug")
        .on_constraint("probe_item_parent_id_fkey", "parent_id")?;
    json(201, &row)
}

const INSERT_TENANT_ITEM: &str = "INSERT INTO probe_tenant_item (org_id, slug) VALUES ($1, $2) \
     RETURNING id, org_id, slug";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Slug {
    slug: String,
}

fn trap_in_transaction(ctx: &RequestCtx) -> HandlerResult {
    let item: Slug = ctx.json()?;
    db()?.transaction(|tx| {
        tx.execute(
            "INSERT INTO probe_item (slug) VALUES ($1)",
            &[Param::from(&item.slug)],
        )?;
        panic!("deliberate trap inside a transaction, before COMMIT");
    })
}

/// No `org_id = $1` filter (`$1` is only checked for NULL): what a handler
/// that forgot the filter would run.
const UNFILTERED: &str =
    "SELECT org_id, slug FROM probe_tenant_item WHERE $1::uuid IS NOT NULL ORDER BY slug";

fn read_unfiltered(ctx: &RequestCtx) -> HandlerResult {
    let credentials = Credentials::from_request(ctx)?;
    let (caller, rows) =
        db()?.tenant_read::<Value>(&credentials, Permission::OrgRead, UNFILTERED, &[])?;
    json(200, &serde_json::json!({"org": caller.org(), "rows": rows}))
}

fn insert_as_caller(ctx: &RequestCtx) -> HandlerResult {
    let credentials = Credentials::from_request(ctx)?;
    let item: Slug = ctx.json()?;
    let row: Value = db()?
        .tenant_as(&credentials, Permission::CompaniesWrite, |tx| {
            tx.fetch_one(INSERT_TENANT_ITEM, &[Param::from(&item.slug)])
        })
        .on_constraint("probe_tenant_item_org_id_slug_key", "slug")?;
    json(201, &row)
}
