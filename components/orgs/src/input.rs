//! What a client may give for an org, parsed at the edge: [`Settings`]. (The
//! name and the slug are the platform's `Name` and `Slug`.)

use plinth_platform::Error;

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
