//! `--runtime-config-file`: Spin's runtime configuration, accepted so the
//! same command line works for `spin up` and devhost.
//!
//! devhost implements none of its sections (key-value stores, SQLite,
//! variable providers, LLM, TLS for outbound connections …): it checks the
//! file is valid TOML and logs a note for each section it ignores.

use std::path::Path;

/// Reads the file and returns the names of the sections that are ignored.
pub fn load(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read runtime config: {e}", path.display()))?;
    let ignored = ignored_sections(&text)
        .map_err(|e| format!("{}: invalid runtime config: {e}", path.display()))?;
    for section in &ignored {
        tracing::info!(
            "runtime config {}: section `{section}` is not implemented by devhost; ignored",
            path.display()
        );
    }
    Ok(ignored)
}

fn ignored_sections(text: &str) -> Result<Vec<String>, toml::de::Error> {
    let table: toml::Table = toml::from_str(text)?;
    Ok(table.keys().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_sections_are_accepted_and_listed() {
        let text = r#"
[key_value_store.default]
type = "redis"
url = "redis://localhost"

[[config_provider]]
type = "vault"
url = "http://localhost:8200"

[sqlite_database.default]
type = "libsql"
"#;
        let mut got = ignored_sections(text).unwrap();
        got.sort();
        assert_eq!(
            got,
            ["config_provider", "key_value_store", "sqlite_database"]
        );
        assert!(ignored_sections("[broken").is_err());
    }
}
