//! The tenant-convention lint over the `.up.sql` files of a migration directory.
//!
//! Every table that is not in [`GLOBAL_TABLES`] is a tenant table and must have:
//! `id uuid PRIMARY KEY DEFAULT …` ([`rules::TENANT_ID`]); `org_id uuid NOT NULL
//! REFERENCES org(id) ON DELETE RESTRICT` ([`rules::TENANT_ORG_ID`]); an index or
//! unique constraint leading with `org_id` — the primary key does not count
//! ([`rules::TENANT_ORG_INDEX`]); `created_at`/`updated_at timestamptz NOT NULL DEFAULT
//! …` ([`rules::TENANT_TIMESTAMPS`]); a `BEFORE UPDATE … FOR EACH ROW EXECUTE FUNCTION
//! set_updated_at()` trigger ([`rules::TENANT_UPDATED_AT_TRIGGER`]); composite `(org_id,
//! x)` foreign keys to other tenant tables ([`rules::TENANT_COMPOSITE_FK`]); and row-level
//! security enabled and forced with a policy on `app.org_id` ([`rules::TENANT_RLS`]).
//! For every table: no `timestamp` without time zone ([`rules::NO_TIMESTAMP_WITHOUT_TZ`])
//! and no `serial`-family columns ([`rules::NO_SERIAL`]).
//!
//! The files are read in revision order and the tables modelled across them, so a later
//! `ALTER TABLE … ADD …`, `CREATE INDEX` or `CREATE TRIGGER` counts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use sqlparser::ast::{
    AlterTableOperation, ColumnDef, ColumnOption, CreateIndex, CreateTable, DataType, ObjectName,
    ObjectType, ReferentialAction, Statement, TableConstraint, TimezoneInfo,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::files::read_dir;
use crate::split::split_statements;

/// Tables exempt from the tenant rules (the global rules still apply to them).
pub const GLOBAL_TABLES: &[&str] = &[
    "org",
    "users",
    "sessions",
    "memberships",
    "refresh_tokens",
    "invitations",
    "email_tokens",
    "email_outbox",
    "schema_migrations",
];

/// Index tables: tenant tables derived from another one by its triggers and read only
/// through `SECURITY DEFINER` functions that filter by the request's org themselves
/// (search indexes the planner could not use under forced row-level security). The
/// tenant rules apply, except that row-level security is enabled with no policy and
/// not forced (their owner reads them; nobody else can), and the org reference may
/// cascade (derived rows go with their org).
pub const INDEX_TABLES: &[&str] = &["partner_names", "partner_terms"];

/// Rule names, as printed in findings (the live-schema checks reuse the wording).
pub mod rules {
    pub const TENANT_ID: &str = "tenant-id";
    pub const TENANT_ORG_ID: &str = "tenant-org-id";
    pub const TENANT_ORG_INDEX: &str = "tenant-org-index";
    pub const TENANT_TIMESTAMPS: &str = "tenant-timestamps";
    pub const TENANT_UPDATED_AT_TRIGGER: &str = "tenant-updated-at-trigger";
    pub const TENANT_COMPOSITE_FK: &str = "tenant-composite-fk";
    pub const TENANT_RLS: &str = "tenant-rls";
    pub const NO_TIMESTAMP_WITHOUT_TZ: &str = "no-timestamp-without-tz";
    pub const NO_SERIAL: &str = "no-serial";
    /// A table statement the lint could not read, or an unreadable migration directory.
    pub const UNREADABLE: &str = "unreadable";
    /// Every rule, for listing.
    pub const ALL: &[&str] = &[
        TENANT_ID,
        TENANT_ORG_ID,
        TENANT_ORG_INDEX,
        TENANT_TIMESTAMPS,
        TENANT_UPDATED_AT_TRIGGER,
        TENANT_COMPOSITE_FK,
        TENANT_RLS,
        NO_TIMESTAMP_WITHOUT_TZ,
        NO_SERIAL,
        UNREADABLE,
    ];
}

/// One broken convention: `file:table: rule: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// File name, e.g. `0002_companies.up.sql` (the file that created the table).
    pub file: String,
    pub table: String,
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.table, self.rule, self.message
        )
    }
}

