//! The body of an upload, framed without buffering it: a
//! `multipart/form-data` head ([`boundary`], [`parse_head`]) and the
//! [`Framer`], which passes the file's bytes on as they arrive, hashes
//! them, and holds back the last byte until the rest of the body checked
//! out (so a malformed ending leaves the store's upload one byte short,
//! which the store refuses).
//!
//! A multipart upload is one part with a `filename`, ended by
//! `\r\n--<boundary>--\r\n`, the ending every common client writes; the
//! file's length is the body's `Content-Length` less the head and that
//! ending.

use plinth_platform::{Error, FieldError};
use sha2::{Digest, Sha256};

/// The most bytes read before the part's head must have ended.
pub const MAX_HEAD: usize = 16 * 1024;

fn malformed(message: &str) -> Error {
    Error::Malformed(vec![FieldError::new("body", message)])
}

/// The boundary of a `multipart/form-data` content type; `None` for any
/// other type.
pub fn boundary(content_type: &str) -> Option<Result<String, Error>> {
    let mut parts = content_type.split(';');
    let essence = parts.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let found = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned());
    Some(match found {
        Some(b)
            if (1..=70).contains(&b.len())
                && b.bytes().all(|c| c.is_ascii_graphic() || c == b' ') =>
        {
            Ok(b)
        }
        _ => Err(Error::field(
            "content-type",
            "multipart/form-data needs a boundary of 1-70 characters",
        )),
    })
}

/// The file part's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHead {
    pub filename: String,
    pub content_type: Option<String>,
}

/// The closing delimiter after the file part.
pub fn ending(boundary: &str) -> Vec<u8> {
    format!("\r\n--{boundary}--\r\n").into_bytes()
}

/// The head of the first part in `buf`, and how many bytes it took
/// (preamble, delimiter and head); `Ok(None)` when `buf` does not hold all
/// of it yet. A first part without a `filename` is a 400.
pub fn parse_head(buf: &[u8], boundary: &str) -> Result<Option<(PartHead, usize)>, Error> {
    let delimiter = format!("--{boundary}\r\n");
    let start = if buf.starts_with(delimiter.as_bytes()) {
        0
    } else {
        match find(buf, format!("\r\n{delimiter}").as_bytes()) {
            Some(at) => at + 2,
            None if buf.len() >= MAX_HEAD => return Err(malformed("no multipart boundary found")),
            None => return Ok(None),
        }
    };
    let head_start = start + delimiter.len();
    let Some(end) = find(&buf[head_start..], b"\r\n\r\n") else {
        if buf.len() >= MAX_HEAD {
            return Err(malformed("the part's headers are too long"));
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[head_start..head_start + end])
        .map_err(|_| malformed("the part's headers are not UTF-8"))?;
    let mut filename = None;
    let mut content_type = None;
    for line in head.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            return Err(malformed("a part header has no colon"));
        };
        if name.trim().eq_ignore_ascii_case("content-disposition") {
            filename = disposition_filename(value);
        } else if name.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_owned());
        }
    }
    let filename =
        filename.ok_or_else(|| malformed("the first part must be a file (a filename)"))?;
    Ok(Some((
        PartHead {
            filename,
            content_type,
        },
        head_start + end + 4,
    )))
}

/// `filename*=UTF-8''…` (preferred) or `filename="…"` of a
/// `Content-Disposition: form-data` value.
fn disposition_filename(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    let mut rest = value;
    while let Some(at) = rest.find(';') {
        rest = &rest[at + 1..];
        let param = rest.trim_start();
        if let Some(v) = param.strip_prefix("filename*=") {
            let v = v.split(';').next().unwrap_or_default().trim();
            extended = v
                .strip_prefix("UTF-8''")
                .or_else(|| v.strip_prefix("utf-8''"))
                .and_then(percent_decode);
        } else if let Some(v) = param.strip_prefix("filename=") {
            plain = Some(match v.strip_prefix('"') {
                // Quoted: up to the closing quote, `\"` kept as `"`.
                Some(q) => {
                    let mut out = String::new();
                    let mut chars = q.chars();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => out.extend(chars.next()),
                            '"' => break,
                            c => out.push(c),
                        }
                    }
                    out
                }
                None => v.split(';').next().unwrap_or_default().trim().to_owned(),
            });
        }
    }
    extended.or(plain)
}

