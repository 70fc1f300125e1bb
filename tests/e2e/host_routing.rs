//! The host against SPIN-BEHAVIOUR.md §6: route precedence, 404s, and the exact
//! `spin-*` headers a component receives, through tests/apps/conformance (every route
//! there echoes the request it got as JSON).

use serde_json::Value;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::helpers::{conformance, is_devhost};

/// GET `path` on the conformance app; returns (status, echo JSON if 200).
fn echo(path: &str) -> (u16, Value) {
    let resp = conformance().app.get(path);
    let body = if resp.status == 200 {
        resp.json()
    } else {
        Value::Null
    };
    (resp.status, body)
}

fn header<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    echo["headers"][name].as_str()
}

#[test]
fn route_precedence() {
    // (request path, matched route as written, spin-path-info, or None when not checked)
    let cases: [(&str, &str, Option<&str>); 12] = [
        ("/h/exact", "/h/exact", Some("")),
        ("/h/exact/", "/h/exact", None),
        ("/h/wild", "/h/wild/...", Some("")),
        ("/h/wild/", "/h/wild/...", Some("/")),
        ("/h/wild/a", "/h/wild/...", Some("/a")),
        ("/h/wild/a/b", "/h/wild/...", Some("/a/b")),
        ("/h/wild/deeper", "/h/wild/deeper", Some("")),
        ("/h/wild/deeper/more", "/h/wild/...", Some("/deeper/more")),
        ("/h/wild/deeperx", "/h/wild/...", Some("/deeperx")),
        ("/h/p/one/x", "/h/p/:name/x", Some("")),
        ("/h/two/a/b", "/h/two/:first/:second", Some("")),
        ("/probe/anything", "/probe/...", Some("/anything")),
    ];
    for (path, route, info) in cases {
        let (status, body) = echo(path);
        assert_eq!(status, 200, "{path} must match {route}");
        assert_eq!(
            header(&body, "spin-matched-route"),
            Some(route),
            "{path}: which route wins"
        );
        if let Some(info) = info {
            assert_eq!(
                header(&body, "spin-path-info"),
                Some(info),
                "{path}: spin-path-info"
            );
        }
    }
}

#[test]
fn a_malformed_or_missing_host_header_is_a_client_error() {
    if !is_devhost() {
        // Spin closes the connection without an answer (SPIN-BEHAVIOUR.md §6);
        // devhost's 400 is a named difference (docs/spin-compatibility.md).
        eprintln!("skipped under APP_RUNTIME=spin: the 400 for a bad Host is devhost's own answer");
        return;
    }
    let app = &conformance().app;
    let good = app.get("/h/exact");
    assert_eq!(good.status, 200, "the route answers: {}", good.text());
    let bad = app.get_with("/h/exact", &[("host", "not a host")]);
    assert_eq!(
        bad.status,
        400,
        "a Host that is no authority is the client's fault, and the component is not run: {}",
        bad.text()
    );
    let mut stream = TcpStream::connect(app.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET /h/exact HTTP/1.1\r\nconnection: close\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "an HTTP/1.1 request without Host is a 400 (RFC 9112 §3.2): {answer:?}"
    );
}

#[test]
fn leading_slashes_collapse_to_the_route_and_the_component_sees_the_raw_path() {
    for (path, route, info) in [
        ("//h/exact", "/h/exact", ""),
        ("//h/wild/a", "/h/wild/...", "/a"),
    ] {
        let (status, body) = echo(path);
        assert_eq!(status, 200, "{path} is served like its single-slash form");
        assert_eq!(header(&body, "spin-matched-route"), Some(route), "{path}");
        assert_eq!(header(&body, "spin-path-info"), Some(info), "{path}");
        assert_eq!(body["path"], path, "the component sees the path as sent");
        assert!(
            header(&body, "spin-full-url").is_some_and(|url| url.ends_with(path)),
            "{path}: spin-full-url keeps the raw path: {body}"
        );
    }
}

