//! Log lines on stderr, tagged with the id of the request being handled.
//!
//! Spin runs one request per component instance, so the current request id
//! lives in a thread-local set by the router. Never log secrets, passwords or
//! connection strings: use [`redact`] on text from a failed connection.

use std::cell::RefCell;
use std::fmt;

thread_local! {
    static REQUEST_ID: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records the id of the request this instance is handling.
pub fn set_request_id(id: &str) {
    REQUEST_ID.with(|current| {
        let mut current = current.borrow_mut();
        current.clear();
        current.push_str(id);
    });
}

/// The id of the request being handled (`""` outside a request).
pub fn request_id() -> String {
    REQUEST_ID.with(|current| current.borrow().clone())
}

/// Logs an error line: `level=error request_id=… <message>`.
pub fn error(message: fmt::Arguments<'_>) {
    line("error", message);
}

/// Logs a warning line.
pub fn warn(message: fmt::Arguments<'_>) {
    line("warn", message);
}

fn line(level: &str, message: fmt::Arguments<'_>) {
    REQUEST_ID.with(|id| eprintln!("level={level} request_id={} {message}", id.borrow()));
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
    fn request_id_is_per_thread_state() {
        set_request_id("abc");
        assert_eq!(request_id(), "abc");
        set_request_id("d");
        assert_eq!(request_id(), "d");
    }
}
