//! Application and component variables, resolved the way Spin resolves them.
//!
//! Spin lets `[variables]` declare app-wide values (default / required /
//! secret), lets `SPIN_VARIABLE_<NAME>` override them, and exposes to each
//! component only the names in its own `[component.X.variables]`, whose
//! values are `{{ name }}` templates over the app variables. Everything here
//! is resolved once at start, so a `variables::get` call is a map lookup.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Why a variable name is not acceptable (Spin's `Key::validate` rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName(pub String);

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a variable name: lower-case ASCII letters, digits and single
/// underscores, starting with a letter and not ending with an underscore.
/// The rule exists so a name maps cleanly onto `SPIN_VARIABLE_<NAME>`.
pub fn validate_name(key: &str) -> Result<(), InvalidName> {
    let reason = if key.is_empty() {
        "must not be empty".to_string()
    } else if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        format!(
            "invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        )
    } else if !key.as_bytes()[0].is_ascii_lowercase() {
        "must start with a lowercase ASCII letter".to_string()
    } else if !key.as_bytes()[key.len() - 1].is_ascii_alphanumeric() {
        "must end with a lowercase ASCII letter or digit".to_string()
    } else if key.contains("__") {
        "must not contain multiple consecutive underscores".to_string()
    } else {
        return Ok(());
    };
    Err(InvalidName(format!("{key:?}: {reason}")))
}

/// One piece of a `{{ name }}` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    Expr(String),
}

/// A parsed template: literal text with `{{ name }}` expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; an opening `{{` without a closing `}}` is an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("{{") {
                let (expr, tail) = after
                    .split_once("}}")
                    .ok_or_else(|| "unmatched '{{' in template".to_string())?;
                parts.push(Part::Expr(expr.trim().to_string()));
                rest = tail;
            } else {
                let end = rest.find("{{").unwrap_or(rest.len());
                parts.push(Part::Lit(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        Ok(Self { parts })
    }

    /// The variable names the template refers to.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(name) => Some(name.as_str()),
            Part::Lit(_) => None,
        })
    }

    /// Renders the template; `lookup` must know every name (checked earlier).
    pub fn render(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(lit) => out.push_str(lit),
                Part::Expr(name) => {
                    out.push_str(&lookup(name).ok_or_else(|| format!("unknown variable {name:?}"))?)
                }
            }
        }
        Ok(out)
    }
}

/// A declared application variable (`[variables]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppVariable {
    pub default: Option<String>,
    pub required: bool,
    pub secret: bool,
}

/// The final value of every app variable after `SPIN_VARIABLE_*` overrides.
#[derive(Debug, Clone, Default)]
pub struct AppValues {
    values: HashMap<String, Option<String>>,
}

impl AppValues {
    /// Applies overrides from `env` (the process environment, passed in so
    /// tests need not touch it). `SPIN_VARIABLE_<NAME>` with the name upper-cased.
    pub fn resolve(
        declared: &BTreeMap<String, AppVariable>,
        env: &HashMap<String, String>,
    ) -> Self {
        let values = declared
            .iter()
            .map(|(name, var)| {
                let key = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
                let value = env.get(&key).cloned().or_else(|| var.default.clone());
                (name.clone(), value)
            })
            .collect();
        Self { values }
    }

    /// Names of variables that are declared but have no value at all.
    pub fn missing(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .values
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.as_str())
            .collect();
        names.sort();
        names
    }

    pub fn is_declared(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned().flatten()
    }

    /// Expands a template over the app variables.
    pub fn expand(&self, template: &Template) -> Result<String, String> {
        template.render(|name| self.get(name))
    }
}

/// What a component may read through `fermyon:spin/variables`.
#[derive(Debug, Clone, Default)]
pub struct ComponentVariables {
    values: HashMap<String, String>,
}

/// The errors of `variables::get`, mirroring the WIT variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    InvalidName(String),
    Undefined(String),
}

impl ComponentVariables {
    pub fn new(values: HashMap<String, String>) -> Self {
        Self { values }
    }

