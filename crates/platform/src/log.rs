//! Structured log lines on stderr: one JSON object per line, tagged with
//! the request being handled, and one access line per request
//! ([`request`]): time, level, request id, component, method, route
//! template, status, latency, org and user ids.
//!
//! Spin runs one request per component instance, so the request's context
//! lives in a thread-local set by the router. Never log secrets, passwords,
//! tokens, connection strings or query strings: a route is logged as its
//! template (`/v1/orgs/current/members/:user_id`), and [`redact`] cleans
//! text from a failed connection.

use std::cell::RefCell;
use std::fmt;

#[derive(Default)]
struct Context {
    request_id: String,
    component: &'static str,
    org_id: Option<String>,
    user_id: Option<String>,
}

thread_local! {
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
}

/// Starts the log context of a request: its id and the component's name.
pub fn start_request(id: &str, component: &'static str) {
    CONTEXT.with(|current| {
        *current.borrow_mut() = Context {
            request_id: id.to_owned(),
            component,
            org_id: None,
            user_id: None,
        };
    });
}

/// Records the id of the request this instance is handling.
pub fn set_request_id(id: &str) {
    CONTEXT.with(|current| {
        let mut current = current.borrow_mut();
        current.request_id.clear();
        current.request_id.push_str(id);
    });
}

/// Records the confirmed caller of the request, for its access line.
pub fn set_caller(org_id: &str, user_id: &str) {
    CONTEXT.with(|current| {
        let mut current = current.borrow_mut();
        current.org_id = Some(org_id.to_owned());
        current.user_id = Some(user_id.to_owned());
    });
}

/// The id of the request being handled (`""` outside a request).
pub fn request_id() -> String {
    CONTEXT.with(|current| current.borrow().request_id.clone())
}

/// Logs an error line.
pub fn error(message: fmt::Arguments<'_>) {
    line("error", message);
}

/// Logs a warning line.
pub fn warn(message: fmt::Arguments<'_>) {
    line("warn", message);
}

fn line(level: &'static str, message: fmt::Arguments<'_>) {
    let message = message.to_string();
    emit(level, |object| {
        object.insert("msg".into(), message.into());
    });
}

/// The access line of a request: `route` is the matched route's template
/// (`""` when none matched), never the path as sent.
pub fn request(method: &str, route: &str, status: u16, latency_ms: f64) {
    let level = if status >= 500 { "error" } else { "info" };
    emit(level, |object| {
        object.insert("msg".into(), "request".into());
        object.insert("method".into(), method.into());
        object.insert("route".into(), route.into());
        object.insert("status".into(), status.into());
        object.insert(
            "latency_ms".into(),
            ((latency_ms * 1000.0).round() / 1000.0).into(),
        );
    });
}

fn emit(level: &'static str, fill: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let mut object = serde_json::Map::new();
    object.insert("time".into(), rfc3339_now().into());
    object.insert("level".into(), level.into());
    CONTEXT.with(|current| {
        let current = current.borrow();
        object.insert("request_id".into(), current.request_id.clone().into());
        if !current.component.is_empty() {
            object.insert("component".into(), current.component.into());
        }
        if let Some(org) = &current.org_id {
            object.insert("org_id".into(), org.clone().into());
        }
        if let Some(user) = &current.user_id {
            object.insert("user_id".into(), user.clone().into());
        }
    });
    fill(&mut object);
    // One write of the whole line: stderr is unbuffered, and in a component
    // every write is a host call.
    let mut line = serde_json::Value::Object(object).to_string();
    line.push('\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
}

/// Now as `2026-12-01T21:00:00.123Z`.
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_millis())
}

/// `secs` since the epoch as RFC 3339 UTC with milliseconds (the civil
/// date from days since 1970-01-01, Howard Hinnant's algorithm).
fn rfc3339(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    )
}

/// Removes the `user:password@` part and the query string (`?password=…`) of
/// every URL in `text`, so a host error message can be logged.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let url_end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let url = &tail[..url_end];
        let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let authority = &url[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***@");
                out.push_str(&authority[at + 1..]);
            }
            None => out.push_str(authority),
        }
        let after = &url[authority_end..];
        match after.find('?') {
            Some(q) => {
                out.push_str(&after[..q]);
                out.push_str("?***");
            }
            None => out.push_str(after),
        }
        rest = &tail[url_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_credentials() {
        let cases = [
            (
                "postgres://u:secret@h:5432/db",
                "postgres://***@h:5432/db",
                "user and password",
            ),
            (
                "address redis://:pw@127.0.0.1:6379 is not permitted",
                "address redis://***@127.0.0.1:6379 is not permitted",
                "in a sentence",
            ),
            ("postgres://h/db", "postgres://h/db", "no credentials"),
            ("no url here", "no url here", "plain text"),
            (
                "a://x:y@b and c://d:e@f",
                "a://***@b and c://***@f",
                "two urls",
            ),
            (
                "postgres://h/db?user=u&password=secret failed",
                "postgres://h/db?*** failed",
                "credentials in the query string",
            ),
            (
                "postgres://u:se\"cr'et@h/db",
                "postgres://***@h/db",
                "quotes inside the password",
            ),
        ];
        for (input, expected, case) in cases {
            assert_eq!(redact(input), expected, "{case}");
        }
    }

    #[test]
    fn times_are_rfc_3339() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_796_158_800, 123), "2026-12-01T21:00:00.123Z");
    }

    #[test]
    fn request_id_is_per_thread_state() {
        set_request_id("abc");
        assert_eq!(request_id(), "abc");
        set_request_id("d");
        assert_eq!(request_id(), "d");
    }
}
