//! Pure migration planning: status (`current`, `history`, pending, drift) and
//! the ordered steps of an upgrade or downgrade, from the embedded migrations
//! and the rows of `schema_migrations`.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// One embedded migration. Built by `plinth_migration_lint::build::embed_migrations`
/// in a component's `build.rs`; never written by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Four digits, e.g. `"0001"`; the embedded list is sorted by it.
    pub revision: &'static str,
    /// The file name's part after the revision, e.g. `"create_org"`.
    pub name: &'static str,
    /// The `.up.sql` file split into statements (one `execute` each).
    pub up: &'static [&'static str],
    /// The `.down.sql` file split into statements.
    pub down: &'static [&'static str],
    /// sha256 hex of the `.up.sql` file followed by the `.down.sql` file.
    pub checksum: &'static str,
}

/// A row of `schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub revision: String,
    pub name: String,
    pub checksum: String,
    /// RFC 3339 text, as Postgres renders a timestamptz in JSON.
    pub applied_at: String,
    #[serde(default)]
    pub execution_ms: i64,
}

/// A migration not applied yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    pub revision: &'static str,
    pub name: &'static str,
    pub checksum: &'static str,
}

/// How an applied revision differs from the embedded files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// The files changed after they were applied.
    ChecksumMismatch,
    /// Applied, but this build has no such revision.
    MissingFile,
}

/// One applied revision that does not match the embedded files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub revision: String,
    /// The name recorded when it was applied.
    pub name: String,
    pub kind: DriftKind,
    /// The checksum recorded in `schema_migrations`.
    pub applied_checksum: String,
    /// The checksum of the embedded files (`null` for a missing file).
    pub file_checksum: Option<&'static str>,
    pub detail: String,
}

/// `GET /admin/migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The newest applied revision (`null`: nothing applied).
    pub current: Option<String>,
    /// The newest embedded revision (`null`: no migrations embedded).
    pub head: Option<&'static str>,
    pub applied: Vec<Applied>,
    pub pending: Vec<Pending>,
    pub drift: Vec<Drift>,
}

/// The direction of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

/// One step of a plan: run `migration` in `direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub migration: &'static Migration,
    pub direction: Direction,
}

/// Where an upgrade goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeTarget {
    Head,
    Revision(String),
}

/// Where a downgrade goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DowngradeTarget {
    /// Revert the newest `n` applied revisions.
    Steps(u32),
    /// Revert everything newer than this (applied) revision.
    Revision(String),
    /// Revert everything.
    Base,
}

/// True for four ASCII digits.
pub fn is_revision(s: &str) -> bool {
    s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit())
}

impl UpgradeTarget {
    /// `"head"` or a four-digit revision; anything else is a 400 on `target`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "head" => Ok(Self::Head),
            rev if is_revision(rev) => Ok(Self::Revision(rev.to_owned())),
            _ => Err(Error::field(
                "target",
                "must be \"head\" or a four-digit revision such as \"0001\"",
            )),
        }
    }
}

impl DowngradeTarget {
    /// Exactly one of `steps` (≥ 1) and `target` (`"base"` or a revision).
    pub fn parse(steps: Option<u32>, target: Option<&str>) -> Result<Self, Error> {
        match (steps, target) {
            (Some(_), Some(_)) => Err(Error::BadRequest(
                "give either `steps` or `target`, not both".into(),
            )),
            (None, None) => Err(Error::BadRequest(
                "give `steps` (e.g. {\"steps\": 1}) or `target` (\"base\" or a revision)".into(),
            )),
            (Some(0), None) => Err(Error::field("steps", "must be at least 1")),
            (Some(n), None) => Ok(Self::Steps(n)),
            (None, Some("base")) => Ok(Self::Base),
            (None, Some(rev)) if is_revision(rev) => Ok(Self::Revision(rev.to_owned())),
            (None, Some(_)) => Err(Error::field(
                "target",
                "must be \"base\" or a four-digit revision such as \"0001\"",
            )),
        }
    }
}

