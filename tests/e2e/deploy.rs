//! The deployment files follow `spin.toml`, whatever it holds when the tests run:
//! docker-compose.yml (services, ports, health checks, pinned images, credentials)
//! and its example env file, the compose init script run against the real Postgres,
//! the SpinKube manifests, and the imports of every built component against what a
//! Spin 3.6 host (SpinKube's shim) provides.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_yaml::Value as Yaml;

use crate::helpers::{pg_connect, repo_root, superuser_url, superuser_url_for};

// ---------------------------------------------------------------------------
// spin.toml

struct Manifest {
    /// name → (required, secret)
    variables: BTreeMap<String, (bool, bool)>,
    /// Variables used inside some `allowed_outbound_hosts` entry.
    host_variables: BTreeSet<String>,
    /// component → `source`
    sources: BTreeMap<String, String>,
    routes: Vec<String>,
}

impl Manifest {
    fn required(&self) -> impl Iterator<Item = &String> {
        self.variables
            .iter()
            .filter(|(_, (required, _))| *required)
            .map(|(n, _)| n)
    }
}

fn manifest() -> Manifest {
    let text = read("spin.toml");
    let doc: toml::Table = text.parse().expect("spin.toml parses");
    let variables = doc["variables"]
        .as_table()
        .expect("[variables]")
        .iter()
        .map(|(name, v)| {
            let flag = |k: &str| v.get(k).and_then(toml::Value::as_bool).unwrap_or(false);
            (name.clone(), (flag("required"), flag("secret")))
        })
        .collect();
    let mut host_variables = BTreeSet::new();
    let mut sources = BTreeMap::new();
    for (name, c) in doc["component"].as_table().expect("[component.*]") {
        if let Some(source) = c.get("source").and_then(toml::Value::as_str) {
            sources.insert(name.clone(), source.to_string());
        }
        for host in c
            .get("allowed_outbound_hosts")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(toml::Value::as_str)
        {
            host_variables.extend(template_names(host));
        }
    }
    let routes = doc["trigger"]["http"]
        .as_array()
        .expect("[[trigger.http]]")
        .iter()
        .filter_map(|t| {
            t.get("route")
                .and_then(toml::Value::as_str)
                .map(String::from)
        })
        .collect();
    Manifest {
        variables,
        host_variables,
        sources,
        routes,
    }
}

