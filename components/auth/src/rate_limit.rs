//! Rate limits of the routes that take a password or a one-time token
//! (signup, login, token, refresh, the account routes): fixed-window
//! counters in Redis.
//!
//! Each route counts the requests of one client address ([`Route`]: every
//! request, answered or refused); login and the token endpoint's password
//! grant also count the attempts on one account ([`ACCOUNT`], shared by both
//! routes, keyed by the lower-cased email as typed, so an unknown email is
//! limited like a known one and the limit tells nothing about who has an
//! account). Over a limit the answer is a 429 with `Retry-After`.
//!
//! The routes that mail a link (verification resend, forgot-password) also
//! hold a **mailbox cooldown** ([`MAILBOX`]): one message per address per
//! [`MAILBOX_COOLDOWN_SECS`], counted from the first request (not on the
//! clock's minute, so two messages never go out seconds apart across a
//! window boundary), keyed on the lower-cased address whether or not an
//! account uses it: a known and an unknown address get the same 429.
//!
//! Every answer of these routes, refusals and errors included, carries the
//! IETF draft headers (draft-ietf-httpapi-ratelimit-headers) for each policy
//! the request was counted against, in structured-field form:
//! `RateLimit-Policy: "login";q=300;w=60` and `RateLimit: "login";r=299;t=17`
//! (`r` requests left in the window, `t` seconds until it ends).
//!
//! - **The client address** is the IP of `spin-client-addr` (the TCP peer;
//!   Spin gives no `Host` and devhost no forwarding headers). IPv6 clients
//!   count by their /64, which one subscriber usually holds whole. Behind a
//!   proxy every client shares the proxy's address: `X-Forwarded-For` is
//!   not trusted, since any client can send it.
//! - **Keys** hold no address or email in clear: `{<digest>}:ratelimit:<policy>:<window>`,
//!   where the digest is a SHA-256 of the policy (name, quota, window) and
//!   the subject. The digest is the key's hash tag, so each counter has its
//!   own Redis Cluster slot (every command touches one key). A counter
//!   belongs to one policy: a changed limit starts fresh counters.
//! - **Redis down** is a 503 for these routes: they are never served
//!   without their limits.
//! - Fixed windows are one atomic round trip per policy (`INCR`, and
//!   `EXPIRE` on a window's first request, in one script), at the price of
//!   letting up to twice the quota through across a window boundary.

use plinth_platform::redis::Cache;
use plinth_platform::{Error, HandlerResult, RequestCtx, Response};
use sha2::{Digest, Sha256};

/// The length of every window, in seconds.
pub const WINDOW_SECS: u64 = 60;

/// Requests per [`WINDOW_SECS`] from one client address to each limited
/// route, unless the `auth_rate_per_minute` variable says otherwise (the
/// manifests give it this value).
///
/// Why 300 (five a second): one address is often many people (an office,
/// a school, a carrier-grade NAT), so this limit must not lock out a crowd
/// signing in at nine o'clock; and in development every client is
/// 127.0.0.1, where one run of the e2e suite signs up about 60 tenants in
/// half a minute and several runs share one Redis. What the limit bounds is
/// what one address can make the service spend (an argon2id hash per
/// signup and login: about 19 MiB and tens of milliseconds each, so at most
/// a quarter of a core per address) and how fast it can try passwords
/// across many accounts. Guessing one account's password is what
/// [`PER_ACCOUNT_PER_MINUTE`] stops. A deployment whose clients do not share
/// addresses can set the variable lower.
pub const PER_ADDRESS_PER_MINUTE: u64 = 300;

/// Password attempts per [`WINDOW_SECS`] on one account (login and the
/// token endpoint's password grant together), unless the
/// `auth_account_attempts_per_minute` variable says otherwise.
///
/// Why 5: a person mistyping a password needs a few tries, and five a
/// minute holds online guessing of one account to 7,200 a day (with no
/// lockout for the owner beyond a minute's wait): a list of the ten
/// thousand commonest passwords takes more than a day, one of a million
/// more than four months.
pub const PER_ACCOUNT_PER_MINUTE: u64 = 5;

