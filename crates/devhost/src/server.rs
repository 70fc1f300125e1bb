//! The HTTP server: one wasmtime engine, one prepared instance per
//! component, a fresh store and instance per request.
//!
//! Everything that can be done once is done at start: compiling (in
//! parallel, with an on-disk cache of compiled code), linking, resolving
//! variables and allow lists. A request then costs a route lookup, a store,
//! a copy-on-write instantiation from the pooling allocator, and the guest.
//!
//! A component's prepared instance can be replaced while serving
//! ([`Server::reload`], for `--watch`): each request takes the current one
//! when it starts, so requests in flight finish on the one they began with.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Store,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

use crate::manifest::App;
use crate::outbound::OutboundHooks;
use crate::routing::{RouteMatch, Router};
use crate::state::{ComponentShared, HostState, LogStream, Shared};

/// Concurrent instances the pooling allocator is sized for.
const MAX_INSTANCES: u32 = 256;

/// A component ready to serve.
struct Served {
    shared: Arc<ComponentShared>,
    /// The `.wasm` file it was compiled from.
    source: PathBuf,
    /// Replaced whole on reload; a request clones it once (a cheap `Arc`).
    pre: RwLock<ProxyPre<HostState>>,
}

impl Served {
    fn current(&self) -> ProxyPre<HostState> {
        self.pre
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Everything a request needs.
pub struct Server {
    engine: Engine,
    /// Every host interface, before a component's unknown imports are stubbed.
    linker: Linker<HostState>,
    router: Router,
    components: Vec<Served>,
    shared: Arc<Shared>,
    self_addr: SocketAddr,
    /// One permit per live instance: beyond the pool's size requests wait
    /// instead of failing to instantiate.
    instances: Arc<tokio::sync::Semaphore>,
}

/// The wasmtime engine devhost uses: async, pooling allocator with
/// copy-on-write memory images, optimised code.
pub fn engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.cranelift_opt_level(OptLevel::Speed);
    config.memory_init_cow(true);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 16)
        .total_memories(MAX_INSTANCES * 4)
        .total_tables(MAX_INSTANCES * 8)
        .max_memory_size(1 << 30)
        // Reset only the pages a request dirtied, in place, instead of
        // unmapping whole memories: unmapping costs TLB shootdowns and a
        // page fault per page on the next request.
        .linear_memory_keep_resident(16 << 20)
        .table_keep_resident(1 << 20)
        .pagemap_scan(Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

/// Where compiled components are cached between runs.
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PLINTH_DEVHOST_CACHE") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("plinth-devhost"))
}

/// Compiles a component, reusing cached machine code when the wasm bytes
/// and the engine configuration are unchanged.
fn compile(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    let wasm = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    hasher.update(&wasm);
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        hasher.update(h.finish().to_le_bytes());
    }
    let key: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let cached = cache_dir().map(|d| d.join(format!("{key}.cwasm")));
    if let Some(file) = cached.as_ref().filter(|f| f.is_file()) {
        // SAFETY: the file was written by `Component::serialize` of this
        // same devhost build and engine configuration (both are part of
        // the key), in a directory only devhost writes.
        match unsafe { Component::deserialize_file(engine, file) } {
            Ok(c) => {
                // Mark it recently used so pruning keeps it.
                let _ = std::fs::File::options()
                    .append(true)
                    .open(file)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                return Ok(c);
            }
            Err(e) => tracing::debug!("ignoring unusable cache entry {}: {e}", file.display()),
        }
    }
    let component = Component::new(engine, &wasm)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling {}", path.display()))?;
    if let Some(file) = &cached {
        let write = || -> anyhow::Result<()> {
            std::fs::create_dir_all(file.parent().context("cache dir")?)?;
            let tmp = file.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, component.serialize()?)?;
            std::fs::rename(&tmp, file)?;
            prune_cache(file.parent().context("cache dir")?);
            Ok(())
        };
        if let Err(e) = write() {
            tracing::debug!("could not cache compiled component: {e}");
        }
    }
    Ok(component)
}

