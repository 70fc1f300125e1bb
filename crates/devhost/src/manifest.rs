//! `spin.toml` (manifest version 2): parsed, validated and resolved.
//!
//! Everything that can be wrong with an app is found here, before a port is
//! opened, and reported with the file and the key at fault. The result is an
//! [`App`] whose variables, outbound hosts and routes are final.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::allowed_hosts::AllowedHosts;
use crate::routing::{Route, Router};
use crate::variables::{AppValues, AppVariable, ComponentVariables, Template, validate_name};

#[derive(Debug, Deserialize)]
struct RawManifest {
    spin_manifest_version: Option<toml::Value>,
    #[serde(default)]
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, RawVariable>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Default, Deserialize)]
struct RawApplication {
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    default: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    secret: bool,
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
}

#[derive(Debug, Deserialize)]
struct RawHttpTrigger {
    route: Option<toml::Value>,
    component: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
struct RawComponent {
    source: Option<toml::Value>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    /// Everything else (`build`, `description`, `files`, …).
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

/// Component keys that only matter to `spin build`/tooling.
const TOOLING_KEYS: &[&str] = &["build", "description", "dependencies_inherit_configuration"];

/// A component ready to be compiled and served.
#[derive(Debug, Clone)]
pub struct ComponentConfig {
    pub id: String,
    pub source: PathBuf,
    pub allowed_hosts: AllowedHosts,
    pub variables: ComponentVariables,
    pub environment: Vec<(String, String)>,
}

/// The validated app.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    /// Settings devhost accepts but does not implement, worth a log line.
    pub notes: Vec<String>,
    pub components: Vec<ComponentConfig>,
    pub router: Router,
}

/// Reads and resolves the manifest at `path`. `env` supplies
/// `SPIN_VARIABLE_*` overrides; `extra_env` is added to every component's
/// WASI environment (`-e`).
pub fn load(
    path: &Path,
    env: &HashMap<String, String>,
    extra_env: &[(String, String)],
) -> Result<App, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read manifest: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let app = parse(&text, &path.display().to_string(), env, extra_env, base)?;
    for c in &app.components {
        if !c.source.is_file() {
            return Err(format!(
                "{}: component.{}.source: file {} does not exist (build the component first)",
                path.display(),
                c.id,
                c.source.display()
            ));
        }
    }
    Ok(app)
}