fn find(migrations: &'static [Migration], revision: &str) -> Option<&'static Migration> {
    migrations.iter().find(|m| m.revision == revision)
}

fn unknown_revision(migrations: &[Migration], revision: &str) -> Error {
    let known = match (migrations.first(), migrations.last()) {
        (Some(a), Some(b)) if a.revision != b.revision => {
            format!("{} to {}", a.revision, b.revision)
        }
        (Some(a), _) => a.revision.to_owned(),
        _ => "none".to_owned(),
    };
    Error::field(
        "target",
        format!("no migration has revision {revision} (embedded: {known})"),
    )
}

/// Status of the database against the embedded migrations. `applied` need not be sorted.
pub fn status(migrations: &'static [Migration], mut applied: Vec<Applied>) -> Status {
    applied.sort_by(|a, b| a.revision.cmp(&b.revision));
    let drift = applied
        .iter()
        .filter_map(|row| match find(migrations, &row.revision) {
            None => Some(Drift {
                revision: row.revision.clone(),
                name: row.name.clone(),
                kind: DriftKind::MissingFile,
                applied_checksum: row.checksum.clone(),
                file_checksum: None,
                detail: format!(
                    "{}_{} is applied but this build has no such migration",
                    row.revision, row.name
                ),
            }),
            Some(m) if m.checksum != row.checksum => Some(Drift {
                revision: row.revision.clone(),
                name: row.name.clone(),
                kind: DriftKind::ChecksumMismatch,
                applied_checksum: row.checksum.clone(),
                file_checksum: Some(m.checksum),
                detail: format!(
                    "{}_{} changed since it was applied: checksum {} in the database, {} in the files{}",
                    row.revision,
                    row.name,
                    short(&row.checksum),
                    short(m.checksum),
                    if m.name == row.name {
                        String::new()
                    } else {
                        format!(" (and the name is now {})", m.name)
                    }
                ),
            }),
            Some(_) => None,
        })
        .collect();
    let pending = migrations
        .iter()
        .filter(|m| !applied.iter().any(|a| a.revision == m.revision))
        .map(|m| Pending {
            revision: m.revision,
            name: m.name,
            checksum: m.checksum,
        })
        .collect();
    Status {
        current: applied.last().map(|a| a.revision.clone()),
        head: migrations.last().map(|m| m.revision),
        applied,
        pending,
        drift,
    }
}

fn short(checksum: &str) -> &str {
    &checksum[..checksum.len().min(12)]
}

/// Refuses to plan anything while there is drift: 409 listing what differs.
pub fn check_drift(status: &Status) -> Result<(), Error> {
    if status.drift.is_empty() {
        return Ok(());
    }
    let what: Vec<&str> = status.drift.iter().map(|d| d.detail.as_str()).collect();
    Err(Error::conflict(
        None,
        format!(
            "schema drift, nothing was run: {}. Restore the original files or repair schema_migrations",
            what.join("; ")
        ),
    ))
}

/// The steps of an upgrade: every pending migration up to the target, oldest first.
pub fn plan_upgrade(
    migrations: &'static [Migration],
    status: &Status,
    target: &UpgradeTarget,
) -> Result<Vec<Step>, Error> {
    check_drift(status)?;
    let limit = match target {
        UpgradeTarget::Head => match migrations.last() {
            Some(m) => m.revision,
            None => return Ok(Vec::new()),
        },
        UpgradeTarget::Revision(rev) => {
            find(migrations, rev)
                .ok_or_else(|| unknown_revision(migrations, rev))?
                .revision
        }
    };
    Ok(status
        .pending
        .iter()
        .filter(|p| p.revision <= limit)
        .filter_map(|p| find(migrations, p.revision))
        .map(|migration| Step {
            migration,
            direction: Direction::Up,
        })
        .collect())
}

/// The steps of a downgrade: applied migrations to revert, newest first.
pub fn plan_downgrade(
    migrations: &'static [Migration],
    status: &Status,
    target: &DowngradeTarget,
) -> Result<Vec<Step>, Error> {
    check_drift(status)?;
    let applied: Vec<&str> = status.applied.iter().map(|a| a.revision.as_str()).collect();
    let revert: Vec<&str> = match target {
        DowngradeTarget::Base => applied.clone(),
        DowngradeTarget::Steps(n) => {
            let n = *n as usize;
            if n > applied.len() {
                return Err(Error::field(
                    "steps",
                    format!(
                        "only {} migration(s) are applied, cannot revert {n}",
                        applied.len()
                    ),
                ));
            }
            applied[applied.len() - n..].to_vec()
        }
        DowngradeTarget::Revision(rev) => {
            if find(migrations, rev).is_none() {
                return Err(unknown_revision(migrations, rev));
            }
            if !applied.contains(&rev.as_str()) {
                return Err(Error::field(
                    "target",
                    format!(
                        "revision {rev} is not applied (current: {})",
                        status.current.as_deref().unwrap_or("none")
                    ),
                ));
            }
            applied
                .iter()
                .copied()
                .filter(|a| *a > rev.as_str())
                .collect()
        }
    };
    // No drift means every applied revision has its file.
    Ok(revert
        .iter()
        .rev()
        .filter_map(|rev| find(migrations, rev))
        .map(|migration| Step {
            migration,
            direction: Direction::Down,
        })
        .collect())
}

/// The newest applied revision after `done` steps of a plan ran on top of `status`.
pub fn revision_after(status: &Status, done: &[Step]) -> Option<String> {
    let mut revs: Vec<&str> = status.applied.iter().map(|a| a.revision.as_str()).collect();
    for step in done {
        match step.direction {
            Direction::Up => revs.push(step.migration.revision),
            Direction::Down => revs.retain(|r| *r != step.migration.revision),
        }
    }
    revs.into_iter().max().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn m(revision: &'static str, name: &'static str, checksum: &'static str) -> Migration {
        Migration {
            revision,
            name,
            up: &[],
            down: &[],
            checksum,
        }
    }

    static SET: &[Migration] = &[
        m("0001", "create_org", "c1"),
        m("0002", "users", "c2"),
        m("0003", "companies", "c3"),
    ];

    fn row(revision: &str, checksum: &str) -> Applied {
        Applied {
            revision: revision.into(),
            name: SET
                .iter()
                .find(|m| m.revision == revision)
                .map_or("gone", |m| m.name)
                .into(),
            checksum: checksum.into(),
            applied_at: "2026-11-27T07:08:24.630285+00:00".into(),
            execution_ms: 3,
        }
    }

    fn revs(steps: &[Step]) -> Vec<(&str, Direction)> {
        steps
            .iter()
            .map(|s| (s.migration.revision, s.direction))
            .collect()
    }

    fn field_of(err: Error) -> String {
        match err {
            Error::Validation(errors) => errors[0].field.clone(),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn status_of_an_empty_database() {
        let s = status(SET, vec![]);
        assert_eq!(s.current, None);
        assert_eq!(s.head, Some("0003"));
        assert_eq!(s.pending.len(), 3);
        assert!(s.drift.is_empty());
        assert_eq!(status(&[], vec![]).head, None);
    }

    #[test]
    fn status_sorts_history_and_lists_pending() {
        let s = status(SET, vec![row("0002", "c2"), row("0001", "c1")]);
        assert_eq!(s.current.as_deref(), Some("0002"));
        assert_eq!(s.applied[0].revision, "0001");
        assert_eq!(
            s.pending.iter().map(|p| p.revision).collect::<Vec<_>>(),
            ["0003"]
        );
    }

    #[test]
    fn drift_reports_changed_and_missing_files() {
        let s = status(SET, vec![row("0001", "other"), row("0009", "c9")]);
        assert_eq!(s.drift.len(), 2);
        assert_eq!(s.drift[0].kind, DriftKind::ChecksumMismatch);
        assert_eq!(s.drift[0].file_checksum, Some("c1"));
        assert!(
            s.drift[0].detail.contains("0001_create_org changed"),
            "{}",
            s.drift[0].detail
        );
        assert_eq!(s.drift[1].kind, DriftKind::MissingFile);
        assert!(
            s.drift[1].detail.contains("0009_gone"),
            "{}",
            s.drift[1].detail
        );
        for result in [
            plan_upgrade(SET, &s, &UpgradeTarget::Head),
            plan_downgrade(SET, &s, &DowngradeTarget::Base),
        ] {
            match result {
                Err(Error::Conflict { detail, .. }) => {
                    assert!(
                        detail.contains("0001") && detail.contains("0009"),
                        "{detail}"
                    )
                }
                other => panic!("expected 409, got {other:?}"),
            }
        }
    }

    #[test]
    fn upgrade_plans() {
        let empty = status(SET, vec![]);
        let head = plan_upgrade(SET, &empty, &UpgradeTarget::Head).unwrap();
        assert_eq!(
            revs(&head),
            [
                ("0001", Direction::Up),
                ("0002", Direction::Up),
                ("0003", Direction::Up)
            ]
        );
        let to2 = plan_upgrade(SET, &empty, &UpgradeTarget::Revision("0002".into())).unwrap();
        assert_eq!(
            revs(&to2),
            [("0001", Direction::Up), ("0002", Direction::Up)]
        );

        let at_head = status(
            SET,
            vec![row("0001", "c1"), row("0002", "c2"), row("0003", "c3")],
        );
        assert!(
            plan_upgrade(SET, &at_head, &UpgradeTarget::Head)
                .unwrap()
                .is_empty()
        );
        // an older target than current is a no-op, not a downgrade
        assert!(
            plan_upgrade(SET, &at_head, &UpgradeTarget::Revision("0001".into()))
                .unwrap()
                .is_empty()
        );

        // a gap (0002 missing below current) is filled
        let gap = status(SET, vec![row("0001", "c1"), row("0003", "c3")]);
        assert_eq!(
            revs(&plan_upgrade(SET, &gap, &UpgradeTarget::Head).unwrap()),
            [("0002", Direction::Up)]
        );

        let err = plan_upgrade(SET, &empty, &UpgradeTarget::Revision("0042".into())).unwrap_err();
        assert_eq!(field_of(err), "target");
        assert!(
            plan_upgrade(&[], &status(&[], vec![]), &UpgradeTarget::Head)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn downgrade_plans() {
        let s = status(
            SET,
            vec![row("0001", "c1"), row("0002", "c2"), row("0003", "c3")],
        );
        let one = plan_downgrade(SET, &s, &DowngradeTarget::Steps(1)).unwrap();
        assert_eq!(revs(&one), [("0003", Direction::Down)]);
        let to1 = plan_downgrade(SET, &s, &DowngradeTarget::Revision("0001".into())).unwrap();
        assert_eq!(
            revs(&to1),
            [("0003", Direction::Down), ("0002", Direction::Down)]
        );
        let base = plan_downgrade(SET, &s, &DowngradeTarget::Base).unwrap();
        assert_eq!(base.len(), 3);
        assert_eq!(base[2].migration.revision, "0001");
        assert!(
            plan_downgrade(SET, &s, &DowngradeTarget::Revision("0003".into()))
                .unwrap()
                .is_empty()
        );

        assert_eq!(
            field_of(plan_downgrade(SET, &s, &DowngradeTarget::Steps(4)).unwrap_err()),
            "steps"
        );
        assert_eq!(
            field_of(
                plan_downgrade(SET, &s, &DowngradeTarget::Revision("0042".into())).unwrap_err()
            ),
            "target"
        );
        let partial = status(SET, vec![row("0001", "c1")]);
        let err =
            plan_downgrade(SET, &partial, &DowngradeTarget::Revision("0002".into())).unwrap_err();
        assert_eq!(field_of(err), "target");
        assert!(
            plan_downgrade(SET, &status(SET, vec![]), &DowngradeTarget::Base)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn targets_parse() {
        assert_eq!(UpgradeTarget::parse("head").unwrap(), UpgradeTarget::Head);
        assert_eq!(
            UpgradeTarget::parse("0007").unwrap(),
            UpgradeTarget::Revision("0007".into())
        );
        for bad in ["", "HEAD", "7", "00007", "base", "-1", "000a"] {
            assert_eq!(
                field_of(UpgradeTarget::parse(bad).unwrap_err()),
                "target",
                "{bad:?}"
            );
        }
        assert_eq!(
            DowngradeTarget::parse(Some(2), None).unwrap(),
            DowngradeTarget::Steps(2)
        );
        assert_eq!(
            DowngradeTarget::parse(None, Some("base")).unwrap(),
            DowngradeTarget::Base
        );
        assert_eq!(
            DowngradeTarget::parse(None, Some("0001")).unwrap(),
            DowngradeTarget::Revision("0001".into())
        );
        assert_eq!(
            field_of(DowngradeTarget::parse(Some(0), None).unwrap_err()),
            "steps"
        );
        assert_eq!(
            field_of(DowngradeTarget::parse(None, Some("head")).unwrap_err()),
            "target"
        );
        assert!(matches!(
            DowngradeTarget::parse(None, None),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            DowngradeTarget::parse(Some(1), Some("base")),
            Err(Error::BadRequest(_))
        ));
    }

    #[test]
    fn revision_after_steps() {
        let s = status(SET, vec![row("0001", "c1")]);
        let up = plan_upgrade(SET, &s, &UpgradeTarget::Head).unwrap();
        assert_eq!(revision_after(&s, &up[..1]).as_deref(), Some("0002"));
        assert_eq!(revision_after(&s, &[]).as_deref(), Some("0001"));
        let down = plan_downgrade(SET, &s, &DowngradeTarget::Base).unwrap();
        assert_eq!(revision_after(&s, &down), None);
    }
}
