//! `cargo xtask test [--install] [-- <cargo test args>]`: build, start the
//! services, run the native workspace tests with services.env in their
//! environment, stop the services this run started, exit with cargo's code.
//!
//! `APP_RUNTIME` / `SPIN_BIN` pass through untouched; the e2e helpers choose
//! the runtime.

use crate::util::{self, Phase};
use crate::{build, services, sys};
use anyhow::{Result, bail};
use std::process::ExitCode;

pub fn cli(args: &[String]) -> Result<ExitCode> {
    let (ours, extra) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let install = match ours {
        [] => false,
        [flag] if flag == "--install" => true,
        _ => bail!("usage: cargo xtask test [--install] [-- <cargo test args>]"),
    };
    sys::catch_interrupts();
    let total = Phase::new("xtask test");
    build::build()?;
    let started = services::start(install)?;
    let result = run_tests(extra);
    let stopped = services::stop(started);
    drop(total);
    let code = result?;
    stopped?;
    Ok(code)
}

fn run_tests(extra: &[String]) -> Result<ExitCode> {
    let env = services::load_env()?;
    let mut cmd = util::cargo();
    cmd.args(["test", "--release", "--workspace", "--no-fail-fast"]);
    for component in build::components()? {
        cmd.args(["--exclude", &component]);
    }
    cmd.args(extra);
    cmd.envs(env);
    cmd.env(
        "PLINTH_DEVHOST_BIN",
        util::target_dir().join("release/devhost"),
    );
    let _phase = Phase::new("cargo test");
    eprintln!("$ {}", util::show(&cmd));
    let status = cmd.status()?;
    if sys::interrupted() {
        eprintln!("interrupted");
    }
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => {
            eprintln!("cargo test killed by a signal ({status})");
            ExitCode::FAILURE
        }
    })
}
