//! `DELETE /v1/files/{id}`: the row is marked (`deleting_at`, so the file
//! disappears at once), the object removed, then the row. If the store
//! fails the answer is 503 and the mark stays: a retry, or the sweep,
//! finishes the work.

use plinth_platform::auth::Permission;
use plinth_platform::s3;
use plinth_platform::{BoxFuture, Error, Param, RequestCtx, Response};
use serde::Deserialize;

use crate::file;
use crate::store;

#[derive(Deserialize)]
struct Marked {
    #[allow(dead_code)]
    id: String,
}

const MARK: &str = "UPDATE files SET deleting_at = coalesce(deleting_at, now()) \
     WHERE org_id = $1 AND id = $2::text::uuid RETURNING id";

const REMOVE: &str =
    "DELETE FROM files WHERE org_id = $1 AND id = $2::text::uuid AND deleting_at IS NOT NULL";

pub fn delete(ctx: &RequestCtx) -> BoxFuture<'_> {
    Box::pin(async move {
        let id = file::path_id(ctx)?;
        let id_param = [Param::Text(id.as_str().to_owned())];
        let settings = store::settings(ctx.config())?;
        let key = ctx.tenant_as(Permission::FilesDelete, |tx, caller| {
            tx.fetch_optional::<Marked>(MARK, &id_param)?
                .ok_or(Error::NotFound)?;
            Ok(store::key(&caller.org(), &id))
        })?;
        s3::delete_object(&settings, &key)
            .await
            .map_err(store::unavailable)?;
        ctx.tenant_as(Permission::FilesDelete, |tx, _| {
            tx.execute(REMOVE, &id_param)
        })?;
        Ok(Response::empty(204))
    })
}
