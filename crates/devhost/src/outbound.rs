//! Outbound HTTP (`wasi:http/outgoing-handler`) limited to
//! `allowed_outbound_hosts`.
//!
//! wasmtime-wasi-http does the WASI plumbing and calls
//! [`WasiHttpHooks::send_request`] for each request; this module decides
//! whether it may leave (denied → `HttpRequestDenied`, as Spin) and sends
//! plain `http://` itself over a fresh TCP connection with hyper (refused →
//! `ConnectionRefused`). `https://` is refused with a TLS error: the local
//! services are all plain HTTP, and leaving TLS out keeps the build small.
//! A host of `self` is sent back into the app's own listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::allowed_hosts::{AllowedHosts, Target};

/// Per-store hooks: the component's allow list and where "self" is.
pub struct OutboundHooks {
    pub component: Arc<str>,
    pub allowed: Arc<AllowedHosts>,
    pub self_addr: SocketAddr,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let is_self = host == "self" || host == "self.alt";
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let target = Target {
            scheme: scheme.clone(),
            host: host.clone(),
            port,
        };
        let allowed = if is_self {
            self.allowed.allows_self()
        } else {
            self.allowed.allows(&target)
        };
        if !allowed {
            tracing::info!(component = %self.component, "outbound request to {target} denied by allowed_outbound_hosts");
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let connect_to = if is_self {
            self.self_addr.to_string()
        } else if scheme == "http" {
            // Keep IPv6 literals bracketed.
            match uri.authority() {
                Some(a) if a.port().is_some() => a
                    .as_str()
                    .rsplit('@')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                _ => format!("{}:{port}", uri.host().unwrap_or_default()),
            }
        } else {
            return Box::new(async { Err(Error::TlsProtocolError) });
        };
        Box::new(send_http(request, connect_to, options))
    }
}

async fn send_http(
    mut request: http::Request<WasiBody>,
    connect_to: String,
    options: Option<RequestOptions>,
) -> Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
> {
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(Duration::from_secs(600));
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(Duration::from_secs(600));
    let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(&connect_to)).await
    {
        Ok(s) => s.map_err(Error::Connect)?,
        Err(_) => return Err(Error::ConnectionTimeout),
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Error::Hyper)?;
    // The connection is driven in the background until the body is done.
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("outbound HTTP connection ended with an error: {e}");
        }
    });
    // Origin-form request line: the authority travels in the Host header.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(Error::Hyper)?;
    let response = response.map(|b| b.map_err(Error::Hyper).boxed_unsync());
    Ok((
        response,
        Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
    ))
}
