//! Access tokens: EdDSA (Ed25519) JWTs in compact JWS form, minted and
//! verified here without a JWT library.
//!
//! A token is `b64url(header) . b64url(payload) . b64url(signature)`, with
//! the header `{"alg":"EdDSA","typ":"at+jwt","kid":…}` (RFC 8037, RFC 9068)
//! and the claims of [`AccessClaims`]. The keys come from the Spin variable
//! `jwt_keys` as a [`KeyRing`]; its public half is published by [`jwks`].
//!
//! [`inspect`] makes every check except the signature, [`verify`] adds it.
//! A token that passed only [`inspect`] is trusted only once something else
//! proves it was issued here (the database holding its [`token_digest`]).
//!
//! **Architecture Invariant**: the header only ever *selects* one of our own
//! keys by `kid`. `alg` must be exactly `EdDSA`, and `jku`, `x5u`, `jwk` and
//! `x5c` are never read, so a token cannot bring its own key or algorithm.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_compact::{KeyPair, Seed, Signature};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::{self, Secret, Source};
use crate::error::Error;

/// The Spin variable that holds the key ring.
pub const JWT_KEYS_VARIABLE: &str = "jwt_keys";

/// The only accepted `alg`.
pub const ALG: &str = "EdDSA";

/// The `typ` of an access token (RFC 9068).
pub const TYP: &str = "at+jwt";

/// Longer tokens are rejected before any decoding. Ours are about 600 bytes.
pub const MAX_TOKEN_LEN: usize = 4096;

/// The clock skew allowed on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY_SECS: u32 = 30;

/// Longest `kid`.
pub const MAX_KID_LEN: usize = 64;

/// The signing and verification keys, parsed from `jwt_keys`:
/// `kid:base64url(32-byte Ed25519 seed)` entries separated by commas.
///
/// The first entry signs; every entry verifies and is published. Rotation:
/// add the new key at the end and deploy (everyone accepts it), move it to
/// the front and deploy (it signs), drop the old key once the last token it
/// signed has expired.
///
/// `Debug` prints the kids only, never key material.
pub struct KeyRing {
    /// Never empty; `keys[0]` signs.
    keys: Vec<RingKey>,
}

struct RingKey {
    kid: String,
    pair: KeyPair,
}

impl KeyRing {
    /// Parses the value of `jwt_keys`. An invalid value is an internal error
    /// that names the entry and what is wrong, never the key.
    pub fn parse(keys: &Secret) -> Result<Self, Error> {
        Self::parse_entries(keys.expose())
            .map_err(|reason| config::invalid(JWT_KEYS_VARIABLE, &reason))
    }

    /// Reads and parses the `jwt_keys` variable.
    pub fn from_source(source: &dyn Source) -> Result<Self, Error> {
        Self::parse(&source.secret(JWT_KEYS_VARIABLE)?)
    }

    /// One `jwt_keys` entry for `kid` and `seed` (tooling and tests). The seed
    /// must come from a CSPRNG; `kid` is checked when the ring is parsed.
    pub fn generate_entry(kid: &str, seed: [u8; 32]) -> String {
        format!("{kid}:{}", URL_SAFE_NO_PAD.encode(seed))
    }

    /// The `kid` of the signing key.
    pub fn signing_kid(&self) -> &str {
        &self.signing_key().kid
    }

    /// Every `kid`, signing key first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.kid.as_str())
    }

    fn signing_key(&self) -> &RingKey {
        // `parse_entries` never builds an empty ring.
        &self.keys[0]
    }

    fn find(&self, kid: &str) -> Option<&RingKey> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    /// The reason is for the log: it names entries by position and only
    /// quotes a kid once it is known to be well formed.
    fn parse_entries(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("it is empty".to_owned());
        }
        let mut keys: Vec<RingKey> = Vec::new();
        for (index, entry) in text.split(',').enumerate() {
            let n = index + 1;
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(format!("entry {n} is empty"));
            }
            let Some((kid, key)) = entry.split_once(':') else {
                return Err(format!("entry {n} is not `kid:key`"));
            };
            if !is_valid_kid(kid) {
                return Err(format!(
                    "entry {n}: the kid must be 1-{MAX_KID_LEN} characters of A-Z a-z 0-9 . _ -"
                ));
            }
            if keys.iter().any(|existing| existing.kid == kid) {
                return Err(format!("entry {n}: kid `{kid}` appears twice"));
            }
            let seed: [u8; 32] = decode_segment(key)
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| {
                    format!(
                        "entry {n} (kid `{kid}`): the key must be 32 bytes in base64url without padding"
                    )
                })?;
            let pair = KeyPair::try_from_seed(Seed::new(seed))
                .map_err(|_| format!("entry {n} (kid `{kid}`): the key must not be all zeros"))?;
            keys.push(RingKey {
                kid: kid.to_owned(),
                pair,
            });
        }
        Ok(Self { keys })
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("kids", &self.kids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn is_valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The claims of an access token. `sub`, `org` and `sid` are UUIDs (user,
/// org, session); callers parse them into domain types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// A token we mint has one audience. A verified token may list several;
    /// then this is the configured audience it matched.
    pub aud: String,
    pub sub: String,
    pub org: String,
    pub role: String,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// What a token must match besides its signature. `now` is Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    pub issuer: String,
    pub audience: String,
    pub leeway_secs: u32,
    pub now: i64,
}

impl Validation {
    /// The expected issuer and audience at `now`, with [`DEFAULT_LEEWAY_SECS`].
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, now: i64) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
            now,
        }
    }
}