/// Lints every `.up.sql` of `dir` (see the module docs). An unreadable directory or
/// badly named file is itself one finding with rule [`rules::UNREADABLE`].
pub fn lint_dir(dir: impl AsRef<Path>) -> Vec<Finding> {
    let dir = dir.as_ref();
    match read_dir(dir) {
        Ok(files) => {
            let named: Vec<(String, String)> = files
                .into_iter()
                .map(|m| (format!("{}_{}.up.sql", m.revision, m.name), m.up_sql))
                .collect();
            lint_sources(named.iter().map(|(n, s)| (n.as_str(), s.as_str())))
        }
        Err(e) => vec![Finding {
            file: dir.display().to_string(),
            table: String::new(),
            rule: rules::UNREADABLE,
            message: e.to_string(),
        }],
    }
}

/// Lints `(file name, up SQL)` pairs given in revision order.
pub fn lint_sources<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Finding> {
    let mut model = Model::default();
    for (file, sql) in files {
        match split_statements(sql) {
            Ok(stmts) => stmts.iter().for_each(|s| model.statement(file, s)),
            Err(e) => model.finding(file, "", rules::UNREADABLE, e.to_string()),
        }
    }
    model.finish()
}

#[derive(Default)]
struct Table {
    file: String,
    columns: Vec<ColumnDef>,
    constraints: Vec<TableConstraint>,
    /// Column lists of `CREATE INDEX` statements (expressions print as SQL).
    indexes: Vec<Vec<String>>,
    updated_at_trigger: bool,
    rls_enabled: bool,
    rls_forced: bool,
    org_policy: bool,
}

#[derive(Default)]
struct Model {
    tables: BTreeMap<String, Table>,
    findings: Vec<Finding>,
}

fn last_ident(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_lowercase())
        .unwrap_or_default()
}

fn is_global(table: &str) -> bool {
    GLOBAL_TABLES.contains(&table)
}

impl Model {
    fn finding(&mut self, file: &str, table: &str, rule: &'static str, message: String) {
        self.findings.push(Finding {
            file: file.to_owned(),
            table: table.to_owned(),
            rule,
            message,
        });
    }

    fn statement(&mut self, file: &str, sql: &str) {
        let words = leading_words(sql);
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let is_alter_table = w.starts_with(&["ALTER", "TABLE"]);
        let rls = if is_alter_table {
            self.rls_from_tokens(sql)
        } else {
            false
        };
        let parsed = Parser::parse_sql(&PostgreSqlDialect {}, sql);
        let Ok(stmts) = parsed else {
            let table_ddl = is_alter_table
                || w.starts_with(&["CREATE", "TABLE"])
                || w.starts_with(&["CREATE", "UNIQUE", "INDEX"])
                || w.starts_with(&["CREATE", "INDEX"])
                || w.starts_with(&["CREATE", "TRIGGER"])
                || w.starts_with(&["CREATE", "POLICY"]);
            if table_ddl && !rls {
                let e = parsed.err().map(|e| e.to_string()).unwrap_or_default();
                let head: String = sql.chars().take(60).collect();
                self.finding(
                    file,
                    "",
                    rules::UNREADABLE,
                    format!("cannot read `{head}…`: {e}"),
                );
            }
            return;
        };
        for stmt in stmts {
            self.parsed(file, stmt);
        }
    }

