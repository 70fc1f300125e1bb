//! Running a plan against Postgres, through [`Db`] only.
//!
//! Every statement goes through `execute` (Spin 4.0.0–4.0.2 hang on a
//! zero-row `query`), every read returns one row. An upgrade or downgrade:
//!
//! 1. takes the session advisory lock `LOCK_KEY`, polling
//!    `pg_try_advisory_lock` for up to [`LOCK_WAIT`] (then 409), so
//!    concurrent runs serialize and none waits forever behind a lock left on
//!    an idle pooled connection;
//! 2. `CREATE TABLE IF NOT EXISTS schema_migrations …` (and `GRANT SELECT` to
//!    the app role, for the health check);
//! 3. reads the applied rows **after** taking the lock, so a second concurrent
//!    upgrade finds nothing left to do;
//! 4. plans (drift → 409, bad target → 400) and runs each step in its own
//!    transaction: `BEGIN`, the step's statements one `execute` each, the
//!    `schema_migrations` insert/delete, `COMMIT`. A failing statement →
//!    `ROLLBACK` and stop: the database stays at the previous step's revision,
//!    and the outcome carries Postgres's SQLSTATE and message;
//! 5. `SELECT pg_advisory_unlock(LOCK_KEY)`, also after an error.
//!
//! [`Db`] maps failures to the API [`Error`] (which hides database messages),
//! while a failed migration must report what Postgres said: the runner reads
//! the raw [`PgFailure`] the `Db` kept.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::plan::{
    self, Applied, Direction, DowngradeTarget, Migration, Status, Step, UpgradeTarget,
};
use crate::error::Error;
use crate::log;
use crate::pg::{Db, Param, PgFailure};

/// Key of the session advisory lock held while migrating ("plinthmg").
pub const LOCK_KEY: i64 = 0x706c_696e_7468_6d67;

/// One row when the lock was taken.
const TRY_LOCK: &str = "SELECT 1 WHERE pg_try_advisory_lock($1)";
/// How long a run waits for another one to finish.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);
const LOCK_POLL: Duration = Duration::from_millis(25);
const UNLOCK: &str = "SELECT pg_advisory_unlock($1)";

/// The bookkeeping table. `execution_ms` is how long the step's statements took.
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    revision text PRIMARY KEY CHECK (revision ~ '^[0-9]{4}$'),
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    execution_ms bigint NOT NULL DEFAULT 0
)";

/// The health check (app role) reads the current revision.
const GRANT_APP: &str = "DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plinth_app') THEN
        GRANT SELECT ON schema_migrations TO plinth_app;
    END IF;
END
$$";

const TABLE_EXISTS: &str = "SELECT to_regclass('schema_migrations') IS NOT NULL AS present";

const READ_APPLIED: &str = "SELECT revision, name, checksum, applied_at, execution_ms
    FROM schema_migrations ORDER BY revision";

const INSERT_APPLIED: &str = "INSERT INTO schema_migrations (revision, name, checksum, execution_ms) VALUES ($1, $2, $3, $4)";

const DELETE_APPLIED: &str = "DELETE FROM schema_migrations WHERE revision = $1";

/// One step that ran and committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ran {
    pub revision: &'static str,
    pub name: &'static str,
    pub direction: Direction,
    pub ms: u64,
}

/// A step that failed and was rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepFailure {
    pub revision: &'static str,
    pub name: &'static str,
    pub direction: Direction,
    /// 1-based index of the failing statement in the step's file (`null`: the
    /// bookkeeping or `COMMIT` failed).
    pub statement: Option<usize>,
    /// SQLSTATE, when Postgres gave one (e.g. `22012`).
    pub sqlstate: Option<String>,
    /// Postgres's message (and detail), without any connection string.
    pub message: String,
}

/// What an upgrade or downgrade did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The revision before (`null`: nothing applied).
    pub from: Option<String>,
    /// The revision after (after the rollback, if a step failed).
    pub to: Option<String>,
    /// The steps that committed, in order.
    pub ran: Vec<Ran>,
    /// The step that failed, if any; nothing after it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<StepFailure>,
}

