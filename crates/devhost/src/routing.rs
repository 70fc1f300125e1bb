//! HTTP route table with Spin's matching and precedence rules.
//!
//! Spin (via `routefinder`) matches the raw, undecoded path: `/a/...` is a
//! wildcard matching `/a`, `/a/` and everything below; `:name` captures one
//! non-empty segment; an exact route also matches with one trailing slash.
//! When several routes match, the one with the more specific segment at the
//! first position where they differ wins (literal > `:param` > wildcard), so
//! exact routes beat wildcards and longer wildcard prefixes beat shorter
//! ones. Paths that match nothing (including `..` tricks and empty segments
//! inside the path) are 404. Leading slashes are collapsed: `//h/exact` is
//! served by `/h/exact`, as Spin does.

/// One segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A route from the manifest, parsed.
#[derive(Debug, Clone)]
pub struct Route {
    /// As written in the manifest (`spin-raw-component-route`).
    raw: String,
    /// Normalised with the base `/` (`spin-matched-route`).
    based: String,
    segments: Vec<Segment>,
    wildcard: bool,
    component: usize,
}

/// A successful match for one request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub component: usize,
    pub raw_route: &'a str,
    pub based_route: &'a str,
    /// The route without a trailing `/...` (`spin-component-route`).
    pub component_route: &'a str,
    pub path_info: String,
    /// `(name, value)` per `:name`, in route order, not percent-decoded.
    pub captures: Vec<(&'a str, String)>,
}

/// The table of routes for the app.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Route {
    /// Parses a route string (`/a/:b/...`) for component index `component`.
    pub fn parse(raw: &str, component: usize) -> Result<Self, String> {
        let absolute = if raw.starts_with('/') {
            raw.to_string()
        } else {
            format!("/{raw}")
        };
        // Spin strips exactly one trailing slash from the route.
        let based = absolute
            .strip_suffix('/')
            .map(str::to_string)
            .unwrap_or(absolute);
        let (prefix, wildcard) = if let Some(p) = based.strip_suffix("/...") {
            (p, true)
        } else if let Some(p) = based.strip_suffix("/*") {
            (p, true)
        } else if based == "..." {
            ("", true)
        } else {
            (based.as_str(), false)
        };
        let mut segments = Vec::new();
        for section in prefix.split('/').filter(|s| !s.is_empty()) {
            if let Some(name) = section.strip_prefix(':') {
                if name.is_empty() {
                    return Err(format!("route {raw:?}: params must be named"));
                }
                segments.push(Segment::Param(name.to_string()));
            } else if section == "*" || section == "..." {
                return Err(format!(
                    "route {raw:?}: a wildcard may only be the last segment"
                ));
            } else {
                segments.push(Segment::Literal(section.to_string()));
            }
        }
        Ok(Self {
            raw: raw.to_string(),
            based,
            segments,
            wildcard,
            component,
        })
    }

    /// Specificity ranks, one per pattern element (wildcard last).
    fn ranks(&self) -> impl Iterator<Item = u8> + '_ {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Literal(_) => 3,
                Segment::Param(_) => 2,
            })
            .chain(self.wildcard.then_some(1))
    }

    /// Tries the route against the path's segments.
    fn matches<'a>(&'a self, segs: &[&str], trailing_slash: bool) -> Option<RouteMatch<'a>> {
        if segs.len() < self.segments.len() || (!self.wildcard && segs.len() != self.segments.len())
        {
            return None;
        }
        let mut captures = Vec::new();
        for (pat, seg) in self.segments.iter().zip(segs) {
            match pat {
                Segment::Literal(lit) if lit == seg => {}
                Segment::Param(name) if !seg.is_empty() => {
                    captures.push((name.as_str(), (*seg).to_string()))
                }
                _ => return None,
            }
        }
        let path_info = if self.wildcard {
            let rest = &segs[self.segments.len()..];
            match (rest.is_empty(), trailing_slash) {
                (true, false) => String::new(),
                (true, true) => "/".to_string(),
                (false, false) => format!("/{}", rest.join("/")),
                (false, true) => format!("/{}/", rest.join("/")),
            }
        } else {
            String::new()
        };
        let component_route = self.raw.strip_suffix("/...").unwrap_or(&self.raw);
        Some(RouteMatch {
            component: self.component,
            raw_route: &self.raw,
            based_route: &self.based,
            component_route,
            path_info,
            captures,
        })
    }
}

