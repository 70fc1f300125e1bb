//! The caller's own session: `GET /v1/auth/me`, `POST /v1/auth/logout`.

use plinth_platform::auth::Credentials;
use plinth_platform::{Error, HandlerResult, Param, RequestCtx, Response, json};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LogoutBody {
    scope: Option<String>,
}

/// Which sessions a logout ends.
enum Scope {
    /// This token's session.
    Session,
    /// Every session of the user.
    All,
    /// Every session of the user but this one.
    Others,
}

impl Scope {
    fn parse(value: Option<&str>) -> Result<Self, Error> {
        match value {
            None | Some("session") => Ok(Self::Session),
            Some("all") => Ok(Self::All),
            Some("others") => Ok(Self::Others),
            Some(_) => Err(Error::field("scope", "must be session, all or others")),
        }
    }

    fn sql(&self) -> &'static str {
        match self {
            Self::Session => {
                "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL"
            }
            Self::All => END_ALL,
            Self::Others => END_OTHERS,
        }
    }
}

/// Ends every session of the user `$1` (a password reset, `logout` `all`).
pub const END_ALL: &str =
    "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL";

/// Ends every session of the user `$1` but `$2` (a password change,
/// `logout` `others`).
pub const END_OTHERS: &str =
    "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL";

/// `POST /v1/auth/logout`: 204; from then on the tokens of the ended
/// sessions are refused by every component (they check the session on
/// every request).
pub fn logout(ctx: &RequestCtx) -> HandlerResult {
    let credentials = Credentials::from_request(ctx)?;
    let body: LogoutBody = if ctx.body().is_empty() {
        LogoutBody::default()
    } else {
        ctx.json()?
    };
    let scope = Scope::parse(body.scope.as_deref())?;
    let db = ctx.db()?;
    let caller = db.confirm(&credentials)?;
    let user = Param::from(caller.user());
    let params = match scope {
        Scope::All => vec![user],
        Scope::Session | Scope::Others => vec![user, Param::from(caller.session())],
    };
    db.execute(scope.sql(), &params)?;
    Ok(Response::empty(204))
}

#[derive(Serialize, Deserialize)]
struct Me {
    user: serde_json::Value,
    org: serde_json::Value,
}

#[derive(Serialize)]
struct MeView {
    user: serde_json::Value,
    org: serde_json::Value,
    role: &'static str,
    session_id: String,
}

const ME: &str = "SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name, \
     'email_verified', u.email_verified_at IS NOT NULL) AS user, \
     json_build_object('id', o.id, 'name', o.name, 'slug', o.slug) AS org \
     FROM users u, org o WHERE o.id = $1 AND u.id = $2";

/// `GET /v1/auth/me`: the user (with `email_verified`), the org of the
/// token and the role there now.
pub fn me(ctx: &RequestCtx) -> HandlerResult {
    let credentials = Credentials::from_request(ctx)?;
    let (caller, rows) =
        ctx.db()?
            .member_read::<Me>(&credentials, ME, &[Param::from(credentials.user())])?;
    let me = rows.into_iter().next().ok_or(Error::NotFound)?;
    Ok(json(
        200,
        &MeView {
            user: me.user,
            org: me.org,
            role: caller.role().as_str(),
            session_id: caller.session().to_string(),
        },
    )?
    .with_header("cache-control", "no-store"))
}
