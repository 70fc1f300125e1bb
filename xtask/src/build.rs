//! `cargo xtask build`: the wasm32-wasip2 components (every workspace member
//! whose lib is a `cdylib`), then `devhost` and the native test targets, all
//! in release.

use crate::util::{self, Phase};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const WASM_TARGET: &str = "wasm32-wasip2";

pub fn cli(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask build");
    }
    build()
}

/// A workspace package, as `cargo metadata` describes it.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// The directory of its Cargo.toml.
    pub dir: PathBuf,
    /// The name of its `cdylib` target (the `.wasm` file's stem), if any.
    pub cdylib: Option<String>,
    /// Workspace packages it depends on by path (normal and build
    /// dependencies: what its build compiles).
    pub path_deps: Vec<PathBuf>,
}

/// The workspace's packages.
pub fn packages() -> Result<Vec<Package>> {
    let out = util::output(util::cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    let meta: serde_json::Value = serde_json::from_str(&out).context("parsing cargo metadata")?;
    let packages = meta["packages"]
        .as_array()
        .context("cargo metadata without packages")?;
    Ok(packages
        .iter()
        .filter_map(|p| {
            let manifest = Path::new(p["manifest_path"].as_str()?);
            let cdylib = p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| {
                    t["crate_types"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c == "cdylib")
                })
                .and_then(|t| t["name"].as_str().map(String::from));
            let path_deps = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["kind"] != "dev")
                .filter_map(|d| d["path"].as_str().map(PathBuf::from))
                .collect();
            Some(Package {
                name: p["name"].as_str()?.to_string(),
                dir: manifest.parent()?.to_path_buf(),
                cdylib,
                path_deps,
            })
        })
        .collect())
}

/// Names of the workspace packages built as wasm components.
pub fn components() -> Result<Vec<String>> {
    let mut names: Vec<String> = packages()?
        .into_iter()
        .filter(|p| p.cdylib.is_some())
        .map(|p| p.name)
        .collect();
    names.sort();
    Ok(names)
}

pub fn build() -> Result<()> {
    ensure_wasm_target()?;
    let components = components()?;
    {
        let _phase = Phase::new(format!(
            "build {} wasm components (cargo, release; a first build takes minutes)",
            components.len()
        ));
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
    let _phase = Phase::new("build devhost and the native tests (a first build takes minutes)");
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