/// The per-account policy.
pub const ACCOUNT: &str = "account";

/// The mailbox cooldown policy: one mailed link per address per window.
pub const MAILBOX: &str = "mailbox";

/// Seconds between two mailed links to one address.
pub const MAILBOX_COOLDOWN_SECS: u64 = 60;

/// The routes limited per client address; the name is the policy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Signup,
    Login,
    Token,
    Refresh,
    AcceptInvite,
    VerifyEmail,
    VerifyResend,
    ForgotPassword,
    ResetPassword,
    ChangePassword,
}

impl Route {
    fn policy(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Login => "login",
            Self::Token => "token",
            Self::Refresh => "refresh",
            Self::AcceptInvite => "accept-invite",
            Self::VerifyEmail => "verify-email",
            Self::VerifyResend => "verify-resend",
            Self::ForgotPassword => "forgot-password",
            Self::ResetPassword => "reset-password",
            Self::ChangePassword => "change-password",
        }
    }
}

/// One limit: `quota` requests per `window` seconds for each subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub name: &'static str,
    pub quota: u64,
    pub window: u64,
}

/// Where a request stands against one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Standing {
    policy: Policy,
    remaining: u64,
    reset: u64,
}

/// The policies one request was counted against.
pub struct Limits {
    cache: Cache,
    now: i64,
    per_address: u64,
    per_account: u64,
    standings: Vec<Standing>,
}

impl Limits {
    fn new(cache: Cache, now: i64, per_address: u64, per_account: u64) -> Self {
        Self {
            cache,
            now,
            per_address,
            per_account,
            standings: Vec::new(),
        }
    }

    /// Counts this request against `policy` for `subject`; 429 over the quota.
    fn check(&mut self, policy: Policy, subject: &str) -> Result<(), Error> {
        let now = u64::try_from(self.now).unwrap_or(0);
        let window = now / policy.window;
        let reset = policy.window - now % policy.window;
        let count = self
            .cache
            .incr_expiring(&key(&policy, subject, window), reset)?;
        self.record(policy, count, reset)
    }

    /// Notes where the request stands (`count` in a window that ends in
    /// `reset` seconds); 429 over the quota.
    fn record(&mut self, policy: Policy, count: i64, reset: u64) -> Result<(), Error> {
        let count = u64::try_from(count).unwrap_or(0);
        self.standings.push(Standing {
            policy,
            remaining: policy.quota.saturating_sub(count),
            reset,
        });
        if count > policy.quota {
            return Err(Error::TooManyRequests {
                retry_after: reset,
                policy: None,
            });
        }
        Ok(())
    }

    /// Counts the request against `route`'s per-address policy.
    pub fn check_address(&mut self, route: Route, address: &str) -> Result<(), Error> {
        let policy = Policy {
            name: route.policy(),
            quota: self.per_address,
            window: WINDOW_SECS,
        };
        self.check(policy, &format!("address:{address}"))
    }

    /// Counts a password attempt on the account of `email`.
    pub fn check_account(&mut self, email: &str) -> Result<(), Error> {
        let policy = Policy {
            name: ACCOUNT,
            quota: self.per_account,
            window: WINDOW_SECS,
        };
        self.check(policy, &format!("email:{}", email.trim().to_lowercase()))
    }

    /// Counts a mailed link to `email` against the [`MAILBOX`] cooldown:
    /// the first in [`MAILBOX_COOLDOWN_SECS`] passes, the rest get a 429
    /// whose `Retry-After` is the time left. The key is the digest of the
    /// lower-cased, trimmed address, whether or not an account uses it.
    pub fn check_mailbox(&mut self, email: &str) -> Result<(), Error> {
        let policy = Policy {
            name: MAILBOX,
            quota: 1,
            window: MAILBOX_COOLDOWN_SECS,
        };
        let subject = format!("mailbox:{}", email.trim().to_lowercase());
        // Window 0 for good: the key's own expiry is the window.
        let (count, ttl) = self
            .cache
            .incr_expiring_ttl(&key(&policy, &subject, 0), policy.window)?;
        // A key without expiry (-1) or just gone (-2) is over at once.
        let reset = u64::try_from(ttl).unwrap_or(0).clamp(1, policy.window);
        self.record(policy, count, reset)
    }

