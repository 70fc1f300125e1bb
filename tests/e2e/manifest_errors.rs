//! The host refuses to start, with a message naming the file or key, on a bad manifest,
//! a missing component file, a route clash, a required variable without a value and a
//! port already in use.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::helpers::{free_port, repo_root, run_host_expect_exit};

const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh directory holding `file_name` with `contents`; returns the file's path.
fn write_manifest(file_name: &str, contents: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "plinth-e2e-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join(file_name);
    std::fs::write(&path, contents).expect("write manifest");
    path
}

fn probe_wasm() -> String {
    repo_root()
        .join("target/wasm32-wasip2/release/plinth_conformance.wasm")
        .display()
        .to_string()
}

fn valid_manifest() -> String {
    format!(
        r#"spin_manifest_version = 2

[application]
name = "e2e-valid"

[[trigger.http]]
route = "/..."
component = "probe"

[component.probe]
source = "{}"
"#,
        probe_wasm()
    )
}

#[test]
fn bad_manifests_are_refused_with_a_message_naming_the_problem() {
    if !crate::helpers::is_devhost() {
        // Spin refuses these too, but its messages do not name the file:
        // devhost's wording is its own (docs/spin-compatibility.md).
        eprintln!("skipped under APP_RUNTIME=spin: the messages checked are devhost's own");
        return;
    }
    let wasm = probe_wasm();
    // (what, file name, manifest, text the message must contain)
    let cases = [
        (
            "malformed TOML",
            "broken-manifest.toml",
            "spin_manifest_version = 2\n[application\nname = \"x\"\n".to_owned(),
            "broken-manifest.toml",
        ),
        (
            "missing component file",
            "spin.toml",
            r#"spin_manifest_version = 2
[application]
name = "e2e-missing-file"
[[trigger.http]]
route = "/..."
component = "gone"
[component.gone]
source = "does-not-exist-e2e.wasm"
"#
            .to_owned(),
            "does-not-exist-e2e.wasm",
        ),
        (
            "route clash",
            "spin.toml",
            format!(
                r#"spin_manifest_version = 2
[application]
name = "e2e-clash"
[[trigger.http]]
route = "/clash-route"
component = "one"
[[trigger.http]]
route = "/clash-route"
component = "two"
[component.one]
source = "{wasm}"
[component.two]
source = "{wasm}"
"#
            ),
            "/clash-route",
        ),
        (
            "required variable without a value",
            "spin.toml",
            format!(
                r#"spin_manifest_version = 2
[application]
name = "e2e-required"
[variables]
must_have_value = {{ required = true }}
[[trigger.http]]
route = "/..."
component = "probe"
[component.probe]
source = "{wasm}"
[component.probe.variables]
thing = "{{{{ must_have_value }}}}"
"#
            ),
            "must_have_value",
        ),
    ];
    for (what, file_name, contents, needle) in cases {
        let path = write_manifest(file_name, &contents);
        let listen = format!("127.0.0.1:{}", free_port());
        let (status, output) = run_host_expect_exit(&path, &listen, &[], EXIT_TIMEOUT);
        assert!(
            !status.success(),
            "{what}: the host must exit non-zero, got {status}"
        );
        assert!(
            output.contains(needle),
            "{what}: the message must name {needle:?}; got:\n{output}"
        );
        let _ = std::fs::remove_dir_all(path.parent().expect("temp dir"));
    }
}

#[test]
fn port_in_use_is_reported() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let path = write_manifest("spin.toml", &valid_manifest());
    let (status, output) = run_host_expect_exit(&path, &addr.to_string(), &[], EXIT_TIMEOUT);
    assert!(
        !status.success(),
        "the host must exit non-zero when its port is taken"
    );
    assert!(
        output.contains(&addr.port().to_string()),
        "the message must name the address in use ({addr}); got:\n{output}"
    );
    drop(taken);
    let _ = std::fs::remove_dir_all(path.parent().expect("temp dir"));
}
