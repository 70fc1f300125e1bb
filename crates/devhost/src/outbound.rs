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
//!
//! Also `wasi:sockets` as Spin's outbound networking sets it up
//! ([`socket_rules`]): a TCP connection may go to an address listed as
//! `tcp://ip:port`, UDP to `udp://ip:port`; binding a TCP socket is never
//! allowed, and there is no `ip-name-lookup` (a guest connects to IP
//! addresses only).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::allowed_hosts::{AllowedHosts, Target};

/// Limits a store's sockets to the component's `allowed_outbound_hosts`.
pub fn socket_rules(wasi: &mut WasiCtxBuilder, allowed: Arc<AllowedHosts>) {
    wasi.allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(false)
        .socket_addr_check(move |addr, addr_use| {
            let allowed = allowed.clone();
            Box::pin(async move { socket_allowed(&allowed, addr, addr_use) })
        });
}

/// Whether a guest may use `addr` for `addr_use` (Spin's
/// factor-outbound-networking: the address is checked as `tcp://addr` or
/// `udp://addr`; a TCP socket may not listen). wasmtime also asks about the
/// implicit bind of every connect (the unspecified address, port 0): that
/// one is allowed, any other bind is not.
fn socket_allowed(allowed: &AllowedHosts, addr: SocketAddr, addr_use: SocketAddrUse) -> bool {
    let scheme = match addr_use {
        SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
            return addr.ip().is_unspecified() && addr.port() == 0;
        }
        SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => return false,
        SocketAddrUse::TcpConnect => "tcp",
        SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => "udp",
    };
    let allowed_here = allowed.check_address(&format!("{scheme}://{addr}"), scheme);
    if let Err(why) = &allowed_here {
        tracing::warn!("socket {why}");
    }
    allowed_here.is_ok()
}

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

#[cfg(test)]
mod socket_tests {
    use super::*;

    #[test]
    fn sockets_follow_the_allow_list() {
        let allowed =
            AllowedHosts::parse(&["tcp://127.0.0.1:2525", "postgres://127.0.0.1:5432"]).unwrap();
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(socket_allowed(
            &allowed,
            at("127.0.0.1:2525"),
            SocketAddrUse::TcpConnect
        ));
        assert!(!socket_allowed(
            &allowed,
            at("127.0.0.1:2526"),
            SocketAddrUse::TcpConnect
        ));
        assert!(!socket_allowed(
            &allowed,
            at("10.0.0.1:2525"),
            SocketAddrUse::TcpConnect
        ));
        // A postgres:// entry is not a tcp:// one, and nothing may listen.
        assert!(!socket_allowed(
            &allowed,
            at("127.0.0.1:5432"),
            SocketAddrUse::TcpConnect
        ));
        assert!(!socket_allowed(
            &allowed,
            at("127.0.0.1:2525"),
            SocketAddrUse::TcpBind
        ));
        assert!(!socket_allowed(
            &allowed,
            at("0.0.0.0:2525"),
            SocketAddrUse::TcpListen
        ));
        assert!(!socket_allowed(
            &allowed,
            at("127.0.0.1:2525"),
            SocketAddrUse::UdpSend
        ));
        // The implicit bind of a connect.
        assert!(socket_allowed(
            &allowed,
            at("0.0.0.0:0"),
            SocketAddrUse::TcpBind
        ));
    }
}
