//! Test harness: the services of `target/dev/services.env`, the app under test
//! (`target/release/devhost`, or `$SPIN_BIN up` when `APP_RUNTIME=spin`), a small
//! HTTP/1.1 client that sends paths exactly as written, scratch databases and
//! child processes that die with the test binary.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a host may take to compile the components and start listening.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Default timeout of one HTTP request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

pub fn manifest(rel: &str) -> PathBuf {
    repo_root().join(rel)
}

// ---------------------------------------------------------------------------
// services.env

/// `target/dev/services.env` as a map. Panics with the fix if it is missing.
pub fn services() -> &'static HashMap<String, String> {
    static SERVICES: OnceLock<HashMap<String, String>> = OnceLock::new();
    SERVICES.get_or_init(|| {
        let path = repo_root().join("target/dev/services.env");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{} not readable ({e}): the e2e tests need the services; run `cargo xtask test`",
                path.display()
            )
        });
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    })
}

/// One key of services.env.
pub fn service(key: &str) -> &'static str {
    services()
        .get(key)
        .unwrap_or_else(|| {
            panic!("target/dev/services.env has no {key}: run `cargo xtask test` (services start)")
        })
        .as_str()
}

pub fn admin_token() -> &'static str {
    service("SPIN_VARIABLE_ADMIN_TOKEN")
}

// ---------------------------------------------------------------------------
// Child processes: killed when the test binary exits.

static CHILD_PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> i32;
    fn kill(pid: i32, signal: i32) -> i32;
}

extern "C" fn kill_children() {
    if let Ok(pids) = CHILD_PIDS.lock() {
        for &pid in pids.iter() {
            kill_group(pid);
        }
    }
}

/// SIGKILLs the process group led by `pid`: a host and every process it
/// started (`spin up` serves through a child `spin trigger http`, which
/// would otherwise outlive it and hold its port).
fn kill_group(pid: u32) {
    // SAFETY: kill(2) on the group of a child this process spawned as a
    // group leader (`process_group(0)`), with SIGKILL.
    unsafe {
        kill(-(pid as i32), 9);
    }
}

