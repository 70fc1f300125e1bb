//! `cargo xtask build`: the wasm32-wasip2 components (every workspace member
//! whose lib is a `cdylib`), then `devhost` and the native test targets, all
//! in release.

use crate::util::{self, Phase};
use anyhow::{Context, Result, bail};
use std::process::Command;

pub const WASM_TARGET: &str = "wasm32-wasip2";

pub fn cli(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask build");
    }
    build()
}

/// Names of the workspace packages built as wasm components.
pub fn components() -> Result<Vec<String>> {
    let out = util::output(util::cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    let meta: serde_json::Value = serde_json::from_str(&out).context("parsing cargo metadata")?;
    let mut names: Vec<String> = meta["packages"]
        .as_array()
        .context("cargo metadata without packages")?
        .iter()
        .filter(|p| {
            p["targets"].as_array().into_iter().flatten().any(|t| {
                t["crate_types"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c == "cdylib")
            })
        })
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    names.sort();
    Ok(names)
}

pub fn build() -> Result<()> {
    ensure_wasm_target()?;
    let components = components()?;
    {
        let _phase = Phase::new(format!("build {} wasm components", components.len()));
        let mut cmd = util::cargo();
        cmd.args(["build", "--release", "--target", WASM_TARGET]);
        for c in &components {
            cmd.args(["-p", c]);
        }
        util::run(&mut cmd)?;
    }
    // devhost together with every native test target: one feature resolution,
    // so the `cargo test --release --workspace` that follows rebuilds nothing
    // (building devhost alone resolves wasmtime's dependencies differently and
    // compiles them twice).
    let _phase = Phase::new("build devhost and the native tests");
    let mut cmd = util::cargo();
    cmd.args(["build", "--release", "--workspace", "--bins", "--tests"]);
    for c in &components {
        cmd.args(["--exclude", c]);
    }
    util::run(&mut cmd)
}

fn ensure_wasm_target() -> Result<()> {
    if util::which("rustup").is_none() {
        eprintln!("rustup not found; assuming the {WASM_TARGET} target is installed");
        return Ok(());
    }
    let installed = util::output(
        Command::new("rustup")
            .args(["target", "list", "--installed"])
            .current_dir(util::root()),
    )?;
    if !installed.lines().any(|l| l.trim() == WASM_TARGET) {
        let _phase = Phase::new(format!("rustup target add {WASM_TARGET}"));
        util::run(
            Command::new("rustup")
                .args(["target", "add", WASM_TARGET])
                .current_dir(util::root()),
        )?;
    }
    Ok(())
}
