//! The bench app (tests/apps/bench) that `cargo xtask bench` drives: every scenario
//! answers 200 with the checked-in token, so the benchmark measures real work, and
//! the JWT routes refuse a missing or tampered token.

use crate::helpers::{TestApp, manifest, repo_root};

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
    // (path, expected body, or None when any body will do)
    let cases = [
        ("/bench/noop", Some("ok")),
        ("/bench/pg", Some("1")),
        ("/bench/redis", None),
        ("/bench/jwt", Some("bench-user")),
        ("/bench/all", None),
        ("/health/live", None),
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
        if let Some(body) = body {
            assert_eq!(resp.text(), body, "{path}");
        }
    }
    let tampered = format!("Bearer {}x", token());
    for path in ["/bench/jwt", "/bench/all"] {
        assert_eq!(app.get(path).status, 401, "{path} without a token");
        let resp = app.get_with(path, &[("authorization", tampered.as_str())]);
        assert_eq!(resp.status, 401, "{path} with a tampered token");
    }
}