    /// Looks a name up the way Spin does: validate first, then only the
    /// component's own names exist.
    pub fn get(&self, component_id: &str, name: &str) -> Result<String, GetError> {
        validate_name(name).map_err(|e| GetError::InvalidName(e.0))?;
        self.values.get(name).cloned().ok_or_else(|| {
            GetError::Undefined(format!("no variable for {component_id:?}.{name:?}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_spin_rules() {
        for good in ["a", "abc", "a1b2c3", "a_1", "a_1_b_3", "db_url"] {
            assert!(validate_name(good).is_ok(), "{good} should be valid");
        }
        for bad in [
            "", "aX", "1bc", "_x", "x.y", "x_", "a__b", "x-y", "Bad-Name", "DB_URL",
        ] {
            assert!(validate_name(bad).is_err(), "{bad} should be invalid");
        }
    }

    #[test]
    fn templates_parse_and_render() {
        let cases: &[(&str, &[Part])] = &[
            ("", &[]),
            ("a", &[Part::Lit("a".into())]),
            (
                "a-{{ x }}-b",
                &[
                    Part::Lit("a-".into()),
                    Part::Expr("x".into()),
                    Part::Lit("-b".into()),
                ],
            ),
            (
                "{{x}}{{ y }}",
                &[Part::Expr("x".into()), Part::Expr("y".into())],
            ),
        ];
        for (text, parts) in cases {
            let t = Template::parse(text).unwrap();
            assert_eq!(&t.parts, parts, "{text}");
        }
        assert!(Template::parse("{{ a }} {{ b").is_err());
        let t = Template::parse("postgres://{{ a }}:{{ b }}@{{ c }}/{{ d }}").unwrap();
        let out = t
            .render(|n| Some(n.to_uppercase()))
            .expect("all names known");
        assert_eq!(out, "postgres://A:B@C/D");
        assert_eq!(t.names().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    }

    fn declared() -> BTreeMap<String, AppVariable> {
        let mut m = BTreeMap::new();
        m.insert(
            "pg_host".to_string(),
            AppVariable {
                default: Some("127.0.0.1:5432".into()),
                ..Default::default()
            },
        );
        m.insert(
            "pg_password".to_string(),
            AppVariable {
                required: true,
                secret: true,
                ..Default::default()
            },
        );
        m
    }

    #[test]
    fn defaults_and_env_overrides() {
        let env = HashMap::new();
        let values = AppValues::resolve(&declared(), &env);
        assert_eq!(values.get("pg_host").as_deref(), Some("127.0.0.1:5432"));
        assert_eq!(values.missing(), ["pg_password"]);

        let env: HashMap<String, String> = [
            ("SPIN_VARIABLE_PG_HOST", "10.0.0.1:5440"),
            ("SPIN_VARIABLE_PG_PASSWORD", "s3cret"),
            ("SPIN_VARIABLE_pg_host", "ignored"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let values = AppValues::resolve(&declared(), &env);
        assert_eq!(values.get("pg_host").as_deref(), Some("10.0.0.1:5440"));
        assert_eq!(values.get("pg_password").as_deref(), Some("s3cret"));
        assert!(values.missing().is_empty());
        let t = Template::parse("postgres://u:{{ pg_password }}@{{ pg_host }}/db").unwrap();
        assert_eq!(
            values.expand(&t).unwrap(),
            "postgres://u:s3cret@10.0.0.1:5440/db"
        );
    }

    #[test]
    fn component_sees_only_its_own_names() {
        let vars = ComponentVariables::new(
            [("db_url".to_string(), "postgres://x".to_string())]
                .into_iter()
                .collect(),
        );
        assert_eq!(vars.get("c", "db_url").unwrap(), "postgres://x");
        assert!(matches!(
            vars.get("c", "pg_host"),
            Err(GetError::Undefined(_))
        ));
        assert!(matches!(vars.get("c", "nope"), Err(GetError::Undefined(_))));
        assert!(matches!(
            vars.get("c", "Bad-Name"),
            Err(GetError::InvalidName(_))
        ));
    }
}