fn template_names(s: &str) -> Vec<String> {
    s.split("{{")
        .skip(1)
        .filter_map(|part| {
            part.split_once("}}")
                .map(|(name, _)| name.trim().to_string())
        })
        .collect()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn yaml(rel: &str) -> Yaml {
    serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

fn env_file(rel: &str) -> BTreeMap<String, String> {
    read(rel)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{rel}: not KEY=VALUE: {l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn spin_env_name(var: &str) -> String {
    format!("SPIN_VARIABLE_{}", var.to_ascii_uppercase())
}

/// An image reference names a fixed version: a digest, or a tag that is not
/// `latest` and carries a version number (`0.8.0-pg16`, `RELEASE.2025-…`), not
/// only a moving name such as `pg16` or `alpine`.
fn image_is_pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    let Some((_, tag)) = image.rsplit_once(':').filter(|(repo, _)| !repo.is_empty()) else {
        return false;
    };
    if tag.contains('/') || tag == "latest" {
        return false;
    }
    let b = tag.as_bytes();
    let dotted_number = (1..b.len().saturating_sub(1))
        .any(|i| b[i] == b'.' && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit());
    dotted_number || tag.starts_with("RELEASE.")
}

#[test]
fn image_pinning_rule_refuses_moving_tags() {
    for ok in [
        "pgvector/pgvector:0.8.0-pg16",
        "redis:7.4.2-alpine",
        "minio/minio:RELEASE.2025-09-07T16-13-09Z",
        "ghcr.io/x/y@sha256:0123",
        "registry:5000/app:1.2",
    ] {
        assert!(image_is_pinned(ok), "{ok}");
    }
    for bad in [
        "pgvector/pgvector:pg16",
        "redis:7-alpine",
        "minio/minio:latest",
        "minio/mc",
        "registry:5000/app",
        "redis:alpine",
    ] {
        assert!(!image_is_pinned(bad), "{bad}");
    }
}

// ---------------------------------------------------------------------------
// docker-compose.yml

/// Every `${NAME:-default}` in the strings of a YAML document.
fn compose_defaults(v: &Yaml, out: &mut BTreeMap<String, String>) {
    match v {
        Yaml::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                let after = &rest[start + 2..];
                let Some(end) = after.find('}') else { break };
                if let Some((name, default)) = after[..end].split_once(":-") {
                    let previous = out.insert(name.to_string(), default.to_string());
                    assert!(
                        previous.is_none_or(|p| p == default),
                        "${{{name}}} has two different defaults in docker-compose.yml"
                    );
                }
                rest = &after[end + 1..];
            }
        }
        Yaml::Sequence(items) => items.iter().for_each(|i| compose_defaults(i, out)),
        Yaml::Mapping(map) => map.values().for_each(|i| compose_defaults(i, out)),
        _ => {}
    }
}

/// `(bind address, published port, container port)` of a compose port entry.
fn published(service: &Yaml) -> Vec<(String, u16, u16)> {
    service["ports"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|p| {
            let s = p.as_str().expect("ports as strings");
            let parts: Vec<&str> = s.split(':').collect();
            let [ip, host, container] = parts[..] else {
                panic!("port {s:?} is not ip:host:container");
            };
            (
                ip.to_string(),
                host.parse().unwrap(),
                container.parse().unwrap(),
            )
        })
        .collect()
}

fn host_port(service: &Yaml, container: u16) -> u16 {
    published(service)
        .into_iter()
        .find(|(_, _, c)| *c == container)
        .unwrap_or_else(|| panic!("container port {container} is not published"))
        .1
}

#[test]
fn compose_has_the_services_with_pinned_images_health_checks_and_named_volumes() {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"].as_mapping().expect("services");
    let names: BTreeSet<&str> = services.keys().filter_map(Yaml::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["postgres", "redis", "minio", "bucket"]),
        "compose services"
    );
    for (name, service) in services {
        let image = service["image"].as_str().unwrap_or_default();
        assert!(
            image_is_pinned(image),
            "service {name:?}: image {image:?} is not pinned"
        );
    }
    let s = |n: &str| &compose["services"][n];
    let pg_image = s("postgres")["image"].as_str().unwrap();
    assert!(
        pg_image.starts_with("pgvector/pgvector:") && pg_image.ends_with("-pg16"),
        "PostgreSQL 16 with pgvector: {pg_image}"
    );

    // The long-running services are health-checked; the bucket job waits for MinIO's.
    for name in ["postgres", "redis", "minio"] {
        assert!(
            s(name)["healthcheck"]["test"]
                .as_sequence()
                .is_some_and(|t| !t.is_empty()),
            "{name} has a health check"
        );
    }
    assert_eq!(
        s("bucket")["depends_on"]["minio"]["condition"].as_str(),
        Some("service_healthy")
    );
    let bucket_cmd = serde_yaml::to_string(&s("bucket")["command"]).unwrap();
    assert!(
        bucket_cmd.contains("mc mb --ignore-existing"),
        "{bucket_cmd}"
    );

    // Ports: the standard ones, on loopback only.
    for (name, container) in [("postgres", 5432), ("redis", 6379), ("minio", 9000)] {
        let ports = published(s(name));
        assert!(
            ports.iter().any(|(_, _, c)| *c == container),
            "{name} publishes {container}: {ports:?}"
        );
        for (ip, _, _) in &ports {
            assert_eq!(ip, "127.0.0.1", "{name} is published on loopback only");
        }
    }

    // Data lives in named volumes declared at the top level.
    let declared: BTreeSet<&str> = compose["volumes"]
        .as_mapping()
        .expect("top-level volumes")
        .keys()
        .filter_map(Yaml::as_str)
        .collect();
    for (name, data_dir) in [("postgres", "/var/lib/postgresql/data"), ("minio", "/data")] {
        let mounts: Vec<&str> = s(name)["volumes"]
            .as_sequence()
            .expect("volumes")
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        let mount = mounts
            .iter()
            .find(|m| m.split(':').nth(1) == Some(data_dir))
            .unwrap_or_else(|| panic!("{name} mounts nothing on {data_dir}: {mounts:?}"));
        let source = mount.split(':').next().unwrap();
        assert!(
            declared.contains(source),
            "{name}: {source} is a named volume"
        );
    }
    let init = s("postgres")["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .find(|m| m.contains("/docker-entrypoint-initdb.d/"))
        .expect("the init script is mounted");
    let script = init.split(':').next().unwrap();
    assert!(
        repo_root().join(script).is_file(),
        "{script} exists (mounted as {init})"
    );

    // Credentials come from the environment, with development defaults.
    for (service, key) in [
        ("postgres", "POSTGRES_PASSWORD"),
        ("postgres", "PLINTH_PG_OWNER_PASSWORD"),
        ("postgres", "PLINTH_PG_APP_PASSWORD"),
        ("minio", "MINIO_ROOT_USER"),
        ("minio", "MINIO_ROOT_PASSWORD"),
        ("bucket", "MINIO_ROOT_USER"),
        ("bucket", "MINIO_ROOT_PASSWORD"),
    ] {
        let v = s(service)["environment"][key].as_str().unwrap_or_default();
        assert!(
            v.starts_with("${") && v.contains(":-") && v.ends_with('}'),
            "{service}.{key} = {v:?} is not ${{VAR:-default}}"
        );
    }
}

#[test]
fn compose_example_env_gives_every_required_variable_with_the_compose_defaults() {
    let m = manifest();
    let example = env_file("deploy/compose/plinth.env.example");
    let operations = read("docs/operations.md");
    for var in m.required() {
        let key = spin_env_name(var);
        assert!(
            example.get(&key).is_some_and(|v| !v.is_empty()),
            "{key} (required by spin.toml) is not given in deploy/compose/plinth.env.example"
        );
        assert!(
            operations.contains(&format!("`{var}`")),
            "required variable `{var}` is not documented in docs/operations.md"
        );
    }
    let known: BTreeSet<String> = m.variables.keys().map(|v| spin_env_name(v)).collect();
    for key in example.keys() {
        assert!(known.contains(key), "{key} names no spin.toml variable");
    }

    // Each PLINTH_<VAR> compose setting and the SPIN_VARIABLE_<VAR> line agree.
    let compose = yaml("docker-compose.yml");
    let mut defaults = BTreeMap::new();
    compose_defaults(&compose, &mut defaults);
    let mut compared = 0;
    for (name, default) in &defaults {
        let Some(var) = name.strip_prefix("PLINTH_").map(str::to_ascii_lowercase) else {
            continue;
        };
        if !m.variables.contains_key(&var) {
            continue;
        }
        compared += 1;
        assert_eq!(
            example.get(&spin_env_name(&var)),
            Some(default),
            "{name}'s compose default and the example's {}",
            spin_env_name(&var)
        );
    }
    assert!(
        compared >= 4,
        "passwords and S3 keys are compared: {defaults:?}"
    );

    // The fixed compose settings: role names, and where each service listens.
    let pg = &compose["services"]["postgres"];
    for (var, key) in [
        ("pg_app_user", "PLINTH_PG_APP_USER"),
        ("pg_owner_user", "PLINTH_PG_OWNER_USER"),
    ] {
        assert_eq!(
            example.get(&spin_env_name(var)).map(String::as_str),
            pg["environment"][key].as_str(),
            "{var}"
        );
    }
    let expect = [
        ("pg_host", format!("127.0.0.1:{}", host_port(pg, 5432))),
        (
            "redis_host",
            format!(
                "127.0.0.1:{}",
                host_port(&compose["services"]["redis"], 6379)
            ),
        ),
        (
            "s3_endpoint",
            format!(
                "http://127.0.0.1:{}",
                host_port(&compose["services"]["minio"], 9000)
            ),
        ),
    ];
    for (var, value) in expect {
        assert_eq!(example.get(&spin_env_name(var)), Some(&value), "{var}");
    }

    // The role the migrations grant table privileges to is the example's app user.
    let app_user = &example[&spin_env_name("pg_app_user")];
    let mut granted = BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("migrations")).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".up.sql") {
            let sql = std::fs::read_to_string(&path).unwrap();
            for part in sql.split("rolname = '").skip(1) {
                granted.insert(part.split('\'').next().unwrap().to_string());
            }
        }
    }
    assert_eq!(
        granted,
        BTreeSet::from([app_user.clone()]),
        "roles the migrations grant to"
    );
}

