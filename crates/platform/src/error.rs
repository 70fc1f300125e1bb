//! The one error type of every handler, and the only place that renders
//! RFC 9457 `application/problem+json`.
//!
//! A handler returns `Result<Response, Error>`. The router turns an `Err` into
//! a problem document with a stable `type` URI, `title`, `status`, `detail`,
//! the field `errors` (for [`Error::Malformed`] and [`Error::Validation`])
//! and the `request_id`.
//!
//! Input errors come in two kinds: a body that does not have the shape of
//! the request (malformed JSON, a wrong type, a missing or unknown field) is
//! **400** [`Error::Malformed`]; a well-formed value that breaks a rule (a bad
//! slug, an unknown currency) is **422** [`Error::Validation`]. Both name the
//! field by its path in the API (`settings.default_currency`).
//!
//! A database constraint that refuses a write is [`Error::Constraint`]: a
//! 409 (unique, foreign key) or 422 (check) that names no field, because no
//! schema name may reach a body. The handler names the field with
//! [`ResultExt::on_constraint`].
//!
//! **API Boundary**: an [`Error::Internal`] carries its cause chain for the
//! log only. Its body is the same generic text whatever went wrong: no SQL,
//! host, URL or connection string ever reaches a response.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use crate::log;
use crate::response::Response;

/// Prefix of every problem `type` URI (`https://plinth.dev/problems/not-found`).
pub const PROBLEM_TYPE_BASE: &str = "https://plinth.dev/problems/";

/// The media type of an error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One invalid input field: the JSON field (or query/header name) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The cause of an internal error: what step failed and the chain of
/// underlying errors. Printed to the log, never sent to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    context: String,
    chain: Vec<String>,
}

impl Cause {
    /// A cause with only a description of the failed step.
    pub fn new(context: impl Into<String>) -> Self {
        Self {
            context: context.into(),
            chain: Vec::new(),
        }
    }

    /// A cause for `context` whose chain is `err` and all of its `source()`s.
    pub fn from_error(context: impl Into<String>, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = vec![err.to_string()];
        let mut source = err.source();
        while let Some(inner) = source {
            chain.push(inner.to_string());
            source = inner.source();
        }
        Self {
            context: context.into(),
            chain,
        }
    }