/// Postgres's SQLSTATE and message for a failure, safe to show to the admin.
fn describe(failure: Option<PgFailure>, fallback: &Error) -> (Option<String>, String) {
    match failure {
        Some(PgFailure::Db(db)) => {
            let message = match db.detail {
                Some(detail) if !detail.is_empty() => format!("{} ({detail})", db.message),
                _ => db.message,
            };
            (Some(db.code), log::redact(&message))
        }
        Some(PgFailure::ConnectionFailed(_)) => (None, "the database connection failed".into()),
        Some(
            PgFailure::Text(m)
            | PgFailure::BadParameter(m)
            | PgFailure::ValueConversion(m)
            | PgFailure::Other(m),
        ) => (None, log::redact(&m)),
        None => (None, fallback.to_string()),
    }
}

#[derive(Deserialize)]
struct Present {
    present: bool,
}

/// The migration engine over one connection.
pub struct Runner {
    db: Db,
    migrations: &'static [Migration],
}

impl Runner {
    /// A runner over a connection with the owner role.
    pub fn new(db: Db, migrations: &'static [Migration]) -> Self {
        Self { db, migrations }
    }

    /// The status, without locking and without creating anything.
    pub fn status(&self) -> Result<Status, Error> {
        Ok(plan::status(self.migrations, self.applied_if_present()?))
    }

    fn applied_if_present(&self) -> Result<Vec<Applied>, Error> {
        let table: Present = self.db.fetch_one(TABLE_EXISTS, &[])?;
        if table.present {
            self.db.fetch_all(READ_APPLIED, &[])
        } else {
            Ok(Vec::new())
        }
    }

    /// Upgrades to `target` (see the module docs).
    pub fn upgrade(&self, target: &UpgradeTarget) -> Result<Outcome, Error> {
        self.locked(|status| plan::plan_upgrade(self.migrations, status, target))
    }

    /// Downgrades to `target` (see the module docs).
    pub fn downgrade(&self, target: &DowngradeTarget) -> Result<Outcome, Error> {
        self.locked(|status| plan::plan_downgrade(self.migrations, status, target))
    }

    fn locked(
        &self,
        plan: impl FnOnce(&Status) -> Result<Vec<Step>, Error>,
    ) -> Result<Outcome, Error> {
        self.lock()?;
        let result = self.bootstrap_and_run(plan);
        if let Err(err) = self.db.execute(UNLOCK, &[Param::Int64(LOCK_KEY)]) {
            log::warn(format_args!("releasing the migration lock failed: {err}"));
        }
        result
    }

    fn lock(&self) -> Result<(), Error> {
        let started = Instant::now();
        while self.db.execute(TRY_LOCK, &[Param::Int64(LOCK_KEY)])? == 0 {
            if started.elapsed() >= LOCK_WAIT {
                return Err(Error::conflict(
                    None,
                    "another migration run holds the migration lock; try again later",
                ));
            }
            std::thread::sleep(LOCK_POLL);
        }
        Ok(())
    }

    fn bootstrap_and_run(
        &self,
        plan: impl FnOnce(&Status) -> Result<Vec<Step>, Error>,
    ) -> Result<Outcome, Error> {
        self.db.execute(CREATE_TABLE, &[])?;
        self.db.execute(GRANT_APP, &[])?;
        let status = plan::status(self.migrations, self.db.fetch_all(READ_APPLIED, &[])?);
        let steps = plan(&status)?;
        let mut outcome = Outcome {
            from: status.current.clone(),
            to: status.current.clone(),
            ran: Vec::new(),
            failed: None,
        };
        for (done, step) in steps.iter().enumerate() {
            match self.run_step(step) {
                Ok(ms) => outcome.ran.push(Ran {
                    revision: step.migration.revision,
                    name: step.migration.name,
                    direction: step.direction,
                    ms,
                }),
                Err(failure) => {
                    log::error(format_args!(
                        "migration {}_{} ({:?}) failed: {} {}",
                        failure.revision,
                        failure.name,
                        failure.direction,
                        failure.sqlstate.as_deref().unwrap_or("-"),
                        failure.message
                    ));
                    outcome.to = plan::revision_after(&status, &steps[..done]);
                    outcome.failed = Some(failure);
                    return Ok(outcome);
                }
            }
        }
        outcome.to = plan::revision_after(&status, &steps);
        Ok(outcome)
    }

