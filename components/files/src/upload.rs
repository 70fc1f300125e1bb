//! `POST /v1/files`: an upload through the component, streamed to the
//! store. The body is `multipart/form-data` with one file part, or the raw
//! bytes with their `Content-Type` and `?name=`; `?entity_type=&entity_id=`
//! attach it. It must declare its `Content-Length`, so that an oversized
//! upload is refused (413) before a byte is stored and the store is told
//! the exact length.
//!
//! The object is written first, then its row, in a transaction that checks
//! the quota again under the org's lock. If the row cannot be written the
//! object is deleted; if the store fails nothing is recorded (503).

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::{StreamExt, stream};
use plinth_platform::auth::Permission;
use plinth_platform::domain::FileId;
use plinth_platform::s3::{self, PutFailure, PutObject};
use plinth_platform::{BoxFuture, Error, FieldError, HandlerResult, Param, RequestCtx, json, log};

use crate::body::{self, Chunks};
use crate::file::{Attachment, File, columns};
use crate::multipart::{self, Framer};
use crate::names::{ContentType, FileName, attachment};
use crate::rules::{self, Limits, Usage};
use crate::store;

pub fn upload(ctx: &RequestCtx) -> BoxFuture<'_> {
    Box::pin(run(ctx))
}

/// What the body holds, once its head has been read.
struct Incoming {
    name: FileName,
    content_type: ContentType,
    /// The file's length.
    size: u64,
    framer: Framer,
    /// Bytes already read past the head.
    rest: Vec<u8>,
}

async fn run(ctx: &RequestCtx) -> HandlerResult {
    let limits = Limits::load(ctx.config())?;
    let attach = Attachment::from_query(ctx)?;
    let length = content_length(ctx)?;
    let mut chunks = body::take(ctx);
    let incoming = match read_head(ctx, &mut chunks, length).await {
        Ok(incoming) => incoming,
        Err(err) => {
            body::drain(&mut chunks, length).await;
            return Err(err);
        }
    };
    if incoming.size > limits.max_upload {
        body::drain(&mut chunks, length.min(limits.max_upload.saturating_mul(2))).await;
        return Err(Error::PayloadTooLarge {
            limit: usize::try_from(limits.max_upload).unwrap_or(usize::MAX),
        });
    }
    // Fail early, before the bytes travel: the caller, the type, the quota.
    let (caller, usage) = ctx.tenant_read::<Usage>(Permission::FilesWrite, rules::USAGE, &[])?;
    let usage = usage.into_iter().next().ok_or(Error::NotFound)?;
    if let Err(err) = usage
        .rules()
        .admit(&usage, &incoming.content_type, incoming.size)
    {
        body::drain(&mut chunks, length).await;
        return Err(err);
    }
    let id = FileId::new_v4(ctx.random()?);
    let key = store::key(&caller.org(), &id);
    let settings = store::settings(ctx.config())?;
    let digest = Rc::new(RefCell::new(None));
    let put = PutObject {
        key: &key,
        length: incoming.size,
        content_type: incoming.content_type.as_str(),
        content_disposition: &attachment(&incoming.name),
    };
    let source = file_bytes(chunks, incoming.framer, incoming.rest, digest.clone());
    match s3::put_object_stream(&settings, &put, source).await {
        Ok(()) => {}
        Err(PutFailure::Body(err)) => return Err(err),
        Err(PutFailure::Store(failure)) => return Err(store::unavailable(failure)),
    }
    let sha256 = digest
        .borrow_mut()
        .take()
        .ok_or_else(|| Error::internal("upload digest missing"))?;
    let recorded = ctx.tenant_as(Permission::FilesWrite, |tx, _| {
        let usage = rules::locked_usage(tx)?;
        usage
            .rules()
            .admit(&usage, &incoming.content_type, incoming.size)?;
        attach.check(tx)?;
        let [entity_type, entity_id] = attach.params();
        tx.fetch_one::<File>(
            INSERT,
            &[
                Param::Text(id.as_str().to_owned()),
                Param::Text(incoming.name.as_str().to_owned()),
                Param::Text(incoming.content_type.as_str().to_owned()),
                Param::Int64(i64::try_from(incoming.size).unwrap_or(i64::MAX)),
                Param::Text(sha256),
                entity_type,
                entity_id,
            ],
        )
    });
    match recorded {
        Ok(file) => json(201, &file),
        Err(err) => {
            // No row, so no object either.
            if let Err(failure) = s3::delete_object(&settings, &key).await {
                log::warn(format_args!(
                    "upload: object {key} left for the sweep: {}",
                    failure.reason()
                ));
            }
            Err(err)
        }
    }
}

