//! The readiness report of the health component, as pure data: one
//! [`Check`] per dependency and the overall verdict.
//!
//! `GET /health/ready` answers with this JSON (not problem+json: a failed
//! readiness check is a state report, and per-check detail is what an
//! operator needs):
//!
//! ```json
//! {"status":"unavailable","failed":["s3"],
//!  "checks":{"postgres":{"status":"ok","latency_ms":1.2,"migrations":"head",…},
//!            "redis":{"status":"ok","latency_ms":0.4},
//!            "s3":{"status":"fail","latency_ms":3.1,"reason":"connection failed"}}}
//! ```
//!
//! 200 when every check is `ok`, 503 otherwise. Reasons are generic words
//! ("connection failed", "access denied"); the detail goes to the log. No
//! URL, host name or secret is ever part of a check.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::response::{Response, json};

/// The outcome of one dependency check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    status: &'static str,
    latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(flatten)]
    details: Map<String, Value>,
}

/// Milliseconds rounded to 0.1.
fn millis(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 10_000.0).round() / 10.0
}

impl Check {
    pub fn ok(elapsed: Duration) -> Self {
        Self {
            status: "ok",
            latency_ms: millis(elapsed),
            reason: None,
            details: Map::new(),
        }
    }

    /// A failed check; `reason` must be generic (no host, URL or secret).
    pub fn fail(elapsed: Duration, reason: impl Into<String>) -> Self {
        Self {
            status: "fail",
            latency_ms: millis(elapsed),
            reason: Some(reason.into()),
            details: Map::new(),
        }
    }

    /// Adds a reported detail (`migrations`, `pgvector`, …).
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Turns an ok check into a failed one (a requirement is not met).
    pub fn require(self, condition: bool, reason: &str) -> Self {
        if condition || !self.passed() {
            self
        } else {
            Self {
                status: "fail",
                reason: Some(reason.to_owned()),
                ..self
            }
        }
    }

    pub fn passed(&self) -> bool {
        self.status == "ok"
    }
}

/// The generic reason for a check that failed with `err`.
pub fn reason(err: &Error) -> &'static str {
    match err {
        Error::ServiceUnavailable(_) => "connection failed",
        Error::Internal(_) => "check failed",
        _ => "unexpected answer",
    }
}

/// Where the database stands against the newest embedded migration.
pub fn migration_state(applied: Option<&str>, head: Option<&str>) -> &'static str {
    match (applied, head) {
        (a, h) if a == h => "head",
        (None, Some(_)) => "none",
        (Some(_), None) => "ahead",
        // Revisions are fixed-width digits, so text order is revision order.
        (Some(a), Some(h)) if a < h => "behind",
        _ => "ahead",
    }
}

/// All checks, in report order.
#[derive(Debug, Default)]
pub struct Report {
    checks: Vec<(&'static str, Check)>,
}

impl Report {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, name: &'static str, check: Check) -> Self {
        self.checks.push((name, check));
        self
    }

    /// The names of the failed checks.
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|(_, c)| !c.passed())
            .map(|(n, _)| *n)
            .collect()
    }

    /// 200 `{"status":"ok",…}` or 503 `{"status":"unavailable","failed":[…],…}`.
    pub fn to_response(&self) -> Result<Response, Error> {
        let failed = self.failed();
        let checks: Map<String, Value> = self
            .checks
            .iter()
            .map(|(name, check)| {
                let value = serde_json::to_value(check).unwrap_or(Value::Null);
                ((*name).to_owned(), value)
            })
            .collect();
        let (status, word) = if failed.is_empty() {
            (200, "ok")
        } else {
            (503, "unavailable")
        };
        let mut body = Map::new();
        body.insert("status".into(), word.into());
        if !failed.is_empty() {
            body.insert("failed".into(), failed.into());
        }
        body.insert("checks".into(), Value::Object(checks));
        Ok(json(status, &body)?.with_header("cache-control", "no-store"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_state_table() {
        let cases = [
            (Some("0003"), Some("0003"), "head", "same revision"),
            (None, None, "head", "no migrations at all"),
            (None, Some("0001"), "none", "nothing applied"),
            (Some("0001"), Some("0003"), "behind", "older"),
            (Some("0004"), Some("0003"), "ahead", "newer than the code"),
            (Some("0001"), None, "ahead", "code has no migrations"),
        ];
        for (applied, head, expected, case) in cases {
            assert_eq!(migration_state(applied, head), expected, "{case}");
        }
    }

    #[test]
    fn report_all_ok_is_200() {
        let report = Report::new()
            .with(
                "postgres",
                Check::ok(Duration::from_micros(1234)).detail("migrations", "head"),
            )
            .with("redis", Check::ok(Duration::from_micros(400)));
        let response = report.to_response().unwrap();
        assert_eq!(response.status(), 200);
        let json: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(json["status"], "ok");
        assert!(json.get("failed").is_none());
        assert_eq!(json["checks"]["postgres"]["latency_ms"], 1.2);
        assert_eq!(json["checks"]["postgres"]["migrations"], "head");
        assert_eq!(json["checks"]["redis"]["status"], "ok");
    }

    #[test]
    fn report_with_a_failure_is_503_naming_it() {
        let report = Report::new()
            .with(
                "postgres",
                Check::ok(Duration::ZERO).require(false, "migrations not at head"),
            )
            .with("s3", Check::fail(Duration::ZERO, "connection failed"))
            .with("redis", Check::ok(Duration::ZERO));
        let response = report.to_response().unwrap();
        assert_eq!(response.status(), 503);
        let json: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(json["status"], "unavailable");
        assert_eq!(json["failed"], serde_json::json!(["postgres", "s3"]));
        assert_eq!(
            json["checks"]["postgres"]["reason"],
            "migrations not at head"
        );
        assert_eq!(json["checks"]["s3"]["reason"], "connection failed");
    }

    #[test]
    fn require_keeps_the_first_failure_reason() {
        let check = Check::fail(Duration::ZERO, "connection failed").require(false, "other");
        assert_eq!(check.reason.as_deref(), Some("connection failed"));
        assert!(Check::ok(Duration::ZERO).require(true, "x").passed());
    }

    #[test]
    fn reasons_are_generic() {
        assert_eq!(
            reason(&Error::ServiceUnavailable("database unavailable".into())),
            "connection failed"
        );
        assert_eq!(
            reason(&Error::internal("setting `db_url` is not defined")),
            "check failed"
        );
    }
}
