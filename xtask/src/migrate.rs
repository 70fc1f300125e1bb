//! `cargo xtask migrate --url <app base url> [--target head|REV]`: applies the
//! migrations of a deployed app through its migrate component
//! (`POST /admin/migrations/upgrade`), the step to run after every deploy.
//!
//! The admin token comes from `--admin-token`, else `PLINTH_ADMIN_TOKEN` or
//! `SPIN_VARIABLE_ADMIN_TOKEN` in the environment (which keeps it out of the shell
//! history and the process list). Safe to run twice, and from two places at once:
//! the component takes an advisory lock and re-reads the applied revisions under it.
//!
//! `http://` URLs go through the built-in client; `https://` ones through `curl`,
//! with the token written to its standard input rather than its arguments.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::net::ToSocketAddrs;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::http;

const USAGE: &str = "usage: cargo xtask migrate --url <app base url> [--admin-token <token>] [--target head|<revision>]";

/// Long enough for a migration that rewrites a large table; Spin itself may cut a
/// request off sooner (hosted Spin: 30 s).
const TIMEOUT: Duration = Duration::from_secs(300);

pub fn cli(args: &[String]) -> Result<()> {
    let mut url = None;
    let mut token = None;
    let mut target = "head".to_string();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--url" => url = Some(value()?.clone()),
            "--admin-token" => token = Some(value()?.clone()),
            "--target" => target = value()?.clone(),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let url = Endpoint::parse(&url.with_context(|| format!("--url is required\n{USAGE}"))?)?;
    let token = match token {
        Some(t) => t,
        None => ["PLINTH_ADMIN_TOKEN", "SPIN_VARIABLE_ADMIN_TOKEN"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            .with_context(|| {
                format!("no admin token: pass --admin-token or set PLINTH_ADMIN_TOKEN\n{USAGE}")
            })?,
    };
    let body = serde_json::json!({ "target": target }).to_string();
    let (status, answer) = upgrade(&url, &token, &body)?;
    if !(200..300).contains(&status) {
        bail!(
            "POST {} answered HTTP {status}: {}",
            url.display(),
            answer.trim()
        );
    }
    println!("{}", answer.trim());
    Ok(())
}

/// The app's base URL, split for the request.
#[derive(Debug, PartialEq)]
struct Endpoint {
    tls: bool,
    /// `host[:port]` as given.
    authority: String,
    /// The path of the upgrade route below the base path.
    path: String,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Endpoint> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            bail!("--url must start with http:// or https://, got {url:?}");
        };
        let (authority, base) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains('@') {
            bail!("--url needs a host (and no credentials), got {url:?}");
        }
        if base.contains(['?', '#']) {
            bail!("--url is the app's base URL, without a query, got {url:?}");
        }
        Ok(Endpoint {
            tls,
            authority: authority.to_string(),
            path: format!("{}/admin/migrations/upgrade", base.trim_end_matches('/')),
        })
    }

    fn display(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path)
    }
}

fn upgrade(url: &Endpoint, token: &str, body: &str) -> Result<(u16, String)> {
    let auth = format!("Authorization: Bearer {token}");
    if !url.tls {
        let with_port = if url.authority.contains(':') {
            url.authority.clone()
        } else {
            format!("{}:80", url.authority)
        };
        let addr = with_port
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}", url.authority))?
            .next()
            .with_context(|| format!("{} resolves to no address", url.authority))?;
        let auth_value = auth.trim_start_matches("Authorization: ");
        let headers = [
            ("Authorization", auth_value),
            ("Content-Type", "application/json"),
        ];
        let resp = http::request(addr, "POST", &url.path, &headers, body.as_bytes(), TIMEOUT)?;
        return Ok((resp.status, resp.body));
    }
    // -H @- reads the header from stdin; -w appends the status on its own line.
    let mut child = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            "-H",
            "@-",
            "-H",
            "Content-Type: application/json",
        ])
        .args(["--max-time", &TIMEOUT.as_secs().to_string()])
        .args(["--data-binary", body, "-w", "\n%{http_code}"])
        .arg(url.display())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("https needs `curl` on PATH")?;
    child
        .stdin
        .take()
        .context("curl stdin")?
        .write_all(format!("{auth}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("curl failed ({}) for {}", out.status, url.display());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let (answer, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status = status
        .trim()
        .parse()
        .with_context(|| format!("curl printed no status: {text:?}"))?;
    Ok((status, answer.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keeps_the_base_path_and_refuses_what_is_not_a_base_url() {
        let e = Endpoint::parse("https://api.example.com").unwrap();
        assert_eq!(
            e,
            Endpoint {
                tls: true,
                authority: "api.example.com".into(),
                path: "/admin/migrations/upgrade".into()
            }
        );
        let e = Endpoint::parse("http://127.0.0.1:3000/plinth/").unwrap();
        assert_eq!(
            (e.tls, e.authority.as_str(), e.path.as_str()),
            (false, "127.0.0.1:3000", "/plinth/admin/migrations/upgrade")
        );
        assert_eq!(
            e.display(),
            "http://127.0.0.1:3000/plinth/admin/migrations/upgrade"
        );
        for bad in [
            "api.example.com",
            "ftp://x",
            "https://",
            "https://admin:pw@api.example.com",
            "https://api.example.com/?x=1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