/// The compose init script, run with psql against the real Postgres under fresh names:
/// both roles log in, neither is privileged, the owner owns the database and its
/// `public` schema, the app role cannot create there, and the extensions exist.
#[test]
fn compose_init_script_creates_the_roles_and_database_the_app_expects() {
    let su = superuser_url();
    let rest = su.strip_prefix("postgres://").expect("postgres:// url");
    let (userinfo, hostpath) = rest.split_once('@').expect("superuser url has a user");
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    assert_eq!(
        user, "postgres",
        "the script connects as `postgres`, as in the image"
    );
    let (hostport, _) = hostpath.split_once('/').expect("url has a database");
    let (host, port) = hostport.rsplit_once(':').expect("host:port");

    let tag = format!("e2e_init_{}", std::process::id());
    let (owner, app, db) = (
        format!("{tag}_owner"),
        format!("{tag}_app"),
        format!("{tag}_db"),
    );
    // Quotes in a password must not break out of the SQL.
    let owner_pw = "own'er\"pw;--";
    let app_pw = "app'pw";
    let _cleanup = Cleanup {
        roles: vec![owner.clone(), app.clone()],
        db: db.clone(),
    };
    let out = Command::new("sh")
        .arg(repo_root().join("deploy/compose/postgres-init.sh"))
        .env("PGHOST", host)
        .env("PGPORT", port)
        .env("PGPASSWORD", password)
        .env("PLINTH_PG_OWNER_USER", &owner)
        .env("PLINTH_PG_OWNER_PASSWORD", owner_pw)
        .env("PLINTH_PG_APP_USER", &app)
        .env("PLINTH_PG_APP_PASSWORD", app_pw)
        .env("PLINTH_PG_DATABASE", &db)
        .output()
        .expect("run sh (needs psql on PATH)");
    assert!(
        out.status.success(),
        "postgres-init.sh failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let mut c = pg_connect(&superuser_url_for(&db));
    for role in [&owner, &app] {
        let row = c
            .query_one(
                "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, \
                 rolpassword IS NOT NULL FROM pg_authid WHERE rolname = $1",
                &[role],
            )
            .unwrap();
        let flags: Vec<bool> = (0..6).map(|i| row.get(i)).collect();
        assert_eq!(
            flags,
            [true, false, false, false, false, true],
            "{role}: login, nothing more, a password"
        );
    }
    let row = c
        .query_one(
            "SELECT pg_get_userbyid(d.datdba)::text, pg_get_userbyid(n.nspowner)::text, \
             has_database_privilege($1, current_database(), 'CONNECT'), \
             has_schema_privilege($1, 'public', 'USAGE'), \
             has_schema_privilege($1, 'public', 'CREATE'), \
             has_database_privilege('public', current_database(), 'CONNECT') \
             FROM pg_database d, pg_namespace n WHERE d.datname = current_database() AND n.nspname = 'public'",
            &[&app],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), owner, "database owner");
    assert_eq!(row.get::<_, String>(1), owner, "schema public owner");
    assert!(row.get::<_, bool>(2), "app may connect");
    assert!(row.get::<_, bool>(3), "app may use schema public");
    assert!(
        !row.get::<_, bool>(4),
        "app may not create in schema public"
    );
    assert!(!row.get::<_, bool>(5), "PUBLIC may not connect");
    let exts: Vec<String> = c
        .query("SELECT extname::text FROM pg_extension", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(exts.iter().any(|e| e == "pg_trgm"), "pg_trgm: {exts:?}");
    let vector_available: bool = c
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'vector')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        exts.iter().any(|e| e == "vector"),
        vector_available,
        "vector where available"
    );
}