/// Remembers a child so that it is killed when the test binary exits (statics are
/// never dropped, so the shared apps would otherwise outlive the run).
pub fn track_child(pid: u32) {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn()` with the C runtime.
        unsafe {
            atexit(kill_children);
        }
    });
    CHILD_PIDS.lock().unwrap().push(pid);
}

pub fn untrack_child(pid: u32) {
    CHILD_PIDS.lock().unwrap().retain(|&p| p != pid);
}

/// A free port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

// ---------------------------------------------------------------------------
// The host under test.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    Devhost(PathBuf),
    Spin(PathBuf),
}

pub fn runtime() -> Runtime {
    if std::env::var("APP_RUNTIME").as_deref() == Ok("spin") {
        Runtime::Spin(PathBuf::from(
            std::env::var("SPIN_BIN").unwrap_or_else(|_| "spin".to_owned()),
        ))
    } else {
        let bin = std::env::var("PLINTH_DEVHOST_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join("target/release/devhost"));
        assert!(
            bin.exists(),
            "{} does not exist: run `cargo xtask test` (it builds devhost)",
            bin.display()
        );
        Runtime::Devhost(bin)
    }
}

pub fn is_devhost() -> bool {
    matches!(runtime(), Runtime::Devhost(_))
}

/// The command that serves `manifest` on `listen` (extra args are devhost flags).
fn host_command(manifest: &Path, listen: &str, args: &[&str]) -> Command {
    let mut cmd = match runtime() {
        Runtime::Devhost(bin) => {
            let mut c = Command::new(bin);
            c.arg("-f").arg(manifest).arg("--listen").arg(listen);
            c
        }
        Runtime::Spin(bin) => {
            let mut c = Command::new(bin);
            c.arg("up")
                .arg("-f")
                .arg(manifest)
                .arg("--listen")
                .arg(listen);
            c
        }
    };
    cmd.args(args);
    cmd.envs(services());
    cmd.env_remove("PLINTH_PG_ZERO_ROW_QUERY");
    cmd
}

/// A running host; killed on drop.
pub struct TestApp {
    child: Mutex<Child>,
    pub addr: SocketAddr,
    logs: Arc<Mutex<String>>,
}

impl TestApp {
    /// Starts a host for `manifest` with services.env plus `env` (which wins) and the
    /// extra CLI `args`, and waits until it accepts requests. Panics with its logs if it
    /// exits or does not come up.
    pub fn spawn_with(manifest: &Path, env: &[(&str, String)], args: &[&str]) -> TestApp {
        // A port found free can be taken (by another test's host or an outgoing
        // connection) before the host binds it: try again on a fresh port.
        for _ in 0..4 {
            if let Some(app) = Self::try_spawn(manifest, env, args) {
                return app;
            }
        }
        panic!(
            "the host for {} found its port taken 4 times",
            manifest.display()
        );
    }

    /// `None` when the host exits because its port was taken meanwhile.
    fn try_spawn(manifest: &Path, env: &[(&str, String)], args: &[&str]) -> Option<TestApp> {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = host_command(manifest, &listen, args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that drop stops its children too.
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the host for {}: {e}", manifest.display()));
        track_child(child.id());
        let logs = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if line.contains("listening on") || line.contains("Serving http") {
                        let _ = ready_tx.send(());
                    }
                    logs.lock().unwrap().push_str(&format!("{line}\n"));
                }
            });
        }
        {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push_str(&format!("{line}\n"));
                }
            });
        }
        let addr: SocketAddr = listen.parse().expect("socket address");
        let app = TestApp {
            child: Mutex::new(child),
            addr,
            logs,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if ready_rx.recv_timeout(Duration::from_millis(100)).is_ok() {
                break;
            }
            if let Some(status) = app.child.lock().unwrap().try_wait().expect("try_wait") {
                // Give the log threads a moment to drain.
                std::thread::sleep(Duration::from_millis(200));
                if app.logs().contains("already in use") {
                    return None;
                }
                panic!(
                    "host for {} exited with {status} before listening; logs:\n{}",
                    manifest.display(),
                    app.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "host for {} not listening on {addr} after {START_TIMEOUT:?}; logs:\n{}",
                manifest.display(),
                app.logs()
            );
        }
        Some(app)
    }

    /// Everything the host printed so far (stdout and stderr).
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        request(self.addr, method, target, headers, body, REQUEST_TIMEOUT).unwrap_or_else(|e| {
            panic!(
                "{method} {target} on {}: {e}; host logs:\n{}",
                self.addr,
                self.logs()
            )
        })
    }

    pub fn get(&self, target: &str) -> Response {
        self.request("GET", target, &[], b"")
    }

    pub fn get_with(&self, target: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", target, headers, b"")
    }

    pub fn post_json(&self, target: &str, body: &Value) -> Response {
        self.request(
            "POST",
            target,
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    pub fn post_json_with(&self, target: &str, headers: &[(&str, &str)], body: &Value) -> Response {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.request("POST", target, &all, body.to_string().as_bytes())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            kill_group(child.id());
            let _ = child.wait();
            untrack_child(child.id());
        }
    }
}

/// Runs the host expecting it to refuse to start: returns its exit status and output.
/// Panics if it is still running after `timeout`.
pub fn run_host_expect_exit(
    manifest: &Path,
    listen: &str,
    env: &[(&str, String)],
    timeout: Duration,
) -> (ExitStatus, String) {
    let mut cmd = host_command(manifest, listen, &[]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.process_group(0);
    let mut child = cmd.spawn().expect("start host");
    track_child(child.id());
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            kill_group(child.id());
            let _ = child.wait();
            untrack_child(child.id());
            panic!(
                "host for {} still running after {timeout:?}, expected it to refuse to start",
                manifest.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    untrack_child(child.id());
    let output = format!(
        "{}{}",
        out_t.join().unwrap_or_default(),
        err_t.join().unwrap_or_default()
    );
    (status, output)
}

/// The app of the root spin.toml, started once per test binary, with the migrations
/// applied (`POST /admin/migrations/upgrade`, idempotent).
pub fn app() -> &'static TestApp {
    static APP: OnceLock<TestApp> = OnceLock::new();
    APP.get_or_init(|| {
        let app = TestApp::spawn_with(&manifest("spin.toml"), &[], &[]);
        let resp = app.upgrade("head");
        assert!(
            resp.status == 200,
            "applying migrations to the shared app failed: {} {}\nlogs:\n{}",
            resp.status,
            resp.text(),
            app.logs()
        );
        app
    })
}

// ---------------------------------------------------------------------------
// HTTP/1.1 client: sends the request target byte for byte (no normalisation), so
// routing tests can use `//`, `..` and percent-escapes.

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response {} is not JSON ({e}): {:?}",
                self.status,
                self.text()
            )
        })
    }
}

pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nconnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("host: {addr}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            invalid(format!(
                "no header end in {:?}",
                String::from_utf8_lossy(raw)
            ))
        })?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let find = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("truncated chunk size".into()))?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| invalid(format!("bad chunk size {size_text:?}: {e}")))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            return Err(invalid("truncated chunk".into()));
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

// ---------------------------------------------------------------------------
// A local HTTP server for outbound-request tests.

/// Answers every connection with `200 hello`; counts connections.
pub struct HttpStub {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
}

impl HttpStub {
    pub fn start() -> HttpStub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stub");
        let addr = listener.local_addr().expect("stub addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut buf = [0u8; 4096];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
                    );
                });
            }
        });
        HttpStub { addr, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------
// Postgres: scratch databases and direct connections (no TLS).

pub fn pg_host() -> &'static str {
    service("SPIN_VARIABLE_PG_HOST")
}

pub fn superuser_url() -> &'static str {
    service("PLINTH_PG_SUPERUSER_URL")
}

/// URL of `db` on the services' server as the superuser.
pub fn superuser_url_for(db: &str) -> String {
    let base = superuser_url();
    let cut = base.rfind('/').expect("superuser url has a path");
    format!("{}/{db}", &base[..cut])
}

/// URL of `db` as the owner role (what the migrate component uses).
pub fn owner_url_for(db: &str) -> String {
    format!(
        "postgres://{}:{}@{}/{db}",
        service("SPIN_VARIABLE_PG_OWNER_USER"),
        service("SPIN_VARIABLE_PG_OWNER_PASSWORD"),
        pg_host()
    )
}

pub fn pg_connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect {}: {e}", redact(url)))
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

