//! What a client says about a file, parsed at the edge: its [`FileName`]
//! (metadata only, never part of an object key), its [`ContentType`], and
//! the `Content-Disposition` a download carries ([`attachment`]).

use plinth_platform::Error;

/// The longest name kept, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// A file's display name, made safe: control and bidirectional-override
/// characters removed, `/` and `\` replaced by `_` (so no name reads as a
/// path), surrounding white space trimmed, at most [`MAX_NAME_CHARS`]
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    /// The sanitised name; 422 on `name` when nothing is left.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let cleaned: String = raw
            .chars()
            .filter(|c| !c.is_control() && !is_bidi_control(*c))
            .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
            .collect();
        let trimmed = cleaned.trim();
        let name: String = trimmed.chars().take(MAX_NAME_CHARS).collect();
        let name = name.trim_end().to_owned();
        if name.is_empty() || name == "." || name == ".." {
            return Err(Error::field(
                "name",
                "must have at least one visible character",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that reorder how text is shown (a name could look like
/// `txt.exe` while being `exe.txt`).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A media type `type/subtype`, lower case, without parameters except a
/// `charset`, at most 255 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    value: String,
    essence_len: usize,
}

impl ContentType {
    /// 422 on `content_type` for anything but `type/subtype[; params]`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let bad = || Error::field("content_type", "must be a media type such as image/png");
        let mut parts = raw.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let (kind, sub) = essence.split_once('/').ok_or_else(bad)?;
        if !is_token(kind) || !is_token(sub) {
            return Err(bad());
        }
        let charset = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
            .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase());
        let essence_len = essence.len();
        let value = match charset {
            Some(charset) if is_token(&charset) => format!("{essence}; charset={charset}"),
            Some(_) => return Err(bad()),
            None => essence,
        };
        if value.len() > 255 {
            return Err(bad());
        }
        Ok(Self { value, essence_len })
    }

    /// `type/subtype`.
    pub fn essence(&self) -> &str {
        &self.value[..self.essence_len]
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Whether an allow-list entry (`image/png`, `image/*`, `*/*`) admits it.
    pub fn matches(&self, pattern: &str) -> bool {
        let pattern = pattern.trim().to_ascii_lowercase();
        let essence = self.essence();
        match pattern.strip_suffix("/*") {
            Some("*") => true,
            Some(kind) => essence.split('/').next() == Some(kind),
            None => essence == pattern,
        }
    }
}

/// RFC 9110 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266 with the RFC
/// 8187/5987 extended value): an ASCII fallback with anything unsafe as
/// `_`, and the exact name percent-encoded.
pub fn attachment(name: &FileName) -> String {
    let fallback: String = name
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.as_str().bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        let long = "é".repeat(1000);
        let cases = [
            ("report.pdf", Some("report.pdf"), "plain"),
            (
                "../../etc/passwd",
                Some(".._.._etc_passwd"),
                "path separators",
            ),
            ("a\\b", Some("a_b"), "backslash"),
            ("  spaced  ", Some("spaced"), "trimmed"),
            (
                "tab\there\nnl\u{0}",
                Some("tabherenl"),
                "control characters",
            ),
            ("evil\u{202e}fdp.exe", Some("evilfdp.exe"), "bidi override"),
            ("\u{7}\u{1b}", None, "nothing visible"),
            ("..", None, "dot dot"),
            ("", None, "empty"),
        ];
        for (raw, want, case) in cases {
            let got = FileName::parse(raw).ok();
            assert_eq!(got.as_ref().map(FileName::as_str), want, "{case}");
        }
        let capped = FileName::parse(&long).unwrap();
        assert_eq!(
            capped.as_str().chars().count(),
            MAX_NAME_CHARS,
            "capped by characters"
        );
        assert_eq!(FileName::parse("").unwrap_err().status(), 422);
    }

    #[test]
    fn content_types() {
        let cases = [
            ("image/png", Some("image/png")),
            (
                "Text/Plain; Charset=UTF-8",
                Some("text/plain; charset=utf-8"),
            ),
            (
                "application/vnd.api+json; q=1",
                Some("application/vnd.api+json"),
            ),
            ("image", None),
            ("image/", None),
            ("image/png x", None),
            ("a/b; charset=\"bad value\"", None),
        ];
        for (raw, want) in cases {
            let got = ContentType::parse(raw).ok();
            assert_eq!(got.as_ref().map(ContentType::as_str), want, "{raw}");
        }
        let png = ContentType::parse("image/png").unwrap();
        for (pattern, want) in [
            ("image/png", true),
            ("IMAGE/*", true),
            ("*/*", true),
            ("image/jpeg", false),
            ("application/*", false),
        ] {
            assert_eq!(png.matches(pattern), want, "{pattern}");
        }
    }

    #[test]
    fn attachment_header_is_safe_and_exact() {
        let name = FileName::parse("naïve \"q\".txt").unwrap();
        assert_eq!(
            attachment(&name),
            "attachment; filename=\"na_ve _q_.txt\"; filename*=UTF-8''na%C3%AFve%20%22q%22.txt"
        );
        let header = attachment(&FileName::parse("a\r\nSet-Cookie: x").unwrap());
        assert!(!header.contains('\r') && !header.contains('\n'), "{header}");
    }
}
