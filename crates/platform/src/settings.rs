//! An org's settings (`org.settings_json`): the one schema every write is
//! checked against ([`validate`]), the defaults that make the effective
//! settings ([`effective`]), and RFC 7396 merge patches ([`merge_patch`]).
//!
//! The stored object holds only what the org set; a key it did not set
//! takes its default when read. Every problem is a 422 whose field is the
//! key's path from `settings` (`settings.matching.min_score`), unknown keys
//! included, so a client sees every mistake of one write at once.
//!
//! The schema is data ([`SCHEMA`]): adding a setting is adding a row.

use serde_json::{Map, Value, json};

use crate::domain::currency;
use crate::error::{Error, FieldError};

/// What a setting's value must be.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    /// A JSON number in `min..=max`.
    Number {
        min: f64,
        max: f64,
    },
    /// A whole number in `min..=max`; `null` too when `nullable` (no limit).
    Integer {
        min: i64,
        max: i64,
        nullable: bool,
    },
    /// An ISO 4217 code (`EUR`).
    Currency,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An array of distinct strings, each one of `allowed` (any string of at
    /// most 255 characters when `allowed` is empty), at most `max_items`.
    Strings {
        allowed: &'static [&'static str],
        max_items: usize,
    },
    /// A text of at most `max` characters, or `null`.
    OptionalText {
        max: usize,
    },
    Object(&'static [Setting]),
}

/// One key of the schema and its default.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub key: &'static str,
    pub kind: Kind,
    /// The default as JSON text (unused for objects: their keys have theirs).
    pub default: &'static str,
}

const fn setting(key: &'static str, kind: Kind, default: &'static str) -> Setting {
    Setting { key, kind, default }
}

const UNIT: Kind = Kind::Number { min: 0.0, max: 1.0 };

/// The schema of `settings`.
pub const SCHEMA: &[Setting] = &[
    setting("default_currency", Kind::Currency, "\"EUR\""),
    setting(
        "price_tolerance_percent",
        Kind::Number {
            min: 0.0,
            max: 100.0,
        },
        "2",
    ),
    setting(
        "matching",
        Kind::Object(&[
            setting("enabled", Kind::Bool, "true"),
            setting("min_score", UNIT, "0.8"),
            setting("auto_confirm", Kind::Bool, "false"),
            setting(
                "max_candidates",
                Kind::Integer {
                    min: 1,
                    max: 50,
                    nullable: false,
                },
                "5",
            ),
        ]),
        "",
    ),
    setting(
        "customer_detection",
        Kind::Object(&[
            setting("enabled", Kind::Bool, "true"),
            setting(
                "match_on",
                Kind::Strings {
                    allowed: &["email", "tax_id", "name", "domain", "phone"],
                    max_items: 5,
                },
                "[\"email\", \"tax_id\"]",
            ),
            setting("min_confidence", UNIT, "0.7"),
        ]),
        "",
    ),
    setting(
        "ai",
        Kind::Object(&[
            setting("enabled", Kind::Bool, "false"),
            setting("model", Kind::OptionalText { max: 100 }, "null"),
            setting("temperature", Kind::Number { min: 0.0, max: 2.0 }, "0"),
            setting(
                "max_tokens",
                Kind::Integer {
                    min: 1,
                    max: 32_768,
                    nullable: false,
                },
                "1024",
            ),
        ]),
        "",
    ),
    setting(
        "extraction",
        Kind::Object(&[
            setting("enabled", Kind::Bool, "true"),
            setting(
                "languages",
                Kind::Strings {
                    allowed: &[
                        "de", "en", "es", "fr", "it", "nl", "pl", "pt", "sv", "da", "fi", "no",
                        "cs",
                    ],
                    max_items: 13,
                },
                "[\"en\"]",
            ),
            setting("confidence_threshold", UNIT, "0.7"),
            setting("output", Kind::OneOf(&["json", "csv"]), "\"json\""),
        ]),
        "",
    ),
    setting(
        "rate_limit",
        Kind::Object(&[setting(
            "requests_per_minute",
            Kind::Integer {
                min: 1,
                max: 1_000_000,
                nullable: true,
            },
            "null",
        )]),
        "",
    ),
    setting(
        "files",
        Kind::Object(&[
            setting(
                "quota_bytes",
                Kind::Integer {
                    min: 0,
                    max: i64::MAX,
                    nullable: false,
                },
                "1073741824",
            ),
            setting(
                "allowed_content_types",
                Kind::Strings {
                    allowed: &[],
                    max_items: 100,
                },
                "[]",
            ),
        ]),
        "",
    ),
];

