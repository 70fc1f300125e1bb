//! `cargo xtask bench [scenario…] [--duration 10s] [--connections 32]
//! [--app devhost|spin] [--install]`: wrk against the bench app
//! (tests/apps/bench/spin.toml) after migrating the main app's database.
//!
//! The `partners-*` scenarios run as a member of a bench org holding
//! 100,000 partners, next to two other orgs of 50,000 each, seeded by one
//! SQL statement ([`PARTNERS_SEED`], idempotent) as the superuser.
//!
//! Per scenario: req/s and latency percentiles (p95 comes from a wrk Lua
//! `done()` hook written to target/bench/report.lua), a table on stdout, and
//! target/bench/<scenario>.json. Socket errors or non-2xx answers fail the run.

use crate::up::{self, App, Runtime};
use crate::util::{self, Phase};
use crate::{build, http, services, sys};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What a scenario sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// A GET without a token.
    None,
    /// A GET with tests/apps/bench/token.txt, for the bench component.
    BenchJwt,
    /// A GET with a real access token from a sign-up made for the run.
    Tenant,
    /// `POST /v1/auth/login` with that tenant's password (one argon2id
    /// verification per request).
    Login,
    /// `POST /v1/auth/refresh`, each wrk thread following its own chain of
    /// refresh tokens: a request sends the newest one its thread received,
    /// so requests in flight together share it (the rotation, then the
    /// grace answer), as a client's parallel refreshes do.
    Refresh,
    /// A GET with the access token of a member of the bench partners org.
    Partners,
    /// `POST /v1/partners` as that member: one new partner per request.
    PartnersCreate,
}

/// (name, path, what it sends)
const SCENARIOS: &[(&str, &str, Auth)] = &[
    ("health-live", "/health/live", Auth::None),
    ("noop", "/bench/noop", Auth::None),
    ("pg", "/bench/pg", Auth::None),
    ("redis", "/bench/redis", Auth::None),
    ("jwt", "/bench/jwt", Auth::BenchJwt),
    ("all", "/bench/all", Auth::BenchJwt),
    ("orgs-current", "/v1/orgs/current", Auth::Tenant),
    ("login", "/v1/auth/login", Auth::Login),
    ("refresh", "/v1/auth/refresh", Auth::Refresh),
    ("partners-list", "/v1/partners?limit=50", Auth::Partners),
    (
        "partners-search",
        "/v1/partners?q=acme%20logistcs%20gmbh&limit=50",
        Auth::Partners,
    ),
    // One word that 12,500 names hold: more than are ranked (500).
    (
        "partners-search-broad",
        "/v1/partners?q=gmbh&limit=50",
        Auth::Partners,
    ),
    // Last: its rows are cleared by the next run's seed, not by this one.
    ("partners-create", "/v1/partners", Auth::PartnersCreate),
];

/// The bench partners org, the company of its 100,000 seeded partners, and
/// the company `partners-create` adds to (emptied by every seed).
const PARTNERS_ORG: &str = "b0000000-0000-4000-8000-000000000001";
const PARTNERS_CREATE_COMPANY: &str = "c0000000-0000-4000-8000-000000000002";

