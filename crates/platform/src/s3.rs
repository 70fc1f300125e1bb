//! S3 access: AWS Signature Version 4 (pure, unit-tested against the AWS
//! documented example) and, in a component, [`head_bucket`] over Spin's
//! outbound HTTP.
//!
//! Requests are **path-style** (`<endpoint>/<bucket>/<key>`), which s3s-fs,
//! MinIO and AWS all accept. The `host` header that is signed is the
//! endpoint's authority (`127.0.0.1:9000`): the guest cannot set `Host`
//! itself (WASI HTTP forbids it), the host derives it from the URL's
//! authority, so both sides see the same value.
//!
//! Time comes from `std::time::SystemTime` (the WASI wall clock in a
//! component).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::{self, Secret, Source};
use crate::error::Error;

/// The SHA-256 of an empty payload.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The payload hash that tells S3 not to check the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The signing algorithm name.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Access key id and secret key.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: Secret,
}

/// A request timestamp in the two forms SigV4 uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmzTime {
    /// `YYYYMMDDTHHMMSSZ`
    date_time: String,
}

impl AmzTime {
    /// The time `secs` seconds after the Unix epoch (UTC).
    pub fn from_unix(secs: u64) -> Self {
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        Self {
            date_time: format!(
                "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
                rem / 3600,
                (rem % 3600) / 60,
                rem % 60
            ),
        }
    }

    /// The current time from the system clock.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self::from_unix(secs)
    }

    /// `YYYYMMDDTHHMMSSZ` (the `x-amz-date` header).
    pub fn date_time(&self) -> &str {
        &self.date_time
    }

    /// `YYYYMMDD` (the credential scope).
    pub fn date(&self) -> &str {
        &self.date_time[..8]
    }
}

/// Year, month, day of the proleptic Gregorian calendar for a day count since
/// 1970-01-01 (the "days from civil" inverse, era-based).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year, March-based
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// Percent-encodes `input` as SigV4 requires: unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`) stay, everything else becomes `%XX`; `/` stays
/// when `keep_slash`.
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The hex SHA-256 of `data` (for `x-amz-content-sha256`).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// What a request signature covers.
#[derive(Debug, Clone)]
pub struct SignInput<'a> {
    pub method: &'a str,
    /// The path as it goes on the wire, already URI-encoded (`/bucket/key`).
    pub path: &'a str,
    /// Query parameters, not encoded.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign, including `host`, `x-amz-date` and `x-amz-content-sha256`.
    pub headers: &'a [(&'a str, &'a str)],
    /// `UNSIGNED-PAYLOAD` or the hex SHA-256 of the body.
    pub payload_hash: &'a str,
}

/// `(canonical headers block, signed header names)`.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            (name.to_ascii_lowercase(), value)
        })
        .collect();
    pairs.sort();
    let mut block = String::new();
    for (name, value) in &pairs {
        let _ = writeln!(block, "{name}:{value}");
    }
    let signed = pairs
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (block, signed)
}

/// The SigV4 canonical request.
pub fn canonical_request(input: &SignInput<'_>) -> String {
    let mut query: Vec<(String, String)> = input
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let (headers, signed) = canonical_headers(input.headers);
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method, input.path, query, headers, signed, input.payload_hash
    )
}

/// `<date>/<region>/<service>/aws4_request`.
pub fn scope(time: &AmzTime, region: &str, service: &str) -> String {
    format!("{}/{region}/{service}/aws4_request", time.date())
}

/// The SigV4 string to sign for a canonical request.
pub fn string_to_sign(canonical: &str, time: &AmzTime, region: &str, service: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        time.date_time(),
        scope(time, region, service),
        sha256_hex(canonical.as_bytes())
    )
}

/// The hex signature of `string_to_sign` with the derived signing key.
pub fn signature(
    secret: &Secret,
    time: &AmzTime,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let k_date = hmac(
        format!("AWS4{}", secret.expose()).as_bytes(),
        time.date().as_bytes(),
    );
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex::encode(hmac(&k_signing, string_to_sign.as_bytes()))
}

