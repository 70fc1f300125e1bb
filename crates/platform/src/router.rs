//! The one router: a table of `(method, path pattern) → handler`, and
//! [`handle`], the entry fn every component's `#[http_component]` calls.
//!
//! ```text
//! #[spin_sdk::http_component]
//! async fn entry(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
//!     let router = Router::new()
//!         .get("/health/live", live)
//!         .get_async("/health/ready", ready);
//!     plinth_platform::handle(&router, req).await
//! }
//! ```
//!
//! Patterns are matched against the **full request path** (what the client
//! sent, without the query; the same path as in `spin-full-url`), so a route
//! reads like the URL: `/v1/orgs/:slug`. The Spin route prefix of the
//! component is not stripped.
//!
//! - `:name` matches one non-empty segment; read it with
//!   [`RequestCtx::param`](crate::request::RequestCtx::param) (not
//!   percent-decoded).
//! - A trailing `/...` matches the prefix itself and anything below it.
//! - One trailing slash on the request path is ignored (`/health/live/`),
//!   and leading slashes collapse to one (`//health/live`), as in Spin's
//!   own route table.
//! - Precedence: a route without `/...` beats one with it, then fewer
//!   `:params` win, then declaration order.
//! - No pattern matches → 404 problem; a pattern matches but not the method →
//!   405 problem with `Allow`. `HEAD` is answered by the `GET` route, without
//!   body.
//! - Every response, error or not, carries `X-Request-Id`.

use std::future::Future;
use std::pin::Pin;

use crate::error::Error;
use crate::log;
use crate::request::{Method, RequestCtx};
use crate::response::Response;

/// What every handler returns.
pub type HandlerResult = Result<Response, Error>;

/// The future an async handler returns: `Box::pin(async move { … })`.
pub type BoxFuture<'a> = Pin<Box<dyn Future<Output = HandlerResult> + 'a>>;

/// A synchronous handler (the usual case: Postgres and Redis calls are sync).
pub type SyncHandler = fn(&RequestCtx) -> HandlerResult;

/// An async handler, for outbound HTTP (`spin_sdk::http::send`).
pub type AsyncHandler = for<'a> fn(&'a RequestCtx) -> BoxFuture<'a>;

/// The `:param` values of a matched route, in pattern order.
pub type Params = Vec<(&'static str, String)>;

/// A registered handler.
#[derive(Clone, Copy)]
pub enum Handler {
    Sync(SyncHandler),
    Async(AsyncHandler),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param(&'static str),
}

struct Route {
    /// `None` answers every method.
    method: Option<Method>,
    /// As declared: what log lines name the route by.
    pattern: &'static str,
    segments: Vec<Segment>,
    wildcard: bool,
    handler: Handler,
}

impl Route {
    fn parse(method: Option<Method>, pattern: &'static str, handler: Handler) -> Self {
        assert!(
            pattern.starts_with('/'),
            "route `{pattern}` must start with `/`"
        );
        let (body, wildcard) = match pattern.strip_suffix("/...") {
            Some(prefix) => (prefix, true),
            None => (pattern, false),
        };
        let segments = body
            .split('/')
            .skip(1)
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix(':') {
                Some(name) => Segment::Param(name),
                None => Segment::Literal(s),
            })
            .collect();
        Self {
            method,
            pattern,
            segments,
            wildcard,
            handler,
        }
    }

    /// The `:param` values when `path` matches this pattern.
    fn matches(&self, path: &[&str]) -> Option<Params> {
        if path.len() < self.segments.len() || (!self.wildcard && path.len() != self.segments.len())
        {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(path) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Param(name) if !part.is_empty() => {
                    params.push((*name, (*part).to_owned()))
                }
                _ => return None,
            }
        }
        Some(params)
    }

    fn answers(&self, method: Method) -> bool {
        match self.method {
            None => true,
            Some(own) => own == method || (own == Method::Get && method == Method::Head),
        }
    }

    /// Lower wins: an exact route before a wildcard, then the longer route
    /// (a wildcard with more segments is more specific, as in Spin), then
    /// fewer parameters.
    fn rank(&self) -> (bool, std::cmp::Reverse<usize>, usize) {
        let params = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Param(_)))
            .count();
        (
            self.wildcard,
            std::cmp::Reverse(self.segments.len()),
            params,
        )
    }
}