/// Creates a fresh database owned by the owner role (as the app's databases are) and
/// returns its name. Databases of earlier runs whose process is gone are dropped first.
pub fn scratch_db(tag: &str) -> String {
    static CLEANED: Once = Once::new();
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let mut su = pg_connect(superuser_url());
    CLEANED.call_once(|| drop_stale_scratch_dbs(&mut su));
    let name = format!(
        "e2e_{}_{}_{tag}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let owner = service("SPIN_VARIABLE_PG_OWNER_USER");
    su.batch_execute(&format!("CREATE DATABASE {name} OWNER {owner}"))
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    // As in the app database: the owner owns schema public too.
    let mut db = pg_connect(&superuser_url_for(&name));
    db.batch_execute(&format!("ALTER SCHEMA public OWNER TO {owner}"))
        .unwrap_or_else(|e| panic!("alter schema public of {name}: {e}"));
    name
}

fn drop_stale_scratch_dbs(su: &mut postgres::Client) {
    let rows = su
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'e2e\\_%'",
            &[],
        )
        .expect("list scratch databases");
    for row in rows {
        let name: String = row.get(0);
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = su.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// `tag` made unique within this run (names, emails, slugs of test data).
pub fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The shared app's database as the superuser: to check rows, and to change
/// what the API cannot (yet), such as a member's role.
pub fn app_db() -> postgres::Client {
    pg_connect(&superuser_url_for("plinth"))
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------
// The conformance app (tests/apps/conformance): probe component + routing table.

/// What a conformance app instance was started with.
pub struct Conformance {
    pub app: TestApp,
    /// Allowed outbound HTTP target that answers `200 hello`.
    pub allowed: HttpStub,
    /// A live HTTP server that is NOT in `allowed_outbound_hosts`.
    pub denied: HttpStub,
    /// Allowed host:port where nothing listens.
    pub closed_host: String,
    /// Scratch database (with citext) the probe's `db_url` points to.
    pub db: String,
}

/// Value of the required variable `needed` that the tests give.
pub const NEEDED_VALUE: &str = "given-by-test";
/// Value of `SPIN_VARIABLE_OVERRIDABLE` that the tests give.
pub const OVERRIDDEN_VALUE: &str = "from-env";

/// Starts a conformance app on its own scratch database. `args` are extra host flags.
pub fn spawn_conformance(args: &[&str]) -> Conformance {
    spawn_conformance_with(args, &[])
}

/// [`spawn_conformance`] with extra environment for the host.
pub fn spawn_conformance_with(args: &[&str], extra_env: &[(&str, String)]) -> Conformance {
    let db = scratch_db("conformance");
    let mut su = pg_connect(&superuser_url_for(&db));
    su.batch_execute("CREATE EXTENSION IF NOT EXISTS citext")
        .expect("create extension citext in the scratch database");
    let allowed = HttpStub::start();
    let denied = HttpStub::start();
    // Port 1 (tcpmux): below the ephemeral range, so no host or server a test
    // starts can take it; connections to it are refused.
    let closed_host = "127.0.0.1:1".to_owned();
    let mut env = vec![
        ("SPIN_VARIABLE_PG_DATABASE", db.clone()),
        ("SPIN_VARIABLE_NEEDED", NEEDED_VALUE.to_owned()),
        ("SPIN_VARIABLE_OVERRIDABLE", OVERRIDDEN_VALUE.to_owned()),
        ("SPIN_VARIABLE_HTTP_OK_HOST", allowed.addr.to_string()),
        ("SPIN_VARIABLE_CLOSED_HOST", closed_host.clone()),
    ];
    env.extend(extra_env.iter().cloned());
    let app = TestApp::spawn_with(&manifest("tests/apps/conformance/spin.toml"), &env, args);
    Conformance {
        app,
        allowed,
        denied,
        closed_host,
        db,
    }
}

/// The conformance app shared by the tests that do not need their own instance.
pub fn conformance() -> &'static Conformance {
    static CONFORMANCE: OnceLock<Conformance> = OnceLock::new();
    CONFORMANCE.get_or_init(|| spawn_conformance(&[]))
}

impl Conformance {
    /// `POST /probe/pg` with these ops; returns the per-op results.
    pub fn pg(&self, ops: Value) -> Vec<Value> {
        self.pg_at(None, ops)
    }

    pub fn pg_at(&self, address: Option<&str>, ops: Value) -> Vec<Value> {
        let expected = ops.as_array().map_or(0, Vec::len);
        let mut body = json!({ "ops": ops });
        if let Some(a) = address {
            body["address"] = json!(a);
        }
        let resp = self.app.post_json("/probe/pg", &body);
        assert_eq!(
            resp.status,
            200,
            "/probe/pg answered {}: {}\nops: {ops}\nlogs:\n{}",
            resp.status,
            resp.text(),
            self.app.logs()
        );
        let results = resp.json()["results"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("/probe/pg without results: {}", resp.text()));
        // Tables zip ops with results: a short answer must not skip cases.
        assert_eq!(results.len(), expected, "one result per op");
        results
    }

    /// One `query` on a fresh connection.
    pub fn query(&self, sql: &str, params: Value) -> Value {
        self.pg(json!([{ "conn": 0, "kind": "query", "sql": sql, "params": params }]))
            .remove(0)
    }

    /// One `execute` on a fresh connection.
    pub fn execute(&self, sql: &str, params: Value) -> Value {
        self.pg(json!([{ "conn": 0, "kind": "execute", "sql": sql, "params": params }]))
            .remove(0)
    }

    /// `POST /probe/redis` with these ops; returns the per-op results.
    pub fn redis(&self, ops: Value) -> Vec<Value> {
        let expected = ops.as_array().map_or(0, Vec::len);
        let resp = self.app.post_json("/probe/redis", &json!({ "ops": ops }));
        assert_eq!(resp.status, 200, "/probe/redis: {}", resp.text());
        let results = resp.json()["results"].as_array().cloned().expect("results");
        assert_eq!(results.len(), expected, "one result per op");
        results
    }
}

/// An op: query on connection `conn`.
pub fn q(conn: u64, sql: &str, params: Value) -> Value {
    json!({ "conn": conn, "kind": "query", "sql": sql, "params": params })
}

/// An op: execute on connection `conn`.
pub fn x(conn: u64, sql: &str, params: Value) -> Value {
    json!({ "conn": conn, "kind": "execute", "sql": sql, "params": params })
}

/// The `ok` of a probe result, or a panic naming `what` and the error.
pub fn ok<'a>(result: &'a Value, what: &str) -> &'a Value {
    result
        .get("ok")
        .unwrap_or_else(|| panic!("{what}: expected ok, got {result}"))
}

