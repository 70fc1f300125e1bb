//! Files end to end, against the real S3 server (s3s-fs): byte-identical
//! round trips (empty, binary, at the size limit), multipart and raw
//! uploads, presigned upload and download (and their expiry), another
//! org's file id answering 404 on every route, hostile names, quotas and
//! the content-type allow-list, and an S3 outage (the test's own s3s-fs):
//! uploads answer 503 and record nothing, and after the restart the sweep
//! finishes the interrupted delete, the expired upload and the orphan.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    REQUEST_TIMEOUT, Response, TestApp, admin_token, app, app_db, eventually, manifest, repo_root,
    request, service, track_child, unique, untrack_child,
};
use crate::identity::Tenant;

/// `files_max_upload_bytes` of the root spin.toml.
const LIMIT: usize = 10 * 1024 * 1024;

impl TestApp {
    /// `method path` with `access` as bearer, extra headers and a raw body.
    fn send_bytes_as(
        &self,
        method: &str,
        path: &str,
        access: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let auth = format!("Bearer {access}");
        let mut all = vec![("authorization", auth.as_str())];
        all.extend_from_slice(headers);
        self.request(method, path, &all, body)
    }

    /// `POST /v1/files?name=…` with the raw bytes.
    fn upload_raw(&self, access: &str, name: &str, content_type: &str, body: &[u8]) -> Response {
        let path = format!("/v1/files?name={}", encode(name));
        self.send_bytes_as(
            "POST",
            &path,
            access,
            &[("content-type", content_type)],
            body,
        )
    }

    /// [`TestApp::upload_raw`] that must succeed: the file's JSON.
    fn upload_ok(&self, access: &str, name: &str, content_type: &str, body: &[u8]) -> Value {
        let resp = self.upload_raw(access, name, content_type, body);
        assert_eq!(
            resp.status,
            201,
            "upload {name}: {}\n{}",
            resp.text(),
            s3_log_lines(self)
        );
        resp.json()
    }

    /// `POST /v1/files` with one multipart file part.
    fn upload_multipart(
        &self,
        access: &str,
        disposition: &str,
        content_type: &str,
        data: &[u8],
    ) -> Response {
        let boundary = "----plinth-e2e-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; {disposition}\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        self.send_bytes_as("POST", "/v1/files", access, &[("content-type", &ct)], &body)
    }

    fn sweep(&self) -> Response {
        let auth = format!("Bearer {}", admin_token());
        self.request(
            "POST",
            "/v1/files/admin/sweep",
            &[("authorization", &auth)],
            b"",
        )
    }
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Sends `method` to an absolute `http://host:port/…` URL (a presigned one).
fn fetch(url: &str, method: &str, body: &[u8]) -> Response {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, target) = rest.split_at(rest.find('/').expect("a path"));
    let addr: SocketAddr = authority.parse().expect("host:port");
    request(addr, method, target, &[], body, REQUEST_TIMEOUT).expect("presigned request")
}

/// The file's bytes, through `GET /v1/files/{id}/content` and its redirect.
fn download(app: &TestApp, access: &str, id: &str) -> Response {
    let resp = app.send_bytes_as("GET", &format!("/v1/files/{id}/content"), access, &[], b"");
    assert_eq!(resp.status, 302, "content: {}", resp.text());
    let location = resp.header("location").expect("a Location").to_owned();
    fetch(&location, "GET", b"")
}

fn rows_of(org_id: &str) -> i64 {
    app_db()
        .query_one(
            "SELECT count(*) FROM files WHERE org_id = $1::text::uuid",
            &[&org_id],
        )
        .expect("count files")
        .get(0)
}

