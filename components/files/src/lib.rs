//! Files, stored in S3-compatible object storage under
//! `orgs/{org_id}/files/{file_id}` (docs/files.md).
//!
//! - `POST /v1/files` (files.write): upload through the component, streamed
//!   (multipart/form-data or raw with `?name=`) → 201 the file.
//! - `POST /v1/files/uploads` (files.write) `{name, size, content_type}` →
//!   201 `{file_id, upload_url, expires_at}`: a presigned PUT.
//! - `POST /v1/files/{id}/complete` (files.write): 200 once the object has
//!   the declared size.
//! - `GET /v1/files` (files.read): newest first, paged, `?entity_type=&entity_id=`.
//! - `GET /v1/files/{id}` (files.read): the file and a presigned download URL.
//! - `GET /v1/files/{id}/content` (files.read): 302 to that URL.
//! - `DELETE /v1/files/{id}` (files.delete): 204.
//! - `POST /v1/files/admin/sweep` (`admin_token`): finishes interrupted work.
//!
//! Variables: `db_url`, `jwt_issuer`, `jwt_audience`, `s3_*`, `admin_token`,
//! `files_max_upload_bytes`, `files_presign_seconds`, `files_orphan_grace_seconds`.

// The pure modules also build natively, for their unit tests
// (`cargo test -p plinth-files`); what needs the host is wasm-only.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

#[cfg(target_arch = "wasm32")]
mod body;
#[cfg(target_arch = "wasm32")]
mod delete;
mod file;
mod multipart;
mod names;
mod read;
mod rules;
mod store;
#[cfg(target_arch = "wasm32")]
mod sweep;
#[cfg(target_arch = "wasm32")]
mod upload;
#[cfg(target_arch = "wasm32")]
mod uploads;

#[cfg(target_arch = "wasm32")]
use plinth_platform::Router;

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn entry(req: spin_sdk::http::IncomingRequest) -> spin_sdk::http::Response {
    let router = Router::named("files")
        .post_async("/v1/files", upload::upload)
        .get("/v1/files", read::list)
        .post("/v1/files/uploads", uploads::create)
        .post_async("/v1/files/admin/sweep", sweep::sweep)
        .post_async("/v1/files/:id/complete", uploads::complete)
        .get("/v1/files/:id", read::get)
        .get("/v1/files/:id/content", read::content)
        .delete_async("/v1/files/:id", delete::delete);
    plinth_platform::handle(&router, body::accept(req).await).await
}