/// The route table of one component.
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
    component: &'static str,
}

macro_rules! method_fns {
    ($($sync:ident, $async_fn:ident => $method:expr;)*) => {
        $(
            #[doc = concat!("Adds a synchronous `", stringify!($sync), "` route.")]
            pub fn $sync(self, pattern: &'static str, handler: SyncHandler) -> Self {
                self.route(Some($method), pattern, Handler::Sync(handler))
            }

            #[doc = concat!("Adds an async `", stringify!($sync), "` route.")]
            pub fn $async_fn(self, pattern: &'static str, handler: AsyncHandler) -> Self {
                self.route(Some($method), pattern, Handler::Async(handler))
            }
        )*
    };
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// A router for the component `name`, as its log lines name it.
    pub fn named(name: &'static str) -> Self {
        Self {
            component: name,
            ..Self::default()
        }
    }

    method_fns! {
        get, get_async => Method::Get;
        post, post_async => Method::Post;
        put, put_async => Method::Put;
        patch, patch_async => Method::Patch;
        delete, delete_async => Method::Delete;
    }

    /// Adds a route that answers every method (e.g. a not-yet-implemented area).
    pub fn any(self, pattern: &'static str, handler: SyncHandler) -> Self {
        self.route(None, pattern, Handler::Sync(handler))
    }

    fn route(mut self, method: Option<Method>, pattern: &'static str, handler: Handler) -> Self {
        self.routes.push(Route::parse(method, pattern, handler));
        self
    }

    /// Finds the handler for `method` and `path`, with its `:param` values;
    /// 404 or 405 (with the allowed methods) otherwise.
    pub fn find(&self, method: Method, path: &str) -> Result<(Handler, Params), Error> {
        self.find_route(method, path)
            .map(|(handler, params, _)| (handler, params))
    }

    /// [`Router::find`], with the matched route's pattern.
    fn find_route(
        &self,
        method: Method,
        path: &str,
    ) -> Result<(Handler, Params, &'static str), Error> {
        let Some(rest) = path.strip_prefix('/') else {
            return Err(Error::NotFound);
        };
        // Spin routes `//health/live` to the `/health/live` component with
        // the path as sent: collapse leading slashes the same way.
        let rest = rest.trim_start_matches('/');
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let mut best: Option<(&Route, Params)> = None;
        let mut allow: Vec<&'static str> = Vec::new();
        for route in &self.routes {
            let Some(params) = route.matches(&parts) else {
                continue;
            };
            if !route.answers(method) {
                allowed_methods(route.method, &mut allow);
                continue;
            }
            if best.as_ref().is_none_or(|(b, _)| route.rank() < b.rank()) {
                best = Some((route, params));
            }
        }
        match best {
            Some((route, params)) => Ok((route.handler, params, route.pattern)),
            None if !allow.is_empty() => Err(Error::MethodNotAllowed { allow }),
            None => Err(Error::NotFound),
        }
    }
}

fn allowed_methods(method: Option<Method>, allow: &mut Vec<&'static str>) {
    let names: &[&'static str] = match method {
        Some(Method::Get) => &["GET", "HEAD"],
        Some(other) => &[other.as_str()],
        None => &[],
    };
    for name in names {
        if !allow.contains(name) {
            allow.push(name);
        }
    }
}

