//! S3 access: AWS Signature Version 4 (pure, unit-tested against the AWS
//! documented examples): signed requests ([`sign_request`]), presigned URLs
//! (query authentication, [`presigned_url`]) and the `ListObjectsV2`
//! answer ([`parse_list_objects`]); and, in a component, over Spin's
//! outbound HTTP: [`head_bucket`], [`head_object`], [`delete_object`],
//! [`list_objects`] and [`put_object_stream`], a `PUT` whose body is
//! streamed chunk by chunk (unsigned payload, exact `Content-Length`).
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
    sign_request(settings, "HEAD", &path, &[], EMPTY_PAYLOAD_SHA256, time)
}

/// The wire path of object `key` in the bucket: `/<bucket>/<key>`, the key
/// URI-encoded with its `/` kept.
pub fn object_path(settings: &S3Settings, key: &str) -> String {
    format!(
        "/{}/{}",
        uri_encode(&settings.bucket, false),
        uri_encode(key, true)
    )
}

/// A request signed with an `Authorization` header. `path` is already
/// encoded; `query` is not. The payload is `payload_hash` (the hex SHA-256
/// of the body, or [`UNSIGNED_PAYLOAD`] for a streamed body).
pub fn sign_request(
    settings: &S3Settings,
    method: &'static str,
    path: &str,
    query: &[(&str, &str)],
    payload_hash: &str,
    time: &AmzTime,
) -> SignedRequest {
    let headers = [
        ("host", settings.endpoint.authority()),
        ("x-amz-content-sha256", payload_hash),
        ("x-amz-date", time.date_time()),
    ];
    let input = SignInput {
        method,
        path,
        query,
        headers: &headers,
        payload_hash,
    };
    let authorization = authorization(&input, &settings.credentials, time, &settings.region, "s3");
    SignedRequest {
        method,
        url: settings.endpoint.url(&with_query(path, query)),
        headers: vec![
            ("x-amz-content-sha256".into(), payload_hash.into()),
            ("x-amz-date".into(), time.date_time().into()),
            ("authorization".into(), authorization),
        ],
    }
}

/// `path?k=v&…` with the query encoded as SigV4 encodes it (so the server
/// rebuilds the same canonical query).
fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let query = query
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{path}?{query}")
}

/// The longest validity SigV4 allows a presigned URL: 7 days.
pub const MAX_PRESIGN_SECONDS: u64 = 604_800;

/// A presigned URL (SigV4 query authentication) for `method` on object
/// `key`, valid for `expires` seconds from `time`. Only `host` is signed, and
/// the payload is unsigned, so any client can send it as is. `extra` are
/// more query parameters covered by the signature (on a GET,
/// `response-content-disposition` and `response-content-type`, which make
/// the store answer with those headers).
pub fn presigned_url(
    settings: &S3Settings,
    method: &str,
    key: &str,
    extra: &[(&str, &str)],
    expires: u64,
    time: &AmzTime,
) -> String {
    let path = object_path(settings, key);
    let query = presign_query(
        &Presign {
            credentials: &settings.credentials,
            region: &settings.region,
            host: settings.endpoint.authority(),
            method,
            path: &path,
            extra,
            expires,
        },
        time,
    );
    settings.endpoint.url(&format!("{path}?{query}"))
}

/// What a presigned request covers.
#[derive(Debug, Clone)]
pub struct Presign<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    /// The signed `host` header: the authority of the URL.
    pub host: &'a str,
    pub method: &'a str,
    /// The path as it goes on the wire, already URI-encoded.
    pub path: &'a str,
    /// More query parameters, not encoded.
    pub extra: &'a [(&'a str, &'a str)],
    /// Seconds of validity, 1 to [`MAX_PRESIGN_SECONDS`].
    pub expires: u64,
}