/// Parses manifest text; `file` is only used in messages, `base` resolves
/// relative `source` paths. Does not touch the file system.
pub fn parse(
    text: &str,
    file: &str,
    env: &HashMap<String, String>,
    extra_env: &[(String, String)],
    base: &Path,
) -> Result<App, String> {
    let raw: RawManifest =
        toml::from_str(text).map_err(|e| format!("{file}: invalid manifest: {e}"))?;
    match raw.spin_manifest_version.as_ref() {
        Some(toml::Value::Integer(2)) => {}
        Some(toml::Value::String(s)) if s == "2" => {}
        other => {
            return Err(format!(
                "{file}: spin_manifest_version: expected 2, found {}",
                other.map_or("nothing".to_string(), |v| format!("{v:?}"))
            ));
        }
    }

    let mut declared = BTreeMap::new();
    for (name, v) in &raw.variables {
        validate_name(name).map_err(|e| format!("{file}: variables.{name}: invalid name {e}"))?;
        if v.required && v.default.is_some() {
            return Err(format!(
                "{file}: variables.{name}: a variable cannot be both required and have a default"
            ));
        }
        if !v.required && v.default.is_none() {
            return Err(format!(
                "{file}: variables.{name}: give either `default` or `required = true`"
            ));
        }
        declared.insert(
            name.clone(),
            AppVariable {
                default: v.default.clone(),
                required: v.required,
                secret: v.secret,
            },
        );
    }
    let values = AppValues::resolve(&declared, env);
    if let Some(name) = values.missing().first() {
        return Err(format!(
            "{file}: variables.{name}: required variable has no value; set SPIN_VARIABLE_{}",
            name.to_ascii_uppercase()
        ));
    }

    // Components first (sorted by id for a stable order), then triggers.
    let mut components = Vec::new();
    let mut notes = Vec::new();
    let mut index_of = HashMap::new();
    for (id, c) in &raw.component {
        let key = format!("component.{id}");
        let source = match &c.source {
            Some(toml::Value::String(s)) => base.join(s),
            Some(_) => {
                return Err(format!(
                    "{file}: {key}.source: only a local file path is supported"
                ));
            }
            None => return Err(format!("{file}: {key}.source: missing")),
        };
        let mut hosts = Vec::new();
        for (i, h) in c.allowed_outbound_hosts.iter().enumerate() {
            let where_ = format!("{file}: {key}.allowed_outbound_hosts[{i}]");
            let t = Template::parse(h).map_err(|e| format!("{where_}: {e}"))?;
            check_names(&t, &values, &where_)?;
            hosts.push(values.expand(&t).map_err(|e| format!("{where_}: {e}"))?);
        }
        let allowed_hosts = AllowedHosts::parse(&hosts)
            .map_err(|e| format!("{file}: {key}.allowed_outbound_hosts: {e}"))?;
        let mut vars = HashMap::new();
        for (name, tmpl) in &c.variables {
            let where_ = format!("{file}: {key}.variables.{name}");
            validate_name(name).map_err(|e| format!("{where_}: invalid name {e}"))?;
            let t = Template::parse(tmpl).map_err(|e| format!("{where_}: {e}"))?;
            check_names(&t, &values, &where_)?;
            vars.insert(
                name.clone(),
                values.expand(&t).map_err(|e| format!("{where_}: {e}"))?,
            );
        }
        for k in c
            .other
            .keys()
            .filter(|k| !TOOLING_KEYS.contains(&k.as_str()))
        {
            notes.push(format!(
                "{file}: {key}.{k} is not implemented by devhost; ignored"
            ));
        }
        let mut environment: Vec<(String, String)> = c
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        environment.extend(extra_env.iter().cloned());
        index_of.insert(id.clone(), components.len());
        components.push(ComponentConfig {
            id: id.clone(),
            source,
            allowed_hosts,
            variables: ComponentVariables::new(vars),
            environment,
        });
    }

    let mut routes = Vec::new();
    for (i, t) in raw.trigger.http.iter().enumerate() {
        let key = format!("trigger.http[{i}]");
        let component = match &t.component {
            Some(toml::Value::String(c)) => c,
            Some(_) => {
                return Err(format!(
                    "{file}: {key}.component: inline components are not supported; name a [component.<id>]"
                ));
            }
            None => return Err(format!("{file}: {key}.component: missing")),
        };
        let idx = *index_of.get(component).ok_or_else(|| {
            format!("{file}: {key}.component: unknown component {component:?} (no [component.{component}])")
        })?;
        let route = match &t.route {
            Some(toml::Value::String(r)) => r,
            // `{ private = true }`: reachable only by service chaining.
            Some(toml::Value::Table(_)) => continue,
            _ => return Err(format!("{file}: {key}.route: missing")),
        };
        routes.push(Route::parse(route, idx).map_err(|e| format!("{file}: {key}.route: {e}"))?);
    }
    let router = Router::build(routes).map_err(|e| {
        // Name components rather than indices.
        let mut msg = e;
        for (i, c) in components.iter().enumerate() {
            msg = msg.replace(&format!("#{i}"), &format!("{:?}", c.id));
        }
        format!("{file}: trigger.http: {msg}")
    })?;

    Ok(App {
        name: raw.application.name.unwrap_or_else(|| "<unnamed>".into()),
        notes,
        components,
        router,
    })
}