struct Cleanup {
    roles: Vec<String>,
    db: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let mut su = pg_connect(superuser_url());
        let _ = su.batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.db
        ));
        for role in &self.roles {
            let _ = su.batch_execute(&format!("DROP ROLE IF EXISTS \"{role}\""));
        }
    }
}

// ---------------------------------------------------------------------------
// SpinKube

#[test]
fn spinkube_app_binds_every_variable_from_the_secret_and_probes_health() {
    let m = manifest();
    let app = yaml("deploy/spinkube/spinapp.yaml");
    assert_eq!(
        app["apiVersion"].as_str(),
        Some("core.spinkube.dev/v1alpha1")
    );
    assert_eq!(app["kind"].as_str(), Some("SpinApp"));
    let name = app["metadata"]["name"].as_str().expect("metadata.name");
    let spec = &app["spec"];
    let image = spec["image"].as_str().expect("spec.image");
    assert!(image_is_pinned(image), "spec.image {image:?} is pinned");

    // Scaling: a fixed replica count, or the HPA of hpa.yaml on the operator's Deployment.
    let autoscale = spec["enableAutoscaling"].as_bool().unwrap_or(false);
    if autoscale {
        assert!(
            spec.get("replicas").is_none(),
            "replicas cannot be set with enableAutoscaling"
        );
        let hpa = yaml("deploy/spinkube/hpa.yaml");
        assert_eq!(hpa["kind"].as_str(), Some("HorizontalPodAutoscaler"));
        let target = &hpa["spec"]["scaleTargetRef"];
        assert_eq!(target["kind"].as_str(), Some("Deployment"));
        assert_eq!(
            target["name"].as_str(),
            Some(name),
            "the HPA scales the SpinApp's Deployment"
        );
        let min = hpa["spec"]["minReplicas"].as_u64().unwrap_or(1);
        assert!(min >= 2, "at least two replicas");
        assert!(hpa["spec"]["maxReplicas"].as_u64().unwrap() >= min);
        assert!(
            spec["resources"]["requests"]["cpu"].as_str().is_some(),
            "a CPU request for the HPA's utilization target"
        );
    } else {
        assert!(spec["replicas"].as_u64().unwrap_or(0) >= 2, "replicas >= 2");
    }
    assert!(
        spec["resources"]["limits"]["memory"].as_str().is_some(),
        "a memory limit"
    );

    // Probes on routes the app serves.
    for (probe, path) in [("liveness", "/health/live"), ("readiness", "/health/ready")] {
        let got = spec["checks"][probe]["httpGet"]["path"].as_str();
        assert_eq!(got, Some(path), "checks.{probe}");
        let routed = m.routes.iter().any(|r| match r.strip_suffix("/...") {
            Some(prefix) => path.starts_with(&format!("{prefix}/")),
            None => r == path,
        });
        assert!(
            routed,
            "{path} matches a route of spin.toml: {:?}",
            m.routes
        );
    }

    // Variables: every entry is a spin.toml variable bound from the one Secret.
    let entries = spec["variables"].as_sequence().expect("spec.variables");
    let mut bound = BTreeMap::new();
    let mut secrets = BTreeSet::new();
    for e in entries {
        let var = e["name"].as_str().expect("variable name");
        assert!(
            m.variables.contains_key(var),
            "{var} names no spin.toml variable"
        );
        assert!(
            e.get("value").is_none(),
            "{var}: a literal value (secrets belong in the Secret)"
        );
        let r = &e["valueFrom"]["secretKeyRef"];
        let (secret, key) = (
            r["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{var}: valueFrom.secretKeyRef.name")),
            r["key"]
                .as_str()
                .unwrap_or_else(|| panic!("{var}: valueFrom.secretKeyRef.key")),
        );
        secrets.insert(secret.to_string());
        assert!(
            bound.insert(var.to_string(), key.to_string()).is_none(),
            "{var} bound twice"
        );
    }
    assert_eq!(secrets.len(), 1, "one Secret: {secrets:?}");
    for var in m.required().chain(&m.host_variables) {
        assert!(
            bound.contains_key(var),
            "spin.toml variable {var} has no SPIN_VARIABLE_{} entry from the Secret in spinapp.yaml",
            var.to_ascii_uppercase()
        );
    }
    let keys: BTreeSet<String> = env_file("deploy/spinkube/secret.env.example")
        .into_keys()
        .collect();
    let wanted: BTreeSet<String> = bound.values().cloned().collect();
    assert_eq!(
        keys, wanted,
        "secret.env.example lists exactly the Secret's keys"
    );

    if repo_root().join("runtime-config.toml").is_file() {
        assert!(
            spec["runtimeConfig"]["loadFromSecret"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "the runtime config is loaded from a Secret"
        );
    }
}