/// [`compile`], saying how long it took when that was long enough to notice
/// (a first compile, not a cache hit).
fn timed_compile(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    let started = Instant::now();
    let component = compile(engine, path)?;
    let took = started.elapsed();
    if took.as_millis() >= 500 {
        tracing::info!("compiled {} in {took:.1?}", path.display());
    } else {
        tracing::debug!("loaded {} in {took:.1?}", path.display());
    }
    Ok(component)
}

/// Compiled components kept in the cache; older ones are removed.
const CACHE_ENTRIES: usize = 64;

/// Keeps the cache from growing with every rebuild of a component.
fn prune_cache(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= CACHE_ENTRIES {
        return;
    }
    files.sort();
    for (_, path) in &files[..files.len() - CACHE_ENTRIES] {
        let _ = std::fs::remove_file(path);
    }
}

impl Server {
    /// Compiles and links every component of `app`.
    pub fn new(app: App, shared: Shared, self_addr: SocketAddr) -> anyhow::Result<Self> {
        let engine = engine()?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        crate::bindings::Host_::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;

        // Compile each distinct file once, the files in parallel.
        let compiled: Vec<anyhow::Result<Component>> = {
            let mut files: Vec<&Path> = app.components.iter().map(|c| c.source.as_path()).collect();
            files.sort();
            files.dedup();
            // Compiling is the long step of a first start; cached afterwards.
            tracing::info!(
                "compiling {} component file(s) (a few seconds each the first time, cached afterwards)",
                files.len()
            );
            let compiled: HashMap<&Path, anyhow::Result<Component>> = std::thread::scope(|s| {
                let handles: Vec<_> = files
                    .iter()
                    .map(|&f| {
                        let engine = &engine;
                        (f, s.spawn(move || timed_compile(engine, f)))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|(f, h)| {
                        let r = h
                            .join()
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("compiler thread panicked")));
                        (f, r)
                    })
                    .collect()
            });
            app.components
                .iter()
                .map(|c| match &compiled[c.source.as_path()] {
                    Ok(comp) => Ok(comp.clone()),
                    Err(e) => Err(anyhow::anyhow!("{e:#}")),
                })
                .collect()
        };

