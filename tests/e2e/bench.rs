//! The bench app (tests/apps/bench) that `cargo xtask bench` drives: every scenario
//! answers 200 with the checked-in token, so the benchmark measures real work, and
//! the JWT routes refuse a missing or tampered token.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::helpers::{TestApp, manifest, repo_root, service};

/// `SET key value` on the services' Redis (inline command; no spaces in either).
fn redis_set(key: &str, value: &str) {
    let mut stream = TcpStream::connect(service("SPIN_VARIABLE_REDIS_HOST")).expect("redis");
    stream
        .write_all(format!("SET {key} {value}\r\n").as_bytes())
        .expect("send SET");
    let mut reply = [0u8; 5];
    stream.read_exact(&mut reply).expect("SET reply");
    assert_eq!(&reply, b"+OK\r\n", "SET {key}");
}

fn token() -> String {
    std::fs::read_to_string(repo_root().join("tests/apps/bench/token.txt"))
        .expect("tests/apps/bench/token.txt")
        .trim()
        .to_owned()
}

#[test]
fn bench_scenarios_answer() {
    let app = TestApp::spawn_with(&manifest("tests/apps/bench/spin.toml"), &[], &[]);
    let bearer = format!("Bearer {}", token());
    let auth = [("authorization", bearer.as_str())];
    // The value the Redis scenarios read: proof that they really read it.
    let cached = format!("e2e-{}", std::process::id());
    redis_set("bench:key", &cached);
    let all = format!("bench-user {cached:?} 1");
    // (path, expected body)
    let cases = [
        ("/bench/noop", "ok"),
        ("/bench/pg", "1"),
        ("/bench/redis", cached.as_str()),
        ("/bench/jwt", "bench-user"),
        ("/bench/all", all.as_str()),
        ("/health/live", r#"{"status":"ok"}"#),
    ];
    for (path, body) in cases {
        let resp = app.get_with(path, &auth);
        assert_eq!(
            resp.status,
            200,
            "{path}: {}\nlogs:\n{}",
            resp.text(),
            app.logs()
        );
        assert_eq!(resp.text(), body, "{path}");
    }
    let tampered = format!("Bearer {}x", token());
    for path in ["/bench/jwt", "/bench/all"] {
        assert_eq!(app.get(path).status, 401, "{path} without a token");
        let resp = app.get_with(path, &[("authorization", tampered.as_str())]);
        assert_eq!(resp.status, 401, "{path} with a tampered token");
    }
}