/// Why a token was refused. Every variant is a 401 for the client; the
/// variant (and the claim named by `Claims`) is for the log. No variant
/// carries a value taken from the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url segments with JSON objects, too long, or a `crit` header.
    Malformed,
    /// `alg` is not exactly `EdDSA`.
    Algorithm,
    /// `typ` is not `at+jwt`.
    Type,
    /// No `kid`, or not one of ours.
    UnknownKey,
    /// The signature is not 64 bytes or does not verify.
    Signature,
    /// A claim is missing or has the wrong type.
    Claims(String),
    Expired,
    NotYetValid,
    Issuer,
    Audience,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed token"),
            Self::Algorithm => f.write_str("unsupported alg"),
            Self::Type => f.write_str("not an access token (typ)"),
            Self::UnknownKey => f.write_str("unknown kid"),
            Self::Signature => f.write_str("bad signature"),
            Self::Claims(reason) => write!(f, "bad claims: {reason}"),
            Self::Expired => f.write_str("token expired"),
            Self::NotYetValid => f.write_str("token not yet valid"),
            Self::Issuer => f.write_str("wrong issuer"),
            Self::Audience => f.write_str("wrong audience"),
        }
    }
}

impl std::error::Error for TokenError {}

impl From<TokenError> for Error {
    fn from(_: TokenError) -> Self {
        // One answer for every reason, so a client learns nothing about which check failed.
        Error::Unauthorized
    }
}

/// The header we write. Field order is the serialization order.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// Signs `claims` with the ring's signing key.
pub fn mint(ring: &KeyRing, claims: &AccessClaims) -> String {
    let key = ring.signing_key();
    let header = Header {
        alg: ALG,
        typ: TYP,
        kid: &key.kid,
    };
    // Serializing structs of strings and integers into memory cannot fail;
    // were it to, the empty segment makes a token that never verifies.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let mut token = String::with_capacity((header.len() + payload.len() + 64) * 4 / 3 + 3);
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    // Deterministic RFC 8032 signing: no randomness needed in the guest.
    let signature = key.pair.sk.sign(token.as_bytes(), None);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
    token
}

/// The set of `kid`s a check accepts.
pub trait KnownKids {
    fn knows(&self, kid: &str) -> bool;
}

impl KnownKids for KeyRing {
    fn knows(&self, kid: &str) -> bool {
        self.find(kid).is_some()
    }
}

/// Any well-formed `kid`: for components that hold no keys at all and trust a
/// token only once the database recognises its [`token_digest`].
pub struct AnyKid;

impl KnownKids for AnyKid {
    fn knows(&self, kid: &str) -> bool {
        is_valid_kid(kid)
    }
}

/// Every check except the signature: structure, header (`alg`, `typ`, a kid
/// that `kids` knows), claims and times. Never trust its result alone.
pub fn inspect(
    token: &str,
    kids: &dyn KnownKids,
    validation: &Validation,
) -> Result<AccessClaims, TokenError> {
    decode(token, kids, validation).map(|decoded| decoded.claims)
}

/// Checks `token` completely and returns its claims.
pub fn verify(
    token: &str,
    ring: &KeyRing,
    validation: &Validation,
) -> Result<AccessClaims, TokenError> {
    let decoded = decode(token, ring, validation)?;
    let key = ring.find(&decoded.kid).ok_or(TokenError::UnknownKey)?;
    key.pair
        .pk
        .verify(decoded.signing_input, &decoded.signature)
        .map_err(|_| TokenError::Signature)?;
    Ok(decoded.claims)
}

/// Lowercase hex SHA-256 of the whole token, stored with the session so the
/// database can recognise a token it issued.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The public keys as an RFC 7517 key set of RFC 8037 OKP keys, for
/// `/.well-known/jwks.json`.
pub fn jwks(ring: &KeyRing) -> Value {
    let keys: Vec<Value> = ring
        .keys
        .iter()
        .map(|key| {
            serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(&key.pair.pk[..]),
                "kid": key.kid,
                "alg": ALG,
                "use": "sig",
            })
        })
        .collect();
    serde_json::json!({ "keys": keys })
}

/// A token that passed every check but the signature.
struct Decoded<'a> {
    /// `header.payload`, the bytes the signature covers.
    signing_input: &'a str,
    signature: Signature,
    kid: String,
    claims: AccessClaims,
}

/// Cheap checks first, so a junk token costs no Ed25519 verification.
fn decode<'a>(
    token: &'a str,
    kids: &dyn KnownKids,
    validation: &Validation,
) -> Result<Decoded<'a>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut segments = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(TokenError::Malformed);
    };
    let header_object = decode_object(header)?;
    check_header(&header_object, kids)?;
    let kid = header_object
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let signature = decode_segment(signature).ok_or(TokenError::Malformed)?;
    let signature = Signature::from_slice(&signature).map_err(|_| TokenError::Signature)?;
    let claims = check_claims(&decode_object(payload)?, validation)?;
    Ok(Decoded {
        signing_input: &token[..header.len() + 1 + payload.len()],
        signature,
        kid,
        claims,
    })
}

/// Strict base64url: URL alphabet, no padding, no stray bits (so each value
/// has exactly one encoding).
fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// A segment that must be a JSON object. With duplicate members the last one
/// wins, which RFC 7515 §4 allows.
fn decode_object(segment: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = decode_segment(segment).ok_or(TokenError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(TokenError::Malformed),
    }
}

