//! What a client may give for a partner, parsed at the edge. Each check
//! names its field (`address.city`, `tags`) in the 422; wrong JSON types and
//! unknown keys are 400s from the platform's body parser, also by path.

use plinth_platform::Error;
pub use plinth_platform::domain::Address;
use plinth_platform::domain::{Email, Name, trimmed};

/// Longest `tax_id`, in characters.
const MAX_TAX_ID_CHARS: usize = 64;

/// Longest `external_ref`, in characters.
const MAX_EXTERNAL_REF_CHARS: usize = 200;

/// Longest `notes`, in characters.
pub const MAX_NOTES_CHARS: usize = 10_000;

/// Most tags on one partner.
pub const MAX_TAGS: usize = 20;

/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 50;

/// Fewest and most digits of an E.164 number after the `+`.
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 8..=15;

/// The partner's display name: 1–200 characters once trimmed.
pub fn name(value: &str) -> Result<String, Error> {
    Ok(Name::parse(value)?.as_str().to_owned())
}

/// `customer`, `supplier` or `both`, reported on `field` (`kind`, or the
/// list's filter).
pub fn kind(field: &str, value: &str) -> Result<&'static str, Error> {
    match value {
        "customer" => Ok("customer"),
        "supplier" => Ok("supplier"),
        "both" => Ok("both"),
        _ => Err(Error::field(field, "must be customer, supplier or both")),
    }
}

/// `active` or `archived`, reported on `field` (`status`, or the list's filter).
pub fn status(field: &str, value: &str) -> Result<&'static str, Error> {
    match value {
        "active" => Ok("active"),
        "archived" => Ok("archived"),
        _ => Err(Error::field(field, "must be active or archived")),
    }
}

/// A plausible address ([`Email`]), stored as given (trimmed).
pub fn email(value: &str) -> Result<String, Error> {
    Ok(Email::parse(value)?.as_str().to_owned())
}

/// E.164: `+` and 8–15 digits, nothing else (no spaces, no dashes).
pub fn phone(value: &str) -> Result<String, Error> {
    let digits = value.strip_prefix('+').unwrap_or("");
    if PHONE_DIGITS.contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(Error::field(
            "phone",
            "must be E.164: + and 8-15 digits, such as +4930123456",
        ))
    }
}

/// A tax or VAT number, as the authority writes it: 1–64 characters.
pub fn tax_id(value: &str) -> Result<String, Error> {
    trimmed("tax_id", value, MAX_TAX_ID_CHARS)
}

/// The partner's id in another system: 1–200 characters.
pub fn external_ref(value: &str) -> Result<String, Error> {
    trimmed("external_ref", value, MAX_EXTERNAL_REF_CHARS)
}

/// Free text, at most 10,000 characters (kept as given; may be empty).
pub fn notes(value: String) -> Result<String, Error> {
    if value.chars().count() > MAX_NOTES_CHARS {
        return Err(Error::field(
            "notes",
            format!("must be at most {MAX_NOTES_CHARS} characters"),
        ));
    }
    Ok(value)
}

/// One tag: 1–50 characters once trimmed, reported on `field`.
pub fn tag(field: &str, value: &str) -> Result<String, Error> {
    trimmed(field, value, MAX_TAG_CHARS)
}

/// At most 20 distinct tags (after trimming), in the order given; a repeat
/// is refused rather than dropped, so the client sees what it sent stored.
pub fn tags(values: Vec<String>) -> Result<Vec<String>, Error> {
    if values.len() > MAX_TAGS {
        return Err(Error::field(
            "tags",
            format!("must have at most {MAX_TAGS} tags"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        let tag = tag(&format!("tags[{i}]"), value)?;
        if out.contains(&tag) {
            return Err(Error::field(
                format!("tags[{i}]"),
                format!("repeats the tag {tag:?}"),
            ));
        }
        out.push(tag);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named() {
        assert_eq!(name(" ").unwrap_err().invalid_field(), Some("name"));
        assert_eq!(
            kind("kind", "vendor").unwrap_err().invalid_field(),
            Some("kind")
        );
        assert_eq!(
            status("status", "gone").unwrap_err().invalid_field(),
            Some("status")
        );
        assert_eq!(email("nope").unwrap_err().invalid_field(), Some("email"));
        assert_eq!(tax_id("").unwrap_err().invalid_field(), Some("tax_id"));
        assert_eq!(
            external_ref(&"x".repeat(201)).unwrap_err().invalid_field(),
            Some("external_ref")
        );
        assert_eq!(
            notes("x".repeat(10_001)).unwrap_err().invalid_field(),
            Some("notes")
        );
        assert_eq!(
            tags(vec!["x".into(); 21]).unwrap_err().invalid_field(),
            Some("tags")
        );
        assert_eq!(
            tags(vec!["a".into(), " a ".into()])
                .unwrap_err()
                .invalid_field(),
            Some("tags[1]")
        );
        assert_eq!(
            tags(vec!["ok".into(), "x".repeat(51)])
                .unwrap_err()
                .invalid_field(),
            Some("tags[1]")
        );
        assert_eq!(
            tags(vec![" ".into()]).unwrap_err().invalid_field(),
            Some("tags[0]")
        );
        let address = Address {
            country: Some("de".into()),
            ..Address::default()
        };
        assert_eq!(
            address.parse().unwrap_err().invalid_field(),
            Some("address.country")
        );
    }

    #[test]
    fn phones_are_e164() {
        for good in ["+49301234", "+491701234567", "+123456789012345"] {
            assert_eq!(phone(good).unwrap(), good);
        }
        for bad in [
            "",
            "+",
            "4930123456",
            "+4930123",
            "+1234567890123456",
            "+49 30 123456",
            "+49-30-123456",
            "++4930123456",
            "+４９３０１２３４５６",
        ] {
            assert_eq!(
                phone(bad).unwrap_err().invalid_field(),
                Some("phone"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn good_values_are_kept_trimmed() {
        assert_eq!(name("  ACME GmbH ").unwrap(), "ACME GmbH");
        assert_eq!(email(" ap@acme.example ").unwrap(), "ap@acme.example");
        assert_eq!(
            tags(vec![" vip ".into(), "eu".into()]).unwrap(),
            ["vip", "eu"]
        );
        assert_eq!(tags(vec!["t".into(); 1]).unwrap().len(), 1);
        let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        assert_eq!(tags(twenty).unwrap().len(), 20);
        assert!(notes("x".repeat(10_000)).is_ok());
        assert_eq!(notes(String::new()).unwrap(), "");
    }
}
