//! The host against SPIN-BEHAVIOUR.md §1–§5, through the probe component of
//! tests/apps/conformance: zero-row queries, Postgres value mapping and parameter
//! binding, errors, connections and pooling, Redis, variables, outbound HTTP, traps.
//! Routing and request headers (§6) are in `host_routing.rs`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{
    NEEDED_VALUE, OVERRIDDEN_VALUE, REQUEST_TIMEOUT, conformance, err, eventually, is_devhost, ok,
    q, request, service, single, spawn_conformance, spawn_conformance_with, x,
};

// ---------------------------------------------------------------------------
// §1 zero-row queries

const ZERO_ROW_MARKERS: [&str; 3] = ["zero-row", "4.0.0", "3671"];

fn assert_zero_row_error(result: &Value, what: &str) {
    let e = err(result, what);
    assert_eq!(e["kind"], "query-failed", "{what}: {result}");
    let text = e["text"].as_str().unwrap_or_default();
    for marker in ZERO_ROW_MARKERS {
        assert!(
            text.contains(marker),
            "{what}: the error must name the cause ({marker}), got {text:?}"
        );
    }
}

#[test]
fn zero_row_query_is_a_named_error_within_a_second() {
    if !is_devhost() {
        eprintln!("zero-row error mode is a devhost feature; a real Spin 4.0.x hangs here");
        return;
    }
    let c = conformance();
    let started = Instant::now();
    let resp = request(
        c.app.addr,
        "GET",
        "/probe/zero",
        &[],
        b"",
        Duration::from_secs(1),
    )
    .expect("GET /probe/zero must answer within 1 s");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_zero_row_error(&resp.json(), "SELECT 1 WHERE false");
    let logged = eventually(Duration::from_secs(3), || {
        c.app
            .logs()
            .lines()
            .any(|l| l.contains("SELECT 1 AS one WHERE false") && l.contains("probe"))
            .then_some(())
    });
    assert!(
        logged.is_some(),
        "the host must log the zero-row query with component name and SQL; logs:\n{}",
        c.app.logs()
    );
}

#[test]
fn statements_without_rows_through_query_are_zero_row_errors() {
    if !is_devhost() {
        eprintln!("zero-row error mode is a devhost feature; a real Spin 4.0.x hangs here");
        return;
    }
    let c = conformance();
    let cases = [
        ("BEGIN through query", "BEGIN"),
        (
            "SET through query",
            "SET application_name = 'zero-row-probe'",
        ),
        (
            "DDL through query",
            "CREATE TEMP TABLE zero_row_ddl (x int)",
        ),
        (
            "a lookup that finds nothing",
            "SELECT relname FROM pg_class WHERE relname = 'no such relation'",
        ),
        (
            "a CTE that selects nothing",
            "WITH v(x) AS (VALUES (1)) SELECT x FROM v WHERE x = 2",
        ),
    ];
    for (what, sql) in cases {
        let started = Instant::now();
        // The statement did run (only its answer is an error): end a
        // transaction it began, or its connection goes back to the pool
        // inside it, as on Spin, and the next request there is in it too.
        let result = c
            .pg(json!([q(0, sql, json!([])), x(0, "ROLLBACK", json!([]))]))
            .remove(0);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: took {:?}",
            started.elapsed()
        );
        assert_zero_row_error(&result, what);
    }
    // The real ON CONFLICT case, on one connection with a temp table.
    let results = c.pg(json!([
        x(
            0,
            "CREATE TEMP TABLE zero_row_conflict (id int PRIMARY KEY)",
            json!([])
        ),
        x(0, "INSERT INTO zero_row_conflict VALUES (1)", json!([])),
        q(
            0,
            "INSERT INTO zero_row_conflict VALUES (1) ON CONFLICT DO NOTHING RETURNING id",
            json!([])
        ),
    ]));
    assert_zero_row_error(&results[2], "INSERT … ON CONFLICT DO NOTHING RETURNING");
}

#[test]
fn one_row_aggregates_and_execute_are_unaffected_by_zero_rows() {
    let c = conformance();
    let agg = c.query(
        "SELECT coalesce(json_agg(t), '[]')::text AS v FROM (SELECT 1 AS one WHERE false) t",
        json!([]),
    );
    assert_eq!(
        single(&agg, "json_agg of nothing"),
        json!({"kind": "str", "value": "[]"})
    );
    let exec = c.execute("SELECT 1 WHERE false", json!([]));
    assert_eq!(ok(&exec, "execute of a zero-row SELECT"), &json!(0));
}

#[test]
fn zero_row_query_allowed_returns_the_empty_row_set_with_columns() {
    if !is_devhost() {
        eprintln!("--pg-zero-row-query is a devhost flag");
        return;
    }
    for (how, args, env_allow) in [
        (
            "--pg-zero-row-query allow",
            vec!["--pg-zero-row-query", "allow"],
            false,
        ),
        ("PLINTH_PG_ZERO_ROW_QUERY=allow", vec![], true),
    ] {
        let env = if env_allow {
            vec![("PLINTH_PG_ZERO_ROW_QUERY", "allow".to_owned())]
        } else {
            vec![]
        };
        let c = spawn_conformance_with(&args, &env);
        let resp = c.app.get("/probe/zero");
        assert_eq!(resp.status, 200, "{how}: {}", resp.text());
        let body = resp.json();
        assert_eq!(
            ok(&body, how),
            &json!({"columns": [{"name": "one", "type": "int32"}], "rows": []}),
            "{how}: zero-row result"
        );
        let tz = c.query("SELECT now() AS t WHERE false", json!([]));
        assert_eq!(
            ok(&tz, how),
            &json!({"columns": [{"name": "t", "type": "datetime"}], "rows": []}),
            "{how}: a zero-row timestamptz column is listed as Datetime"
        );
    }
}

// ---------------------------------------------------------------------------
// §2 reading values

