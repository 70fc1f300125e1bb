//! Redis: `redis-server` with a generated config at target/dev/redis/redis.conf
//! (127.0.0.1 only, data in target/dev/redis/data), daemonized with a pid file.
//! Readiness is a plain-TCP `PING` → `+PONG`.

use crate::{sys, util};
use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const INSTALL: &str = "apt-get update && apt-get install -y redis-server";

pub fn conf_path(dir: &Path) -> PathBuf {
    dir.join("redis.conf")
}

pub fn log_path(dir: &Path) -> PathBuf {
    dir.join("log")
}

fn pid_path(dir: &Path) -> PathBuf {
    dir.join("redis.pid")
}

pub fn ensure_installed(install: bool) -> Result<()> {
    if util::which("redis-server").is_none() {
        super::install_or_explain("redis-server", INSTALL, install)?;
        if util::which("redis-server").is_none() {
            bail!("redis-server still not on PATH after `{INSTALL}`");
        }
    }
    Ok(())
}

fn pid(dir: &Path) -> Option<u32> {
    sys::live_pid(&pid_path(dir), "redis-server")
}

/// The port of the redis-server started from `dir`, if it is alive.
pub fn running_port(dir: &Path) -> Result<Option<u16>> {
    if pid(dir).is_none() {
        return Ok(None);
    }
    let conf = std::fs::read_to_string(conf_path(dir))?;
    Ok(conf
        .lines()
        .find_map(|l| l.strip_prefix("port "))
        .and_then(|p| p.trim().parse().ok()))
}

pub fn start(dir: &Path, port: u16) -> Result<()> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let abs = dir.canonicalize()?;
    std::fs::write(
        conf_path(dir),
        format!(
            "# Written by `cargo xtask services`; rewritten on every start.\n\
             bind 127.0.0.1\n\
             port {port}\n\
             protected-mode yes\n\
             dir {data}\n\
             logfile {log}\n\
             save 3600 1 300 100 60 10000\n\
             appendonly no\n",
            data = abs.join("data").display(),
            log = abs.join("log").display(),
        ),
    )?;
    let mut cmd = Command::new("redis-server");
    cmd.arg(conf_path(&abs))
        .args(["--daemonize", "yes", "--pidfile"])
        .arg(pid_path(&abs));
    sys::detach(&mut cmd);
    let log = log_path(dir);
    util::output(&mut cmd)
        .with_context(|| format!("redis-server did not start; log {}", log.display()))?;
    if !util::wait_until(Duration::from_secs(15), || Ok(ping(port)))? {
        bail!(
            "redis on 127.0.0.1:{port} did not answer PING within 15s; log {}:\n{}",
            log.display(),
            util::tail(&log, 10)
        );
    }
    Ok(())
}

/// `PING` → `+PONG` over plain TCP.
pub fn ping(port: u16) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut s = TcpStream::connect_timeout(&util::local(port), Duration::from_millis(300))?;
        s.set_read_timeout(Some(Duration::from_millis(500)))?;
        s.write_all(b"PING\r\n")?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf)?;
        Ok(buf[..n].starts_with(b"+PONG"))
    };
    attempt().unwrap_or(false)
}

pub fn stop(dir: &Path) -> Result<()> {
    if let Some(pid) = pid(dir) {
        // SIGTERM makes redis save its snapshot and exit.
        sys::terminate(pid, "redis-server", Duration::from_secs(20));
    }
    Ok(())
}