    /// `ALTER TABLE [IF EXISTS] [ONLY] t … (ENABLE|FORCE) ROW LEVEL SECURITY` — sqlparser
    /// 0.59 does not know `FORCE`, so this reads the tokens.
    fn rls_from_tokens(&mut self, sql: &str) -> bool {
        let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
            return false;
        };
        let words: Vec<String> = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(w.value.to_lowercase()),
                Token::Comma | Token::Period => Some(String::new()),
                _ => None,
            })
            .collect();
        let mut i = 2;
        for skip in ["if", "exists", "only"] {
            if words.get(i).map(String::as_str) == Some(skip) {
                i += 1;
            }
        }
        // a schema-qualified name: schema . table
        if words.get(i + 1).is_some_and(String::is_empty) && words.get(i + 2).is_some() {
            i += 2;
        }
        let Some(table) = words.get(i).cloned() else {
            return false;
        };
        let mut found = false;
        for win in words.windows(4) {
            if win[1] == "row" && win[2] == "level" && win[3] == "security" {
                let t = self.tables.entry(table.clone()).or_default();
                match win[0].as_str() {
                    "enable" => t.rls_enabled = true,
                    "force" => t.rls_forced = true,
                    _ => continue,
                }
                found = true;
            }
        }
        found
    }

    fn parsed(&mut self, file: &str, stmt: Statement) {
        match stmt {
            Statement::CreateTable(ct) => self.create_table(file, ct),
            Statement::AlterTable {
                name, operations, ..
            } => {
                let table = last_ident(&name);
                for op in operations {
                    match op {
                        AlterTableOperation::AddColumn { column_def, .. } => {
                            self.column_types(file, &table, &column_def);
                            self.tables
                                .entry(table.clone())
                                .or_default()
                                .columns
                                .push(column_def);
                        }
                        AlterTableOperation::AddConstraint { constraint, .. } => {
                            self.tables
                                .entry(table.clone())
                                .or_default()
                                .constraints
                                .push(constraint);
                        }
                        _ => {}
                    }
                }
            }
            Statement::CreateIndex(CreateIndex {
                table_name,
                columns,
                ..
            }) => {
                let cols = columns
                    .iter()
                    .map(|c| c.column.expr.to_string().to_lowercase())
                    .collect();
                self.tables
                    .entry(last_ident(&table_name))
                    .or_default()
                    .indexes
                    .push(cols);
            }
            Statement::CreateTrigger(tr) => {
                use sqlparser::ast::{TriggerEvent, TriggerObject, TriggerPeriod};
                let runs_set_updated_at = tr
                    .exec_body
                    .as_ref()
                    .is_some_and(|b| last_ident(&b.func_desc.name) == "set_updated_at");
                let before_update = tr.period == TriggerPeriod::Before
                    && tr
                        .events
                        .iter()
                        .any(|e| matches!(e, TriggerEvent::Update(cols) if cols.is_empty()))
                    && tr.trigger_object == TriggerObject::Row;
                if runs_set_updated_at && before_update {
                    self.tables
                        .entry(last_ident(&tr.table_name))
                        .or_default()
                        .updated_at_trigger = true;
                }
            }
            Statement::CreatePolicy {
                table_name,
                using,
                with_check,
                ..
            } => {
                let text = format!("{using:?} {with_check:?}");
                if text.contains("app.org_id") {
                    self.tables
                        .entry(last_ident(&table_name))
                        .or_default()
                        .org_policy = true;
                }
            }
            Statement::Drop {
                object_type: ObjectType::Table,
                names,
                ..
            } => {
                for n in names {
                    self.tables.remove(&last_ident(&n));
                }
            }
            _ => {}
        }
    }

    fn create_table(&mut self, file: &str, ct: CreateTable) {
        let table = last_ident(&ct.name);
        for c in &ct.columns {
            self.column_types(file, &table, c);
        }
        let t = self.tables.entry(table).or_default();
        t.file = file.to_owned();
        t.columns = ct.columns;
        t.constraints = ct.constraints;
    }

    fn column_types(&mut self, file: &str, table: &str, c: &ColumnDef) {
        let col = &c.name.value;
        match &c.data_type {
            DataType::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => self
                .finding(
                    file,
                    table,
                    rules::NO_TIMESTAMP_WITHOUT_TZ,
                    format!("column {col} is `timestamp` without time zone; use timestamptz"),
                ),
            DataType::Custom(name, _)
                if matches!(
                    last_ident(name).as_str(),
                    "serial" | "bigserial" | "smallserial" | "serial2" | "serial4" | "serial8"
                ) =>
            {
                self.finding(
                    file,
                    table,
                    rules::NO_SERIAL,
                    format!(
                        "column {col} is {}; ids are `uuid DEFAULT gen_random_uuid()`",
                        last_ident(name)
                    ),
                )
            }
            _ => {}
        }
    }

    fn finish(mut self) -> Vec<Finding> {
        let tables = std::mem::take(&mut self.tables);
        for (name, t) in &tables {
            // Only tables created by these files (not ALTERs of tables defined elsewhere).
            if t.file.is_empty() || is_global(name) {
                continue;
            }
            for (rule, message) in check_tenant_table(t, INDEX_TABLES.contains(&name.as_str())) {
                self.finding(&t.file.clone(), name, rule, message);
            }
        }
        self.findings
    }
}