/// The encoded query string of a presigned request, `X-Amz-Signature` last.
pub fn presign_query(presign: &Presign<'_>, time: &AmzTime) -> String {
    let credential = format!(
        "{}/{}",
        presign.credentials.access_key,
        scope(time, presign.region, "s3")
    );
    let expires = presign.expires.clamp(1, MAX_PRESIGN_SECONDS).to_string();
    let mut query: Vec<(&str, &str)> = vec![
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", &credential),
        ("X-Amz-Date", time.date_time()),
        ("X-Amz-Expires", &expires),
        ("X-Amz-SignedHeaders", "host"),
    ];
    query.extend_from_slice(presign.extra);
    let headers = [("host", presign.host)];
    let input = SignInput {
        method: presign.method,
        path: presign.path,
        query: &query,
        headers: &headers,
        payload_hash: UNSIGNED_PAYLOAD,
    };
    let canonical = canonical_request(&input);
    let to_sign = string_to_sign(&canonical, time, presign.region, "s3");
    let signature = signature(
        &presign.credentials.secret_key,
        time,
        presign.region,
        "s3",
        &to_sign,
    );
    let mut encoded = with_query("", &query);
    encoded.remove(0); // the `?`
    format!("{encoded}&X-Amz-Signature={signature}")
}

/// One object of a `ListObjectsV2` page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    /// `LastModified` as the store wrote it (ISO 8601, UTC).
    pub last_modified: String,
}

/// A page of `ListObjectsV2`: its objects and the token of the next page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    pub next: Option<String>,
}

/// The query of a `ListObjectsV2` request under `prefix`.
pub fn list_query<'a>(prefix: &'a str, continuation: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut query = vec![("list-type", "2"), ("prefix", prefix)];
    if let Some(token) = continuation {
        query.push(("continuation-token", token));
    }
    query
}

/// Reads a `ListObjectsV2` answer. Only the elements it needs are looked at
/// (`Contents/Key`, `Contents/LastModified`, `IsTruncated`,
/// `NextContinuationToken`); the store's XML has no attributes on them.
pub fn parse_list_objects(xml: &str) -> ListPage {
    let mut objects = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Contents>") {
        let after = &rest[start + "<Contents>".len()..];
        let end = after.find("</Contents>").unwrap_or(after.len());
        let contents = &after[..end];
        if let Some(key) = element(contents, "Key") {
            objects.push(ListedObject {
                key: xml_unescape(key),
                last_modified: element(contents, "LastModified")
                    .map(xml_unescape)
                    .unwrap_or_default(),
            });
        }
        rest = &after[end..];
    }
    let truncated = element(xml, "IsTruncated") == Some("true");
    let next = element(xml, "NextContinuationToken")
        .filter(|_| truncated)
        .map(xml_unescape);
    ListPage { objects, next }
}

fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(&xml[start..start + len])
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
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

/// How long an object request (HEAD, DELETE, a list page) waits for an answer.
pub const OBJECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a streamed `PUT` waits for the store's answer once the whole
/// body has been sent.
pub const PUT_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Sends a signed request with an empty body; the answer (any status) within
/// `limit`, else why not. `what` names the operation in log lines.
#[cfg(target_arch = "wasm32")]
async fn send_signed(
    signed: SignedRequest,
    limit: std::time::Duration,
    what: &str,
) -> Result<spin_sdk::http::Response, S3Failure> {
    use spin_sdk::http::Method;
    let method = match signed.method {
        "HEAD" => Method::Head,
        "DELETE" => Method::Delete,
        "PUT" => Method::Put,
        "POST" => Method::Post,
        _ => Method::Get,
    };
    let mut request = spin_sdk::http::Request::builder();
    request.method(method).uri(signed.url);
    for (name, value) in signed.headers {
        request.header(name, value);
    }
    // An empty body still goes out chunked without a length, which the
    // store refuses for DELETE (411 Length Required).
    request.header("content-length", "0");
    match crate::task::timeout(limit, spin_sdk::http::send(request.build())).await {
        Ok(Ok(response)) => Ok(response),
        Err(crate::task::Elapsed) => {
            crate::log::warn(format_args!("s3: {what} timed out after {limit:?}"));
            Err(S3Failure::Timeout)
        }
        Ok(Err(err)) => {
            crate::log::warn(format_args!(
                "s3: {what} failed: {}",
                crate::log::redact(&err.to_string())
            ));
            Err(S3Failure::Unreachable)
        }
    }
}

