//! `cargo xtask lint-migrations`: the tenant-convention lint of
//! `plinth_migration_lint` over migrations/; non-zero exit on findings.

use crate::util;
use anyhow::{Result, bail};

pub fn cli(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask lint-migrations");
    }
    let dir = util::root().join("migrations");
    let findings = plinth_migration_lint::lint_dir(&dir);
    for f in &findings {
        println!("{f}");
    }
    if !findings.is_empty() {
        bail!("{} finding(s) in {}", findings.len(), dir.display());
    }
    println!("migrations: no findings in {}", dir.display());
    Ok(())
}