    /// Appends one more underlying message to the chain.
    pub fn with(mut self, message: impl Into<String>) -> Self {
        self.chain.push(message.into());
        self
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)?;
        for message in &self.chain {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

/// Every way a request can fail. See the module docs for how it renders.
///
/// `Error` deliberately does not implement `std::error::Error`, so that
/// [`Context::context`] cannot wrap an already-classified error into an
/// internal one by accident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// 422: well-formed input fields break a rule (`errors` lists them).
    Validation(Vec<FieldError>),
    /// 400: input fields do not have the request's shape: a wrong type, a
    /// missing or unknown field (`errors` lists them).
    Malformed(Vec<FieldError>),
    /// 400: the request is malformed in a way not tied to one field.
    BadRequest(String),
    /// 401: no valid credentials.
    Unauthorized,
    /// 403: authenticated, but not allowed.
    Forbidden,
    /// 404: no such resource (also: another org's resource).
    NotFound,
    /// 405: the path exists, the method does not; `allow` lists the methods that do.
    MethodNotAllowed { allow: Vec<&'static str> },
    /// 409: the request conflicts with the current state, e.g. a unique value
    /// already taken (`field` names it).
    Conflict {
        field: Option<String>,
        detail: String,
    },
    /// A database constraint refused a write; `constraint` is its name, for
    /// [`ResultExt::on_constraint`]. 409 (unique, foreign key) or 422
    /// (check), naming no field.
    Constraint {
        kind: ConstraintKind,
        constraint: Option<String>,
    },
    /// 410: the resource existed and is no more: a one-time token already
    /// used, expired or revoked. The detail is public.
    Gone(String),
    /// 412: an `If-Match` precondition did not hold.
    PreconditionFailed,
    /// 428: the route requires `If-Match`.
    PreconditionRequired,
    /// 413: the body is larger than `limit` bytes.
    PayloadTooLarge { limit: usize },
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 429: rate limited; `Retry-After: retry_after` seconds, and the
    /// RateLimit headers of `policy` when there is one.
    TooManyRequests {
        retry_after: u64,
        policy: Option<RateLimitPolicy>,
    },
    /// 503: a dependency (database, cache, object store) is not available.
    /// The detail is public: keep it generic ("database unavailable").
    ServiceUnavailable(String),
    /// 501: the route exists but is not built yet.
    NotImplemented(String),
    /// 500: a migration step failed and was rolled back. Only the admin
    /// routes answer it; `members` are the problem's extension members
    /// (revision, statement, SQLSTATE, Postgres's message, …).
    MigrationFailed {
        detail: String,
        members: serde_json::Map<String, serde_json::Value>,
    },
    /// Another error with extension members added to its problem document
    /// (`blocking` of a refused deletion, …); see [`Error::with_members`].
    Extended {
        error: Box<Error>,
        members: serde_json::Map<String, serde_json::Value>,
    },
    /// 500: a bug or an unexpected failure. The cause goes to the log only.
    Internal(Cause),
}

/// A rate limit a request was counted against, for the IETF draft headers
/// (draft-ietf-httpapi-ratelimit-headers), in structured-field form:
/// `RateLimit-Policy: "org";q=600;w=60` and `RateLimit: "org";r=0;t=17`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitPolicy {
    pub name: &'static str,
    pub quota: u64,
    pub window: u64,
    pub remaining: u64,
    /// Seconds until the window ends.
    pub reset: u64,
}

impl RateLimitPolicy {
    /// `response` with this policy's two headers.
    pub fn apply(&self, response: Response) -> Response {
        response
            .with_header(
                "ratelimit-policy",
                format!("\"{}\";q={};w={}", self.name, self.quota, self.window),
            )
            .with_header(
                "ratelimit",
                format!("\"{}\";r={};t={}", self.name, self.remaining, self.reset),
            )
    }
}

/// Rows of `table` that keep something from being deleted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Blocking {
    pub table: String,
    pub count: i64,
}

/// Which kind of database constraint refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    /// Unique or exclusion (23505, 23P01).
    Unique,
    /// Foreign key (23503): a dangling reference, or a row still referenced.
    ForeignKey,
    /// Check (23514).
    Check,
}

