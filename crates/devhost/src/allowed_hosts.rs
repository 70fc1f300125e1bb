//! `allowed_outbound_hosts`: which addresses a component may reach.
//!
//! Spin denies every outbound connection (HTTP, Postgres, Redis) whose
//! `scheme://host:port` is not listed for the component. Entries may use `*`
//! for the scheme, host (`*` or `*.suffix`) or port, a port range `a..b`, and
//! omit the port when the scheme has a well-known one. `self` allows
//! requests back into the app itself.

use std::fmt;

/// Default ports Spin fills in when an entry or an address has none.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "postgres" => Some(5432),
        "redis" => Some(6379),
        "mysql" => Some(3306),
        "mqtt" => Some(1883),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemePattern {
    Any,
    Is(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`: any host ending in `.example.com`.
    Suffix(String),
    Is(String),
    /// The app itself (service chaining).
    SelfApp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Range(u16, u16),
}

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: SchemePattern,
    host: HostPattern,
    port: PortPattern,
}

/// The parsed list for one component.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    entries: Vec<AllowedHost>,
    allow_all: bool,
}

/// An address a guest wants to reach, normalised for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Splits `scheme://rest`; errors if there is no scheme.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    s.split_once("://")
}

/// Splits an authority into host and optional port text, handling `[v6]`.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if let Some((host, after)) = authority
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
    {
        return (host, after.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    }
}

impl AllowedHost {
    /// Parses one (already template-expanded) entry.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        if entry == "self" {
            return Ok(Self {
                scheme: SchemePattern::Any,
                host: HostPattern::SelfApp,
                port: PortPattern::Any,
            });
        }
        let (scheme, rest) = split_scheme(entry).ok_or_else(|| {
            format!("{entry:?}: an allowed host needs a scheme, e.g. https://{entry}")
        })?;
        if scheme.is_empty() {
            return Err(format!("{entry:?}: empty scheme"));
        }
        // A trailing "/" is tolerated; any other path is not.
        let authority = match rest.split_once('/') {
            Some((a, "")) => a,
            Some(_) => return Err(format!("{entry:?}: allowed hosts must not contain a path")),
            None => rest,
        };
        let (host, port) = split_host_port(authority);
        if host.is_empty() {
            return Err(format!("{entry:?}: empty host"));
        }
        let scheme_pat = if scheme == "*" {
            SchemePattern::Any
        } else {
            SchemePattern::Is(scheme.to_ascii_lowercase())
        };
        let host_pat = if host == "*" {
            HostPattern::Any
        } else if host == "self" || host == "self.alt" {
            HostPattern::SelfApp
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Suffix(format!(".{}", suffix.to_ascii_lowercase()))
        } else {
            HostPattern::Is(host.to_ascii_lowercase())
        };
        let port_pat = match port {
            Some("*") => PortPattern::Any,
            Some(p) if p.contains("..") => {
                let (a, b) = p.split_once("..").unwrap_or_default();
                let a: u16 = a
                    .parse()
                    .map_err(|_| format!("{entry:?}: bad port range"))?;
                let b: u16 = b
                    .parse()
                    .map_err(|_| format!("{entry:?}: bad port range"))?;
                PortPattern::Range(a, b.saturating_sub(1).max(a))
            }
            Some(p) => {
                let p: u16 = p
                    .parse()
                    .map_err(|_| format!("{entry:?}: bad port {p:?}"))?;
                PortPattern::Range(p, p)
            }
            None => match (&scheme_pat, &host_pat) {
                (_, HostPattern::SelfApp) => PortPattern::Any,
                (SchemePattern::Is(s), _) => {
                    let p = default_port(s).ok_or_else(|| {
                        format!("{entry:?}: no default port for scheme {s:?}; add one")
                    })?;
                    PortPattern::Range(p, p)
                }
                (SchemePattern::Any, _) => {
                    return Err(format!("{entry:?}: a wildcard scheme needs a port"));
                }
            },
        };
        Ok(Self {
            scheme: scheme_pat,
            host: host_pat,
            port: port_pat,
        })
    }

    fn allows(&self, t: &Target) -> bool {
        let scheme_ok = match &self.scheme {
            SchemePattern::Any => true,
            SchemePattern::Is(s) => *s == t.scheme,
        };
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Suffix(sfx) => t.host.ends_with(sfx.as_str()),
            HostPattern::Is(h) => *h == t.host,
            HostPattern::SelfApp => t.host == "self" || t.host == "self.alt",
        };
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Range(a, b) => (a..=b).contains(&t.port),
        };
        scheme_ok && host_ok && port_ok
    }
}

