//! What devhost writes about requests: its own JSON line per request (the
//! components' access-line fields), and, when stderr is a terminal, every
//! JSON line (its own and the components') rendered as one readable line.
//!
//! The own line names the route pattern that matched, never the path as
//! sent, and holds no header value but the `x-request-id` the response
//! carries: paths and query strings may carry tokens.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

/// How lines reach stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Unchanged JSON (guest lines prefixed `[component]`): for pipes, files
    /// and tests.
    Json,
    /// One readable line per JSON line, for a person at a terminal.
    Pretty { color: bool },
}

static FORMAT: OnceLock<Format> = OnceLock::new();

/// Chooses the format once: `PLINTH_LOG_FORMAT=json|pretty` if set, else
/// pretty exactly when stderr is a terminal. Colour unless `NO_COLOR` is set.
pub fn init() {
    let color = std::env::var_os("NO_COLOR").is_none();
    let format = match std::env::var("PLINTH_LOG_FORMAT").as_deref() {
        Ok("json") => Format::Json,
        Ok("pretty") => Format::Pretty { color },
        _ if std::io::stderr().is_terminal() => Format::Pretty { color },
        _ => Format::Json,
    };
    let _ = FORMAT.set(format);
}

pub fn format() -> Format {
    *FORMAT.get().unwrap_or(&Format::Json)
}

/// One request as devhost saw it.
pub struct Request<'a> {
    pub method: &'a str,
    /// The spin.toml route that matched (`""` when none did).
    pub route: &'a str,
    pub component: Option<&'a str>,
    pub status: u16,
    /// Until the response head was ready.
    pub latency: Duration,
    /// The response's `x-request-id`, if it carried a well-formed one.
    pub request_id: Option<&'a str>,
}

/// The JSON object of devhost's line for `r`.
pub fn request_line(r: &Request<'_>, time: SystemTime) -> String {
    let mut object = Map::new();
    object.insert("time".into(), rfc3339(time).into());
    object.insert(
        "level".into(),
        if r.status >= 500 { "error" } else { "info" }.into(),
    );
    object.insert("msg".into(), "request".into());
    // Tells this line from a component's own access line for the same request.
    object.insert("source".into(), "devhost".into());
    if let Some(id) = r.request_id {
        object.insert("request_id".into(), id.into());
    }
    if let Some(component) = r.component {
        object.insert("component".into(), component.into());
    }
    object.insert("method".into(), r.method.into());
    object.insert("route".into(), r.route.into());
    object.insert("status".into(), r.status.into());
    let ms = r.latency.as_secs_f64() * 1000.0;
    object.insert("latency_ms".into(), ((ms * 1000.0).round() / 1000.0).into());
    Value::Object(object).to_string()
}

