//! Domain newtypes: each has a private field and `parse` as its only
//! constructor, so code below a handler never takes a raw `String`.

mod address;
pub mod country;
pub mod currency;
mod email;
pub mod id;
mod name;
pub(crate) mod org_id;
mod slug;

pub use address::{Address, trimmed};
pub use currency::Currency;
pub use email::Email;
pub use id::{CompanyId, FileId, Id, InvitationId, Kind, OrgRef, PartnerId, SessionId, UserId};
pub use name::Name;
pub use org_id::OrgId;
pub use slug::Slug;