/// (what, SQL, column type, value)
fn read_cases() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        (
            "bool",
            "SELECT true AS v",
            "boolean",
            json!({"kind": "boolean", "value": true}),
        ),
        (
            "int2",
            "SELECT 7::int2 AS v",
            "int16",
            json!({"kind": "int16", "value": 7}),
        ),
        (
            "int4",
            "SELECT 7::int4 AS v",
            "int32",
            json!({"kind": "int32", "value": 7}),
        ),
        (
            "int8",
            "SELECT 7::int8 AS v",
            "int64",
            json!({"kind": "int64", "value": 7}),
        ),
        (
            "float4",
            "SELECT 1.5::float4 AS v",
            "floating32",
            json!({"kind": "floating32", "value": 1.5}),
        ),
        (
            "float8",
            "SELECT 2.25::float8 AS v",
            "floating64",
            json!({"kind": "floating64", "value": 2.25}),
        ),
        (
            "text",
            "SELECT 'hi'::text AS v",
            "str",
            json!({"kind": "str", "value": "hi"}),
        ),
        (
            "varchar",
            "SELECT 'hi'::varchar(10) AS v",
            "str",
            json!({"kind": "str", "value": "hi"}),
        ),
        (
            "char(n) is padded",
            "SELECT 'ab'::char(4) AS v",
            "str",
            json!({"kind": "str", "value": "ab  "}),
        ),
        (
            "bytea",
            r"SELECT '\x0102ff'::bytea AS v",
            "binary",
            json!({"kind": "binary", "value": [1, 2, 255]}),
        ),
        (
            "date",
            "SELECT date '2024-02-29' AS v",
            "date",
            json!({"kind": "date", "value": [2024, 2, 29]}),
        ),
        (
            "time",
            "SELECT time '13:14:15.5' AS v",
            "time",
            json!({"kind": "time", "value": [13, 14, 15, 500_000_000]}),
        ),
        (
            "timestamp",
            "SELECT timestamp '2024-02-29 13:14:15.25' AS v",
            "datetime",
            json!({"kind": "datetime", "value": [2024, 2, 29, 13, 14, 15, 250_000_000]}),
        ),
        (
            "timestamptz AT TIME ZONE 'UTC'",
            "SELECT timestamptz '2024-02-29 13:14:15+00' AT TIME ZONE 'UTC' AS v",
            "datetime",
            json!({"kind": "datetime", "value": [2024, 2, 29, 13, 14, 15, 0]}),
        ),
        (
            "extract(epoch from timestamptz)::int8",
            "SELECT extract(epoch from timestamptz '2024-01-01 00:00:00+00')::int8 AS v",
            "int64",
            json!({"kind": "int64", "value": 1_704_067_200_i64}),
        ),
        (
            "uuid",
            "SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS v",
            "uuid",
            json!({"kind": "uuid", "value": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}),
        ),
        (
            "numeric keeps its scale",
            "SELECT 12.50::numeric AS v",
            "decimal",
            json!({"kind": "decimal", "value": "12.50"}),
        ),
        (
            "numeric with 28 digits",
            "SELECT 1234567890123456789012345678::numeric AS v",
            "decimal",
            json!({"kind": "decimal", "value": "1234567890123456789012345678"}),
        ),
        (
            "int4range",
            "SELECT '[1,5)'::int4range AS v",
            "range-int32",
            json!({"kind": "range-int32", "value": [[1, "inclusive"], [5, "exclusive"]]}),
        ),
        (
            "int4range without lower bound",
            "SELECT int4range(NULL, 5) AS v",
            "range-int32",
            json!({"kind": "range-int32", "value": [null, [5, "exclusive"]]}),
        ),
        (
            "int8range",
            "SELECT '[10,20)'::int8range AS v",
            "range-int64",
            json!({"kind": "range-int64", "value": [[10, "inclusive"], [20, "exclusive"]]}),
        ),
        (
            "numrange",
            "SELECT '[1.5,2.5]'::numrange AS v",
            "range-decimal",
            json!({"kind": "range-decimal", "value": [["1.5", "inclusive"], ["2.5", "inclusive"]]}),
        ),
        (
            "int4[]",
            "SELECT '{1,NULL,3}'::int4[] AS v",
            "array-int32",
            json!({"kind": "array-int32", "value": [1, null, 3]}),
        ),
        (
            "int8[]",
            "SELECT '{1,2}'::int8[] AS v",
            "array-int64",
            json!({"kind": "array-int64", "value": [1, 2]}),
        ),
        (
            "text[]",
            "SELECT '{a,NULL}'::text[] AS v",
            "array-str",
            json!({"kind": "array-str", "value": ["a", null]}),
        ),
        (
            "varchar[]",
            "SELECT '{b}'::varchar[] AS v",
            "array-str",
            json!({"kind": "array-str", "value": ["b"]}),
        ),
        (
            "numeric[]",
            "SELECT '{1.5,NULL}'::numeric[] AS v",
            "array-decimal",
            json!({"kind": "array-decimal", "value": ["1.5", null]}),
        ),
        (
            "interval",
            "SELECT interval '1 year 2 mons 3 days 04:05:06.000007' AS v",
            "interval",
            json!({"kind": "interval", "value": {"micros": 14_706_000_007_i64, "days": 3, "months": 14}}),
        ),
    ]
}

#[test]
fn column_types_read_as_spin_maps_them() {
    let c = conformance();
    let cases = read_cases();
    let results = c.pg(Value::Array(
        cases
            .iter()
            .map(|(_, sql, _, _)| q(0, sql, json!([])))
            .collect(),
    ));
    for ((what, sql, ty, value), result) in cases.iter().zip(&results) {
        let rs = ok(result, what);
        assert_eq!(
            rs["columns"],
            json!([{"name": "v", "type": ty}]),
            "{what}: column type of {sql}"
        );
        assert_eq!(rs["rows"], json!([[value]]), "{what}: value of {sql}");
    }
}

