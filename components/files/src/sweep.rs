//! `POST /v1/files/admin/sweep` (the `admin_token`): finishes what was
//! interrupted, across every org. It
//!
//! - removes the object and row of each file marked for deletion,
//! - removes pending uploads past their expiry (object, if any, and row),
//! - removes objects under `orgs/` that no row refers to, once older than
//!   `files_orphan_grace_seconds` (an upload writes its object before its
//!   row, so a younger object may be one whose row is being written),
//!
//! and answers the counts. A store failure stops it with a 503; what was
//! done stays done, and the next sweep goes on.

use std::collections::{HashMap, HashSet};

use plinth_platform::admin::Admin;
use plinth_platform::config;
use plinth_platform::domain::OrgId;
use plinth_platform::s3::{self, S3Settings};
use plinth_platform::{BoxFuture, Db, Error, HandlerResult, Param, RequestCtx, json};
use serde::{Deserialize, Serialize};

use crate::store;

/// Rows handled per org and sweep.
const BATCH: i64 = 1000;

/// Pages of the object listing read per sweep (1,000 keys each).
const MAX_LIST_PAGES: usize = 100;

#[derive(Serialize, Default)]
struct Swept {
    deletes_finished: u64,
    expired_uploads_removed: u64,
    orphans_removed: u64,
}

#[derive(Deserialize)]
struct OrgRow {
    id: OrgId,
}

#[derive(Deserialize)]
struct Work {
    id: String,
    deleting: bool,
}

const ORGS: &str = "SELECT id FROM org ORDER BY id";

const WORK: &str = "SELECT id, deleting_at IS NOT NULL AS deleting FROM files \
     WHERE org_id = $1 AND (deleting_at IS NOT NULL OR (status = 'pending' AND expires_at <= now())) \
     ORDER BY id LIMIT $2";

const REMOVE: &str = "DELETE FROM files WHERE org_id = $1 AND id = $2::text::uuid \
     AND (deleting_at IS NOT NULL OR (status = 'pending' AND expires_at <= now()))";

const KNOWN: &str = "SELECT id FROM files WHERE org_id = $1 AND id = ANY($2::text[]::uuid[])";

#[derive(Deserialize)]
struct Known {
    id: String,
}

pub fn sweep(ctx: &RequestCtx) -> BoxFuture<'_> {
    Box::pin(run(ctx))
}

async fn run(ctx: &RequestCtx) -> HandlerResult {
    let admin = Admin::authorize(ctx)?;
    let grace = config::parse_u64(
        "files_orphan_grace_seconds",
        &ctx.config().get("files_orphan_grace_seconds")?,
    )?;
    let settings = store::settings(ctx.config())?;
    let db = ctx.db()?;
    let orgs: Vec<OrgId> = db
        .fetch_all::<OrgRow>(ORGS, &[])?
        .into_iter()
        .map(|row| row.id)
        .collect();
    let mut swept = Swept::default();
    for org in &orgs {
        finish_org(&admin, &db, &settings, *org, &mut swept).await?;
    }
    remove_orphans(
        &admin,
        &db,
        &settings,
        &orgs,
        ctx.now() - grace as i64,
        &mut swept,
    )
    .await?;
    json(200, &swept)
}

/// Interrupted deletes and expired uploads of one org.
async fn finish_org(
    admin: &Admin,
    db: &Db,
    settings: &S3Settings,
    org: OrgId,
    swept: &mut Swept,
) -> Result<(), Error> {
    let work: Vec<Work> = admin.tenant(db, org, |tx| tx.fetch_all(WORK, &[Param::Int64(BATCH)]))?;
    for item in work {
        let key = format!("{}{}/files/{}", store::PREFIX, org.as_str(), item.id);
        s3::delete_object(settings, &key)
            .await
            .map_err(store::unavailable)?;
        let removed = admin.tenant(db, org, |tx| {
            tx.execute(REMOVE, &[Param::Text(item.id.clone())])
        })?;
        if removed == 1 {
            if item.deleting {
                swept.deletes_finished += 1;
            } else {
                swept.expired_uploads_removed += 1;
            }
        }
    }
    Ok(())
}

/// Objects older than `before` (seconds) whose row does not exist.
async fn remove_orphans(
    admin: &Admin,
    db: &Db,
    settings: &S3Settings,
    orgs: &[OrgId],
    before: i64,
    swept: &mut Swept,
) -> Result<(), Error> {
    let by_text: HashMap<&str, OrgId> = orgs.iter().map(|o| (o.as_str(), *o)).collect();
    let mut next: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let page = s3::list_objects(settings, store::PREFIX, next.as_deref())
            .await
            .map_err(store::unavailable)?;
        // (org text, file id) of the old enough objects of this page, by org.
        let mut candidates: HashMap<&str, Vec<(String, String)>> = HashMap::new();
        for object in &page.objects {
            let old = store::parse_rfc3339(&object.last_modified).is_some_and(|t| t < before);
            if let (true, Some((org, file))) = (old, store::parse_key(&object.key)) {
                let org = by_text.get_key_value(org).map_or(org, |(k, _)| *k);
                candidates
                    .entry(org)
                    .or_default()
                    .push((file.to_owned(), object.key.clone()));
            }
        }
        for (org, objects) in candidates {
            let known: HashSet<String> = match by_text.get(org) {
                Some(org_id) => {
                    let ids: Vec<String> = objects.iter().map(|(id, _)| id.clone()).collect();
                    admin
                        .tenant(db, *org_id, |tx| {
                            tx.fetch_all::<Known>(KNOWN, &[Param::from(ids)])
                        })?
                        .into_iter()
                        .map(|k| k.id)
                        .collect()
                }
                // The org is gone, and its rows with it.
                None => HashSet::new(),
            };
            for (id, key) in objects.iter().filter(|(id, _)| !known.contains(id)) {
                s3::delete_object(settings, key)
                    .await
                    .map_err(store::unavailable)?;
                plinth_platform::log::warn(format_args!(
                    "sweep: removed orphan object of file {id}"
                ));
                swept.orphans_removed += 1;
            }
        }
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    Ok(())
}
