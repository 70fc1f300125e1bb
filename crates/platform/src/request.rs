//! What a handler sees of a request ([`RequestCtx`]): method, path, query
//! parameters, headers, `:param` values, the request id, and the JSON body
//! parser.
//!
//! - Request id: a valid incoming `X-Request-Id` (1–128 chars of
//!   `[A-Za-z0-9._-]`) is kept, anything else is replaced by a generated one;
//!   the router echoes it on every response, errors included.
//! - JSON bodies: [`RequestCtx::json`] requires `Content-Type:
//!   application/json` (or `application/<x>+json`) → else 415, a body of at
//!   most [`DEFAULT_BODY_LIMIT`] bytes → else 413, and well-formed JSON that
//!   fits the target type → else 400 naming the field (unknown, missing or
//!   wrong type; use `#[serde(deny_unknown_fields)]`) or the line and column.

use std::fmt;

use serde::de::DeserializeOwned;

use std::rc::Rc;

use crate::config::Source;
use crate::error::{Error, FieldError};
use crate::pg::Db;
use crate::services::{NoServices, Services};

pub use crate::response::{Response, json, json_static};

/// The default maximum size of a JSON request body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The longest `X-Request-Id` accepted from a client.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// HTTP methods the router knows. Anything else is `Other` and gets a 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl Method {
    /// Parses a method name (case-sensitive, as HTTP requires).
    pub fn parse(name: &str) -> Self {
        match name {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Other => "OTHER",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request as a handler sees it, with the [`Services`] it may use.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    method: Method,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    params: Vec<(&'static str, String)>,
    request_id: String,
    services: ServicesHandle,
}

#[derive(Clone)]
struct ServicesHandle(Rc<dyn Services>);

impl fmt::Debug for ServicesHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Services")
    }
}

impl RequestCtx {
    /// Builds a request. `path` is the full request path (no query), header
    /// names are matched case-insensitively. The request id is taken from
    /// `X-Request-Id` when valid, else generated.
    pub fn new(
        method: Method,
        path: impl Into<String>,
        query: impl Into<String>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        let request_id = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-request-id"))
            .map(|(_, v)| v.as_str())
            .filter(|v| is_valid_request_id(v))
            .map_or_else(generate_request_id, str::to_owned);
        Self {
            method,
            path: path.into(),
            query: query.into(),
            headers,
            body,
            params: Vec::new(),
            request_id,
            services: ServicesHandle(Rc::new(NoServices)),
        }
    }

    /// The same request with `services` (the router gives Spin's; a native
    /// test gives a [`crate::services::fake::FakeServices`]).
    pub fn with_services(mut self, services: Rc<dyn Services>) -> Self {
        self.services = ServicesHandle(services);
        self
    }

    pub fn services(&self) -> &dyn Services {
        &*self.services.0
    }

    /// A new connection to the component's database.
    pub fn db(&self) -> Result<Db, Error> {
        self.services.0.db()
    }

    /// The component's settings.
    pub fn config(&self) -> &dyn Source {
        self.services.0.config()
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.services.0.now()
    }

    /// `N` bytes from a cryptographically secure source.
    pub fn random<const N: usize>(&self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        self.services.0.fill_random(&mut out)?;
        Ok(out)
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// The request path without the query string, e.g. `/v1/orgs/acme`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string, without `?` (`""` when absent).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The first value of query parameter `name`, percent-decoded (`+` is a
    /// space). A value that is not UTF-8 after decoding is a 400 naming it.
    pub fn query_param(&self, name: &str) -> Result<Option<String>, Error> {
        for pair in self.query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if percent_decode(key).as_deref() == Some(name) {
                return percent_decode(value).map(Some).ok_or_else(|| {
                    Error::Malformed(vec![FieldError::new(
                        name,
                        "is not valid percent-encoded UTF-8",
                    )])
                });
            }
        }
        Ok(None)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The value of the `:name` path segment (not percent-decoded).
    /// A name the route does not declare is a bug: internal error.
    pub fn param(&self, name: &str) -> Result<&str, Error> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| Error::internal(format!("route has no parameter `{name}`")))
    }

    /// The id in the route's parameter `name`. A malformed one names no
    /// resource: 404, as for another org's.
    pub fn path_id<K: crate::domain::Kind>(
        &self,
        name: &str,
    ) -> Result<crate::domain::Id<K>, Error> {
        crate::domain::Id::parse(self.param(name)?).map_err(|_| Error::NotFound)
    }

    pub(crate) fn set_params(&mut self, params: Vec<(&'static str, String)>) {
        self.params = params;
    }

    /// Parses the JSON body into `T` with the default size limit.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.json_with_limit(DEFAULT_BODY_LIMIT)
    }

    /// Parses the JSON body into `T`, refusing bodies over `limit` bytes.
    pub fn json_with_limit<T: DeserializeOwned>(&self, limit: usize) -> Result<T, Error> {
        check_json_content_type(self.header("content-type"))?;
        parse_json_body(&self.body, limit)
    }
}

