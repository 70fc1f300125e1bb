//! Rebuilding components as their sources change, for `cargo xtask up
//! --watch` (devhost `--watch` then serves each new `.wasm`) and `cargo
//! xtask watch` (the same, next to a devhost you run yourself).
//!
//! Each component of the manifest is mapped to its package: the `-p` of its
//! `[component.X.build] command`, else the workspace package whose `cdylib`
//! target names its `source` file. A package's sources are its directory
//! and those of the workspace packages it depends on by path, so a change
//! in `crates/platform` rebuilds every component. A change to the
//! workspace's `Cargo.toml`, `Cargo.lock` or `migrations/` (embedded by
//! build scripts) rebuilds them all too; cargo then recompiles only what is
//! stale. The tree is polled: every [`INTERVAL`], modification times and
//! sizes, skipping `target/` and hidden directories.

use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::build::{self, Package, WASM_TARGET};
use crate::util::{self, Phase};

/// How often the sources are checked.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// One package to rebuild, and what it is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub package: String,
    /// The manifest's components built from it.
    pub components: Vec<String>,
    /// Its directory and those of its path dependencies, transitively.
    pub dirs: Vec<PathBuf>,
}

/// The package a `spin build` command builds (`-p name`, `--package name`,
/// `--package=name`).
fn package_of_command(command: &str) -> Option<&str> {
    let mut words = command.split_whitespace();
    while let Some(word) = words.next() {
        if let Some(name) = word.strip_prefix("--package=") {
            return Some(name);
        }
        if word == "-p" || word == "--package" {
            return words.next();
        }
    }
    None
}

/// `(component id, package)` for every component of the manifest text.
fn component_packages(text: &str, packages: &[Package]) -> Result<Vec<(String, String)>> {
    let doc: toml_edit::DocumentMut = text.parse().context("parsing the manifest")?;
    let Some(components) = doc.get("component").and_then(|c| c.as_table_like()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (id, component) in components.iter() {
        let command = component
            .get("build")
            .and_then(|b| b.get("command"))
            .and_then(|c| c.as_str());
        let by_command = command.and_then(package_of_command).map(String::from);
        let by_source = || {
            let source = component.get("source")?.as_str()?;
            let stem = Path::new(source).file_stem()?.to_str()?;
            packages
                .iter()
                .find(|p| p.cdylib.as_deref() == Some(stem))
                .map(|p| p.name.clone())
        };
        match by_command.or_else(by_source) {
            Some(package) => out.push((id.to_string(), package)),
            None => eprintln!(
                "watch: component {id} has no `-p <package>` build command and no workspace \
                 package builds its source; it is not rebuilt"
            ),
        }
    }
    out.sort();
    Ok(out)
}

/// The packages to rebuild for `manifest`, each with its source directories.
fn targets(components: &[(String, String)], packages: &[Package]) -> Result<Vec<Target>> {
    let by_name: HashMap<&str, &Package> = packages.iter().map(|p| (p.name.as_str(), p)).collect();
    let by_dir: HashMap<&Path, &Package> = packages.iter().map(|p| (p.dir.as_path(), p)).collect();
    let mut grouped: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (id, package) in components {
        grouped.entry(package).or_default().push(id.clone());
    }
    let mut out = Vec::new();
    for (name, components) in grouped {
        let package = by_name
            .get(name)
            .with_context(|| format!("no workspace package {name} (components {components:?})"))?;
        let mut dirs = BTreeSet::new();
        let mut todo = vec![package.dir.clone()];
        while let Some(dir) = todo.pop() {
            if dirs.insert(dir.clone())
                && let Some(dep) = by_dir.get(dir.as_path())
            {
                todo.extend(dep.path_deps.iter().cloned());
            }
        }
        out.push(Target {
            package: name.to_string(),
            components,
            dirs: dirs.into_iter().collect(),
        });
    }
    Ok(out)
}

/// What identifies a version of a file.
type Stamp = (Option<SystemTime>, u64);

/// Every file under `roots` (a root may be a file), skipping `target/` and
/// hidden entries.
fn scan(roots: &[PathBuf]) -> BTreeMap<PathBuf, Stamp> {
    let mut files = BTreeMap::new();
    let mut todo: Vec<PathBuf> = roots.to_vec();
    while let Some(path) = todo.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') || name == "target" {
                    continue;
                }
                todo.push(entry.path());
            }
        } else {
            files.insert(path, (meta.modified().ok(), meta.len()));
        }
    }
    files
}