/// The `Authorization` header value for `input`.
pub fn authorization(
    input: &SignInput<'_>,
    credentials: &Credentials,
    time: &AmzTime,
    region: &str,
    service: &str,
) -> String {
    let canonical = canonical_request(input);
    let to_sign = string_to_sign(&canonical, time, region, service);
    let signature = signature(&credentials.secret_key, time, region, service, &to_sign);
    let (_, signed) = canonical_headers(input.headers);
    format!(
        "{ALGORITHM} Credential={}/{},SignedHeaders={signed},Signature={signature}",
        credentials.access_key,
        scope(time, region, service)
    )
}

/// An S3 endpoint: `http(s)://host[:port]`, no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    https: bool,
    authority: String,
}

impl Endpoint {
    pub fn parse(value: &str) -> Result<Self, Error> {
        let invalid = || {
            config::invalid(
                "s3_endpoint",
                "expected http(s)://host[:port] without a path",
            )
        };
        let (https, rest) = if let Some(rest) = value.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = value.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(invalid());
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let ok = !authority.is_empty()
            && authority.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !ok {
            return Err(invalid());
        }
        Ok(Self {
            https,
            authority: authority.to_ascii_lowercase(),
        })
    }

    /// `host[:port]`, also the signed `host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The URL of `path` (already encoded, starting with `/`).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.authority)
    }
}

/// The S3 settings of a component (variables `s3_endpoint`, `s3_region`,
/// `s3_bucket`, `s3_access_key`, `s3_secret_key`).
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: Endpoint,
    pub region: String,
    pub bucket: String,
    pub credentials: Credentials,
}

impl S3Settings {
    pub fn load(source: &dyn Source) -> Result<Self, Error> {
        let endpoint = Endpoint::parse(&config::non_empty(source, "s3_endpoint")?)?;
        let region = config::non_empty(source, "s3_region")?;
        let bucket = config::non_empty(source, "s3_bucket")?;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'));
        if !bucket_ok {
            return Err(config::invalid(
                "s3_bucket",
                "expected 3-63 of a-z, 0-9, '.', '-'",
            ));
        }
        Ok(Self {
            endpoint,
            region,
            bucket,
            credentials: Credentials {
                access_key: config::non_empty(source, "s3_access_key")?,
                secret_key: source.secret("s3_secret_key")?,
            },
        })
    }
}

/// A request ready to send: method, URL and headers (with `Authorization`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub method: &'static str,
    pub url: String,
    /// Headers to send; `host` is left out (the HTTP host sets it from the URL).
    pub headers: Vec<(String, String)>,
}

/// A signed `HEAD /<bucket>` (does the bucket exist and may we use it?).
pub fn head_bucket_request(settings: &S3Settings, time: &AmzTime) -> SignedRequest {
    let path = format!("/{}", uri_encode(&settings.bucket, false));
    let headers = [
        ("host", settings.endpoint.authority()),
        ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
        ("x-amz-date", time.date_time()),
    ];
    let input = SignInput {
        method: "HEAD",
        path: &path,
        query: &[],
        headers: &headers,
        payload_hash: EMPTY_PAYLOAD_SHA256,
    };
    let authorization = authorization(&input, &settings.credentials, time, &settings.region, "s3");
    SignedRequest {
        method: "HEAD",
        url: settings.endpoint.url(&path),
        headers: vec![
            ("x-amz-content-sha256".into(), EMPTY_PAYLOAD_SHA256.into()),
            ("x-amz-date".into(), time.date_time().into()),
            ("authorization".into(), authorization),
        ],
    }
}

/// Why an S3 request failed, in generic words safe for a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Failure {
    /// No connection: refused, not allowed, DNS.
    Unreachable,
    /// No answer in time.
    Timeout,
    /// 403: the credentials or the signature were refused.
    AccessDenied,
    /// 404: no such bucket.
    NotFound,
    /// Any other status.
    Status(u16),
}

impl S3Failure {
    pub fn from_status(status: u16) -> Option<Self> {
        match status {
            200..=299 => None,
            403 => Some(Self::AccessDenied),
            404 => Some(Self::NotFound),
            other => Some(Self::Status(other)),
        }
    }

    /// A short reason without hosts or URLs.
    pub fn reason(&self) -> String {
        match self {
            Self::Unreachable => "connection failed".into(),
            Self::Timeout => "timeout".into(),
            Self::AccessDenied => "access denied".into(),
            Self::NotFound => "bucket not found".into(),
            Self::Status(status) => format!("unexpected status {status}"),
        }
    }
}