/// The seed, one statement, as the superuser (row-level security does not
/// apply): three orgs (the bench org and two others), a company each (two in
/// the bench org), the bench member (`{user}`), and the partners of a
/// company that has none yet: 100,000 in the bench org, 50,000 in each
/// other. Names are 96,000 combinations of four word lists ("Acme Logistics
/// Berlin GmbH"); a third are customers, a third suppliers, a third both;
/// one in ten is tagged `vip`, one in ten `eu` and `vip`. Running it again
/// only empties the company `partners-create` fills.
const PARTNERS_SEED: &str = r#"
WITH orgs AS (
  INSERT INTO org (id, name, slug) VALUES
    ('b0000000-0000-4000-8000-000000000001', 'Bench partners', 'bench-partners'),
    ('b0000000-0000-4000-8000-000000000002', 'Bench partners other 1', 'bench-partners-other-1'),
    ('b0000000-0000-4000-8000-000000000003', 'Bench partners other 2', 'bench-partners-other-2')
  ON CONFLICT DO NOTHING
), companies AS (
  INSERT INTO companies (id, org_id, name, currency) VALUES
    ('c0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000001', 'Seeded', 'EUR'),
    ('c0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000001', 'Created', 'EUR'),
    ('c0000000-0000-4000-8000-000000000003', 'b0000000-0000-4000-8000-000000000002', 'Other 1', 'EUR'),
    ('c0000000-0000-4000-8000-000000000004', 'b0000000-0000-4000-8000-000000000003', 'Other 2', 'EUR')
  ON CONFLICT DO NOTHING
), member AS (
  INSERT INTO memberships (org_id, user_id, role)
  VALUES ('b0000000-0000-4000-8000-000000000001', '{user}', 'member')
  ON CONFLICT DO NOTHING
), cleared AS (
  DELETE FROM partners WHERE org_id = 'b0000000-0000-4000-8000-000000000001'
    AND company_id = 'c0000000-0000-4000-8000-000000000002'
  RETURNING 1
), seeded AS (
  INSERT INTO partners (org_id, company_id, name, kind, tags, created_at)
  SELECT o.org_id, o.company_id,
    (ARRAY['Acme','Globex','Initech','Umbrella','Stark','Wayne','Wonka','Soylent','Tyrell',
      'Cyberdyne','Hooli','Vandelay','Massive','Dynamic','Nordic','Alpine','Baltic','Atlas',
      'Apex','Summit','Vertex','Pioneer','Orion','Zenith','Polar','Falcon','Harbor',
      'Meridian','Keystone','Crescent','Sterling','Evergreen','Silverline','Bluewater',
      'Redwood','Ironclad','Brightway','Northstar','Sunrise','Granite'])[1 + g % 40]
    || ' ' || (ARRAY['Trading','Logistics','Foods','Systems','Holdings','Industries',
      'Textiles','Motors','Pharma','Energy','Capital','Media','Analytics','Robotics',
      'Chemicals','Metals','Plastics','Furniture','Electronics','Software','Consulting',
      'Construction','Farms','Beverages','Shipping','Packaging','Optics','Aerospace',
      'Tools','Paper'])[1 + (g / 40) % 30]
    || ' ' || (ARRAY['Berlin','Hamburg','Munich','Vienna','Zurich','Paris','Lyon','Milan',
      'Madrid','Oslo'])[1 + (g / 1200) % 10]
    || ' ' || (ARRAY['GmbH','AG','Ltd','Inc','SARL','BV','KG','Oy'])[1 + (g / 12000) % 8],
    (ARRAY['customer','supplier','both'])[1 + g % 3],
    CASE g % 10 WHEN 0 THEN '{vip}'::text[] WHEN 1 THEN '{eu,vip}'::text[] ELSE '{}' END,
    now() - make_interval(secs => g)
  FROM (VALUES
    ('b0000000-0000-4000-8000-000000000001'::uuid, 'c0000000-0000-4000-8000-000000000001'::uuid, 100000),
    ('b0000000-0000-4000-8000-000000000002'::uuid, 'c0000000-0000-4000-8000-000000000003'::uuid, 50000),
    ('b0000000-0000-4000-8000-000000000003'::uuid, 'c0000000-0000-4000-8000-000000000004'::uuid, 50000)
  ) AS o (org_id, company_id, n)
  CROSS JOIN LATERAL generate_series(1, o.n) AS g
  WHERE NOT EXISTS (SELECT 1 FROM partners p WHERE p.company_id = o.company_id)
  RETURNING 1
)
SELECT (SELECT count(*) FROM seeded) AS seeded, (SELECT count(*) FROM cleared) AS cleared
"#;

