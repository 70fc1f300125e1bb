//! `cargo xtask manifest --hosts <env file> [-f spin.toml] [-o out.toml]`: renders a
//! `spin.toml` that hosted Spin (Fermyon Cloud, Akamai Functions) accepts.
//!
//! Those platforms take no runtime config and no variables inside
//! `allowed_outbound_hosts`. So every `{{ name }}` in an `allowed_outbound_hosts`
//! entry is replaced with the value the env file gives (`name=…` or
//! `SPIN_VARIABLE_NAME=…`), and the variable's default becomes that value, so the
//! component variables built from it (`db_url`, `redis_url`, …) name the same host.
//! Everything else, comments included, is left as it is. A host variable the file
//! does not give, or gives empty, is an error naming it: the defaults point at
//! 127.0.0.1, which is never right on a hosted platform.
//!
//! Only host variables are read from the file; secrets in it stay out of the
//! output (they are passed with `--variable` at deploy time).

use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, InlineTable, Item, Value};

use crate::util;

const USAGE: &str =
    "usage: cargo xtask manifest --hosts <env file> [-f spin.toml] [-o <output file>]";

pub fn cli(args: &[String]) -> Result<()> {
    let mut hosts = None;
    let mut input = util::root().join("spin.toml");
    let mut output = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .with_context(|| format!("{arg} needs {what}\n{USAGE}"))
        };
        match arg.as_str() {
            "--hosts" => hosts = Some(PathBuf::from(value("an env file")?)),
            "-f" | "--file" => input = PathBuf::from(value("a manifest")?),
            "-o" | "--output" => output = Some(PathBuf::from(value("a file")?)),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let hosts = hosts.with_context(|| format!("--hosts is required\n{USAGE}"))?;
    let text = std::fs::read_to_string(&input)
        .with_context(|| format!("cannot read {}", input.display()))?;
    let env = util::read_env(&hosts)?;
    let mut doc = render(&text, &env)
        .with_context(|| format!("rendering {} with {}", input.display(), hosts.display()))?;
    let Some(output) = output else {
        print!("{doc}");
        return Ok(());
    };
    // Spin resolves `source` and build commands against the manifest's directory.
    let from = absolute_dir(&input)?;
    if absolute_dir(&output)? != from {
        relocate(&mut doc, &from);
    }
    std::fs::write(&output, doc.to_string())
        .with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!("wrote {}", output.display());
    Ok(())
}

/// The manifest with concrete hosts in every `allowed_outbound_hosts`.
pub fn render(manifest: &str, env: &[(String, String)]) -> Result<DocumentMut> {
    let mut doc: DocumentMut = manifest.parse().context("spin.toml is not valid TOML")?;
    let given = host_values(env);
    let declared = declared_variables(&doc)?;

    // Which variable each component's allowed hosts use, to name them in errors.
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (component, entries) in allowed_hosts(&doc) {
        for entry in entries {
            for name in template_names(&entry)
                .with_context(|| format!("component {component}: allowed host {entry:?}"))?
            {
                used.entry(name).or_default().insert(component.clone());
            }
        }
    }
    for (name, components) in &used {
        let components = components.iter().cloned().collect::<Vec<_>>().join(", ");
        match declared.get(name) {
            None => bail!(
                "allowed_outbound_hosts of {components} use `{{{{ {name} }}}}`, which [variables] does not declare"
            ),
            Some(Declared { secret: true }) => bail!(
                "`{name}` is a secret variable: it cannot be written into allowed_outbound_hosts"
            ),
            Some(_) => {}
        }
    }
    let missing: Vec<String> = used
        .iter()
        .filter(|(name, _)| !given.contains_key(*name))
        .map(|(name, components)| {
            let components = components.iter().cloned().collect::<Vec<_>>().join(", ");
            format!(
                "  {name} (allowed_outbound_hosts of {components}): add `{name}=…` or `SPIN_VARIABLE_{}=…`",
                name.to_ascii_uppercase()
            )
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "the env file gives no value for these host variables:\n{}",
            missing.join("\n")
        );
    }

    for (component, table) in components_mut(&mut doc) {
        let Some(array) = table
            .get_mut("allowed_outbound_hosts")
            .and_then(Item::as_array_mut)
        else {
            continue;
        };
        for value in array.iter_mut() {
            let Some(entry) = value.as_str() else {
                bail!("component {component}: allowed_outbound_hosts holds a non-string");
            };
            let rendered = substitute(entry, &given)?;
            check_host(&rendered).with_context(|| {
                format!("component {component}: allowed host {entry:?} renders as {rendered:?}")
            })?;
            let decor = value.decor().clone();
            *value = Value::from(rendered);
            *value.decor_mut() = decor;
        }
    }

    let variables = doc["variables"]
        .as_table_like_mut()
        .context("[variables] is not a table")?;
    for name in used.keys() {
        let mut default = InlineTable::new();
        default.insert("default", Value::from(given[name].as_str()));
        variables.insert(name, Item::Value(Value::InlineTable(default)));
    }
    doc.decor_mut().set_prefix(
        "# Rendered by `cargo xtask manifest` for hosted Spin: the hosts are concrete in\n\
         # allowed_outbound_hosts and in the defaults of their variables. Do not edit; render again.\n",
    );
    Ok(doc)
}

