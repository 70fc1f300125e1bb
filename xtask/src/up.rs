//! `cargo xtask up [--listen 127.0.0.1:3000] [--install] [--watch]`: build,
//! start the services, serve spin.toml (with `spin up` when `spin` is on
//! PATH, else devhost), apply migrations, and on Ctrl-C stop the app and the
//! services this run started. `--watch` serves with `devhost --watch` and
//! rebuilds each component whose sources change (`crate::watch`).
//!
//! [`App`] and [`migrate`] are shared with `bench`.

use crate::util::{self, Phase};
use crate::{build, http, services, sys, watch};
use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Which host serves the manifest.
#[derive(Clone, Debug)]
pub enum Runtime {
    Devhost,
    Spin(PathBuf),
}

impl Runtime {
    /// `spin` when it is on PATH, else devhost.
    pub fn detect() -> Runtime {
        util::which("spin").map_or(Runtime::Devhost, Runtime::Spin)
    }
}

/// A running app (devhost or spin) serving one manifest.
pub struct App {
    child: Child,
    pub addr: SocketAddr,
}

impl App {
    /// Start serving `manifest` on `addr` with `env` and wait until it accepts connections.
    pub fn start(
        runtime: &Runtime,
        manifest: &Path,
        addr: SocketAddr,
        env: &[(String, String)],
    ) -> Result<App> {
        Self::start_with(runtime, manifest, addr, env, &[])
    }

    /// [`App::start`] with extra arguments for the host.
    pub fn start_with(
        runtime: &Runtime,
        manifest: &Path,
        addr: SocketAddr,
        env: &[(String, String)],
        args: &[&str],
    ) -> Result<App> {
        if std::net::TcpListener::bind(addr).is_err() {
            bail!("{addr} is already in use (pass another address with --listen)");
        }
        let mut cmd = match runtime {
            Runtime::Devhost => {
                let bin = util::target_dir().join("release/devhost");
                if !bin.exists() {
                    bail!("{} is missing; run `cargo xtask build`", bin.display());
                }
                Command::new(bin)
            }
            Runtime::Spin(bin) => {
                let mut cmd = Command::new(bin);
                cmd.arg("up");
                cmd
            }
        };
        cmd.arg("-f")
            .arg(manifest)
            .arg("--listen")
            .arg(addr.to_string())
            .args(args);
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(util::root())
            .stdin(Stdio::null());
        let _phase = Phase::new(format!("start {}", util::show(&cmd)));
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot run `{}`", util::show(&cmd)))?;
        let mut app = App { child, addr };
        let ready = util::wait_until(Duration::from_secs(300), || {
            if let Some(status) = app.child.try_wait()? {
                bail!("the app exited before listening on {addr} ({status}); see its output above");
            }
            if sys::interrupted() {
                bail!("interrupted");
            }
            // The port accepts connections before the host has compiled the
            // components: wait for an HTTP answer (any status) instead.
            Ok(crate::http::request(addr, "GET", "/", &[], b"", Duration::from_secs(2)).is_ok())
        });
        match ready {
            Ok(true) => Ok(app),
            Ok(false) => {
                app.stop();
                bail!("the app did not listen on {addr} within 300s")
            }
            Err(e) => {
                app.stop();
                Err(e)
            }
        }
    }

    /// The exit status if the app has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM (the app may already be stopping after the terminal's SIGINT),
    /// then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        sys::send_signal(self.child.id(), sys::SIGTERM);
        let gone = util::wait_until(Duration::from_secs(10), || Ok(self.exited().is_some()));
        if !matches!(gone, Ok(true)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `POST /admin/migrations/upgrade {"target":"head"}` with the admin token.
/// Connection failures are retried for a few seconds while the app is alive.
pub fn migrate(app: &mut App, admin_token: &str) -> Result<String> {
    let _phase = Phase::new("apply migrations");
    let auth = format!("Bearer {admin_token}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let mut attempts = 0;
    let resp = loop {
        let result = http::request(
            app.addr,
            "POST",
            "/admin/migrations/upgrade",
            &headers,
            br#"{"target":"head"}"#,
            Duration::from_secs(120),
        );
        if let Some(status) = app.exited() {
            bail!("the app exited ({status}) while applying migrations; see its output above");
        }
        match result {
            Ok(resp) => break resp,
            Err(e) if attempts < 10 => {
                attempts += 1;
                eprintln!("migrations: {e:#}; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(e),
        }
    };
    if !(200..300).contains(&resp.status) {
        bail!(
            "POST /admin/migrations/upgrade answered HTTP {}: {}",
            resp.status,
            resp.body.trim()
        );
    }
    Ok(resp.body)
}

pub fn cli(args: &[String]) -> Result<()> {
    let mut listen: SocketAddr = "127.0.0.1:3000".parse()?;
    let mut install = false;
    let mut watching = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--listen" => {
                let value = it.next().context("--listen needs an address")?;
                listen = value
                    .parse()
                    .with_context(|| format!("bad --listen address {value:?}"))?;
            }
            "--install" => install = true,
            "--watch" => watching = true,
            other => bail!(
                "unknown argument {other:?}; usage: cargo xtask up [--listen 127.0.0.1:3000] [--install] [--watch]"
            ),
        }
    }
    sys::catch_interrupts();
    build::build()?;
    let started = services::start(install)?;
    let result = serve(listen, watching);
    let stopped = services::stop(started);
    result?;
    stopped
}

fn serve(listen: SocketAddr, watching: bool) -> Result<()> {
    let env = services::load_env()?;
    let token = services::env_value(&env, "SPIN_VARIABLE_ADMIN_TOKEN")?;
    let manifest = util::root().join("spin.toml");
    let runtime = match Runtime::detect() {
        // Swapping a new build in while serving is devhost's.
        Runtime::Spin(_) if watching => {
            eprintln!("--watch serves with devhost; with Spin, `spin watch` rebuilds and restarts");
            Runtime::Devhost
        }
        runtime => runtime,
    };
    let mut watch = watching.then(|| watch::Watch::new(&manifest)).transpose()?;
    let host_args: &[&str] = if watching { &["--watch"] } else { &[] };
    let mut app = App::start_with(&runtime, &manifest, listen, &env, host_args)?;
    let report = migrate(&mut app, &token)?;
    println!("migrations: {}", report.trim());
    println!();
    println!(
        "Plinth is up at http://{listen} ({})",
        match runtime {
            Runtime::Devhost => "devhost".to_string(),
            Runtime::Spin(bin) => bin.display().to_string(),
        }
    );
    println!("admin token: {token}");
    println!("  curl -H 'Authorization: Bearer {token}' http://{listen}/admin/migrations");
    println!(
        "services environment: {}",
        services::Layout::new().env_file().display()
    );
    if watch.is_some() {
        println!(
            "Watching the components' sources: a change is rebuilt and served without a restart."
        );
    }
    println!("Press Ctrl-C to stop the app and the services this command started.");
    loop {
        if sys::interrupted() {
            println!("\nstopping…");
            break;
        }
        if let Some(status) = app.exited() {
            eprintln!("the app exited ({status})");
            break;
        }
        if let Some(watch) = &mut watch {
            watch.tick();
        }
        std::thread::sleep(watch::INTERVAL);
    }
    app.stop();
    Ok(())
}