impl Error {
    /// A 422 for a single field whose value breaks a rule.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// A 409 with an optional field name.
    pub fn conflict(field: Option<&str>, detail: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.map(str::to_owned),
            detail: detail.into(),
        }
    }

    /// Names the input field of a field error by its API path (a newtype's
    /// `parse` names its own field; the handler knows where it came from):
    /// `Slug::parse(&body.org_slug).map_err(|e| e.at("org_slug"))`.
    pub fn at(self, path: &str) -> Self {
        let rename = |errors: Vec<FieldError>| -> Vec<FieldError> {
            errors
                .into_iter()
                .map(|e| FieldError::new(path, e.message))
                .collect()
        };
        match self {
            Self::Validation(errors) => Self::Validation(rename(errors)),
            Self::Malformed(errors) => Self::Malformed(rename(errors)),
            other => other,
        }
    }

    /// This error with extension `members` in its problem document; status,
    /// type, title and detail stay its own.
    pub fn with_members(self, members: serde_json::Map<String, serde_json::Value>) -> Self {
        Self::Extended {
            error: Box::new(self),
            members,
        }
    }

    /// The 409 of a deletion that rows still block: `blocking` lists them
    /// (`[{"table": "partners", "count": 2}]`, tables without rows left out).
    pub fn blocked(detail: impl Into<String>, blocking: &[Blocking]) -> Self {
        let list: Vec<serde_json::Value> = blocking
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| serde_json::json!({ "table": b.table, "count": b.count }))
            .collect();
        let mut members = serde_json::Map::new();
        members.insert("blocking".into(), serde_json::Value::Array(list));
        Self::conflict(None, detail).with_members(members)
    }

    /// The error itself, under any extension members.
    fn base(&self) -> &Error {
        match self {
            Self::Extended { error, .. } => error.base(),
            other => other,
        }
    }

    /// A 500 whose log line says which step failed.
    pub fn internal(context: impl Into<String>) -> Self {
        Self::Internal(Cause::new(context))
    }

    /// A 500 whose log line says which step failed and why.
    pub fn internal_from(
        context: impl Into<String>,
        err: &(dyn std::error::Error + 'static),
    ) -> Self {
        Self::Internal(Cause::from_error(context, err))
    }

    /// The field a 422 names first; `None` for any other error.
    pub fn invalid_field(&self) -> Option<&str> {
        match self {
            Self::Validation(errors) => errors.first().map(|e| e.field.as_str()),
            _ => None,
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::Extended { error, .. } => error.status(),
            Self::Malformed(_) | Self::BadRequest(_) => 400,
            Self::Validation(_) => 422,
            Self::Constraint {
                kind: ConstraintKind::Check,
                ..
            } => 422,
            Self::Constraint { .. } => 409,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Conflict { .. } => 409,
            Self::Gone(_) => 410,
            Self::PreconditionFailed => 412,
            Self::PreconditionRequired => 428,
            Self::PayloadTooLarge { .. } => 413,
            Self::UnsupportedMediaType => 415,
            Self::TooManyRequests { .. } => 429,
            Self::Internal(_) | Self::MigrationFailed { .. } => 500,
            Self::NotImplemented(_) => 501,
            Self::ServiceUnavailable(_) => 503,
        }
    }

    /// The last segment of the problem `type` URI; stable, clients may match on it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Extended { error, .. } => error.kind(),
            Self::Validation(_)
            | Self::Constraint {
                kind: ConstraintKind::Check,
                ..
            } => "validation-error",
            Self::Malformed(_) => "malformed-request",
            Self::BadRequest(_) => "bad-request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed { .. } => "method-not-allowed",
            Self::Conflict { .. } | Self::Constraint { .. } => "conflict",
            Self::Gone(_) => "gone",
            Self::PreconditionFailed => "precondition-failed",
            Self::PreconditionRequired => "precondition-required",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::TooManyRequests { .. } => "too-many-requests",
            Self::ServiceUnavailable(_) => "service-unavailable",
            Self::NotImplemented(_) => "not-implemented",
            Self::Internal(_) => "internal-error",
            Self::MigrationFailed { .. } => "migration-failed",
        }
    }

    /// The short, fixed summary of the problem type.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Extended { error, .. } => error.title(),
            Self::Validation(_)
            | Self::Constraint {
                kind: ConstraintKind::Check,
                ..
            } => "Invalid input",
            Self::Malformed(_) => "Malformed request",
            Self::BadRequest(_) => "Bad request",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed { .. } => "Method not allowed",
            Self::Conflict { .. } | Self::Constraint { .. } => "Conflict",
            Self::Gone(_) => "Gone",
            Self::PreconditionFailed => "Precondition failed",
            Self::PreconditionRequired => "Precondition required",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::ServiceUnavailable(_) => "Service unavailable",
            Self::NotImplemented(_) => "Not implemented",
            Self::Internal(_) => "Internal server error",
            Self::MigrationFailed { .. } => "Migration failed",
        }
    }

    /// The human-readable explanation of this occurrence.
    pub fn detail(&self) -> Cow<'_, str> {
        match self {
            Self::Extended { error, .. } => error.detail(),
            Self::Validation(errors) | Self::Malformed(errors) => match errors.as_slice() {
                [one] => Cow::Owned(format!("{}: {}", one.field, one.message)),
                _ => Cow::Borrowed("some fields are invalid; see `errors`"),
            },
            Self::BadRequest(detail)
            | Self::Conflict { detail, .. }
            | Self::Gone(detail)
            | Self::ServiceUnavailable(detail)
            | Self::NotImplemented(detail)
            | Self::MigrationFailed { detail, .. } => Cow::Borrowed(detail),
            Self::Unauthorized => Cow::Borrowed("missing or invalid credentials"),
            Self::Forbidden => Cow::Borrowed("you are not allowed to do this"),
            Self::NotFound => Cow::Borrowed("no such resource"),
            Self::MethodNotAllowed { allow } => {
                Cow::Owned(format!("this resource supports only {}", allow.join(", ")))
            }
            Self::Constraint { kind, .. } => Cow::Borrowed(match kind {
                ConstraintKind::Unique => UNIQUE_VIOLATION_DETAIL,
                ConstraintKind::ForeignKey => "the request conflicts with related resources",
                ConstraintKind::Check => "a value is not allowed",
            }),
            Self::PreconditionFailed => {
                Cow::Borrowed("the resource has changed since it was read (If-Match)")
            }
            Self::PreconditionRequired => {
                Cow::Borrowed("this request must carry If-Match with the ETag of a read")
            }
            Self::PayloadTooLarge { limit } => {
                Cow::Owned(format!("the request body is larger than {limit} bytes"))
            }
            Self::UnsupportedMediaType => {
                Cow::Borrowed("the request body must be JSON (Content-Type: application/json)")
            }
            Self::TooManyRequests { retry_after, .. } => {
                Cow::Owned(format!("too many requests; retry after {retry_after} s"))
            }
            Self::Internal(_) => Cow::Borrowed("an unexpected error occurred"),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self, request_id: &str) -> Problem<'_> {
        let members = match self {
            Self::MigrationFailed { members, .. } | Self::Extended { members, .. } => Some(members),
            _ => None,
        };
        let (errors, field) = match self.base() {
            Self::Validation(errors) | Self::Malformed(errors) => (errors.as_slice(), None),
            Self::Conflict { field, .. } => (&[][..], field.as_deref()),
            _ => (&[][..], None),
        };
        Problem {
            kind: format!("{PROBLEM_TYPE_BASE}{}", self.kind()),
            title: self.title(),
            status: self.status(),
            detail: self.detail(),
            field,
            errors,
            request_id: request_id.to_owned(),
            members,
        }
    }

    /// Renders the error as a problem+json response and logs an internal cause.
    ///
    /// The `X-Request-Id` header is added by the router, like on every response.
    pub fn to_response(&self, request_id: &str) -> Response {
        if let Self::Internal(cause) = self.base() {
            log::error(format_args!("internal error: {cause}"));
        }
        let body = serde_json::to_vec(&self.problem(request_id))
            .unwrap_or_else(|_| br#"{"status":500}"#.to_vec());
        let mut response =
            Response::new(self.status(), body).with_header("content-type", PROBLEM_CONTENT_TYPE);
        match self.base() {
            Self::MethodNotAllowed { allow } => {
                response = response.with_header("allow", allow.join(", "));
            }
            Self::TooManyRequests {
                retry_after,
                policy,
            } => {
                response = response.with_header("retry-after", retry_after.to_string());
                if let Some(policy) = policy {
                    response = policy.apply(response);
                }
            }
            Self::Unauthorized => {
                response = response.with_header("www-authenticate", "Bearer");
            }
            _ => {}
        }
        response
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Internal(cause) => write!(f, "{} ({cause})", self.status()),
            _ => write!(f, "{} {}: {}", self.status(), self.title(), self.detail()),
        }
    }
}

