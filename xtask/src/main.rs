//! `cargo xtask` — the project's task runner: local services, builds, the
//! dev server, the test and bench flows, and the migration lint.
//!
//! Each command lives in its own module; `tidy` is a test enforcing repo
//! conventions (`cargo test --release -p xtask`).

mod bench;
mod build;
mod http;
mod lint;
mod manifest;
mod migrate;
mod services;
mod sys;
mod test;
#[cfg(test)]
mod tidy;
mod up;
mod util;
mod watch;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

  services start|stop|status|reset [--install]
                      PostgreSQL, Redis and S3 (s3s-fs) on 127.0.0.1, data in target/dev/,
                      environment in target/dev/services.env
  build               wasm components (wasm32-wasip2) and devhost, release
  up [--listen 127.0.0.1:3000] [--install] [--watch]
                      build, start services, serve the app, apply migrations; Ctrl-C stops;
                      --watch rebuilds a component when its sources change and devhost
                      serves the new build without a restart
  watch [-f spin.toml]
                      rebuild components as their sources change (for `devhost --watch`
                      run by hand)
  test [--install] [-- <cargo test args>]
                      build, start services, run the workspace tests against them
  bench [scenario...] [--duration 10s] [--connections 32] [--app devhost|spin] [--install]
                      wrk against tests/apps/bench; scenarios: health-live noop pg redis jwt all orgs-current login refresh
                      partners-list partners-search partners-search-broad partners-create
  lint-migrations     check migrations/ against the schema conventions
  manifest --hosts <env file> [-f spin.toml] [-o <file>]
                      spin.toml for hosted Spin: concrete hosts in allowed_outbound_hosts
  migrate --url <app base url> [--admin-token <token>] [--target head|<revision>]
                      POST /admin/migrations/upgrade on a deployed app (token also from
                      PLINTH_ADMIN_TOKEN or SPIN_VARIABLE_ADMIN_TOKEN)

--install (implied by CI=true) installs missing redis-server, s3s-fs, wrk, postgresql-15.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let result = match cmd.as_str() {
        "services" => services::cli(rest).map(|()| ExitCode::SUCCESS),
        "build" => build::cli(rest).map(|()| ExitCode::SUCCESS),
        "up" => up::cli(rest).map(|()| ExitCode::SUCCESS),
        "test" => test::cli(rest),
        "bench" => bench::cli(rest).map(|()| ExitCode::SUCCESS),
        "lint-migrations" => lint::cli(rest).map(|()| ExitCode::SUCCESS),
        "manifest" => manifest::cli(rest).map(|()| ExitCode::SUCCESS),
        "migrate" => migrate::cli(rest).map(|()| ExitCode::SUCCESS),
        "watch" => watch::cli(rest).map(|()| ExitCode::SUCCESS),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => {
            eprintln!("unknown command `{other}`\n\n{USAGE}");
            Ok(ExitCode::FAILURE)
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}
