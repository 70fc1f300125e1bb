//! The two answers: the embedded document with its entity tag, and the page.

use plinth_platform::{ETag, HandlerResult, RequestCtx, Response};

/// The document, as committed: `/openapi.json` serves these bytes unchanged.
pub const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// The page of `/docs`: markup, style and the script that renders the document.
const PAGE: &str = include_str!("docs.html");

/// `GET /openapi.json`.
pub fn openapi(ctx: &RequestCtx) -> HandlerResult {
    // Hashing the document per request costs well under a millisecond, and each
    // request gets a fresh instance, so there is nothing to cache it in.
    let etag = ETag::of(DOCUMENT);
    if ctx
        .header("if-none-match")
        .is_some_and(|list| none_match_hits(list, &etag))
    {
        return Ok(Response::empty(304)
            .with_header("etag", etag.to_header())
            .with_header("cache-control", "no-cache"));
    }
    Ok(Response::new(200, DOCUMENT.as_bytes())
        .with_header("content-type", "application/json")
        .with_header("etag", etag.to_header())
        .with_header("cache-control", "no-cache"))
}

/// `GET /docs`.
pub fn page(_: &RequestCtx) -> HandlerResult {
    Ok(Response::new(200, PAGE.as_bytes())
        .with_header("content-type", "text/html; charset=utf-8")
        .with_header("cache-control", "no-cache")
        // The page runs only its own inline script and reads only this origin.
        .with_header(
            "content-security-policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'",
        ))
}

/// Whether an `If-None-Match` list names `current` (RFC 9110 §13.1.2: weak
/// comparison, so `W/"…"` counts) or is `*`.
fn none_match_hits(list: &str, current: &ETag) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == current.to_header())
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_platform::request::Method;

    fn get(path: &str, headers: &[(&str, &str)]) -> RequestCtx {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        RequestCtx::new(Method::Get, path, "", headers, Vec::new())
    }

    #[test]
    fn the_document_is_served_whole_with_its_tag() {
        let r = openapi(&get("/openapi.json", &[])).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.body(), DOCUMENT.as_bytes());
        let doc: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let tag = r.header("etag").unwrap();
        assert_eq!(tag, ETag::of(DOCUMENT).to_header());
        assert!(
            tag.starts_with('"') && !tag.starts_with("W/"),
            "strong: {tag}"
        );
    }

    #[test]
    fn if_none_match_with_the_tag_is_304() {
        let tag = ETag::of(DOCUMENT).to_header();
        for list in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"x\", {tag}"),
            "*".into(),
        ] {
            let r = openapi(&get("/openapi.json", &[("if-none-match", &list)])).unwrap();
            assert_eq!(r.status(), 304, "{list}");
            assert!(r.body().is_empty());
        }
        let r = openapi(&get("/openapi.json", &[("if-none-match", "\"other\"")])).unwrap();
        assert_eq!(r.status(), 200);
    }

    #[test]
    fn the_page_is_html_that_loads_nothing_from_elsewhere() {
        let r = page(&get("/docs", &[])).unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        let html = std::str::from_utf8(r.body()).unwrap();
        assert!(html.contains("/openapi.json"));
        for outside in ["http://", "https://", "src=\"//"] {
            assert!(!html.contains(outside), "the page refers to {outside}");
        }
    }
}
