//! The one error type of every handler, and the only place that renders
//! RFC 9457 `application/problem+json`.
//!
//! A handler returns `Result<Response, Error>`. The router turns an `Err` into
//! a problem document with a stable `type` URI, `title`, `status`, `detail`,
//! the field `errors` (for [`Error::Validation`]) and the `request_id`.
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
    /// 400: one or more input fields are invalid (`errors` lists them).
    Validation(Vec<FieldError>),
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
    /// already taken. `constraint` is the database constraint that fired, if
    /// any, so [`ResultExt::on_constraint`] can name the field.
    Conflict {
        field: Option<String>,
        detail: String,
        constraint: Option<String>,
    },
    /// 412: an `If-Match` precondition did not hold.
    PreconditionFailed,
    /// 413: the body is larger than `limit` bytes.
    PayloadTooLarge { limit: usize },
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 429: rate limited; `Retry-After: retry_after` seconds.
    TooManyRequests { retry_after: u64 },
    /// 503: a dependency (database, cache, object store) is not available.
    /// The detail is public: keep it generic ("database unavailable").
    ServiceUnavailable(String),
    /// 501: the route exists but is not built yet.
    NotImplemented(String),
    /// 500: a bug or an unexpected failure. The cause goes to the log only.
    Internal(Cause),
}

impl Error {
    /// A 400 for a single invalid field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// A 409 with an optional field name.
    pub fn conflict(field: Option<&str>, detail: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.map(str::to_owned),
            detail: detail.into(),
            constraint: None,
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

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Conflict { .. } => 409,
            Self::PreconditionFailed => 412,
            Self::PayloadTooLarge { .. } => 413,
            Self::UnsupportedMediaType => 415,
            Self::TooManyRequests { .. } => 429,
            Self::Internal(_) => 500,
            Self::NotImplemented(_) => 501,
            Self::ServiceUnavailable(_) => 503,
        }
    }

    /// The last segment of the problem `type` URI; stable, clients may match on it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation-error",
            Self::BadRequest(_) => "bad-request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed { .. } => "method-not-allowed",
            Self::Conflict { .. } => "conflict",
            Self::PreconditionFailed => "precondition-failed",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::TooManyRequests { .. } => "too-many-requests",
            Self::ServiceUnavailable(_) => "service-unavailable",
            Self::NotImplemented(_) => "not-implemented",
            Self::Internal(_) => "internal-error",
        }
    }

    /// The short, fixed summary of the problem type.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Validation(_) => "Invalid input",
            Self::BadRequest(_) => "Bad request",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed { .. } => "Method not allowed",
            Self::Conflict { .. } => "Conflict",
            Self::PreconditionFailed => "Precondition failed",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::ServiceUnavailable(_) => "Service unavailable",
            Self::NotImplemented(_) => "Not implemented",
            Self::Internal(_) => "Internal server error",
        }
    }

    /// The human-readable explanation of this occurrence.
    pub fn detail(&self) -> Cow<'_, str> {
        match self {
            Self::Validation(errors) => match errors.as_slice() {
                [one] => Cow::Owned(format!("{}: {}", one.field, one.message)),
                _ => Cow::Borrowed("some fields are invalid; see `errors`"),
            },
            Self::BadRequest(detail)
            | Self::Conflict { detail, .. }
            | Self::ServiceUnavailable(detail)
            | Self::NotImplemented(detail) => Cow::Borrowed(detail),
            Self::Unauthorized => Cow::Borrowed("missing or invalid credentials"),
            Self::Forbidden => Cow::Borrowed("you are not allowed to do this"),
            Self::NotFound => Cow::Borrowed("no such resource"),
            Self::MethodNotAllowed { allow } => {
                Cow::Owned(format!("this resource supports only {}", allow.join(", ")))
            }
            Self::PreconditionFailed => {
                Cow::Borrowed("the resource has changed since it was read (If-Match)")
            }
            Self::PayloadTooLarge { limit } => {
                Cow::Owned(format!("the request body is larger than {limit} bytes"))
            }
            Self::UnsupportedMediaType => {
                Cow::Borrowed("the request body must be JSON (Content-Type: application/json)")
            }
            Self::TooManyRequests { retry_after } => {
                Cow::Owned(format!("too many requests; retry after {retry_after} s"))
            }
            Self::Internal(_) => Cow::Borrowed("an unexpected error occurred"),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self, request_id: &str) -> Problem<'_> {
        let (errors, field) = match self {
            Self::Validation(errors) => (errors.as_slice(), None),
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
        }
    }

    /// Renders the error as a problem+json response and logs an internal cause.
    ///
    /// The `X-Request-Id` header is added by the router, like on every response.
    pub fn to_response(&self, request_id: &str) -> Response {
        if let Self::Internal(cause) = self {
            log::error(format_args!("internal error: {cause}"));
        }
        let body = serde_json::to_vec(&self.problem(request_id))
            .unwrap_or_else(|_| br#"{"status":500}"#.to_vec());
        let mut response =
            Response::new(self.status(), body).with_header("content-type", PROBLEM_CONTENT_TYPE);
        match self {
            Self::MethodNotAllowed { allow } => {
                response = response.with_header("allow", allow.join(", "));
            }
            Self::TooManyRequests { retry_after } => {
                response = response.with_header("retry-after", retry_after.to_string());
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
    /// When the database constraint `constraint` caused a 409, name `field` in it:
    /// `db.execute(INSERT_ORG, ..).on_constraint("org_slug_key", "slug")`.
    fn on_constraint(self, constraint: &str, field: &str) -> Result<T, Error>;
}

impl<T> ResultExt<T> for Result<T, Error> {
    fn on_constraint(self, constraint: &str, field: &str) -> Result<T, Error> {
        self.map_err(|err| match err {
            Error::Conflict {
                constraint: Some(name),
                detail,
                field: _,
            } if name == constraint => Error::Conflict {
                detail: if detail == UNIQUE_VIOLATION_DETAIL
                    || detail.ends_with(" is already taken")
                {
                    format!("{field} is already taken")
                } else {
                    detail
                },
                field: Some(field.to_owned()),
                constraint: Some(name),
            },
            other => other,
        })
    }
}

/// The detail of a unique violation whose field is not known.
pub(crate) const UNIQUE_VIOLATION_DETAIL: &str = "a value is already taken";

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
                400,
                "validation-error",
                "one field error",
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
                Error::TooManyRequests { retry_after: 7 },
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
        let r = Error::TooManyRequests { retry_after: 30 }.to_response("r");
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
        let from_db = || -> Result<(), Error> {
            Err(Error::Conflict {
                field: None,
                detail: UNIQUE_VIOLATION_DETAIL.into(),
                constraint: Some("org_slug_key".into()),
            })
        };
        match from_db().on_constraint("org_slug_key", "slug") {
            Err(Error::Conflict { field, detail, .. }) => {
                assert_eq!(field.as_deref(), Some("slug"));
                assert_eq!(detail, "slug is already taken");
            }
            other => panic!("unexpected {other:?}"),
        }
        match from_db().on_constraint("other_key", "name") {
            Err(Error::Conflict { field, .. }) => assert_eq!(field, None),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(Ok::<_, Error>(1).on_constraint("x", "y"), Ok(1));
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
