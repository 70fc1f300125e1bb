//! A postal address, the one shape every entity with an address uses
//! (companies, partners), and [`trimmed`], the rule for free text fields.

use serde::{Deserialize, Serialize};

use crate::domain::country;
use crate::error::Error;

/// Longest address line, city or region, in characters.
const MAX_ADDRESS_CHARS: usize = 200;

/// Longest postal code, in characters.
const MAX_POSTAL_CODE_CHARS: usize = 32;

/// 1–`max` characters once trimmed, returned trimmed; 422 on `field`.
pub fn trimmed(field: &str, value: &str, max: usize) -> Result<String, Error> {
    let trimmed = value.trim();
    match trimmed.chars().count() {
        0 => Err(Error::field(
            field,
            "must not be empty (omit it or give null)",
        )),
        n if n > max => Err(Error::field(
            field,
            format!("must be at most {max} characters"),
        )),
        _ => Ok(trimmed.to_owned()),
    }
}

/// A postal address; every part is optional, unknown keys are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    /// Each part checked and trimmed; 422 naming `address.<part>`.
    pub fn parse(self) -> Result<Self, Error> {
        let part = |field: &str, value: Option<String>, max: usize| {
            value
                .map(|value| trimmed(&format!("address.{field}"), &value, max))
                .transpose()
        };
        Ok(Self {
            line1: part("line1", self.line1, MAX_ADDRESS_CHARS)?,
            line2: part("line2", self.line2, MAX_ADDRESS_CHARS)?,
            postal_code: part("postal_code", self.postal_code, MAX_POSTAL_CODE_CHARS)?,
            city: part("city", self.city, MAX_ADDRESS_CHARS)?,
            region: part("region", self.region, MAX_ADDRESS_CHARS)?,
            country: self
                .country
                .map(|code| country::parse("address.country", &code))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: Error) -> String {
        match err {
            Error::Validation(errors) => errors[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parts_are_checked_and_named() {
        let cases = [
            (
                Address {
                    country: Some("XX".into()),
                    ..Address::default()
                },
                "address.country",
            ),
            (
                Address {
                    city: Some("  ".into()),
                    ..Address::default()
                },
                "address.city",
            ),
            (
                Address {
                    postal_code: Some("1".repeat(33)),
                    ..Address::default()
                },
                "address.postal_code",
            ),
        ];
        for (address, field) in cases {
            assert_eq!(field_of(address.parse().unwrap_err()), field);
        }
        let ok = Address {
            city: Some(" Berlin ".into()),
            country: Some("DE".into()),
            ..Address::default()
        };
        assert_eq!(ok.parse().unwrap().city.as_deref(), Some("Berlin"));
    }
}
