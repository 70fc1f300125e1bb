//! The S3 server for development and tests: `s3s-fs` serving
//! target/dev/s3/data on 127.0.0.1, run detached with a pid file. The bucket
//! is created through the S3 API with a SigV4-signed `PUT /<bucket>` (signed
//! here with sha2 + hmac), then checked with a signed `ListBuckets`.

use super::State;
use crate::{http, sys, util};
use anyhow::{Context, Result, bail};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const REGION: &str = "us-east-1";
const INSTALL: &str = "cargo install s3s-fs@0.14.1 --features binary --locked";

pub fn log_path(dir: &Path) -> PathBuf {
    dir.join("log")
}

fn pid_path(dir: &Path) -> PathBuf {
    dir.join("s3s-fs.pid")
}

fn find_binary() -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    util::which("s3s-fs").or_else(|| {
        cargo_home
            .map(|h| h.join("bin/s3s-fs"))
            .filter(|p| util::is_executable(p))
    })
}

pub fn ensure_installed(install: bool) -> Result<PathBuf> {
    if let Some(bin) = find_binary() {
        return Ok(bin);
    }
    super::install_or_explain("s3s-fs", INSTALL, install)?;
    find_binary().with_context(|| format!("s3s-fs still not found after `{INSTALL}`"))
}

fn pid(dir: &Path) -> Option<u32> {
    sys::live_pid(&pid_path(dir), "s3s-fs")
}

/// The port of the s3s-fs started from `dir` (read from its command line).
pub fn running_port(dir: &Path) -> Option<u16> {
    let pid = pid(dir)?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let i = args.iter().position(|a| a == "--port")?;
    args.get(i + 1)?.parse().ok()
}

pub fn start(bin: &Path, dir: &Path, s: &State) -> Result<()> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let log = log_path(dir);
    let logfile = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)?;
    let mut cmd = Command::new(bin);
    cmd.args(["--host", "127.0.0.1", "--port", &s.s3_port.to_string()])
        .args([
            "--access-key",
            &s.s3_access_key,
            "--secret-key",
            &s.s3_secret_key,
        ])
        .arg(data.canonicalize()?)
        .stdin(Stdio::null())
        .stdout(logfile.try_clone()?)
        .stderr(logfile);
    sys::detach(&mut cmd);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let pid = child.id();
    std::fs::write(pid_path(dir), format!("{pid}\n"))?;
    let addr = util::local(s.s3_port);
    let ready = util::wait_until(Duration::from_secs(15), || {
        if !sys::alive(pid, "s3s-fs") {
            bail!(
                "s3s-fs exited during startup; log {}:\n{}",
                log.display(),
                util::tail(&log, 10)
            );
        }
        // A signed ListBuckets answering 200 means it serves and accepts our keys.
        Ok(util::accepts(s.s3_port) && signed(s, "GET", "/").is_ok_and(|r| r.status == 200))
    })?;
    if !ready {
        bail!(
            "s3s-fs on {addr} not answering HTTP within 15s; log {}",
            log.display()
        );
    }
    Ok(())
}

pub fn stop(dir: &Path) {
    if let Some(pid) = pid(dir) {
        sys::terminate(pid, "s3s-fs", Duration::from_secs(5));
    }
}

/// Create `bucket` unless it exists, then confirm ListBuckets shows it.
pub fn ensure_bucket(s: &State, bucket: &str) -> Result<()> {
    let put = signed(s, "PUT", &format!("/{bucket}"))?;
    let exists = put.status == 409 && put.body.contains("BucketAlready");
    if !(200..300).contains(&put.status) && !exists {
        bail!(
            "creating bucket {bucket} failed: HTTP {} {}",
            put.status,
            put.body
        );
    }
    let list = signed(s, "GET", "/")?;
    if list.status != 200 || !list.body.contains(&format!("<Name>{bucket}</Name>")) {
        bail!(
            "bucket {bucket} not listed by ListBuckets: HTTP {} {}",
            list.status,
            list.body
        );
    }
    Ok(())
}

/// A body-less SigV4-signed request (path-style, no query string).
fn signed(s: &State, method: &str, path: &str) -> Result<http::Response> {
    let addr = util::local(s.s3_port);
    let host = addr.to_string();
    let (amz_date, date) = timestamp(SystemTime::now());
    let payload = hex::encode(Sha256::digest(b""));
    let signed_headers = "host;x-amz-content-sha256;x-amz-date";
    let canonical = format!(
        "{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:{payload}\nx-amz-date:{amz_date}\n\n{signed_headers}\n{payload}"
    );
    let scope = format!("{date}/{REGION}/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical))
    );
    let key = signing_key(&s.s3_secret_key, &date, REGION, "s3");
    let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        s.s3_access_key
    );
    let headers = [
        ("x-amz-date", amz_date.as_str()),
        ("x-amz-content-sha256", payload.as_str()),
        ("Authorization", auth.as_str()),
    ];
    http::request(addr, method, path, &headers, b"", Duration::from_secs(10))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

/// (`YYYYMMDDTHHMMSSZ`, `YYYYMMDD`) in UTC.
fn timestamp(t: SystemTime) -> (String, String) {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let date = format!("{y:04}{m:02}{d:02}");
    (
        format!(
            "{date}T{:02}{:02}{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        ),
        date,
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_timestamps() {
        let t = |s| timestamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(t(0), ("19700101T000000Z".into(), "19700101".into()));
        assert_eq!(t(1_700_000_000).0, "20231114T221320Z");
        assert_eq!(t(951_782_400).0, "20000229T000000Z");
    }

    #[test]
    fn derives_the_documented_signing_key() {
        // The worked example of the AWS SigV4 documentation.
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