/// The failure for an unexpected status, logged.
#[cfg(target_arch = "wasm32")]
fn status_failure(what: &str, status: u16) -> S3Failure {
    crate::log::warn(format_args!("s3: {what} answered {status}"));
    S3Failure::from_status(status).unwrap_or(S3Failure::Status(status))
}

/// Sends a signed `HEAD /<bucket>`; `Ok` when the store answers 2xx within
/// [`HEAD_BUCKET_TIMEOUT`].
#[cfg(target_arch = "wasm32")]
pub async fn head_bucket(settings: &S3Settings) -> Result<(), S3Failure> {
    let signed = head_bucket_request(settings, &AmzTime::now());
    let response = send_signed(signed, HEAD_BUCKET_TIMEOUT, "head bucket").await?;
    match *response.status() {
        200..=299 => Ok(()),
        other => Err(status_failure("head bucket", other)),
    }
}

/// The size of object `key`, `None` when there is no such object.
#[cfg(target_arch = "wasm32")]
pub async fn head_object(settings: &S3Settings, key: &str) -> Result<Option<u64>, S3Failure> {
    let path = object_path(settings, key);
    let signed = sign_request(
        settings,
        "HEAD",
        &path,
        &[],
        EMPTY_PAYLOAD_SHA256,
        &AmzTime::now(),
    );
    let response = send_signed(signed, OBJECT_TIMEOUT, "head object").await?;
    match *response.status() {
        200..=299 => response
            .header("content-length")
            .and_then(|v| v.as_str())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| status_failure("head object without a length", 200)),
        404 => Ok(None),
        other => Err(status_failure("head object", other)),
    }
}

/// Deletes object `key`; a missing object counts as deleted (S3 answers 204
/// either way).
#[cfg(target_arch = "wasm32")]
pub async fn delete_object(settings: &S3Settings, key: &str) -> Result<(), S3Failure> {
    let path = object_path(settings, key);
    let signed = sign_request(
        settings,
        "DELETE",
        &path,
        &[],
        EMPTY_PAYLOAD_SHA256,
        &AmzTime::now(),
    );
    let response = send_signed(signed, OBJECT_TIMEOUT, "delete object").await?;
    match *response.status() {
        200..=299 | 404 => Ok(()),
        other => Err(status_failure("delete object", other)),
    }
}

/// One page (up to 1,000 keys) of `ListObjectsV2` under `prefix`.
#[cfg(target_arch = "wasm32")]
pub async fn list_objects(
    settings: &S3Settings,
    prefix: &str,
    continuation: Option<&str>,
) -> Result<ListPage, S3Failure> {
    let path = format!("/{}", uri_encode(&settings.bucket, false));
    let query = list_query(prefix, continuation);
    let signed = sign_request(
        settings,
        "GET",
        &path,
        &query,
        EMPTY_PAYLOAD_SHA256,
        &AmzTime::now(),
    );
    let response = send_signed(signed, OBJECT_TIMEOUT, "list objects").await?;
    match *response.status() {
        200..=299 => Ok(parse_list_objects(&String::from_utf8_lossy(
            response.body(),
        ))),
        other => Err(status_failure("list objects", other)),
    }
}

/// What a streamed `PUT` is: the object, its length (sent as
/// `Content-Length`, so the host refuses a body of any other length) and
/// the headers the store keeps with it.
#[derive(Debug, Clone)]
pub struct PutObject<'a> {
    pub key: &'a str,
    pub length: u64,
    pub content_type: &'a str,
    pub content_disposition: &'a str,
}

