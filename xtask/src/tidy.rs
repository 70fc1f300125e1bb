//! Repository conventions, checked by `cargo test --release -p xtask`:
//! every Rust file opens with a `//!` doc line; components reach Postgres
//! only through crates/platform; no `todo!`/`unimplemented!` in shipped
//! code; component `lib.rs` files stay short.

use crate::util;
use std::path::{Path, PathBuf};

const COMPONENT_LIB_MAX_LINES: usize = 150;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                out.extend(rust_files(&path));
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn files_under(dirs: &[&str]) -> Vec<(PathBuf, String)> {
    let root = util::root();
    dirs.iter()
        .flat_map(|d| rust_files(&root.join(d)))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            (p.strip_prefix(&root).unwrap_or(&p).to_path_buf(), text)
        })
        .collect()
}

fn report(problems: Vec<String>, what: &str) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let problems = files_under(&["crates", "components", "tests", "xtask"])
        .into_iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(p, _)| p.display().to_string())
        .collect();
    report(problems, "files without a leading `//!` module doc");
}

#[test]
fn components_use_postgres_only_through_the_platform_crate() {
    let forbidden = ["spin_sdk::pg4", "pg4::", "spin_sdk::pg"];
    let mut problems = Vec::new();
    for (path, text) in files_under(&["components"]) {
        for (n, line) in text.lines().enumerate() {
            if let Some(f) = forbidden.iter().find(|f| line.contains(*f)) {
                problems.push(format!(
                    "{}:{}: `{f}` (use plinth_platform)",
                    path.display(),
                    n + 1
                ));
            }
        }
    }
    report(problems, "components calling the Postgres API directly");
}

#[test]
fn no_placeholders_in_shipped_code() {
    let forbidden = [concat!("todo", "!("), concat!("unimplemented", "!(")];
    let mut problems = Vec::new();
    for (path, text) in files_under(&["crates", "components", "xtask"]) {
        for (n, line) in text.lines().enumerate() {
            if let Some(f) = forbidden.iter().find(|f| line.contains(*f)) {
                problems.push(format!("{}:{}: `{f}`", path.display(), n + 1));
            }
        }
    }
    report(problems, "placeholder macros in shipped code");
}

#[test]
fn component_libs_stay_short() {
    let root = util::root();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(root.join("components"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let lib = entry.path().join("src/lib.rs");
        if let Ok(text) = std::fs::read_to_string(&lib) {
            let lines = text.lines().count();
            if lines > COMPONENT_LIB_MAX_LINES {
                problems.push(format!(
                    "{}: {lines} lines (limit {COMPONENT_LIB_MAX_LINES}; move handlers into modules)",
                    lib.strip_prefix(&root).unwrap_or(&lib).display()
                ));
            }
        }
    }
    report(problems, "component lib.rs files over the size limit");
}
