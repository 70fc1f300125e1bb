//! Unit tests of the Postgres wrapper, over the scripted backend.

use super::fake::FakeBackend;
use super::*;
use crate::domain::OrgId;
use crate::error::Error;
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
struct Org {
    id: String,
    slug: String,
    created_at: String,
    settings: serde_json::Value,
}

const ORG: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

fn db_failure(code: &str, message: &str, detail: Option<&str>) -> PgFailure {
    PgFailure::Db(DbFailure {
        code: code.into(),
        message: message.into(),
        detail: detail.map(str::to_owned),
        extras: vec![],
    })
}

#[test]
fn a_transaction_inside_a_transaction_is_refused_and_the_outer_rolls_back() {
    let fake = FakeBackend::new();
    let db = Db::with_backend(fake.clone());
    let org = OrgId::parse(ORG).unwrap();
    let err = db
        .transaction(|tx| {
            tx.execute("INSERT INTO org (name, slug) VALUES ($1, $2)", &[])?;
            // A careless handler reaches for the outer `Db` and swallows the refusal.
            let _ = db.tenant(org, |t| t.execute("DELETE FROM a WHERE org_id = $1", &[]));
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.status(), 500);
    let statements: Vec<String> = fake.calls().into_iter().map(|(sql, _)| sql).collect();
    assert_eq!(
        statements.iter().filter(|sql| *sql == "BEGIN").count(),
        1,
        "no second BEGIN: {statements:?}"
    );
    assert!(
        !statements.iter().any(|sql| sql.starts_with("DELETE")),
        "{statements:?}"
    );
    assert!(
        !statements.iter().any(|sql| sql == "COMMIT"),
        "{statements:?}"
    );
    assert_eq!(statements.last().map(String::as_str), Some("ROLLBACK"));
    // The refusal is per transaction: the next one works.
    db.transaction(|tx| tx.execute("SELECT 1", &[]).map(drop))
        .unwrap();
    assert_eq!(
        fake.calls().last().map(|(sql, _)| sql.as_str()),
        Some("COMMIT")
    );
}

#[test]
fn is_write_table() {
    let cases = [
        (
            "INSERT INTO org (slug) VALUES ($1) RETURNING id",
            true,
            "insert",
        ),
        (
            "  update org SET name = $2 RETURNING id",
            true,
            "update, lower case",
        ),
        ("DELETE FROM org WHERE id = $1 RETURNING id", true, "delete"),
        (
            "MERGE INTO t USING s ON true WHEN MATCHED THEN DO NOTHING",
            true,
            "merge",
        ),
        (
            "-- make one\nINSERT INTO t DEFAULT VALUES RETURNING id",
            true,
            "after a line comment",
        ),
        (
            "/* x */ (DELETE FROM t RETURNING id)",
            true,
            "after a block comment and a paren",
        ),
        ("SELECT * FROM org", false, "select"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", false, "with"),
        ("SELECT 'INSERT' AS word", false, "keyword inside a string"),
        ("INSERTED", false, "a longer word"),
        ("", false, "empty"),
    ];
    for (sql, expected, case) in cases {
        assert_eq!(is_write(sql), expected, "{case}");
    }
}

#[test]
fn a_write_fetch_runs_through_execute_and_reads_its_rows_back() {
    let fake = FakeBackend::new();
    fake.answer(r#"[{"id":"a"}]"#);
    let db = Db::with_backend(fake.clone());
    let row: serde_json::Value = db
        .fetch_one(
            "INSERT INTO org (slug) VALUES ($1) RETURNING id;",
            &["acme".into()],
        )
        .unwrap();
    assert_eq!(row["id"], "a");
    let calls = fake.calls();
    assert_eq!(
        calls,
        [
            (
                wrap_write("INSERT INTO org (slug) VALUES ($1) RETURNING id"),
                vec![Param::Text("acme".into())]
            ),
            (WRITE_RESULT_SQL.to_owned(), vec![]),
        ]
    );
    assert!(calls[0].0.contains("set_config('plinth.write_result'"));
}

#[test]
fn a_duplicate_through_a_write_fetch_is_a_409_naming_the_field() {
    use crate::error::ResultExt;
    let fake = FakeBackend::new();
    fake.fail_execute(
        "WITH t AS (INSERT",
        PgFailure::Db(DbFailure {
            code: "23505".into(),
            message: "duplicate key value violates unique constraint \"org_slug_key\"".into(),
            detail: Some("Key (lower(slug))=(acme) already exists.".into()),
            extras: vec![
                ("constraint".into(), "org_slug_key".into()),
                ("table".into(), "org".into()),
            ],
        }),
    );
    let db = Db::with_backend(fake.clone());
    let err = db
        .transaction(|tx| {
            tx.fetch_one::<serde_json::Value>(
                "INSERT INTO org (slug) VALUES ($1) RETURNING id",
                &["acme".into()],
            )
            .on_constraint("org_slug_key", "slug")
        })
        .unwrap_err();
    match err {
        Error::Conflict { field, .. } => assert_eq!(field.as_deref(), Some("slug")),
        other => panic!("expected a 409, got {other:?}"),
    }
    let calls = fake.calls();
    assert!(
        !calls.iter().any(|(sql, _)| sql == WRITE_RESULT_SQL),
        "no read-back after a failed write: {calls:?}"
    );
    assert_eq!(calls.last().map(|(sql, _)| sql.as_str()), Some("ROLLBACK"));
}

#[test]
fn wrap_read_table() {
    let cases = [
        (
            "SELECT 1 AS one",
            "WITH t AS (SELECT 1 AS one\n) SELECT coalesce(json_agg(t), '[]')::text FROM t",
            "select",
        ),
        (
            "  SELECT 1 AS one;  ",
            "WITH t AS (SELECT 1 AS one\n) SELECT coalesce(json_agg(t), '[]')::text FROM t",
            "trailing semicolon and spaces",
        ),
        (
            "INSERT INTO org (slug) VALUES ($1) RETURNING id",
            "WITH t AS (INSERT INTO org (slug) VALUES ($1) RETURNING id\n) SELECT coalesce(json_agg(t), '[]')::text FROM t",
            "insert returning",
        ),
        (
            "SELECT 1 AS one -- the answer",
            "WITH t AS (SELECT 1 AS one -- the answer\n) SELECT coalesce(json_agg(t), '[]')::text FROM t",
            "a trailing comment ends before the wrapper goes on",
        ),
    ];
    for (sql, expected, case) in cases {
        assert_eq!(wrap_read(sql), expected, "{case}");
    }
}

#[test]
fn decode_rows_with_json_types() {
    let json = r#"[{"id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","slug":"acme","created_at":"2026-11-27T07:08:24.630285+00:00","settings":{"a":[1,2]}}]"#;
    let rows: Vec<Org> = decode_rows(json).unwrap();
    assert_eq!(rows[0].slug, "acme");
    assert_eq!(rows[0].created_at, "2026-11-27T07:08:24.630285+00:00");
    assert_eq!(rows[0].settings["a"][1], 2);
    assert!(decode_rows::<Org>("[]").unwrap().is_empty());
    let err = decode_rows::<Org>(r#"[{"id":1}]"#).unwrap_err();
    assert_eq!(
        err.status(),
        500,
        "a row that does not fit the type is a bug"
    );
}

#[test]
fn fetch_variants() {
    let fake = FakeBackend::new();
    fake.answer("[]")
        .answer("[]")
        .answer(r#"[{"n":1},{"n":2}]"#)
        .answer(r#"[{"n":1},{"n":2}]"#);
    let db = Db::with_backend(fake.clone());
    #[derive(Deserialize, Debug, PartialEq)]
    struct N {
        n: i32,
    }
    assert_eq!(
        db.fetch_optional::<N>("SELECT 1 AS n WHERE false", &[])
            .unwrap(),
        None
    );
    assert_eq!(
        db.fetch_one::<N>("SELECT 1 AS n WHERE false", &[])
            .unwrap_err(),
        Error::NotFound
    );
    assert_eq!(
        db.fetch_all::<N>("SELECT n", &[]).unwrap(),
        vec![N { n: 1 }, N { n: 2 }]
    );
    assert_eq!(
        db.fetch_optional::<N>("SELECT n", &[])
            .unwrap_err()
            .status(),
        500
    );
    assert!(
        fake.statements()
            .iter()
            .all(|s| s.starts_with("WITH t AS ("))
    );
}

#[test]
fn transaction_commits_or_rolls_back() {
    let fake = FakeBackend::new();
    let db = Db::with_backend(fake.clone());
    db.transaction(|db| db.execute("INSERT INTO a VALUES (1)", &[]))
        .unwrap();
    assert_eq!(
        fake.statements(),
        [
            "BEGIN",
            FRESH_TRANSACTION_SQL,
            "INSERT INTO a VALUES (1)",
            "COMMIT"
        ]
    );

    let fake = FakeBackend::new();
    let db = Db::with_backend(fake.clone());
    let result: Result<(), Error> = db.transaction(|_| Err(Error::Forbidden));
    assert_eq!(result, Err(Error::Forbidden));
    assert_eq!(
        fake.statements(),
        ["BEGIN", FRESH_TRANSACTION_SQL, "ROLLBACK"]
    );
}

#[test]
fn a_transaction_left_open_on_the_connection_is_rolled_back_first() {
    let fake = FakeBackend::new();
    fake.execute_rows(FRESH_TRANSACTION_SQL, 0);
    let db = Db::with_backend(fake.clone());
    db.transaction(|db| db.execute("INSERT INTO a VALUES (1)", &[]))
        .unwrap();
    assert_eq!(
        fake.statements(),
        [
            "BEGIN",
            FRESH_TRANSACTION_SQL,
            "ROLLBACK",
            "BEGIN",
            FRESH_TRANSACTION_SQL,
            "INSERT INTO a VALUES (1)",
            "COMMIT"
        ],
        "the other request's writes are rolled back, never committed"
    );

    let fake = FakeBackend::new();
    let db = Db::with_backend(fake.clone());
    fake.execute_rows("SELECT set_config", 0);
    let org = OrgId::parse(ORG).unwrap();
    db.tenant(org, |tx| tx.execute("DELETE FROM a WHERE org_id = $1", &[]))
        .unwrap();
    let statements = fake.statements();
    assert_eq!(
        &statements[..4],
        ["BEGIN", SET_TENANT_SQL, "ROLLBACK", "BEGIN"]
    );
    assert_eq!(statements[4], SET_TENANT_SQL, "the org is set again");
}

#[test]
fn failed_commit_is_an_error() {
    let fake = FakeBackend::new();
    fake.fail_execute(
        "COMMIT",
        db_failure("40001", "could not serialize access", None),
    );
    let db = Db::with_backend(fake.clone());
    let err = db.transaction(|_| Ok(())).unwrap_err();
    assert_eq!(err.status(), 503);
}

#[test]
fn uses_param_one_table() {
    let cases = [
        ("SELECT 1 FROM t WHERE org_id = $1", true, "plain $1"),
        ("UPDATE t SET a = $2 WHERE org_id = $1", true, "$1 after $2"),
        ("SELECT $1::uuid", true, "$1 with a cast"),
        ("SELECT 1 FROM t WHERE name = $2", false, "no $1"),
        (
            "SELECT 1 FROM t WHERE a = $10 AND b = $11",
            false,
            "$10 and $11 are not $1",
        ),
        ("SELECT 1", false, "no parameter at all"),
    ];
    for (sql, expected, case) in cases {
        assert_eq!(uses_param_one(sql), expected, "{case}");
    }
}

#[test]
fn tenant_sql_without_the_org_filter_is_refused_and_rolled_back() {
    let fake = FakeBackend::new();
    let db = Db::with_backend(fake.clone());
    let org = OrgId::parse(ORG).unwrap();
    let err = db
        .tenant(org, |tx| {
            tx.execute("DELETE FROM companies WHERE name = $2", &["x".into()])
        })
        .unwrap_err();
    assert_eq!(err.status(), 500, "a missing org filter is a bug");
    let statements: Vec<String> = fake.calls().into_iter().map(|(sql, _)| sql).collect();
    assert!(
        !statements.iter().any(|sql| sql.starts_with("DELETE")),
        "the unfiltered statement never reaches the database: {statements:?}"
    );
    assert_eq!(statements.last().map(String::as_str), Some("ROLLBACK"));
}

#[test]
fn a_failure_handled_inside_a_transaction_still_rolls_it_back() {
    let fake = FakeBackend::new();
    fake.fail_execute(
        "INSERT",
        PgFailure::Db(DbFailure {
            code: "23505".into(),
            message: "duplicate key value violates unique constraint \"org_slug_key\"".into(),
            detail: None,
            extras: vec![],
        }),
    );
    let db = Db::with_backend(fake.clone());
    let err = db
        .transaction(|tx| {
            // Swallow the failure and go on, as a careless handler might.
            let _ = tx.execute("INSERT INTO org (name, slug) VALUES ($1, $2)", &[]);
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.status(), 500);
    let statements: Vec<String> = fake.calls().into_iter().map(|(sql, _)| sql).collect();
    assert_eq!(statements.last().map(String::as_str), Some("ROLLBACK"));
    assert!(
        !statements.iter().any(|sql| sql == "COMMIT"),
        "{statements:?}"
    );
    // The flag is per transaction: the next one commits.
    db.transaction(|tx| tx.execute("SELECT 1", &[]).map(drop))
        .unwrap();
    assert_eq!(
        fake.calls().last().map(|(sql, _)| sql.as_str()),
        Some("COMMIT")
    );
}

#[test]
fn tenant_sets_the_org_and_binds_it_first() {
    let fake = FakeBackend::new();
    fake.answer(r#"[{"n":3}]"#);
    let db = Db::with_backend(fake.clone());
    let org = OrgId::parse(ORG).unwrap();
    let n: serde_json::Value = db
        .tenant(org, |tx| {
            assert_eq!(tx.org_id(), org);
            tx.execute(
                "UPDATE companies SET name = $2 WHERE org_id = $1",
                &["x".into()],
            )?;
            tx.fetch_one("SELECT count(*) AS n FROM companies WHERE org_id = $1", &[])
        })
        .unwrap();
    assert_eq!(n["n"], 3);
    let calls = fake.calls();
    assert_eq!(calls[0].0, "BEGIN");
    assert_eq!(
        calls[1],
        (SET_TENANT_SQL.to_owned(), vec![Param::Text(ORG.into())])
    );
    assert_eq!(
        calls[2].1,
        vec![Param::Uuid(ORG.into()), Param::Text("x".into())]
    );
    assert_eq!(calls[3].1, vec![Param::Uuid(ORG.into())]);
    assert_eq!(calls[4].0, "COMMIT");
}

#[test]
fn param_conversions() {
    let org = OrgId::parse(ORG).unwrap();
    let cases: Vec<(Param, Param, &str)> = vec![
        ("a".into(), Param::Text("a".into()), "&str"),
        (String::from("b").into(), Param::Text("b".into()), "String"),
        (5i32.into(), Param::Int32(5), "i32"),
        (5i64.into(), Param::Int64(5), "i64"),
        (true.into(), Param::Bool(true), "bool"),
        (
            (&org).into(),
            Param::Uuid(ORG.into()),
            "OrgId binds as uuid",
        ),
        (None::<i32>.into(), Param::Null, "None"),
        (Some("c").into(), Param::Text("c".into()), "Some"),
        (
            serde_json::json!({"k":1}).into(),
            Param::Jsonb(br#"{"k":1}"#.to_vec()),
            "json value",
        ),
        (
            Param::json(&[1, 2]).unwrap(),
            Param::Jsonb(b"[1,2]".to_vec()),
            "Param::json",
        ),
    ];
    for (got, expected, case) in cases {
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn failure_mapping_table() {
    let with_constraint = |code: &str, message: &str, constraint: &str| {
        PgFailure::Db(DbFailure {
            code: code.into(),
            message: message.into(),
            detail: Some("Key (org_id, slug)=(3f25…, acme) already exists.".into()),
            extras: vec![
                ("constraint".into(), constraint.into()),
                ("table".into(), "companies".into()),
            ],
        })
    };
    let cases: Vec<(PgFailure, u16, Option<&str>, &str)> = vec![
        (
            with_constraint(
                "23505",
                "duplicate key value violates unique constraint \"companies_org_id_slug_key\"",
                "companies_org_id_slug_key",
            ),
            409,
            None,
            "unique: no field until the handler names one",
        ),
        (
            with_constraint(
                "23P01",
                "conflicting key value violates exclusion constraint",
                "x_excl",
            ),
            409,
            None,
            "exclusion",
        ),
        (
            with_constraint(
                "23503",
                "insert or update on table \"companies\" violates foreign key constraint \"companies_org_id_fkey\"",
                "companies_org_id_fkey",
            ),
            409,
            None,
            "foreign key",
        ),
        (
            db_failure(
                "23502",
                "null value in column \"name\" of relation \"org\" violates not-null constraint",
                None,
            ),
            500,
            None,
            "not null is a bug",
        ),
        (
            with_constraint(
                "23514",
                "new row for relation \"partners\" violates check constraint \"partners_kind_check\"",
                "partners_kind_check",
            ),
            422,
            None,
            "check",
        ),
        (
            db_failure("22P02", "invalid input syntax for type uuid: \"x\"", None),
            400,
            None,
            "invalid text representation",
        ),
        (
            db_failure("22001", "value too long", None),
            400,
            None,
            "string too long",
        ),
        (
            db_failure("22012", "division by zero", None),
            400,
            None,
            "other data exception",
        ),
        (
            db_failure("40001", "could not serialize", None),
            503,
            None,
            "serialization failure",
        ),
        (
            db_failure(
                "57014",
                "canceling statement due to statement timeout",
                None,
            ),
            503,
            None,
            "timeout",
        ),
        (
            db_failure("08006", "connection failure", None),
            503,
            None,
            "connection exception",
        ),
        (
            db_failure("53300", "too many connections", None),
            503,
            None,
            "too many connections",
        ),
        (
            db_failure("42601", "syntax error at or near \"SELEC\"", None),
            500,
            None,
            "syntax error is a bug",
        ),
        (
            db_failure("42501", "permission denied for table org", None),
            500,
            None,
            "privilege is a bug",
        ),
        (
            PgFailure::ConnectionFailed(
                "address postgres://u:pw@db:5432/x is not permitted".into(),
            ),
            503,
            None,
            "connection failed",
        ),
        (
            PgFailure::BadParameter("invalid uuid".into()),
            500,
            None,
            "bad parameter",
        ),
        (PgFailure::Text("zero-row result".into()), 500, None, "text"),
        (
            PgFailure::Text("connection closed".into()),
            503,
            None,
            "closed connection",
        ),
        (PgFailure::Other("x".into()), 500, None, "other"),
    ];
    for (failure, status, field, case) in cases {
        let err = map_failure(failure);
        assert_eq!(err.status(), status, "{case}: {err:?}");
        let named = match &err {
            Error::Conflict { field, .. } => field.clone(),
            Error::Validation(errors) => Some(errors[0].field.clone()),
            _ => None,
        };
        if field.is_some() {
            assert_eq!(named.as_deref(), field, "{case}");
        }
        let body = String::from_utf8(err.to_response("r").body().to_vec()).unwrap();
        for secret in [
            "pw",
            "SELEC",
            "postgres://",
            "db:5432",
            "3f25",
            "acme",
            "companies",
            "_key",
            "_fkey",
        ] {
            assert!(
                !body.contains(secret),
                "{case}: response leaks {secret:?}: {body}"
            );
        }
    }
}

#[test]
fn the_handler_names_the_field_of_a_constraint() {
    use crate::error::ResultExt;
    let failure = PgFailure::Db(DbFailure {
        code: "23505".into(),
        message: "duplicate key value violates unique constraint \"users_email_lower_idx\"".into(),
        detail: Some("Key (lower(email::text))=(a@b.c) already exists.".into()),
        extras: vec![("constraint".into(), "users_email_lower_idx".into())],
    });
    let result: Result<(), Error> = Err(map_failure(failure));
    match result.on_constraint("users_email_lower_idx", "email") {
        Err(Error::Conflict { field, detail }) => {
            assert_eq!(field.as_deref(), Some("email"));
            assert_eq!(detail, "email is already taken");
        }
        other => panic!("unexpected {other:?}"),
    }
}