fn leading_words(sql: &str) -> Vec<String> {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return Vec::new();
    };
    tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .take(3)
        .filter_map(|t| match t {
            Token::Word(w) => Some(w.value.to_uppercase()),
            _ => None,
        })
        .collect()
}

struct Fk {
    columns: Vec<String>,
    table: String,
    referred: Vec<String>,
    on_delete: Option<ReferentialAction>,
}

fn ident_list(ids: &[sqlparser::ast::Ident]) -> Vec<String> {
    ids.iter().map(|i| i.value.to_lowercase()).collect()
}

fn index_cols(cols: &[sqlparser::ast::IndexColumn]) -> Vec<String> {
    cols.iter()
        .map(|c| c.column.expr.to_string().to_lowercase())
        .collect()
}

fn foreign_keys(t: &Table) -> Vec<Fk> {
    let mut out = Vec::new();
    for c in &t.columns {
        for o in &c.options {
            if let ColumnOption::ForeignKey {
                foreign_table,
                referred_columns,
                on_delete,
                ..
            } = &o.option
            {
                out.push(Fk {
                    columns: vec![c.name.value.to_lowercase()],
                    table: last_ident(foreign_table),
                    referred: ident_list(referred_columns),
                    on_delete: *on_delete,
                });
            }
        }
    }
    for k in &t.constraints {
        if let TableConstraint::ForeignKey {
            columns,
            foreign_table,
            referred_columns,
            on_delete,
            ..
        } = k
        {
            out.push(Fk {
                columns: ident_list(columns),
                table: last_ident(foreign_table),
                referred: ident_list(referred_columns),
                on_delete: *on_delete,
            });
        }
    }
    out
}

fn primary_key(t: &Table) -> Vec<String> {
    for c in &t.columns {
        if c.options.iter().any(|o| {
            matches!(
                o.option,
                ColumnOption::Unique {
                    is_primary: true,
                    ..
                }
            )
        }) {
            return vec![c.name.value.to_lowercase()];
        }
    }
    for k in &t.constraints {
        if let TableConstraint::PrimaryKey { columns, .. } = k {
            return index_cols(columns);
        }
    }
    Vec::new()
}

fn column<'t>(t: &'t Table, name: &str) -> Option<&'t ColumnDef> {
    t.columns
        .iter()
        .find(|c| c.name.value.eq_ignore_ascii_case(name))
}

fn has(c: &ColumnDef, f: impl Fn(&ColumnOption) -> bool) -> bool {
    c.options.iter().any(|o| f(&o.option))
}

fn not_null(c: &ColumnDef) -> bool {
    has(c, |o| {
        matches!(
            o,
            ColumnOption::NotNull
                | ColumnOption::Unique {
                    is_primary: true,
                    ..
                }
        )
    })
}

fn has_default(c: &ColumnDef) -> bool {
    has(c, |o| matches!(o, ColumnOption::Default(_)))
}

