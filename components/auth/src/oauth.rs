//! `POST /v1/auth/token`: the OAuth 2.0 token endpoint (RFC 6749 §3.2).
//!
//! The body is `application/x-www-form-urlencoded` (RFC 6749 Appendix B:
//! percent-escapes, `+` for a space). Two grants:
//!
//! - `grant_type=password` with `username` (the email) and `password`
//!   (§4.3): the session JSON login opens ([`login::sign_in`], in the
//!   user's default org); `scope` is accepted and ignored.
//! - `grant_type=refresh_token` with `refresh_token` (§6): the rotation of
//!   `/v1/auth/refresh` ([`refresh::rotate`], with its grace and reuse
//!   detection); `scope` is ignored too.
//!
//! Success is 200 `{access_token, token_type: "Bearer", expires_in,
//! refresh_token}` (§5.1). A refused grant is 400 with an RFC 6749 §5.2 body
//! `{error, error_description}`, not problem+json: `invalid_request` (the
//! body is not a form, e.g. JSON, or a parameter is missing or repeated),
//! `unsupported_grant_type`, `invalid_grant` (wrong credentials, an unknown,
//! expired, revoked or reused refresh token, an account in no org).
//! Refusals that are not the grant's (429 over a rate limit, 413, 503, 500)
//! are the platform's problem+json, as on every route. Every answer has
//! `Cache-Control: no-store` and `Pragma: no-cache` (§5.1), and the
//! RateLimit headers of [`crate::rate_limit`].
//!
//! **Clients are public** (§2.1): there is no client registration, so no
//! client is authenticated. `client_id` is optional and ignored, and so are
//! `client_secret` and an `Authorization` header; parameters this endpoint
//! does not know are ignored (§3.2), parameters without a value count as
//! absent and a parameter given twice is `invalid_request`. The query string
//! is not read: credentials belong in the body.

use plinth_platform::request::percent_decode;
use plinth_platform::{Error, HandlerResult, RequestCtx, json};
use serde::Serialize;

use crate::rate_limit::{self, Limits, Route};
use crate::tokens::{self, Tokens};
use crate::{login, refresh};

/// The largest form accepted (a token request is a few hundred bytes).
const BODY_LIMIT: usize = 16 * 1024;

/// An RFC 6749 §5.2 error.
#[derive(Debug, Serialize)]
struct GrantError {
    error: &'static str,
    error_description: String,
}

impl GrantError {
    fn invalid_request(description: impl Into<String>) -> Self {
        Self {
            error: "invalid_request",
            error_description: description.into(),
        }
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self {
            error: "invalid_grant",
            error_description: description.into(),
        }
    }
}

/// Why a token request got no tokens.
enum Refusal {
    /// The grant's own refusal: a §5.2 body.
    Grant(GrantError),
    /// Anything else: the platform renders it.
    Other(Error),
}

impl From<GrantError> for Refusal {
    fn from(err: GrantError) -> Self {
        Self::Grant(err)
    }
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Self {
        Self::Other(err)
    }
}

pub fn token(ctx: &RequestCtx) -> HandlerResult {
    let answer = rate_limit::guarded(ctx, Route::Token, |limits| match grant(ctx, limits) {
        Ok(tokens) => json(200, &tokens),
        Err(Refusal::Grant(err)) => json(400, &err),
        Err(Refusal::Other(err)) => Err(err),
    });
    let response = answer.unwrap_or_else(|err| err.to_response(ctx.request_id()));
    Ok(tokens::no_store(response))
}

fn grant(ctx: &RequestCtx, limits: &mut Limits) -> Result<Tokens, Refusal> {
    let form = Form::parse(ctx)?;
    match form.required("grant_type")? {
        "password" => {
            let username = form.required("username")?;
            let password = form.required("password")?;
            login::sign_in(ctx, limits, username, password.to_owned(), None)
                .map(|signed_in| signed_in.tokens)
                .map_err(|err| match err {
                    Error::Unauthorized => {
                        GrantError::invalid_grant("the username or password is wrong").into()
                    }
                    Error::Forbidden => {
                        GrantError::invalid_grant("the account is a member of no org").into()
                    }
                    other => Refusal::Other(other),
                })
        }
        "refresh_token" => {
            let presented = form.required("refresh_token")?;
            refresh::rotate(ctx, presented).map_err(|err| match err {
                Error::Unauthorized => GrantError::invalid_grant(
                    "the refresh token is invalid, expired, revoked or already used",
                )
                .into(),
                other => Refusal::Other(other),
            })
        }
        other => Err(GrantError {
            error: "unsupported_grant_type",
            error_description: format!(
                "grant_type {other:?} is not supported; use password or refresh_token"
            ),
        }
        .into()),
    }
}

/// A decoded `application/x-www-form-urlencoded` body.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(ctx: &RequestCtx) -> Result<Self, Refusal> {
        if !is_form(ctx.header("content-type")) {
            return Err(GrantError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            )
            .into());
        }
        let body = ctx.body();
        if body.len() > BODY_LIMIT {
            return Err(Error::PayloadTooLarge { limit: BODY_LIMIT }.into());
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| GrantError::invalid_request("the body is not UTF-8"))?;
        Self::decode(text).ok_or_else(|| {
            GrantError::invalid_request("the body is not valid percent-encoded UTF-8").into()
        })
    }

    /// The pairs of `text`; `None` for a bad escape or non-UTF-8 result.
    fn decode(text: &str) -> Option<Self> {
        text.split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                Some((percent_decode(name)?, percent_decode(value)?))
            })
            .collect::<Option<Vec<_>>>()
            .map(Self)
    }

    /// The value of `name`; `invalid_request` when it is missing, empty
    /// (§3.2: the same as missing) or given more than once.
    fn required(&self, name: &str) -> Result<&str, GrantError> {
        let mut values = self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (Some(_), Some(_)) => Err(GrantError::invalid_request(format!(
                "{name} is given more than once"
            ))),
            (Some(value), None) if !value.is_empty() => Ok(value),
            _ => Err(GrantError::invalid_request(format!("{name} is missing"))),
        }
    }
}

/// `application/x-www-form-urlencoded`, with any parameters.
fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}
