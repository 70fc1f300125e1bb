//! Reading files: the list, one file with a presigned download URL, and
//! its content (a redirect to that URL). Each is one statement that also
//! confirms the caller; only ready files that are not being deleted show.

use plinth_platform::auth::Permission;
use plinth_platform::{Error, HandlerResult, PageRequest, Param, RequestCtx, Response, json};
use serde::Serialize;

use crate::file::{self, Attachment, File, columns};
use crate::names::{FileName, attachment};
use crate::rules::Limits;
use crate::store;

const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM files WHERE org_id = $1 AND status = 'ready' AND deleting_at IS NULL \
     AND ($2::text IS NULL OR (entity_type = $2::text AND entity_id = $3::text::uuid)) \
     AND ($4::text IS NULL OR (created_at, id) < ($4::text::timestamptz, $5::text::uuid)) \
     ORDER BY created_at DESC, id DESC LIMIT $6"
);

/// `GET /v1/files?limit=&cursor=&entity_type=&entity_id=`: newest first.
pub fn list(ctx: &RequestCtx) -> HandlerResult {
    let page = PageRequest::from_query(ctx)?;
    let attach = Attachment::from_query(ctx)?;
    let (_, page) =
        ctx.tenant_page::<File>(Permission::FilesRead, LIST, &attach.params(), &page)?;
    Ok(json(200, &page)?.with_header("cache-control", "private, no-cache"))
}

const ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM files WHERE org_id = $1 AND id = $2::text::uuid AND status = 'ready' AND deleting_at IS NULL"
);

#[derive(Serialize)]
struct WithDownload {
    #[serde(flatten)]
    file: File,
    download_url: String,
    download_expires_at: String,
}

/// The ready file of the path and a presigned download of it.
fn find(ctx: &RequestCtx) -> Result<WithDownload, Error> {
    let id = file::path_id(ctx)?;
    let (caller, rows) = ctx.tenant_read::<File>(
        Permission::FilesRead,
        ONE,
        &[Param::Text(id.as_str().to_owned())],
    )?;
    let file = rows.into_iter().next().ok_or(Error::NotFound)?;
    let limits = Limits::load(ctx.config())?;
    let settings = store::settings(ctx.config())?;
    // The stored name was sanitised already; parse again only to encode it.
    let disposition = attachment(&FileName::parse(&file.name)?);
    let presigned = store::presign(
        &settings,
        "GET",
        &store::key(&caller.org(), &id),
        &[("response-content-disposition", &disposition)],
        limits.presign_seconds,
        ctx.now(),
    );
    Ok(WithDownload {
        file,
        download_url: presigned.url,
        download_expires_at: presigned.expires_at,
    })
}

/// `GET /v1/files/{id}`: the metadata and a presigned download URL.
pub fn get(ctx: &RequestCtx) -> HandlerResult {
    Ok(json(200, &find(ctx)?)?.with_header("cache-control", "private, no-store"))
}

/// `GET /v1/files/{id}/content`: 302 to the presigned download URL.
pub fn content(ctx: &RequestCtx) -> HandlerResult {
    let found = find(ctx)?;
    Ok(Response::empty(302)
        .with_header("location", found.download_url)
        .with_header("cache-control", "private, no-store"))
}