/// Checks a whole settings object (what would be stored) against
/// [`SCHEMA`]: 422 listing every wrong, unknown or out-of-range key by its
/// path under `field` (`settings`).
pub fn validate(field: &str, value: &Value) -> Result<(), Error> {
    let mut errors = Vec::new();
    check_object(field, SCHEMA, value, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// The stored settings with every default filled in.
pub fn effective(stored: &Value) -> Value {
    fill(SCHEMA, stored.as_object())
}

/// RFC 7396: `patch` merged into `target` (a `null` removes a key, an
/// object merges, anything else replaces).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

fn fill(schema: &[Setting], stored: Option<&Map<String, Value>>) -> Value {
    let mut out = Map::new();
    for setting in schema {
        let given = stored.and_then(|map| map.get(setting.key));
        let value = match setting.kind {
            Kind::Object(inner) => fill(inner, given.and_then(Value::as_object)),
            _ => given
                .cloned()
                .unwrap_or_else(|| serde_json::from_str(setting.default).unwrap_or(Value::Null)),
        };
        out.insert(setting.key.to_owned(), value);
    }
    Value::Object(out)
}

fn check_object(path: &str, schema: &[Setting], value: &Value, errors: &mut Vec<FieldError>) {
    let Some(map) = value.as_object() else {
        errors.push(FieldError::new(path, "must be a JSON object"));
        return;
    };
    for (key, value) in map {
        let at = format!("{path}.{key}");
        match schema.iter().find(|s| s.key == key) {
            None => errors.push(FieldError::new(at, "is not a setting")),
            Some(setting) => check_value(&at, setting.kind, value, errors),
        }
    }
}

fn check_value(path: &str, kind: Kind, value: &Value, errors: &mut Vec<FieldError>) {
    let mut fail = |message: String| errors.push(FieldError::new(path, message));
    match kind {
        Kind::Bool if !value.is_boolean() => fail("must be true or false".into()),
        Kind::Number { min, max } => match value.as_f64() {
            Some(n) if (min..=max).contains(&n) => {}
            _ => fail(format!("must be a number from {min} to {max}")),
        },
        Kind::Integer { nullable: true, .. } if value.is_null() => {}
        Kind::Integer { min, max, .. } => match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => {}
            _ => fail(format!("must be a whole number from {min} to {max}")),
        },
        Kind::Currency => {
            if !value.as_str().is_some_and(currency::is_code) {
                fail("must be an ISO 4217 currency code, such as EUR".into());
            }
        }
        Kind::OneOf(allowed) => {
            if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
                fail(format!("must be one of {}", allowed.join(", ")));
            }
        }
        Kind::Strings { allowed, max_items } => {
            check_strings(path, allowed, max_items, value, errors)
        }
        Kind::OptionalText { max } => match value {
            Value::Null => {}
            Value::String(text) if text.chars().count() <= max && !text.trim().is_empty() => {}
            _ => fail(format!("must be null or a text of 1 to {max} characters")),
        },
        Kind::Object(inner) => check_object(path, inner, value, errors),
        Kind::Bool => {}
    }
}

fn check_strings(
    path: &str,
    allowed: &[&str],
    max_items: usize,
    value: &Value,
    errors: &mut Vec<FieldError>,
) {
    let Some(items) = value.as_array() else {
        errors.push(FieldError::new(path, "must be an array of strings"));
        return;
    };
    if items.len() > max_items {
        errors.push(FieldError::new(
            path,
            format!("must have at most {max_items} items"),
        ));
    }
    for (index, item) in items.iter().enumerate() {
        let ok = item.as_str().is_some_and(|text| {
            if allowed.is_empty() {
                !text.is_empty() && text.len() <= 255
            } else {
                allowed.contains(&text)
            }
        });
        let repeated = items[..index].contains(item);
        if !ok || repeated {
            let message = if repeated {
                "is listed twice".to_owned()
            } else if allowed.is_empty() {
                "must be a text of 1 to 255 characters".to_owned()
            } else {
                format!("must be one of {}", allowed.join(", "))
            };
            errors.push(FieldError::new(format!("{path}[{index}]"), message));
        }
    }
}

