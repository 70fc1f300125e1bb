//! [`Param`]: one query parameter, one variant per Postgres type it binds to.

use crate::domain::{OrgId, Slug};
use crate::error::Error;

/// One query parameter. Each kind binds only to its own Postgres type.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// `text`, `varchar`, `citext` only.
    Text(String),
    /// `uuid` (canonical string form).
    Uuid(String),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float64(f64),
    Bool(bool),
    /// `jsonb` / `json`: the serialized JSON bytes.
    Jsonb(Vec<u8>),
    /// `bytea`.
    Bytes(Vec<u8>),
    /// `timestamptz` as seconds since the Unix epoch.
    Timestamp(i64),
    /// `text[]`.
    TextArray(Vec<Option<String>>),
    /// SQL NULL; binds to every type.
    Null,
}

impl Param {
    /// A `jsonb` parameter from any serializable value.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        serde_json::to_vec(value)
            .map(Self::Jsonb)
            .map_err(|err| Error::internal_from("serialize a jsonb parameter", &err))
    }
}

macro_rules! param_from {
    ($($ty:ty => |$v:ident| $e:expr;)*) => {
        $(impl From<$ty> for Param {
            fn from($v: $ty) -> Self { $e }
        })*
    };
}

param_from! {
    &str => |v| Param::Text(v.to_owned());
    String => |v| Param::Text(v);
    &String => |v| Param::Text(v.clone());
    i16 => |v| Param::Int16(v);
    i32 => |v| Param::Int32(v);
    i64 => |v| Param::Int64(v);
    f64 => |v| Param::Float64(v);
    bool => |v| Param::Bool(v);
    OrgId => |v| Param::Uuid(v.to_string());
    &OrgId => |v| Param::Uuid(v.to_string());
    &Slug => |v| Param::Text(v.as_str().to_owned());
    serde_json::Value => |v| Param::Jsonb(v.to_string().into_bytes());
    Vec<String> => |v| Param::TextArray(v.into_iter().map(Some).collect());
}

impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(value: Option<T>) -> Self {
        value.map_or(Param::Null, Into::into)
    }
}