/// An RFC 9457 problem document, as serialized.
#[derive(Debug, Serialize)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: Cow<'a, str>,
    /// For a 409: the field whose value is taken, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub errors: &'a [FieldError],
    pub request_id: String,
    /// Extension members of problem types that have them.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub members: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// `.context("step")` on results with a foreign error: any failure becomes
/// [`Error::Internal`] whose log line names the step and the cause chain.
pub trait Context<T> {
    fn context(self, step: &str) -> Result<T, Error>;
}

impl<T, E: std::error::Error + 'static> Context<T> for Result<T, E> {
    fn context(self, step: &str) -> Result<T, Error> {
        self.map_err(|err| Error::internal_from(step, &err))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, step: &str) -> Result<T, Error> {
        self.ok_or_else(|| Error::internal(step))
    }
}

/// Refinements on results that already carry an [`Error`].
pub trait ResultExt<T> {
    /// When the database constraint `constraint` refused the write, name the
    /// API `field` it is about: a unique violation becomes a 409 "`field` is
    /// already taken", a foreign key a 422 "`field` does not refer to an
    /// existing resource" (for an insert or update; a delete that is still
    /// referenced keeps its 409), a check a 422 naming the field:
    /// `tx.fetch_one(INSERT_ORG, ..).on_constraint("org_slug_key", "slug")`.
    fn on_constraint(self, constraint: &str, field: &str) -> Result<T, Error>;
}