fn check_tenant_table(t: &Table, index_table: bool) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut fail = |rule, msg: String| out.push((rule, msg));

    // id uuid PRIMARY KEY DEFAULT …
    match column(t, "id") {
        None => fail(
            rules::TENANT_ID,
            "no `id` column; tenant tables have `id uuid PRIMARY KEY DEFAULT gen_random_uuid()`"
                .into(),
        ),
        Some(c) => {
            if c.data_type != DataType::Uuid {
                fail(
                    rules::TENANT_ID,
                    format!("`id` is {}, not uuid", c.data_type),
                );
            }
            if primary_key(t) != ["id"] {
                fail(rules::TENANT_ID, "the primary key is not (id)".into());
            }
            if !has_default(c) {
                fail(
                    rules::TENANT_ID,
                    "`id` has no DEFAULT (use gen_random_uuid())".into(),
                );
            }
        }
    }

    // org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT
    let fks = foreign_keys(t);
    match column(t, "org_id") {
        None => fail(rules::TENANT_ORG_ID, "no `org_id` column; tenant tables have `org_id uuid NOT NULL REFERENCES org(id) ON DELETE RESTRICT`".into()),
        Some(c) => {
            if c.data_type != DataType::Uuid {
                fail(rules::TENANT_ORG_ID, format!("`org_id` is {}, not uuid", c.data_type));
            }
            if !not_null(c) {
                fail(rules::TENANT_ORG_ID, "`org_id` is not NOT NULL".into());
            }
            let to_org = fks.iter().find(|k| {
                k.columns == ["org_id"] && k.table == "org" && (k.referred.is_empty() || k.referred == ["id"])
            });
            match to_org {
                None => fail(rules::TENANT_ORG_ID, "`org_id` does not reference org(id)".into()),
                Some(k)
                    if k.on_delete != Some(ReferentialAction::Restrict)
                        && !(index_table && k.on_delete == Some(ReferentialAction::Cascade)) =>
                {
                    fail(
                    rules::TENANT_ORG_ID,
                        "the org(id) reference is not ON DELETE RESTRICT".into(),
                    )
                }
                Some(_) => {}
            }
        }
    }

    // an index (not the primary key) leading with org_id
    let unique_leads = t.constraints.iter().any(|k| {
        matches!(k, TableConstraint::Unique { columns, .. } if index_cols(columns).first().map(String::as_str) == Some("org_id"))
    });
    let index_leads = t
        .indexes
        .iter()
        .any(|cols| cols.first().map(String::as_str) == Some("org_id"));
    if !unique_leads && !index_leads {
        fail(
            rules::TENANT_ORG_INDEX,
            "no index or unique constraint leads with org_id (e.g. UNIQUE (org_id, id))".into(),
        );
    }

    // created_at / updated_at timestamptz NOT NULL DEFAULT …
    for col in ["created_at", "updated_at"] {
        match column(t, col) {
            None => fail(
                rules::TENANT_TIMESTAMPS,
                format!("no `{col}` column (timestamptz NOT NULL DEFAULT now())"),
            ),
            Some(c) => {
                let tz = matches!(
                    c.data_type,
                    DataType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz)
                );
                if !tz || !not_null(c) || !has_default(c) {
                    fail(
                        rules::TENANT_TIMESTAMPS,
                        format!("`{col}` must be timestamptz NOT NULL DEFAULT now()"),
                    );
                }
            }
        }
    }

    if !t.updated_at_trigger {
        fail(
            rules::TENANT_UPDATED_AT_TRIGGER,
            "no `BEFORE UPDATE … FOR EACH ROW EXECUTE FUNCTION set_updated_at()` trigger".into(),
        );
    }

    // references to other tenant tables carry the org: (org_id, x) → t(org_id, id)
    for k in fks.iter().filter(|k| !is_global(&k.table)) {
        let composite = k.columns.len() >= 2
            && k.columns[0] == "org_id"
            && k.referred.first().map(String::as_str) == Some("org_id");
        if !composite {
            fail(
                rules::TENANT_COMPOSITE_FK,
                format!(
                    "foreign key ({}) → {} must be composite: FOREIGN KEY (org_id, …) REFERENCES {}(org_id, id)",
                    k.columns.join(", "),
                    k.table,
                    k.table
                ),
            );
        }
    }

    if index_table {
        if !t.rls_enabled || t.rls_forced || t.org_policy {
            fail(
                rules::TENANT_RLS,
                "an index table has row-level security enabled, not forced, with no policy".into(),
            );
        }
        return out;
    }
    let mut rls_missing = Vec::new();
    if !t.rls_enabled {
        rls_missing.push("ENABLE ROW LEVEL SECURITY");
    }
    if !t.rls_forced {
        rls_missing.push("FORCE ROW LEVEL SECURITY");
    }
    if !t.org_policy {
        rls_missing.push("a policy on nullif(current_setting('app.org_id', true), '')::uuid");
    }
    if !rls_missing.is_empty() {
        fail(
            rules::TENANT_RLS,
            format!("missing {}", rls_missing.join(", ")),
        );
    }
    out
}