// ---------------------------------------------------------------------------
// Component imports against a Spin 3.6 host

/// What a Spin 3.6 host links for a component: spinframework/spin `wit/world.wit`
/// (package `spin:up@3.6.0`, world `platform`), each `include` expanded, without the
/// parts behind `@unstable` feature gates (WASI 0.3 release candidates, wasi:otel),
/// which a default host does not enable.
const SPIN_3_6_HOST: &[&str] = &[
    // include wasi:cli/imports@0.2.6
    "wasi:cli/environment@0.2.6",
    "wasi:cli/exit@0.2.6",
    "wasi:cli/stdin@0.2.6",
    "wasi:cli/stdout@0.2.6",
    "wasi:cli/stderr@0.2.6",
    "wasi:cli/terminal-input@0.2.6",
    "wasi:cli/terminal-output@0.2.6",
    "wasi:cli/terminal-stdin@0.2.6",
    "wasi:cli/terminal-stdout@0.2.6",
    "wasi:cli/terminal-stderr@0.2.6",
    "wasi:clocks/monotonic-clock@0.2.6",
    "wasi:clocks/wall-clock@0.2.6",
    "wasi:filesystem/types@0.2.6",
    "wasi:filesystem/preopens@0.2.6",
    "wasi:io/error@0.2.6",
    "wasi:io/poll@0.2.6",
    "wasi:io/streams@0.2.6",
    "wasi:random/random@0.2.6",
    "wasi:random/insecure@0.2.6",
    "wasi:random/insecure-seed@0.2.6",
    "wasi:sockets/network@0.2.6",
    "wasi:sockets/instance-network@0.2.6",
    "wasi:sockets/udp@0.2.6",
    "wasi:sockets/udp-create-socket@0.2.6",
    "wasi:sockets/tcp@0.2.6",
    "wasi:sockets/tcp-create-socket@0.2.6",
    "wasi:sockets/ip-name-lookup@0.2.6",
    // import wasi:http/outgoing-handler@0.2.6 (and the types it uses)
    "wasi:http/types@0.2.6",
    "wasi:http/outgoing-handler@0.2.6",
    // include fermyon:spin/platform@2.0.0
    "fermyon:spin/llm@2.0.0",
    "fermyon:spin/redis@2.0.0",
    "fermyon:spin/mqtt@2.0.0",
    "fermyon:spin/rdbms-types@2.0.0",
    "fermyon:spin/postgres@2.0.0",
    "fermyon:spin/mysql@2.0.0",
    "fermyon:spin/sqlite@2.0.0",
    "fermyon:spin/key-value@2.0.0",
    "fermyon:spin/variables@2.0.0",
    // include wasi:keyvalue/imports@0.2.0-draft2
    "wasi:keyvalue/store@0.2.0-draft2",
    "wasi:keyvalue/batch@0.2.0-draft2",
    "wasi:keyvalue/atomics@0.2.0-draft2",
    "spin:postgres/postgres@3.0.0",
    "spin:postgres/postgres@4.0.0",
    "spin:sqlite/sqlite@3.0.0",
    "wasi:config/store@0.2.0-draft-2024-09-27",
];

