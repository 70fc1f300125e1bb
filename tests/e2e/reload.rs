//! devhost's own log and `--watch`: one JSON line per request with the
//! route pattern (never the path's query or a header value), and a new
//! `.wasm` served without a restart, without failing a request in flight,
//! while a file that does not load leaves the previous build serving.
//!
//! The app lives in a temporary directory with its component file, which
//! the test replaces: the bench component (`GET /bench/noop` answers `ok`)
//! and the conformance probe (which answers the same request with a JSON
//! echo) stand for two builds of one component.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{REQUEST_TIMEOUT, TestApp, eventually, is_devhost, repo_root, request};

fn built(file: &str) -> PathBuf {
    let path = repo_root().join("target/wasm32-wasip2/release").join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask build`",
        path.display()
    );
    path
}

/// A fresh directory under target/ holding `spin.toml`, `swap.wasm` (a
/// copy of `initial`) and a compile cache of its own, so the first compile
/// of each build is measured, not a cache hit.
struct AppDir {
    dir: PathBuf,
}

impl AppDir {
    fn new(tag: &str, initial: &Path) -> AppDir {
        let dir = repo_root().join(format!(
            "target/e2e-reload/{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(dir.join("cache")).unwrap();
        std::fs::copy(initial, dir.join("swap.wasm")).unwrap();
        let health = built("plinth_health.wasm");
        std::fs::write(
            dir.join("spin.toml"),
            format!(
                r#"spin_manifest_version = 2

[application]
name = "reload"

[[trigger.http]]
route = "/bench/..."
component = "swap"

[[trigger.http]]
route = "/health/..."
component = "health"

[component.swap]
source = "swap.wasm"

[component.health]
source = "{}"
"#,
                health.display()
            ),
        )
        .unwrap();
        AppDir { dir }
    }

    fn spawn(&self, args: &[&str]) -> TestApp {
        TestApp::spawn_with(
            &self.dir.join("spin.toml"),
            &[(
                "PLINTH_DEVHOST_CACHE",
                self.dir.join("cache").display().to_string(),
            )],
            args,
        )
    }

    /// Replaces the component file the way a build does: the new file is
    /// written aside and renamed over the old one.
    fn replace(&self, bytes: &[u8]) {
        let tmp = self.dir.join("swap.wasm.new");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.dir.join("swap.wasm")).unwrap();
    }
}

impl Drop for AppDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Which build answered `GET /bench/noop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Build {
    Bench,
    Probe,
}

fn which(status: u16, body: &[u8]) -> Result<Build, String> {
    match (status, body) {
        (200, b"ok") => Ok(Build::Bench),
        (200, body) if serde_json::from_slice::<Value>(body).is_ok() => Ok(Build::Probe),
        (status, body) => Err(format!(
            "unexpected answer {status}: {:?}",
            String::from_utf8_lossy(body)
        )),
    }
}

/// One answer of the load, with when it arrived.
type Seen = (Instant, Result<Build, String>);

/// Threads that send `GET /bench/noop` back to back and keep every answer.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<Seen>>>,
}

impl Load {
    fn start(app: &TestApp, threads: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|_| {
                let stop = stop.clone();
                let addr = app.addr;
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let answer =
                            match request(addr, "GET", "/bench/noop", &[], b"", REQUEST_TIMEOUT) {
                                Ok(resp) => which(resp.status, &resp.body),
                                Err(e) => Err(format!("request failed: {e}")),
                            };
                        seen.push((Instant::now(), answer));
                    }
                    seen
                })
            })
            .collect();
        Load { stop, threads }
    }

    fn finish(self) -> Vec<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all: Vec<_> = self
            .threads
            .into_iter()
            .flat_map(|t| t.join().expect("load thread"))
            .collect();
        all.sort_by_key(|(at, _)| *at);
        all
    }
}

/// Waits until `GET /bench/noop` is answered by `build`; returns how long
/// that took.
fn answered_by(app: &TestApp, build: Build, timeout: Duration) -> Duration {
    let started = Instant::now();
    eventually(timeout, || {
        let resp = app.get("/bench/noop");
        (which(resp.status, &resp.body) == Ok(build)).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "{build:?} did not answer within {timeout:?}; host logs:\n{}",
            app.logs()
        )
    });
    started.elapsed()
}