impl<T> ResultExt<T> for Result<T, Error> {
    fn on_constraint(self, constraint: &str, field: &str) -> Result<T, Error> {
        self.map_err(|err| match err {
            Error::Constraint {
                kind,
                constraint: Some(name),
            } if name == constraint => match kind {
                ConstraintKind::Unique => Error::Conflict {
                    detail: format!("{field} is already taken"),
                    field: Some(field.to_owned()),
                },
                ConstraintKind::ForeignKey => {
                    Error::field(field, "does not refer to an existing resource")
                }
                ConstraintKind::Check => Error::field(field, "is not an allowed value"),
            },
            other => other,
        })
    }
}

/// The detail of a unique violation whose field is not named.
const UNIQUE_VIOLATION_DETAIL: &str = "a value is already taken";

#[cfg(test)]
mod tests {
    use super::*;

    fn body(err: &Error) -> serde_json::Value {
        serde_json::from_slice(err.to_response("rid-1").body()).unwrap()
    }

    #[test]
    fn every_variant_renders_a_problem_document() {
        let cases: Vec<(Error, u16, &str, &str)> = vec![
            (
                Error::field("name", "must not be empty"),
                422,
                "validation-error",
                "one field error",
            ),
            (
                Error::Malformed(vec![FieldError::new("limit", "expected a number")]),
                400,
                "malformed-request",
                "wrong type",
            ),
            (
                Error::Constraint {
                    kind: ConstraintKind::Unique,
                    constraint: Some("org_slug_key".into()),
                },
                409,
                "conflict",
                "unnamed unique violation",
            ),
            (
                Error::Constraint {
                    kind: ConstraintKind::Check,
                    constraint: None,
                },
                422,
                "validation-error",
                "unnamed check violation",
            ),
            (
                Error::PreconditionRequired,
                428,
                "precondition-required",
                "no If-Match",
            ),
            (
                Error::BadRequest("bad cursor".into()),
                400,
                "bad-request",
                "bad request",
            ),
            (Error::Unauthorized, 401, "unauthorized", "no token"),
            (Error::Forbidden, 403, "forbidden", "wrong role"),
            (Error::NotFound, 404, "not-found", "missing"),
            (
                Error::MethodNotAllowed {
                    allow: vec!["GET", "HEAD"],
                },
                405,
                "method-not-allowed",
                "405",
            ),
            (
                Error::conflict(Some("slug"), "slug is already taken"),
                409,
                "conflict",
                "conflict",
            ),
            (
                Error::Gone("this link was already used".into()),
                410,
                "gone",
                "spent token",
            ),
            (
                Error::PreconditionFailed,
                412,
                "precondition-failed",
                "etag",
            ),
            (
                Error::PayloadTooLarge { limit: 10 },
                413,
                "payload-too-large",
                "too large",
            ),
            (
                Error::UnsupportedMediaType,
                415,
                "unsupported-media-type",
                "not json",
            ),
            (
                Error::TooManyRequests {
                    retry_after: 7,
                    policy: None,
                },
                429,
                "too-many-requests",
                "rate limit",
            ),
            (
                Error::ServiceUnavailable("database unavailable".into()),
                503,
                "service-unavailable",
                "503",
            ),
            (
                Error::NotImplemented("auth is not implemented yet".into()),
                501,
                "not-implemented",
                "501",
            ),
            (Error::internal("step"), 500, "internal-error", "internal"),
        ];
        for (err, status, kind, case) in cases {
            let response = err.to_response("rid-1");
            assert_eq!(response.status(), status, "{case}");
            assert_eq!(
                response.header("content-type"),
                Some(PROBLEM_CONTENT_TYPE),
                "{case}"
            );
            let json = body(&err);
            assert_eq!(json["type"], format!("{PROBLEM_TYPE_BASE}{kind}"), "{case}");
            assert_eq!(json["status"], status, "{case}");
            assert_eq!(json["request_id"], "rid-1", "{case}");
            assert!(json["title"].is_string(), "{case}");
            assert!(json["detail"].is_string(), "{case}");
        }
    }