    /// `response` with the RateLimit headers of every policy counted so far.
    pub fn apply(&self, response: Response) -> Response {
        if self.standings.is_empty() {
            return response;
        }
        let (policies, states) = headers(&self.standings);
        response
            .with_header("ratelimit-policy", policies)
            .with_header("ratelimit", states)
    }
}

/// The `RateLimit-Policy` and `RateLimit` values: one list member per policy.
fn headers(standings: &[Standing]) -> (String, String) {
    let policies: Vec<String> = standings
        .iter()
        .map(|s| {
            format!(
                "\"{}\";q={};w={}",
                s.policy.name, s.policy.quota, s.policy.window
            )
        })
        .collect();
    let states: Vec<String> = standings
        .iter()
        .map(|s| format!("\"{}\";r={};t={}", s.policy.name, s.remaining, s.reset))
        .collect();
    (policies.join(", "), states.join(", "))
}

/// The counter of `subject` under `policy` in window number `window`.
fn key(policy: &Policy, subject: &str, window: u64) -> String {
    let digest = Sha256::digest(
        format!(
            "{}|{}|{}|{subject}",
            policy.name, policy.quota, policy.window
        )
        .as_bytes(),
    );
    format!(
        "{{{}}}:ratelimit:{}:{window}",
        hex::encode(&digest[..16]),
        policy.name
    )
}

/// The client address to count by: the IP of `spin-client-addr` (`ip:port`
/// or `[ipv6]:port`), an IPv6 address cut to its /64, `unknown` when the
/// header is missing (all such requests then share one count).
pub fn client_address(header: Option<&str>) -> String {
    use std::net::{IpAddr, SocketAddr};
    let Some(raw) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return "unknown".to_owned();
    };
    let ip = raw
        .parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| raw.parse::<IpAddr>());
    match ip {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => raw.to_owned(),
    }
}

/// A quota from the variable `name` (its `value`), or `default` when that
/// is empty. A value that is not a positive number is a misconfiguration
/// (500, logged naming the variable).
pub fn quota(name: &str, value: &str, default: u64) -> Result<u64, Error> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(default);
    }
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(plinth_platform::config::invalid(
            name,
            "must be a positive whole number",
        )),
    }
}

/// Runs `handler` once the request passed `route`'s per-address limit, and
/// puts the RateLimit headers on whatever it answers, errors included (so
/// they are rendered here rather than by the router). Redis unreachable:
/// 503, and the handler does not run.
pub fn guarded(
    ctx: &RequestCtx,
    route: Route,
    handler: impl FnOnce(&mut Limits) -> HandlerResult,
) -> HandlerResult {
    let config = ctx.config();
    let per_address = quota(
        "auth_rate_per_minute",
        &config.get("auth_rate_per_minute")?,
        PER_ADDRESS_PER_MINUTE,
    )?;
    let per_account = quota(
        "auth_account_attempts_per_minute",
        &config.get("auth_account_attempts_per_minute")?,
        PER_ACCOUNT_PER_MINUTE,
    )?;
    let cache = Cache::connect(&config.secret("redis_url")?)?;
    let mut limits = Limits::new(cache, ctx.now(), per_address, per_account);
    let address = client_address(ctx.header("spin-client-addr"));
    let result = limits
        .check_address(route, &address)
        .and_then(|()| handler(&mut limits));
    let response = result.unwrap_or_else(|err| err.to_response(ctx.request_id()));
    Ok(limits.apply(response))
}