const INSERT: &str = concat!(
    "INSERT INTO files (id, org_id, name, content_type, size, sha256, status, entity_type, entity_id) \
     VALUES ($2::text::uuid, $1, $3, $4, $5, $6, 'ready', $7::text, $8::text::uuid) RETURNING ",
    columns!()
);

/// The declared body length: required (400 naming `content-length`).
fn content_length(ctx: &RequestCtx) -> Result<u64, Error> {
    ctx.header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            Error::Malformed(vec![FieldError::new(
                "content-length",
                "an upload must declare its length",
            )])
        })
}

/// The name, type and length of the file, from the query and headers (raw)
/// or from the multipart head, read from the first chunks.
async fn read_head(ctx: &RequestCtx, chunks: &mut Chunks, length: u64) -> Result<Incoming, Error> {
    let content_type = ctx.header("content-type").unwrap_or_default();
    let Some(boundary) = multipart::boundary(content_type) else {
        if content_type.is_empty() {
            return Err(Error::field(
                "content_type",
                "is required (the Content-Type header)",
            ));
        }
        let name = ctx
            .query_param("name")?
            .ok_or_else(|| Error::field("name", "is required (?name=) for a raw upload"))?;
        return Ok(Incoming {
            name: FileName::parse(&name)?,
            content_type: ContentType::parse(content_type)?,
            size: length,
            framer: Framer::new(length, Vec::new()),
            rest: Vec::new(),
        });
    };
    let boundary = boundary?;
    let mut buf = Vec::new();
    let (head, used) = loop {
        if let Some(found) = multipart::parse_head(&buf, &boundary)? {
            break found;
        }
        match chunks.next().await {
            Some(chunk) => buf.extend(chunk?),
            None => {
                return Err(Error::Malformed(vec![FieldError::new(
                    "body",
                    "ends inside the part's head",
                )]));
            }
        }
    };
    let ending = multipart::ending(&boundary);
    let size = length
        .checked_sub((used + ending.len()) as u64)
        .ok_or_else(|| {
            Error::Malformed(vec![FieldError::new(
                "body",
                "is shorter than its multipart framing",
            )])
        })?;
    Ok(Incoming {
        name: FileName::parse(&head.filename)?,
        content_type: ContentType::parse(
            head.content_type
                .as_deref()
                .unwrap_or("application/octet-stream"),
        )?,
        size,
        framer: Framer::new(size, ending),
        rest: buf.split_off(used),
    })
}

/// The file's bytes for the store: the bytes already read, then the rest
/// of the body, through the framer; its digest lands in `digest` at the end.
fn file_bytes(
    chunks: Chunks,
    framer: Framer,
    rest: Vec<u8>,
    digest: Rc<RefCell<Option<String>>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, Error>> {
    let first: Chunks = Box::pin(stream::iter([Ok(rest)]));
    let all = first.chain(chunks);
    stream::unfold(Some((all, framer)), move |state| {
        let digest = digest.clone();
        async move {
            let (mut all, mut framer) = state?;
            match all.next().await {
                Some(Ok(chunk)) => {
                    let out = framer.push(&chunk);
                    let failed = out.is_err();
                    Some((out, (!failed).then_some((all, framer))))
                }
                Some(Err(err)) => Some((Err(err), None)),
                None => match framer.finish() {
                    Ok((last, sha)) => {
                        *digest.borrow_mut() = Some(sha);
                        Some((Ok(last), None))
                    }
                    Err(err) => Some((Err(err), None)),
                },
            }
        }
    })
}