/// The Lua that makes a scenario's requests, before the report hook.
fn request_lua(auth: Auth, tenant: Option<&Tenant>, addr: std::net::SocketAddr) -> Result<String> {
    let tenant = || tenant.context("no tenant signed up for this scenario");
    Ok(match auth {
        Auth::None | Auth::BenchJwt | Auth::Tenant | Auth::Partners => String::new(),
        Auth::PartnersCreate => format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.body = '{{\"company_id\":\"{PARTNERS_CREATE_COMPANY}\",\
             \"name\":\"Bench Created Partner\",\"kind\":\"customer\",\"tags\":[\"bench\"]}}'\n"
        ),
        Auth::Login => {
            let t = tenant()?;
            format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
                 wrk.body = '{{\"email\":\"{}\",\"password\":\"{}\"}}'\n",
                t.email, t.password
            )
        }
        Auth::Refresh => {
            // Fresh sessions for every run of wrk (the warm-up's chain is spent).
            let tokens: Vec<String> = (0..2)
                .map(|_| log_in(addr, tenant()?))
                .collect::<Result<_>>()?;
            format!(
                "local tokens = {{\"{}\", \"{}\"}}\nlocal n = 0\n\
                 function setup(thread) n = n + 1; thread:set(\"token\", tokens[n]) end\n\
                 function request() return wrk.format(\"POST\", nil, \
                 {{[\"Content-Type\"] = \"application/json\"}}, \
                 '{{\"refresh_token\":\"' .. token .. '\"}}') end\n\
                 function response(status, headers, body) \
                 local t = body:match('\"refresh_token\":\"([^\"]+)\"'); if t then token = t end end\n",
                tokens[0], tokens[1]
            )
        }
    })
}

/// Seconds of unmeasured load before each scenario.
const WARM_UP_S: u64 = 2;
const INSTALL_WRK: &str = "apt-get update && apt-get install -y wrk";

const LUA: &str = r#"-- Written by `cargo xtask bench`: a machine-readable summary after wrk's report.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("XTASK requests=%.0f duration_us=%.0f connect=%.0f read=%.0f write=%.0f status=%.0f timeout=%.0f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
  for _, p in ipairs({50, 75, 90, 95, 99}) do
    io.write(string.format("XTASK p%d_us=%.0f\n", p, latency:percentile(p)))
  end
end
"#;

struct Options {
    scenarios: Vec<&'static (&'static str, &'static str, Auth)>,
    duration_s: u64,
    connections: u32,
    runtime: Runtime,
    install: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut opts = Options {
        scenarios: Vec::new(),
        duration_s: 10,
        connections: 32,
        runtime: Runtime::Devhost,
        install: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--duration" => {
                opts.duration_s = parse_duration(it.next().context("--duration needs a value")?)?
            }
            "--connections" => {
                opts.connections = it
                    .next()
                    .context("--connections needs a value")?
                    .parse()
                    .context("bad --connections")?
            }
            "--app" => {
                opts.runtime = match it.next().map(String::as_str) {
                    Some("devhost") => Runtime::Devhost,
                    Some("spin") => Runtime::Spin(
                        util::which("spin").context("--app spin: `spin` is not on PATH")?,
                    ),
                    _ => bail!("--app takes devhost or spin"),
                }
            }
            "--install" => opts.install = true,
            name => {
                let s = SCENARIOS
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .with_context(|| {
                        let names: Vec<_> = SCENARIOS.iter().map(|s| s.0).collect();
                        format!("unknown scenario {name:?}; known: {}", names.join(" "))
                    })?;
                opts.scenarios.push(s);
            }
        }
    }
    if opts.scenarios.is_empty() {
        opts.scenarios = SCENARIOS.iter().collect();
    }
    if opts.connections < 2 {
        bail!("--connections must be at least 2 (wrk runs 2 threads)");
    }
    Ok(opts)
}

/// `10s`, `1m`, `30` (seconds).
fn parse_duration(s: &str) -> Result<u64> {
    let (num, mult) = match s.strip_suffix('m') {
        Some(n) => (n, 60),
        None => (s.strip_suffix('s').unwrap_or(s), 1),
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("bad duration {s:?} (use e.g. 10s or 1m)"))?;
    Ok(n * mult)
}

pub fn cli(args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    let install = opts.install || util::ci();
    if util::which("wrk").is_none() {
        services::install_or_explain("wrk", INSTALL_WRK, install)?;
    }
    sys::catch_interrupts();
    build::build()?;
    let started = services::start(install)?;
    let result = run(&opts);
    let stopped = services::stop(started);
    result?;
    stopped
}

