//! `cargo xtask services start|stop|status|reset [--install]`: PostgreSQL,
//! Redis and the S3 server (s3s-fs) on 127.0.0.1, data under target/dev/.
//!
//! target/dev/state.env (mode 0600) remembers ports and generated secrets so
//! restarts keep both; target/dev/services.env is the environment contract
//! consumed by `spin up`, devhost and the tests.

mod postgres;
mod redis;
mod s3;

use crate::sys;
use crate::util::{self, Phase};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where everything lives.
pub struct Layout {
    pub dev: PathBuf,
}

impl Layout {
    pub fn new() -> Self {
        Layout {
            dev: util::target_dir().join("dev"),
        }
    }
    /// Serialises start/stop/reset between concurrent xtask runs.
    fn lock(&self) -> Result<std::fs::File> {
        std::fs::create_dir_all(&self.dev)?;
        let path = self.dev.join("lock");
        sys::lock(&path).with_context(|| format!("cannot lock {}", path.display()))
    }
    fn state_file(&self) -> PathBuf {
        self.dev.join("state.env")
    }
    pub fn env_file(&self) -> PathBuf {
        self.dev.join("services.env")
    }
    fn pg(&self) -> PathBuf {
        self.dev.join("pg")
    }
    fn redis(&self) -> PathBuf {
        self.dev.join("redis")
    }
    fn s3(&self) -> PathBuf {
        self.dev.join("s3")
    }
}

/// Ports and secrets, generated once.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub pg_port: u16,
    pub redis_port: u16,
    pub s3_port: u16,
    pub pg_app_password: String,
    pub pg_owner_password: String,
    pub s3_access_key: String,
    pub s3_secret_key: String,
    pub admin_token: String,
    /// `jwt_keys`: one Ed25519 signing key, `local1:<base64url seed>`.
    pub jwt_keys: String,
    /// `token_secret`: the HMAC key refresh-token successors derive from.
    pub token_secret: String,
}

impl State {
    fn load_or_create(layout: &Layout) -> Result<State> {
        let path = layout.state_file();
        if path.exists() {
            let env = util::read_env(&path)?;
            let get = |k: &str| {
                env.iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .with_context(|| {
                        format!(
                            "{} lacks {k}; run `cargo xtask services reset`",
                            path.display()
                        )
                    })
            };
            let port = |k: &str| -> Result<u16> {
                get(k)?
                    .parse()
                    .with_context(|| format!("bad {k} in {}", path.display()))
            };
            // Secrets added after a state file was first written are made now.
            let mut added = false;
            let mut get_or_new = |k: &str, new: fn() -> Result<String>| -> Result<String> {
                match get(k) {
                    Ok(v) => Ok(v),
                    Err(_) => {
                        added = true;
                        new()
                    }
                }
            };
            let jwt_keys = get_or_new("JWT_KEYS", new_jwt_keys)?;
            let token_secret = get_or_new("TOKEN_SECRET", || util::random_hex(32))?;
            let state = State {
                pg_port: port("PG_PORT")?,
                redis_port: port("REDIS_PORT")?,
                s3_port: port("S3_PORT")?,
                pg_app_password: get("PG_APP_PASSWORD")?,
                pg_owner_password: get("PG_OWNER_PASSWORD")?,
                s3_access_key: get("S3_ACCESS_KEY")?,
                s3_secret_key: get("S3_SECRET_KEY")?,
                admin_token: get("ADMIN_TOKEN")?,
                jwt_keys,
                token_secret,
            };
            if added {
                state.save(layout)?;
            }
            return Ok(state);
        }
        // Hold all three listeners at once so the ports are distinct.
        let listeners: Vec<_> = (0..3)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<_, _>>()
            .context("cannot bind 127.0.0.1:0")?;
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()?;
        let state = State {
            pg_port: ports[0],
            redis_port: ports[1],
            s3_port: ports[2],
            pg_app_password: util::random_hex(16)?,
            pg_owner_password: util::random_hex(16)?,
            s3_access_key: util::random_hex(10)?,
            s3_secret_key: util::random_hex(20)?,
            admin_token: util::random_hex(24)?,
            jwt_keys: new_jwt_keys()?,
            token_secret: util::random_hex(32)?,
        };
        state.save(layout)?;
        Ok(state)
    }

    fn save(&self, layout: &Layout) -> Result<()> {
        std::fs::create_dir_all(&layout.dev)?;
        let text = format!(
            "# Generated once by `cargo xtask services`; `services reset` wipes it.\n\
             PG_PORT={}\nREDIS_PORT={}\nS3_PORT={}\nPG_APP_PASSWORD={}\nPG_OWNER_PASSWORD={}\n\
             S3_ACCESS_KEY={}\nS3_SECRET_KEY={}\nADMIN_TOKEN={}\nJWT_KEYS={}\nTOKEN_SECRET={}\n",
            self.pg_port,
            self.redis_port,
            self.s3_port,
            self.pg_app_password,
            self.pg_owner_password,
            self.s3_access_key,
            self.s3_secret_key,
            self.admin_token,
            self.jwt_keys,
            self.token_secret
        );
        util::write_private(&layout.state_file(), &text)
    }
}