/// The `err` of a probe result, or a panic naming `what`.
pub fn err<'a>(result: &'a Value, what: &str) -> &'a Value {
    result
        .get("err")
        .unwrap_or_else(|| panic!("{what}: expected an error, got {result}"))
}

/// The single value of a one-row, one-column query result.
pub fn single(result: &Value, what: &str) -> Value {
    let rows = ok(result, what)["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 1, "{what}: expected one row, got {result}");
    rows[0][0].clone()
}

// ---------------------------------------------------------------------------
// Migrations

/// A migrate-only app (tests/apps/migrate, the real migrations) on database `db`.
pub fn migrate_app(db: &str) -> TestApp {
    TestApp::spawn_with(
        &manifest("tests/apps/migrate/spin.toml"),
        &[("SPIN_VARIABLE_PG_DATABASE", db.to_owned())],
        &[],
    )
}

/// The migrate fixture app (tests/apps/migrate-fixture: 0001 ok, 0002 fails) on `db`.
pub fn migrate_fixture_app(db: &str) -> TestApp {
    TestApp::spawn_with(
        &manifest("tests/apps/migrate-fixture/spin.toml"),
        &[("SPIN_VARIABLE_PG_DATABASE", db.to_owned())],
        &[],
    )
}

pub fn bearer() -> String {
    format!("Bearer {}", admin_token())
}

impl TestApp {
    /// `GET /admin/migrations` with the admin token.
    pub fn migration_status(&self) -> Response {
        let auth = bearer();
        self.get_with("/admin/migrations", &[("authorization", &auth)])
    }

    /// `POST /admin/migrations/upgrade` with the admin token.
    pub fn upgrade(&self, target: &str) -> Response {
        let auth = bearer();
        self.post_json_with(
            "/admin/migrations/upgrade",
            &[("authorization", &auth)],
            &json!({ "target": target }),
        )
    }

    /// `POST /admin/migrations/downgrade` with the admin token and this body.
    pub fn downgrade(&self, body: Value) -> Response {
        let auth = bearer();
        self.post_json_with(
            "/admin/migrations/downgrade",
            &[("authorization", &auth)],
            &body,
        )
    }
}

/// The field a problem names: `field` (409) or the first of `errors`.
pub fn field_of(problem: &Value) -> Option<&str> {
    problem["field"]
        .as_str()
        .or(problem["errors"][0]["field"].as_str())
}
