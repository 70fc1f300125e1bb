//! The OpenAPI document (`docs/openapi.json`) against the code and the running app:
//! it is 3.1 and every `$ref` resolves; it lists exactly the routes the component
//! routers declare (each also reaching its component through `spin.toml`); the root
//! app serves it and the `/docs` page; and schemathesis, when installed (always under
//! `CI=true`), fuzzes the running app against it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::helpers::{TestApp, app, manifest, repo_root};

/// The pinned schemathesis (`.ci/run` installs this one).
const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Test cases per operation: a run takes about a minute on two cores.
const MAX_EXAMPLES: &str = "25";

/// Operations schemathesis leaves alone, each with the reason.
const NOT_FUZZED: &[(&str, &str)] = &[
    // Destructive: the run's own org or session would be gone for the rest of it.
    ("deleteCurrentOrg", "deletes the org the run works in"),
    ("logout", "ends the session whose token the run uses"),
];

fn document_text() -> String {
    let path = repo_root().join("docs/openapi.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn document() -> Value {
    serde_json::from_str(&document_text()).unwrap_or_else(|e| panic!("docs/openapi.json: {e}"))
}

/// Every `$ref` in `value`, with the JSON pointer of where it stands.
fn refs(value: &Value, at: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    if let Some(target) = child.as_str() {
                        out.push((at.clone(), target.to_owned()));
                    }
                } else {
                    refs(child, format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                refs(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_and_every_ref_resolves() {
    let doc = document();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi is {version:?}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(
        found.len() > 100,
        "only {} $refs: not the document",
        found.len()
    );
    let dangling: Vec<String> = found
        .iter()
        .filter(|(_, target)| {
            target
                .strip_prefix('#')
                .is_none_or(|pointer| doc.pointer(pointer).is_none())
        })
        .map(|(at, target)| format!("{at}: {target}"))
        .collect();
    assert!(
        dangling.is_empty(),
        "$refs that resolve to nothing:\n{}",
        dangling.join("\n")
    );

    // Operation ids are unique, and every link names one.
    let mut ids = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            if let Some(earlier) = ids.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId {id} of {method} {path} is also {earlier}'s");
            }
        }
    }
    let mut unknown = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().expect("responses") {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    let target = link["operationId"].as_str().unwrap_or_default();
                    if !ids.contains_key(target) {
                        unknown.push(format!("{method} {path} {status} link {name}: {target}"));
                    }
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "links to no operation:\n{}",
        unknown.join("\n")
    );

    // The common problems are shared responses, and errors are problem+json.
    for status in [
        "400", "401", "403", "404", "409", "412", "422", "428", "429", "503",
    ] {
        let used = doc["paths"].as_object().unwrap().values().any(|item| {
            item.as_object().unwrap().values().any(|op| {
                op["responses"][status]["$ref"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("#/components/responses/"))
            })
        });
        assert!(used, "no operation refers to a shared {status} response");
    }
    for (name, response) in doc["components"]["responses"].as_object().unwrap() {
        assert_eq!(
            response["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem",
            "components/responses/{name}"
        );
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(
        schemes["oauth2"]["flows"]["password"]["tokenUrl"],
        "/v1/auth/token"
    );
    assert_eq!(schemes["adminToken"]["scheme"], "bearer");
}

/// `(METHOD, /path/{param})` of every route declared in `source`'s router chains:
/// `.get("/v1/x/:id", …)`, `.post_async(\n "/…"`, …; `.any(…)` catch-alls are not routes.
fn declared_routes(source: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for method in ["get", "post", "put", "patch", "delete"] {
        for call in [format!(".{method}("), format!(".{method}_async(")] {
            for (at, _) in source.match_indices(&call) {
                let rest = source[at + call.len()..].trim_start();
                let Some(literal) = rest.strip_prefix('"') else {
                    continue;
                };
                let Some(end) = literal.find('"') else {
                    continue;
                };
                let pattern = &literal[..end];
                if pattern.starts_with('/') {
                    routes.insert((method.to_ascii_uppercase(), openapi_path(pattern)));
                }
            }
        }
    }
    routes
}

/// `/v1/x/:id` → `/v1/x/{id}`.
fn openapi_path(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every route of the app, with the component (spin.toml name) that declares it.
fn app_routes() -> BTreeMap<(String, String), String> {
    let root = repo_root();
    let mut routes = BTreeMap::new();
    let mut add = |component: &str, file: &Path| {
        let source = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        for route in declared_routes(&source) {
            routes.insert(route, component.to_owned());
        }
    };
    let mut components: Vec<PathBuf> = std::fs::read_dir(root.join("components"))
        .expect("components/")
        .flatten()
        .map(|entry| entry.path())
        .collect();
    components.sort();
    for dir in components {
        let lib = dir.join("src/lib.rs");
        if lib.exists() {
            add(&dir.file_name().unwrap().to_string_lossy(), &lib);
        }
    }
    // The migrate component's routes live in the platform's `migrate_component!`.
    add("migrate", &root.join("crates/platform/src/migrate/http.rs"));
    routes
}

/// Whether the Spin route `route` (`/a/...`, `/a/:b`, `/a`) takes `path` (with
/// `{param}` segments standing for any one segment).
fn spin_route_takes(route: &str, path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let Some(prefix) = route.strip_suffix("/...") {
        let head: Vec<&str> = prefix.trim_matches('/').split('/').collect();
        return parts.len() >= head.len() && head.iter().zip(&parts).all(|(r, p)| r == p);
    }
    let segments: Vec<&str> = route.trim_matches('/').split('/').collect();
    segments.len() == parts.len()
        && segments
            .iter()
            .zip(&parts)
            .all(|(r, p)| r == p || (r.starts_with(':') && p.starts_with('{')))
}

/// The component Spin sends `path` to: an exact (or `:param`) route before a
/// wildcard, the longer wildcard first (docs/spin-compatibility.md).
fn spin_component_for(triggers: &[(String, String)], path: &str) -> Option<String> {
    triggers
        .iter()
        .filter(|(route, _)| spin_route_takes(route, path))
        .min_by_key(|(route, _)| (route.ends_with("/..."), std::cmp::Reverse(route.len())))
        .map(|(_, component)| component.clone())
}

#[test]
fn the_document_lists_exactly_the_routes_of_the_app() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(|method| (method.to_ascii_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let routes = app_routes();
    assert!(
        routes.len() > 50,
        "found only {} routes: {routes:?}",
        routes.len()
    );
    let routed: BTreeSet<(String, String)> = routes.keys().cloned().collect();

    let undocumented: Vec<String> = routed
        .difference(&documented)
        .map(|(m, p)| format!("{m} {p} ({})", routes[&(m.clone(), p.clone())]))
        .collect();
    let unrouted: Vec<String> = documented
        .difference(&routed)
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "docs/openapi.json and the routers differ\n\
         routed but not documented:\n  {}\ndocumented but not routed:\n  {}",
        undocumented.join("\n  "),
        unrouted.join("\n  ")
    );

    // Each route is reachable: spin.toml sends its path to the component declaring it.
    let spin: toml::Table = std::fs::read_to_string(manifest("spin.toml"))
        .expect("spin.toml")
        .parse()
        .expect("spin.toml is TOML");
    let triggers: Vec<(String, String)> = spin["trigger"]["http"]
        .as_array()
        .expect("[[trigger.http]]")
        .iter()
        .map(|t| {
            (
                t["route"].as_str().unwrap_or_default().to_owned(),
                t["component"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let misrouted: Vec<String> = routes
        .iter()
        .filter_map(|((method, path), component)| {
            let target = spin_component_for(&triggers, path);
            (target.as_deref() != Some(component.as_str())).then(|| {
                format!(
                    "{method} {path}: declared by {component}, spin.toml sends it to {target:?}"
                )
            })
        })
        .collect();
    assert!(misrouted.is_empty(), "{}", misrouted.join("\n"));
}

#[test]
fn the_route_parser_reads_router_chains() {
    let source = r#"
        let router = Router::named("x")
            .get("/v1/x", list)
            .post_async("/v1/x/:id/done", done)
            .put(
                "/v1/x/:id/tags",
                tags,
            )
            .any("/v1/y/...", not_built);
        let v = value.get("field");
    "#;
    let want: BTreeSet<(String, String)> = [
        ("GET", "/v1/x"),
        ("POST", "/v1/x/{id}/done"),
        ("PUT", "/v1/x/{id}/tags"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(declared_routes(source), want);
    let triggers = vec![
        ("/v1/companies/...".to_owned(), "companies".to_owned()),
        (
            "/v1/companies/:company_id/partners".to_owned(),
            "partners".to_owned(),
        ),
    ];
    assert_eq!(
        spin_component_for(&triggers, "/v1/companies/{company_id}/partners").as_deref(),
        Some("partners")
    );
    assert_eq!(
        spin_component_for(&triggers, "/v1/companies/{id}").as_deref(),
        Some("companies")
    );
    assert_eq!(spin_component_for(&triggers, "/v1/other"), None);
}

#[test]
fn the_app_serves_the_document_and_its_page() {
    let app = app();
    let resp = app.get("/openapi.json");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(
        resp.text(),
        document_text(),
        "the served document is not docs/openapi.json: rebuild plinth-docs"
    );
    let etag = resp.header("etag").expect("an ETag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "a strong entity tag: {etag}"
    );
    let again = app.get_with("/openapi.json", &[("if-none-match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(app.get("/openapi.json").header("etag"), Some(etag.as_str()));

    let page = app.get("/docs");
    assert_eq!(page.status, 200, "{}", page.text());
    let content_type = page.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = page.text();
    assert!(
        html.contains("fetch(\"/openapi.json\")"),
        "the page renders the document"
    );
    assert!(
        !html.contains("<script src"),
        "the page loads no script from elsewhere"
    );

    let wrong = app.request("POST", "/openapi.json", &[], b"");
    assert_eq!(wrong.status, 405);
}

/// The schemathesis executable on `PATH`, if any.
fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("schemathesis"))
        .find(|candidate| candidate.is_file())
}

#[test]
fn schemathesis_finds_no_server_error_or_breach_of_the_document() {
    let Some(bin) = schemathesis() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "schemathesis is not on PATH under CI=true: \
             pip install schemathesis=={SCHEMATHESIS_VERSION} (.ci/run does)"
        );
        eprintln!(
            "schemathesis is not on PATH: skipping the fuzzing of the API \
             (pip install schemathesis=={SCHEMATHESIS_VERSION})"
        );
        return;
    };
    let version = Command::new(&bin)
        .arg("--version")
        .output()
        .expect("schemathesis --version");
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(
        version.contains(SCHEMATHESIS_VERSION),
        "schemathesis {SCHEMATHESIS_VERSION} is pinned; found {version:?}"
    );

    // Its own app of the root manifest: the fuzzer signs up and signs in far more
    // often than the per-address limit lets one client (every test is 127.0.0.1),
    // and a different quota is a different policy, so it spends none of the
    // counters the other tests share.
    let app = TestApp::spawn_with(
        &manifest("spin.toml"),
        &[("SPIN_VARIABLE_AUTH_RATE_PER_MINUTE", "1000000".to_owned())],
        &[],
    );
    let upgraded = app.upgrade("head");
    assert_eq!(upgraded.status, 200, "{}", upgraded.text());
    let tenant = app.new_tenant();

    let work = repo_root().join("target/schemathesis");
    std::fs::create_dir_all(&work).expect("target/schemathesis");
    let url = format!("http://{}", app.addr);
    let mut cmd = Command::new(&bin);
    cmd.current_dir(&work)
        .env("NO_COLOR", "1")
        .arg("run")
        .arg(repo_root().join("docs/openapi.json"))
        .args(["--url", &url])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", tenant.access),
        ])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance",
        ])
        .args(["--max-examples", MAX_EXAMPLES, "--workers", "2"])
        .args(["--request-timeout", "30", "--no-color"])
        .args([
            "--report",
            "junit",
            "--report-junit-path",
            "report/junit.xml",
        ])
        // The operator routes take the admin token, and the migration ones would
        // change the schema under every other test.
        .args(["--exclude-tag", "admin"]);
    for (operation, _) in NOT_FUZZED {
        cmd.args(["--exclude-operation-id", operation]);
    }
    let started = Instant::now();
    let output = cmd.output().expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "schemathesis ran in {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        stdout
            .lines()
            .rev()
            .find(|l| l.contains("generated"))
            .unwrap_or("?")
            .trim()
    );
    assert!(
        output.status.success(),
        "schemathesis found failures (exit {:?}); report in target/schemathesis/report\n\
         {stdout}\n{stderr}\nhost logs (tail):\n{}",
        output.status.code(),
        tail(&app.logs(), 60)
    );
    assert!(
        stdout.contains("Tested:"),
        "no operation was tested:\n{stdout}"
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