/// Routes `ctx`, runs the handler, renders an error as problem+json and adds
/// `X-Request-Id`. This is all of [`handle`] except the SDK conversions.
pub async fn dispatch(router: &Router, mut ctx: RequestCtx) -> Response {
    let started = std::time::Instant::now();
    log::start_request(ctx.request_id(), router.component);
    let mut route = "";
    let result = match router.find_route(ctx.method(), ctx.path()) {
        Ok((handler, params, pattern)) => {
            route = pattern;
            ctx.set_params(params);
            match handler {
                Handler::Sync(handler) => handler(&ctx),
                Handler::Async(handler) => handler(&ctx).await,
            }
        }
        Err(err) => Err(err),
    };
    let response = result.unwrap_or_else(|err| err.to_response(ctx.request_id()));
    let response = if ctx.method() == Method::Head {
        let (status, headers, _) = response.into_parts();
        headers
            .into_iter()
            .fold(Response::empty(status), |r, (n, v)| r.with_header(n, v))
    } else {
        response
    };
    log::request(
        ctx.method().as_str(),
        route,
        response.status(),
        started.elapsed().as_secs_f64() * 1000.0,
    );
    response.with_header("x-request-id", ctx.request_id().to_owned())
}

/// The entry point of every component: converts the SDK request, dispatches
/// it through `router`, and converts the response back.
#[cfg(target_arch = "wasm32")]
pub async fn handle(router: &Router, req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    use spin_sdk::http::Method as M;
    let method = match req.method() {
        M::Get => Method::Get,
        M::Head => Method::Head,
        M::Post => Method::Post,
        M::Put => Method::Put,
        M::Patch => Method::Patch,
        M::Delete => Method::Delete,
        M::Options => Method::Options,
        _ => Method::Other,
    };
    let path = req.path().to_owned();
    let query = req.query().to_owned();
    let headers = req
        .headers()
        .map(|(name, value)| {
            (
                name.to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let ctx = RequestCtx::new(method, path, query, headers, req.into_body())
        .with_services(std::rc::Rc::new(crate::services::SpinServices));
    let (status, headers, body) = dispatch(router, ctx).await.into_parts();
    let mut builder = spin_sdk::http::Response::builder();
    builder.status(status);
    for (name, value) in headers {
        builder.header(name.into_owned(), value.into_owned());
    }
    builder.body(body).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::json_static;
    use crate::task::block_on_ready;

    fn live(_: &RequestCtx) -> HandlerResult {
        Ok(json_static(200, r#"{"route":"live"}"#))
    }
    fn org(ctx: &RequestCtx) -> HandlerResult {
        Ok(Response::new(
            200,
            format!("org {}", ctx.param("slug")?).into_bytes(),
        ))
    }
    fn org_new(_: &RequestCtx) -> HandlerResult {
        Ok(Response::new(200, &b"new"[..]))
    }
    fn create(_: &RequestCtx) -> HandlerResult {
        Err(Error::field("name", "must not be empty"))
    }
    fn stub(_: &RequestCtx) -> HandlerResult {
        Err(Error::NotImplemented("auth is not implemented yet".into()))
    }
    fn slow(_: &RequestCtx) -> BoxFuture<'_> {
        Box::pin(async { Ok(Response::new(202, &b"async"[..])) })
    }

    fn router() -> Router {
        Router::new()
            .get("/health/live", live)
            .get("/v1/orgs/:slug", org)
            .get("/v1/orgs/new", org_new)
            .post("/v1/orgs", create)
            .get_async("/slow", slow)
            .any("/v1/auth/...", stub)
    }

    fn call(method: Method, path: &str) -> Response {
        let ctx = RequestCtx::new(
            method,
            path,
            "",
            vec![("x-request-id".into(), "rid".into())],
            vec![],
        );
        block_on_ready(dispatch(&router(), ctx))
    }

    #[test]
    fn routing_table() {
        let cases: Vec<(Method, &str, u16, &str, &str)> = vec![
            (
                Method::Get,
                "/health/live",
                200,
                r#"{"route":"live"}"#,
                "exact",
            ),
            (
                Method::Get,
                "/health/live/",
                200,
                r#"{"route":"live"}"#,
                "trailing slash",
            ),
            (
                Method::Get,
                "//health/live",
                200,
                r#"{"route":"live"}"#,
                "leading slashes collapse, as in Spin's route table",
            ),
            (
                Method::Get,
                "/health//live",
                404,
                "",
                "an empty segment inside",
            ),
            (Method::Get, "/v1/orgs/acme", 200, "org acme", "param"),
            (
                Method::Get,
                "/v1/orgs/new",
                200,
                "new",
                "literal beats param",
            ),
            (Method::Get, "/slow", 202, "async", "async handler"),
            (
                Method::Get,
                "/v1/auth",
                501,
                "",
                "wildcard matches its prefix",
            ),
            (
                Method::Post,
                "/v1/auth/login",
                501,
                "",
                "wildcard, any method",
            ),
            (Method::Delete, "/v1/auth/a/b/c", 501, "", "wildcard, deep"),
            (Method::Get, "/health", 404, "", "prefix of an exact route"),
            (
                Method::Get,
                "/health/live/x",
                404,
                "",
                "below an exact route",
            ),
            (Method::Get, "/v1/orgs//", 404, "", "empty param"),
            (Method::Get, "/HEALTH/live", 404, "", "case matters"),
            (Method::Get, "health/live", 404, "", "no leading slash"),
            (Method::Get, "/v1/authx", 404, "", "wildcard is per segment"),
            (Method::Delete, "/health/live", 405, "", "wrong method"),
            (
                Method::Put,
                "/v1/orgs",
                405,
                "",
                "wrong method on a post route",
            ),
            (Method::Post, "/v1/orgs", 422, "", "handler error"),
        ];
        for (method, path, status, body, case) in cases {
            let response = call(method, path);
            assert_eq!(response.status(), status, "{case}: {method} {path}");
            assert_eq!(response.header("x-request-id"), Some("rid"), "{case}");
            if !body.is_empty() {
                assert_eq!(
                    std::str::from_utf8(response.body()).unwrap(),
                    body,
                    "{case}"
                );
            }
            if status >= 400 {
                assert_eq!(
                    response.header("content-type"),
                    Some("application/problem+json"),
                    "{case}"
                );
            }
        }
    }

    #[test]
    fn the_longer_wildcard_wins_whatever_the_order() {
        fn outer(_: &RequestCtx) -> HandlerResult {
            Ok(Response::new(200, &b"outer"[..]))
        }
        let routers = [
            Router::new()
                .any("/v1/...", outer)
                .any("/v1/auth/...", stub),
            Router::new()
                .any("/v1/auth/...", stub)
                .any("/v1/...", outer),
        ];
        for (order, router) in routers.iter().enumerate() {
            for (path, status) in [("/v1/auth/login", 501), ("/v1/other", 200)] {
                let ctx = RequestCtx::new(Method::Get, path, "", vec![], vec![]);
                let response = block_on_ready(dispatch(router, ctx));
                assert_eq!(response.status(), status, "order {order}: {path}");
            }
        }
    }

    #[test]
    fn method_not_allowed_lists_allow() {
        let response = call(Method::Delete, "/health/live");
        assert_eq!(response.header("allow"), Some("GET, HEAD"));
        let response = call(Method::Get, "/v1/orgs");
        assert_eq!(response.header("allow"), Some("POST"));
    }

    #[test]
    fn head_answers_get_without_body() {
        let response = call(Method::Head, "/health/live");
        assert_eq!(response.status(), 200);
        assert!(response.body().is_empty());
        assert_eq!(response.header("content-type"), Some("application/json"));
    }

    #[test]
    fn errors_carry_the_request_id_in_body_and_header() {
        let response = call(Method::Get, "/nope");
        let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(json["request_id"], "rid");
        assert_eq!(json["type"], "https://plinth.dev/problems/not-found");
    }
}
