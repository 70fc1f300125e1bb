//! The per-request store data (`HostState`) and what it shares.
//!
//! A fresh `Store<HostState>` is made for every request; it points at the
//! component's prepared settings ([`ComponentShared`], built once at start)
//! and at the process-wide pools ([`Shared`]), so building it allocates
//! little beyond the WASI context.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::fermyon::spin::variables::{self, Error as VarError};
use crate::outbound::OutboundHooks;
use crate::pg::{PgPools, SpinVersion, ZeroRowMode};
use crate::redis::RedisClients;
use crate::variables::{ComponentVariables, GetError};

/// Process-wide state shared by all requests.
pub struct Shared {
    pub pg: PgPools,
    pub redis: RedisClients,
    pub zero_row: ZeroRowMode,
    /// The Spin whose answers devhost gives where versions differ.
    pub spin: SpinVersion,
}

/// A component's settings, resolved at start.
pub struct ComponentShared {
    pub id: Arc<str>,
    pub allowed_hosts: Arc<AllowedHosts>,
    pub variables: ComponentVariables,
    pub environment: Vec<(String, String)>,
}

/// The data of one request's store.
pub struct HostState {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub hooks: OutboundHooks,
    pub component: Arc<ComponentShared>,
    pub shared: Arc<Shared>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> Result<String, VarError> {
        self.component
            .variables
            .get(&self.component.id, &name)
            .map_err(|e| match e {
                GetError::InvalidName(m) => VarError::InvalidName(m),
                GetError::Undefined(m) => VarError::Undefined(m),
            })
    }
}

/// Guest stdout/stderr of one request: complete lines go to the host's
/// stderr prefixed with `[<component id>]`, so interleaved requests stay
/// readable (at a terminal, JSON lines are rendered instead: `crate::logs`).
#[derive(Clone)]
pub struct LogStream {
    pub prefix: Arc<str>,
    /// Set once the guest wrote its own access line for the request.
    access_logged: Arc<AtomicBool>,
}

impl LogStream {
    pub fn new(prefix: Arc<str>) -> Self {
        LogStream {
            prefix,
            access_logged: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn access_logged(&self) -> bool {
        self.access_logged.load(Ordering::Relaxed)
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineWriter {
            stream: self.clone(),
            pending: Vec::new(),
        })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // Only WASIp2 guests are served; p3 streams are not used.
        Box::new(tokio::io::sink())
    }
}

struct LineWriter {
    stream: LogStream,
    pending: Vec<u8>,
}

impl LineWriter {
    fn emit(&self, line: &[u8]) {
        let (text, access) =
            crate::logs::guest_line(&self.stream.prefix, &String::from_utf8_lossy(line));
        if access {
            self.stream.access_logged.store(true, Ordering::Relaxed);
        }
        crate::logs::write_line(text);
    }
}

/// Appends `bytes` to `pending` and takes out every complete line, without
/// its `\n` or `\r\n`; a partial line stays pending.
fn complete_lines(pending: &mut Vec<u8>, bytes: &[u8]) -> Vec<Vec<u8>> {
    pending.extend_from_slice(bytes);
    let mut lines = Vec::new();
    while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
        let mut line: Vec<u8> = pending.drain(..=pos).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        lines.push(line);
    }
    lines
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.emit(&rest);
        }
    }
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        for line in complete_lines(&mut self.pending, &bytes) {
            self.emit(&line);
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_split_into_lines() {
        let mut pending = Vec::new();
        assert!(complete_lines(&mut pending, b"par").is_empty());
        assert_eq!(
            complete_lines(&mut pending, b"tial\nnext\r\nrest"),
            [b"partial".to_vec(), b"next".to_vec()]
        );
        assert_eq!(pending, b"rest");
        assert_eq!(
            complete_lines(&mut pending, b"\n\n"),
            [b"rest".to_vec(), Vec::new()]
        );
        assert!(pending.is_empty());
    }
}