/// Files added, removed or modified between two scans.
fn changes(old: &BTreeMap<PathBuf, Stamp>, new: &BTreeMap<PathBuf, Stamp>) -> Vec<PathBuf> {
    let mut changed: Vec<PathBuf> = new
        .iter()
        .filter(|(path, stamp)| old.get(*path) != Some(stamp))
        .map(|(path, _)| path.clone())
        .collect();
    changed.extend(old.keys().filter(|p| !new.contains_key(*p)).cloned());
    changed.sort();
    changed.dedup();
    changed
}

/// The targets a change to `files` rebuilds: those whose directories hold
/// one, and all of them for a file in none (workspace files).
fn affected<'a>(targets: &'a [Target], files: &[PathBuf]) -> Vec<&'a Target> {
    let mut hit = BTreeSet::new();
    for file in files {
        let owners: Vec<usize> = (0..targets.len())
            .filter(|&i| targets[i].dirs.iter().any(|d| file.starts_with(d)))
            .collect();
        if owners.is_empty() {
            return targets.iter().collect();
        }
        hit.extend(owners);
    }
    hit.into_iter().map(|i| &targets[i]).collect()
}

/// The sources of a manifest's components, and their last scan.
pub struct Watch {
    targets: Vec<Target>,
    roots: Vec<PathBuf>,
    seen: BTreeMap<PathBuf, Stamp>,
}

