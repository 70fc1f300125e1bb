//! Domain newtypes: each has a private field and `parse` as its only
//! constructor, so code below a handler never takes a raw `String`.

mod org_id;
mod slug;

pub use org_id::OrgId;
pub use slug::Slug;
