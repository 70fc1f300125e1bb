//! What a client may give for an org, parsed at the edge: [`OrgName`] and
//! [`Settings`]. (The slug is the platform's `Slug`.)

use plinth_platform::Error;

/// An org's display name: 1–200 characters once trimmed, stored trimmed
/// (the rule of `org_name_check`).
pub struct OrgName(String);

impl OrgName {
    /// 422 naming `name` when the trimmed value is empty or too long.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let trimmed = value.trim();
        match trimmed.chars().count() {
            1..=200 => Ok(Self(trimmed.to_owned())),
            _ => Err(Error::field("name", "must be 1-200 characters")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An org's settings: for now any JSON object (the schema comes later; the
/// rule of `org_settings_json_check`).
pub struct Settings(serde_json::Map<String, serde_json::Value>);

impl Settings {
    /// 422 naming `settings` for anything but a JSON object.
    pub fn parse(value: serde_json::Value) -> Result<Self, Error> {
        match value {
            serde_json::Value::Object(map) => Ok(Self(map)),
            _ => Err(Error::field("settings", "must be a JSON object")),
        }
    }

    pub fn into_value(self) -> serde_json::Value {
        serde_json::Value::Object(self.0)
    }
}