/// Splits a request path into segments, noting one trailing slash.
/// Returns `None` for paths that cannot match any route (no leading `/`).
fn split_path(path: &str) -> Option<(Vec<&str>, bool)> {
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some((Vec::new(), true));
    }
    let mut segs: Vec<&str> = rest.split('/').collect();
    let trailing = segs.last() == Some(&"");
    if trailing {
        segs.pop();
    }
    Some((segs, trailing))
}

/// True when `a` is more specific than `b` for a path both match.
fn more_specific(a: &Route, b: &Route) -> bool {
    for (ra, rb) in a.ranks().zip(b.ranks()) {
        if ra != rb {
            return ra > rb;
        }
    }
    // Equal so far: the shorter one ends where the other has only a
    // wildcard matching nothing, so the shorter (exact) one wins.
    a.ranks().count() < b.ranks().count()
}

impl Router {
    /// Builds the table; routes identical as written are an error.
    pub fn build(routes: Vec<Route>) -> Result<Self, String> {
        for (i, r) in routes.iter().enumerate() {
            if let Some(prev) = routes[..i].iter().find(|p| p.raw == r.raw) {
                return Err(format!(
                    "route {:?} is used by two triggers (components #{} and #{})",
                    r.raw, prev.component, r.component
                ));
            }
        }
        Ok(Self { routes })
    }

    /// Finds the best route for a raw request path.
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        // Spin serves `//h/exact` as `/h/exact`: leading slashes collapse to one.
        let rest = path.trim_start_matches('/');
        let path = if rest.len() < path.len() {
            &path[path.len() - rest.len() - 1..]
        } else {
            path
        };
        let (segs, trailing) = split_path(path)?;
        let mut best: Option<(&Route, RouteMatch<'_>)> = None;
        for r in &self.routes {
            if let Some(m) = r.matches(&segs, trailing) {
                match &best {
                    Some((b, _)) if !more_specific(r, b) => {}
                    _ => best = Some((r, m)),
                }
            }
        }
        best.map(|(_, m)| m)
    }

    pub fn routes(&self) -> impl Iterator<Item = (&str, usize)> {
        self.routes.iter().map(|r| (r.raw.as_str(), r.component))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[&str]) -> Router {
        Router::build(
            routes
                .iter()
                .enumerate()
                .map(|(i, r)| Route::parse(r, i).unwrap())
                .collect(),
        )
        .unwrap()
    }

