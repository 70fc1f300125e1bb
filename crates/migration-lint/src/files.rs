//! Finding the migration files of a directory: `NNNN_name.up.sql` / `NNNN_name.down.sql`.
//!
//! Both the build scripts that embed migrations and the lint read a directory
//! through [`read_dir`], so both agree on what a migration set is.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One migration read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    /// Four digits, e.g. `"0001"`.
    pub revision: String,
    /// The part after the revision, e.g. `"create_org"`.
    pub name: String,
    pub up_path: PathBuf,
    pub down_path: PathBuf,
    pub up_sql: String,
    pub down_sql: String,
}

impl MigrationFile {
    /// sha256 (hex) of the up file's bytes followed by the down file's bytes.
    pub fn checksum(&self) -> String {
        checksum(&self.up_sql, &self.down_sql)
    }
}

/// sha256 (hex) of `up` followed by `down`, as recorded in `schema_migrations.checksum`.
pub fn checksum(up: &str, down: &str) -> String {
    let mut h = Sha256::new();
    h.update(up.as_bytes());
    h.update(down.as_bytes());
    hex::encode(h.finalize())
}

/// Why a directory is not a valid migration set.
#[derive(Debug)]
pub enum FilesError {
    Io(PathBuf, std::io::Error),
    /// A `.sql` file whose name is not `NNNN_name.up.sql` / `NNNN_name.down.sql`.
    BadName(String),
    /// One half of a pair is missing: (revision_name, the missing file name).
    MissingHalf(String, String),
    /// Two different names share one revision number.
    DuplicateRevision(String, String, String),
}

impl fmt::Display for FilesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Self::BadName(n) => write!(
                f,
                "{n}: migration files are named NNNN_name.up.sql / NNNN_name.down.sql \
                 (four digits, name in [a-z0-9_])"
            ),
            Self::MissingHalf(m, missing) => write!(f, "migration {m}: {missing} is missing"),
            Self::DuplicateRevision(r, a, b) => {
                write!(f, "revision {r} is used by both {a} and {b}")
            }
        }
    }
}

impl std::error::Error for FilesError {}

/// Splits a file name into (revision, name, is_up); `None` if it is not a migration name.
pub fn parse_file_name(file: &str) -> Option<(&str, &str, bool)> {
    let (stem, up) = if let Some(s) = file.strip_suffix(".up.sql") {
        (s, true)
    } else {
        (file.strip_suffix(".down.sql")?, false)
    };
    let (rev, name) = stem.split_once('_')?;
    let rev_ok = rev.len() == 4 && rev.bytes().all(|b| b.is_ascii_digit());
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    (rev_ok && name_ok).then_some((rev, name, up))
}

/// Reads every migration pair of `dir`, sorted by revision. Files not ending in `.sql`
/// (README.md, …) are ignored; a `.sql` file with another name is an error.
pub fn read_dir(dir: &Path) -> Result<Vec<MigrationFile>, FilesError> {
    let io = |e| FilesError::Io(dir.to_path_buf(), e);
    // revision -> (name, up, down)
    let mut pairs: BTreeMap<String, (String, Option<PathBuf>, Option<PathBuf>)> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if !file.ends_with(".sql") {
            continue;
        }
        let (rev, name, up) =
            parse_file_name(file).ok_or_else(|| FilesError::BadName(file.to_owned()))?;
        let slot = pairs
            .entry(rev.to_owned())
            .or_insert_with(|| (name.to_owned(), None, None));
        if slot.0 != name {
            let (a, b) = (format!("{rev}_{}", slot.0), format!("{rev}_{name}"));
            return Err(FilesError::DuplicateRevision(rev.to_owned(), a, b));
        }
        if up {
            slot.1 = Some(path);
        } else {
            slot.2 = Some(path);
        }
    }
    let mut out = Vec::with_capacity(pairs.len());
    for (revision, (name, up, down)) in pairs {
        let full = format!("{revision}_{name}");
        let up_path =
            up.ok_or_else(|| FilesError::MissingHalf(full.clone(), format!("{full}.up.sql")))?;
        let down_path =
            down.ok_or_else(|| FilesError::MissingHalf(full.clone(), format!("{full}.down.sql")))?;
        let read =
            |p: &Path| std::fs::read_to_string(p).map_err(|e| FilesError::Io(p.to_path_buf(), e));
        out.push(MigrationFile {
            up_sql: read(&up_path)?,
            down_sql: read(&down_path)?,
            revision,
            name,
            up_path,
            down_path,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(
            parse_file_name("0001_create_org.up.sql"),
            Some(("0001", "create_org", true))
        );
        assert_eq!(
            parse_file_name("0012_a2.down.sql"),
            Some(("0012", "a2", false))
        );
        for bad in [
            "001_x.up.sql",
            "00001_x.up.sql",
            "0001-x.up.sql",
            "0001_.up.sql",
            "0001_X.up.sql",
            "0001_x.sql",
            "0001_x.up.SQL",
            "abcd_x.up.sql",
            "0001_x-y.down.sql",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    fn scratch(files: &[(&str, &str)]) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "plinth-migration-files-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, body) in files {
            std::fs::write(dir.join(name), body).unwrap();
        }
        dir
    }

    #[test]
    fn reads_sorted_pairs_and_ignores_other_files() {
        let dir = scratch(&[
            ("0002_b.up.sql", "B"),
            ("0002_b.down.sql", "b"),
            ("0001_a.up.sql", "A"),
            ("0001_a.down.sql", "a"),
            ("README.md", "notes"),
        ]);
        let got = read_dir(&dir).unwrap();
        let revs: Vec<_> = got
            .iter()
            .map(|m| (m.revision.as_str(), m.name.as_str()))
            .collect();
        assert_eq!(revs, [("0001", "a"), ("0002", "b")]);
        assert_eq!(got[0].checksum(), checksum("A", "a"));
        assert_ne!(checksum("A", "a"), checksum("a", "A"));
    }

    #[test]
    fn rejects_bad_sets() {
        let missing = scratch(&[("0001_a.up.sql", "A")]);
        let e = read_dir(&missing).unwrap_err().to_string();
        assert!(e.contains("0001_a.down.sql is missing"), "{e}");

        let bad = scratch(&[("1_a.up.sql", "A")]);
        assert!(matches!(read_dir(&bad), Err(FilesError::BadName(_))));

        let dup = scratch(&[
            ("0001_a.up.sql", ""),
            ("0001_a.down.sql", ""),
            ("0001_b.up.sql", ""),
        ]);
        assert!(matches!(
            read_dir(&dup),
            Err(FilesError::DuplicateRevision(..))
        ));
    }
}
