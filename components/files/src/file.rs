//! A file as the routes show it ([`File`], the row every statement
//! returns), the attachment a client may give ([`Attachment`]) and the
//! file id of a path.

use plinth_platform::domain::FileId;
use plinth_platform::{Error, Keyed, Param, RequestCtx, TenantTx};
use serde::{Deserialize, Serialize};

/// The columns of a [`File`], for every statement that returns one.
macro_rules! columns {
    () => {
        "id, name, size, content_type, sha256, entity_type, entity_id, created_at"
    };
}
pub(crate) use columns;

/// A file row. `sha256` is null for a presigned upload (its bytes never
/// pass through the component).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct File {
    pub id: String,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub sha256: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub created_at: String,
}

impl Keyed for File {
    fn sort_key(&self) -> String {
        self.created_at.clone()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
}

/// The file id of the route's `:id`; a malformed one is no file (404),
/// like another org's.
pub fn path_id(ctx: &RequestCtx) -> Result<FileId, Error> {
    FileId::parse(ctx.param("id")?).map_err(|_| Error::NotFound)
}

/// The business record a file is attached to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    kind: Option<&'static str>,
    id: Option<String>,
}

impl Attachment {
    /// Both or neither of `entity_type` (`company` | `partner`) and
    /// `entity_id` (a UUID); 422 naming the one at fault.
    pub fn parse(kind: Option<&str>, id: Option<&str>) -> Result<Self, Error> {
        let kind = match kind {
            None => None,
            Some("company") => Some("company"),
            Some("partner") => Some("partner"),
            Some(_) => return Err(Error::field("entity_type", "must be company or partner")),
        };
        let id = id
            .map(|id| {
                plinth_platform::domain::CompanyId::parse(id)
                    .map(|id| id.as_str().to_owned())
                    .map_err(|_| Error::field("entity_id", "must be a UUID"))
            })
            .transpose()?;
        match (kind, &id) {
            (Some(_), None) => Err(Error::field("entity_id", "is required with entity_type")),
            (None, Some(_)) => Err(Error::field("entity_type", "is required with entity_id")),
            _ => Ok(Self { kind, id }),
        }
    }

    /// From the query (`?entity_type=&entity_id=`).
    pub fn from_query(ctx: &RequestCtx) -> Result<Self, Error> {
        let kind = ctx.query_param("entity_type")?;
        let id = ctx.query_param("entity_id")?;
        Self::parse(kind.as_deref(), id.as_deref())
    }

    /// `[entity_type, entity_id]` as parameters (`$k::text`, `$k::text::uuid`).
    pub fn params(&self) -> [Param; 2] {
        [Param::from(self.kind), Param::from(self.id.clone())]
    }

    /// 422 naming `entity_id` unless the entity is one the caller can see
    /// in this org (row-level security applies: another org's, or a company
    /// outside a limited member's, is "no such" as a missing one is).
    pub fn check(&self, tx: &TenantTx<'_>) -> Result<(), Error> {
        let (Some(kind), Some(id)) = (self.kind, &self.id) else {
            return Ok(());
        };
        let sql = match kind {
            "company" => ENTITY_COMPANY,
            _ => ENTITY_PARTNER,
        };
        let found: Found = tx.fetch_one(sql, &[Param::Text(id.clone())])?;
        if found.found {
            Ok(())
        } else {
            Err(Error::field("entity_id", format!("no such {kind}")))
        }
    }
}

#[derive(Deserialize)]
struct Found {
    found: bool,
}

const ENTITY_COMPANY: &str = "SELECT EXISTS (SELECT 1 FROM companies \
     WHERE org_id = $1 AND id = $2::text::uuid) AS found";
const ENTITY_PARTNER: &str = "SELECT EXISTS (SELECT 1 FROM partners \
     WHERE org_id = $1 AND id = $2::text::uuid) AS found";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments() {
        let id = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
        assert_eq!(
            Attachment::parse(None, None).unwrap(),
            Attachment::default()
        );
        assert!(Attachment::parse(Some("company"), Some(id)).is_ok());
        let cases = [
            (Some("user"), Some(id), "entity_type"),
            (Some("partner"), None, "entity_id"),
            (None, Some(id), "entity_type"),
            (Some("company"), Some("x"), "entity_id"),
        ];
        for (kind, eid, field) in cases {
            match Attachment::parse(kind, eid).unwrap_err() {
                Error::Validation(errors) => assert_eq!(errors[0].field, field),
                other => panic!("{other:?}"),
            }
        }
    }
}