/// A `jwt_keys` value with one fresh Ed25519 seed (kid `local1`).
fn new_jwt_keys() -> Result<String> {
    let seed = hex::decode(util::random_hex(32)?)?;
    Ok(format!("local1:{}", util::base64url(&seed)))
}

/// Which services this invocation started (the others were already running).
#[derive(Debug, Default, Clone, Copy)]
pub struct Started {
    pub pg: bool,
    pub redis: bool,
    pub s3: bool,
}

pub fn cli(args: &[String]) -> Result<()> {
    let install = args.iter().any(|a| a == "--install");
    let rest: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--install")
        .collect();
    match rest.as_slice() {
        ["start"] => start(install).map(|_| ()),
        ["stop"] => stop_all(),
        ["status"] => status(),
        ["reset"] => reset(),
        _ => bail!("usage: cargo xtask services start|stop|status|reset [--install]"),
    }
}

/// Start whatever is not running, then write services.env. On failure the
/// services started by this call are stopped again.
pub fn start(install: bool) -> Result<Started> {
    let _phase = Phase::new("services start");
    let mut started = Started::default();
    match start_into(install || util::ci(), &mut started) {
        Ok(()) => Ok(started),
        Err(e) => {
            if let Err(stop_err) = stop(started) {
                eprintln!("{stop_err:#}");
            }
            Err(e)
        }
    }
}

fn start_into(install: bool, started: &mut Started) -> Result<()> {
    let layout = Layout::new();
    let _lock = layout.lock()?;
    let mut state = State::load_or_create(&layout)?;

    match postgres::running_port(&layout.pg())? {
        Some(port) => {
            println!("postgres: already running on 127.0.0.1:{port}");
            state.pg_port = port;
        }
        None => {
            postgres::ensure_installed(install)?;
            state.pg_port = keep_or_pick(state.pg_port, "postgres")?;
            postgres::start(&layout.pg(), state.pg_port, install)?;
            started.pg = true;
            println!("postgres: started on 127.0.0.1:{}", state.pg_port);
        }
    }
    state.save(&layout)?;
    postgres::provision(&layout.pg(), state.pg_port, &state)?;

    match redis::running_port(&layout.redis())? {
        Some(port) => {
            println!("redis: already running on 127.0.0.1:{port}");
            state.redis_port = port;
        }
        None => {
            redis::ensure_installed(install)?;
            state.redis_port = keep_or_pick(state.redis_port, "redis")?;
            redis::start(&layout.redis(), state.redis_port)?;
            started.redis = true;
            println!("redis: started on 127.0.0.1:{}", state.redis_port);
        }
    }
    state.save(&layout)?;

    match s3::running_port(&layout.s3()) {
        Some(port) => {
            println!("s3: already running on 127.0.0.1:{port}");
            state.s3_port = port;
        }
        None => {
            let bin = s3::ensure_installed(install)?;
            state.s3_port = keep_or_pick(state.s3_port, "s3")?;
            s3::start(&bin, &layout.s3(), &state)?;
            started.s3 = true;
            println!("s3: started on 127.0.0.1:{}", state.s3_port);
        }
    }
    state.save(&layout)?;
    s3::ensure_bucket(&state, BUCKET)?;

    write_services_env(&layout, &state)?;
    println!("wrote {}", layout.env_file().display());
    Ok(())
}

const BUCKET: &str = "plinth";

/// The remembered port if it is free, else a new one.
fn keep_or_pick(port: u16, what: &str) -> Result<u16> {
    if util::port_is_free(port) {
        return Ok(port);
    }
    let new = util::free_port()?;
    eprintln!(
        "{what}: port {port} is taken by another process; using {new} (services.env is rewritten)"
    );
    Ok(new)
}

fn write_services_env(layout: &Layout, s: &State) -> Result<()> {
    let abs = |p: PathBuf| p.canonicalize().unwrap_or(p).display().to_string();
    let text = format!(
        "SPIN_VARIABLE_PG_HOST=127.0.0.1:{pg}\n\
         SPIN_VARIABLE_PG_DATABASE=plinth\n\
         SPIN_VARIABLE_PG_APP_USER=plinth_app\n\
         SPIN_VARIABLE_PG_APP_PASSWORD={app_pw}\n\
         SPIN_VARIABLE_PG_OWNER_USER=plinth_owner\n\
         SPIN_VARIABLE_PG_OWNER_PASSWORD={owner_pw}\n\
         SPIN_VARIABLE_REDIS_HOST=127.0.0.1:{redis}\n\
         SPIN_VARIABLE_S3_ENDPOINT=http://127.0.0.1:{s3}\n\
         SPIN_VARIABLE_S3_REGION={region}\n\
         SPIN_VARIABLE_S3_BUCKET={BUCKET}\n\
         SPIN_VARIABLE_S3_ACCESS_KEY={ak}\n\
         SPIN_VARIABLE_S3_SECRET_KEY={sk}\n\
         SPIN_VARIABLE_ADMIN_TOKEN={admin}\n\
         SPIN_VARIABLE_JWT_KEYS={jwt_keys}\n\
         SPIN_VARIABLE_TOKEN_SECRET={token_secret}\n\
         PLINTH_PG_SUPERUSER_URL=postgres://postgres@127.0.0.1:{pg}/postgres\n\
         PLINTH_PG_DATA={data}\n\
         PLINTH_REDIS_CONF={conf}\n",
        pg = s.pg_port,
        app_pw = s.pg_app_password,
        owner_pw = s.pg_owner_password,
        redis = s.redis_port,
        s3 = s.s3_port,
        region = s3::REGION,
        ak = s.s3_access_key,
        sk = s.s3_secret_key,
        admin = s.admin_token,
        jwt_keys = s.jwt_keys,
        token_secret = s.token_secret,
        data = abs(layout.pg()),
        conf = abs(redis::conf_path(&layout.redis())),
    );
    util::write_private(&layout.env_file(), &text)
}