#[test]
fn jsonb_reads_as_jsonb_bytes() {
    let c = conformance();
    let result = c.query(r#"SELECT '{"a": [1, 2]}'::jsonb AS v"#, json!([]));
    let rs = ok(&result, "jsonb");
    assert_eq!(rs["columns"], json!([{"name": "v", "type": "jsonb"}]));
    let v = &rs["rows"][0][0];
    assert_eq!(v["kind"], "jsonb", "{v}");
    let parsed: Value = serde_json::from_str(v["value"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("jsonb bytes are JSON text ({e}): {v}"));
    assert_eq!(parsed, json!({"a": [1, 2]}));
}

#[test]
fn null_of_every_readable_type_is_db_null() {
    let c = conformance();
    let cases = [
        ("bool", "boolean"),
        ("int2", "int16"),
        ("int4", "int32"),
        ("int8", "int64"),
        ("float4", "floating32"),
        ("float8", "floating64"),
        ("text", "str"),
        ("varchar", "str"),
        ("bytea", "binary"),
        ("date", "date"),
        ("time", "time"),
        ("timestamp", "datetime"),
        ("uuid", "uuid"),
        ("jsonb", "jsonb"),
        ("numeric", "decimal"),
        ("int4range", "range-int32"),
        ("int8range", "range-int64"),
        ("numrange", "range-decimal"),
        ("int4[]", "array-int32"),
        ("int8[]", "array-int64"),
        ("text[]", "array-str"),
        ("numeric[]", "array-decimal"),
        ("interval", "interval"),
    ];
    let sqls: Vec<String> = cases
        .iter()
        .map(|(t, _)| format!("SELECT NULL::{t} AS v"))
        .collect();
    let results = c.pg(Value::Array(
        sqls.iter().map(|s| q(0, s, json!([]))).collect(),
    ));
    for ((t, ty), result) in cases.iter().zip(&results) {
        let what = format!("NULL::{t}");
        let rs = ok(result, &what);
        assert_eq!(
            rs["columns"],
            json!([{"name": "v", "type": ty}]),
            "{what}: column type"
        );
        assert_eq!(rs["rows"], json!([[{"kind": "db-null"}]]), "{what}: value");
    }
}

#[test]
fn timestamptz_fails_the_whole_query_even_for_null() {
    let c = conformance();
    for (what, sql) in [
        ("now()", "SELECT now() AS v"),
        ("NULL::timestamptz", "SELECT NULL::timestamptz AS v"),
        (
            "timestamptz next to an int",
            "SELECT 1::int4 AS a, now() AS b",
        ),
    ] {
        let result = c.query(sql, json!([]));
        let e = err(&result, what);
        assert_eq!(e["kind"], "query-failed", "{what}: {result}");
        assert!(
            e.get("code").is_none(),
            "{what}: a conversion failure is Text, not DbError: {result}"
        );
        assert!(
            e["text"]
                .as_str()
                .unwrap_or_default()
                .contains("timestamptz"),
            "{what}: the text names timestamptz: {result}"
        );
    }
}

#[test]
fn unsupported_types_come_back_as_raw_bytes_with_other_column_type() {
    let c = conformance();
    // (type as the column type names it, SQL)
    let cases = [
        ("json", r#"SELECT '{"a":1}'::json AS v"#),
        ("citext", "SELECT 'x'::citext AS v"),
        ("inet", "SELECT '127.0.0.1'::inet AS v"),
        ("name", "SELECT 'n'::name AS v"),
        ("oid", "SELECT 1::oid AS v"),
        ("char", r#"SELECT 'c'::"char" AS v"#),
        ("money", "SELECT 1::money AS v"),
        ("timetz", "SELECT '13:00+02'::timetz AS v"),
        ("bool", "SELECT '{t,f}'::bool[] AS v"),
        ("int2", "SELECT '{1,2}'::int2[] AS v"),
        ("float8", "SELECT '{1.5}'::float8[] AS v"),
        (
            "uuid",
            "SELECT ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid] AS v",
        ),
        ("void", "SELECT pg_sleep(0) AS v"),
    ];
    let results = c.pg(Value::Array(
        cases.iter().map(|(_, sql)| q(0, sql, json!([]))).collect(),
    ));
    for ((name, sql), result) in cases.iter().zip(&results) {
        let rs = ok(result, sql);
        let ty = rs["columns"][0]["type"].as_str().unwrap_or_default();
        assert!(
            ty.starts_with("other(") && ty.contains(name),
            "{sql}: column type must be other(…{name}…), got {ty}"
        );
        assert_eq!(rs["rows"][0][0]["kind"], "unsupported", "{sql}: {result}");
    }
    // Casting to text in SQL is the way out.
    let text = c.query("SELECT 'x'::citext::text AS v", json!([]));
    assert_eq!(
        single(&text, "citext::text"),
        json!({"kind": "str", "value": "x"})
    );
}

#[test]
fn duplicate_column_names_are_both_returned_in_order() {
    let c = conformance();
    let result = c.query("SELECT 1::int4 AS a, 'x'::text AS a", json!([]));
    let rs = ok(&result, "duplicate names");
    assert_eq!(
        rs["columns"],
        json!([{"name": "a", "type": "int32"}, {"name": "a", "type": "str"}])
    );
    assert_eq!(
        rs["rows"],
        json!([[{"kind": "int32", "value": 1}, {"kind": "str", "value": "x"}]])
    );
}

#[test]
fn numeric_nan_and_more_than_28_digits_fail_the_query() {
    let c = conformance();
    for (what, sql) in [
        ("NaN", "SELECT 'NaN'::numeric AS v"),
        (
            "31 digits",
            "SELECT 1234567890123456789012345678901::numeric AS v",
        ),
    ] {
        let result = c.query(sql, json!([]));
        let e = err(&result, what);
        assert_eq!(e["kind"], "query-failed", "{what}: {result}");
        assert!(
            e.get("code").is_none(),
            "{what}: QueryFailed(Text), not a database error: {result}"
        );
    }
}

// ---------------------------------------------------------------------------
// §3 binding parameters

/// Target types of the binding matrix: (type, SQL rendering `$1` cast to it as text).
fn bind_targets() -> Vec<(&'static str, String)> {
    let plain = |t: &str| format!("SELECT ($1::{t})::text AS v");
    vec![
        ("text", plain("text")),
        ("varchar", plain("varchar")),
        ("citext", plain("citext")),
        ("uuid", plain("uuid")),
        ("json", "SELECT ($1::json)::jsonb::text AS v".to_owned()),
        ("jsonb", plain("jsonb")),
        ("bool", plain("bool")),
        ("int2", plain("int2")),
        ("int4", plain("int4")),
        ("int8", plain("int8")),
        ("float4", plain("float4")),
        ("float8", plain("float8")),
        ("numeric", plain("numeric")),
        ("bytea", plain("bytea")),
        ("date", plain("date")),
        ("time", plain("time")),
        ("timestamp", plain("timestamp")),
        (
            "timestamptz",
            "SELECT ($1::timestamptz AT TIME ZONE 'UTC')::text AS v".to_owned(),
        ),
        ("int4[]", plain("int4[]")),
        ("int8[]", plain("int8[]")),
        ("text[]", plain("text[]")),
        ("numeric[]", plain("numeric[]")),
        ("uuid[]", plain("uuid[]")),
        ("int4range", plain("int4range")),
        ("int8range", plain("int8range")),
        ("numrange", plain("numrange")),
        ("interval", plain("interval")),
    ]
}

/// (parameter, the types it binds to with the text each renders as)
fn bind_cases() -> Vec<(Value, Vec<(&'static str, &'static str)>)> {
    let uuid = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    vec![
        (
            json!({"kind": "str", "value": "x"}),
            vec![("text", "x"), ("varchar", "x"), ("citext", "x")],
        ),
        (json!({"kind": "uuid", "value": uuid}), vec![("uuid", uuid)]),
        (
            json!({"kind": "jsonb", "value": r#"{"a":1}"#}),
            vec![("json", r#"{"a": 1}"#), ("jsonb", r#"{"a": 1}"#)],
        ),
        (
            json!({"kind": "boolean", "value": true}),
            vec![("bool", "true")],
        ),
        (json!({"kind": "int16", "value": 7}), vec![("int2", "7")]),
        (json!({"kind": "int32", "value": 7}), vec![("int4", "7")]),
        (json!({"kind": "int64", "value": 7}), vec![("int8", "7")]),
        (
            json!({"kind": "floating32", "value": 1.5}),
            vec![("float4", "1.5")],
        ),
        (
            json!({"kind": "floating64", "value": 2.25}),
            vec![("float8", "2.25")],
        ),
        (
            json!({"kind": "decimal", "value": "12.50"}),
            vec![("numeric", "12.50")],
        ),
        (
            json!({"kind": "binary", "value": [1, 2, 255]}),
            vec![("bytea", r"\x0102ff")],
        ),
        (
            json!({"kind": "date", "value": [2024, 2, 29]}),
            vec![("date", "2024-02-29")],
        ),
        (
            json!({"kind": "time", "value": [13, 14, 15, 500_000_000]}),
            vec![("time", "13:14:15.5")],
        ),
        (
            json!({"kind": "datetime", "value": [2024, 2, 29, 13, 14, 15, 0]}),
            vec![("timestamp", "2024-02-29 13:14:15")],
        ),
        (
            json!({"kind": "timestamp", "value": 1_704_067_200_i64}),
            vec![("timestamptz", "2024-01-01 00:00:00")],
        ),
        (
            json!({"kind": "array-int32", "value": [1, null, 3]}),
            vec![("int4[]", "{1,NULL,3}")],
        ),
        (
            json!({"kind": "array-str", "value": ["a", null]}),
            vec![("text[]", "{a,NULL}")],
        ),
        (
            json!({"kind": "array-int64", "value": [1, 2]}),
            vec![("int8[]", "{1,2}")],
        ),
        (
            json!({"kind": "array-decimal", "value": ["1.5", null]}),
            vec![("numeric[]", "{1.5,NULL}")],
        ),
        (
            json!({"kind": "range-int32", "value": [[1, "inclusive"], [5, "exclusive"]]}),
            vec![("int4range", "[1,5)")],
        ),
        (
            json!({"kind": "range-int64", "value": [[1, "inclusive"], [5, "exclusive"]]}),
            vec![("int8range", "[1,5)")],
        ),
        (
            json!({"kind": "range-decimal", "value": [["1.5", "inclusive"], ["2.5", "exclusive"]]}),
            vec![("numrange", "[1.5,2.5)")],
        ),
        (
            json!({"kind": "interval", "value": {"micros": 1_000_000, "days": 2, "months": 3}}),
            vec![("interval", "3 mons 2 days 00:00:01")],
        ),
        (json!({"kind": "int8", "value": 5}), vec![]),
    ]
}

#[test]
fn each_parameter_kind_binds_only_to_its_own_types() {
    let c = conformance();
    let targets = bind_targets();
    let mut failures = Vec::new();
    for (param, binds) in bind_cases() {
        let ops: Vec<Value> = targets
            .iter()
            .map(|(_, sql)| q(0, sql, json!([param])))
            .collect();
        let results = c.pg(Value::Array(ops));
        for ((ty, _), result) in targets.iter().zip(&results) {
            let kind = &param["kind"];
            match binds.iter().find(|(t, _)| t == ty) {
                Some((_, text)) => {
                    let want = json!({"ok": {"columns": [{"name": "v", "type": "str"}],
                                              "rows": [[{"kind": "str", "value": text}]]}});
                    if result != &want {
                        failures.push(format!("{kind} → {ty}: expected {text:?}, got {result}"));
                    }
                }
                None => {
                    let e = &result["err"];
                    let text = e["text"].as_str().unwrap_or_default();
                    if e["kind"] != "query-failed" || !text.contains("WrongType") {
                        failures.push(format!(
                            "{kind} → {ty}: expected QueryFailed(Text(…WrongType…)), got {result}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "binding matrix mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn db_null_binds_to_every_type() {
    let c = conformance();
    let targets = bind_targets();
    let ops: Vec<Value> = targets
        .iter()
        .map(|(_, sql)| q(0, sql, json!([{"kind": "db-null"}])))
        .collect();
    let results = c.pg(Value::Array(ops));
    for ((ty, _), result) in targets.iter().zip(&results) {
        assert_eq!(
            single(result, &format!("DbNull → {ty}")),
            json!({"kind": "db-null"}),
            "DbNull → {ty}"
        );
    }
}

#[test]
fn malformed_uuid_and_jsonb_are_bad_parameters() {
    let c = conformance();
    for (what, sql, param) in [
        (
            "malformed uuid",
            "SELECT $1::uuid AS v",
            json!({"kind": "uuid", "value": "not-a-uuid"}),
        ),
        (
            "malformed jsonb",
            "SELECT $1::jsonb AS v",
            json!({"kind": "jsonb", "value": "{not json"}),
        ),
    ] {
        let result = c.query(sql, json!([param]));
        assert_eq!(
            err(&result, what)["kind"],
            "bad-parameter",
            "{what}: {result}"
        );
    }
}

#[test]
fn too_few_parameters_fail_the_query() {
    let c = conformance();
    let result = c.query(
        "SELECT $1::int4 + $2::int4 AS v",
        json!([{"kind": "int32", "value": 1}]),
    );
    let e = err(&result, "too few parameters");
    assert_eq!(e["kind"], "query-failed", "{result}");
    assert!(
        e.get("code").is_none(),
        "QueryFailed(Text), not a database error: {result}"
    );
}

#[test]
fn untyped_parameter_is_typed_by_the_server_and_casts_bridge() {
    let c = conformance();
    // (what, sql, parameter, the value read back, or None when the bind must fail)
    let cases = [
        (
            "no context: text, so a str binds",
            "SELECT $1 AS v",
            json!({"kind": "str", "value": "x"}),
            Some(json!({"kind": "str", "value": "x"})),
        ),
        (
            "no context: text, so an int32 does not bind",
            "SELECT $1 AS v",
            json!({"kind": "int32", "value": 5}),
            None,
        ),
        (
            "no context: text, so a uuid does not bind",
            "SELECT $1 AS v",
            json!({"kind": "uuid", "value": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}),
            None,
        ),
        (
            "$1 + 1: the server infers int4",
            "SELECT $1 + 1 AS v",
            json!({"kind": "int32", "value": 5}),
            Some(json!({"kind": "int32", "value": 6})),
        ),
        (
            "str bridged to uuid with $1::text::uuid",
            "SELECT $1::text::uuid AS v",
            json!({"kind": "str", "value": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}),
            Some(json!({"kind": "uuid", "value": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"})),
        ),
    ];
    for (what, sql, param, want) in cases {
        let result = c.query(sql, json!([param]));
        match want {
            Some(want) => assert_eq!(single(&result, what), want, "{what}"),
            None => {
                let e = err(&result, what);
                assert_eq!(e["kind"], "query-failed", "{what}: {result}");
                assert!(
                    e.get("code").is_none(),
                    "{what}: a bind failure has no SQLSTATE: {result}"
                );
                assert!(
                    e["text"].as_str().unwrap_or_default().contains("WrongType"),
                    "{what}: {result}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// §4 errors, connections, transactions, pooling

#[test]
fn database_errors_carry_sqlstate_and_severity() {
    let c = conformance();
    let results = c.pg(json!([
        x(
            0,
            "CREATE TEMP TABLE err_unique (id int PRIMARY KEY)",
            json!([])
        ),
        x(0, "INSERT INTO err_unique VALUES (1)", json!([])),
        x(0, "INSERT INTO err_unique VALUES (1)", json!([])),
        q(
            0,
            "INSERT INTO err_unique VALUES (1) RETURNING id",
            json!([])
        ),
        q(0, "SELEC 1", json!([])),
        q(0, "SELECT 1/0 AS v", json!([])),
        q(0, "SELECT 1 AS a; SELECT 2 AS b", json!([])),
    ]));
    let cases = [
        (2, "unique violation through execute", "23505"),
        (4, "syntax error", "42601"),
        (5, "division by zero", "22012"),
        (6, "several statements in one query", "42601"),
    ];
    for (i, what, code) in cases {
        let e = err(&results[i], what);
        assert_eq!(e["kind"], "query-failed", "{what}: {}", results[i]);
        assert_eq!(e["code"], code, "{what}: {}", results[i]);
        assert_eq!(e["severity"], "ERROR", "{what}: {}", results[i]);
        assert!(
            e["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: message"
        );
    }
    assert_row_stream_error_is_debug_text(&results[3], "err_unique_pkey");
}

/// Spin 4.0.2: an error raised while rows stream back through `query` is
/// `QueryFailed(Text)` holding the driver error's Debug form: no `code`, but
/// `SqlState(E23505)` and the constraint in the text.
fn assert_row_stream_error_is_debug_text(result: &Value, constraint: &str) {
    let e = err(result, "unique violation through query");
    assert_eq!(e["kind"], "query-failed", "{result}");
    assert!(e.get("code").is_none(), "no structured SQLSTATE: {result}");
    let text = e["text"].as_str().unwrap_or_default();
    for needle in [
        "SqlState(E23505)",
        &format!("constraint: Some(\"{constraint}\")"),
    ] {
        assert!(
            text.contains(needle),
            "the Debug text names {needle}: {result}"
        );
    }
}

#[test]
fn row_stream_errors_have_no_sqlstate_and_their_text_follows_the_spin_version() {
    let ops = json!([
        x(
            0,
            "CREATE TEMP TABLE stream_err (id int PRIMARY KEY)",
            json!([])
        ),
        x(0, "INSERT INTO stream_err VALUES (1)", json!([])),
        q(
            0,
            "INSERT INTO stream_err VALUES (1) RETURNING id",
            json!([])
        ),
        q(
            0,
            "WITH w AS (INSERT INTO stream_err VALUES (1) RETURNING id) \
             SELECT coalesce(json_agg(w), '[]')::text AS rows FROM w",
            json!([]),
        ),
        q(0, "SELECT 1 / (id - 1) AS v FROM stream_err", json!([])),
    ]);
    let results = conformance().pg(ops.clone());
    assert_row_stream_error_is_debug_text(&results[2], "stream_err_pkey");
    assert_row_stream_error_is_debug_text(&results[3], "stream_err_pkey");
    let over_rows = err(&results[4], "division by zero over table rows");
    assert!(over_rows.get("code").is_none(), "{}", results[4]);
    assert!(
        over_rows["text"]
            .as_str()
            .unwrap_or_default()
            .contains("SqlState(E22012)"),
        "{}",
        results[4]
    );

    if !is_devhost() {
        eprintln!("skipped under APP_RUNTIME=spin: the Spin 3.6.3 half needs devhost --spin 3.6");
        return;
    }
    // Spin 3.6.3: the same errors carry only Postgres's message.
    let spin36 = spawn_conformance(&["--spin", "3.6"]);
    let results = spin36.pg(ops);
    for (i, what, message) in [
        (
            2,
            "insert returning",
            "db error: ERROR: duplicate key value violates unique constraint \"stream_err_pkey\"",
        ),
        (
            3,
            "inside the JSON wrapper",
            "db error: ERROR: duplicate key value violates unique constraint \"stream_err_pkey\"",
        ),
        (4, "over table rows", "db error: ERROR: division by zero"),
    ] {
        let e = err(&results[i], what);
        assert_eq!(e["kind"], "query-failed", "{what}: {}", results[i]);
        assert!(e.get("code").is_none(), "{what}: {}", results[i]);
        let text = e["text"].as_str().unwrap_or_default();
        assert!(text.starts_with(message), "{what}: {text:?}");
        assert!(
            !text.contains("SqlState"),
            "{what}: no SQLSTATE at all: {text:?}"
        );
    }
}

fn app_url_at(host: &str) -> String {
    format!(
        "postgres://{}:{}@{host}/plinth",
        service("SPIN_VARIABLE_PG_APP_USER"),
        service("SPIN_VARIABLE_PG_APP_PASSWORD")
    )
}

#[test]
fn address_not_allowed_and_unreachable_server_fail_to_connect() {
    let c = conformance();
    let denied = app_url_at(&c.denied.addr.to_string());
    let result = c
        .pg_at(Some(&denied), json!([q(0, "SELECT 1 AS v", json!([]))]))
        .remove(0);
    let e = err(&result, "address not allowed");
    assert_eq!(e["kind"], "connection-failed", "{result}");
    assert!(
        e["text"]
            .as_str()
            .unwrap_or_default()
            .contains("not permitted"),
        "a not-allowed address is named as not permitted: {result}"
    );
    assert_eq!(
        c.denied.hits(),
        0,
        "the host must not even connect to a denied address"
    );

    let closed = app_url_at(&c.closed_host);
    let result = c
        .pg_at(Some(&closed), json!([q(0, "SELECT 1 AS v", json!([]))]))
        .remove(0);
    assert_eq!(
        err(&result, "unreachable server")["kind"],
        "connection-failed",
        "{result}"
    );
}

#[test]
fn one_connection_keeps_one_backend_and_a_second_gets_another() {
    let c = conformance();
    let pid = "SELECT pg_backend_pid() AS pid";
    let results = c.pg(json!([
        q(0, pid, json!([])),
        q(0, pid, json!([])),
        q(1, pid, json!([])),
        q(0, pid, json!([])),
    ]));
    let pids: Vec<Value> = results
        .iter()
        .map(|r| single(r, "pg_backend_pid"))
        .collect();
    assert_eq!(pids[0], pids[1], "one Connection, one backend");
    assert_eq!(
        pids[0], pids[3],
        "one Connection, one backend for its whole life"
    );
    assert_ne!(
        pids[0], pids[2],
        "a second Connection in the same request gets another backend"
    );
}

#[test]
fn transactions_on_one_connection_commit_and_roll_back() {
    let c = conformance();
    let count = "SELECT count(*)::int4 AS n FROM tx_probe";
    let results = c.pg(json!([
        x(0, "CREATE TEMP TABLE tx_probe (x int)", json!([])),
        x(0, "BEGIN", json!([])),
        x(0, "INSERT INTO tx_probe VALUES (1)", json!([])),
        q(0, count, json!([])),
        x(0, "ROLLBACK", json!([])),
        q(0, count, json!([])),
        x(0, "BEGIN", json!([])),
        x(
            0,
            "SELECT set_config('app.org_id', $1, true)",
            json!([{"kind": "str", "value": "org-1"}])
        ),
        q(
            0,
            "SELECT current_setting('app.org_id', true) AS v",
            json!([])
        ),
        x(0, "INSERT INTO tx_probe VALUES (2)", json!([])),
        x(0, "COMMIT", json!([])),
        q(0, count, json!([])),
        q(
            0,
            "SELECT current_setting('app.org_id', true) AS v",
            json!([])
        ),
    ]));
    let int = |n: i32| json!({"kind": "int32", "value": n});
    assert_eq!(single(&results[3], "inside the transaction"), int(1));
    assert_eq!(
        single(&results[5], "after ROLLBACK"),
        int(0),
        "ROLLBACK undoes the insert"
    );
    assert_eq!(
        single(&results[8], "set_config local"),
        json!({"kind": "str", "value": "org-1"}),
        "the local setting is visible inside the transaction"
    );
    assert_eq!(
        single(&results[11], "after COMMIT"),
        int(1),
        "COMMIT keeps the insert"
    );
    assert_eq!(
        single(&results[12], "after SET LOCAL ended"),
        json!({"kind": "str", "value": ""}),
        "a custom setting once used reads back as '' (not NULL) after its transaction"
    );
}

#[test]
fn execute_returns_affected_row_counts() {
    let c = conformance();
    let results = c.pg(json!([
        x(0, "CREATE TEMP TABLE count_probe (x int)", json!([])),
        x(
            0,
            "INSERT INTO count_probe SELECT generate_series(1, 3)",
            json!([])
        ),
        x(0, "UPDATE count_probe SET x = x + 10", json!([])),
        x(0, "DELETE FROM count_probe WHERE x = 11", json!([])),
        x(0, "SELECT generate_series(1, 4)", json!([])),
    ]));
    for (i, what, n) in [
        (1, "INSERT", 3),
        (2, "UPDATE", 3),
        (3, "DELETE", 1),
        (4, "SELECT", 4),
    ] {
        assert_eq!(ok(&results[i], what), &json!(n), "{what} row count");
    }
}

#[test]
fn pooled_connections_are_cleaned_between_requests() {
    // Own instance: no other test's requests share its pool.
    let c = spawn_conformance(&[]);
    let first = c.pg(json!([
        x(0, "SET app.leak_probe = 'leaked'", json!([])),
        x(0, "CREATE TEMP TABLE leak_probe (x int)", json!([])),
        q(0, "SELECT pg_backend_pid() AS pid", json!([])),
    ]));
    let pid = single(&first[2], "first request pid");
    let probe = "SELECT pg_backend_pid() AS pid, current_setting('app.leak_probe', true) AS setting, \
                 (to_regclass('pg_temp.leak_probe') IS NULL) AS no_temp_table";
    let mut seen = Vec::new();
    let reused = (0..20).find_map(|_| {
        let r = c.pg(json!([q(0, probe, json!([]))])).remove(0);
        let row = ok(&r, "second request")["rows"][0].clone();
        seen.push(row[0].clone());
        (row[0] == pid).then_some(row)
    });
    let row = reused.unwrap_or_else(|| {
        panic!("connections are pooled per address: backend {pid} never came back (saw {seen:?})")
    });
    assert_eq!(
        row[1],
        json!({"kind": "str", "value": ""}),
        "a custom setting set in an earlier request reads back as '' on the reused backend"
    );
    assert_eq!(
        row[2],
        json!({"kind": "boolean", "value": true}),
        "temp tables of an earlier request are dropped"
    );
}

#[test]
fn concurrent_requests_never_see_each_others_session_state() {
    let c = conformance();
    let read = "SELECT coalesce(current_setting('app.crosstalk_probe', true), '') AS v, \
                (to_regclass('pg_temp.crosstalk_probe') IS NULL) AS no_temp_table";
    let seen: Vec<Value> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|t| {
                s.spawn(move || {
                    let mut rows = Vec::new();
                    for i in 0..10 {
                        let mine = format!("worker-{t}-{i}");
                        let results = c.pg(json!([
                            q(0, read, json!([])),
                            x(0, &format!("SET app.crosstalk_probe = '{mine}'"), json!([])),
                            x(0, "CREATE TEMP TABLE crosstalk_probe (x int)", json!([])),
                        ]));
                        assert!(results[1].get("ok").is_some(), "SET: {}", results[1]);
                        assert!(
                            results[2].get("ok").is_some(),
                            "CREATE TEMP: {}",
                            results[2]
                        );
                        rows.push(ok(&results[0], "read")["rows"][0].clone());
                    }
                    rows
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    assert_eq!(seen.len(), 80);
    for row in seen {
        assert_eq!(
            row,
            json!([{"kind": "str", "value": ""}, {"kind": "boolean", "value": true}]),
            "a request saw a setting or temp table left by another request"
        );
    }
}

// ---------------------------------------------------------------------------
// §5 Redis

#[test]
fn redis_operations() {
    let c = conformance();
    let k = |name: &str| format!("e2e:{}:{name}", std::process::id());
    let (s, n, set, gone, cmd) = (k("s"), k("n"), k("set"), k("gone"), k("cmd"));
    let results = c.redis(json!([
        {"op": "set", "key": s, "value": "v1"},
        {"op": "get", "key": s},
        {"op": "get", "key": gone},
        {"op": "del", "keys": [n]},
        {"op": "incr", "key": n},
        {"op": "incr", "key": n},
        {"op": "del", "keys": [s, n, gone]},
        {"op": "get", "key": s},
        {"op": "del", "keys": [set]},
        {"op": "sadd", "key": set, "values": ["a", "b", "c"]},
        {"op": "sadd", "key": set, "values": ["a", "d"]},
        {"op": "srem", "key": set, "values": ["b", "zz"]},
        {"op": "smembers", "key": set},
        {"op": "execute", "command": "SET", "args": [{"kind": "binary", "value": cmd}, {"kind": "binary", "value": "41"}]},
        {"op": "execute", "command": "INCRBY", "args": [{"kind": "binary", "value": cmd}, {"kind": "int64", "value": 1}]},
        {"op": "execute", "command": "GET", "args": [{"kind": "binary", "value": cmd}]},
        {"op": "execute", "command": "GET", "args": [{"kind": "binary", "value": gone}]},
        {"op": "publish", "channel": k("chan"), "payload": "hello"},
        {"op": "del", "keys": [set, cmd]},
    ]));
    let expect = [
        (0, "set", json!(null)),
        (1, "get after set", json!("v1")),
        (2, "get of a missing key", json!(null)),
        (4, "incr of a missing key", json!(1)),
        (5, "incr again", json!(2)),
        (6, "del counts deleted keys", json!(2)),
        (7, "get after del", json!(null)),
        (9, "sadd counts new members", json!(3)),
        (10, "sadd counts only new members", json!(1)),
        (11, "srem counts removed members", json!(1)),
        (
            13,
            "execute SET",
            json!([{"kind": "status", "value": "OK"}]),
        ),
        (
            14,
            "execute INCRBY",
            json!([{"kind": "int64", "value": 42}]),
        ),
        (
            15,
            "execute GET",
            json!([{"kind": "binary", "value": "42"}]),
        ),
        (16, "execute GET of a missing key", json!([{"kind": "nil"}])),
        (17, "publish", json!(null)),
    ];
    for (i, what, want) in expect {
        assert_eq!(ok(&results[i], what), &want, "redis {what}");
    }
    let mut members: Vec<String> = serde_json::from_value(ok(&results[12], "smembers").clone())
        .expect("smembers is a list of strings");
    members.sort();
    assert_eq!(members, ["a", "c", "d"], "smembers");
}

// ---------------------------------------------------------------------------
// §5 variables, outbound HTTP, traps

#[test]
fn variables_resolve_like_spin() {
    let c = conformance();
    let password = service("SPIN_VARIABLE_PG_APP_PASSWORD");
    let db_url = format!(
        "postgres://{}:{password}@{}/{}",
        service("SPIN_VARIABLE_PG_APP_USER"),
        service("SPIN_VARIABLE_PG_HOST"),
        c.db
    );
    let cases: Vec<(&str, &str, Value)> = vec![
        ("literal value", "literal", json!({"ok": "just-text"})),
        (
            "template of two app variables",
            "greeting",
            json!({"ok": "hello-alpha-beta"}),
        ),
        (
            "SPIN_VARIABLE_ overrides a default",
            "overridable",
            json!({"ok": OVERRIDDEN_VALUE}),
        ),
        (
            "required variable given by the environment",
            "needed",
            json!({"ok": NEEDED_VALUE}),
        ),
        (
            "template of environment-given app variables",
            "db_url",
            json!({"ok": db_url}),
        ),
        (
            "a secret comes through as its plain value",
            "secret_value",
            json!({"ok": password}),
        ),
    ];
    for (what, name, want) in cases {
        let resp = c.app.get(&format!("/probe/var/{name}"));
        assert_eq!(resp.status, 200, "{what}");
        assert_eq!(resp.json(), want, "{what} ({name})");
    }
    for (what, name, kind) in [
        (
            "an app variable not mapped to the component",
            "not_mapped",
            "undefined",
        ),
        ("an unknown name", "no_such_variable", "undefined"),
        ("an invalid name", "Bad-Name", "invalid-name"),
    ] {
        let body = c.app.get(&format!("/probe/var/{name}")).json();
        assert_eq!(err(&body, what)["kind"], kind, "{what} ({name}): {body}");
    }
}

#[test]
fn secrets_never_reach_the_host_logs() {
    // An instance of its own, so nothing another test does later is missed.
    let c = spawn_conformance(&[]);
    // Every path that handles a secret: a secret variable, connection URLs
    // with the password (refused, unreachable), a wrong password.
    assert_eq!(c.app.get("/probe/var/secret_value").status, 200);
    for address in [
        app_url_at(&c.denied.addr.to_string()),
        app_url_at(&c.closed_host),
        app_url_at(service("SPIN_VARIABLE_PG_HOST"))
            .replace(service("SPIN_VARIABLE_PG_APP_PASSWORD"), "wrong-password"),
    ] {
        let result = c
            .pg_at(Some(&address), json!([q(0, "SELECT 1 AS v", json!([]))]))
            .remove(0);
        assert!(result.get("err").is_some(), "{result}");
    }
    // The host has logged everything up to a marker once the marker is there.
    let marker = format!("secrets-marker-{}", std::process::id());
    assert_eq!(c.app.get(&format!("/probe/print/{marker}")).status, 200);
    let logs = eventually(Duration::from_secs(10), || {
        let logs = c.app.logs();
        logs.contains(&marker).then_some(logs)
    })
    .expect("the marker reaches the host log");
    for key in [
        "SPIN_VARIABLE_PG_APP_PASSWORD",
        "SPIN_VARIABLE_ADMIN_TOKEN",
        "SPIN_VARIABLE_S3_SECRET_KEY",
    ] {
        assert!(
            !logs.contains(service(key)),
            "the host logs must not contain the value of {key}"
        );
    }
}

#[test]
fn env_flag_sets_the_component_environment() {
    let c = spawn_conformance(&["-e", "E2E_GREETING=hello-env"]);
    let set = c.app.get("/probe/env/E2E_GREETING").json();
    assert_eq!(
        set,
        json!({"ok": "hello-env"}),
        "-e KEY=VALUE is WASI environment"
    );
    let unset = c.app.get("/probe/env/E2E_NOT_GIVEN").json();
    assert!(
        unset.get("err").is_some(),
        "only -e variables are visible: {unset}"
    );
    let host_env = c.app.get("/probe/env/SPIN_VARIABLE_PG_APP_PASSWORD").json();
    assert!(
        host_env.get("err").is_some(),
        "the host's own environment does not leak into the component: {host_env}"
    );
}

#[test]
fn guest_output_is_prefixed_with_the_component_name() {
    if !is_devhost() {
        eprintln!("the [component] prefix is devhost's log format");
        return;
    }
    let c = conformance();
    let marker = format!("marker-{}", std::process::id());
    let resp = c.app.get(&format!("/probe/print/{marker}"));
    assert_eq!(resp.status, 200);
    for stream in ["stdout", "stderr"] {
        let text = format!("{stream} {marker}");
        let found = eventually(Duration::from_secs(3), || {
            c.app
                .logs()
                .lines()
                .find(|l| l.contains(&text))
                .map(str::to_owned)
        });
        let line = found.unwrap_or_else(|| {
            panic!(
                "guest {stream} line missing from the host output:\n{}",
                c.app.logs()
            )
        });
        assert!(
            line.contains("[probe]"),
            "guest {stream} is prefixed with [probe]: {line:?}"
        );
    }
}

#[test]
fn outbound_http_allowed_denied_and_refused() {
    let c = conformance();
    let call = |url: String| {
        c.app
            .post_json("/probe/http", &json!({ "url": url }))
            .json()
    };
    let before = c.denied.hits();
    let allowed = call(format!("http://{}/hello", c.allowed.addr));
    assert_eq!(
        ok(&allowed, "allowed host"),
        &json!({"status": 200, "body": "hello"})
    );
    let denied = call(format!("http://{}/hello", c.denied.addr));
    assert_eq!(
        err(&denied, "host not allowed")["kind"],
        "HttpRequestDenied",
        "{denied}"
    );
    assert_eq!(
        c.denied.hits(),
        before,
        "a denied request must not reach the server"
    );
    let refused = call(format!("http://{}/hello", c.closed_host));
    assert_eq!(
        err(&refused, "allowed but refusing")["kind"],
        "ConnectionRefused",
        "{refused}"
    );
}

#[test]
fn a_trap_is_a_500_with_an_empty_body() {
    let c = conformance();
    let resp = c.app.get("/probe/trap");
    assert_eq!(resp.status, 500);
    assert!(
        resp.body.is_empty(),
        "trap body must be empty, got {:?}",
        resp.text()
    );
    // The instance is gone, the host is not: the next request works.
    let next = request(
        c.app.addr,
        "GET",
        "/probe/var/literal",
        &[],
        b"",
        REQUEST_TIMEOUT,
    )
    .expect("host still serves after a trap");
    assert_eq!(next.status, 200);
}