type Version = (u64, u64, u64, Option<String>);

fn parse_version(v: &str) -> Option<Version> {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p.to_string())),
        None => (v, None),
    };
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??, pre);
    parts.next().is_none().then_some(version)
}

/// Whether the host links `import`: the same interface at a version of the same
/// semver track (same major, or same minor below 1.0) no newer than the host's, as
/// wasmtime's linker matches them; a pre-release only matches itself.
fn host_provides(host: &[&str], import: &str) -> bool {
    let Some((iface, version)) = import.split_once('@') else {
        return false;
    };
    let Some(want) = parse_version(version) else {
        return false;
    };
    host.iter().any(|h| {
        let Some((h_iface, h_version)) = h.split_once('@') else {
            return false;
        };
        let Some(have) = parse_version(h_version) else {
            return false;
        };
        if h_iface != iface {
            return false;
        }
        if want.3.is_some() || have.3.is_some() {
            return want == have;
        }
        let same_track = want.0 == have.0 && (want.0 > 0 || want.1 == have.1);
        same_track && (want.1, want.2) <= (have.1, have.2)
    })
}

#[test]
fn the_spin_3_6_rule_refuses_what_the_host_lacks() {
    for ok in [
        "wasi:io/poll@0.2.0",
        "wasi:http/types@0.2.6",
        "spin:postgres/postgres@4.0.0",
        "fermyon:spin/variables@2.0.0",
        "wasi:config/store@0.2.0-draft-2024-09-27",
    ] {
        assert!(host_provides(SPIN_3_6_HOST, ok), "{ok}");
    }
    for missing in [
        "spin:postgres/postgres@4.2.0",
        "spin:postgres/postgres@5.0.0",
        "wasi:http/types@0.2.7",
        "wasi:http/types@0.3.0-rc-2026-01-06",
        "wasi:cli/environment@0.3.0",
        "fermyon:spin/redis@3.0.0",
        "spin:redis/redis@3.0.0",
        "wasi:keyvalue/store@0.2.0-draft3",
        "wasi:io/poll",
        "my-import",
    ] {
        assert!(!host_provides(SPIN_3_6_HOST, missing), "{missing}");
    }
}