/// The request budget an org's stored settings give, for tests and docs.
pub fn requests_per_minute(stored: &Value) -> Option<u64> {
    stored
        .pointer("/rate_limit/requests_per_minute")
        .and_then(Value::as_u64)
}

/// The defaults alone (the effective settings of an org that set nothing).
pub fn defaults() -> Value {
    effective(&json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: Error) -> Vec<String> {
        match err {
            Error::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_fill_what_was_not_set() {
        let stored = json!({"default_currency": "CHF", "matching": {"min_score": 0.9}});
        let settings = effective(&stored);
        assert_eq!(settings["default_currency"], "CHF");
        assert_eq!(settings["matching"]["min_score"], 0.9);
        assert_eq!(settings["matching"]["enabled"], true);
        assert_eq!(settings["price_tolerance_percent"], 2);
        assert_eq!(settings["rate_limit"]["requests_per_minute"], Value::Null);
        assert_eq!(settings["files"]["quota_bytes"], 1_073_741_824_i64);
        for setting in SCHEMA {
            assert!(settings.get(setting.key).is_some(), "{}", setting.key);
        }
        // Every default passes the schema.
        validate("settings", &defaults()).unwrap();
    }

    #[test]
    fn every_mistake_is_named_by_its_path() {
        let cases = [
            (
                json!({"default_currency": "EURO"}),
                "settings.default_currency",
            ),
            (
                json!({"default_currency": "XXX"}),
                "settings.default_currency",
            ),
            (
                json!({"price_tolerance_percent": 100.5}),
                "settings.price_tolerance_percent",
            ),
            (
                json!({"price_tolerance_percent": "5"}),
                "settings.price_tolerance_percent",
            ),
            (
                json!({"matching": {"min_score": 2}}),
                "settings.matching.min_score",
            ),
            (
                json!({"matching": {"colour": "red"}}),
                "settings.matching.colour",
            ),
            (json!({"matching": []}), "settings.matching"),
            (json!({"surprise": 1}), "settings.surprise"),
            (json!({"ai": {"max_tokens": 1.5}}), "settings.ai.max_tokens"),
            (json!({"ai": {"model": ""}}), "settings.ai.model"),
            (
                json!({"customer_detection": {"match_on": ["email", "shoe"]}}),
                "settings.customer_detection.match_on[1]",
            ),
            (
                json!({"extraction": {"languages": ["en", "en"]}}),
                "settings.extraction.languages[1]",
            ),
            (
                json!({"rate_limit": {"requests_per_minute": 0}}),
                "settings.rate_limit.requests_per_minute",
            ),
        ];
        for (value, want) in cases {
            let err = validate("settings", &value).unwrap_err();
            assert_eq!(err.status(), 422);
            assert_eq!(fields(err), [want], "{value}");
        }
        let both = validate(
            "settings",
            &json!({"matching": {"min_score": -1}, "ai": {"enabled": "yes"}}),
        )
        .unwrap_err();
        assert_eq!(
            fields(both),
            ["settings.ai.enabled", "settings.matching.min_score"]
        );
        validate(
            "settings",
            &json!({"rate_limit": {"requests_per_minute": null}, "ai": {"model": "m-1"}}),
        )
        .unwrap();
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // The examples of RFC 7396 §3 that matter here.
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
        let mut target = json!({"a": [{"b": "c"}]});
        merge_patch(&mut target, &json!({"a": [1]}));
        assert_eq!(target, json!({"a": [1]}));
        let mut target = json!({"a": "foo"});
        merge_patch(&mut target, &json!({"b": {"c": null}}));
        assert_eq!(target, json!({"a": "foo", "b": {}}));
    }
}