/// Why a streamed `PUT` did not store the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutFailure {
    /// The body source failed (the client's upload was cut short or
    /// malformed); the request to the store was abandoned unfinished, so
    /// nothing was stored.
    Body(Error),
    /// The store failed or refused.
    Store(S3Failure),
}

/// Streams `body` (chunks of the object, `length` bytes in all) into
/// object `put.key` with one `PUT` whose payload is unsigned (SigV4
/// `UNSIGNED-PAYLOAD`): no chunk is held longer than it takes to write it.
///
/// The request is sent before the first chunk is read, and its answer is
/// watched while the body is written: a store that refuses or drops the
/// connection early ends the upload at once. A body error abandons the
/// request with fewer bytes than announced, which the host turns into a
/// failed request, so the store keeps nothing.
#[cfg(target_arch = "wasm32")]
pub async fn put_object_stream<S>(
    settings: &S3Settings,
    put: &PutObject<'_>,
    body: S,
) -> Result<(), PutFailure>
where
    S: futures_util::Stream<Item = Result<Vec<u8>, Error>>,
{
    use futures_util::future::{Either, select};
    use futures_util::{SinkExt, StreamExt};
    use spin_sdk::http::{Fields, IncomingResponse, OutgoingRequest, Scheme};

    let path = object_path(settings, put.key);
    let signed = sign_request(
        settings,
        "PUT",
        &path,
        &[],
        UNSIGNED_PAYLOAD,
        &AmzTime::now(),
    );
    let length = put.length.to_string();
    let mut headers: Vec<(String, Vec<u8>)> = signed
        .headers
        .into_iter()
        .map(|(name, value)| (name, value.into_bytes()))
        .collect();
    headers.push(("content-length".into(), length.into_bytes()));
    headers.push(("content-type".into(), put.content_type.as_bytes().to_vec()));
    headers.push((
        "content-disposition".into(),
        put.content_disposition.as_bytes().to_vec(),
    ));
    let fields = Fields::from_list(&headers).map_err(|err| {
        PutFailure::Body(Error::internal(format!("object request headers: {err:?}")))
    })?;
    let request = OutgoingRequest::new(fields);
    let set = request
        .set_method(&spin_sdk::http::Method::Put)
        .and(request.set_scheme(Some(&if settings.endpoint.https {
            Scheme::Https
        } else {
            Scheme::Http
        })))
        .and(request.set_authority(Some(settings.endpoint.authority())))
        .and(request.set_path_with_query(Some(&path)));
    if set.is_err() {
        return Err(PutFailure::Body(Error::internal(
            "object request URL parts refused",
        )));
    }
    let mut sink = request.take_body();
    let answer = Box::pin(spin_sdk::http::send::<_, IncomingResponse>(request));
    let write = Box::pin(async move {
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(PutFailure::Body)?;
            if chunk.is_empty() {
                continue;
            }
            sink.send(chunk).await.map_err(|err| {
                crate::log::warn(format_args!("s3: put object body: {err:?}"));
                PutFailure::Store(S3Failure::Unreachable)
            })?;
        }
        // Dropping the sink finishes the body.
        drop(sink);
        Ok::<(), PutFailure>(())
    });
    let response = match select(answer, write).await {
        // The store answered before the writer noticed the body's end: a
        // 2xx once it had every byte (the writer then only has to finish),
        // else a refusal or a failed connection.
        Either::Left((Ok(response), unfinished)) if (200..300).contains(&response.status()) => {
            return unfinished.await;
        }
        Either::Left((answer, _unfinished)) => {
            return Err(PutFailure::Store(match answer {
                Ok(response) => status_failure("put object (early)", response.status()),
                Err(err) => {
                    crate::log::warn(format_args!(
                        "s3: put object failed: {}",
                        crate::log::redact(&err.to_string())
                    ));
                    S3Failure::Unreachable
                }
            }));
        }
        Either::Right((written, answer)) => {
            written?;
            match crate::task::timeout(PUT_ANSWER_TIMEOUT, answer).await {
                Ok(Ok(response)) => response,
                Ok(Err(err)) => {
                    crate::log::warn(format_args!(
                        "s3: put object failed: {}",
                        crate::log::redact(&err.to_string())
                    ));
                    return Err(PutFailure::Store(S3Failure::Unreachable));
                }
                Err(crate::task::Elapsed) => return Err(PutFailure::Store(S3Failure::Timeout)),
            }
        }
    };
    match response.status() {
        200..=299 => Ok(()),
        other => Err(PutFailure::Store(status_failure("put object", other))),
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
    fn aws_presigned_url_example() {
        // "Query String Request Authentication" example of the AWS SigV4
        // documentation for S3: GET /test.txt, valid 86400 s.
        let credentials = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: Secret::new(EXAMPLE_SECRET),
        };
        let query = presign_query(
            &Presign {
                credentials: &credentials,
                region: "us-east-1",
                host: "examplebucket.s3.amazonaws.com",
                method: "GET",
                path: "/test.txt",
                extra: &[],
                expires: 86_400,
            },
            &AmzTime::from_unix(1_369_353_600),
        );
        assert_eq!(
            query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn presigned_object_url_is_path_style_and_signs_extras() {
        let time = AmzTime::from_unix(1_369_353_600);
        let url = presigned_url(
            &settings(),
            "GET",
            "orgs/o/files/f",
            &[(
                "response-content-disposition",
                "attachment; filename=\"a b\"",
            )],
            300,
            &time,
        );
        assert!(
            url.starts_with("http://127.0.0.1:9000/plinth/orgs/o/files/f?X-Amz-Algorithm="),
            "{url}"
        );
        assert!(url.contains("&X-Amz-Expires=300&"), "{url}");
        assert!(
            url.contains("response-content-disposition=attachment%3B%20filename%3D%22a%20b%22"),
            "{url}"
        );
        let other = presigned_url(&settings(), "PUT", "orgs/o/files/f", &[], 300, &time);
        let sig = |u: &str| u.rsplit("X-Amz-Signature=").next().unwrap().to_owned();
        assert_ne!(sig(&url), sig(&other), "method and extras are signed");
        let long = presigned_url(&settings(), "GET", "k", &[], u64::MAX, &time);
        assert!(long.contains("X-Amz-Expires=604800"), "capped at 7 days");
    }

    #[test]
    fn object_requests_encode_the_key_and_the_query() {
        let time = AmzTime::from_unix(1_369_353_600);
        let s = settings();
        assert_eq!(object_path(&s, "orgs/a b/f"), "/plinth/orgs/a%20b/f");
        let list = sign_request(
            &s,
            "GET",
            "/plinth",
            &list_query("orgs/", Some("t+1")),
            EMPTY_PAYLOAD_SHA256,
            &time,
        );
        assert_eq!(
            list.url,
            "http://127.0.0.1:9000/plinth?list-type=2&prefix=orgs%2F&continuation-token=t%2B1"
        );
    }

    #[test]
    fn list_objects_answer() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>plinth</Name>
            <Contents><Key>orgs/a/files/1</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><Size>3</Size></Contents>
            <Contents><Key>orgs/a/files/a&amp;b</Key><LastModified>2026-01-02T00:00:00.000Z</LastModified></Contents>
            <IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;1</NextContinuationToken></ListBucketResult>"#;
        let page = parse_list_objects(xml);
        assert_eq!(page.objects.len(), 2);
        assert_eq!(page.objects[0].key, "orgs/a/files/1");
        assert_eq!(page.objects[0].last_modified, "2026-01-01T00:00:00.000Z");
        assert_eq!(page.objects[1].key, "orgs/a/files/a&b");
        assert_eq!(page.next.as_deref(), Some("tok&1"));
        let last = parse_list_objects(
            "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
        );
        assert_eq!(last, ListPage::default());
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
