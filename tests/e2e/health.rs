//! The health component: liveness, readiness with every dependency checked, readiness
//! following a Redis outage and recovery (own redis-server), and no secrets or hosts
//! in the answers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::{
    Response, TestApp, app, eventually, manifest, service, track_child, untrack_child,
};

/// Values that must never appear in a health answer.
fn secrets_and_hosts() -> Vec<(&'static str, String)> {
    let mut v: Vec<(&str, String)> = [
        "SPIN_VARIABLE_PG_APP_PASSWORD",
        "SPIN_VARIABLE_PG_OWNER_PASSWORD",
        "SPIN_VARIABLE_S3_ACCESS_KEY",
        "SPIN_VARIABLE_S3_SECRET_KEY",
        "SPIN_VARIABLE_ADMIN_TOKEN",
        "SPIN_VARIABLE_PG_HOST",
        "SPIN_VARIABLE_REDIS_HOST",
    ]
    .into_iter()
    .map(|k| (k, service(k).to_owned()))
    .collect();
    let s3 = service("SPIN_VARIABLE_S3_ENDPOINT");
    v.push((
        "S3 endpoint host",
        s3.trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned(),
    ));
    v
}

fn assert_no_secrets(resp: &Response, what: &str, extra: &[(&str, String)]) {
    let body = resp.text();
    for (name, value) in secrets_and_hosts().iter().chain(extra) {
        assert!(
            value.is_empty() || !body.contains(value.as_str()),
            "{what}: the body must not contain {name}: {body}"
        );
    }
}

#[test]
fn live_is_200() {
    let resp = app().get("/health/live");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_no_secrets(&resp, "/health/live", &[]);
}

#[test]
fn ready_is_200_with_every_check() {
    let resp = app().get("/health/ready");
    assert_eq!(resp.status, 200, "{}\nlogs:\n{}", resp.text(), app().logs());
    let body = resp.text().to_ascii_lowercase();
    for check in ["postgres", "redis", "s3"] {
        assert!(
            body.contains(check),
            "/health/ready reports the {check} check: {body}"
        );
    }
    assert_no_secrets(&resp, "/health/ready", &[]);
}

/// A free port between 20000 and 30000 (the ephemeral range starts at 32768).
fn free_port_below_ephemeral() -> u16 {
    let start = 20_000 + (std::process::id() % 10_000) as u16;
    (start..30_000)
        .chain(20_000..start)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port between 20000 and 30000")
}

/// A redis-server of the test's own on `port`; killed on drop.
struct OwnRedis(Child);

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (installed by `cargo xtask test`)");
        track_child(child.id());
        let mut redis = OwnRedis(child);
        let addr = format!("127.0.0.1:{port}").parse().expect("addr");
        // Our own server answers PONG: not merely something on that port.
        let up = eventually(Duration::from_secs(10), || {
            assert!(
                redis.0.try_wait().expect("try_wait").is_none(),
                "own redis-server on {port} exited (port taken?)"
            );
            let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
            stream.write_all(b"PING\r\n").ok()?;
            let mut pong = [0u8; 7];
            stream.read_exact(&mut pong).ok()?;
            (&pong == b"+PONG\r\n").then_some(())
        });
        assert!(up.is_some(), "own redis-server on {port} did not come up");
        redis
    }

    fn stop(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        untrack_child(self.0.id());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        untrack_child(self.0.id());
    }
}

#[test]
fn ready_follows_a_redis_outage_and_recovery() {
    // The shared app applies the migrations to the database this instance uses too.
    let _ = app();
    // Below the ephemeral range, so no host another test starts can take the
    // port while this Redis is down.
    let port = free_port_below_ephemeral();
    let redis_host = format!("127.0.0.1:{port}");
    let redis = OwnRedis::start(port);
    let own = TestApp::spawn_with(
        &manifest("spin.toml"),
        &[("SPIN_VARIABLE_REDIS_HOST", redis_host.clone())],
        &[],
    );
    let ready = |want: u16| {
        eventually(Duration::from_secs(15), || {
            let r = own.get("/health/ready");
            (r.status == want).then_some(r)
        })
    };
    let first = ready(200).unwrap_or_else(|| {
        panic!(
            "ready with its own redis: {}\nlogs:\n{}",
            own.get("/health/ready").text(),
            own.logs()
        )
    });
    assert_no_secrets(&first, "ready", &[("own redis host", redis_host.clone())]);

    redis.stop();
    let down = ready(503).unwrap_or_else(|| {
        panic!(
            "redis stopped: /health/ready must become 503, is {}",
            own.get("/health/ready").text()
        )
    });
    assert!(
        down.text().to_ascii_lowercase().contains("redis"),
        "the 503 names redis: {}",
        down.text()
    );
    assert_no_secrets(
        &down,
        "ready during the outage",
        &[("own redis host", redis_host.clone())],
    );
    let live = own.get("/health/live");
    assert_eq!(live.status, 200, "liveness does not depend on redis");

    let _redis = OwnRedis::start(port);
    let back = ready(200);
    assert!(
        back.is_some(),
        "redis restarted: /health/ready must be 200 again, is {}",
        own.get("/health/ready").text()
    );
}
