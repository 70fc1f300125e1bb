//! The API guide's walkthrough (docs/api-guide.md, between its
//! `walkthrough` markers) run as written with bash and curl against the root
//! app: the documented flow from sign-up to an uploaded file keeps working.

use std::process::Command;

use crate::helpers::{app, repo_root, unique};

/// The shell block between `<!-- walkthrough: start -->` and `end`.
fn walkthrough() -> String {
    let guide = std::fs::read_to_string(repo_root().join("docs/api-guide.md")).unwrap();
    let start = guide
        .find("<!-- walkthrough: start -->")
        .expect("the start marker");
    let end = guide
        .find("<!-- walkthrough: end -->")
        .expect("the end marker");
    let block = &guide[start..end];
    let body = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.rsplit_once("```"))
        .map(|(script, _)| script)
        .expect("a sh block between the markers");
    body.to_owned()
}

#[test]
fn the_api_guide_runs_as_written() {
    let app = app();
    let script = walkthrough();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("BASE", format!("http://{}", app.addr))
        .env("EMAIL", format!("{}@example.com", unique("guide")))
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walkthrough failed ({}):\n{stdout}\n{stderr}\n{}",
        out.status,
        app.logs()
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.last(), Some(&"walkthrough ok"), "{stdout}");
    // The search found the partner; the PATCH took; the audit log and the
    // validation error are the documented ones.
    assert!(lines.contains(&"Pays on time."), "{stdout}");
    assert!(lines.contains(&"Bearer"), "{stdout}");
    assert!(lines.contains(&"kind"), "{stdout}");
}