/// Decodes `%XX` escapes and `+` (a space) of a query component; `None` for
/// a bad escape or a result that is not UTF-8.
pub fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = input.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Accepts `application/json` and `application/<anything>+json`, with parameters.
pub fn check_json_content_type(content_type: Option<&str>) -> Result<(), Error> {
    let essence = content_type
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let ok = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if ok {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType)
    }
}

/// Parses `body` as JSON into `T`: 413 over `limit`; 400 for malformed JSON
/// (naming the position) or a body of the wrong shape: a wrong type, a
/// missing or unknown field, named by its path (`settings.default_currency`).
pub fn parse_json_body<T: DeserializeOwned>(body: &[u8], limit: usize) -> Result<T, Error> {
    if body.len() > limit {
        return Err(Error::PayloadTooLarge { limit });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|err| json_error(&err.path().to_string(), err.inner()))?;
    de.end().map_err(|err| json_error(".", &err))?;
    Ok(value)
}

fn json_error(path: &str, err: &serde_json::Error) -> Error {
    use serde_json::error::Category;
    let position = format!("line {} column {}", err.line(), err.column());
    match err.classify() {
        Category::Data => {
            let message = err.to_string();
            let text = strip_position(&message);
            match field_path(path, field_in_message(&message).as_deref()) {
                Some(field) => Error::Malformed(vec![FieldError::new(field, text)]),
                None => Error::BadRequest(format!("invalid JSON body at {position}: {text}")),
            }
        }
        Category::Eof => Error::BadRequest(format!("JSON body ends early at {position}")),
        Category::Syntax | Category::Io => {
            Error::BadRequest(format!("malformed JSON body at {position}"))
        }
    }
}

/// The API path of the field at fault: where the deserializer was (`.` at
/// the top), plus the field a missing/unknown/duplicate message names.
fn field_path(path: &str, named: Option<&str>) -> Option<String> {
    let at = (path != ".").then_some(path);
    match (at, named) {
        (Some(at), Some(name)) if at == name || at.ends_with(&format!(".{name}")) => {
            Some(at.to_owned())
        }
        (Some(at), Some(name)) => Some(format!("{at}.{name}")),
        (None, Some(name)) => Some(name.to_owned()),
        (Some(at), None) => Some(at.to_owned()),
        (None, None) => None,
    }
}

fn field_in_message(message: &str) -> Option<String> {
    let known = ["unknown field `", "missing field `", "duplicate field `"];
    known.iter().find_map(|prefix| {
        let start = message.find(prefix)? + prefix.len();
        let end = message[start..].find('`')?;
        Some(message[start..start + end].to_owned())
    })
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(pos) => message[..pos].to_owned(),
        None => message.to_owned(),
    }
}

