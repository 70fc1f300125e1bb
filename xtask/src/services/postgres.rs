//! PostgreSQL 15 from /usr/lib/postgresql/15/bin with its data directory at
//! target/dev/pg, run as the `postgres` OS user when xtask runs as root.
//!
//! Auth: trust for the `postgres` superuser (local socket and 127.0.0.1 only,
//! tests create scratch databases with it), scram-sha-256 for everyone else.
//! Roles: `plinth_owner` owns database `plinth` and its `public` schema;
//! `plinth_app` may only connect and use the schema.

use super::State;
use crate::{sys, util};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = "/usr/lib/postgresql/15/bin";
const INSTALL: &str = "apt-get update && apt-get install -y postgresql-15";

fn bin(name: &str) -> PathBuf {
    Path::new(BIN).join(name)
}

pub fn log_path(dir: &Path) -> PathBuf {
    dir.join("log")
}

pub fn ensure_installed(install: bool) -> Result<()> {
    let present = || {
        ["initdb", "pg_ctl", "postgres", "psql", "pg_isready"]
            .iter()
            .all(|b| util::is_executable(&bin(b)))
    };
    if !present() {
        super::install_or_explain("PostgreSQL 15", INSTALL, install)?;
        if !present() {
            bail!("PostgreSQL 15 binaries still missing from {BIN} after `{INSTALL}`");
        }
    }
    Ok(())
}

/// `program` run as the `postgres` OS user (postgres refuses to run as root).
fn as_postgres(program: &str) -> Command {
    if sys::is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(bin(program));
        cmd
    } else {
        Command::new(bin(program))
    }
}

/// The port of the postmaster serving `dir`, if one is alive.
pub fn running_port(dir: &Path) -> Result<Option<u16>> {
    let Ok(pidfile) = std::fs::read_to_string(dir.join("postmaster.pid")) else {
        return Ok(None);
    };
    let lines: Vec<&str> = pidfile.lines().collect();
    let (Some(pid), Some(port)) = (
        lines.first().and_then(|l| l.trim().parse::<u32>().ok()),
        lines.get(3).and_then(|l| l.trim().parse::<u16>().ok()),
    ) else {
        return Ok(None);
    };
    Ok(sys::alive(pid, "postgres").then_some(port))
}

pub fn start(dir: &Path, port: u16, install: bool) -> Result<()> {
    if !dir.join("PG_VERSION").exists() {
        init(dir, install)?;
    }
    let log = log_path(dir);
    let mut cmd = as_postgres("pg_ctl");
    cmd.arg("start").arg("-D").arg(dir).arg("-l").arg(&log);
    cmd.args(["-w", "-t", "60", "-o", &format!("-p {port}")]);
    sys::detach(&mut cmd);
    util::output(&mut cmd).with_context(|| {
        format!(
            "postgres did not start; log {}:\n{}",
            log.display(),
            util::tail(&log, 15)
        )
    })?;
    let ready = util::wait_until(Duration::from_secs(30), || {
        Ok(Command::new(bin("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-t", "1"])
            .status()
            .is_ok_and(|s| s.success()))
    })?;
    if !ready {
        bail!(
            "postgres on 127.0.0.1:{port} not ready after 30s; log {}",
            log.display()
        );
    }
    Ok(())
}