/// Variable name → value for the non-empty `name=` / `SPIN_VARIABLE_NAME=` lines.
fn host_values(env: &[(String, String)]) -> BTreeMap<String, String> {
    env.iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            let name = k.strip_prefix("SPIN_VARIABLE_").unwrap_or(k);
            (name.to_ascii_lowercase(), v.clone())
        })
        .collect()
}

struct Declared {
    secret: bool,
}

fn declared_variables(doc: &DocumentMut) -> Result<BTreeMap<String, Declared>> {
    let Some(vars) = doc.get("variables") else {
        return Ok(BTreeMap::new());
    };
    let vars = vars.as_table_like().context("[variables] is not a table")?;
    Ok(vars
        .iter()
        .map(|(name, item)| {
            let secret = item.get("secret").and_then(Item::as_bool).unwrap_or(false);
            (name.to_string(), Declared { secret })
        })
        .collect())
}

/// `(component, allowed_outbound_hosts entries)` for every component.
fn allowed_hosts(doc: &DocumentMut) -> Vec<(String, Vec<String>)> {
    let Some(components) = doc.get("component").and_then(Item::as_table_like) else {
        return Vec::new();
    };
    components
        .iter()
        .map(|(name, table)| {
            let entries = table
                .get("allowed_outbound_hosts")
                .and_then(Item::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            (name.to_string(), entries)
        })
        .collect()
}

fn components_mut(doc: &mut DocumentMut) -> Vec<(String, &mut dyn toml_edit::TableLike)> {
    let Some(components) = doc.get_mut("component").and_then(Item::as_table_like_mut) else {
        return Vec::new();
    };
    components
        .iter_mut()
        .filter_map(|(name, item)| Some((name.to_string(), item.as_table_like_mut()?)))
        .collect()
}

/// The names inside `{{ … }}` in a template, in order.
fn template_names(template: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").context("`{{` without a closing `}}`")?;
        let name = after[..end].trim();
        let valid = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            bail!("`{{{{{}}}}}` is not a variable reference", &after[..end]);
        }
        names.push(name.to_string());
        rest = &after[end + 2..];
    }
    Ok(names)
}