impl AllowedHosts {
    /// Parses a component's list (templates already expanded).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut out = Self::default();
        for e in entries {
            let e = e.as_ref();
            if e == "insecure:allow-all" {
                out.allow_all = true;
                continue;
            }
            out.entries.push(AllowedHost::parse(e)?);
        }
        Ok(out)
    }

    pub fn allows(&self, target: &Target) -> bool {
        self.allow_all || self.entries.iter().any(|e| e.allows(target))
    }

    /// Whether the list allows requests back into the app itself.
    pub fn allows_self(&self) -> bool {
        self.allow_all
            || self
                .entries
                .iter()
                .any(|e| matches!(e.host, HostPattern::SelfApp))
    }

    /// Parses a guest-supplied address (`postgres://u:p@h:5432/db`,
    /// `redis://h`, …) and checks it. `default_scheme` applies when the
    /// address has none.
    pub fn check_address(&self, address: &str, default_scheme: &str) -> Result<Target, String> {
        let target = parse_target(address, default_scheme)?;
        if self.allows(&target) {
            Ok(target)
        } else {
            Err(format!("address {target} is not permitted"))
        }
    }
}

/// Normalises a URL-ish address into scheme, host and port.
pub fn parse_target(address: &str, default_scheme: &str) -> Result<Target, String> {
    let (scheme, rest) = split_scheme(address).unwrap_or((default_scheme, address));
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Drop userinfo (`user:password@`); the password may itself contain '@'.
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = split_host_port(hostport);
    if host.is_empty() {
        return Err(format!("address {address:?} has no host"));
    }
    let port = match port {
        Some(p) if !p.is_empty() => p
            .parse::<u16>()
            .map_err(|_| format!("address {scheme}://{hostport} has an invalid port"))?,
        _ => default_port(&scheme)
            .ok_or_else(|| format!("address {scheme}://{hostport} has no port"))?,
    };
    Ok(Target {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(list: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(list).unwrap()
    }

    #[test]
    fn matching_table() {
        let cases: &[(&[&str], &str, &str, bool)] = &[
            (
                &["postgres://127.0.0.1:5440"],
                "postgres://u:p@127.0.0.1:5440/db",
                "postgres",
                true,
            ),
            (
                &["postgres://127.0.0.1:5440"],
                "postgres://u:p@127.0.0.1:5441/db",
                "postgres",
                false,
            ),
            (
                &["postgres://127.0.0.1"],
                "postgres://u:p@127.0.0.1/db",
                "postgres",
                true,
            ),
            (
                &["postgres://127.0.0.1"],
                "postgres://u:p@127.0.0.1:5432/db",
                "postgres",
                true,
            ),
            (
                &["postgres://127.0.0.1"],
                "postgres://u:p@127.0.0.1:5440/db",
                "postgres",
                false,
            ),
            (
                &["redis://127.0.0.1:6390"],
                "redis://127.0.0.1:6390",
                "redis",
                true,
            ),
            (&["redis://127.0.0.1"], "redis://127.0.0.1", "redis", true),
            (
                &["redis://127.0.0.1"],
                "postgres://127.0.0.1:6379",
                "postgres",
                false,
            ),
            (
                &["http://127.0.0.1:9000"],
                "http://127.0.0.1:9000/bucket/key",
                "http",
                true,
            ),
            (
                &["http://127.0.0.1:9000"],
                "https://127.0.0.1:9000/",
                "http",
                false,
            ),
            (
                &["https://example.com"],
                "https://example.com/x",
                "https",
                true,
            ),
            (
                &["https://example.com"],
                "https://example.com:8443/x",
                "https",
                false,
            ),
            (
                &["https://*.example.com"],
                "https://api.example.com/x",
                "https",
                true,
            ),
            (
                &["https://*.example.com"],
                "https://example.com/x",
                "https",
                false,
            ),
            (
                &["*://example.com:*"],
                "http://example.com:1234/",
                "http",
                true,
            ),
            (
                &["http://example.com:8000..8002"],
                "http://example.com:8001/",
                "http",
                true,
            ),
            (
                &["http://example.com:8000..8002"],
                "http://example.com:8002/",
                "http",
                false,
            ),
            (&["http://*:*"], "http://anything:1/", "http", true),
            (&["insecure:allow-all"], "redis://x:1", "redis", true),
            (&[], "http://127.0.0.1:80/", "http", false),
            (
                &["postgres://u:p@db.example.com"],
                "postgres://db.example.com",
                "postgres",
                false,
            ),
        ];
        for (list, addr, scheme, expect) in cases {
            let a = AllowedHosts::parse(list);
            let got = match a {
                Ok(a) => a.check_address(addr, scheme).is_ok(),
                Err(_) => false,
            };
            assert_eq!(got, *expect, "{list:?} vs {addr}");
        }
    }

    #[test]
    fn denial_message_names_the_address() {
        let err = allowed(&["postgres://127.0.0.1:5440"])
            .check_address("postgres://u:p@10.1.1.1:5440/db", "postgres")
            .unwrap_err();
        assert_eq!(err, "address postgres://10.1.1.1:5440 is not permitted");
    }

    #[test]
    fn bad_entries_are_rejected() {
        for bad in [
            "127.0.0.1:5432",
            "foo://host",
            "*://host",
            "http://h/path",
            "http://h:x",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn self_is_understood() {
        let a = allowed(&["self"]);
        assert!(a.allows_self());
        assert!(!allowed(&["http://127.0.0.1:3000"]).allows_self());
    }
}
