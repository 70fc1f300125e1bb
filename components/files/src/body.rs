//! The upload body, streamed. The platform's router takes a buffered
//! request; for `POST /v1/files` the entry keeps the body as a stream
//! here instead ([`accept`]) and hands the router the request without it,
//! so the upload handler reads it chunk by chunk ([`take`]) and the other
//! routes go through the router unchanged.

use std::cell::RefCell;
use std::pin::Pin;

use futures_util::{Stream, StreamExt, stream};
use plinth_platform::{Error, RequestCtx};
use spin_sdk::http::{IncomingRequest, Method, Request};

/// Chunks of a request body.
pub type Chunks = Pin<Box<dyn Stream<Item = Result<Vec<u8>, Error>>>>;

thread_local! {
    /// The streamed body of this request (one request per instance).
    static STREAMED: RefCell<Option<Chunks>> = const { RefCell::new(None) };
}

/// Whether the router would send `method path` to the upload handler.
fn is_upload(method: &Method, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let path = format!("/{}", path.trim_start_matches('/'));
    *method == Method::Post && matches!(path.as_str(), "/v1/files" | "/v1/files/")
}

/// The request for the router: an upload's body kept as a stream for
/// [`take`], any other body read whole.
pub async fn accept(req: IncomingRequest) -> Request {
    let method = req.method();
    let uri = req.uri();
    let headers = req.headers().entries();
    let mut builder = Request::builder();
    builder.method(method.clone()).uri(uri);
    for (name, value) in headers {
        builder.header(name, String::from_utf8_lossy(&value).into_owned());
    }
    let path = req.path_with_query().unwrap_or_default();
    if is_upload(&method, &path) {
        let chunks = req.into_body_stream().map(|chunk| {
            chunk.map_err(|err| {
                plinth_platform::log::warn(format_args!(
                    "upload body read failed: {}",
                    err.to_debug_string()
                ));
                Error::BadRequest("the request body could not be read".into())
            })
        });
        STREAMED.with(|slot| *slot.borrow_mut() = Some(Box::pin(chunks)));
        builder.body(Vec::new());
    } else {
        let body = req.into_body().await.unwrap_or_else(|err| {
            plinth_platform::log::warn(format_args!(
                "request body read failed: {}",
                err.to_debug_string()
            ));
            Vec::new()
        });
        builder.body(body);
    }
    builder.build()
}

/// The upload's body: the stream [`accept`] kept, or the buffered body of
/// a request that did not come through it.
pub fn take(ctx: &RequestCtx) -> Chunks {
    STREAMED
        .with(|slot| slot.borrow_mut().take())
        .unwrap_or_else(|| Box::pin(stream::iter([Ok(ctx.body().to_vec())])))
}

/// Reads and drops up to `at_most` more bytes, so that a refused upload's
/// client gets to read the answer (a server that closes on unread data
/// resets the connection); memory stays one chunk.
pub async fn drain(chunks: &mut Chunks, at_most: u64) {
    let mut read = 0u64;
    while read < at_most {
        match chunks.next().await {
            Some(Ok(chunk)) => read += chunk.len() as u64,
            _ => break,
        }
    }
}