    /// Runs one step in its own transaction; returns its duration in ms.
    fn run_step(&self, step: &Step) -> Result<u64, StepFailure> {
        let m = step.migration;
        let statements = match step.direction {
            Direction::Up => m.up,
            Direction::Down => m.down,
        };
        self.db.take_last_failure(); // only this step's failure counts
        let started = std::time::Instant::now();
        let mut failed_at: Option<(usize, Option<PgFailure>)> = None;
        let result = self.db.transaction(|tx| {
            for (i, sql) in statements.iter().enumerate() {
                if let Err(err) = tx.execute(sql, &[]) {
                    failed_at = Some((i + 1, self.db.take_last_failure()));
                    return Err(err);
                }
            }
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match step.direction {
                Direction::Up => tx.execute(
                    INSERT_APPLIED,
                    &[
                        Param::from(m.revision),
                        Param::from(m.name),
                        Param::from(m.checksum),
                        Param::Int64(i64::try_from(ms).unwrap_or(i64::MAX)),
                    ],
                )?,
                Direction::Down => tx.execute(DELETE_APPLIED, &[Param::from(m.revision)])?,
            };
            Ok(ms)
        });
        result.map_err(|err| {
            let (statement, raw) = match failed_at {
                Some((i, raw)) => (Some(i), raw),
                None => (None, self.db.take_last_failure()),
            };
            let (sqlstate, message) = describe(raw, &err);
            StepFailure {
                revision: m.revision,
                name: m.name,
                direction: step.direction,
                statement,
                sqlstate,
                message,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::DbFailure;
    use crate::pg::fake::FakeBackend;

    static SET: &[Migration] = &[
        Migration {
            revision: "0001",
            name: "a",
            up: &["CREATE TABLE a ()", "CREATE INDEX a_i ON a (x)"],
            down: &["DROP TABLE a"],
            checksum: "c1",
        },
        Migration {
            revision: "0002",
            name: "b",
            up: &["CREATE TABLE b ()", "SELECT 1/0"],
            down: &["DROP TABLE b"],
            checksum: "c2",
        },
    ];

    const APPLIED_1: &str = r#"[{"revision":"0001","name":"a","checksum":"c1","applied_at":"2026-11-27T07:08:24.630285+00:00","execution_ms":2}]"#;

    fn runner() -> (Runner, FakeBackend) {
        let fake = FakeBackend::new();
        (Runner::new(Db::with_backend(fake.clone()), SET), fake)
    }

    #[test]
    fn status_of_a_database_without_the_table_creates_nothing() {
        let (r, fake) = runner();
        fake.answer(r#"[{"present":false}]"#);
        let s = r.status().unwrap();
        assert_eq!(s.current, None);
        assert_eq!(s.pending.len(), 2);
        assert_eq!(fake.statements().len(), 1);
        assert!(fake.statements()[0].contains("to_regclass"));
    }

    #[test]
    fn upgrade_runs_each_step_in_its_own_transaction_under_the_lock() {
        let (r, fake) = runner();
        fake.answer("[]");
        // 0002 fails on its second statement: stop, roll back, report
        fake.fail_execute(
            "SELECT 1/0",
            PgFailure::Db(DbFailure {
                code: "22012".into(),
                message: "division by zero".into(),
                ..DbFailure::default()
            }),
        );
        let out = r.upgrade(&UpgradeTarget::Head).unwrap();
        assert_eq!(out.from, None);
        assert_eq!(out.to.as_deref(), Some("0001"));
        assert_eq!(out.ran.len(), 1);
        assert_eq!(out.ran[0].revision, "0001");
        let failed = out.failed.unwrap();
        assert_eq!((failed.revision, failed.statement), ("0002", Some(2)));
        assert_eq!(failed.sqlstate.as_deref(), Some("22012"));
        assert_eq!(failed.message, "division by zero");

        let sql = fake.statements();
        let first = |s: &str| sql.iter().position(|x| x.starts_with(s)).unwrap();
        let flat: Vec<&str> = sql
            .iter()
            .map(|s| s.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(sql[0], TRY_LOCK, "{sql:#?}");
        assert!(sql[1].starts_with("CREATE TABLE IF NOT EXISTS schema_migrations"));
        assert!(sql[2].starts_with("DO $$"));
        assert!(
            sql[3].contains("FROM schema_migrations"),
            "applied read after the lock"
        );
        assert_eq!(
            flat[4..],
            [
                // BEGIN, then the fresh-transaction check (SELECT), the step, COMMIT.
                "BEGIN", "SELECT", "CREATE", "CREATE", "INSERT", "COMMIT", // 0001
                "BEGIN", "SELECT", "CREATE", "SELECT", "ROLLBACK", // 0002 fails
                "SELECT",   // unlock
            ]
        );
        assert!(sql.last().unwrap().starts_with("SELECT pg_advisory_unlock"));
        assert!(first("INSERT") < first("SELECT 1/0"));
        let calls = fake.calls();
        let insert = calls.iter().find(|(s, _)| s.starts_with("INSERT")).unwrap();
        assert_eq!(
            insert.1[..3],
            [Param::from("0001"), Param::from("a"), Param::from("c1")]
        );
    }

    #[test]
    fn a_second_upgrade_finds_nothing_to_do() {
        let (r, fake) = runner();
        fake.answer(
            r#"[{"revision":"0001","name":"a","checksum":"c1","applied_at":"t","execution_ms":2},
                {"revision":"0002","name":"b","checksum":"c2","applied_at":"t","execution_ms":2}]"#,
        );
        let out = r.upgrade(&UpgradeTarget::Head).unwrap();
        assert_eq!(
            (out.from.as_deref(), out.to.as_deref()),
            (Some("0002"), Some("0002"))
        );
        assert!(out.ran.is_empty() && out.failed.is_none());
        assert!(!fake.statements().iter().any(|s| s == "BEGIN"));
    }

    #[test]
    fn downgrade_deletes_the_row_and_drift_unlocks() {
        let (r, fake) = runner();
        fake.answer(APPLIED_1);
        let out = r.downgrade(&DowngradeTarget::Steps(1)).unwrap();
        assert_eq!((out.from.as_deref(), out.to), (Some("0001"), None));
        assert_eq!(out.ran[0].direction, Direction::Down);
        let sql = fake.statements();
        assert!(sql.iter().any(|s| s == "DROP TABLE a"));
        assert!(
            sql.iter()
                .any(|s| s.starts_with("DELETE FROM schema_migrations"))
        );

        let (r, fake) = runner();
        fake.answer(&APPLIED_1.replace("c1", "changed"));
        assert!(matches!(
            r.upgrade(&UpgradeTarget::Head),
            Err(Error::Conflict { .. })
        ));
        assert!(
            fake.statements()
                .last()
                .unwrap()
                .starts_with("SELECT pg_advisory_unlock")
        );
    }

    #[test]
    fn failures_never_show_a_connection_string() {
        let (_, m) = describe(
            Some(PgFailure::Text(
                "error connecting to postgres://u:pw@h/db".into(),
            )),
            &Error::internal("x"),
        );
        assert!(!m.contains("pw"), "{m}");
        let (_, m) = describe(
            Some(PgFailure::ConnectionFailed(
                "postgres://u:pw@h/db refused".into(),
            )),
            &Error::internal("x"),
        );
        assert!(!m.contains("pw"), "{m}");
    }
}