/// True for 1–128 characters of `[A-Za-z0-9._-]`.
pub fn is_valid_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A new random request id: 32 lowercase hex characters.
///
/// Seeded from the standard library's per-thread random hash keys (WASI
/// `random` on wasm), the clock and a counter. Unique, not a secret.
pub fn generate_request_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let state = RandomState::new();
    let word = |salt: u64| {
        let mut hasher = state.build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u64(count);
        hasher.write_u64(salt);
        hasher.finish()
    };
    format!("{:016x}{:016x}", word(1), word(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct NewOrg {
        name: String,
        seats: u32,
    }

    fn ctx_with(content_type: Option<&str>, body: &str) -> RequestCtx {
        let headers = content_type
            .map(|v| vec![("Content-Type".to_owned(), v.to_owned())])
            .unwrap_or_default();
        RequestCtx::new(
            Method::Post,
            "/v1/orgs",
            "",
            headers,
            body.as_bytes().to_vec(),
        )
    }

    #[test]
    fn request_id_validation() {
        let long = "a".repeat(129);
        let max = "a".repeat(128);
        let cases = [
            ("abc-123_X.y", true, "allowed characters"),
            (max.as_str(), true, "exactly 128 characters"),
            (long.as_str(), false, "129 characters"),
            ("", false, "empty"),
            ("has space", false, "space"),
            ("semi;colon", false, "semicolon"),
            ("ünïcode", false, "non-ascii"),
            ("new\nline", false, "newline (header injection)"),
        ];
        for (value, valid, case) in cases {
            assert_eq!(is_valid_request_id(value), valid, "{case}");
        }
    }

    #[test]
    fn request_id_is_kept_or_generated() {
        let keep = RequestCtx::new(
            Method::Get,
            "/",
            "",
            vec![("X-Request-Id".into(), "client-id.1".into())],
            vec![],
        );
        assert_eq!(keep.request_id(), "client-id.1");
        let bad = RequestCtx::new(
            Method::Get,
            "/",
            "",
            vec![("x-request-id".into(), "bad id".into())],
            vec![],
        );
        assert_eq!(bad.request_id().len(), 32);
        assert!(is_valid_request_id(bad.request_id()));
        let a = generate_request_id();
        let b = generate_request_id();
        assert_ne!(a, b, "two generated ids differ");
    }

    #[test]
    fn json_body_good_and_bad() {
        let ok: NewOrg = ctx_with(
            Some("application/json; charset=utf-8"),
            r#"{"name":"A","seats":3}"#,
        )
        .json()
        .unwrap();
        assert_eq!(
            ok,
            NewOrg {
                name: "A".into(),
                seats: 3
            }
        );

        // (content type, body, expected status, field named, case)
        type Case<'a> = (Option<&'a str>, &'a str, u16, Option<&'a str>, &'a str);
        let cases: Vec<Case> = vec![
            (
                None,
                r#"{"name":"A","seats":3}"#,
                415,
                None,
                "no content type",
            ),
            (
                Some("text/plain"),
                r#"{"name":"A","seats":3}"#,
                415,
                None,
                "text/plain",
            ),
            (
                Some("application/problem+json"),
                r#"{"name":"A","seats":3}"#,
                200,
                None,
                "+json suffix is json",
            ),
            (
                Some("application/json"),
                r#"{"name":"A","seats":3,"x":1}"#,
                400,
                Some("x"),
                "unknown field",
            ),
            (
                Some("application/json"),
                r#"{"name":"A"}"#,
                400,
                Some("seats"),
                "missing field",
            ),
            (
                Some("application/json"),
                r#"{"name":"A","seats":-1}"#,
                400,
                Some("seats"),
                "wrong type",
            ),
            (
                Some("application/json"),
                r#"{"name":"A","#,
                400,
                None,
                "truncated",
            ),
            (
                Some("application/json"),
                "{\n\"name\" 1}",
                400,
                None,
                "syntax error",
            ),
            (Some("application/json"), "", 400, None, "empty body"),
        ];
        for (content_type, body, status, field, case) in cases {
            let result = ctx_with(content_type, body).json::<NewOrg>();
            match result {
                Ok(_) => assert_eq!(status, 200, "{case}"),
                Err(err) => {
                    assert_eq!(err.status(), status, "{case}: {err}");
                    if let Some(field) = field {
                        match &err {
                            Error::Malformed(errors) => {
                                assert_eq!(errors[0].field, field, "{case}")
                            }
                            other => panic!("{case}: expected a field error, got {other:?}"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn nested_fields_are_named_by_their_api_path() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Matching {
            threshold: u8,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Settings {
            default_currency: String,
            matching: Option<Matching>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Patch {
            settings: Settings,
            tags: Option<Vec<String>>,
        }
        let cases = [
            (
                r#"{"settings":{"default_currency":1}}"#,
                "settings.default_currency",
                "wrong type",
            ),
            (
                r#"{"settings":{}}"#,
                "settings.default_currency",
                "missing nested",
            ),
            (
                r#"{"settings":{"default_currency":"EUR","colour":1}}"#,
                "settings.colour",
                "unknown nested",
            ),
            (
                r#"{"settings":{"default_currency":"EUR","matching":{"threshold":"x"}}}"#,
                "settings.matching.threshold",
                "two levels down",
            ),
            (
                r#"{"settings":{"default_currency":"EUR"},"tags":["a",2]}"#,
                "tags[1]",
                "array element",
            ),
            (r#"{"other":1}"#, "other", "unknown at the top"),
        ];
        for (body, field, case) in cases {
            let err = parse_json_body::<Patch>(body.as_bytes(), 1000).unwrap_err();
            assert_eq!(err.status(), 400, "{case}");
            match err {
                Error::Malformed(errors) => assert_eq!(errors[0].field, field, "{case}"),
                other => panic!("{case}: {other:?}"),
            }
        }
        let trailing = parse_json_body::<serde_json::Value>(b"{} x", 100).unwrap_err();
        assert_eq!(trailing.status(), 400, "trailing characters");
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let err = parse_json_body::<serde_json::Value>(b"{\n  \"a\": ,\n}", 100).unwrap_err();
        assert!(err.detail().contains("line 2 column"), "{}", err.detail());
    }

    #[test]
    fn body_limit() {
        let err = parse_json_body::<serde_json::Value>(b"[1,2,3]", 3).unwrap_err();
        assert_eq!(err.status(), 413);
        assert!(parse_json_body::<serde_json::Value>(b"[1]", 3).is_ok());
    }

    #[test]
    fn query_params() {
        let ctx = RequestCtx::new(
            Method::Get,
            "/v1/companies",
            "limit=20&cursor=a%2Fb%3D&q=acme+corp&empty=&flag&bad=%ZZ&nonutf=%FF",
            vec![],
            vec![],
        );
        let cases = [
            ("limit", Some("20"), "plain"),
            ("cursor", Some("a/b="), "percent-decoded"),
            ("q", Some("acme corp"), "plus is a space"),
            ("empty", Some(""), "empty value"),
            ("flag", Some(""), "no value"),
            ("missing", None, "absent"),
        ];
        for (name, expected, case) in cases {
            assert_eq!(
                ctx.query_param(name).unwrap().as_deref(),
                expected,
                "{case}"
            );
        }
        assert_eq!(
            ctx.query_param("bad").unwrap_err().status(),
            400,
            "bad escape"
        );
        assert_eq!(
            ctx.query_param("nonutf").unwrap_err().status(),
            400,
            "not utf-8"
        );
    }

    #[test]
    fn param_lookup() {
        let mut ctx = ctx_with(None, "");
        ctx.set_params(vec![("slug", "acme".into())]);
        assert_eq!(ctx.param("slug").unwrap(), "acme");
        assert_eq!(ctx.param("id").unwrap_err().status(), 500);
    }

    #[test]
    fn path_ids_are_parsed_and_a_malformed_one_is_not_found() {
        let mut ctx = ctx_with(None, "");
        let id = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
        ctx.set_params(vec![("id", id.into()), ("bad", "not-a-uuid".into())]);
        let parsed: crate::domain::CompanyId = ctx.path_id("id").unwrap();
        assert_eq!(parsed.as_str(), id);
        let bad = ctx.path_id::<crate::domain::id::Company>("bad");
        assert!(matches!(bad, Err(Error::NotFound)));
    }

    #[test]
    fn required_values_are_parsed_and_null_refused() {
        let parse = |v: String| {
            v.parse::<u8>()
                .map_err(|_| Error::field("n", "must be a number"))
        };
        assert_eq!(Given::Absent.required_with("n", parse).unwrap(), None);
        assert_eq!(
            Given::Value("7".to_owned())
                .required_with("n", parse)
                .unwrap(),
            Some(7)
        );
        let null = Given::<String>::Null.required_with("n", parse).unwrap_err();
        assert_eq!(null.status(), 400);
        let bad = Given::Value("x".to_owned()).required_with("n", parse);
        assert_eq!(bad.unwrap_err().invalid_field(), Some("n"));
    }
}

/// A field of a partial update (`PATCH`): absent, `null`, or a value. Use
/// with `#[serde(default)]` on the field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Given<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Given<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Self::Null, Self::Value))
    }
}

impl<T> Given<T> {
    /// The value if one was given; `null` for a field that cannot be
    /// cleared is the wrong shape (400 naming `field`).
    pub fn required(self, field: &str) -> Result<Option<T>, Error> {
        match self {
            Self::Absent => Ok(None),
            Self::Null => Err(Error::Malformed(vec![crate::error::FieldError::new(
                field,
                "must not be null",
            )])),
            Self::Value(value) => Ok(Some(value)),
        }
    }

    /// [`Given::required`] with a given value parsed by `parse`.
    pub fn required_with<U>(
        self,
        field: &str,
        parse: impl FnOnce(T) -> Result<U, Error>,
    ) -> Result<Option<U>, Error> {
        self.required(field)?.map(parse).transpose()
    }

    /// `None` when absent, `Some(None)` to clear, `Some(Some(v))` to set.
    pub fn clearable(self) -> Option<Option<T>> {
        match self {
            Self::Absent => None,
            Self::Null => Some(None),
            Self::Value(value) => Some(Some(value)),
        }
    }

    /// [`Given::clearable`] with a given value parsed by `parse`.
    pub fn clearable_with<U>(
        self,
        parse: impl FnOnce(T) -> Result<U, Error>,
    ) -> Result<Option<Option<U>>, Error> {
        self.clearable()
            .map(|value| value.map(parse).transpose())
            .transpose()
    }
}