fn init(dir: &Path, install: bool) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    if sys::is_root() {
        util::output(Command::new("chown").arg("postgres:postgres").arg(dir))?;
        util::output(Command::new("chmod").arg("0700").arg(dir))?;
        ensure_reachable(dir, install)?;
    }
    let mut cmd = as_postgres("initdb");
    cmd.arg("-D").arg(dir);
    cmd.args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
        "--no-instructions",
    ]);
    util::output(&mut cmd).context("initdb failed")?;

    // initdb created these files as `postgres`; rewriting keeps the owner.
    std::fs::write(
        dir.join("pg_hba.conf"),
        "# Written by `cargo xtask services`.\n\
         # TYPE  DATABASE  USER      ADDRESS        METHOD\n\
         local   all       postgres                 trust\n\
         host    all       postgres  127.0.0.1/32   trust\n\
         local   all       all                      scram-sha-256\n\
         host    all       all       127.0.0.1/32   scram-sha-256\n",
    )?;
    let conf = dir.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf)?;
    // No Unix socket: every client uses 127.0.0.1, and a socket path under a
    // deep checkout could pass the 107-byte limit.
    text.push_str(
        "\n# Added by `cargo xtask services` (the port is given on the command line).\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = ''\n\
         password_encryption = 'scram-sha-256'\n\
         max_connections = 200\n\
         synchronous_commit = off\n",
    );
    std::fs::write(&conf, text)?;
    Ok(())
}

/// The `postgres` user must be able to reach its data directory; every
/// ancestor needs o+x. Fixed automatically under CI / --install.
fn ensure_reachable(dir: &Path, install: bool) -> Result<()> {
    let ok = || {
        Command::new("runuser")
            .args(["-u", "postgres", "--", "test", "-w"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    if ok() {
        return Ok(());
    }
    use std::os::unix::fs::PermissionsExt;
    let blocked: Vec<PathBuf> = dir
        .canonicalize()?
        .ancestors()
        .skip(1)
        .filter(|p| {
            p.metadata()
                .is_ok_and(|m| m.permissions().mode() & 0o001 == 0)
        })
        .map(Path::to_path_buf)
        .collect();
    if !install || blocked.is_empty() {
        bail!(
            "the `postgres` user cannot reach {}; these directories lack o+x: {:?} (fix: chmod o+x <dir>, or run with CI=true / --install)",
            dir.display(),
            blocked
        );
    }
    for p in &blocked {
        eprintln!(
            "chmod o+x {} (so the postgres user can reach its data directory)",
            p.display()
        );
        util::output(Command::new("chmod").arg("o+x").arg(p))?;
    }
    if !ok() {
        bail!("the `postgres` user still cannot write {}", dir.display());
    }
    Ok(())
}

/// Roles, database and grants; idempotent, run on every start so the
/// passwords always match target/dev/state.env.
pub fn provision(dir: &Path, port: u16, s: &State) -> Result<()> {
    for pw in [&s.pg_app_password, &s.pg_owner_password] {
        if !pw.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("generated passwords must be hex");
        }
    }
    let script = format!(
        r#"
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'plinth_owner') THEN CREATE ROLE plinth_owner; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'plinth_app') THEN CREATE ROLE plinth_app; END IF;
END $$;
ALTER ROLE plinth_owner WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD '{owner}';
ALTER ROLE plinth_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD '{app}';
SELECT 'CREATE DATABASE plinth OWNER plinth_owner'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'plinth') \gexec
ALTER DATABASE plinth OWNER TO plinth_owner;
REVOKE ALL ON DATABASE plinth FROM PUBLIC;
GRANT CONNECT ON DATABASE plinth TO plinth_app;
\connect plinth
ALTER SCHEMA public OWNER TO plinth_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO plinth_app;
"#,
        owner = s.pg_owner_password,
        app = s.pg_app_password,
    );
    let mut child = Command::new(bin("psql"))
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run psql")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().context("psql stdin")?;
        stdin.write_all(script.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "provisioning roles/database failed: {}\n(postgres log: {})",
            String::from_utf8_lossy(&out.stderr).trim(),
            log_path(dir).display()
        );
    }
    Ok(())
}

pub fn stop(dir: &Path) -> Result<()> {
    if running_port(dir)?.is_none() {
        return Ok(());
    }
    let mut cmd = as_postgres("pg_ctl");
    cmd.arg("stop")
        .arg("-D")
        .arg(dir)
        .args(["-m", "fast", "-w", "-t", "60"]);
    util::output(&mut cmd)?;
    Ok(())
}