/// Writes `text` and its newline to stderr in one call (stderr is
/// unbuffered: `writeln!` would make a write per piece).
pub fn write_line(mut text: String) {
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Writes devhost's line for `r`. At a terminal it is left out when the
/// component already wrote an access line for the request (`guest_logged`):
/// one line per request is enough to read.
pub fn request(r: &Request<'_>, guest_logged: bool) {
    let line = request_line(r, SystemTime::now());
    let text = match format() {
        Format::Json => line,
        Format::Pretty { .. } if guest_logged => return,
        Format::Pretty { color } => render(&line, color).unwrap_or(line),
    };
    write_line(text);
}

/// A line a component printed, as it goes to stderr, and whether it was an
/// access line. JSON lines are left unparsed unless they are to be rendered.
pub fn guest_line(component: &str, line: &str) -> (String, bool) {
    if let Format::Pretty { color } = format()
        && let Some(text) = render(line, color)
    {
        return (text, is_access_line(line));
    }
    (format!("[{component}] {line}"), false)
}

fn is_access_line(line: &str) -> bool {
    serde_json::from_str::<Map<String, Value>>(line)
        .is_ok_and(|o| o.get("msg") == Some(&Value::from("request")) && o.contains_key("status"))
}

/// A JSON log object as `21:44:07.100 INFO  orgs GET /v1/orgs/current 200
/// 1.2ms req=ae3a… org=… user=…`; `None` when `line` is not a JSON object.
pub fn render(line: &str, color: bool) -> Option<String> {
    let mut o: Map<String, Value> = serde_json::from_str(line.trim()).ok()?;
    let mut take = |key: &str| match o.remove(key) {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let time = take("time").map(|t| clock(&t)).unwrap_or_default();
    let level = take("level").unwrap_or_default().to_ascii_uppercase();
    let component = take("component");
    let msg = take("msg").unwrap_or_default();
    let request_id = take("request_id").filter(|id| !id.is_empty());
    let org = take("org_id");
    let user = take("user_id");
    let mut parts: Vec<String> = Vec::new();
    let level_text = format!("{level:<5}");
    parts.push(if color {
        paint(&level, &level_text)
    } else {
        level_text
    });
    parts.extend(component);
    let status = take("status");
    let method = take("method");
    if msg == "request" && status.is_some() {
        take("source");
        let route = take("route").filter(|r| !r.is_empty());
        parts.extend(method);
        parts.push(route.unwrap_or_else(|| "-".into()));
        parts.extend(status);
        if let Some(ms) = take("latency_ms").and_then(|v| v.parse::<f64>().ok()) {
            parts.push(format!("{ms:.1}ms"));
        }
    } else {
        parts.extend(method);
        parts.extend(status);
        parts.push(msg);
    }
    // Whatever else the line carries, in key order.
    for (key, value) in &o {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        parts.push(format!("{key}={value}"));
    }
    for (name, id) in [("req", request_id), ("org", org), ("user", user)] {
        if let Some(id) = id {
            parts.push(format!("{name}={}", short(&id)));
        }
    }
    Some(format!("{time} {}", parts.join(" ")))
}

/// `2026-12-01T21:44:07.100Z` → `21:44:07.100` (the time of day, UTC).
fn clock(time: &str) -> String {
    match time.split_once('T') {
        Some((_, rest)) => rest.trim_end_matches('Z').chars().take(12).collect(),
        None => time.to_owned(),
    }
}

/// The first 8 characters of an id, enough to tell requests apart.
fn short(id: &str) -> String {
    if id.chars().count() <= 8 {
        id.to_owned()
    } else {
        format!("{}…", id.chars().take(8).collect::<String>())
    }
}

fn paint(level: &str, text: &str) -> String {
    let code = match level {
        "ERROR" => "31",
        "WARN" => "33",
        "INFO" => "32",
        _ => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// `time` as RFC 3339 UTC with milliseconds, as the components write it.
fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A response's `x-request-id` fit for the log: the characters request ids
/// are made of, and short; anything else is left out.
pub fn request_id(value: Option<&http::HeaderValue>) -> Option<&str> {
    let id = value?.to_str().ok()?;
    let fits = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    fits.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Request<'static> {
        Request {
            method: "GET",
            route: "/v1/orgs/...",
            component: Some("orgs"),
            status: 200,
            latency: Duration::from_micros(1_234),
            request_id: Some("ae3a5f0c9b7d4e21"),
        }
    }

    #[test]
    fn own_line_has_the_access_fields() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_158_800_123);
        let line: Value = serde_json::from_str(&request_line(&sample(), time)).unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "time": "2026-12-01T21:00:00.123Z",
                "level": "info",
                "msg": "request",
                "source": "devhost",
                "request_id": "ae3a5f0c9b7d4e21",
                "component": "orgs",
                "method": "GET",
                "route": "/v1/orgs/...",
                "status": 200,
                "latency_ms": 1.234,
            })
        );
        let failed = Request {
            status: 500,
            component: None,
            request_id: None,
            ..sample()
        };
        let line: Value = serde_json::from_str(&request_line(&failed, time)).unwrap();
        assert_eq!(line["level"], "error");
        assert!(line.get("component").is_none() && line.get("request_id").is_none());
    }

    #[test]
    fn access_lines_render_as_one_readable_line() {
        let line = r#"{"component":"orgs","latency_ms":1.234,"level":"info","method":"GET","msg":"request","org_id":"0190a1b2-c3d4","request_id":"ae3a5f0c9b7d4e21","route":"/v1/orgs/current","status":200,"time":"2026-12-01T21:44:07.100Z","user_id":"0190ffff-0000"}"#;
        assert_eq!(
            render(line, false).unwrap(),
            "21:44:07.100 INFO  orgs GET /v1/orgs/current 200 1.2ms req=ae3a5f0c… org=0190a1b2… user=0190ffff…"
        );
        assert!(is_access_line(line));
        let own = request_line(&sample(), SystemTime::UNIX_EPOCH);
        assert_eq!(
            render(&own, false).unwrap(),
            "00:00:00.000 INFO  orgs GET /v1/orgs/... 200 1.2ms req=ae3a5f0c…"
        );
    }

    #[test]
    fn other_lines_keep_their_message_and_fields() {
        let line = r#"{"component":"files","level":"warn","msg":"s3 slow","request_id":"r1","time":"2026-12-01T21:44:07.100Z","took_ms":900}"#;
        assert_eq!(
            render(line, false).unwrap(),
            "21:44:07.100 WARN  files s3 slow took_ms=900 req=r1"
        );
        assert!(!is_access_line(line));
        assert!(render(line, true).unwrap().contains("\x1b[33mWARN \x1b[0m"));
        for not_json in ["plain text", "[1,2]", "{broken", ""] {
            assert_eq!(render(not_json, false), None, "{not_json:?}");
        }
    }

    #[test]
    fn guest_lines_are_prefixed_when_not_rendered() {
        // The format is JSON unless init() chose otherwise (tests never call it).
        assert_eq!(format(), Format::Json);
        assert_eq!(
            guest_line("probe", r#"{"msg":"x"}"#),
            (r#"[probe] {"msg":"x"}"#.to_owned(), false)
        );
    }

    #[test]
    fn only_well_formed_request_ids_are_logged() {
        let value = |s: &str| http::HeaderValue::from_str(s).unwrap();
        assert_eq!(request_id(Some(&value("abc-1.2_3"))), Some("abc-1.2_3"));
        assert_eq!(request_id(Some(&value("Bearer secret"))), None);
        assert_eq!(request_id(Some(&value(&"a".repeat(129)))), None);
        assert_eq!(request_id(None), None);
    }
}