/// `typ` is compared case-insensitively and may carry the `application/`
/// prefix: it is a media type (RFC 7515 §4.1.9, RFC 8725 §3.11). `alg` is
/// case-sensitive (RFC 7518 §3.1).
fn check_header(header: &Map<String, Value>, kids: &dyn KnownKids) -> Result<(), TokenError> {
    if header.get("alg").and_then(Value::as_str) != Some(ALG) {
        return Err(TokenError::Algorithm);
    }
    let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
    let typ = typ
        .get(..12)
        .filter(|prefix| prefix.eq_ignore_ascii_case("application/"))
        .and_then(|_| typ.get(12..))
        .unwrap_or(typ);
    if !typ.eq_ignore_ascii_case(TYP) {
        return Err(TokenError::Type);
    }
    // We understand no extension, and RFC 7515 §4.1.11 says to refuse a
    // token that requires one.
    if header.contains_key("crit") {
        return Err(TokenError::Malformed);
    }
    match header.get("kid").and_then(Value::as_str) {
        Some(kid) if kids.knows(kid) => Ok(()),
        _ => Err(TokenError::UnknownKey),
    }
}

fn check_claims(
    payload: &Map<String, Value>,
    validation: &Validation,
) -> Result<AccessClaims, TokenError> {
    let iss = string_claim(payload, "iss")?;
    let aud_matches = match payload.get("aud") {
        Some(Value::String(aud)) => aud == &validation.audience,
        Some(Value::Array(items)) => {
            let mut matches = false;
            for item in items {
                let item = item
                    .as_str()
                    .ok_or_else(|| TokenError::Claims("`aud` must hold only strings".into()))?;
                matches |= item == validation.audience;
            }
            matches
        }
        Some(_) => {
            return Err(TokenError::Claims(
                "`aud` must be a string or an array of strings".into(),
            ));
        }
        None => return Err(TokenError::Claims("`aud` is missing".into())),
    };
    let claims = AccessClaims {
        aud: validation.audience.clone(),
        sub: string_claim(payload, "sub")?,
        org: string_claim(payload, "org")?,
        role: string_claim(payload, "role")?,
        sid: string_claim(payload, "sid")?,
        jti: string_claim(payload, "jti")?,
        iat: int_claim(payload, "iat")?,
        exp: int_claim(payload, "exp")?,
        nbf: match payload.get("nbf") {
            None => None,
            Some(_) => Some(int_claim(payload, "nbf")?),
        },
        iss,
    };

    if claims.iss != validation.issuer {
        return Err(TokenError::Issuer);
    }
    if !aud_matches {
        return Err(TokenError::Audience);
    }
    let leeway = i64::from(validation.leeway_secs);
    // Only `now` (ours) takes part in arithmetic, so hostile values cannot overflow.
    if claims.exp <= validation.now.saturating_sub(leeway) {
        return Err(TokenError::Expired);
    }
    let latest = validation.now.saturating_add(leeway);
    if claims.nbf.is_some_and(|nbf| nbf > latest) || claims.iat > latest {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

fn string_claim(payload: &Map<String, Value>, name: &str) -> Result<String, TokenError> {
    match payload.get(name) {
        Some(Value::String(value)) if !value.is_empty() => Ok(value.clone()),
        Some(_) => Err(TokenError::Claims(format!(
            "`{name}` must be a non-empty string"
        ))),
        None => Err(TokenError::Claims(format!("`{name}` is missing"))),
    }
}

/// NumericDate, restricted to integers: we never mint fractions.
fn int_claim(payload: &Map<String, Value>, name: &str) -> Result<i64, TokenError> {
    match payload.get(name) {
        Some(value) => value
            .as_i64()
            .ok_or_else(|| TokenError::Claims(format!("`{name}` must be an integer"))),
        None => Err(TokenError::Claims(format!("`{name}` is missing"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    const NOW: i64 = 1_750_000_000;
    const ISS: &str = "https://auth.plinth.test";
    const AUD: &str = "plinth-api";

    fn entry(kid: &str, byte: u8) -> String {
        KeyRing::generate_entry(kid, [byte; 32])
    }

    fn ring(entries: &[(&str, u8)]) -> KeyRing {
        let text: Vec<String> = entries.iter().map(|(kid, b)| entry(kid, *b)).collect();
        KeyRing::parse(&Secret::new(text.join(","))).unwrap()
    }

    fn our_ring() -> KeyRing {
        ring(&[("k1", 1), ("k2", 2)])
    }

    fn attacker() -> KeyPair {
        KeyPair::from_seed(Seed::new([7; 32]))
    }

    fn validation() -> Validation {
        Validation::new(ISS, AUD, NOW)
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: ISS.into(),
            aud: AUD.into(),
            sub: "0b6f6a52-6c1e-4c43-9d2a-6a3c8f1e2d01".into(),
            org: "3f2504e0-4f89-11d3-9a0c-0305e82c3301".into(),
            role: "admin".into(),
            sid: "7d9c2b1a-8e4f-4a3b-b2c1-0d9e8f7a6b5c".into(),
            jti: "c1a2b3d4-e5f6-4789-8abc-def012345678".into(),
            iat: NOW,
            exp: NOW + 900,
            nbf: None,
        }
    }

    fn b64(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The claims as a JSON object, with `edit` applied.
    fn payload_with(edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let Value::Object(mut object) = serde_json::to_value(claims()).unwrap() else {
            unreachable!()
        };
        edit(&mut object);
        Value::Object(object).to_string()
    }

    fn payload() -> String {
        payload_with(|_| {})
    }

    fn header(kid: &str) -> String {
        format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#)
    }

    /// `header.payload` (raw JSON in, base64url out), signed with `pair`.
    fn signed(pair: &KeyPair, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let signature = pair.sk.sign(input.as_bytes(), None);
        format!("{input}.{}", b64(signature))
    }

    /// `header.payload` with an arbitrary signature segment.
    fn with_signature(header: &str, payload: &str, signature: &[u8]) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64(signature))
    }

    fn k1(ring: &KeyRing) -> &KeyPair {
        &ring.find("k1").unwrap().pair
    }

    fn good_token() -> String {
        mint(&our_ring(), &claims())
    }

    #[test]
    fn round_trip() {
        let ring = our_ring();
        let token = mint(&ring, &claims());
        assert_eq!(verify(&token, &ring, &validation()), Ok(claims()));

        let with_nbf = AccessClaims {
            nbf: Some(NOW - 5),
            ..claims()
        };
        let token = mint(&ring, &with_nbf);
        assert_eq!(verify(&token, &ring, &validation()), Ok(with_nbf));
    }

    #[test]
    fn structure_is_the_documented_json() {
        let token = good_token();
        let segments: Vec<&str> = token.split('.').collect();
        assert_eq!(segments.len(), 3);
        let header = URL_SAFE_NO_PAD.decode(segments[0]).unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1"}"#
        );
        let payload = URL_SAFE_NO_PAD.decode(segments[1]).unwrap();
        let expected = format!(
            concat!(
                r#"{{"iss":"{}","aud":"{}","sub":"0b6f6a52-6c1e-4c43-9d2a-6a3c8f1e2d01","#,
                r#""org":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","role":"admin","#,
                r#""sid":"7d9c2b1a-8e4f-4a3b-b2c1-0d9e8f7a6b5c","#,
                r#""jti":"c1a2b3d4-e5f6-4789-8abc-def012345678","iat":{},"exp":{}}}"#
            ),
            ISS,
            AUD,
            NOW,
            NOW + 900
        );
        assert_eq!(String::from_utf8(payload).unwrap(), expected);
        let signature = URL_SAFE_NO_PAD.decode(segments[2]).unwrap();
        assert_eq!(signature.len(), 64);
        // The signature is plain Ed25519 over the ASCII of `header.payload`.
        let input = format!("{}.{}", segments[0], segments[1]);
        let ring = our_ring();
        k1(&ring)
            .pk
            .verify(
                input.as_bytes(),
                &Signature::from_slice(&signature).unwrap(),
            )
            .unwrap();
    }

    #[test]
    fn forged_tokens_are_refused() {
        let ring = our_ring();
        let ours = k1(&ring);
        let body = payload();
        let good = good_token();
        let [h, p, s]: [&str; 3] = good.split('.').collect::<Vec<_>>().try_into().unwrap();
        let public = &ours.pk[..];
        let hs256 = |secret: &[u8]| {
            let header = r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#;
            let input = format!("{}.{}", b64(header), b64(&body));
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
            mac.update(input.as_bytes());
            format!("{input}.{}", b64(mac.finalize().into_bytes()))
        };
        let with_alg = |alg: &str| format!(r#"{{"alg":{alg},"typ":"at+jwt","kid":"k1"}}"#);
        let with_kid = |kid: &str| format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":{kid}}}"#);
        let with_typ = |typ: &str| format!(r#"{{"alg":"EdDSA","typ":{typ},"kid":"k1"}}"#);
        let tampered = payload_with(|c| {
            c.insert("sub".into(), "11111111-1111-1111-1111-111111111111".into());
        });
        let mut flipped = URL_SAFE_NO_PAD.decode(s).unwrap();
        flipped[10] ^= 1;
        // The last character of 64 bytes in base64 carries 4 unused bits; set one.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = alphabet
            .iter()
            .position(|&c| c == *s.as_bytes().last().unwrap());
        let stray_bits = format!(
            "{}{}",
            &s[..s.len() - 1],
            alphabet[last.unwrap() | 1] as char
        );
        let long_kid = format!("\"{}\"", "k".repeat(1000));

        use TokenError as E;
        // (case, token, what `verify` says, what `inspect` says)
        let cases: Vec<(&str, String, E, Option<E>)> = vec![
            // alg none and friends
            (
                "alg none, empty signature",
                with_signature(&with_alg("\"none\""), &body, b""),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "alg None",
                with_signature(&with_alg("\"None\""), &body, b""),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "alg NONE",
                with_signature(&with_alg("\"NONE\""), &body, b""),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "alg none, signed by our key",
                signed(ours, &with_alg("\"none\""), &body),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "alg none, two segments",
                format!("{}.{}", b64(with_alg("\"none\"")), b64(&body)),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "alg missing",
                signed(ours, r#"{"typ":"at+jwt","kid":"k1"}"#, &body),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "alg null",
                signed(ours, &with_alg("null"), &body),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "alg in an array",
                signed(ours, &with_alg("[\"EdDSA\"]"), &body),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "alg lowercase eddsa",
                signed(ours, &with_alg("\"eddsa\""), &body),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "alg Ed25519 (a curve, not an alg)",
                signed(ours, &with_alg("\"Ed25519\""), &body),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            // algorithm confusion
            (
                "HS256 keyed with the raw public key",
                hs256(public),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "HS256 keyed with the JWKS x string",
                hs256(b64(public).as_bytes()),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "RS256",
                with_signature(&with_alg("\"RS256\""), &body, &[7; 256]),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "ES256",
                with_signature(&with_alg("\"ES256\""), &body, &[7; 64]),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            (
                "ES256 signed by our key",
                signed(ours, &with_alg("\"ES256\""), &body),
                E::Algorithm,
                Some(E::Algorithm),
            ),
            // signatures
            (
                "payload tampered, signature kept",
                format!("{h}.{}.{s}", b64(&tampered)),
                E::Signature,
                None,
            ),
            (
                "signed by another key under our kid",
                signed(&attacker(), &header("k1"), &body),
                E::Signature,
                None,
            ),
            (
                "signature of the other ring key under k1",
                format!(
                    "{h}.{p}.{}",
                    b64(ring
                        .find("k2")
                        .unwrap()
                        .pair
                        .sk
                        .sign(format!("{h}.{p}"), None))
                ),
                E::Signature,
                None,
            ),
            (
                "one bit of the signature flipped",
                format!("{h}.{p}.{}", b64(&flipped)),
                E::Signature,
                None,
            ),
            (
                "empty signature",
                format!("{h}.{p}."),
                E::Signature,
                Some(E::Signature),
            ),
            (
                "63-byte signature",
                with_signature(&header("k1"), &body, &[1; 63]),
                E::Signature,
                Some(E::Signature),
            ),
            (
                "65-byte signature",
                with_signature(&header("k1"), &body, &[1; 65]),
                E::Signature,
                Some(E::Signature),
            ),
            (
                "all-zero signature",
                with_signature(&header("k1"), &body, &[0; 64]),
                E::Signature,
                None,
            ),
            // structure
            (
                "stripped signature (two segments)",
                format!("{h}.{p}"),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "four segments",
                format!("{good}.{s}"),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "trailing dot",
                format!("{good}."),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "one segment",
                h.to_owned(),
                E::Malformed,
                Some(E::Malformed),
            ),
            ("empty", String::new(), E::Malformed, Some(E::Malformed)),
            ("only dots", "..".into(), E::Malformed, Some(E::Malformed)),
            (
                "longer than the cap",
                format!("{h}.{p}.{s}{}", "A".repeat(MAX_TOKEN_LEN)),
                E::Malformed,
                Some(E::Malformed),
            ),
            // base64
            (
                "padded header",
                format!("{h}=.{p}.{s}"),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "padded signature",
                format!("{h}.{p}.{s}=="),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "standard alphabet in the signature",
                format!("{h}.{p}.+{}", &s[1..]),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "slash in the payload",
                format!("{h}./{}.{s}", &p[1..]),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "stray bits in the last signature character",
                format!("{h}.{p}.{stray_bits}"),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "space in a segment",
                format!("{h} .{p}.{s}"),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "non-ASCII character",
                format!("{h}.{p}é.{s}"),
                E::Malformed,
                Some(E::Malformed),
            ),
            // JSON
            (
                "header is not JSON",
                signed(ours, "not json", &body),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "header is a JSON array",
                signed(ours, r#"["EdDSA","at+jwt","k1"]"#, &body),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "header is a JSON string",
                signed(ours, r#""EdDSA""#, &body),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "header is not UTF-8",
                format!("{}.{}.{s}", b64([0xff, 0xfe, b'{']), b64(&body)),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "payload is not JSON",
                signed(ours, &header("k1"), "{\"iss\":"),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "payload is a JSON array",
                signed(ours, &header("k1"), "[1,2,3]"),
                E::Malformed,
                Some(E::Malformed),
            ),
            (
                "crit header",
                signed(
                    ours,
                    r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1","crit":["b64"],"b64":false}"#,
                    &body,
                ),
                E::Malformed,
                Some(E::Malformed),
            ),
            // kid
            (
                "unknown kid",
                signed(ours, &header("k3"), &body),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            (
                "kid missing",
                signed(ours, r#"{"alg":"EdDSA","typ":"at+jwt"}"#, &body),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            (
                "kid differs in case",
                signed(ours, &header("K1"), &body),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            (
                "kid is a path",
                signed(ours, &header("../../etc/passwd"), &body),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            (
                "kid with a NUL",
                signed(ours, &with_kid(r#""k1\u0000""#), &body),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            (
                "kid 1000 characters",
                signed(ours, &with_kid(&long_kid), &body),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            (
                "kid a number",
                signed(ours, &with_kid("1"), &body),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            (
                "kid null",
                signed(ours, &with_kid("null"), &body),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            (
                "kid an object",
                signed(ours, &with_kid(r#"{"kid":"k1"}"#), &body),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            (
                "kid an array",
                signed(ours, &with_kid(r#"["k1"]"#), &body),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            // embedded keys are never used
            (
                "another key, announced in jwk",
                signed(
                    &attacker(),
                    &format!(
                        r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"k1","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{}"}}}}"#,
                        b64(&attacker().pk[..])
                    ),
                    &body,
                ),
                E::Signature,
                None,
            ),
            (
                "another key, jwk and no kid",
                signed(
                    &attacker(),
                    &format!(
                        r#"{{"alg":"EdDSA","typ":"at+jwt","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{}"}}}}"#,
                        b64(&attacker().pk[..])
                    ),
                    &body,
                ),
                E::UnknownKey,
                Some(E::UnknownKey),
            ),
            (
                "another key, announced in jku",
                signed(
                    &attacker(),
                    r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1","jku":"https://evil.test/jwks.json"}"#,
                    &body,
                ),
                E::Signature,
                None,
            ),
            // typ
            (
                "typ JWT",
                signed(ours, &with_typ("\"JWT\""), &body),
                E::Type,
                Some(E::Type),
            ),
            (
                "typ refresh+jwt",
                signed(ours, &with_typ("\"refresh+jwt\""), &body),
                E::Type,
                Some(E::Type),
            ),
            (
                "typ application/jwt",
                signed(ours, &with_typ("\"application/jwt\""), &body),
                E::Type,
                Some(E::Type),
            ),
            (
                "typ at+jwt with junk",
                signed(ours, &with_typ("\"at+jwt; x\""), &body),
                E::Type,
                Some(E::Type),
            ),
            (
                "typ missing",
                signed(ours, r#"{"alg":"EdDSA","kid":"k1"}"#, &body),
                E::Type,
                Some(E::Type),
            ),
            (
                "typ a number",
                signed(ours, &with_typ("1"), &body),
                E::Type,
                Some(E::Type),
            ),
        ];
        for (case, token, verify_says, inspect_says) in cases {
            assert_eq!(
                verify(&token, &ring, &validation()),
                Err(verify_says),
                "verify: {case}"
            );
            let inspected = inspect(&token, &ring, &validation());
            match inspect_says {
                Some(err) => assert_eq!(inspected, Err(err), "inspect: {case}"),
                None => assert!(inspected.is_ok(), "inspect: {case}: {inspected:?}"),
            }
        }
    }

    #[test]
    fn claims_and_times_are_checked() {
        let ring = our_ring();
        let ours = k1(&ring);
        let set = |name: &'static str, value: Value| {
            let body = payload_with(|c| {
                c.insert(name.into(), value);
            });
            signed(ours, &header("k1"), &body)
        };
        let without = |name: &'static str| {
            let body = payload_with(|c| {
                c.remove(name);
            });
            signed(ours, &header("k1"), &body)
        };
        let claims_error = |reason: &str| Err(TokenError::Claims(reason.into()));
        use TokenError as E;
        use serde_json::json;
        let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
            (
                "expired beyond the leeway",
                set("exp", json!(NOW - 31)),
                Err(E::Expired),
            ),
            (
                "expired exactly the leeway ago",
                set("exp", json!(NOW - 30)),
                Err(E::Expired),
            ),
            (
                "expired within the leeway",
                set("exp", json!(NOW - 29)),
                Ok(()),
            ),
            (
                "expires now, within the leeway",
                set("exp", json!(NOW)),
                Ok(()),
            ),
            (
                "exp at i64::MIN",
                set("exp", json!(i64::MIN)),
                Err(E::Expired),
            ),
            ("exp at i64::MAX", set("exp", json!(i64::MAX)), Ok(())),
            (
                "nbf beyond the leeway",
                set("nbf", json!(NOW + 31)),
                Err(E::NotYetValid),
            ),
            ("nbf within the leeway", set("nbf", json!(NOW + 30)), Ok(())),
            ("nbf in the past", set("nbf", json!(NOW - 60)), Ok(())),
            (
                "nbf at i64::MAX",
                set("nbf", json!(i64::MAX)),
                Err(E::NotYetValid),
            ),
            (
                "iat beyond the leeway",
                set("iat", json!(NOW + 31)),
                Err(E::NotYetValid),
            ),
            ("iat within the leeway", set("iat", json!(NOW + 30)), Ok(())),
            (
                "wrong iss",
                set("iss", json!("https://evil.test")),
                Err(E::Issuer),
            ),
            (
                "iss differs in case",
                set("iss", json!(ISS.to_uppercase())),
                Err(E::Issuer),
            ),
            (
                "wrong aud",
                set("aud", json!("other-api")),
                Err(E::Audience),
            ),
            (
                "aud array containing ours",
                set("aud", json!(["other-api", AUD])),
                Ok(()),
            ),
            (
                "aud array without ours",
                set("aud", json!(["other-api"])),
                Err(E::Audience),
            ),
            ("aud empty array", set("aud", json!([])), Err(E::Audience)),
            (
                "aud array with a number",
                set("aud", json!([AUD, 1])),
                claims_error("`aud` must hold only strings"),
            ),
            (
                "aud a number",
                set("aud", json!(1)),
                claims_error("`aud` must be a string or an array of strings"),
            ),
            (
                "aud missing",
                without("aud"),
                claims_error("`aud` is missing"),
            ),
            (
                "sub missing",
                without("sub"),
                claims_error("`sub` is missing"),
            ),
            (
                "sub a number",
                set("sub", json!(42)),
                claims_error("`sub` must be a non-empty string"),
            ),
            (
                "sub empty",
                set("sub", json!("")),
                claims_error("`sub` must be a non-empty string"),
            ),
            (
                "org missing",
                without("org"),
                claims_error("`org` is missing"),
            ),
            (
                "role missing",
                without("role"),
                claims_error("`role` is missing"),
            ),
            (
                "sid missing",
                without("sid"),
                claims_error("`sid` is missing"),
            ),
            (
                "jti missing",
                without("jti"),
                claims_error("`jti` is missing"),
            ),
            (
                "iss missing",
                without("iss"),
                claims_error("`iss` is missing"),
            ),
            (
                "iat missing",
                without("iat"),
                claims_error("`iat` is missing"),
            ),
            (
                "exp missing",
                without("exp"),
                claims_error("`exp` is missing"),
            ),
            (
                "exp a string",
                set("exp", json!((NOW + 900).to_string())),
                claims_error("`exp` must be an integer"),
            ),
            (
                "exp a fraction",
                set("exp", json!(NOW as f64 + 900.5)),
                claims_error("`exp` must be an integer"),
            ),
            (
                "exp beyond i64",
                set("exp", json!(u64::MAX)),
                claims_error("`exp` must be an integer"),
            ),
            (
                "nbf null",
                set("nbf", Value::Null),
                claims_error("`nbf` must be an integer"),
            ),
            (
                "unknown claims are ignored",
                set("admin", json!(true)),
                Ok(()),
            ),
        ];
        for (case, token, expected) in cases {
            let got = verify(&token, &ring, &validation()).map(|_| ());
            assert_eq!(got, expected, "{case}");
        }
    }

    #[test]
    fn accepted_header_variants() {
        let ring = our_ring();
        let ours = k1(&ring);
        let body = payload();
        let jwk = format!(
            r#""jwk":{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
            b64(&attacker().pk[..])
        );
        let k2 = &ring.find("k2").unwrap().pair;
        let cases = [
            (
                "typ upper case",
                r#"{"alg":"EdDSA","typ":"AT+JWT","kid":"k1"}"#.to_owned(),
            ),
            (
                "typ with the media type prefix",
                r#"{"alg":"EdDSA","typ":"application/at+jwt","kid":"k1"}"#.to_owned(),
            ),
            (
                "members in another order",
                r#"{"kid":"k1","typ":"at+jwt","alg":"EdDSA"}"#.to_owned(),
            ),
            (
                "jwk pointing to another key (ignored)",
                format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"k1",{jwk}}}"#),
            ),
            (
                "jku, x5u and x5c (ignored)",
                r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1","jku":"https://evil.test/k","x5u":"https://evil.test/c","x5c":["MIIB"]}"#.to_owned(),
            ),
            (
                "the second key of the ring",
                r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k2"}"#.to_owned(),
            ),
        ];
        for (case, header) in cases {
            let pair = if header.contains(r#""kid":"k2""#) {
                k2
            } else {
                ours
            };
            let token = signed(pair, &header, &body);
            assert_eq!(verify(&token, &ring, &validation()), Ok(claims()), "{case}");
        }
    }

    #[test]
    fn rotation() {
        let old_first = ring(&[("k1", 1), ("k2", 2)]);
        let new_first = ring(&[("k2", 2), ("k1", 1)]);
        let old_dropped = ring(&[("k2", 2)]);
        assert_eq!(old_first.signing_kid(), "k1");
        assert_eq!(new_first.signing_kid(), "k2");

        let by_k1 = mint(&old_first, &claims());
        let by_k2 = mint(&new_first, &claims());
        // During the rotation both keys verify on every ring that holds them.
        for (case, ring, token) in [
            ("k1 token, k1 first", &old_first, &by_k1),
            ("k2 token, k1 first", &old_first, &by_k2),
            ("k1 token, k2 first", &new_first, &by_k1),
            ("k2 token, k2 first", &new_first, &by_k2),
            ("k2 token, k1 dropped", &old_dropped, &by_k2),
        ] {
            assert_eq!(verify(token, ring, &validation()), Ok(claims()), "{case}");
        }
        assert_eq!(
            verify(&by_k1, &old_dropped, &validation()),
            Err(TokenError::UnknownKey)
        );
        // A ring that reuses a kid for another key refuses the old tokens.
        let reused = ring(&[("k1", 9)]);
        assert_eq!(
            verify(&by_k1, &reused, &validation()),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn jwks_publishes_the_public_keys_only() {
        let ring = our_ring();
        let set = jwks(&ring);
        let keys = set["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        for (key, kid) in keys.iter().zip(["k1", "k2"]) {
            let object = key.as_object().unwrap();
            let mut members: Vec<&str> = object.keys().map(String::as_str).collect();
            members.sort_unstable();
            assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x"], "{kid}");
            assert_eq!(key["kty"], "OKP");
            assert_eq!(key["crv"], "Ed25519");
            assert_eq!(key["alg"], "EdDSA");
            assert_eq!(key["use"], "sig");
            assert_eq!(key["kid"], kid);
            let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
            assert_eq!(x, &ring.find(kid).unwrap().pair.pk[..]);
        }

        // A third party holding only the JWKS can check our signature.
        let token = mint(&ring, &claims());
        let (input, signature) = token.rsplit_once('.').unwrap();
        let x = URL_SAFE_NO_PAD
            .decode(keys[0]["x"].as_str().unwrap())
            .unwrap();
        let public = ed25519_compact::PublicKey::from_slice(&x).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        public.verify(input.as_bytes(), &signature).unwrap();
    }

    #[test]
    fn key_ring_parsing() {
        let good = entry("k1", 1);
        let seed_text = good.split_once(':').unwrap().1.to_owned();
        let long_kid = "k".repeat(64);
        let ok_cases = [
            (good.clone(), vec!["k1"], "one key"),
            (
                format!("{},{}", entry("new", 2), entry("old", 1)),
                vec!["new", "old"],
                "two keys, first signs",
            ),
            (
                format!(" {} ,\n{}\n", entry("a", 1), entry("b", 2)),
                vec!["a", "b"],
                "whitespace around entries",
            ),
            (entry(&long_kid, 1), vec![&*long_kid], "64-character kid"),
            (
                entry("2025-01.key_A", 3),
                vec!["2025-01.key_A"],
                "kid punctuation",
            ),
        ];
        for (text, kids, case) in ok_cases {
            let ring = KeyRing::parse(&Secret::new(text)).unwrap();
            assert_eq!(ring.kids().collect::<Vec<_>>(), kids, "{case}");
            assert_eq!(ring.signing_kid(), kids[0], "{case}");
        }

        let bad_cases = [
            (String::new(), "it is empty"),
            ("  ".into(), "it is empty"),
            (format!("{good},"), "entry 2 is empty"),
            (format!(",{good}"), "entry 1 is empty"),
            (seed_text.clone(), "entry 1 is not `kid:key`"),
            (format!(":{seed_text}"), "entry 1: the kid must be"),
            (format!("k 1:{seed_text}"), "entry 1: the kid must be"),
            (format!("../k1:{seed_text}"), "entry 1: the kid must be"),
            (
                format!("{}:{seed_text}", "k".repeat(65)),
                "entry 1: the kid must be",
            ),
            (
                format!("k1:{seed_text}:x"),
                "entry 1 (kid `k1`): the key must be 32 bytes",
            ),
            ("k1:".into(), "entry 1 (kid `k1`): the key must be 32 bytes"),
            (
                format!("k1:{seed_text}="),
                "entry 1 (kid `k1`): the key must be 32 bytes",
            ),
            (format!("k1:{}", b64([1; 31])), "the key must be 32 bytes"),
            (format!("k1:{}", b64([1; 33])), "the key must be 32 bytes"),
            (format!("k1:{}", b64([1; 64])), "the key must be 32 bytes"),
            (
                format!(
                    "k1:{}",
                    base64::engine::general_purpose::STANDARD.encode([0xfb; 32])
                ),
                "the key must be 32 bytes",
            ),
            (format!("k1:{}", b64([0; 32])), "must not be all zeros"),
            (
                format!("{good},{}", entry("k1", 2)),
                "entry 2: kid `k1` appears twice",
            ),
        ];
        for (text, reason) in bad_cases {
            let err = KeyRing::parse(&Secret::new(text.clone())).unwrap_err();
            let message = err.to_string();
            assert_eq!(err.status(), 500, "{text:?}");
            assert!(message.contains("`jwt_keys`"), "{message}");
            assert!(message.contains(reason), "{text:?}: {message}");
            assert!(
                !message.contains(&seed_text),
                "key material leaked: {message}"
            );
        }
    }

    #[test]
    fn from_source_reads_jwt_keys() {
        let source = config::MapSource::new(&[("jwt_keys", &entry("k1", 1))]);
        assert_eq!(KeyRing::from_source(&source).unwrap().signing_kid(), "k1");
        let empty = config::MapSource::new(&[]);
        assert_eq!(KeyRing::from_source(&empty).unwrap_err().status(), 500);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let text = format!("{},{}", entry("k1", 1), entry("k2", 2));
        let ring = KeyRing::parse(&Secret::new(text.clone())).unwrap();
        let debug = format!("{ring:?}");
        assert!(debug.contains("k1") && debug.contains("k2"), "{debug}");
        for entry in text.split(',') {
            let seed = entry.split_once(':').unwrap().1;
            assert!(!debug.contains(seed), "{debug}");
        }
        let public = b64(&ring.find("k1").unwrap().pair.pk[..]);
        assert!(!debug.contains(&public), "{debug}");
        assert!(!debug.contains("[1, 1, 1"), "{debug}");
    }

    #[test]
    fn digest_is_hex_sha256_of_the_token() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = good_token();
        let digest = token_digest(&token);
        assert_eq!(digest.len(), 64);
        assert!(
            digest
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );
        assert_ne!(digest, token_digest(&format!("{token}x")));
    }

    #[test]
    fn every_error_is_a_401() {
        let all = [
            TokenError::Malformed,
            TokenError::Algorithm,
            TokenError::Type,
            TokenError::UnknownKey,
            TokenError::Signature,
            TokenError::Claims("`sub` is missing".into()),
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::Issuer,
            TokenError::Audience,
        ];
        for err in all {
            let text = err.to_string();
            let err: Error = err.into();
            assert_eq!(err, Error::Unauthorized, "{text}");
            assert_eq!(err.status(), 401, "{text}");
        }
    }

    #[test]
    fn mangled_tokens_never_panic() {
        let ring = our_ring();
        let token = good_token();
        // Every prefix, and every position replaced by characters that matter to the parser.
        for end in 0..=token.len() {
            assert!(verify(&token[..end], &ring, &validation()).is_err() || end == token.len());
        }
        for (i, _) in token.char_indices() {
            for replacement in [".", "=", "A", "_", "é", "", ".."] {
                let mangled = format!("{}{replacement}{}", &token[..i], &token[i + 1..]);
                let _ = verify(&mangled, &ring, &validation());
            }
        }
        // Pseudo-random bytes as segments (xorshift, so the test is repeatable).
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..300 {
            let mut segment = |len: usize| {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        state.to_le_bytes()[0]
                    })
                    .collect();
                b64(bytes)
            };
            let junk = format!("{}.{}.{}", segment(40), segment(120), segment(64));
            assert!(verify(&junk, &ring, &validation()).is_err());
        }
    }
}