/// services.env as key/value pairs, for child environments.
pub fn load_env() -> Result<Vec<(String, String)>> {
    let path = Layout::new().env_file();
    if !path.exists() {
        bail!(
            "{} is missing; run `cargo xtask services start`",
            path.display()
        );
    }
    util::read_env(&path)
}

/// Look up one key of services.env.
pub fn env_value(env: &[(String, String)], key: &str) -> Result<String> {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .with_context(|| format!("services.env lacks {key}"))
}

/// Stop the services in `which` (used by `test`/`up` for what they started).
pub fn stop(which: Started) -> Result<()> {
    if !(which.pg || which.redis || which.s3) {
        return Ok(());
    }
    let _phase = Phase::new("services stop");
    let layout = Layout::new();
    let _lock = layout.lock()?;
    let mut errors = Vec::new();
    if which.s3 {
        s3::stop(&layout.s3());
        println!("s3: stopped");
    }
    if which.redis {
        match redis::stop(&layout.redis()) {
            Ok(()) => println!("redis: stopped"),
            Err(e) => errors.push(format!("redis: {e:#}")),
        }
    }
    if which.pg {
        match postgres::stop(&layout.pg()) {
            Ok(()) => println!("postgres: stopped"),
            Err(e) => errors.push(format!("postgres: {e:#}")),
        }
    }
    if !errors.is_empty() {
        bail!("stopping services failed:\n{}", errors.join("\n"));
    }
    Ok(())
}

pub fn stop_all() -> Result<()> {
    let layout = Layout::new();
    let which = Started {
        pg: postgres::running_port(&layout.pg())?.is_some(),
        redis: redis::running_port(&layout.redis())?.is_some(),
        s3: s3::running_port(&layout.s3()).is_some(),
    };
    if !(which.pg || which.redis || which.s3) {
        println!("no services running");
    }
    stop(which)
}

pub fn status() -> Result<()> {
    let layout = Layout::new();
    let state = if layout.state_file().exists() {
        Some(State::load_or_create(&layout)?)
    } else {
        None
    };
    let line = |name: &str, running: Option<u16>, remembered: Option<u16>, log: &Path| {
        let (state, port) = match (running, remembered) {
            (Some(p), _) => ("running", p.to_string()),
            (None, Some(p)) => ("stopped", p.to_string()),
            (None, None) => ("stopped", "-".to_string()),
        };
        println!(
            "{name:<9} {state:<8} 127.0.0.1:{port:<6} log {}",
            log.display()
        );
    };
    line(
        "postgres",
        postgres::running_port(&layout.pg())?,
        state.as_ref().map(|s| s.pg_port),
        &postgres::log_path(&layout.pg()),
    );
    line(
        "redis",
        redis::running_port(&layout.redis())?,
        state.as_ref().map(|s| s.redis_port),
        &redis::log_path(&layout.redis()),
    );
    line(
        "s3",
        s3::running_port(&layout.s3()),
        state.as_ref().map(|s| s.s3_port),
        &s3::log_path(&layout.s3()),
    );
    if layout.env_file().exists() {
        println!("env       {}", layout.env_file().display());
    }
    Ok(())
}

pub fn reset() -> Result<()> {
    stop_all()?;
    let layout = Layout::new();
    if layout.dev.exists() {
        std::fs::remove_dir_all(&layout.dev)
            .with_context(|| format!("cannot remove {}", layout.dev.display()))?;
        println!("removed {}", layout.dev.display());
    }
    Ok(())
}

/// Error for a missing tool, or install it when allowed.
pub fn install_or_explain(what: &str, install_cmd: &str, install: bool) -> Result<()> {
    if !install {
        bail!(
            "{what} is not installed. Install it with:\n    {install_cmd}\n(or pass --install; CI=true installs automatically)"
        );
    }
    let _phase = Phase::new(format!("install {what}"));
    util::run(
        Command::new("sh")
            .arg("-c")
            .arg(install_cmd)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