fn check_names(t: &Template, values: &AppValues, where_: &str) -> Result<(), String> {
    for name in t.names() {
        if !values.is_declared(name) {
            return Err(format!(
                "{where_}: template refers to undefined variable {name:?} (add it to [variables])"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
spin_manifest_version = 2

[application]
name = "demo"
unknown_key = "ignored"

[variables]
pg_host = { default = "127.0.0.1:5432" }
pg_password = { required = true, secret = true }
greeting = { default = "hello" }

[[trigger.http]]
route = "/a/..."
component = "alpha"

[[trigger.http]]
route = "/b"
component = "beta"

[[trigger.http]]
route = { private = true }
component = "beta"

[component.alpha]
source = "target/alpha.wasm"
allowed_outbound_hosts = ["postgres://{{ pg_host }}", "redis://127.0.0.1:6379"]
[component.alpha.variables]
db_url = "postgres://u:{{ pg_password }}@{{ pg_host }}/db"
plain = "literal"
[component.alpha.environment]
RUST_LOG = "info"
[component.alpha.build]
command = "cargo build"

[component.beta]
source = "beta.wasm"
files = ["static/**"]
key_value_stores = ["default"]
"#;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse_with(text: &str, e: &[(&str, &str)]) -> Result<App, String> {
        parse(text, "spin.toml", &env(e), &[], Path::new("/app"))
    }

    #[test]
    fn good_manifest_resolves() {
        let app = parse_with(GOOD, &[("SPIN_VARIABLE_PG_PASSWORD", "pw")]).unwrap();
        assert_eq!(app.name, "demo");
        let alpha = &app.components[0];
        assert_eq!(alpha.id, "alpha");
        assert_eq!(alpha.source, Path::new("/app/target/alpha.wasm"));
        assert_eq!(
            alpha.variables.get("alpha", "db_url").unwrap(),
            "postgres://u:pw@127.0.0.1:5432/db"
        );
        assert_eq!(alpha.variables.get("alpha", "plain").unwrap(), "literal");
        assert!(alpha.variables.get("alpha", "greeting").is_err());
        assert_eq!(
            alpha.environment,
            [("RUST_LOG".to_string(), "info".to_string())]
        );
        assert!(
            alpha
                .allowed_hosts
                .check_address("postgres://u:p@127.0.0.1:5432/db", "postgres")
                .is_ok()
        );
        assert_eq!(app.router.routes().count(), 2);
        assert_eq!(app.router.route("/b").unwrap().component, 1);
        assert_eq!(app.notes.len(), 2, "{:?}", app.notes);
        assert!(app.notes[0].contains("component.beta.files"));
    }

    #[test]
    fn errors_name_file_and_key() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (
                "spin_manifest_version = 2\n[component.x\n",
                &[],
                "invalid manifest",
            ),
            ("spin_manifest_version = 1\n", &[], "spin_manifest_version"),
            (GOOD, &[], "variables.pg_password"),
            (
                &GOOD.replace(
                    "component = \"beta\"\n\n[[trigger.http]]",
                    "component = \"gamma\"\n\n[[trigger.http]]",
                ),
                &[("SPIN_VARIABLE_PG_PASSWORD", "x")],
                "trigger.http[1].component",
            ),
            (
                &GOOD.replace("route = \"/b\"", "route = \"/a/...\""),
                &[("SPIN_VARIABLE_PG_PASSWORD", "x")],
                "trigger.http",
            ),
            (
                &GOOD.replace("plain = \"literal\"", "plain = \"{{ nope }}\""),
                &[("SPIN_VARIABLE_PG_PASSWORD", "x")],
                "component.alpha.variables.plain",
            ),
            (
                &GOOD.replace("redis://127.0.0.1:6379", "redis://{{ nope }}"),
                &[("SPIN_VARIABLE_PG_PASSWORD", "x")],
                "component.alpha.allowed_outbound_hosts[1]",
            ),
            (
                &GOOD.replace("plain = ", "Bad-Name = "),
                &[("SPIN_VARIABLE_PG_PASSWORD", "x")],
                "component.alpha.variables.Bad-Name",
            ),
        ];
        for (text, e, needle) in cases {
            let err = parse_with(text, e).unwrap_err();
            assert!(err.starts_with("spin.toml: "), "{err}");
            assert!(err.contains(needle), "expected {needle:?} in {err:?}");
        }
    }

    #[test]
    fn missing_component_file_is_reported() {
        let dir = std::env::temp_dir().join(format!("devhost-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("spin.toml");
        std::fs::write(&path, GOOD).unwrap();
        let err = load(&path, &env(&[("SPIN_VARIABLE_PG_PASSWORD", "x")]), &[]).unwrap_err();
        assert!(err.contains("component.alpha.source"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