    /// (routes, path, expected route as written, path-info, captures)
    #[test]
    fn precedence_table() {
        let conformance = [
            "/h/exact",
            "/h/wild/...",
            "/h/wild/deeper",
            "/h/p/:name/x",
            "/h/p/...",
            "/one/...",
            "/one/two/...",
            "/one/two/three/...",
            "/u/:id",
            "/u/me",
        ];
        type Expected<'a> = Option<(&'a str, &'a str, &'a [(&'a str, &'a str)])>;
        let cases: &[(&[&str], &str, Expected)] = &[
            (&conformance, "/h/exact", Some(("/h/exact", "", &[]))),
            (&conformance, "/h/exact/", Some(("/h/exact", "", &[]))),
            (&conformance, "/h/exact//", None),
            (&conformance, "/H/exact", None),
            (&conformance, "//h/exact", Some(("/h/exact", "", &[]))),
            (&conformance, "//h/wild/a", Some(("/h/wild/...", "/a", &[]))),
            (&conformance, "/h//exact", None),
            (&conformance, "/h/exact/..", None),
            (&conformance, "/h/../h/exact", None),
            (&conformance, "/h/exact/more", None),
            (&conformance, "/h/wild", Some(("/h/wild/...", "", &[]))),
            (&conformance, "/h/wild/", Some(("/h/wild/...", "/", &[]))),
            (
                &conformance,
                "/h/wild/a/b",
                Some(("/h/wild/...", "/a/b", &[])),
            ),
            (
                &conformance,
                "/h/wild/a/b/",
                Some(("/h/wild/...", "/a/b/", &[])),
            ),
            (
                &conformance,
                "/h/wild/deeper",
                Some(("/h/wild/deeper", "", &[])),
            ),
            (
                &conformance,
                "/h/wild/deeper/",
                Some(("/h/wild/deeper", "", &[])),
            ),
            (
                &conformance,
                "/h/wild/deeper/more",
                Some(("/h/wild/...", "/deeper/more", &[])),
            ),
            (
                &conformance,
                "/h/p/abc/x",
                Some(("/h/p/:name/x", "", &[("name", "abc")])),
            ),
            (
                &conformance,
                "/h/p/a%20b/x",
                Some(("/h/p/:name/x", "", &[("name", "a%20b")])),
            ),
            (&conformance, "/h/p//x", Some(("/h/p/...", "//x", &[]))),
            (
                &conformance,
                "/h/p/abc/y",
                Some(("/h/p/...", "/abc/y", &[])),
            ),
            (
                &conformance,
                "/one/two/three/four",
                Some(("/one/two/three/...", "/four", &[])),
            ),
            (&conformance, "/one/two", Some(("/one/two/...", "", &[]))),
            (&conformance, "/one/x", Some(("/one/...", "/x", &[]))),
            (&conformance, "/u/me", Some(("/u/me", "", &[]))),
            (&conformance, "/u/42", Some(("/u/:id", "", &[("id", "42")]))),
            (&conformance, "/u/", None),
            (&conformance, "/nothing", None),
            (&["/..."], "/", Some(("/...", "/", &[]))),
            (&["/..."], "/x/y", Some(("/...", "/x/y", &[]))),
            (&["/...", "/"], "/", Some(("/", "", &[]))),
            (&["/...", "/a"], "/a", Some(("/a", "", &[]))),
            (
                &["/a/...", "/a/:x/..."],
                "/a/b/c",
                Some(("/a/:x/...", "/c", &[("x", "b")])),
            ),
            (&["/a/:x", "/a/b/..."], "/a/b", Some(("/a/b/...", "", &[]))),
        ];
        for (routes, path, expected) in cases {
            let r = router(routes);
            let got = r.route(path);
            match (expected, got) {
                (None, None) => {}
                (Some((route, info, caps)), Some(m)) => {
                    assert_eq!(m.raw_route, *route, "{path} in {routes:?}");
                    assert_eq!(m.path_info, *info, "{path} path-info");
                    let caps: Vec<(&str, String)> =
                        caps.iter().map(|(k, v)| (*k, v.to_string())).collect();
                    assert_eq!(m.captures, caps, "{path} captures");
                }
                (e, g) => panic!("{path} in {routes:?}: expected {e:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn route_headers_values() {
        let r = router(&["/foo/:userid/...", "/exact/"]);
        let m = r.route("/foo/42/bar").unwrap();
        assert_eq!(m.based_route, "/foo/:userid/...");
        assert_eq!(m.component_route, "/foo/:userid");
        assert_eq!(m.path_info, "/bar");
        let m = r.route("/exact").unwrap();
        assert_eq!(m.raw_route, "/exact/");
        assert_eq!(m.based_route, "/exact");
    }

    #[test]
    fn identical_routes_clash() {
        let routes = vec![
            Route::parse("/a/...", 0).unwrap(),
            Route::parse("/a/...", 1).unwrap(),
        ];
        assert!(Router::build(routes).is_err());
    }
}
