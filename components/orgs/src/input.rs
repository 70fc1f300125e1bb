//! What a client may give for an org, parsed at the edge: [`Settings`]. (The
//! name and the slug are the platform's `Name` and `Slug`.)

use plinth_platform::{Error, settings};

/// An org's settings, checked against the one schema
/// (`plinth_platform::settings`).
pub struct Settings(serde_json::Value);

impl Settings {
    /// 422 naming each wrong key by its path under `settings`.
    pub fn parse(value: serde_json::Value) -> Result<Self, Error> {
        settings::validate("settings", &value)?;
        Ok(Self(value))
    }

    pub fn into_value(self) -> serde_json::Value {
        self.0
    }
}