#[derive(Debug, Default)]
struct Outcome {
    requests_per_sec: f64,
    percentiles_ms: BTreeMap<u32, f64>,
    errors: u64,
    non_2xx: u64,
}

impl Outcome {
    /// Errors, non-2xx answers, or no answer at all (every request slower
    /// than wrk's timeout).
    fn failed(&self) -> bool {
        self.errors > 0 || self.non_2xx > 0 || self.requests_per_sec == 0.0
    }
}

fn run(opts: &Options) -> Result<()> {
    let env = services::load_env()?;
    {
        // The bench app shares the main app's database: bring its schema to head.
        let token = services::env_value(&env, "SPIN_VARIABLE_ADMIN_TOKEN")?;
        let addr = util::local(util::free_port()?);
        let mut main = App::start(
            &Runtime::Devhost,
            &util::root().join("spin.toml"),
            addr,
            &env,
        )?;
        up::migrate(&mut main, &token)?;
    }
    let root = util::root();
    let bench_token = std::fs::read_to_string(root.join("tests/apps/bench/token.txt"))
        .context("reading tests/apps/bench/token.txt")?
        .trim()
        .to_string();
    let out_dir = util::target_dir().join("bench");
    std::fs::create_dir_all(&out_dir)?;

    let addr = util::local(util::free_port()?);
    let _app = App::start(
        &opts.runtime,
        &root.join("tests/apps/bench/spin.toml"),
        addr,
        &env,
    )?;
    let tenant = if opts
        .scenarios
        .iter()
        .any(|s| s.2 != Auth::None && s.2 != Auth::BenchJwt)
    {
        Some(sign_up(addr)?)
    } else {
        None
    };
    let partners_access = if opts
        .scenarios
        .iter()
        .any(|s| matches!(s.2, Auth::Partners | Auth::PartnersCreate))
    {
        let t = tenant.as_ref().context("no tenant signed up")?;
        Some(partners_member(addr, &env, t)?)
    } else {
        None
    };
    let mut rows = Vec::new();
    for &&(name, path, kind) in &opts.scenarios {
        if sys::interrupted() {
            bail!("interrupted");
        }
        let auth = match kind {
            Auth::BenchJwt => Some(format!("Authorization: Bearer {bench_token}")),
            Auth::Tenant => tenant
                .as_ref()
                .map(|t| format!("Authorization: Bearer {}", t.access)),
            Auth::Partners | Auth::PartnersCreate => partners_access
                .as_ref()
                .map(|access| format!("Authorization: Bearer {access}")),
            Auth::None | Auth::Login | Auth::Refresh => None,
        };
        if matches!(
            kind,
            Auth::None | Auth::BenchJwt | Auth::Tenant | Auth::Partners
        ) {
            probe(addr, path, auth.as_deref());
        }
        let _phase = Phase::new(format!(
            "wrk {name} ({path}, {}s, {} connections)",
            opts.duration_s, opts.connections
        ));
        let url = format!("http://{addr}{path}");
        let wrk = |seconds: u64| {
            let script = out_dir.join(format!("{name}.lua"));
            std::fs::write(
                &script,
                format!("{}{LUA}", request_lua(kind, tenant.as_ref(), addr)?),
            )?;
            let mut cmd = Command::new("wrk");
            cmd.args([
                "-t2",
                &format!("-c{}", opts.connections),
                &format!("-d{seconds}s"),
                // Login hashes a password per request: at 32 connections its
                // answers take over a second, past wrk's 2 s default now and then.
                "--timeout",
                "10s",
                "--latency",
                "-s",
            ]);
            cmd.arg(&script);
            if let Some(h) = &auth {
                cmd.args(["-H", h]);
            }
            cmd.arg(&url);
            util::output(&mut cmd)
        };
        // Warm-up, not measured: the first requests open the pooled Postgres
        // connections (SCRAM authentication costs milliseconds each).
        wrk(WARM_UP_S)?;
        let stdout = wrk(opts.duration_s)?;
        print!(
            "{}",
            stdout
                .lines()
                .filter(|l| !l.starts_with("XTASK"))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        );
        let outcome =
            parse_wrk(&stdout).with_context(|| format!("cannot read wrk's output for {name}"))?;
        write_json(&out_dir, name, path, &outcome, opts)?;
        if outcome.failed() {
            eprintln!(
                "!!!! {name}: {} socket errors, {} non-2xx responses — these numbers are not valid !!!!",
                outcome.errors, outcome.non_2xx
            );
        }
        rows.push((name, outcome));
    }
    print_table(&rows);
    println!("results in {}", out_dir.display());
    let flagged: Vec<_> = rows
        .iter()
        .filter(|(_, o)| o.failed())
        .map(|(n, _)| *n)
        .collect();
    if !flagged.is_empty() {
        bail!(
            "scenarios with errors or non-2xx responses: {}",
            flagged.join(", ")
        );
    }
    Ok(())
}

