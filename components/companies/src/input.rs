//! What a client may give for a company, parsed at the edge. Each check
//! names its field (`address.city`) in the 422; wrong JSON types and unknown
//! keys are 400s from the platform's body parser, also by path.

use plinth_platform::Error;
pub use plinth_platform::domain::Address;
use plinth_platform::domain::{Currency, Name, country, trimmed};
use serde_json::{Map, Value};

/// The largest `metadata`, serialized as compact JSON, in bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// Longest `tax_id`, in characters.
const MAX_TAX_ID_CHARS: usize = 64;

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

/// A tax or VAT number, as the authority writes it: 1–64 characters.
pub fn tax_id(value: &str) -> Result<String, Error> {
    trimmed("tax_id", value, MAX_TAX_ID_CHARS)
}

/// An ISO 3166-1 alpha-2 code in upper case, reported on `field`.
pub fn country(field: &str, value: &str) -> Result<String, Error> {
    country::parse(field, value)
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
    if let Some(path) = first_unsafe_number("metadata", &Value::Object(value.clone())) {
        return Err(Error::field(
            path,
            format!("numbers must be at most {MAX_METADATA_NUMBER:e} in size"),
        ));
    }
    Ok(value)
}

/// The largest number `metadata` keeps. PostgreSQL stores JSON numbers
/// exactly and writes them back in full (`1e308` becomes 309 digits), which
/// a reader of doubles cannot take back near the end of their range: such
/// numbers are refused rather than stored.
const MAX_METADATA_NUMBER: f64 = 1e300;

/// The path of the first number in `value` out of ±[`MAX_METADATA_NUMBER`].
fn first_unsafe_number(path: &str, value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .is_none_or(|f| !f.is_finite() || f.abs() > MAX_METADATA_NUMBER)
            .then(|| path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_unsafe_number(&format!("{path}[{i}]"), item)),
        Value::Object(map) => map
            .iter()
            .find_map(|(key, item)| first_unsafe_number(&format!("{path}.{key}"), item)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named() {
        assert_eq!(name(" ").unwrap_err().invalid_field(), Some("name"));
        assert_eq!(
            legal_name(&"x".repeat(201)).unwrap_err().invalid_field(),
            Some("legal_name")
        );
        assert_eq!(tax_id("").unwrap_err().invalid_field(), Some("tax_id"));
        assert_eq!(
            country("country", "de").unwrap_err().invalid_field(),
            Some("country")
        );
        assert_eq!(
            currency("EURO").unwrap_err().invalid_field(),
            Some("currency")
        );
        assert_eq!(
            status("status", "gone").unwrap_err().invalid_field(),
            Some("status")
        );
        let big = Map::from_iter([(
            "k".to_owned(),
            Value::String("x".repeat(MAX_METADATA_BYTES)),
        )]);
        assert_eq!(metadata(big).unwrap_err().invalid_field(), Some("metadata"));
        let huge: Map<String, Value> =
            serde_json::from_str(r#"{"a": {"k": [1, -1.7976931348623157e308]}}"#).unwrap();
        assert_eq!(
            metadata(huge).unwrap_err().invalid_field(),
            Some("metadata.a.k[1]")
        );
        let fine: Map<String, Value> = serde_json::from_str(r#"{"k": 1e299, "n": -3.5}"#).unwrap();
        assert!(metadata(fine).is_ok());
        let address = Address {
            country: Some("XX".into()),
            ..Address::default()
        };
        assert_eq!(
            address.parse().unwrap_err().invalid_field(),
            Some("address.country")
        );
        let address = Address {
            postal_code: Some("1".repeat(33)),
            ..Address::default()
        };
        assert_eq!(
            address.parse().unwrap_err().invalid_field(),
            Some("address.postal_code")
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