impl From<S3Failure> for Error {
    fn from(_: S3Failure) -> Self {
        Error::ServiceUnavailable("object store unavailable".into())
    }
}

/// How long [`head_bucket`] waits for an answer.
pub const HEAD_BUCKET_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Sends a signed `HEAD /<bucket>`; `Ok` when the store answers 2xx within
/// [`HEAD_BUCKET_TIMEOUT`].
#[cfg(target_arch = "wasm32")]
pub async fn head_bucket(settings: &S3Settings) -> Result<(), S3Failure> {
    let signed = head_bucket_request(settings, &AmzTime::now());
    let mut request = spin_sdk::http::Request::builder();
    request.method(spin_sdk::http::Method::Head).uri(signed.url);
    for (name, value) in signed.headers {
        request.header(name, value);
    }
    let sent =
        crate::task::timeout(HEAD_BUCKET_TIMEOUT, spin_sdk::http::send(request.build())).await;
    let response: spin_sdk::http::Response = match sent {
        Ok(Ok(response)) => response,
        Err(crate::task::Elapsed) => {
            crate::log::warn(format_args!(
                "s3: head bucket timed out after {HEAD_BUCKET_TIMEOUT:?}"
            ));
            return Err(S3Failure::Timeout);
        }
        Ok(Err(err)) => {
            crate::log::warn(format_args!(
                "s3: head bucket failed: {}",
                crate::log::redact(&err.to_string())
            ));
            return Err(S3Failure::Unreachable);
        }
    };
    match S3Failure::from_status(*response.status()) {
        None => Ok(()),
        Some(failure) => {
            crate::log::warn(format_args!(
                "s3: head bucket answered {}",
                response.status()
            ));
            Err(failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapSource;

    // The "GET Object" example of the AWS SigV4 documentation for S3
    // (Authenticating Requests: Using the Authorization Header).
    const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const EXAMPLE_HEADERS: [(&str, &str); 4] = [
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("Range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
        ("x-amz-date", "20130524T000000Z"),
    ];

    fn example_input() -> SignInput<'static> {
        SignInput {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &EXAMPLE_HEADERS,
            payload_hash: EMPTY_PAYLOAD_SHA256,
        }
    }

    #[test]
    fn aws_get_object_example() {
        let time = AmzTime::from_unix(1_369_353_600);
        assert_eq!(time.date_time(), "20130524T000000Z");
        let canonical = canonical_request(&example_input());
        assert_eq!(
            canonical,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let to_sign = string_to_sign(&canonical, &time, "us-east-1", "s3");
        assert_eq!(
            to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        let secret = Secret::new(EXAMPLE_SECRET);
        assert_eq!(
            signature(&secret, &time, "us-east-1", "s3", &to_sign),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        let credentials = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: secret,
        };
        assert_eq!(
            authorization(&example_input(), &credentials, &time, "us-east-1", "s3"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn amz_time_table() {
        let cases = [
            (0, "19700101T000000Z", "epoch"),
            (951_868_799, "20000229T235959Z", "leap day 2000"),
            (1_795_763_304, "20261127T070824Z", "2026"),
            (4_107_542_400, "21000301T000000Z", "2100 is not a leap year"),
        ];
        for (secs, expected, case) in cases {
            let time = AmzTime::from_unix(secs);
            assert_eq!(time.date_time(), expected, "{case}");
            assert_eq!(time.date(), &expected[..8], "{case}");
        }
    }

    #[test]
    fn uri_encode_table() {
        let cases = [
            ("abc-_.~XYZ09", false, "abc-_.~XYZ09", "unreserved"),
            ("a b", false, "a%20b", "space"),
            ("a/b", false, "a%2Fb", "slash encoded"),
            ("a/b", true, "a/b", "slash kept in paths"),
            ("é", false, "%C3%A9", "utf-8 bytes"),
            ("a+b=c&d", false, "a%2Bb%3Dc%26d", "reserved"),
        ];
        for (input, keep, expected, case) in cases {
            assert_eq!(uri_encode(input, keep), expected, "{case}");
        }
    }

    #[test]
    fn canonical_query_is_encoded_and_sorted() {
        let input = SignInput {
            method: "GET",
            path: "/b",
            query: &[("prefix", "a b"), ("list-type", "2")],
            headers: &[("host", "h")],
            payload_hash: UNSIGNED_PAYLOAD,
        };
        let canonical = canonical_request(&input);
        assert_eq!(canonical.lines().nth(2), Some("list-type=2&prefix=a%20b"));
        assert!(canonical.ends_with("\nUNSIGNED-PAYLOAD"));
    }

    #[test]
    fn endpoint_table() {
        let cases = [
            (
                "http://127.0.0.1:9000",
                Some(("127.0.0.1:9000", "http://127.0.0.1:9000/b")),
                "local",
            ),
            (
                "https://s3.eu-west-1.amazonaws.com/",
                Some((
                    "s3.eu-west-1.amazonaws.com",
                    "https://s3.eu-west-1.amazonaws.com/b",
                )),
                "aws, trailing slash",
            ),
            ("ftp://h", None, "wrong scheme"),
            ("http://", None, "no host"),
            ("http://h/path", None, "path"),
            ("http://u:p@h", None, "credentials"),
            ("127.0.0.1:9000", None, "no scheme"),
        ];
        for (input, expected, case) in cases {
            let parsed = Endpoint::parse(input).ok();
            let got = parsed.as_ref().map(|e| (e.authority(), e.url("/b")));
            let got = got.as_ref().map(|(a, u)| (*a, u.as_str()));
            assert_eq!(got, expected, "{case}");
        }
    }

    fn settings() -> S3Settings {
        S3Settings::load(&MapSource::new(&[
            ("s3_endpoint", "http://127.0.0.1:9000"),
            ("s3_region", "us-east-1"),
            ("s3_bucket", "plinth"),
            ("s3_access_key", "AKIAIOSFODNN7EXAMPLE"),
            ("s3_secret_key", EXAMPLE_SECRET),
        ]))
        .unwrap()
    }

    #[test]
    fn settings_load_and_hide_the_secret() {
        let s = settings();
        assert_eq!(s.bucket, "plinth");
        assert!(
            !format!("{s:?}").contains(EXAMPLE_SECRET),
            "secret in Debug"
        );
        let bad = MapSource::new(&[
            ("s3_endpoint", "http://h"),
            ("s3_region", "r"),
            ("s3_bucket", "Bad_Bucket"),
            ("s3_access_key", "a"),
            ("s3_secret_key", "s"),
        ]);
        assert_eq!(S3Settings::load(&bad).unwrap_err().status(), 500);
    }

    #[test]
    fn head_bucket_request_is_signed_for_the_endpoint_host() {
        let time = AmzTime::from_unix(1_369_353_600);
        let request = head_bucket_request(&settings(), &time);
        assert_eq!(request.method, "HEAD");
        assert_eq!(request.url, "http://127.0.0.1:9000/plinth");
        assert!(
            request.headers.iter().all(|(n, _)| n != "host"),
            "host is set by the HTTP host"
        );
        let auth = &request
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap()
            .1;
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature="), "{auth}");
        // Same inputs, same signature: recompute it by hand.
        let headers = [
            ("host", "127.0.0.1:9000"),
            ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ];
        let input = SignInput {
            method: "HEAD",
            path: "/plinth",
            query: &[],
            headers: &headers,
            payload_hash: EMPTY_PAYLOAD_SHA256,
        };
        assert_eq!(
            auth,
            &authorization(&input, &settings().credentials, &time, "us-east-1", "s3")
        );
    }

    #[test]
    fn failures_from_status() {
        let cases = [
            (200, None, "ok"),
            (204, None, "no content"),
            (403, Some("access denied"), "forbidden"),
            (404, Some("bucket not found"), "missing"),
            (500, Some("unexpected status 500"), "server error"),
        ];
        for (status, reason, case) in cases {
            assert_eq!(
                S3Failure::from_status(status)
                    .map(|f| f.reason())
                    .as_deref(),
                reason,
                "{case}"
            );
        }
        assert_eq!(Error::from(S3Failure::Unreachable).status(), 503);
    }
}
