//! Large files, uploaded straight to the store:
//!
//! - `POST /v1/files/uploads` `{name, size, content_type, entity_type?,
//!   entity_id?}` → 201 `{file_id, upload_url, expires_at}`: a pending row
//!   (counted in the quota until it expires) and a presigned `PUT`.
//! - `POST /v1/files/{id}/complete` → 200 the file, once a `HEAD` of the
//!   object finds the declared size; until then the file is not listed and
//!   its routes answer 404.

use plinth_platform::auth::Permission;
use plinth_platform::domain::FileId;
use plinth_platform::s3;
use plinth_platform::{BoxFuture, Error, HandlerResult, Param, RequestCtx, json};
use serde::{Deserialize, Serialize};

use crate::file::{self, Attachment, File, columns};
use crate::names::{ContentType, FileName};
use crate::rules::{self, Limits, MAX_PRESIGNED_BYTES};
use crate::store;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    name: String,
    size: u64,
    content_type: String,
    entity_type: Option<String>,
    entity_id: Option<String>,
}

#[derive(Serialize)]
struct Created {
    file_id: String,
    upload_url: String,
    expires_at: String,
}

const INSERT_PENDING: &str = "INSERT INTO files \
     (id, org_id, name, content_type, size, status, entity_type, entity_id, expires_at) \
     VALUES ($2::text::uuid, $1, $3, $4, $5, 'pending', $6::text, $7::text::uuid, \
     now() + make_interval(secs => $8)) RETURNING id";

#[derive(Deserialize)]
struct Inserted {
    #[allow(dead_code)]
    id: String,
}

/// `POST /v1/files/uploads`.
pub fn create(ctx: &RequestCtx) -> HandlerResult {
    let limits = Limits::load(ctx.config())?;
    let body: Body = ctx.json()?;
    let name = FileName::parse(&body.name)?;
    let content_type = ContentType::parse(&body.content_type)?;
    let attach = Attachment::parse(body.entity_type.as_deref(), body.entity_id.as_deref())?;
    if body.size > MAX_PRESIGNED_BYTES {
        return Err(Error::field(
            "size",
            format!("must be at most {MAX_PRESIGNED_BYTES} bytes"),
        ));
    }
    let settings = store::settings(ctx.config())?;
    let id = FileId::new_v4(ctx.random()?);
    let key = ctx.tenant_as(Permission::FilesWrite, |tx, caller| {
        let usage = rules::locked_usage(tx)?;
        usage.rules().admit(&usage, &content_type, body.size)?;
        attach.check(tx)?;
        let [entity_type, entity_id] = attach.params();
        tx.fetch_one::<Inserted>(
            INSERT_PENDING,
            &[
                Param::Text(id.as_str().to_owned()),
                Param::Text(name.as_str().to_owned()),
                Param::Text(content_type.as_str().to_owned()),
                Param::Int64(i64::try_from(body.size).unwrap_or(i64::MAX)),
                entity_type,
                entity_id,
                Param::Float64(limits.presign_seconds as f64),
            ],
        )?;
        Ok(store::key(&caller.org(), &id))
    })?;
    let presigned = store::presign(
        &settings,
        "PUT",
        &key,
        &[],
        limits.presign_seconds,
        ctx.now(),
    );
    json(
        201,
        &Created {
            file_id: id.as_str().to_owned(),
            upload_url: presigned.url,
            expires_at: presigned.expires_at,
        },
    )
}

#[derive(Deserialize)]
struct Pending {
    size: i64,
    status: String,
    live: bool,
}

const PENDING: &str = "SELECT size, status, (status = 'ready' OR expires_at > now()) AS live \
     FROM files WHERE org_id = $1 AND id = $2::text::uuid AND deleting_at IS NULL";

const COMPLETE: &str = concat!(
    "UPDATE files SET status = 'ready', expires_at = NULL WHERE org_id = $1 \
     AND id = $2::text::uuid AND status = 'pending' AND expires_at > now() \
     AND deleting_at IS NULL RETURNING ",
    columns!()
);

const READY: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM files WHERE org_id = $1 AND id = $2::text::uuid AND status = 'ready' AND deleting_at IS NULL"
);

/// `POST /v1/files/{id}/complete`.
pub fn complete(ctx: &RequestCtx) -> BoxFuture<'_> {
    Box::pin(async move {
        let id = file::path_id(ctx)?;
        let id_param = [Param::Text(id.as_str().to_owned())];
        let (caller, rows) =
            ctx.tenant_read::<Pending>(Permission::FilesWrite, PENDING, &id_param)?;
        let pending = rows.into_iter().next().ok_or(Error::NotFound)?;
        if pending.status == "ready" {
            return ready(ctx, &id_param);
        }
        if !pending.live {
            return Err(Error::conflict(
                None,
                "the upload has expired; start a new one",
            ));
        }
        let settings = store::settings(ctx.config())?;
        let key = store::key(&caller.org(), &id);
        let found = s3::head_object(&settings, &key)
            .await
            .map_err(store::unavailable)?;
        match found {
            None => {
                return Err(Error::conflict(
                    None,
                    "nothing has been uploaded to upload_url yet",
                ));
            }
            Some(size) if i64::try_from(size).ok() != Some(pending.size) => {
                return Err(Error::conflict(
                    None,
                    format!(
                        "the uploaded object has {size} bytes, not the {} declared",
                        pending.size
                    ),
                ));
            }
            Some(_) => {}
        }
        let file = ctx.tenant_as(Permission::FilesWrite, |tx, _| {
            tx.fetch_optional::<File>(COMPLETE, &id_param)
        })?;
        match file {
            Some(file) => json(200, &file),
            // Completed meanwhile by another request.
            None => ready(ctx, &id_param),
        }
    })
}

fn ready(ctx: &RequestCtx, id_param: &[Param]) -> HandlerResult {
    let (_, rows) = ctx.tenant_read::<File>(Permission::FilesWrite, READY, id_param)?;
    json(200, &rows.into_iter().next().ok_or(Error::NotFound)?)
}