fn substitute(template: &str, values: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").context("`{{` without a closing `}}`")?;
        let name = after[..end].trim();
        out.push_str(values.get(name).context("unreachable: checked above")?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A rendered allowed host must be `scheme://host[:port]`: no path, no credentials,
/// nothing left to substitute. Catches a value given in the wrong shape (a
/// `postgres://user:pw@…` URL for `pg_host`, an endpoint with a path) before the
/// platform refuses the deploy, or worse, a credential lands in the manifest.
fn check_host(rendered: &str) -> Result<()> {
    let (scheme, rest) = rendered
        .split_once("://")
        .context("expected scheme://host[:port]")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic() || c == '*')
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.*".contains(c));
    if !scheme_ok {
        bail!("bad scheme {scheme:?}");
    }
    if rest.is_empty() {
        bail!("no host");
    }
    if let Some(bad) = rest
        .chars()
        .find(|c| c.is_whitespace() || "/@?#{}\"'\\".contains(*c))
    {
        bail!(
            "the host part {rest:?} holds {bad:?}: give only host[:port] (no path, no credentials)"
        );
    }
    Ok(())
}

/// For an output in another directory: relative `source` paths and build commands
/// keep pointing at the original tree.
fn relocate(doc: &mut DocumentMut, from: &Path) {
    for (_, table) in components_mut(doc) {
        if let Some(source) = table.get_mut("source")
            && let Some(path) = source.as_str()
            && Path::new(path).is_relative()
        {
            *source = toml_edit::value(from.join(path).display().to_string());
        }
        if let Some(build) = table.get_mut("build").and_then(Item::as_table_like_mut) {
            let workdir = match build.get("workdir").and_then(Item::as_str) {
                Some(dir) => from.join(dir),
                None => from.to_path_buf(),
            };
            build.insert("workdir", toml_edit::value(workdir.display().to_string()));
        }
    }
}

fn absolute_dir(file: &Path) -> Result<PathBuf> {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    dir.canonicalize()
        .with_context(|| format!("no directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_manifest() -> String {
        std::fs::read_to_string(util::root().join("spin.toml")).unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Every variable the real spin.toml's allowed hosts use, with a concrete value.
    fn full_env() -> Vec<(String, String)> {
        let doc: DocumentMut = real_manifest().parse().unwrap();
        let names: BTreeSet<String> = allowed_hosts(&doc)
            .into_iter()
            .flat_map(|(_, entries)| entries)
            .flat_map(|e| template_names(&e).unwrap())
            .collect();
        names
            .into_iter()
            .map(|n| {
                let value = if n.ends_with("_endpoint") || n.ends_with("_url") {
                    format!("https://{n}.example.com")
                } else {
                    format!("{}.example.com:1234", n.replace('_', "-"))
                };
                (format!("SPIN_VARIABLE_{}", n.to_ascii_uppercase()), value)
            })
            .collect()
    }

    #[test]
    fn real_manifest_renders_with_no_template_left_in_any_allowed_host() {
        let original: DocumentMut = real_manifest().parse().unwrap();
        let env = full_env();
        assert!(!env.is_empty(), "spin.toml's allowed hosts use no variable");
        let doc = render(&real_manifest(), &env).unwrap();
        let rendered = allowed_hosts(&doc);
        let before = allowed_hosts(&original);
        assert_eq!(rendered.len(), before.len(), "same components");
        for ((component, entries), (_, old)) in rendered.iter().zip(&before) {
            assert_eq!(
                entries.len(),
                old.len(),
                "{component}: same number of hosts"
            );
            for entry in entries {
                assert!(!entry.contains("{{"), "{component}: {entry}");
                check_host(entry).unwrap();
            }
        }
        // The variables' defaults now match what the allowed hosts name.
        let values = host_values(&env);
        for (name, value) in &values {
            assert_eq!(
                doc["variables"][name.as_str()]["default"].as_str(),
                Some(value.as_str()),
                "{name}"
            );
        }
        // The rendered text parses again (what the platform will do).
        let reparsed: DocumentMut = doc.to_string().parse().unwrap();
        assert_eq!(
            reparsed["application"]["name"].as_str(),
            original["application"]["name"].as_str()
        );
    }

    #[test]
    fn substitutes_hosts_into_each_component_and_keeps_everything_else() {
        let manifest = r#"spin_manifest_version = 2
[application]
name = "x"
[variables]
pg_host = { default = "127.0.0.1:5432" }
s3_endpoint = { default = "http://127.0.0.1:9000" }
pw = { required = true, secret = true }
[component.a]
source = "a.wasm"
# the database and the bucket
allowed_outbound_hosts = ["postgres://{{ pg_host }}", "{{s3_endpoint}}", "https://fixed.example.com"]
[component.a.variables]
db_url = "postgres://u:{{ pw }}@{{ pg_host }}/db"
"#;
        let env = env(&[
            ("pg_host", "db.internal:6543"),
            ("SPIN_VARIABLE_S3_ENDPOINT", "https://s3.example.com"),
            ("SPIN_VARIABLE_PW", "hunter2-never-rendered"),
        ]);
        let out = render(manifest, &env).unwrap().to_string();
        assert!(
            out.contains(
                r#"allowed_outbound_hosts = ["postgres://db.internal:6543", "https://s3.example.com", "https://fixed.example.com"]"#
            ),
            "{out}"
        );
        assert!(
            out.contains(r#"pg_host = { default = "db.internal:6543" }"#),
            "{out}"
        );
        assert!(
            out.contains("# the database and the bucket"),
            "comments stay: {out}"
        );
        assert!(
            out.contains(r#"db_url = "postgres://u:{{ pw }}@{{ pg_host }}/db""#),
            "component variables stay templates: {out}"
        );
        assert!(
            out.contains(r#"pw = { required = true, secret = true }"#),
            "{out}"
        );
        assert!(
            !out.contains("hunter2"),
            "a secret from the env file leaked: {out}"
        );
    }

    #[test]
    fn refuses_when_a_host_variable_is_missing_or_empty() {
        let mut env = full_env();
        let (dropped, _) = env.remove(0);
        let name = dropped
            .trim_start_matches("SPIN_VARIABLE_")
            .to_ascii_lowercase();
        let err = format!("{:#}", render(&real_manifest(), &env).unwrap_err());
        assert!(err.contains(&name), "names {name}: {err}");
        assert!(err.contains("allowed_outbound_hosts of"), "{err}");

        env.push((dropped, String::new()));
        let err = format!("{:#}", render(&real_manifest(), &env).unwrap_err());
        assert!(err.contains(&name), "empty counts as missing: {err}");

        let err = format!("{:#}", render(&real_manifest(), &[]).unwrap_err());
        for (k, _) in full_env() {
            let n = k.trim_start_matches("SPIN_VARIABLE_").to_ascii_lowercase();
            assert!(err.contains(&n), "every missing one is named ({n}): {err}");
        }
    }

    #[test]
    fn refuses_values_that_are_not_a_host() {
        let base = full_env();
        for bad in [
            "postgres://user:pw@db:5432",
            "db.example.com:5432/plinth",
            "db example.com",
            "user@db:5432",
        ] {
            let mut env = base.clone();
            for (k, v) in env.iter_mut() {
                if k == "SPIN_VARIABLE_PG_HOST" {
                    *v = bad.to_string();
                }
            }
            let err = render(&real_manifest(), &env);
            assert!(err.is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn refuses_undeclared_and_secret_host_variables() {
        let undeclared =
            "[variables]\n[component.a]\nallowed_outbound_hosts = [\"redis://{{ nope }}\"]\n";
        let err = format!(
            "{:#}",
            render(undeclared, &env(&[("nope", "h:1")])).unwrap_err()
        );
        assert!(err.contains("does not declare"), "{err}");

        let secret = "[variables]\nh = { required = true, secret = true }\n[component.a]\nallowed_outbound_hosts = [\"redis://{{ h }}\"]\n";
        let err = format!("{:#}", render(secret, &env(&[("h", "h:1")])).unwrap_err());
        assert!(err.contains("secret"), "{err}");
    }

    #[test]
    fn relocate_keeps_sources_and_builds_pointing_at_the_tree() {
        let mut doc: DocumentMut = "[component.a]\nsource = \"target/a.wasm\"\n[component.a.build]\ncommand = \"cargo build\"\n[component.b]\nsource = \"/abs/b.wasm\"\n"
            .parse()
            .unwrap();
        relocate(&mut doc, Path::new("/repo"));
        assert_eq!(
            doc["component"]["a"]["source"].as_str(),
            Some("/repo/target/a.wasm")
        );
        assert_eq!(
            doc["component"]["a"]["build"]["workdir"].as_str(),
            Some("/repo")
        );
        assert_eq!(
            doc["component"]["b"]["source"].as_str(),
            Some("/abs/b.wasm")
        );
    }

    #[test]
    fn template_names_reads_spin_templates() {
        assert_eq!(
            template_names("postgres://{{ pg_host }}").unwrap(),
            ["pg_host"]
        );
        assert_eq!(template_names("{{a}}:{{ b_2 }}").unwrap(), ["a", "b_2"]);
        assert!(template_names("none").unwrap().is_empty());
        assert!(template_names("{{ Bad }}").is_err());
        assert!(template_names("{{ open").is_err());
    }
}
