//! Embedding a migration directory into a component at build time.
//!
//! A component's `build.rs` calls [`embed_migrations`]; it writes two files into
//! `OUT_DIR` that the component `include!`s:
//!
//! - `migrations.rs`: an expression of type `&[plinth_platform::migrate::Migration]`,
//!   one entry per pair, sorted by revision, its statements already split (see
//!   [`crate::split`]) and its checksum computed (the file text itself is not kept:
//!   nothing reads it at run time);
//! - `migrations_head.rs`: an expression of type `Option<&str>`, the newest revision
//!   (what the health check compares the database against).
//!
//! ```text
//! // build.rs
//! fn main() { plinth_migration_lint::build::embed_migrations("../../migrations"); }
//! // src/lib.rs
//! static MIGRATIONS: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
//! ```

use std::fmt::Write as _;
use std::path::Path;

use crate::files::{MigrationFile, read_dir};
use crate::split::split_statements;

/// Statements the engine issues itself around every step; a file must not contain them.
const TRANSACTION_CONTROL: &[&str] = &["BEGIN", "COMMIT", "ROLLBACK", "START", "END", "ABORT"];

/// The generated sources: (`migrations.rs`, `migrations_head.rs`).
pub fn generate(dir: &Path) -> Result<(String, String), String> {
    let files = read_dir(dir).map_err(|e| e.to_string())?;
    let mut list = String::from("&[\n");
    for m in &files {
        write_entry(&mut list, m)?;
    }
    list.push(']');
    let head = match files.last() {
        Some(m) => format!("Some({:?})", m.revision),
        None => "None".to_owned(),
    };
    Ok((list, head))
}

fn write_entry(out: &mut String, m: &MigrationFile) -> Result<(), String> {
    let up = statements(m, true)?;
    let down = statements(m, false)?;
    let _ = writeln!(
        out,
        "    plinth_platform::migrate::Migration {{\n        revision: {:?},\n        name: {:?},\n        \
         up: &{:?},\n        down: &{:?},\n        checksum: {:?},\n    }},",
        m.revision,
        m.name,
        up,
        down,
        m.checksum(),
    );
    Ok(())
}

fn statements(m: &MigrationFile, up: bool) -> Result<Vec<String>, String> {
    let (sql, path) = if up {
        (&m.up_sql, &m.up_path)
    } else {
        (&m.down_sql, &m.down_path)
    };
    let stmts = split_statements(sql).map_err(|e| format!("{}: {e}", path.display()))?;
    for s in &stmts {
        let first = first_word(s).to_ascii_uppercase();
        if TRANSACTION_CONTROL.contains(&first.as_str()) {
            return Err(format!(
                "{}: `{first}`: each migration already runs in its own transaction; \
                 remove transaction control statements",
                path.display()
            ));
        }
    }
    Ok(stmts)
}

/// The first keyword of a statement, after leading comments.
fn first_word(stmt: &str) -> &str {
    let mut s = stmt.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    let end = s
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(s.len());
    &s[..end]
}

/// For a `build.rs`: embeds `dir` (relative to the package) into `OUT_DIR` and asks
/// cargo to re-run when the directory or any file in it changes. Panics with the
/// reason (bad file name, missing half, unterminated string, …) so the build fails.
pub fn embed_migrations(dir: impl AsRef<Path>) {
    let dir = dir.as_ref();
    println!("cargo:rerun-if-changed={}", dir.display());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            println!("cargo:rerun-if-changed={}", e.path().display());
        }
    }
    let (list, head) =
        generate(dir).unwrap_or_else(|e| panic!("migrations in {}: {e}", dir.display()));
    let out =
        std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    std::fs::write(out.join("migrations.rs"), list).expect("write migrations.rs");
    std::fs::write(out.join("migrations_head.rs"), head).expect("write migrations_head.rs");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_word_skips_comments() {
        assert_eq!(first_word("-- c\n/* d */ begin;"), "begin");
        assert_eq!(first_word("CREATE TABLE x ()"), "CREATE");
    }

    #[test]
    fn generates_the_real_migrations() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let (list, head) = generate(&dir).unwrap();
        assert!(list.contains("revision: \"0001\""), "{list}");
        assert!(
            list.contains("CREATE TABLE org"),
            "the statements themselves"
        );
        assert!(
            !list.contains("include_str!("),
            "and not the files a second time"
        );
        assert!(head.starts_with("Some(\""), "{head}");
    }

    #[test]
    fn refuses_transaction_control() {
        let dir = std::env::temp_dir().join(format!("plinth-build-tx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("0001_a.up.sql"),
            "BEGIN; CREATE TABLE t (); COMMIT;",
        )
        .unwrap();
        std::fs::write(dir.join("0001_a.down.sql"), "DROP TABLE t;").unwrap();
        let e = generate(&dir).unwrap_err();
        assert!(e.contains("own transaction"), "{e}");
    }
}
