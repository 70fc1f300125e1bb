//! The one permission registry: what each route needs ([`Permission`]),
//! what each [`Role`] holds by default, and an org's own configuration of
//! its non-owner roles ([`PermissionSet`], stored in `org.role_permissions`).
//!
//! Every route names the permission it needs when it asks for its caller
//! (`ctx.tenant_read(Permission::CompaniesRead, …)`); nothing else checks
//! roles, except the rules between people: nobody grants a role above their
//! own, and only an owner grants or removes `owner`.
//!
//! **Architecture Invariant**: owners hold every permission whatever an
//! org configures, and an org always has an owner, so no configuration can
//! lock an org out of its own administration. The permissions marked
//! [`Permission::owner_only`] cannot be given to another role at all.

use std::fmt;

use crate::error::{Error, FieldError};

/// A member's role in an org, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];
    /// The roles whose permissions an org may configure.
    pub const CONFIGURABLE: [Role; 3] = [Role::Admin, Role::Member, Role::Viewer];

    /// Parses `owner`, `admin`, `member` or `viewer` (422 on `role` otherwise).
    pub fn parse(value: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == value)
            .ok_or_else(|| Error::field("role", "must be owner, admin, member or viewer"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Viewer => "viewer",
        }
    }

    /// What this role holds in an org that did not configure it.
    pub fn defaults(self) -> PermissionSet {
        Permission::ALL
            .into_iter()
            .filter(|permission| self >= permission.least_role())
            .collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Permission {
    OrgRead,
    OrgUpdate,
    OrgDelete,
    MembersRead,
    MembersManage,
    PermissionsManage,
    AuditRead,
    CompaniesRead,
    CompaniesWrite,
    CompaniesDelete,
    PartnersRead,
    PartnersWrite,
    PartnersDelete,
    FilesRead,
    FilesWrite,
    FilesDelete,
}

impl Permission {
    /// Every permission, in the order the API lists them.
    pub const ALL: [Permission; 16] = [
        Self::OrgRead,
        Self::OrgUpdate,
        Self::OrgDelete,
        Self::MembersRead,
        Self::MembersManage,
        Self::PermissionsManage,
        Self::AuditRead,
        Self::CompaniesRead,
        Self::CompaniesWrite,
        Self::CompaniesDelete,
        Self::PartnersRead,
        Self::PartnersWrite,
        Self::PartnersDelete,
        Self::FilesRead,
        Self::FilesWrite,
        Self::FilesDelete,
    ];

    /// The name the API and `org.role_permissions` use.
    pub fn name(self) -> &'static str {
        match self {
            Self::OrgRead => "org.read",
            Self::OrgUpdate => "org.update",
            Self::OrgDelete => "org.delete",
            Self::MembersRead => "members.read",
            Self::MembersManage => "members.manage",
            Self::PermissionsManage => "permissions.manage",
            Self::AuditRead => "audit.read",
            Self::CompaniesRead => "companies.read",
            Self::CompaniesWrite => "companies.write",
            Self::CompaniesDelete => "companies.delete",
            Self::PartnersRead => "partners.read",
            Self::PartnersWrite => "partners.write",
            Self::PartnersDelete => "partners.delete",
            Self::FilesRead => "files.read",
            Self::FilesWrite => "files.write",
            Self::FilesDelete => "files.delete",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The weakest role that holds this permission by default (stronger
    /// roles hold it too): viewers read, members create and change business
    /// data, admins delete it and run the org, owners alone delete the org
    /// and configure permissions.
    pub fn least_role(self) -> Role {
        match self {
            Self::OrgRead
            | Self::MembersRead
            | Self::CompaniesRead
            | Self::PartnersRead
            | Self::FilesRead => Role::Viewer,
            Self::CompaniesWrite | Self::PartnersWrite | Self::FilesWrite => Role::Member,
            Self::OrgUpdate
            | Self::MembersManage
            | Self::AuditRead
            | Self::CompaniesDelete
            | Self::PartnersDelete
            | Self::FilesDelete => Role::Admin,
            Self::OrgDelete | Self::PermissionsManage => Role::Owner,
        }
    }

    /// Held by owners only, whatever an org configures.
    pub fn owner_only(self) -> bool {
        matches!(self, Self::OrgDelete | Self::PermissionsManage)
    }

    fn bit(self) -> u32 {
        1 << self as u8
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub fn all() -> Self {
        Permission::ALL.into_iter().collect()
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::name).collect()
    }

    /// What `role` holds in an org: owners everything; another role its
    /// org's configuration (`configured`, the comma-separated names stored
    /// for it) or, when there is none, its defaults. Unknown names (a
    /// permission no longer in the registry) and owner-only ones are
    /// ignored.
    pub fn held_by(role: Role, configured: Option<&str>) -> Self {
        match (role, configured) {
            (Role::Owner, _) => Self::all(),
            (_, None) => role.defaults(),
            (_, Some(names)) => names
                .split(',')
                .filter_map(Permission::from_name)
                .filter(|p| !p.owner_only())
                .collect(),
        }
    }

    /// An owner's configuration of one role, from the API: every name must
    /// be in the registry and not owner-only (422 naming `field` and the
    /// index otherwise).
    pub fn parse_configured(field: &str, names: &[String]) -> Result<Self, Error> {
        let mut set = Self::default();
        let mut errors = Vec::new();
        for (index, name) in names.iter().enumerate() {
            match Permission::from_name(name) {
                Some(p) if p.owner_only() => errors.push(FieldError::new(
                    format!("{field}[{index}]"),
                    format!("{name} is held by owners only"),
                )),
                Some(p) => set = set.with(p),
                None => errors.push(FieldError::new(
                    format!("{field}[{index}]"),
                    format!("unknown permission {name:?}"),
                )),
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(Error::Validation(errors))
        }
    }

    pub fn with(self, permission: Permission) -> Self {
        Self(self.0 | permission.bit())
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        iter.into_iter().fold(Self::default(), Self::with)
    }
}

/// What the database's credential check (`plinth_confirm`, migration 0003)
/// answered for a caller with a membership: `role|permissions|budget`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub permissions: PermissionSet,
    /// The org's request budget per minute, when it set one.
    pub budget: Option<u32>,
}

impl Grant {
    /// Parses the check's answer; a bare role (the check before 0003) holds
    /// its defaults.
    pub fn parse(answer: &str) -> Result<Self, Error> {
        let mut parts = answer.split('|');
        let role = parts.next().unwrap_or_default();
        let role = Role::parse(role)
            .map_err(|_| Error::internal(format!("a membership has an unknown role {role:?}")))?;
        let configured = parts.next().filter(|names| !names.is_empty());
        let budget = parts
            .next()
            .filter(|budget| !budget.is_empty())
            .and_then(|budget| budget.parse::<u32>().ok())
            .filter(|budget| *budget > 0);
        Ok(Self {
            role,
            permissions: PermissionSet::held_by(role, configured),
            budget,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_table() {
        use Permission::*;
        let cases = [
            (Role::Viewer, OrgRead, true),
            (Role::Viewer, CompaniesWrite, false),
            (Role::Member, CompaniesWrite, true),
            (Role::Member, CompaniesDelete, false),
            (Role::Admin, CompaniesDelete, true),
            (Role::Admin, MembersManage, true),
            (Role::Admin, OrgDelete, false),
            (Role::Admin, PermissionsManage, false),
            (Role::Owner, OrgDelete, true),
        ];
        for (role, permission, want) in cases {
            assert_eq!(
                role.defaults().contains(permission),
                want,
                "{role} {permission}"
            );
        }
        for p in Permission::ALL {
            assert_eq!(Permission::from_name(p.name()), Some(p));
        }
        assert_eq!(Role::parse("admin").unwrap(), Role::Admin);
        assert_eq!(Role::parse("Admin").unwrap_err().status(), 422);
    }

    #[test]
    fn grants_from_the_database() {
        let admin = Grant::parse("admin||").unwrap();
        assert_eq!(admin.permissions, Role::Admin.defaults());
        assert_eq!(admin.budget, None);

        let configured =
            Grant::parse("viewer|org.read,companies.write,org.delete,gone|120").unwrap();
        assert_eq!(
            configured.permissions.names(),
            ["org.read", "companies.write"],
            "unknown and owner-only names are ignored"
        );
        assert_eq!(configured.budget, Some(120));

        let owner = Grant::parse("owner|org.read|").unwrap();
        assert_eq!(owner.permissions, PermissionSet::all(), "owners hold all");

        assert_eq!(
            Grant::parse("member").unwrap().permissions,
            Role::Member.defaults()
        );
        assert_eq!(Grant::parse("member||0").unwrap().budget, None);
        assert_eq!(Grant::parse("boss||").unwrap_err().status(), 500);
    }

    #[test]
    fn configuring_a_role_refuses_unknown_and_owner_only_names() {
        let ok = PermissionSet::parse_configured(
            "roles.viewer",
            &["org.read".into(), "files.read".into()],
        )
        .unwrap();
        assert_eq!(ok.names(), ["org.read", "files.read"]);
        let err = PermissionSet::parse_configured(
            "roles.admin",
            &["org.read".into(), "nope".into(), "org.delete".into()],
        )
        .unwrap_err();
        let Error::Validation(errors) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["roles.admin[1]", "roles.admin[2]"]);
    }
}