fn problem_field(resp: &Response) -> String {
    let body = resp.json();
    body["errors"][0]["field"]
        .as_str()
        .or(body["field"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The host's log lines about the store, for a failure message.
fn s3_log_lines(app: &TestApp) -> String {
    app.logs()
        .lines()
        .filter(|l| l.contains("[files]"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn uploads_round_trip_byte_for_byte() {
    let app = app();
    let t = app.new_tenant();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.bin", Vec::new()),
        ("abc.txt", b"abc".to_vec()),
        ("binary.bin", binary(300_000)),
        ("limit.bin", binary(LIMIT)),
    ];
    for (name, data) in &cases {
        let resp = app.upload_raw(&t.access, name, "application/octet-stream", data);
        assert_eq!(
            resp.status,
            201,
            "{name}: {}\n{}",
            resp.text(),
            s3_log_lines(app)
        );
        let file = resp.json();
        assert_eq!(file["name"], *name);
        assert_eq!(file["size"], data.len());
        assert_eq!(file["content_type"], "application/octet-stream");
        assert!(file["created_at"].is_string());
        let sha = file["sha256"].as_str().unwrap();
        assert_eq!(sha.len(), 64, "{name}");
        let got = download(app, &t.access, file["id"].as_str().unwrap());
        assert_eq!(got.status, 200, "{name}");
        assert!(
            got.body == *data,
            "{name}: {} bytes back, {} sent",
            got.body.len(),
            data.len()
        );
    }
    // Known digests: the file's bytes were hashed as they passed.
    let (_, empty) = &cases[0];
    assert!(empty.is_empty());
    let listed = app
        .send_bytes_as("GET", "/v1/files?limit=200", &t.access, &[], b"")
        .json();
    let sha_of = |name: &str| {
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["sha256"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        sha_of("empty.bin").as_deref(),
        Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(
        sha_of("abc.txt").as_deref(),
        Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );

    // One byte over the limit: 413, nothing stored.
    let before = rows_of(&t.org_id);
    let resp = app.upload_raw(
        &t.access,
        "over.bin",
        "application/octet-stream",
        &binary(LIMIT + 1),
    );
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(rows_of(&t.org_id), before, "no row for the refused upload");
    let over = app.upload_multipart(
        &t.access,
        "filename=\"over.bin\"",
        "application/octet-stream",
        &binary(LIMIT + 1),
    );
    assert_eq!(over.status, 413, "multipart: {}", over.text());
    assert_eq!(rows_of(&t.org_id), before);
}

#[test]
fn multipart_uploads_keep_name_type_and_bytes() {
    let app = app();
    let t = app.new_tenant();
    let data = binary(70_000);
    let resp = app.upload_multipart(
        &t.access,
        "filename=\"report 2026.pdf\"",
        "application/pdf",
        &data,
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let file = resp.json();
    assert_eq!(file["name"], "report 2026.pdf");
    assert_eq!(file["content_type"], "application/pdf");
    assert_eq!(file["size"], data.len());
    let id = file["id"].as_str().unwrap();
    let got = download(app, &t.access, id);
    assert!(got.body == data, "multipart bytes differ");
    // The store answers with a safe Content-Disposition (RFC 6266 + 5987).
    let disposition = got
        .header("content-disposition")
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.starts_with(
            "attachment; filename=\"report 2026.pdf\"; filename*=UTF-8''report%202026.pdf"
        ),
        "{disposition}"
    );
    let meta = app
        .send_bytes_as("GET", &format!("/v1/files/{id}"), &t.access, &[], b"")
        .json();
    assert_eq!(meta["id"], id);
    assert!(
        meta["download_url"]
            .as_str()
            .unwrap()
            .contains("X-Amz-Signature=")
    );
    assert!(
        meta["download_url"]
            .as_str()
            .unwrap()
            .contains("response-content-disposition=")
    );

    // Bad input: 4xx problems naming the field, and no row.
    let before = rows_of(&t.org_id);
    let no_file = {
        let boundary = "b";
        let body = b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n";
        let ct = format!("multipart/form-data; boundary={boundary}");
        app.send_bytes_as(
            "POST",
            "/v1/files",
            &t.access,
            &[("content-type", &ct)],
            body,
        )
    };
    assert_eq!(no_file.status, 400, "{}", no_file.text());
    assert_eq!(problem_field(&no_file), "body");
    let bad_end = {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\nabc\r\n--b--XX";
        app.send_bytes_as(
            "POST",
            "/v1/files",
            &t.access,
            &[("content-type", "multipart/form-data; boundary=b")],
            body,
        )
    };
    assert_eq!(bad_end.status, 400, "{}", bad_end.text());
    let no_name = app.send_bytes_as(
        "POST",
        "/v1/files",
        &t.access,
        &[("content-type", "text/plain")],
        b"x",
    );
    assert_eq!(no_name.status, 422, "{}", no_name.text());
    assert_eq!(problem_field(&no_name), "name");
    let bad_type = app.upload_raw(&t.access, "a", "not a type", b"x");
    assert_eq!(bad_type.status, 422);
    assert_eq!(problem_field(&bad_type), "content_type");
    let bad_entity = app.send_bytes_as(
        "POST",
        "/v1/files?name=a&entity_type=user&entity_id=x",
        &t.access,
        &[("content-type", "text/plain")],
        b"x",
    );
    assert_eq!(bad_entity.status, 422);
    assert_eq!(problem_field(&bad_entity), "entity_type");
    assert_eq!(rows_of(&t.org_id), before, "no row for refused uploads");
    let unauthenticated = app.request(
        "POST",
        "/v1/files?name=a",
        &[("content-type", "text/plain")],
        b"x",
    );
    assert_eq!(unauthenticated.status, 401);
}

#[test]
fn hostile_names_are_stored_safely() {
    let app = app();
    let t = app.new_tenant();
    let long = "n".repeat(1000);
    let cases = [
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("a\u{0}b\r\nc\u{7}\u{1b}[31md.txt", "abc[31md.txt"),
        ("..\\..\\boot.ini", ".._.._boot.ini"),
    ];
    for (name, stored) in cases {
        let resp = app.upload_raw(&t.access, name, "text/plain", b"hostile");
        assert_eq!(resp.status, 201, "{name:?}: {}", resp.text());
        let file = resp.json();
        assert_eq!(file["name"], stored, "{name:?}");
        // The key is the ids only: the object sits where the ids say.
        let object = repo_root().join(format!(
            "target/dev/s3/data/{}/orgs/{}/files/{}",
            service("SPIN_VARIABLE_S3_BUCKET"),
            t.org_id,
            file["id"].as_str().unwrap()
        ));
        assert!(object.is_file(), "{}", object.display());
        let got = download(app, &t.access, file["id"].as_str().unwrap());
        let disposition = got.header("content-disposition").unwrap_or_default();
        assert!(
            !disposition.contains('/') && !disposition.contains('\\'),
            "{disposition}"
        );
    }
    let resp = app.upload_raw(&t.access, &long, "text/plain", b"long");
    assert_eq!(resp.status, 201);
    assert_eq!(resp.json()["name"].as_str().unwrap().chars().count(), 255);
    // Through multipart, the RFC 5987 form with control characters too.
    let resp = app.upload_multipart(
        &t.access,
        "filename=\"x\"; filename*=UTF-8''%2E%2E%2F%2E%2E%2Fetc%2Fpasswd%0A%00",
        "text/plain",
        b"m",
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["name"], ".._.._etc_passwd");
    let blank = app.upload_raw(&t.access, "\u{1}\u{2}", "text/plain", b"x");
    assert_eq!(blank.status, 422);
    assert_eq!(problem_field(&blank), "name");
}

#[test]
fn presigned_upload_becomes_visible_only_when_complete() {
    let app = app();
    let t = app.new_tenant();
    let data = binary(123_457);
    let resp = app.send_bytes_as(
        "POST",
        "/v1/files/uploads",
        &t.access,
        &[("content-type", "application/json")],
        json!({"name": "big.bin", "size": data.len(), "content_type": "application/octet-stream"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let created = resp.json();
    let id = created["file_id"].as_str().unwrap().to_owned();
    assert!(created["expires_at"].as_str().unwrap().ends_with('Z'));
    // Pending: not listed, 404, and complete refuses without an object.
    assert_eq!(
        app.send_bytes_as("GET", &format!("/v1/files/{id}"), &t.access, &[], b"")
            .status,
        404
    );
    let listed = app
        .send_bytes_as("GET", "/v1/files", &t.access, &[], b"")
        .json();
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["id"] != id.as_str())
    );
    let early = app.send_bytes_as(
        "POST",
        &format!("/v1/files/{id}/complete"),
        &t.access,
        &[],
        b"",
    );
    assert_eq!(early.status, 409, "{}", early.text());
    // A wrong size is refused; the right one completes.
    let url = created["upload_url"].as_str().unwrap();
    assert_eq!(fetch(url, "PUT", &data[..100]).status, 200);
    let wrong = app.send_bytes_as(
        "POST",
        &format!("/v1/files/{id}/complete"),
        &t.access,
        &[],
        b"",
    );
    assert_eq!(wrong.status, 409, "{}", wrong.text());
    assert_eq!(fetch(url, "PUT", &data).status, 200);
    let done = app.send_bytes_as(
        "POST",
        &format!("/v1/files/{id}/complete"),
        &t.access,
        &[],
        b"",
    );
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["size"], data.len());
    assert_eq!(download(app, &t.access, &id).body, data);
    let again = app.send_bytes_as(
        "POST",
        &format!("/v1/files/{id}/complete"),
        &t.access,
        &[],
        b"",
    );
    assert_eq!(again.status, 200, "completing twice is harmless");
    // A tampered presigned URL is refused by the store.
    let flipped = if id.ends_with('0') { "1" } else { "0" };
    let tampered = url.replace(&id, &format!("{}{flipped}", &id[..id.len() - 1]));
    assert_ne!(tampered, url);
    assert!(fetch(&tampered, "PUT", b"x").status >= 400);
    let bad = app.send_bytes_as(
        "POST",
        "/v1/files/uploads",
        &t.access,
        &[("content-type", "application/json")],
        br#"{"name":"a","size":-1,"content_type":"a/b"}"#,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(problem_field(&bad), "size");
}

#[test]
fn presigned_urls_stop_working_after_expiry() {
    app(); // migrations applied
    let short = TestApp::spawn_with(
        &manifest("spin.toml"),
        &[("SPIN_VARIABLE_FILES_PRESIGN_SECONDS", "2".to_owned())],
        &[],
    );
    let t = short.new_tenant();
    let file = short.upload_ok(&t.access, "soon.txt", "text/plain", b"gone soon");
    let meta = short
        .send_bytes_as(
            "GET",
            &format!("/v1/files/{}", file["id"].as_str().unwrap()),
            &t.access,
            &[],
            b"",
        )
        .json();
    let download_url = meta["download_url"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&download_url, "GET", b"").body, b"gone soon");
    let upload = short.send_bytes_as(
        "POST",
        "/v1/files/uploads",
        &t.access,
        &[("content-type", "application/json")],
        br#"{"name":"late.bin","size":4,"content_type":"application/octet-stream"}"#,
    );
    assert_eq!(upload.status, 201, "{}", upload.text());
    let upload = upload.json();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        fetch(&download_url, "GET", b"").status,
        403,
        "expired download"
    );
    assert_eq!(
        fetch(upload["upload_url"].as_str().unwrap(), "PUT", b"late").status,
        403,
        "expired upload"
    );
    let complete = short.send_bytes_as(
        "POST",
        &format!("/v1/files/{}/complete", upload["file_id"].as_str().unwrap()),
        &t.access,
        &[],
        b"",
    );
    // 409 (expired), or 404 when a concurrent test's sweep already removed it.
    assert!(
        matches!(complete.status, 404 | 409),
        "an expired upload cannot complete: {} {}",
        complete.status,
        complete.text()
    );
}

#[test]
fn another_orgs_file_is_not_found_on_every_route() {
    let app = app();
    let a = app.new_tenant();
    let b = app.new_tenant();
    let file = app.upload_ok(&a.access, "a.txt", "text/plain", b"org a");
    let id = file["id"].as_str().unwrap().to_owned();
    let pending = app
        .send_bytes_as(
            "POST",
            "/v1/files/uploads",
            &a.access,
            &[("content-type", "application/json")],
            br#"{"name":"p","size":1,"content_type":"text/plain"}"#,
        )
        .json();
    let pending_id = pending["file_id"].as_str().unwrap().to_owned();
    let routes = [
        ("GET", format!("/v1/files/{id}")),
        ("GET", format!("/v1/files/{id}/content")),
        ("POST", format!("/v1/files/{id}/complete")),
        ("POST", format!("/v1/files/{pending_id}/complete")),
        ("DELETE", format!("/v1/files/{id}")),
        ("DELETE", format!("/v1/files/{pending_id}")),
        ("GET", "/v1/files/not-a-uuid".to_owned()),
    ];
    for (method, path) in &routes {
        let resp = app.send_bytes_as(method, path, &b.access, &[], b"");
        assert_eq!(resp.status, 404, "{method} {path}: {}", resp.text());
        assert_eq!(
            resp.header("content-type"),
            Some("application/problem+json")
        );
    }
    let listed = app
        .send_bytes_as("GET", "/v1/files", &b.access, &[], b"")
        .json();
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");
    // A's file is unchanged.
    assert_eq!(download(app, &a.access, &id).body, b"org a");
    // And A deletes it: 204, then 404 and the object is gone.
    let meta = app
        .send_bytes_as("GET", &format!("/v1/files/{id}"), &a.access, &[], b"")
        .json();
    let deleted = app.send_bytes_as("DELETE", &format!("/v1/files/{id}"), &a.access, &[], b"");
    assert_eq!(
        deleted.status,
        204,
        "{}\n{}",
        deleted.text(),
        s3_log_lines(app)
    );
    assert_eq!(
        app.send_bytes_as("GET", &format!("/v1/files/{id}"), &a.access, &[], b"")
            .status,
        404
    );
    assert_eq!(
        fetch(meta["download_url"].as_str().unwrap(), "GET", b"").status,
        404,
        "object gone"
    );
    assert_eq!(rows_of(&a.org_id), 1, "only the pending upload is left");
}

#[test]
fn list_pages_and_filters_by_attachment() {
    let app = app();
    let t = app.new_tenant();
    let other = app.new_tenant();
    let made = app.send_as(
        "POST",
        "/v1/companies",
        &t.access,
        &[],
        Some(&serde_json::json!({ "name": unique("attach") })),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let company = made.json()["id"].as_str().unwrap().to_owned();
    let company = company.as_str();
    // Only an entity of the caller's own org can be attached: another org's
    // company is "no such company", and nothing is stored.
    for (access, id) in [
        (&other.access, company),
        (&t.access, "6ba7b810-9dad-41d1-80b4-00c04fd430c8"),
    ] {
        let path = format!("/v1/files?name=x.txt&entity_type=company&entity_id={id}");
        let refused = app.send_bytes_as(
            "POST",
            &path,
            access,
            &[("content-type", "text/plain")],
            b"x",
        );
        assert_eq!(refused.status, 422, "{}", refused.text());
        assert_eq!(problem_field(&refused), "entity_id");
    }
    assert_eq!(rows_of(&other.org_id), 0);
    for i in 0..3 {
        let path = format!("/v1/files?name=c{i}.txt&entity_type=company&entity_id={company}");
        let resp = app.send_bytes_as(
            "POST",
            &path,
            &t.access,
            &[("content-type", "text/plain")],
            b"c",
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        assert_eq!(resp.json()["entity_id"], company);
    }
    app.upload_raw(&t.access, "loose.txt", "text/plain", b"l");
    let first = app
        .send_bytes_as("GET", "/v1/files?limit=2", &t.access, &[], b"")
        .json();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["items"][0]["name"], "loose.txt", "newest first");
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .send_bytes_as(
            "GET",
            &format!("/v1/files?limit=2&cursor={cursor}"),
            &t.access,
            &[],
            b"",
        )
        .json();
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert!(second["next_cursor"].is_null());
    let filtered = app
        .send_bytes_as(
            "GET",
            &format!("/v1/files?entity_type=company&entity_id={company}"),
            &t.access,
            &[],
            b"",
        )
        .json();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 3);
    let bad = app.send_bytes_as("GET", "/v1/files?limit=0", &t.access, &[], b"");
    assert_eq!(bad.status, 422);
    assert_eq!(problem_field(&bad), "limit");
    let half = app.send_bytes_as("GET", "/v1/files?entity_type=company", &t.access, &[], b"");
    assert_eq!(half.status, 422);
    assert_eq!(problem_field(&half), "entity_id");
}

#[test]
fn quota_and_content_types_come_from_the_org_settings() {
    let app = app();
    let t = app.new_tenant();
    app_db()
        .execute(
            "UPDATE org SET settings_json = '{\"files\": {\"quota_bytes\": 100, \
             \"allowed_content_types\": [\"text/*\", \"application/pdf\"]}}' WHERE id = $1::text::uuid",
            &[&t.org_id],
        )
        .expect("set the org's file rules");
    assert_eq!(
        app.upload_raw(&t.access, "a.txt", "text/plain", &[b'a'; 60])
            .status,
        201
    );
    let over = app.upload_raw(&t.access, "b.txt", "text/plain", &[b'b'; 41]);
    assert_eq!(over.status, 409, "{}", over.text());
    let body = over.json();
    assert_eq!(
        (body["used"].as_u64(), body["limit"].as_u64()),
        (Some(60), Some(100))
    );
    assert_eq!(
        app.upload_raw(&t.access, "c.txt", "text/plain", &[b'c'; 40])
            .status,
        201,
        "exactly full"
    );
    let presigned = app.send_bytes_as(
        "POST",
        "/v1/files/uploads",
        &t.access,
        &[("content-type", "application/json")],
        br#"{"name":"p.pdf","size":1,"content_type":"application/pdf"}"#,
    );
    assert_eq!(presigned.status, 409, "{}", presigned.text());
    let image = app.upload_raw(&t.access, "i.png", "image/png", b"");
    assert_eq!(image.status, 422, "{}", image.text());
    assert_eq!(problem_field(&image), "content_type");
    assert_eq!(rows_of(&t.org_id), 2);

    // Concurrent uploads cannot both take the last room.
    let u = app.new_tenant();
    app_db()
        .execute(
            "UPDATE org SET settings_json = '{\"files\": {\"quota_bytes\": 1000}}' WHERE id = $1::text::uuid",
            &[&u.org_id],
        )
        .expect("set the quota");
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let access = u.access.clone();
                s.spawn(move || {
                    app.upload_raw(&access, &format!("r{i}"), "text/plain", &[b'r'; 400])
                        .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        2,
        "{statuses:?}"
    );
    let used: i64 = app_db()
        .query_one(
            "SELECT sum(size)::int8 FROM files WHERE org_id = $1::text::uuid",
            &[&u.org_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(used, 800);
}

/// An s3s-fs of the test's own (same credentials as the shared one) on a
/// port below the ephemeral range, with its bucket; killed on drop.
struct OwnS3 {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl OwnS3 {
    fn start(port: u16, dir: &Path) -> OwnS3 {
        let mut own = OwnS3 {
            child: None,
            port,
            dir: dir.to_owned(),
        };
        own.restart();
        own
    }

    fn restart(&mut self) {
        let data = self.dir.join("data");
        std::fs::create_dir_all(data.join(service("SPIN_VARIABLE_S3_BUCKET"))).expect("bucket dir");
        let bin = std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".cargo/bin/s3s-fs"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("s3s-fs"));
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", service("SPIN_VARIABLE_S3_ACCESS_KEY")])
            .args(["--secret-key", service("SPIN_VARIABLE_S3_SECRET_KEY")])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs (installed by `cargo xtask services`)");
        track_child(child.id());
        self.child = Some(child);
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        let up = eventually(Duration::from_secs(10), || {
            request(addr, "GET", "/", &[], b"", Duration::from_millis(500)).ok()
        });
        assert!(up.is_some(), "own s3s-fs on {} did not come up", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            untrack_child(child.id());
        }
    }

    fn object(&self, org: &str, id: &str) -> PathBuf {
        self.dir.join(format!(
            "data/{}/orgs/{org}/files/{id}",
            service("SPIN_VARIABLE_S3_BUCKET")
        ))
    }
}

impl Drop for OwnS3 {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free port between 30000 and 32000 (the ephemeral range starts at 32768).
fn free_low_port() -> u16 {
    let start = 30_000 + (std::process::id() % 2_000) as u16;
    (start..32_000)
        .chain(30_000..start)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port between 30000 and 32000")
}

#[test]
fn an_s3_outage_answers_503_records_nothing_and_the_sweep_cleans_up() {
    app(); // migrations applied
    let port = free_low_port();
    let dir = repo_root().join(format!("target/dev/e2e-s3-{}", unique("files")));
    let mut s3 = OwnS3::start(port, &dir);
    let own = TestApp::spawn_with(
        &manifest("spin.toml"),
        &[
            (
                "SPIN_VARIABLE_S3_ENDPOINT",
                format!("http://127.0.0.1:{port}"),
            ),
            ("SPIN_VARIABLE_FILES_PRESIGN_SECONDS", "1".to_owned()),
            ("SPIN_VARIABLE_FILES_ORPHAN_GRACE_SECONDS", "0".to_owned()),
        ],
        &[],
    );
    let t: Tenant = own.new_tenant();
    let kept = own.upload_ok(&t.access, "kept.txt", "text/plain", b"kept");
    let doomed = own.upload_ok(&t.access, "doomed.txt", "text/plain", b"doomed");
    let doomed_id = doomed["id"].as_str().unwrap().to_owned();
    assert!(s3.object(&t.org_id, &doomed_id).is_file());
    let before = rows_of(&t.org_id);

    s3.stop();
    let raw = own.upload_raw(&t.access, "down.txt", "text/plain", b"down");
    assert_eq!(raw.status, 503, "{}", raw.text());
    assert_eq!(raw.header("content-type"), Some("application/problem+json"));
    let multi = own.upload_multipart(&t.access, "filename=\"m\"", "text/plain", b"down");
    assert_eq!(multi.status, 503, "{}", multi.text());
    assert_eq!(rows_of(&t.org_id), before, "no row while the store is down");
    let body = raw.text();
    assert!(
        !body.contains(&port.to_string()),
        "no host in the answer: {body}"
    );
    // A delete marks the row, then cannot remove the object.
    let del = own.send_bytes_as(
        "DELETE",
        &format!("/v1/files/{doomed_id}"),
        &t.access,
        &[],
        b"",
    );
    assert_eq!(del.status, 503, "{}", del.text());
    assert_eq!(
        own.send_bytes_as(
            "GET",
            &format!("/v1/files/{doomed_id}"),
            &t.access,
            &[],
            b""
        )
        .status,
        404
    );
    // A presigned upload that will never come.
    let pending = own.send_bytes_as(
        "POST",
        "/v1/files/uploads",
        &t.access,
        &[("content-type", "application/json")],
        br#"{"name":"never","size":5,"content_type":"text/plain"}"#,
    );
    assert_eq!(pending.status, 201, "{}", pending.text());

    s3.restart();
    // An object no row refers to (as a crash between object and row leaves).
    let orphan_id = "0e4b6f2a-7c1d-4e8f-9a3b-5d6c7e8f9a0b";
    let orphan = s3.object(&t.org_id, orphan_id);
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"orphan").unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let swept = own.sweep();
    assert_eq!(swept.status, 200, "{}", swept.text());
    let counts: Value = swept.json();
    assert!(counts["deletes_finished"].as_u64() >= Some(1), "{counts}");
    assert!(
        counts["expired_uploads_removed"].as_u64() >= Some(1),
        "{counts}"
    );
    assert!(counts["orphans_removed"].as_u64() >= Some(1), "{counts}");
    assert!(!orphan.exists(), "the orphan is gone");
    assert!(
        !s3.object(&t.org_id, &doomed_id).exists(),
        "the interrupted delete finished"
    );
    assert!(
        s3.object(&t.org_id, kept["id"].as_str().unwrap()).is_file(),
        "a live file stays"
    );
    let left: Vec<String> = app_db()
        .query(
            "SELECT name FROM files WHERE org_id = $1::text::uuid ORDER BY name",
            &[&t.org_id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, ["kept.txt"]);
    // Every object in the store has its row.
    let again = own.sweep().json();
    assert_eq!(again["orphans_removed"], 0, "{again}");
    assert_eq!(
        own.request("POST", "/v1/files/admin/sweep", &[], b"")
            .status,
        401
    );
}
