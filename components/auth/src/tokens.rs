//! Issuing tokens: short-lived EdDSA access tokens whose digest the session
//! row keeps (so every component recognises them), and opaque refresh tokens
//! kept as digests, each rotation's successor derived from its predecessor
//! so that parallel refreshes of one token agree on it.

use hmac::{Hmac, Mac};
use plinth_platform::config::Secret;
use plinth_platform::domain::{OrgId, SessionId, UserId};
use plinth_platform::token::{self, AccessClaims, KeyRing};
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, Response, Tx};
use serde::Serialize;
use sha2::Sha256;

/// Access token lifetime.
pub const ACCESS_TTL_SECS: i64 = 900;
/// Refresh token (and session) lifetime.
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;

/// What a client gets: the OAuth 2.0 token response fields.
#[derive(Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
}

/// The keys and names every issuing handler needs.
pub struct Issuer {
    ring: KeyRing,
    secret: Secret,
    issuer: String,
    audience: String,
}

impl Issuer {
    pub fn from_request(ctx: &RequestCtx) -> Result<Self, Error> {
        let config = ctx.config();
        Ok(Self {
            ring: KeyRing::from_source(config)?,
            secret: config.secret("token_secret")?,
            issuer: config.get("jwt_issuer")?,
            audience: config.get("jwt_audience")?,
        })
    }

    /// The access token for these facts. Ed25519 signatures are
    /// deterministic, so the same facts give the same token.
    pub fn access_token(&self, grant: &Grant, iat: i64) -> String {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: grant.user.to_string(),
            org: grant.org.to_string(),
            role: grant.role.clone(),
            sid: grant.session.to_string(),
            jti: hex::encode(&sha2_of(&format!("{}:{iat}", grant.session))[..16]),
            iat,
            exp: iat + ACCESS_TTL_SECS,
            nbf: None,
        };
        token::mint(&self.ring, &claims)
    }

    /// The refresh token that replaces `token` when it is rotated: an HMAC
    /// of it, so every request rotating the same token computes the same one.
    pub fn successor(&self, token: &str) -> Result<String, Error> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .map_err(|_| Error::internal("token_secret cannot key an HMAC"))?;
        mac.update(b"refresh-successor:");
        mac.update(token.as_bytes());
        Ok(format!("plr_{}", hex::encode(mac.finalize().into_bytes())))
    }

    pub fn jwks(&self) -> serde_json::Value {
        token::jwks(&self.ring)
    }
}

/// Who a token is for.
pub struct Grant {
    pub user: UserId,
    pub org: OrgId,
    pub session: SessionId,
    pub role: String,
}

fn sha2_of(text: &str) -> Vec<u8> {
    use sha2::Digest;
    Sha256::digest(text.as_bytes()).to_vec()
}

/// A new random refresh token.
pub fn new_refresh_token(ctx: &RequestCtx) -> Result<String, Error> {
    Ok(format!("plr_{}", hex::encode(ctx.random::<32>()?)))
}

const INSERT_SESSION: &str = "INSERT INTO sessions (id, user_id, org_id, access_digest, expires_at) \
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))";

const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (digest, session_id, expires_at) \
     VALUES ($1, $2, now() + make_interval(secs => $3))";

/// Opens a session for `grant` inside `tx` and returns its tokens.
pub fn open_session(
    ctx: &RequestCtx,
    tx: &Tx<'_>,
    issuer: &Issuer,
    grant: &Grant,
) -> Result<Tokens, Error> {
    let access_token = issuer.access_token(grant, ctx.now());
    let refresh_token = new_refresh_token(ctx)?;
    tx.execute(
        INSERT_SESSION,
        &[
            Param::from(grant.session),
            Param::from(grant.user),
            Param::from(grant.org),
            Param::Text(token::token_digest(&access_token)),
            Param::Float64(REFRESH_TTL_SECS as f64),
        ],
    )?;
    tx.execute(
        INSERT_REFRESH,
        &[
            Param::Text(token::token_digest(&refresh_token)),
            Param::from(grant.session),
            Param::Float64(REFRESH_TTL_SECS as f64),
        ],
    )?;
    Ok(Tokens {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        refresh_token,
    })
}

/// `GET /.well-known/jwks.json`: the public keys that verify access tokens.
pub fn jwks(ctx: &RequestCtx) -> HandlerResult {
    let jwks = Issuer::from_request(ctx)?.jwks();
    Ok(plinth_platform::json(200, &jwks)?.with_header("cache-control", "public, max-age=300"))
}

/// A response that must not be cached (it carries tokens).
pub fn no_store(response: Response) -> Response {
    response
        .with_header("cache-control", "no-store")
        .with_header("pragma", "no-cache")
}