impl Watch {
    pub fn new(manifest: &Path) -> Result<Watch> {
        let text = std::fs::read_to_string(manifest)
            .with_context(|| format!("cannot read {}", manifest.display()))?;
        let packages = build::packages()?;
        let targets = targets(&component_packages(&text, &packages)?, &packages)?;
        if targets.is_empty() {
            bail!(
                "no component of {} is built in this workspace",
                manifest.display()
            );
        }
        let root = util::root();
        let mut roots: BTreeSet<PathBuf> = targets.iter().flat_map(|t| t.dirs.clone()).collect();
        roots.extend(["Cargo.toml", "Cargo.lock", "migrations"].map(|f| root.join(f)));
        let roots: Vec<PathBuf> = roots.into_iter().collect();
        let seen = scan(&roots);
        eprintln!(
            "watching {} files of {} component package(s) ({}); a change rebuilds the component",
            seen.len(),
            targets.len(),
            targets
                .iter()
                .map(|t| t.package.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(Watch {
            targets,
            roots,
            seen,
        })
    }

    /// Checks the sources once; when some changed, waits for the edits to
    /// settle and rebuilds the affected packages. A failed build is
    /// reported (cargo printed why) and the previous `.wasm` stays in place.
    pub fn tick(&mut self) {
        let mut now = scan(&self.roots);
        let mut changed = changes(&self.seen, &now);
        if changed.is_empty() {
            return;
        }
        // An editor or `git checkout` writes several files: take them together.
        for _ in 0..8 {
            std::thread::sleep(Duration::from_millis(100));
            let later = scan(&self.roots);
            if later == now {
                break;
            }
            now = later;
        }
        changed = changes(&self.seen, &now);
        // Edits made during the build are changes against this scan.
        self.seen = now;
        let hit = affected(&self.targets, &changed);
        if hit.is_empty() {
            return;
        }
        let root = util::root();
        let first = changed[0].strip_prefix(&root).unwrap_or(&changed[0]);
        let what = match changed.len() {
            1 => format!("{} changed", first.display()),
            n => format!("{} and {} more changed", first.display(), n - 1),
        };
        let names: Vec<&str> = hit.iter().map(|t| t.package.as_str()).collect();
        let _phase = Phase::new(format!("rebuild {} ({what})", names.join(", ")));
        let mut cmd = util::cargo();
        cmd.args(["build", "--target", WASM_TARGET, "--release"]);
        for name in &names {
            cmd.args(["-p", name]);
        }
        if let Err(e) = util::run(&mut cmd) {
            eprintln!("{e:#}; the app keeps serving the previous build");
        }
    }
}

/// `cargo xtask watch [-f spin.toml]`: rebuild until Ctrl-C.
pub fn cli(args: &[String]) -> Result<()> {
    let manifest = match args {
        [] => util::root().join("spin.toml"),
        [flag, file] if flag == "-f" || flag == "--from" => PathBuf::from(file),
        _ => bail!("usage: cargo xtask watch [-f spin.toml]"),
    };
    crate::sys::catch_interrupts();
    let mut watch = Watch::new(&manifest)?;
    eprintln!("serve it with `devhost --watch -f {}`", manifest.display());
    while !crate::sys::interrupted() {
        watch.tick();
        std::thread::sleep(INTERVAL);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, dir: &str, cdylib: Option<&str>, deps: &[&str]) -> Package {
        Package {
            name: name.into(),
            dir: PathBuf::from(dir),
            cdylib: cdylib.map(String::from),
            path_deps: deps.iter().map(PathBuf::from).collect(),
        }
    }

    fn workspace() -> Vec<Package> {
        vec![
            package("plinth-platform", "/w/crates/platform", None, &[]),
            package("lint", "/w/crates/lint", None, &[]),
            package(
                "plinth-orgs",
                "/w/components/orgs",
                Some("plinth_orgs"),
                &["/w/crates/platform"],
            ),
            package(
                "plinth-migrate",
                "/w/components/migrate",
                Some("plinth_migrate"),
                &["/w/crates/platform", "/w/crates/lint"],
            ),
            package("probe", "/w/tests/probe", Some("plinth_probe"), &[]),
        ]
    }

    #[test]
    fn build_commands_name_the_package() {
        for (command, package) in [
            (
                "cargo build --target wasm32-wasip2 --release -p plinth-orgs",
                Some("plinth-orgs"),
            ),
            ("cargo build --package x --release", Some("x")),
            ("cargo build --package=y", Some("y")),
            ("make", None),
            ("cargo build -p", None),
        ] {
            assert_eq!(package_of_command(command), package, "{command}");
        }
    }

    #[test]
    fn components_map_to_packages_by_command_or_source() {
        let manifest = r#"
[component.orgs]
source = "target/wasm32-wasip2/release/plinth_orgs.wasm"
[component.orgs.build]
command = "cargo build --target wasm32-wasip2 --release -p plinth-orgs"

[component.probe]
source = "../../target/wasm32-wasip2/release/plinth_probe.wasm"
[component.exact]
source = "../../target/wasm32-wasip2/release/plinth_probe.wasm"
[component.elsewhere]
source = "other.wasm"
"#;
        let packages = workspace();
        let mapped = component_packages(manifest, &packages).unwrap();
        assert_eq!(
            mapped,
            [
                ("elsewhere", None),
                ("exact", Some("probe")),
                ("orgs", Some("plinth-orgs")),
                ("probe", Some("probe")),
            ]
            .iter()
            .filter_map(|(id, p)| p.map(|p| (id.to_string(), p.to_string())))
            .collect::<Vec<_>>()
        );
        let targets = targets(&mapped, &packages).unwrap();
        assert_eq!(targets.len(), 2, "one build per package: {targets:?}");
        let probe = targets.iter().find(|t| t.package == "probe").unwrap();
        assert_eq!(probe.components, ["exact", "probe"]);
    }

    #[test]
    fn a_change_rebuilds_the_packages_built_from_it() {
        let packages = workspace();
        let mapped = vec![
            ("orgs".to_string(), "plinth-orgs".to_string()),
            ("migrate".to_string(), "plinth-migrate".to_string()),
        ];
        let targets = targets(&mapped, &packages).unwrap();
        let names = |files: &[&str]| -> Vec<String> {
            let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
            affected(&targets, &files)
                .iter()
                .map(|t| t.package.clone())
                .collect()
        };
        assert_eq!(names(&["/w/components/orgs/src/lib.rs"]), ["plinth-orgs"]);
        assert_eq!(names(&["/w/crates/lint/src/split.rs"]), ["plinth-migrate"]);
        let all = ["plinth-migrate", "plinth-orgs"];
        assert_eq!(names(&["/w/crates/platform/src/log.rs"]), all);
        assert_eq!(names(&["/w/migrations/0001_init.up.sql"]), all);
        assert_eq!(names(&["/w/Cargo.lock"]), all);
    }

    #[test]
    fn scans_see_edits_additions_and_removals() {
        let dir = std::env::temp_dir().join(format!("xtask-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("target")).unwrap();
        std::fs::write(dir.join("src/lib.rs"), "a").unwrap();
        std::fs::write(dir.join("target/out.wasm"), "x").unwrap();
        std::fs::write(dir.join(".hidden"), "x").unwrap();
        let roots = vec![dir.clone()];
        let first = scan(&roots);
        assert_eq!(first.keys().collect::<Vec<_>>(), [&dir.join("src/lib.rs")]);
        std::fs::write(dir.join("src/lib.rs"), "ab").unwrap();
        std::fs::write(dir.join("src/new.rs"), "n").unwrap();
        std::fs::write(dir.join("target/out.wasm"), "xy").unwrap();
        let second = scan(&roots);
        assert_eq!(
            changes(&first, &second),
            [dir.join("src/lib.rs"), dir.join("src/new.rs")]
        );
        std::fs::remove_file(dir.join("src/new.rs")).unwrap();
        assert_eq!(changes(&second, &scan(&roots)), [dir.join("src/new.rs")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