#[test]
fn watch_swaps_a_new_build_in_without_failing_a_request() {
    if !is_devhost() {
        eprintln!("--watch is devhost's; under Spin, `spin watch` restarts the app");
        return;
    }
    let bench = built("plinth_bench_component.wasm");
    let probe = std::fs::read(built("plinth_conformance.wasm")).unwrap();
    let dir = AppDir::new("watch", &bench);
    let app = dir.spawn(&["--watch"]);
    answered_by(&app, Build::Bench, Duration::from_secs(5));

    let load = Load::start(&app, 3);
    std::thread::sleep(Duration::from_millis(300));
    dir.replace(&probe);
    let swap = answered_by(&app, Build::Probe, Duration::from_secs(60));
    eprintln!("a new build answered {swap:.2?} after its file was replaced (compiled uncached)");

    // A file that is not a component: logged, and the probe keeps answering.
    dir.replace(b"\0asm garbage, not a component");
    let logs = eventually(Duration::from_secs(20), || {
        let logs = app.logs();
        logs.contains("cannot be served").then_some(logs)
    })
    .unwrap_or_else(|| panic!("the broken file is reported; host logs:\n{}", app.logs()));
    assert!(
        logs.contains("swap.wasm changed but cannot be served"),
        "the log names the file: {logs}"
    );
    let broken_at = Instant::now();
    std::thread::sleep(Duration::from_millis(800));

    // And a good build after a broken one is served again.
    dir.replace(&std::fs::read(&bench).unwrap());
    answered_by(&app, Build::Bench, Duration::from_secs(60));
    let seen = load.finish();

    let failures: Vec<&String> = seen.iter().filter_map(|(_, r)| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during the swaps: {:?}\nhost logs:\n{}",
        failures.len(),
        seen.len(),
        &failures[..failures.len().min(5)],
        app.logs()
    );
    let builds: Vec<Build> = seen.iter().map(|(_, r)| *r.as_ref().unwrap()).collect();
    eprintln!(
        "{} requests answered during the swaps, none failed",
        builds.len()
    );
    assert!(
        builds.contains(&Build::Probe) && builds.len() > 20,
        "the load saw the swap: {} answers",
        builds.len()
    );
    assert!(
        seen.iter()
            .filter(|(at, _)| *at > broken_at && *at < broken_at + Duration::from_millis(700))
            .all(|(_, r)| r == &Ok(Build::Probe)),
        "while the file is broken, the previous build answers"
    );
    assert_eq!(
        app.logs().matches("reloaded swap from").count(),
        2,
        "two good builds loaded: {}",
        app.logs()
    );
}

#[test]
fn without_watch_a_replaced_file_is_not_loaded() {
    if !is_devhost() {
        return;
    }
    let dir = AppDir::new("nowatch", &built("plinth_bench_component.wasm"));
    let app = dir.spawn(&[]);
    answered_by(&app, Build::Bench, Duration::from_secs(5));
    dir.replace(&std::fs::read(built("plinth_conformance.wasm")).unwrap());
    std::thread::sleep(Duration::from_secs(2));
    let resp = app.get("/bench/noop");
    assert_eq!(which(resp.status, &resp.body), Ok(Build::Bench));
    assert!(!app.logs().contains("watching"), "{}", app.logs());
}

/// devhost's line about each request: JSON, and nothing from the request
/// but its method and the route pattern.
#[test]
fn devhost_logs_one_line_per_request() {
    if !is_devhost() {
        return;
    }
    let dir = AppDir::new("log", &built("plinth_bench_component.wasm"));
    let app = dir.spawn(&[]);
    let secret_query = "token=query-secret-1234";
    let secret_header = "Bearer header-secret-5678";
    let live = app.request(
        "GET",
        &format!("/health/live?{secret_query}"),
        &[
            ("x-request-id", "reload-log-1"),
            ("authorization", secret_header),
        ],
        b"",
    );
    assert_eq!(live.status, 200, "{}", live.text());
    assert_eq!(live.header("x-request-id"), Some("reload-log-1"));
    let noop = app.get("/bench/noop?x=query-secret-1234");
    assert_eq!(noop.status, 200);
    assert_eq!(app.get("/nowhere").status, 404);

    let own = |logs: &str| -> Vec<Value> {
        logs.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["source"] == "devhost")
            .collect()
    };
    let lines = eventually(Duration::from_secs(5), || {
        let lines = own(&app.logs());
        (lines.len() >= 3).then_some(lines)
    })
    .unwrap_or_else(|| panic!("three devhost lines; host logs:\n{}", app.logs()));
    let health = lines
        .iter()
        .find(|l| l["request_id"] == "reload-log-1")
        .unwrap_or_else(|| panic!("the line carries the response's x-request-id: {lines:?}"));
    assert_eq!(health["component"], "health");
    assert_eq!(health["method"], "GET");
    assert_eq!(health["route"], "/health/...");
    assert_eq!(health["status"], 200);
    assert_eq!(health["level"], "info");
    assert_eq!(health["msg"], "request");
    assert!(health["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(
        health["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{health}"
    );
    let bench = lines
        .iter()
        .find(|l| l["component"] == "swap")
        .expect("a line for the bench request");
    assert_eq!(bench["route"], "/bench/...");
    assert!(
        bench.get("request_id").is_none(),
        "no x-request-id: {bench}"
    );
    let missing = lines
        .iter()
        .find(|l| l["status"] == 404)
        .expect("a line for the unrouted request");
    assert_eq!(missing["route"], "");
    assert!(missing.get("component").is_none(), "{missing}");

    let logs = app.logs();
    for secret in ["query-secret-1234", "header-secret-5678", "/nowhere"] {
        assert!(!logs.contains(secret), "{secret} reached the log:\n{logs}");
    }
    // The component's own lines keep their [component] prefix.
    assert!(
        logs.lines()
            .any(|l| l.starts_with("[health] {") && l.contains("reload-log-1")),
        "{logs}"
    );
}