/// Names of a component's top-level imports (not those of the modules inside it).
fn component_imports(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e} (build the components first: cargo xtask build)",
            path.display()
        )
    });
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
            wasmparser::Payload::Version { encoding, .. } if depth == 0 && names.is_empty() => {
                assert_eq!(
                    encoding,
                    wasmparser::Encoding::Component,
                    "{} is not a component",
                    path.display()
                );
                depth = 1;
            }
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => {
                depth += 1;
            }
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    names.push(import.unwrap().name.name.to_string());
                }
            }
            _ => {}
        }
    }
    names
}

#[test]
fn built_components_import_only_what_spin_3_6_provides() {
    let m = manifest();
    let root = repo_root();
    let mut checked = 0;
    let mut refused = Vec::new();
    for (component, source) in &m.sources {
        if !source.starts_with("target/wasm32-wasip2/release/plinth_") {
            continue;
        }
        let imports = component_imports(&root.join(source));
        assert!(
            imports.iter().any(|i| i.starts_with("wasi:")),
            "{component}: no WASI import found in {imports:?}"
        );
        for import in imports {
            if !host_provides(SPIN_3_6_HOST, &import) {
                refused.push(format!("{component} ({source}): {import}"));
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 1,
        "spin.toml lists no plinth_* component: {:?}",
        m.sources
    );
    assert!(
        refused.is_empty(),
        "imports a Spin 3.6 host does not provide:\n{}",
        refused.join("\n")
    );
}