        let mut components = Vec::new();
        for (c, compiled) in app.components.into_iter().zip(compiled) {
            let component = compiled.with_context(|| format!("component {:?}", c.id))?;
            let pre = prepare(&engine, &linker, &c.id, &component)?;
            components.push(Served {
                shared: Arc::new(ComponentShared {
                    id: Arc::from(c.id.as_str()),
                    allowed_hosts: Arc::new(c.allowed_hosts),
                    variables: c.variables,
                    environment: c.environment,
                }),
                source: c.source,
                pre: RwLock::new(pre),
            });
        }
        Ok(Self {
            engine,
            linker,
            router: app.router,
            components,
            shared: Arc::new(shared),
            self_addr,
            instances: Arc::new(tokio::sync::Semaphore::new(MAX_INSTANCES as usize)),
        })
    }

    /// Accepts connections until `shutdown` resolves.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::pin!(shutdown);
        loop {
            let (stream, client) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                },
                () = &mut shutdown => return Ok(()),
            };
            let _ = stream.set_nodelay(true);
            let server = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(server.handle(req, client).await) }
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!("connection from {client}: {e}");
                }
            });
        }
    }

    /// Answers one request and writes devhost's line about it.
    async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        client: SocketAddr,
    ) -> Response<HyperOutgoingBody> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let mut route = "";
        let mut served = None;
        let mut log = None;
        let resp = if let Some(rest) = path.strip_prefix("/.well-known/spin/") {
            match rest {
                "health" => text(StatusCode::OK, "OK"),
                _ => empty(StatusCode::NOT_FOUND),
            }
        } else if let Some(m) = self.router.route(&path) {
            let component = &self.components[m.component];
            route = m.raw_route;
            served = Some(component);
            let stream = LogStream::new(component.shared.id.clone());
            log = Some(stream.clone());
            match self.run(component, m, req, client, stream).await {
                Ok(resp) => resp,
                Err(e) => {
                    // The route, not the path: a path may carry a token.
                    tracing::error!(component = %component.shared.id, "request to {route} failed: {e:#}");
                    empty(StatusCode::INTERNAL_SERVER_ERROR)
                }
            }
        } else {
            empty(StatusCode::NOT_FOUND)
        };
        if tracing::enabled!(tracing::Level::INFO) {
            let line = crate::logs::Request {
                method: method.as_str(),
                route,
                component: served.map(|c| &*c.shared.id),
                status: resp.status().as_u16(),
                latency: started.elapsed(),
                request_id: crate::logs::request_id(resp.headers().get("x-request-id")),
            };
            crate::logs::request(&line, log.is_some_and(|l| l.access_logged()));
        }
        resp
    }

    async fn run(
        &self,
        component: &Served,
        m: RouteMatch<'_>,
        mut req: Request<Incoming>,
        client: SocketAddr,
        log: LogStream,
    ) -> anyhow::Result<Response<HyperOutgoingBody>> {
        if let Err(e) = set_spin_headers(&mut req, &m, client) {
            // A missing Host, or one that is not a valid authority, is the
            // client's fault. Spin closes the connection without an answer;
            // devhost says 400 (docs/spin-compatibility.md).
            tracing::debug!("bad request: {e:#}");
            return Ok(empty(StatusCode::BAD_REQUEST));
        }

        let mut store = self.store(component, log);
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let outparam = store.data_mut().http().new_response_outparam(tx)?;
        let pre = component.current();
        let permit = self.instances.clone().acquire_owned().await?;
        let id = component.shared.id.clone();

        // The guest runs in its own task so it can keep streaming the body
        // after the response head is sent.
        let task = tokio::spawn(async move {
            let result = match pre.instantiate_async(&mut store).await {
                Ok(proxy) => {
                    proxy
                        .wasi_http_incoming_handler()
                        .call_handle(&mut store, incoming, outparam)
                        .await
                }
                Err(e) => Err(e),
            };
            // Free the instance slot before letting another request in.
            drop(store);
            drop(permit);
            result
        });

        match rx.await {
            Ok(Ok(resp)) => {
                tokio::spawn(async move {
                    match task.await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::error!(component = %id, "component failed after the response started: {e:?}")
                        }
                        Err(e) => tracing::error!(component = %id, "component task failed: {e}"),
                    }
                });
                Ok(resp)
            }
            Ok(Err(code)) => bail!("guest returned an error response: {code:?}"),
            Err(_) => match task.await {
                Ok(Ok(())) => bail!("guest returned without setting a response"),
                Ok(Err(e)) => Err(anyhow::Error::from(e).context("guest trapped")),
                Err(e) => Err(anyhow::anyhow!("guest task failed: {e}")),
            },
        }
    }

    /// A fresh store for one instance of `component`.
    fn store(&self, component: &Served, log: LogStream) -> Store<HostState> {
        let shared = component.shared.clone();
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(log.clone()).stderr(log);
        wasi.envs(&shared.environment);
        crate::outbound::socket_rules(&mut wasi, shared.allowed_hosts.clone());
        let state = HostState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks {
                component: shared.id.clone(),
                allowed: shared.allowed_hosts.clone(),
                self_addr: self.self_addr,
            },
            component: shared,
            shared: self.shared.clone(),
        };
        Store::new(&self.engine, state)
    }

    /// Compiles `source` again and, once it compiles, links and
    /// instantiates for every component served from it, makes it the one
    /// new requests get. On any error nothing changes. Returns the ids of the
    /// components reloaded.
    pub async fn reload(self: &Arc<Self>, source: &Path) -> anyhow::Result<Vec<Arc<str>>> {
        let users: Vec<&Served> = self
            .components
            .iter()
            .filter(|c| c.source == source)
            .collect();
        let Some(first) = users.first() else {
            return Ok(Vec::new());
        };
        let component = {
            let engine = self.engine.clone();
            let path = source.to_path_buf();
            tokio::task::spawn_blocking(move || timed_compile(&engine, &path)).await??
        };
        let mut fresh = Vec::new();
        for served in &users {
            fresh.push(prepare(
                &self.engine,
                &self.linker,
                &served.shared.id,
                &component,
            )?);
        }
        // A component whose instantiation traps (a start function, a missing
        // export) is refused here rather than failing every request.
        {
            let _permit = self.instances.acquire().await?;
            let mut store = self.store(first, LogStream::new(first.shared.id.clone()));
            fresh[0]
                .instantiate_async(&mut store)
                .await
                .map_err(anyhow::Error::from)
                .context("instantiating")?;
        }
        for (served, pre) in users.iter().zip(fresh) {
            *served
                .pre
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = pre;
        }
        Ok(users.iter().map(|c| c.shared.id.clone()).collect())
    }

    pub fn routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.router
            .routes()
            .map(|(r, c)| (r, &*self.components[c].shared.id))
    }
}

