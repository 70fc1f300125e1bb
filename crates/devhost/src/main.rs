//! `devhost`: serves a Spin app locally, like `spin up`, for development
//! and tests. Production is Spin; this host exists so tests and local runs
//! need no Spin install, fail fast on Spin pitfalls, and run fast.
//!
//! This file only parses the command line and wires the parts together.

mod allowed_hosts;
mod bindings;
mod cli;
mod link;
mod logs;
mod manifest;
mod outbound;
mod pg;
mod redis;
mod reload;
mod routing;
mod runtime_config;
mod server;
mod state;
mod variables;

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::Args;
use crate::pg::{PgPools, SpinVersion, ZeroRowMode};
use crate::redis::RedisClients;
use crate::server::Server;
use crate::state::Shared;

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(cli::Parsed::Run(a)) => a,
        Ok(cli::Parsed::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("devhost: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    init_logging();
    logs::init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devhost: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let level = std::env::var("PLINTH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .init();
}

fn run(args: Args) -> anyhow::Result<()> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let spin = match args
        .spin
        .as_deref()
        .or(env.get("PLINTH_DEVHOST_SPIN").map(String::as_str))
    {
        Some(version) => SpinVersion::parse(version),
        None => Ok(SpinVersion::V4_0),
    }
    .map_err(anyhow::Error::msg)?;
    let zero_row = match args.pg_zero_row_query.as_deref() {
        Some(mode) => ZeroRowMode::parse(mode),
        None => env
            .get("PLINTH_PG_ZERO_ROW_QUERY")
            .map_or(Ok(spin.zero_row_default()), |m| ZeroRowMode::parse(m)),
    }
    .map_err(anyhow::Error::msg)?;
    let app = manifest::load(&args.manifest, &env, &args.env).map_err(anyhow::Error::msg)?;
    for note in &app.notes {
        tracing::warn!("{note}");
    }
    if let Some(path) = &args.runtime_config {
        runtime_config::load(path).map_err(anyhow::Error::msg)?;
    }

    // Bind before compiling so a busy port is reported at once.
    let listener = std::net::TcpListener::bind(args.listen).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "{} is already in use (is another devhost or spin running?)",
                args.listen
            )
        } else {
            anyhow::anyhow!("cannot listen on {}: {e}", args.listen)
        }
    })?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;

    let started = std::time::Instant::now();
    let shared = Shared {
        pg: PgPools::default(),
        redis: RedisClients::default(),
        zero_row,
        spin,
    };
    let app_name = app.name.clone();
    let watcher = args
        .watch
        .then(|| reload::Watcher::new(app.components.iter().map(|c| c.source.clone())));
    let server = Arc::new(Server::new(app, shared, local)?);
    tracing::info!(
        "app {app_name:?} ready in {:.2?}; answering as Spin {spin:?}; zero-row Postgres queries: {zero_row:?}",
        started.elapsed()
    );
    for (route, component) in server.routes() {
        tracing::info!("  {component}: http://{local}{route}");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "devhost listening on http://{local}")?;
        out.flush()?;
        drop(out);
        if let Some(watcher) = watcher {
            tokio::spawn(watcher.run(server.clone()));
        }
        server.serve(listener, shutdown_signal()).await?;
        tracing::info!("shutting down");
        Ok::<_, anyhow::Error>(())
    })?;
    // In-flight requests are abandoned rather than waited for.
    runtime.shutdown_background();
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