fn percent_decode(v: &str) -> Option<String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(v.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Passes on the `length` bytes of a file and checks what follows it.
pub struct Framer {
    left: u64,
    ending: Vec<u8>,
    seen_ending: Vec<u8>,
    held: Option<u8>,
    hasher: Sha256,
}

impl Framer {
    /// A file of `length` bytes followed by exactly `ending` (empty for a raw body).
    pub fn new(length: u64, ending: Vec<u8>) -> Self {
        Self {
            left: length,
            ending,
            seen_ending: Vec::new(),
            held: None,
            hasher: Sha256::new(),
        }
    }

    /// The bytes of `chunk` that may go to the store now.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, Error> {
        let take = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(chunk.len());
        let (file, after) = chunk.split_at(take);
        self.left -= take as u64;
        let mut out = Vec::with_capacity(file.len());
        if let Some(byte) = self.held.take() {
            out.push(byte);
        }
        out.extend_from_slice(file);
        if self.left == 0 {
            self.held = out.pop();
        }
        self.hasher.update(&out);
        if self.seen_ending.len() + after.len() > self.ending.len() {
            return Err(malformed("the body continues after the file part"));
        }
        self.seen_ending.extend_from_slice(after);
        Ok(out)
    }

    /// At the end of the body: the held-back last byte and the file's
    /// SHA-256 (hex), once the body had all of the file and its ending.
    pub fn finish(mut self) -> Result<(Vec<u8>, String), Error> {
        if self.left > 0 {
            return Err(malformed("the body ended before the file did"));
        }
        if self.seen_ending != self.ending {
            return Err(malformed(
                "the multipart body does not end with its closing boundary",
            ));
        }
        let last: Vec<u8> = self.held.take().into_iter().collect();
        self.hasher.update(&last);
        Ok((last, hex::encode(self.hasher.finalize())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(length: u64, ending: &[u8], chunks: &[&[u8]]) -> Result<(Vec<u8>, String), Error> {
        let mut framer = Framer::new(length, ending.to_vec());
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(framer.push(chunk)?);
        }
        let (last, digest) = framer.finish()?;
        out.extend(last);
        Ok((out, digest))
    }

    #[test]
    fn boundaries() {
        assert_eq!(boundary("image/png"), None);
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc def\"")
                .unwrap()
                .unwrap(),
            "abc def"
        );
        assert_eq!(
            boundary("Multipart/Form-Data;boundary=x").unwrap().unwrap(),
            "x"
        );
        assert_eq!(
            boundary("multipart/form-data")
                .unwrap()
                .unwrap_err()
                .status(),
            422
        );
    }

    #[test]
    fn heads() {
        let body = b"preamble\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\".txt\"\r\nContent-Type: text/plain\r\n\r\nDATA";
        let (head, used) = parse_head(body, "b").unwrap().unwrap();
        assert_eq!(head.filename, "a \"q\".txt");
        assert_eq!(head.content_type.as_deref(), Some("text/plain"));
        assert_eq!(&body[used..], b"DATA");
        let ext = b"--b\r\nContent-Disposition: form-data; name=f; filename=x; filename*=UTF-8''%C3%A9.txt\r\n\r\n";
        assert_eq!(parse_head(ext, "b").unwrap().unwrap().0.filename, "é.txt");
        assert_eq!(
            parse_head(b"--b\r\nContent-Dispo", "b").unwrap(),
            None,
            "more needed"
        );
        let field = b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1";
        assert_eq!(parse_head(field, "b").unwrap_err().status(), 400);
        let junk = vec![b'x'; MAX_HEAD];
        assert_eq!(parse_head(&junk, "b").unwrap_err().status(), 400);
    }

    #[test]
    fn framing() {
        let end = ending("b");
        let mut body = b"hello".to_vec();
        body.extend_from_slice(&end);
        for split in 0..body.len() {
            let (a, b) = body.split_at(split);
            let (out, digest) = run(5, &end, &[a, b]).unwrap();
            assert_eq!(out, b"hello", "split at {split}");
            assert_eq!(digest, hex::encode(Sha256::digest(b"hello")));
        }
        let (empty, digest) = run(0, &[], &[]).unwrap();
        assert!(empty.is_empty());
        assert_eq!(digest, hex::encode(Sha256::digest(b"")));
        assert_eq!(run(5, &end, &[b"hel"]).unwrap_err().status(), 400, "short");
        assert_eq!(
            run(5, &end, &[b"hello\r\n--b--"]).unwrap_err().status(),
            400,
            "bad ending"
        );
        assert_eq!(
            run(2, &[], &[b"abc"]).unwrap_err().status(),
            400,
            "too long"
        );
    }

    #[test]
    fn the_last_byte_waits_for_the_ending() {
        let mut framer = Framer::new(3, b"!".to_vec());
        assert_eq!(framer.push(b"abc").unwrap(), b"ab");
        assert_eq!(framer.push(b"!").unwrap(), b"");
        assert_eq!(framer.finish().unwrap().0, b"c");
    }
}
