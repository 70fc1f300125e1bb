//! What a client may give for a company, parsed at the edge. Each check
//! names its field (`address.city`) in the 422; wrong JSON types and unknown
//! keys are 400s from the platform's body parser, also by path.

use plinth_platform::Error;
use plinth_platform::domain::{Currency, Name};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::country;

/// The largest `metadata`, serialized as compact JSON, in bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// Longest `tax_id`, in characters.
const MAX_TAX_ID_CHARS: usize = 64;

/// Longest address line, city or region, in characters.
const MAX_ADDRESS_CHARS: usize = 200;

/// Longest postal code, in characters.
const MAX_POSTAL_CODE_CHARS: usize = 32;

/// The company's display name: unique per org, whatever its case.
pub fn name(value: &str) -> Result<String, Error> {
    Ok(Name::parse(value)?.as_str().to_owned())
}

/// The registered name: 1–200 characters once trimmed.
pub fn legal_name(value: &str) -> Result<String, Error> {
    Ok(Name::parse(value)
        .map_err(|e| e.at("legal_name"))?
        .as_str()
        .to_owned())
}

/// 1–`max` characters once trimmed, stored trimmed.
fn text(field: &str, value: &str, max: usize) -> Result<String, Error> {
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

/// A tax or VAT number, as the authority writes it: 1–64 characters.
pub fn tax_id(value: &str) -> Result<String, Error> {
    text("tax_id", value, MAX_TAX_ID_CHARS)
}

/// An ISO 3166-1 alpha-2 code in upper case, reported on `field`.
pub fn country(field: &str, value: &str) -> Result<String, Error> {
    if country::is_code(value) {
        Ok(value.to_owned())
    } else {
        Err(Error::field(
            field,
            "must be an ISO 3166-1 alpha-2 country code in upper case, such as DE",
        ))
    }
}

/// An ISO 4217 code in upper case.
pub fn currency(value: &str) -> Result<String, Error> {
    Ok(Currency::parse(value)?.as_str().to_owned())
}

/// `active` or `archived`, reported on `field` (`status`, or the list's filter).
pub fn status(field: &str, value: &str) -> Result<&'static str, Error> {
    match value {
        "active" => Ok("active"),
        "archived" => Ok("archived"),
        _ => Err(Error::field(field, "must be active or archived")),
    }
}

/// Free-form data of the client's: a JSON object of at most 16 KiB.
pub fn metadata(value: Map<String, Value>) -> Result<Map<String, Value>, Error> {
    let size = serde_json::to_vec(&value).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_METADATA_BYTES {
        return Err(Error::field(
            "metadata",
            format!("must be at most {MAX_METADATA_BYTES} bytes as JSON, is {size}"),
        ));
    }
    Ok(value)
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
                .map(|value| text(&format!("address.{field}"), &value, max))
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
                .map(|code| country("address.country", &code))
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
    fn fields_are_named() {
        assert_eq!(field_of(name(" ").unwrap_err()), "name");
        assert_eq!(
            field_of(legal_name(&"x".repeat(201)).unwrap_err()),
            "legal_name"
        );
        assert_eq!(field_of(tax_id("").unwrap_err()), "tax_id");
        assert_eq!(field_of(country("country", "de").unwrap_err()), "country");
        assert_eq!(field_of(currency("EURO").unwrap_err()), "currency");
        assert_eq!(field_of(status("status", "gone").unwrap_err()), "status");
        let big = Map::from_iter([(
            "k".to_owned(),
            Value::String("x".repeat(MAX_METADATA_BYTES)),
        )]);
        assert_eq!(field_of(metadata(big).unwrap_err()), "metadata");
        let address = Address {
            country: Some("XX".into()),
            ..Address::default()
        };
        assert_eq!(field_of(address.parse().unwrap_err()), "address.country");
        let address = Address {
            postal_code: Some("1".repeat(33)),
            ..Address::default()
        };
        assert_eq!(
            field_of(address.parse().unwrap_err()),
            "address.postal_code"
        );
    }

    #[test]
    fn good_values_are_kept_trimmed() {
        assert_eq!(name("  ACME GmbH ").unwrap(), "ACME GmbH");
        assert_eq!(tax_id(" DE123456789 ").unwrap(), "DE123456789");
        assert_eq!(country("country", "DE").unwrap(), "DE");
        assert_eq!(currency("CHF").unwrap(), "CHF");
        let address = Address {
            city: Some(" Berlin ".into()),
            country: Some("DE".into()),
            ..Address::default()
        };
        assert_eq!(address.parse().unwrap().city.as_deref(), Some("Berlin"));
        // `{"k":"…"}` adds 8 bytes to the string.
        let sized = |n| Map::from_iter([("k".to_owned(), Value::String("x".repeat(n)))]);
        assert!(
            metadata(sized(MAX_METADATA_BYTES - 8)).is_ok(),
            "exactly 16 KiB"
        );
        assert!(
            metadata(sized(MAX_METADATA_BYTES - 7)).is_err(),
            "one byte over"
        );
    }
}