    #[test]
    fn validation_lists_fields() {
        let err = Error::Validation(vec![
            FieldError::new("name", "must not be empty"),
            FieldError::new("slug", "must be lowercase"),
        ]);
        let json = body(&err);
        assert_eq!(json["errors"][0]["field"], "name");
        assert_eq!(json["errors"][1]["message"], "must be lowercase");
    }

    #[test]
    fn internal_body_never_carries_the_cause() {
        let err = Error::Internal(
            Cause::new("insert org").with("password authentication failed for user plinth_app"),
        );
        let text = String::from_utf8(err.to_response("r").body().to_vec()).unwrap();
        assert!(!text.contains("plinth_app"), "cause leaked: {text}");
        assert!(!text.contains("insert org"), "context leaked: {text}");
        assert!(text.contains("an unexpected error occurred"));
    }

    #[test]
    fn special_headers() {
        let r = Error::MethodNotAllowed {
            allow: vec!["GET", "POST"],
        }
        .to_response("r");
        assert_eq!(r.header("allow"), Some("GET, POST"));
        let r = Error::TooManyRequests {
            retry_after: 30,
            policy: None,
        }
        .to_response("r");
        assert_eq!(r.header("retry-after"), Some("30"));
    }

    #[test]
    fn conflict_names_field() {
        let json = body(&Error::conflict(Some("slug"), "slug is already taken"));
        assert_eq!(json["field"], "slug");
        assert!(json.get("errors").is_none());
    }

    #[test]
    fn on_constraint_names_the_field_only_for_that_constraint() {
        let from_db = |kind| -> Result<(), Error> {
            Err(Error::Constraint {
                kind,
                constraint: Some("org_slug_key".into()),
            })
        };
        let cases = [
            (ConstraintKind::Unique, 409, "slug is already taken"),
            (
                ConstraintKind::ForeignKey,
                422,
                "slug: does not refer to an existing resource",
            ),
            (ConstraintKind::Check, 422, "slug: is not an allowed value"),
        ];
        for (kind, status, detail) in cases {
            let err = from_db(kind)
                .on_constraint("org_slug_key", "slug")
                .unwrap_err();
            assert_eq!(err.status(), status, "{kind:?}");
            assert_eq!(err.detail(), detail, "{kind:?}");
            let json = body(&err);
            let named = json["field"]
                .as_str()
                .or(json["errors"][0]["field"].as_str());
            assert_eq!(named, Some("slug"), "{kind:?}: {json}");
            // Another constraint: nothing is named, and no schema name shows.
            let other = from_db(kind)
                .on_constraint("other_key", "name")
                .unwrap_err();
            let text = body(&other).to_string();
            assert!(
                !text.contains("org_slug_key") && !text.contains("\"field\""),
                "{text}"
            );
        }
        assert_eq!(Ok::<_, Error>(1).on_constraint("x", "y"), Ok(1));
    }

    #[test]
    fn members_extend_a_problem_and_keep_its_type() {
        let mut members = serde_json::Map::new();
        members.insert(
            "blocking".into(),
            serde_json::json!([{"table": "t", "count": 1}]),
        );
        let err = Error::conflict(None, "still in use").with_members(members);
        assert_eq!(err.status(), 409);
        let json = body(&err);
        assert_eq!(json["type"], format!("{PROBLEM_TYPE_BASE}conflict"));
        assert_eq!(json["detail"], "still in use");
        assert_eq!(json["blocking"][0]["count"], 1);
        assert_eq!(json["request_id"], "rid-1");
        let limited = Error::TooManyRequests {
            retry_after: 3,
            policy: None,
        }
        .with_members(serde_json::Map::new());
        assert_eq!(limited.to_response("r").header("retry-after"), Some("3"));
    }

    #[test]
    fn at_renames_the_field_by_its_api_path() {
        let err = Error::field("slug", "must be 3-63 characters").at("org_slug");
        assert_eq!(err, Error::field("org_slug", "must be 3-63 characters"));
        assert_eq!(Error::NotFound.at("x"), Error::NotFound);
    }

    #[test]
    fn context_keeps_the_cause_chain() {
        let parsed: Result<u8, _> = "300".parse::<u8>();
        match parsed.context("parse port") {
            Err(Error::Internal(cause)) => {
                assert!(cause.to_string().starts_with("parse port: "), "{cause}")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
