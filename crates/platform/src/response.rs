//! The response a handler returns: status, headers and body, independent of
//! the Spin SDK so handlers and the router unit-test natively.
//!
//! The router converts it into the SDK's response at the very edge and adds
//! `X-Request-Id`.

use std::borrow::Cow;

use serde::Serialize;

use crate::error::{Context, Error};

/// A list of headers: `(lowercase name, value)`.
pub type Headers = Vec<(Cow<'static, str>, Cow<'static, str>)>;

/// An HTTP response. Header names are lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Headers,
    body: Cow<'static, [u8]>,
}

impl Response {
    /// A response with `status` and `body`, without headers.
    pub fn new(status: u16, body: impl Into<Cow<'static, [u8]>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A response without a body (`204 No Content`, for instance).
    pub fn empty(status: u16) -> Self {
        Self::new(status, &[][..])
    }

    /// Adds a header (name in lowercase).
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Splits the response into its parts (for the conversion at the edge).
    pub fn into_parts(self) -> (u16, Headers, Vec<u8>) {
        (self.status, self.headers, self.body.into_owned())
    }
}

/// A JSON response: `json(201, &org)`. Serialization failure is an internal error.
pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Response, Error> {
    let body = serde_json::to_vec(value).context("serialize response body")?;
    Ok(Response::new(status, body).with_header("content-type", "application/json"))
}

/// A JSON response from a constant body, without allocating for it.
pub fn json_static(status: u16, body: &'static str) -> Response {
    Response::new(status, body.as_bytes()).with_header("content-type", "application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_sets_content_type_and_body() {
        let r = json(201, &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.body(), br#"{"a":1}"#);
    }

    #[test]
    fn static_body_is_borrowed() {
        let r = json_static(200, r#"{"status":"ok"}"#);
        assert!(matches!(r.body, Cow::Borrowed(_)));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}