/// A tenant signed up for the run.
struct Tenant {
    email: String,
    password: String,
    access: String,
    user_id: String,
}

/// Signs up a fresh tenant on the bench app.
fn sign_up(addr: std::net::SocketAddr) -> Result<Tenant> {
    let name = format!("bench-{}", util::random_hex(6)?);
    let email = format!("{name}@example.com");
    let password = util::random_hex(12)?;
    let body = serde_json::json!({
        "email": email,
        "password": password,
        "name": "Bench",
        "org_name": name,
    });
    let json = post_json(addr, "/v1/auth/signup", None, &body, 201)?;
    let access = json["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("sign-up answer without access_token")?;
    let user_id = json["user"]["id"]
        .as_str()
        .filter(|id| id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
        .map(str::to_owned)
        .context("sign-up answer without a user id")?;
    Ok(Tenant {
        email,
        password,
        access,
        user_id,
    })
}

/// Seeds the partners orgs ([`PARTNERS_SEED`]) with `tenant` as a member of
/// the bench org, and returns an access token for that org (switch-org).
fn partners_member(
    addr: std::net::SocketAddr,
    env: &[(String, String)],
    tenant: &Tenant,
) -> Result<String> {
    let _phase = Phase::new("seed the bench partners orgs");
    let superuser = services::env_value(env, "PLINTH_PG_SUPERUSER_URL")?;
    let database = services::env_value(env, "SPIN_VARIABLE_PG_DATABASE")?;
    let url = match superuser.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => bail!("PLINTH_PG_SUPERUSER_URL without a database: {superuser}"),
    };
    let seed = PARTNERS_SEED.replace("{user}", &tenant.user_id);
    let out = util::output(Command::new("psql").args([
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        &url,
        "-c",
        &seed,
        "-c",
        "ANALYZE partners",
    ]))?;
    println!("partners seed (seeded|cleared): {}", out.trim());
    let body = serde_json::json!({ "org_id": PARTNERS_ORG });
    let json = post_json(
        addr,
        "/v1/auth/switch-org",
        Some(&tenant.access),
        &body,
        200,
    )?;
    json["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("switch-org answer without access_token")
}

/// A new session of `tenant`; returns its refresh token.
fn log_in(addr: std::net::SocketAddr, tenant: &Tenant) -> Result<String> {
    let body = serde_json::json!({"email": tenant.email, "password": tenant.password});
    let json = post_json(addr, "/v1/auth/login", None, &body, 200)?;
    json["refresh_token"]
        .as_str()
        .map(str::to_owned)
        .context("login answer without refresh_token")
}

/// `POST path` with a JSON `body` (and a bearer token): the answer's JSON,
/// when its status is `want`.
fn post_json(
    addr: std::net::SocketAddr,
    path: &str,
    access: Option<&str>,
    body: &serde_json::Value,
    want: u16,
) -> Result<serde_json::Value> {
    let auth = access.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(auth.as_deref().map(|a| ("authorization", a)));
    let resp = http::request(
        addr,
        "POST",
        path,
        &headers,
        body.to_string().as_bytes(),
        Duration::from_secs(30),
    )?;
    if resp.status != want {
        bail!("bench POST {path} answered {}: {}", resp.status, resp.body);
    }
    Ok(serde_json::from_str(&resp.body)?)
}

/// One request before the load, so a wrong status is explained up front.
fn probe(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) {
    let header = auth.and_then(|h| h.split_once(": "));
    let headers: Vec<(&str, &str)> = header.into_iter().collect();
    match http::request(addr, "GET", path, &headers, b"", Duration::from_secs(10)) {
        Ok(r) if (200..300).contains(&r.status) => {}
        Ok(r) => eprintln!(
            "!!!! GET {path} answered HTTP {}: {}",
            r.status,
            r.body.trim()
        ),
        Err(e) => eprintln!("!!!! GET {path} failed: {e:#}"),
    }
}

fn parse_wrk(stdout: &str) -> Result<Outcome> {
    let mut kv = BTreeMap::new();
    for line in stdout.lines().filter_map(|l| l.strip_prefix("XTASK ")) {
        for pair in line.split_whitespace() {
            if let Some((k, v)) = pair.split_once('=') {
                kv.insert(
                    k.to_string(),
                    v.parse::<f64>()
                        .with_context(|| format!("bad value in {pair:?}"))?,
                );
            }
        }
    }
    let get = |k: &str| {
        kv.get(k)
            .copied()
            .with_context(|| format!("wrk summary lacks {k} (Lua script not run?)"))
    };
    let duration_s = get("duration_us")? / 1e6;
    let mut outcome = Outcome {
        requests_per_sec: if duration_s > 0.0 {
            get("requests")? / duration_s
        } else {
            0.0
        },
        errors: (get("connect")? + get("read")? + get("write")? + get("timeout")?) as u64,
        non_2xx: get("status")? as u64,
        ..Outcome::default()
    };
    for p in [50, 75, 90, 95, 99] {
        outcome
            .percentiles_ms
            .insert(p, get(&format!("p{p}_us"))? / 1000.0);
    }
    Ok(outcome)
}

fn write_json(dir: &Path, name: &str, path: &str, o: &Outcome, opts: &Options) -> Result<()> {
    let p = |n| o.percentiles_ms.get(&n).copied().unwrap_or(0.0);
    let json = serde_json::json!({
        "scenario": name,
        "path": path,
        "requests_per_sec": (o.requests_per_sec * 10.0).round() / 10.0,
        "p50_ms": (p(50) * 1000.0).round() / 1000.0,
        "p95_ms": (p(95) * 1000.0).round() / 1000.0,
        "p99_ms": (p(99) * 1000.0).round() / 1000.0,
        "errors": o.errors,
        "non_2xx": o.non_2xx,
        "connections": opts.connections,
        "duration_s": opts.duration_s,
    });
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    Ok(())
}

fn print_table(rows: &[(&str, Outcome)]) {
    println!();
    println!(
        "{:<16} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>8}",
        "scenario", "req/s", "p50 ms", "p75 ms", "p90 ms", "p95 ms", "p99 ms", "errors", "non-2xx"
    );
    for (name, o) in rows {
        let p = |n| o.percentiles_ms.get(&n).copied().unwrap_or(0.0);
        let flag = if o.failed() {
            "  <-- FAILED REQUESTS"
        } else {
            ""
        };
        println!(
            "{name:<16} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>8}{flag}",
            o.requests_per_sec,
            p(50),
            p(75),
            p(90),
            p(95),
            p(99),
            o.errors,
            o.non_2xx
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lua_summary() {
        let out = "Requests/sec: 100\nXTASK requests=2000 duration_us=10000000 connect=0 read=1 write=0 status=3 timeout=0\n\
                   XTASK p50_us=1500\nXTASK p75_us=2000\nXTASK p90_us=3000\nXTASK p95_us=4000\nXTASK p99_us=9000\n";
        let o = parse_wrk(out).unwrap();
        assert_eq!((o.requests_per_sec, o.errors, o.non_2xx), (200.0, 1, 3));
        assert_eq!(o.percentiles_ms[&95], 4.0);
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("10s").unwrap(), 10);
        assert_eq!(parse_duration("2m").unwrap(), 120);
        assert_eq!(parse_duration("7").unwrap(), 7);
        assert!(parse_duration("x").is_err());
    }
}