/// Links `component` for serving as `id`: the host interfaces, traps for
/// the imports devhost does not implement, and the HTTP handler export.
fn prepare(
    engine: &Engine,
    linker: &Linker<HostState>,
    id: &str,
    component: &Component,
) -> anyhow::Result<ProxyPre<HostState>> {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let ty = component.component_type();
        for (name, _) in ty.imports(engine) {
            tracing::debug!(component = %id, "imports {name}");
        }
        for (name, _) in ty.exports(engine) {
            tracing::debug!(component = %id, "exports {name}");
        }
    }
    let mut linker = linker.clone();
    // Imports devhost does not implement trap when called, so a component
    // that only mentions them still runs.
    for name in crate::link::stub_unknown_imports(&mut linker, engine, component)? {
        tracing::debug!(component = %id, "import {name} is not implemented: calls trap");
    }
    let pre = linker
        .instantiate_pre(component)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("linking component {id:?}"))?;
    ProxyPre::new(pre)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("component {id:?} does not export wasi:http/incoming-handler"))
}

/// Adds the `spin-*` headers Spin gives a component and removes `Host`,
/// which the guest never sees.
fn set_spin_headers(
    req: &mut Request<Incoming>,
    m: &RouteMatch<'_>,
    client: SocketAddr,
) -> anyhow::Result<()> {
    let host = match req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
    {
        Some(host) => host.to_string(),
        None if req.version() == http::Version::HTTP_10 => "localhost".to_string(),
        // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
        None => bail!("HTTP/1.1 request without a Host header"),
    };
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    // wasmtime-wasi-http needs the authority; it then lives in the URI only.
    let mut parts = req.uri().clone().into_parts();
    parts.scheme = Some(http::uri::Scheme::HTTP);
    parts.authority = Some(host.parse().context("invalid Host header")?);
    *req.uri_mut() = http::Uri::from_parts(parts)?;

    let headers = req.headers_mut();
    headers.remove(hyper::header::HOST);
    let mut set = |name: &str, value: &str| -> anyhow::Result<()> {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_str(value)?,
        );
        Ok(())
    };
    set("spin-path-info", &m.path_info)?;
    set("spin-full-url", &format!("http://{host}{path_and_query}"))?;
    set("spin-matched-route", m.based_route)?;
    set("spin-base-path", "/")?;
    set("spin-raw-component-route", m.raw_route)?;
    set("spin-component-route", m.component_route)?;
    set("spin-client-addr", &client.to_string())?;
    for (name, value) in &m.captures {
        let name = format!(
            "spin-path-match-{}",
            name.to_ascii_lowercase().replace('_', "-")
        );
        set(&name, value)?;
    }
    Ok(())
}

fn empty(status: StatusCode) -> Response<HyperOutgoingBody> {
    let mut r = Response::new(
        Empty::new()
            .map_err(|e: Infallible| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<HyperOutgoingBody> {
    let mut r = Response::new(
        Full::new(bytes::Bytes::from_static(body.as_bytes()))
            .map_err(|e: Infallible| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}