#[test]
fn no_match_is_404() {
    let cases = [
        ("/nothing", "no route"),
        ("/h", "a prefix of routes is not a route"),
        ("/h/exact/more", "an exact route does not match below it"),
        ("/H/exact", "wrong case"),
        ("/h/Exact", "wrong case"),
        ("/h/WILD/a", "wrong case under a wildcard"),
        ("/h//exact", "empty segment (//)"),
        ("/h/../h/exact", "dot-dot segment"),
        ("/h/p//x", ":name needs a non-empty segment"),
        ("/h/p/a/b/x", ":name matches exactly one segment"),
        ("/h/p/one", ":name route needs its tail"),
        ("/h/two/a", "two parameters need two segments"),
    ];
    for (path, what) in cases {
        let resp = conformance().app.get(path);
        assert_eq!(
            resp.status, 404,
            "{path} ({what}) must be 404, got {}",
            resp.status
        );
    }
}

#[test]
fn spin_headers_have_exact_values() {
    let c = conformance();
    let addr = c.app.addr;
    let resp = c
        .app
        .get_with("/h/wild/a/b?q=1&r=two", &[("x-probe", "abc")]);
    assert_eq!(resp.status, 200);
    let body = resp.json();
    let cases = [
        (
            "spin-full-url",
            format!("http://{addr}/h/wild/a/b?q=1&r=two"),
        ),
        ("spin-path-info", "/a/b".to_owned()),
        ("spin-matched-route", "/h/wild/...".to_owned()),
        ("spin-raw-component-route", "/h/wild/...".to_owned()),
        ("spin-component-route", "/h/wild".to_owned()),
        ("spin-base-path", "/".to_owned()),
        ("x-probe", "abc".to_owned()),
    ];
    for (name, want) in cases {
        assert_eq!(
            header(&body, name),
            Some(want.as_str()),
            "header {name}: {body}"
        );
    }
    let client = header(&body, "spin-client-addr").unwrap_or_default();
    assert!(
        client.starts_with("127.0.0.1:") && client["127.0.0.1:".len()..].parse::<u16>().is_ok(),
        "spin-client-addr is the peer ip:port, got {client:?}"
    );
    assert!(
        body["headers"].get("host").is_none(),
        "the component sees no Host header: {body}"
    );
    assert_eq!(body["method"], "GET");
}

#[test]
fn exact_route_headers() {
    let (status, body) = echo("/h/exact");
    assert_eq!(status, 200);
    for (name, want) in [
        ("spin-path-info", ""),
        ("spin-matched-route", "/h/exact"),
        ("spin-raw-component-route", "/h/exact"),
        ("spin-component-route", "/h/exact"),
        ("spin-base-path", "/"),
    ] {
        assert_eq!(
            header(&body, name),
            Some(want),
            "{name} for an exact route: {body}"
        );
    }
}

#[test]
fn path_parameters_are_not_percent_decoded() {
    let cases = [
        ("/h/p/hello/x", "name", "hello"),
        ("/h/p/a%20b/x", "name", "a%20b"),
        ("/h/p/caf%C3%A9/x", "name", "caf%C3%A9"),
        ("/h/p/x%2Fy/x", "name", "x%2Fy"),
        ("/h/two/first-value/2", "first", "first-value"),
        ("/h/two/first-value/2", "second", "2"),
    ];
    for (path, name, want) in cases {
        let (status, body) = echo(path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            header(&body, &format!("spin-path-match-{name}")),
            Some(want),
            "{path}: spin-path-match-{name}"
        );
    }
    let (_, body) = echo("/h/p/hello/x");
    for (name, want) in [
        ("spin-matched-route", "/h/p/:name/x"),
        ("spin-raw-component-route", "/h/p/:name/x"),
        ("spin-component-route", "/h/p/:name/x"),
    ] {
        assert_eq!(
            header(&body, name),
            Some(want),
            "{name} for a :name route: {body}"
        );
    }
}
