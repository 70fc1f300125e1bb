//! Command-line arguments, parsed by hand to keep dependencies few. The
//! flags mirror `spin up` where they overlap.

use std::net::SocketAddr;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: devhost [-f|--from <spin.toml>] [--listen <addr>] [--runtime-config-file <file>]
               [-e|--env KEY=VALUE]... [--pg-zero-row-query error|allow] [--spin 4.0|3.6]
               [--watch]

  -f, --from FILE              app manifest (default ./spin.toml)
      --listen ADDR            address to serve on (default 127.0.0.1:3000)
      --runtime-config-file F  Spin runtime config (accepted; unimplemented sections ignored)
  -e, --env KEY=VALUE          environment variable for every component (repeatable)
      --pg-zero-row-query M    `error` (default; env PLINTH_PG_ZERO_ROW_QUERY) or `allow`
      --spin V                 answer as Spin `4.0` (4.0.2, default) or `3.6` (3.6.3, SpinKube's
                               shim) where they differ (env PLINTH_DEVHOST_SPIN); 3.6 lets
                               zero-row queries return and gives row-stream errors Postgres's
                               message instead of the driver's Debug text
      --watch                  serve a component's new .wasm as soon as it is rebuilt, without
                               a restart; a file that does not load is logged and the previous
                               build keeps serving

environment: SPIN_VARIABLE_<NAME> overrides app variables; PLINTH_LOG (or RUST_LOG)
sets the log level (error|warn|info|debug|trace); PLINTH_LOG_FORMAT=json|pretty
overrides how JSON log lines are shown (default: pretty when stderr is a terminal);
PLINTH_DEVHOST_CACHE is where compiled components are cached (default
~/.cache/plinth-devhost).";

/// Parsed arguments for a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub manifest: PathBuf,
    pub listen: SocketAddr,
    pub runtime_config: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub pg_zero_row_query: Option<String>,
    pub spin: Option<String>,
    pub watch: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Args),
    Help,
}

impl Args {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
        let mut out = Args {
            manifest: PathBuf::from("spin.toml"),
            listen: "127.0.0.1:3000".parse().expect("valid default"),
            runtime_config: None,
            env: Vec::new(),
            pg_zero_row_query: None,
            spin: None,
            watch: false,
        };
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            // Accept both `--flag value` and `--flag=value`.
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(Parsed::Help),
                "--watch" if inline.is_none() => out.watch = true,
                "--watch" => return Err("--watch takes no value".into()),
                "-f" | "--from" | "--file" => out.manifest = PathBuf::from(value(&flag)?),
                "--listen" => {
                    let v = value(&flag)?;
                    out.listen = v.parse().map_err(|_| {
                        format!("--listen: {v:?} is not an address like 127.0.0.1:3000")
                    })?;
                }
                "--runtime-config-file" => out.runtime_config = Some(PathBuf::from(value(&flag)?)),
                "-e" | "--env" => {
                    let v = value(&flag)?;
                    let (k, val) = v
                        .split_once('=')
                        .ok_or_else(|| format!("{flag}: expected KEY=VALUE, got {v:?}"))?;
                    out.env.push((k.to_string(), val.to_string()));
                }
                "--pg-zero-row-query" => {
                    let v = value(&flag)?;
                    if v != "error" && v != "allow" {
                        return Err(format!(
                            "--pg-zero-row-query: expected error or allow, got {v:?}"
                        ));
                    }
                    out.pg_zero_row_query = Some(v);
                }
                "--spin" => {
                    let v = value(&flag)?;
                    if v != "4.0" && v != "3.6" {
                        return Err(format!("--spin: expected 4.0 or 3.6, got {v:?}"));
                    }
                    out.spin = Some(v);
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(Parsed::Run(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        let Parsed::Run(a) = parse(&[]).unwrap() else {
            panic!()
        };
        assert_eq!(a.manifest, PathBuf::from("spin.toml"));
        assert_eq!(a.listen.to_string(), "127.0.0.1:3000");
        assert!(a.env.is_empty());
        assert!(!a.watch, "reloading is opt-in");
    }

    #[test]
    fn all_flags() {
        let Parsed::Run(a) = parse(&[
            "-f",
            "app/spin.toml",
            "--listen=127.0.0.1:0",
            "--runtime-config-file",
            "rc.toml",
            "-e",
            "A=1",
            "--env",
            "B=x=y",
            "--pg-zero-row-query",
            "allow",
            "--spin=3.6",
            "--watch",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.manifest, PathBuf::from("app/spin.toml"));
        assert_eq!(a.listen.port(), 0);
        assert_eq!(a.runtime_config, Some(PathBuf::from("rc.toml")));
        assert_eq!(
            a.env,
            [("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(a.pg_zero_row_query.as_deref(), Some("allow"));
        assert_eq!(a.spin.as_deref(), Some("3.6"));
        assert!(a.watch);
    }

    #[test]
    fn bad_input() {
        for bad in [
            &["--listen", "nope"][..],
            &["-e", "NOEQUALS"],
            &["--pg-zero-row-query", "maybe"],
            &["--spin", "5.0"],
            &["--frobnicate"],
            &["-f"],
            &["--watch=yes"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse(&["--help"]).unwrap(), Parsed::Help);
    }
}
